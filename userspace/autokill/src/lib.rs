// SPDX-License-Identifier: GPL-2.0

//! Spawn child processes that die with their parent, with `clone3(CLONE_PIDFD_AUTOKILL)`.
//!
//! [`Command`] works like [`std::process::Command`], but creates the child with
//! `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL)` (Linux 7.1+). The returned
//! [`Child`] owns the child's pidfd, and the kernel sends the child `SIGKILL` when the last
//! reference to that pidfd goes away: when the `Child` is dropped, and also when this process
//! exits or dies in any way, `SIGKILL` included. No cooperation from the child, no helper
//! process, no `PR_SET_PDEATHSIG` (which follows the parent thread, not the process, and does
//! not cover the handle being dropped).
//!
//! ```no_run
//! use std::io::Read;
//! use autokill::{Command, Stdio};
//!
//! // Killed by the kernel when `server` is dropped or this process dies.
//! let server = Command::new("sleep").arg("1000").spawn()?;
//! println!("running as pid {}", server.pid());
//!
//! // Talk to a child through pipes and get its exit status.
//! let mut child = Command::new("sh")
//!     .args(["-c", "echo hello; exit 3"])
//!     .stdout(Stdio::piped())
//!     .spawn()?;
//! let mut out = String::new();
//! child.stdout.take().expect("piped").read_to_string(&mut out)?;
//! assert_eq!(out, "hello\n");
//! assert_eq!(child.wait()?.code(), Some(3));
//!
//! drop(server); // SIGKILL
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the kernel requires
//!
//! - Linux 7.1 or later; older kernels make [`Command::spawn`] fail with
//!   [`Error::Unsupported`], and [`supported`] tells in advance.
//! - `CLONE_AUTOREAP` goes with an exit signal of 0: the child is reaped by the kernel, never
//!   becomes a zombie and cannot be waited for with `waitpid()`. [`Child::wait`] polls the pidfd
//!   and reads the exit status with `ioctl(PIDFD_GET_INFO)`.
//! - The child gets `no_new_privs` (`CLONE_NNP`) by default, which lets any caller arm
//!   autokill. Without it ([`Command::nnp(false)`](Command::nnp)) the caller needs
//!   `CAP_SYS_ADMIN`, else [`Error::PermissionDenied`].
//!
//! # The child between `clone3()` and `execve()`
//!
//! `clone3()` is called without `CLONE_VM`, like `fork()`: the child runs on a copy of the
//! parent's memory with only the calling thread. Since other threads may have held locks (of the
//! allocator, for instance) at that moment, the child only makes async-signal-safe system calls
//! on data the parent prepared before `clone3()`: the `argv` and `envp` arrays, the candidate
//! paths of a `PATH` search, the working directory, the descriptors for standard I/O and the
//! signal mask. All signals are blocked around `clone3()`, so no handler of the parent runs in
//! the child; the child resets caught signals (and `SIGPIPE`) to their default action, sets an
//! empty signal mask and executes the program. If that fails it writes `errno` to a close-on-exec
//! pipe and exits with status 127; [`Command::spawn`] reads the pipe, where end-of-file means the
//! program runs, and returns [`Error::Exec`] otherwise.
//!
//! The command-line tool `autokill-run` of this crate runs a program tied to its own lifetime
//! (`autokill-run --help`).

#![deny(missing_docs)]

mod child;
mod command;
mod error;
pub mod sys;

use std::sync::atomic::{AtomicU8, Ordering};

pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};
pub use command::{Command, Stdio};
pub use error::Error;

/// Whether this kernel supports spawning children with an autokill pidfd.
///
/// There is no way to ask the kernel about clone flags without creating a process (a kernel
/// without them answers `EINVAL` exactly like one that rejects the combination), so this probes
/// honestly: it creates a child with `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL |
/// CLONE_NNP)` that does nothing but `_exit(0)`, and closes the pidfd. `CLONE_NNP` makes the
/// probe work without privileges.
///
/// The answer is cached once known: `true` after a successful probe, `false` after
/// [`Error::Unsupported`]. Other failures (such as `EAGAIN` at the process limit) return
/// `false` without caching, so a later call probes again.
pub fn supported() -> bool {
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;
    static ANSWER: AtomicU8 = AtomicU8::new(UNKNOWN);

    match ANSWER.load(Ordering::Relaxed) {
        YES => return true,
        NO => return false,
        _ => {}
    }
    // SAFETY: The child only calls `_exit()`, which is async-signal-safe.
    match unsafe { command::clone_autokill(true, || libc::_exit(0)) } {
        Ok(_) => {
            ANSWER.store(YES, Ordering::Relaxed);
            true
        }
        Err(Error::Unsupported) => {
            ANSWER.store(NO, Ordering::Relaxed);
            false
        }
        Err(_) => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// For tests that need `CLONE_PIDFD_AUTOKILL`: on a kernel without it, prints the one line
    /// the test runner counts as a skip and returns `true` (the test then returns early).
    /// With `AUTOKILL_REQUIRE_SUPPORT=1` in the environment, lack of support fails instead.
    pub(crate) fn skip_without_autokill() -> bool {
        if crate::supported() {
            return false;
        }
        assert!(
            std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
            "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel lacks CLONE_PIDFD_AUTOKILL"
        );
        println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
        true
    }

    #[test]
    fn supported_is_stable() {
        assert_eq!(crate::supported(), crate::supported());
    }
}
