// SPDX-License-Identifier: GPL-2.0

//! The result of a test case, the `check!`/`fail!`/`skip!` macros and running a part of a case
//! in another process (for example as an unprivileged user) with its result sent back.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::errno::Errno;
use crate::raw::Clone3;
use crate::util;

/// Why a case did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel (or the environment) misbehaved.
    Fail(String),
    /// The case could not run here.
    Skip(String),
}

/// The result of a case.
pub type TestResult = Result<(), Verdict>;

/// Fails the case with a formatted message.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::verdict::Verdict::Fail(format!($($arg)*)))
    };
}

/// Skips the case with a formatted reason.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {
        return Err($crate::verdict::Verdict::Skip(format!($($arg)*)))
    };
}

/// Fails the case unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail!($($arg)*);
        }
    };
}

/// Context for errors: `result.ctx("what")?` fails the case with "what: ERRNO".
pub trait Ctx<T> {
    /// Maps the error to a failure naming `what`.
    fn ctx(self, what: &str) -> Result<T, Verdict>;
}

impl<T> Ctx<T> for Result<T, Errno> {
    fn ctx(self, what: &str) -> Result<T, Verdict> {
        self.map_err(|e| Verdict::Fail(format!("{what}: {e}")))
    }
}

impl<T> Ctx<T> for Result<T, String> {
    fn ctx(self, what: &str) -> Result<T, Verdict> {
        self.map_err(|e| Verdict::Fail(format!("{what}: {e}")))
    }
}

impl<T> Ctx<T> for Option<T> {
    fn ctx(self, what: &str) -> Result<T, Verdict> {
        self.ok_or_else(|| Verdict::Fail(format!("{what}: not available")))
    }
}

/// Encodes a result for a pipe.
pub fn encode(r: &TestResult) -> Vec<u8> {
    match r {
        Ok(()) => b"P".to_vec(),
        Err(Verdict::Fail(m)) => format!("F{m}").into_bytes(),
        Err(Verdict::Skip(m)) => format!("S{m}").into_bytes(),
    }
}

/// Decodes a result from a pipe; `what` names the process for messages.
pub fn decode(bytes: &[u8], what: &str) -> TestResult {
    let s = String::from_utf8_lossy(bytes);
    match s.chars().next() {
        Some('P') => Ok(()),
        Some('F') => Err(Verdict::Fail(s[1..].to_string())),
        Some('S') => Err(Verdict::Skip(s[1..].to_string())),
        _ => Err(Verdict::Fail(format!("{what} died without a result"))),
    }
}

/// Runs `f` in a child process created by `create` (which gets the write end of the result
/// pipe to keep open in the child) and returns its result. Waits up to `timeout_ms`.
fn run_in<F>(
    what: &str,
    timeout_ms: i32,
    create: impl FnOnce(F, OwnedFd) -> Result<i32, Errno>,
    f: F,
) -> (TestResult, i32)
where
    F: FnOnce() -> TestResult,
{
    let (r, w) = util::pipe();
    let pid = match create(f, w) {
        Ok(p) => p,
        Err(e) => return (Err(Verdict::Fail(format!("creating the {what}: {e}"))), -1),
    };
    // Stop at the process's exit, even if something it left behind holds the pipe open. (If
    // it is gone already, e.g. autoreaped, the end of file tells.)
    let pidfd = util::pidfd_open(pid, 0).ok();
    let read = match &pidfd {
        Some(p) => util::read_from_process(r.as_raw_fd(), p.as_raw_fd(), timeout_ms),
        None => util::read_to_end(r.as_raw_fd(), timeout_ms),
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return (Err(Verdict::Fail(format!("{what}: {e}"))), pid);
        }
    };
    (decode(&bytes, what), pid)
}

/// Runs `f` in a forked child (reaped here) and returns its result.
pub fn in_fork<F: FnOnce() -> TestResult>(what: &str, f: F) -> TestResult {
    let timeout = 6 * util::death_ms();
    let (res, pid) = run_in(
        what,
        timeout,
        |f: F, w: OwnedFd| {
            crate::raw::fork_fn(move || {
                let r = f();
                let _ = util::write_all(w.as_raw_fd(), &encode(&r));
                0
            })
        },
        f,
    );
    if pid > 0 {
        let _ = util::reap(pid);
    }
    res
}

/// Runs `f` in a forked child that first drops to `nobody` without capabilities.
pub fn as_nobody<F: FnOnce() -> TestResult>(f: F) -> TestResult {
    in_fork("unprivileged process", move || {
        crate::creds::drop_to_nobody().ctx("dropping privileges")?;
        f()
    })
}

/// Runs `f` in a child created by `clone3(flags)` (for example an autoreap child) and returns
/// its result; the child is waited for through its pidfd (or reaped if it is not autoreap).
pub fn in_clone<F: FnOnce() -> TestResult>(what: &str, flags: u64, f: F) -> TestResult {
    let flags = flags | crate::sys::CLONE_PIDFD;
    let timeout = 6 * util::death_ms();
    let mut pidfd_keep = None;
    let (res, pid) = run_in(
        what,
        timeout,
        |f: F, w: OwnedFd| {
            let mut c = Clone3::new(flags).spawn_fn(move || {
                let r = f();
                let _ = util::write_all(w.as_raw_fd(), &encode(&r));
                0
            })?;
            pidfd_keep = c.pidfd.take();
            Ok(c.pid)
        },
        f,
    );
    if let Some(fd) = pidfd_keep {
        use crate::util::FdExt;
        if pid > 0 && !util::wait_exit(fd.as_fd_borrowed(), util::death_ms()) {
            let _ = util::pidfd_send_signal(fd.as_fd_borrowed(), libc::SIGKILL);
        }
        if flags & crate::sys::CLONE_AUTOREAP == 0 {
            let _ = util::reap(pid);
        }
    }
    res
}
