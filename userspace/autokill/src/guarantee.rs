// SPDX-License-Identifier: GPL-2.0

//! [`Guarantee`]: what ties a spawned child to its parent, and [`Support`]: what this system
//! offers.

use std::fmt;

/// What kills a child of [`Command::spawn`](crate::Command::spawn) when its [`Child`](crate::Child)
/// handle or its parent goes away, as [`Child::guarantee`](crate::Child::guarantee) reports it.
///
/// Ordered from the weakest to the strongest (`DropOnly < ParentThreadSignal < Kernel`), so
/// that [`Command::require`](crate::Command::require) can ask for "at least".
///
/// | Event | [`Kernel`](Guarantee::Kernel) | [`ParentThreadSignal`](Guarantee::ParentThreadSignal) | [`DropOnly`](Guarantee::DropOnly) |
/// |---|---|---|---|
/// | `Child` dropped | killed (the kernel, on the last close of the autokill pidfd) | killed (`pidfd_send_signal(SIGKILL)`, then reaped by the crate's spawner thread; `cgroup.kill` with [`Command::cgroup`](crate::Command::cgroup)) | killed, as for `ParentThreadSignal` |
/// | parent `SIGKILL`ed | killed | killed (`PR_SET_PDEATHSIG`) | **survives** unless the program keeps `PR_SET_PDEATHSIG` (see the variant) |
/// | parent aborts (`panic = "abort"`, `abort()`) | killed | killed (`PR_SET_PDEATHSIG`) | as for `SIGKILL` |
/// | the thread that called `spawn()` exits | survives (tied to the process) | survives (tied to the crate's spawner thread, which lives as long as the process) | survives |
/// | the child executes a set-user-ID program | killed on drop and parent death (no `no_new_privs` needs `CAP_SYS_ADMIN`) | `no_new_privs` is set, so the set-user-ID bit is not honoured and `PR_SET_PDEATHSIG` is kept | the kernel clears `PR_SET_PDEATHSIG` at such an `execve()`: parent death does not kill it; drop still does |
/// | grandchildren | killed with [`kill_tree`](crate::Command::kill_tree) (pid namespace), else survive | the same: with `kill_tree` the child is the init of a pid namespace, and its death kills the namespace | the same |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Guarantee {
    /// Killed when the [`Child`](crate::Child) is dropped (`pidfd_send_signal(SIGKILL)`, plus
    /// `cgroup.kill` of the directory of [`Command::cgroup`](crate::Command::cgroup)); the
    /// crate's spawner thread reaps it.
    ///
    /// Reported for a child spawned on the fallback with
    /// [`no_new_privs(false)`](crate::Command::no_new_privs): it still gets
    /// `PR_SET_PDEATHSIG(SIGKILL)`, but the kernel clears that when the child executes a
    /// set-user-ID or set-group-ID program or one with file capabilities (without
    /// `no_new_privs` those take effect), and the crate cannot tell in advance whether the
    /// program is one. So nothing is promised for the death of the parent.
    DropOnly,
    /// The fallback where the kernel lacks `CLONE_PIDFD_AUTOKILL` (before Linux 7.1), a
    /// seccomp filter refuses `clone3()`, or [`kernel_autokill(false)`](crate::Command::kernel_autokill)
    /// asked for it, as `bwrap --die-with-parent` does it:
    ///
    /// - the child is created by one long-lived thread of the crate (the spawner thread) and
    ///   sets `PR_SET_PDEATHSIG(SIGKILL)` as its last step before `execve()` (after any change of its
    ///   credentials, which would clear it), then checks that its parent is still there
    ///   (`getppid()` against the pid taken before `clone()`, and a pidfd of the spawner thread),
    ///   and exits at once if not. The kernel sends `PR_SET_PDEATHSIG` when the *thread* that
    ///   created the child exits; the spawner thread exits only with the process, so the
    ///   child dies with the process (any death: `SIGKILL`, abort, `exit()`) and not when the
    ///   thread that called [`spawn`](crate::Command::spawn) ends;
    /// - `no_new_privs` is set (`prctl(PR_SET_NO_NEW_PRIVS)`), so a set-user-ID program does not
    ///   gain privileges and keeps `PR_SET_PDEATHSIG`;
    /// - dropping the [`Child`](crate::Child) kills it as for [`DropOnly`](Guarantee::DropOnly).
    ///
    /// Weaker than [`Kernel`](Guarantee::Kernel): a duplicate of the pidfd does not keep the
    /// child alive (nor does it kill it on close); the program can clear `PR_SET_PDEATHSIG`
    /// itself (`prctl(PR_SET_PDEATHSIG, 0)`), and the kernel clears it when the program
    /// changes its own credentials (a daemon dropping root with `setuid()`) or makes a secure
    /// exec that an LSM decides (`AT_SECURE`) despite `no_new_privs`; the signal itself is
    /// subject to the LSM's checks of who may kill whom.
    ///
    /// The child is created by the spawner thread, not by the calling thread: it gets the
    /// spawner thread's per-thread state, which that thread took from the thread that first
    /// needed it. A spawn from a thread whose namespaces, seccomp filter, capabilities or
    /// `no_new_privs` differ from the spawner thread's fails instead (`unshare()` or `setns()`
    /// in one thread, a filter or `capset()` that did not reach the other threads). What the
    /// kernel does not let the crate compare is not carried over either: a Landlock domain
    /// of the calling thread only, an LSM exec context (`setexeccon()`), CPU affinity,
    /// scheduling policy and nice value, I/O priority.
    ParentThreadSignal,
    /// `clone3(CLONE_PIDFD_AUTOKILL)` (Linux 7.1+): the kernel kills the child when the last
    /// reference to its pidfd goes away: on drop, and at any death of this process. Nothing
    /// the child does (no `prctl()`, no `execve()`) undoes it.
    Kernel,
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guarantee::DropOnly => "killed when its handle is dropped",
            Guarantee::ParentThreadSignal => {
                "killed when its handle is dropped or this process dies (PR_SET_PDEATHSIG from \
                 the crate's spawner thread)"
            }
            Guarantee::Kernel => {
                "killed by the kernel when its handle is dropped or this process dies \
                 (CLONE_PIDFD_AUTOKILL)"
            }
        })
    }
}

/// What this system offers, as [`supported`](crate::supported) reports it: which pieces of the
/// kernel guarantee are there, and the best [`Guarantee`] a default
/// [`Command::spawn`](crate::Command::spawn) gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Support {
    /// The best guarantee of a default spawn (with `no_new_privs`, the default):
    /// [`Guarantee::Kernel`] where `clone3(CLONE_PIDFD_AUTOKILL)` works, else
    /// [`Guarantee::ParentThreadSignal`].
    pub best: Guarantee,
    /// Whether the kernel has `CLONE_PIDFD_AUTOKILL` (Linux 7.1+); `None` where a seccomp
    /// filter refuses `clone3()`, so that the kernel could not be asked.
    pub kernel: Option<bool>,
    /// A seccomp filter answers `clone3()` with `ENOSYS` (Docker's default profile does): the
    /// fallback then uses the legacy `clone()`.
    pub seccomp_refuses_clone3: bool,
    /// Whether [`kill_tree`](crate::Command::kill_tree) can create its pid namespace (with a
    /// user namespace for a caller without `CAP_SYS_ADMIN`).
    pub kill_tree: bool,
    /// Whether the caller has `CAP_SYS_ADMIN`, which
    /// [`no_new_privs(false)`](crate::Command::no_new_privs) needs for [`Guarantee::Kernel`]
    /// (without it such a child gets [`Guarantee::DropOnly`]).
    pub cap_sys_admin: bool,
}

impl Support {
    /// Whether children get [`Guarantee::Kernel`] by default.
    #[must_use]
    pub fn autokill(&self) -> bool {
        self.best == Guarantee::Kernel
    }
}

/// One line per piece: what is there and what is missing.
impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kernel = match self.kernel {
            Some(true) => "yes",
            Some(false) => "missing (needs Linux 7.1+)",
            None => "unknown (clone3() refused)",
        };
        writeln!(f, "CLONE_PIDFD_AUTOKILL: {kernel}")?;
        let seccomp = if self.seccomp_refuses_clone3 {
            "refused by a seccomp filter (the fallback uses clone())"
        } else {
            "allowed"
        };
        writeln!(f, "clone3(): {seccomp}")?;
        let tree = if self.kill_tree {
            "yes"
        } else {
            "no (needs CAP_SYS_ADMIN or unprivileged user namespaces)"
        };
        writeln!(f, "kill_tree (pid namespace): {tree}")?;
        let admin = if self.cap_sys_admin {
            "yes"
        } else {
            "no (no_new_privs(false) gets DropOnly)"
        };
        writeln!(f, "CAP_SYS_ADMIN: {admin}")?;
        write!(f, "best guarantee: {:?}: {}", self.best, self.best)
    }
}
