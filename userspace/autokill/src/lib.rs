// SPDX-License-Identifier: GPL-2.0

//! Spawn child processes that die with their parent, with `clone3(CLONE_PIDFD_AUTOKILL)`.
//!
//! [`Command`] works like [`std::process::Command`], but creates the child with
//! `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL)` (Linux 7.1+). The returned
//! [`Child`] owns the child's pidfd, and the kernel sends the child `SIGKILL` when the last
//! reference to that pidfd goes away: when the `Child` is dropped, and also when this process
//! exits or dies in any way, `SIGKILL` and `panic = "abort"` included. No cooperation from the
//! child, no helper process, no `PR_SET_PDEATHSIG` (which follows the parent thread, not the
//! process, and does not cover the handle being dropped).
//! [`Command::kill_tree`] extends that to every process the child starts. On kernels without
//! it, children get a documented fallback ([`Guarantee`], [`Child::guarantee`]).
//!
//! ```no_run
//! use std::io::Read;
//! use autokill::{Command, Stdio};
//!
//! // Killed by the kernel when `server` is dropped or this process dies.
//! let server = Command::new("sleep").arg("1000").spawn()?;
//! println!("running as pid {}", server.id());
//!
//! // Run a program to its end and collect its output.
//! let output = Command::new("sh").args(["-c", "echo hello; exit 3"]).output()?;
//! assert_eq!(output.stdout, b"hello\n");
//! assert_eq!(output.status.code(), Some(3));
//!
//! // A shell and everything it starts: all of it dies with `tree`.
//! let tree = Command::new("sh")
//!     .args(["-c", "sleep 1000 & sleep 1000"])
//!     .kill_tree(true)
//!     .spawn()?;
//!
//! drop(server); // SIGKILL
//! drop(tree); // SIGKILL for the shell and both sleeps
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the kernel requires
//!
//! - Linux 7.1 or later for the kernel's guarantee ([`Guarantee::Kernel`]). Where
//!   `CLONE_PIDFD_AUTOKILL` is missing (`EINVAL` before 7.1) or refused (a seccomp filter that
//!   answers `clone3()` with `ENOSYS`, as Docker's default profile does; `no_new_privs(false)`
//!   without `CAP_SYS_ADMIN`: `EPERM`), [`Command::spawn`] falls back to the best the system
//!   has (see [below](#the-fallback)), and [`Child::guarantee`] tells which one a child got.
//!   [`Command::require`] makes the spawn fail instead ([`Error::GuaranteeUnavailable`], with
//!   [`Error::Unsupported`], [`Error::Seccomp`] or [`Error::PermissionDenied`] as the reason);
//!   [`supported`] tells in advance which piece is missing.
//! - `CLONE_AUTOREAP` goes with an exit signal of 0: the child is reaped by the kernel, never
//!   becomes a zombie and cannot be waited for with `waitpid()`. [`Child::wait`] polls the pidfd
//!   until the child is reaped and reads the exit status with `ioctl(PIDFD_GET_INFO)`.
//! - The child gets `no_new_privs` (`CLONE_NNP`) by default, which lets any caller arm
//!   autokill. Without it ([`Command::no_new_privs(false)`](Command::no_new_privs)) the kernel
//!   guarantee needs `CAP_SYS_ADMIN`; otherwise the child gets the fallback at
//!   [`Guarantee::DropOnly`].
//! - [`Command::kill_tree`] needs `CONFIG_PID_NS`, and for callers without `CAP_SYS_ADMIN`
//!   `CONFIG_USER_NS` with unprivileged user namespaces allowed, else [`Error::Namespace`].
//!
//! # The fallback
//!
//! Without `CLONE_PIDFD_AUTOKILL` (or with [`Command::kernel_autokill(false)`](Command::kernel_autokill))
//! the child is created by one long-lived thread of the crate, the spawner thread (the caller
//! blocks until the child executed the program or failed), with exit signal 0 and without
//! `CLONE_AUTOREAP`. The child sets `no_new_privs` (`prctl()`, unless `no_new_privs(false)`)
//! first, and `PR_SET_PDEATHSIG(SIGKILL)` as its last step before `execve()`, after any change
//! of credentials (which would clear it), then checks that its parent did not die in between (its
//! `getppid()` against the pid taken before the clone; for the init of a
//! [`kill_tree`](Command::kill_tree) pid namespace, whose `getppid()` is 0, a pidfd of the
//! spawner thread polled for `POLLIN`) and exits at once if it did. `PR_SET_PDEATHSIG` follows
//! the thread that created the child, hence the spawner thread, which lives as long as the
//! process: the child dies with the process, not with the thread that called `spawn()`.
//! Where a seccomp filter refuses `clone3()`, the legacy `clone()` with `CLONE_PIDFD` creates the
//! child (fork-like; it resets the inherited signal handlers itself, as `clone()` has no
//! `CLONE_CLEAR_SIGHAND`, and moves itself into the [`cgroup`](Command::cgroup) by writing
//! `cgroup.procs`, as it has no `CLONE_INTO_CGROUP`): a filter that allows `fork()` has to allow
//! `clone()`, and `CLONE_PIDFD` gives the pidfd without the pid-reuse race of `pidfd_open()`.
//! [`Child::wait`] reaps the child with `waitid(P_PIDFD, ..., WEXITED | __WALL)`; dropping the
//! [`Child`] writes `1` to `cgroup.kill` of its [`cgroup`](Command::cgroup) (which kills the
//! whole cgroup, so give it one of its own), sends `SIGKILL` through the pidfd and hands the
//! pidfd to the spawner thread, which reaps the child once it has exited: no zombie, no
//! `SIGCHLD` handler, nothing blocks in `Drop`. With `kill_tree`, the child is the init of a
//! new pid namespace with `PR_SET_PDEATHSIG`, and its death takes the namespace with it (what
//! `bwrap --die-with-parent --unshare-pid` does).
//!
//! | Event | [`Kernel`](Guarantee::Kernel) | [`ParentThreadSignal`](Guarantee::ParentThreadSignal) | [`DropOnly`](Guarantee::DropOnly) |
//! |---|---|---|---|
//! | `Child` dropped | killed | killed (`SIGKILL`, `cgroup.kill`), reaped | killed, reaped |
//! | parent `SIGKILL`ed | killed | killed (`PR_SET_PDEATHSIG`) | killed unless a set-user-ID exec cleared `PR_SET_PDEATHSIG`: not promised |
//! | parent aborts | killed | killed | as for `SIGKILL` |
//! | the spawning thread exits | survives | survives (tied to the spawner thread) | survives |
//! | set-user-ID exec | killed on drop and parent death | `no_new_privs`: the bit is ignored, `PR_SET_PDEATHSIG` kept | the kernel clears `PR_SET_PDEATHSIG`: killed on drop only |
//! | grandchildren | killed with `kill_tree`, else survive | the same | the same |
//!
//! # The child between `clone3()` and `execve()`
//!
//! On x86_64 and aarch64, whenever no [`pre_exec`](Command::pre_exec) closure and no new
//! credentials ([`Command::uid`], [`Command::gid`], [`Command::groups`]) are set,
//! [`Command::spawn`] creates the child like glibc's `posix_spawn()`: `clone3()` with
//! `CLONE_VM | CLONE_VFORK`, on a stack of its own (with a guard page, kept for the next spawn),
//! entered through a few lines of assembly. The child shares this process's memory while the
//! calling thread sleeps in `clone3()` until the child has executed the program or exited, so
//! nothing is copied: the cost of a spawn does not grow with the parent's memory (a `fork()`
//! copies the page tables, and the parent then takes a fault for every page it writes again),
//! and it works under strict overcommit. [`Command::kill_tree`] takes this path too: the kernel
//! accepts `CLONE_NEWPID` and `CLONE_NEWUSER` with `CLONE_VM`.
//!
//! With a `pre_exec` closure (which needs a copy of the process to run in, as with `std`),
//! with new credentials, and on other architectures, `clone3()` is called without `CLONE_VM`,
//! like `fork()`: the child runs on a copy of the parent's memory with only the calling thread.
//! Credentials, because the kernel's `commit_creds()` resets the dumpability of the memory of a
//! task whose ids change: on the vfork path that is this process's memory, which would stay
//! non-dumpable (`PR_GET_DUMPABLE` 0) for good; `std` avoids `posix_spawn()` for them too.
//!
//! Either way the child runs only async-signal-safe code that touches no thread-local state (but,
//! on the fork path, its own copy of `errno`): nothing that allocates or takes a lock (after a raw
//! `clone3()` none of the C library's fork handlers ran, so its locks and `malloc()`'s may be held
//! by threads that do not exist in the child), and on the vfork path no thread-local variable at
//! all, not even `errno`, which would be the parent thread's. The crate's own steps are system
//! calls on data the parent prepared before `clone3()` (the `argv` and `envp` arrays, the candidate
//! paths of a `PATH` search in one buffer, the working directory, the descriptors to duplicate, the
//! credentials, the resource limits): raw ones on x86_64 and aarch64; on other architectures, which
//! only have the fork path, the C library's `syscall()`, `sigaction()` and `sigprocmask()`, which
//! set the child's `errno` on failure. Besides them the child may run the `memcpy()` and `memset()`
//! calls the compiler emits, and on the fork path the `pre_exec` closures (held to the same rules
//! by their contract) and, after a panicking closure, `_exit()`. Every signal is blocked around
//! `clone3()` (on x86_64 and aarch64 with the raw `rt_sigprocmask()`, as glibc's `posix_spawn()`
//! does, the C library's internal signals included; elsewhere with `pthread_sigmask()`, which
//! leaves glibc's 32 and 33 unblocked) and `CLONE_CLEAR_SIGHAND` resets the handlers in the kernel
//! before the child runs, so no handler of the parent runs in the child; the child resets `SIGPIPE`
//! (which the Rust runtime ignores) to its default, sets an empty signal mask and executes the
//! program. If a step fails it reports the step and `errno` and exits with status 127: on the vfork
//! path into memory the parent reads when `clone3()` returns, on the fork path through a
//! close-on-exec pipe whose end-of-file means the program runs. [`Command::spawn`] then returns
//! [`Error::Exec`], [`Error::CurrentDir`] or [`Error::Io`] with that `errno`. The child never
//! returns into the caller's code: a `pre_exec` closure that panics (against its contract) makes it
//! exit with status 127 too, and [`Command::spawn`] return [`Error::Io`].
//!
//! What people write `pre_exec` closures for is built in, without `unsafe`, and takes the
//! vfork path: [`Command::setsid`], [`Command::umask`], [`Command::rlimit`], [`Command::fd`],
//! [`Command::close_other_fds`], [`Command::cgroup`] (`CLONE_INTO_CGROUP`) and
//! [`Command::process_group`]; [`Command::uid`], [`Command::gid`] and [`Command::groups`] are
//! built in as well but take the fork path, for the reason above.
//!
//! An environment the command does not change is this process's `environ`, passed through
//! without a copy, as with [`std::process::Command`]. That array and its strings belong to the
//! C library: a `std::env::set_var()` or `remove_var()` (or a C `setenv()`, `putenv()`,
//! `unsetenv()`) in another thread while [`Command::spawn`] runs can replace and free them
//! while the child's `execve()` still reads them, and the program then gets a garbled
//! environment or fails to start. `std` prevents that for its own `set_var()` by holding its
//! environment lock from reading `environ` until the child has executed the program; this crate
//! cannot take that lock (it is private to `std`). Such a concurrent `set_var()` breaks its
//! documented safety requirement (no other thread may read the environment, through functions
//! or global variables outside `std::env`, meanwhile), as it would for a C library function
//! reading `environ`. A program that changes its environment while other threads spawn can
//! give the command an environment of its own, e.g. `.envs(std::env::vars_os())`: the copy is
//! made through `std::env`, under that lock.
//!
//! # Features
//!
//! - `tokio`: the module `autokill::tokio` with `autokill::tokio::Child` and
//!   `autokill::tokio::CommandExt`: an async `wait()` and `output()` on
//!   `tokio::io::unix::AsyncFd` of the pidfd, with tokio pipes.
//! - `unarmed`: `Command::spawn_unarmed`, the same spawn without the autokill flags, for
//!   benchmarks and tests of the spawn itself on kernels without `CLONE_PIDFD_AUTOKILL`.
//!
//! The command-line tool `autokill-run` of this crate runs a program tied to its own lifetime
//! (`autokill-run --help`); `examples/` has a supervisor that keeps a pool of workers alive
//! only as long as it lives.

#![deny(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "the autokill crate needs Linux (clone3() with CLONE_PIDFD_AUTOKILL, Linux 7.1+); \
     there is no equivalent on other systems"
);

#[cfg(target_os = "linux")]
mod child;
#[cfg(target_os = "linux")]
mod command;
#[cfg(target_os = "linux")]
mod error;
#[cfg(target_os = "linux")]
mod exec;
#[cfg(target_os = "linux")]
mod fallback;
#[cfg(target_os = "linux")]
mod from_std;
#[cfg(target_os = "linux")]
mod guarantee;
#[cfg(target_os = "linux")]
mod probe;
#[cfg(target_os = "linux")]
mod raw;
#[cfg(target_os = "linux")]
pub mod sys;
#[cfg(target_os = "linux")]
mod terminate;
#[cfg(all(target_os = "linux", feature = "tokio"))]
pub mod tokio;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod vfork;

#[cfg(target_os = "linux")]
pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};
#[cfg(target_os = "linux")]
pub use command::{Command, Stdio};
#[cfg(target_os = "linux")]
pub use error::Error;
#[cfg(target_os = "linux")]
pub use guarantee::{Guarantee, Support};

/// What this system offers: whether the kernel guarantee (`CLONE_PIDFD_AUTOKILL`) works, and
/// if not which piece is missing (the kernel, or a seccomp filter refusing `clone3()`),
/// whether [`Command::kill_tree`] can create its namespaces, whether the caller has
/// `CAP_SYS_ADMIN` (for [`no_new_privs(false)`](Command::no_new_privs) at the kernel level),
/// and the best [`Guarantee`] a default [`Command::spawn`] gets.
///
/// There is no way to ask the kernel about clone flags without creating a process (a kernel
/// without them answers `EINVAL` exactly like one that rejects the combination), so this probes
/// honestly, once: a child of `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL |
/// CLONE_NNP)` that only exits (`CLONE_NNP` makes the probe work without privileges), and one
/// with the namespaces of `kill_tree`. The answers are cached once definite; a failure for
/// another reason (such as `EAGAIN` at the process limit) is not cached, and a seccomp filter
/// installed after the probe makes the next call probe again. The capability is asked each
/// time (`capget()`, cheap).
///
/// # Examples
///
/// ```
/// let support = autokill::supported();
/// if !support.autokill() {
///     eprintln!("children get the fallback:\n{support}");
/// }
/// ```
#[cfg(target_os = "linux")]
#[must_use]
pub fn supported() -> Support {
    let filter = sys::seccomp_mode().ok() == Some(libc::SECCOMP_MODE_FILTER as libc::c_int);
    let (kernel, seccomp_refuses_clone3) = match probe::kernel() {
        probe::YES => (Some(true), false),
        probe::NO => (Some(false), false),
        // `clone3()` refused: by a filter (the kernel could not be asked), or missing.
        probe::REFUSED if filter => (None, true),
        probe::REFUSED => (Some(false), false),
        _ => (None, false),
    };
    let cap_sys_admin = sys::has_capability(sys::CAP_SYS_ADMIN).unwrap_or(false);
    Support {
        best: if kernel == Some(true) {
            Guarantee::Kernel
        } else {
            Guarantee::ParentThreadSignal
        },
        kernel,
        seccomp_refuses_clone3,
        kill_tree: probe::kill_tree(cap_sys_admin),
        cap_sys_admin,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// For tests that need `CLONE_PIDFD_AUTOKILL`: on a kernel without it, prints the one line
    /// the test runner counts as a skip and returns `true` (the test then returns early).
    /// With `AUTOKILL_REQUIRE_SUPPORT=1` in the environment, lack of support fails instead.
    pub(crate) fn skip_without_autokill() -> bool {
        if crate::supported().autokill() {
            return false;
        }
        assert!(
            std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
            "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel lacks CLONE_PIDFD_AUTOKILL"
        );
        println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
        true
    }

    /// The signal mask (`SigBlk`) of the calling thread, as the kernel reports it.
    pub(crate) fn blocked_signals() -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    }

    /// Runs `helper` in a forked process (a plain child) and returns its exit code; a panic in
    /// it is 101.
    ///
    /// `helper` runs in a fork of the multi-threaded test process; it may allocate (glibc's
    /// `fork()` makes that safe) but must not print.
    pub(crate) fn in_helper(helper: impl FnOnce() -> i32) -> i32 {
        // SAFETY: The child only runs `helper` and exits, see above.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // Other tests' autokill pidfds must not live on in the helper (they would keep
            // those tests' children alive).
            // SAFETY: Closes descriptors that nothing in this new process uses.
            unsafe { libc::close_range(3, libc::c_uint::MAX, 0) };
            let code =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(helper)).unwrap_or(101);
            // SAFETY: Ends the helper without running the test harness's exit code.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: Waits for our own child.
        while unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR)
            );
        }
        assert!(libc::WIFEXITED(status), "helper status {status:#x}");
        libc::WEXITSTATUS(status)
    }

    /// Drops this (single-threaded, forked) process's privileges to nobody/nogroup with raw
    /// system calls; `Ok(())` also when it is already unprivileged.
    pub(crate) fn become_nobody() -> std::io::Result<()> {
        use crate::sys::id32;
        // SAFETY: `geteuid()` cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(());
        }
        // SAFETY: Raw system calls on this process's credentials.
        let dropped = unsafe {
            libc::syscall(id32::SETGROUPS, 0, std::ptr::null::<libc::gid_t>()) == 0
                && libc::syscall(id32::SETRESGID, 65534, 65534, 65534) == 0
                && libc::syscall(id32::SETRESUID, 65534, 65534, 65534) == 0
        };
        // Changing credentials made the process non-dumpable, which makes its /proc files
        // root's; an ordinary unprivileged process is dumpable.
        // SAFETY: Sets a flag of this process.
        if dropped && unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Installs a seccomp filter that answers `clone3()` with `ENOSYS`, as container runtimes
    /// do; `Err` with the `errno` of `prctl()`.
    fn refuse_clone3_with_enosys() -> Result<(), i32> {
        let statement = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        };
        let filter = [
            // The system call number, at offset 0 of `struct seccomp_data`.
            statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
            statement(
                libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
                libc::SYS_clone3 as u32,
                0,
                1,
            ),
            statement(
                libc::BPF_RET | libc::BPF_K,
                libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
                0,
                0,
            ),
            statement(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0),
        ];
        let program = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr().cast_mut(),
        };
        // SAFETY: Sets no_new_privs, then installs a valid filter program that outlives the
        // call (the kernel copies it).
        let ret = unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                -1
            } else {
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    std::ptr::addr_of!(program),
                )
            }
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    }

    #[test]
    fn a_seccomp_filter_is_told_from_an_old_kernel() {
        const NO_SECCOMP: i32 = 20;
        let code = in_helper(|| {
            if refuse_clone3_with_enosys().is_err() {
                return NO_SECCOMP;
            }
            if crate::sys::seccomp_mode().ok() != Some(2) {
                return 21;
            }
            // The kernel's guarantee is refused, and says why.
            match crate::Command::new("true")
                .require(crate::Guarantee::Kernel)
                .spawn()
            {
                Err(crate::Error::GuaranteeUnavailable { reason, .. })
                    if matches!(*reason, crate::Error::Seccomp) => {}
                _ => return 22,
            }
            let support = crate::supported();
            if support.autokill() || !support.seccomp_refuses_clone3 || support.kernel.is_some() {
                return 23;
            }
            // The fallback works: the legacy clone(), PR_SET_PDEATHSIG, reaped by waitid().
            let Ok(mut child) = crate::Command::new("sh").args(["-c", "exit 3"]).spawn() else {
                return 24;
            };
            if child.guarantee() != crate::Guarantee::ParentThreadSignal {
                return 25;
            }
            match child.wait() {
                Ok(status) if status.code() == Some(3) => {}
                _ => return 26,
            }
            // kill_tree too.
            let tree = crate::Command::new("sh")
                .args(["-c", "exit 4"])
                .kill_tree(true)
                .spawn();
            match tree.map(|mut child| (child.guarantee(), child.wait().ok())) {
                Ok((crate::Guarantee::ParentThreadSignal, Some(status)))
                    if status.code() == Some(4) => {}
                _ => return 27,
            }
            0
        });
        if code == NO_SECCOMP {
            // Not a lack of autokill: this kernel has no CONFIG_SECCOMP_FILTER, so
            // AUTOKILL_REQUIRE_SUPPORT does not make it a failure (the test VM's kernels have
            // it: kconfig/selftests.config).
            println!("skipped: kernel without seccomp filters (CONFIG_SECCOMP_FILTER)");
            return;
        }
        assert_eq!(
            code, 0,
            "21 = no filter mode, 22 = require(Kernel) did not say Seccomp, 23 = supported() \
             under the filter, 24-26 = the fallback spawn, 27 = kill_tree on the fallback"
        );
    }

    #[test]
    fn supported_is_stable() {
        assert_eq!(crate::supported(), crate::supported());
    }
}
