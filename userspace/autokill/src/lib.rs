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
//! [`Command::kill_tree`] extends that to every process the child starts.
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
//! - Linux 7.1 or later; older kernels make [`Command::spawn`] fail with
//!   [`Error::Unsupported`] (or [`Error::Seccomp`] where a seccomp filter refuses `clone3()`),
//!   and [`supported`] tells in advance.
//! - `CLONE_AUTOREAP` goes with an exit signal of 0: the child is reaped by the kernel, never
//!   becomes a zombie and cannot be waited for with `waitpid()`. [`Child::wait`] polls the pidfd
//!   until the child is reaped and reads the exit status with `ioctl(PIDFD_GET_INFO)`.
//! - The child gets `no_new_privs` (`CLONE_NNP`) by default, which lets any caller arm
//!   autokill. Without it ([`Command::no_new_privs(false)`](Command::no_new_privs)) the caller
//!   needs `CAP_SYS_ADMIN`, else [`Error::PermissionDenied`].
//! - [`Command::kill_tree`] needs `CONFIG_PID_NS`, and for callers without `CAP_SYS_ADMIN`
//!   `CONFIG_USER_NS` with unprivileged user namespaces allowed, else [`Error::Namespace`].
//!
//! # The child between `clone3()` and `execve()`
//!
//! `clone3()` is called without `CLONE_VM`, like `fork()`: the child runs on a copy of the
//! parent's memory with only the calling thread. Since other threads may have held locks (of the
//! allocator, for instance) at that moment, the child only makes async-signal-safe system calls
//! on data the parent prepared before `clone3()`: the `argv` and `envp` arrays, the candidate
//! paths of a `PATH` search, the working directory, the descriptors for standard I/O, the
//! credentials and the signal mask. All signals are blocked around `clone3()` and
//! `CLONE_CLEAR_SIGHAND` resets the handlers in the kernel, so no handler of the parent runs in
//! the child; the child resets `SIGPIPE` (which the Rust runtime ignores) to its default, sets an
//! empty signal mask and executes the program. If that fails it writes `errno` to a close-on-exec
//! pipe and exits with status 127; [`Command::spawn`] reads the pipe, where end-of-file means the
//! program runs, and returns [`Error::Exec`] otherwise. The child never returns into the
//! caller's code: a [`pre_exec`](Command::pre_exec) closure that panics (against its contract)
//! makes it exit with status 127 too, and [`Command::spawn`] return [`Error::Io`].
//!
//! # Features
//!
//! - `tokio`: the module `autokill::tokio` with `autokill::tokio::Child` and
//!   `autokill::tokio::CommandExt`: an async `wait()` and `output()` on
//!   `tokio::io::unix::AsyncFd` of the pidfd, with tokio pipes.
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
pub mod sys;
#[cfg(all(target_os = "linux", feature = "tokio"))]
pub mod tokio;

#[cfg(target_os = "linux")]
pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};
#[cfg(target_os = "linux")]
pub use command::{Command, Stdio};
#[cfg(target_os = "linux")]
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
/// [`Error::Unsupported`] or [`Error::Seccomp`]. Other failures (such as `EAGAIN` at the process
/// limit) return `false` without caching, so a later call probes again.
///
/// # Examples
///
/// ```
/// if !autokill::supported() {
///     eprintln!("this kernel cannot tie children to their parent; needs Linux 7.1+");
/// }
/// ```
#[cfg(target_os = "linux")]
#[must_use]
pub fn supported() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};

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
    let probe = unsafe { exec::clone_child(sys::AUTOKILL_NNP, 0, || libc::_exit(0)) };
    match probe.map_err(|error| command::clone_error(error, true, false)) {
        Ok(_) => {
            ANSWER.store(YES, Ordering::Relaxed);
            true
        }
        Err(Error::Unsupported | Error::Seccomp) => {
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
            match crate::Command::new("true").spawn() {
                Err(crate::Error::Seccomp) => {}
                _ => return 22,
            }
            if crate::supported() {
                return 23;
            }
            0
        });
        if code == NO_SECCOMP {
            // Not a lack of autokill: this kernel has no CONFIG_SECCOMP_FILTER (the test VM's
            // tinyconfig kernels), so AUTOKILL_REQUIRE_SUPPORT does not make it a failure.
            println!("skipped: kernel without seccomp filters (CONFIG_SECCOMP_FILTER)");
            return;
        }
        assert_eq!(
            code, 0,
            "21 = no filter mode, 22 = spawn did not say Seccomp, 23 = supported() under the filter"
        );
    }

    #[test]
    fn supported_is_stable() {
        assert_eq!(crate::supported(), crate::supported());
    }
}
