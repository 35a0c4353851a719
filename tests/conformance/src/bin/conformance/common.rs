// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the cases.

use std::os::fd::{OwnedFd, RawFd};

use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3, Spawned};
use conformance::sys::*;
use conformance::util::{self, FdExt};
use conformance::verdict::{Ctx as _, TestResult, Verdict};
use conformance::{check, fail};

/// What every case gets.
pub struct Ctx {
    /// `autokill-helper` next to us.
    pub helper: String,
}

/// A child under observation: `pid`, the clone pidfd (if still held) and a separate
/// `pidfd_open()` fd to watch it without holding the autokill file.
pub struct Kid {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    pub obs: OwnedFd,
}

impl Kid {
    /// Wraps a spawned child that is still alive (it cannot exit on its own).
    pub fn watch(s: Spawned) -> Result<Kid, Verdict> {
        let obs = util::pidfd_open(s.pid, 0).ctx("pidfd_open of the new child")?;
        Ok(Kid {
            pid: s.pid,
            pidfd: s.pidfd,
            obs,
        })
    }

    /// The clone pidfd's number.
    pub fn fd(&self) -> RawFd {
        self.pidfd.as_ref().expect("pidfd").raw()
    }

    /// Takes the clone pidfd out (to close it, send it, ...).
    pub fn take(&mut self) -> OwnedFd {
        self.pidfd.take().expect("pidfd")
    }

    /// Closes the clone pidfd, checking that `close()` succeeds.
    pub fn close(&mut self) -> TestResult {
        util::close(self.take()).ctx("close of the autokill pidfd")
    }

    /// The child must die (exit) within the death timeout.
    pub fn expect_dies(&self, when: &str) -> TestResult {
        check!(
            util::wait_exit(self.obs.as_fd_borrowed(), util::death_ms()),
            "child {} still alive {} ms after {when}",
            self.pid,
            util::death_ms()
        );
        Ok(())
    }

    /// The child must die by `SIGKILL` and be reaped automatically.
    pub fn expect_killed_and_reaped(&self, when: &str) -> TestResult {
        self.expect_dies(when)?;
        match util::exit_code(self.obs.as_fd_borrowed(), util::death_ms()) {
            Some(st) => check!(
                libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL,
                "child {} ended with wait status {st:#x}, not SIGKILL, after {when}",
                self.pid
            ),
            None => fail!("no exit status for child {} after {when}", self.pid),
        }
        check!(
            util::wait_reaped(self.obs.as_fd_borrowed(), util::death_ms()),
            "child {} was not reaped after {when} (fdinfo Pid: {:?})",
            self.pid,
            util::fdinfo_pid(self.obs.raw())
        );
        match util::waitid_nohang(self.pid) {
            Err(Errno::ECHILD) => Ok(()),
            r => fail!(
                "waitid(__WALL) on autoreap child {}: {r:?}, want ECHILD",
                self.pid
            ),
        }
    }

    /// The child must still be alive: no `SIGKILL` pending, not exited, and not exiting within
    /// the alive window.
    pub fn expect_alive(&self, when: &str) -> TestResult {
        check!(
            !util::killed_or_dead(self.pid),
            "child {} was killed {when}",
            self.pid
        );
        check!(
            !util::wait_exit(self.obs.as_fd_borrowed(), util::alive_ms()),
            "child {} died {when}",
            self.pid
        );
        Ok(())
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = util::pidfd_send_signal(self.obs.as_fd_borrowed(), libc::SIGKILL);
    }
}

/// An autokill child (with `CLONE_NNP`) that pauses.
pub fn autokill_kid() -> Result<Kid, Verdict> {
    spawn_kid(AUTOKILL_NNP)
}

/// A pausing child created with `flags`; it holds none of our other fds.
pub fn spawn_kid(flags: u64) -> Result<Kid, Verdict> {
    let s = Clone3::new(flags)
        .spawn(ChildMode::CleanPause)
        .ctx(&format!("clone3({})", flags_str(flags)))?;
    Kid::watch(s)
}

/// A fork-like child created with `flags` running `f` (which should not return) after closing
/// every fd but `keep` (so that it holds no copies of our autokill pidfds).
pub fn spawn_kid_fn<F: FnOnce() -> i32>(flags: u64, keep: &[RawFd], f: F) -> Result<Kid, Verdict> {
    let keep = keep.to_vec();
    let s = Clone3::new(flags)
        .spawn_fn(move || {
            util::close_fds_except(&keep);
            f()
        })
        .ctx(&format!("clone3({})", flags_str(flags)))?;
    Kid::watch(s)
}

/// Describes a call for messages.
pub fn describe(c: &Clone3) -> String {
    format!(
        "clone3(flags {}, exit_signal {}, size {})",
        flags_str(c.flags),
        c.exit_signal,
        c.size
    )
}

/// Cleans up after a child that was not supposed to be created (an exit child).
pub fn cleanup_spawned(flags: u64, s: Spawned) {
    if flags & CLONE_THREAD != 0 {
        util::wait_until(util::death_ms(), || !util::task_exists(s.pid));
    } else if flags & CLONE_PARENT == 0 {
        let _ = util::reap(s.pid);
    }
}

/// The call must fail with `want`.
pub fn expect_err(c: &Clone3, want: Errno) -> TestResult {
    match c.spawn(ChildMode::Exit(0)) {
        Err(e) if e == want => Ok(()),
        Err(e) => fail!("{}: got {e}, want {want}", describe(c)),
        Ok(s) => {
            cleanup_spawned(c.flags, s);
            fail!("{}: succeeded, want {want}", describe(c))
        }
    }
}

/// The call must succeed; the exit child is cleaned up.
pub fn expect_ok(c: &Clone3) -> TestResult {
    match c.spawn(ChildMode::Exit(0)) {
        Err(e) => fail!("{}: {e}, want success", describe(c)),
        Ok(s) => {
            cleanup_spawned(c.flags, s);
            Ok(())
        }
    }
}

/// Reaps every child of ours that exits within `timeout_ms` (strays such as `CLONE_PARENT`
/// grandchildren); stops when there is none left.
pub fn reap_all(timeout_ms: i32) {
    util::wait_until(timeout_ms, || loop {
        match util::waitid(libc::P_ALL, 0, libc::WEXITED | libc::WNOHANG | libc::__WALL) {
            Err(_) => return true,
            Ok(w) if w.pid == 0 => return false,
            Ok(_) => continue,
        }
    });
}

/// Forks a process that runs `f` (not returning normally: it should pause or exit).
pub fn fork_proc<F: FnOnce() -> i32>(f: F) -> Result<i32, Verdict> {
    conformance::raw::fork_fn(f).ctx("fork")
}

/// Exec's the helper with `notify` (and `fd`, if any) kept open; returns only on failure.
pub fn exec_helper(helper: &str, notify: RawFd, fd: Option<RawFd>) -> i32 {
    let _ = util::set_cloexec(notify, false);
    let mut args = vec![helper.to_string(), notify.to_string()];
    if let Some(fd) = fd {
        args.push(fd.to_string());
    }
    let e = util::execv(helper, &args);
    eprintln!("exec {helper}: {e}");
    127
}

/// Parses the helper's line: `(ruid, euid, nnp, flags)`.
pub fn parse_helper_line(line: &str) -> Result<(u32, u32, i32, i32), Verdict> {
    let v: Vec<i64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() != 4 {
        fail!("bad line from the helper: {line:?}");
    }
    Ok((v[0] as u32, v[1] as u32, v[2] as i32, v[3] as i32))
}

/// Whether an fd's file has the autokill flag (`F_GETFL` has `O_TRUNC`).
pub fn is_autokill_fd(fd: RawFd) -> Result<bool, Verdict> {
    Ok(util::getfl(fd).ctx("F_GETFL")? & PIDFD_AUTOKILL != 0)
}
