// SPDX-License-Identifier: GPL-2.0

//! [`Child`]: the owning handle of a spawned child, and the parent's ends of its pipes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::raw::c_int;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::sys;

/// How long [`Child::wait`] waits, once the pidfd polls readable, for the exit status to be
/// published: a child that is reaped automatically has exited some instants before the kernel
/// stores its status for `PIDFD_INFO_EXIT`.
const EXIT_INFO_RETRIES: u32 = 10_000;
/// The pause between two attempts.
const EXIT_INFO_PAUSE: Duration = Duration::from_millis(1);

/// A child process spawned by [`Command::spawn`](crate::Command::spawn), owning its autokill
/// pidfd.
///
/// # Lifetime
///
/// Dropping the `Child` closes the pidfd. When the last reference to that open file goes away,
/// the kernel sends the child `SIGKILL`: on drop, and just as well when this process exits or is
/// killed, however it dies. Dropping does not wait for the child; it is reaped automatically
/// (`CLONE_AUTOREAP`) and never becomes a zombie.
///
/// The reference is to the open file, not to the descriptor: duplicates made with `dup()`,
/// passed to another process (`SCM_RIGHTS`), or inherited by a `fork()` that has not executed a
/// program yet keep the child alive until they are closed too. The pidfd is close-on-exec, so
/// programs executed by this process do not inherit it. A pidfd from `pidfd_open()` is a file
/// of its own and does not keep the child alive.
///
/// # No `into_detached()`
///
/// There is deliberately no way to let the child outlive its handle. Autokill is a property of
/// the pidfd's open file (the `PIDFD_AUTOKILL` flag that `clone3()` sets on it) which the kernel
/// never clears, and there is no other way to disarm it: leaking the descriptor
/// (`mem::forget`) would only tie the child to this process instead of to this handle, which
/// is not detaching. Spawn a process that should outlive its parent with
/// [`std::process::Command`] instead.
///
/// # Waiting
///
/// `waitpid()` cannot be used: the child sends no exit signal and is reaped by the kernel. The
/// pidfd polls readable (`POLLIN`) when the child has exited ([`AsFd`] gives it, e.g. for an event
/// loop); [`try_wait`](Child::try_wait) and [`wait`](Child::wait) then read the exit status
/// with `ioctl(PIDFD_GET_INFO)` and `PIDFD_INFO_EXIT`.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    status: Option<ExitStatus>,
    /// The parent's end of the child's standard input, if it was [piped](crate::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's standard output, if it was
    /// [piped](crate::Stdio::piped).
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's standard error, if it was [piped](crate::Stdio::piped).
    pub stderr: Option<ChildStderr>,
}

impl Child {
    pub(crate) fn new(
        pid: libc::pid_t,
        pidfd: OwnedFd,
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
        stderr: Option<ChildStderr>,
    ) -> Self {
        Child {
            pid,
            pidfd,
            status: None,
            stdin,
            stdout,
            stderr,
        }
    }

    /// The child's process id (in the caller's pid namespace).
    ///
    /// Once the child has exited the id may be reused by another process; the pidfd
    /// ([`AsFd`]) always refers to this child.
    pub fn pid(&self) -> u32 {
        // A pid from `clone3()` is positive.
        self.pid as u32
    }

    /// The exit status if the child has exited, without blocking.
    ///
    /// Returns `Ok(None)` while the child runs, including the instant between its exit and the
    /// kernel publishing its status.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        if !poll_readable(self.pidfd.as_fd(), 0)? {
            return Ok(None);
        }
        self.exit_status()
    }

    /// Waits for the child to exit and returns its exit status.
    ///
    /// Closes [`Child::stdin`] first, so that a child reading its input to the end can finish.
    /// Returns the same status again when called after the child exited.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        poll_readable(self.pidfd.as_fd(), -1)?;
        for _ in 0..EXIT_INFO_RETRIES {
            if let Some(status) = self.exit_status()? {
                return Ok(status);
            }
            std::thread::sleep(EXIT_INFO_PAUSE);
        }
        Err(io::Error::other(
            "the child exited but the kernel did not publish its exit status (PIDFD_INFO_EXIT)",
        ))
    }

    /// Kills the child with `SIGKILL` (`pidfd_send_signal()`).
    ///
    /// Does not wait for it to die; [`wait`](Child::wait) does. Succeeds if the child has
    /// already exited.
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends the child `signal` (`pidfd_send_signal()`), which arrives as if sent with
    /// `kill()` (`si_code` `SI_USER`).
    ///
    /// Succeeds if the child has already exited: the pidfd guarantees that no other process
    /// that reused the pid gets the signal.
    pub fn signal(&self, signal: c_int) -> io::Result<()> {
        match sys::pidfd_send_signal(self.pidfd.as_fd(), signal) {
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            result => result,
        }
    }

    /// Reads the exit status with `PIDFD_INFO_EXIT`: `None` if it is not published yet.
    fn exit_status(&mut self) -> io::Result<Option<ExitStatus>> {
        match sys::pidfd_get_info(self.pidfd.as_fd(), sys::PIDFD_INFO_EXIT) {
            Ok(info) if info.mask & sys::PIDFD_INFO_EXIT != 0 => {
                let status = ExitStatus::from_raw(info.exit_code);
                self.status = Some(status);
                Ok(Some(status))
            }
            Ok(_) => Ok(None),
            // Gone, but the exit information not stored yet.
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The child's autokill pidfd. Duplicating it keeps the child alive, see [`Child`].
impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

/// The child's autokill pidfd. Duplicating it keeps the child alive, see [`Child`].
impl AsRawFd for Child {
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}

/// Polls `fd` for `POLLIN` for up to `timeout_ms` (-1: forever), retrying on `EINTR`; whether it
/// became readable (or hung up).
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout_ms: c_int) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: Polls one valid `pollfd`.
        let ret = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
        if ret >= 0 {
            return Ok(ret > 0);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Implements what the three pipe ends share.
macro_rules! pipe_end {
    ($name:ident) => {
        impl $name {
            pub(crate) fn from_fd(fd: OwnedFd) -> Self {
                $name { inner: fd.into() }
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl From<$name> for OwnedFd {
            fn from(end: $name) -> OwnedFd {
                end.inner.into()
            }
        }
    };
}

/// The parent's (writing) end of a child's piped standard input; closing it gives the child EOF.
#[derive(Debug)]
pub struct ChildStdin {
    inner: File,
}

/// The parent's (reading) end of a child's piped standard output.
#[derive(Debug)]
pub struct ChildStdout {
    inner: File,
}

/// The parent's (reading) end of a child's piped standard error.
#[derive(Debug)]
pub struct ChildStderr {
    inner: File,
}

pipe_end!(ChildStdin);
pipe_end!(ChildStdout);
pipe_end!(ChildStderr);

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_vectored(bufs)
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_vectored(bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, Stdio};

    #[test]
    fn poll_readable_on_a_pipe() {
        let mut fds = [-1; 2];
        // SAFETY: `fds` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: Both are new descriptors owned by nothing else.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        assert!(!poll_readable(read.as_fd(), 0).unwrap());
        let mut stdin = ChildStdin::from_fd(write);
        stdin.write_all(b"x").unwrap();
        assert!(poll_readable(read.as_fd(), 0).unwrap());
        let mut stdout = ChildStdout::from_fd(read);
        let mut byte = [0];
        stdout.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"x");
        drop(stdin);
        // EOF (hang-up) counts as readable. Another test thread may fork while the write end is
        // open, and its child holds a copy until it execs, so allow the hang-up some time.
        assert!(poll_readable(stdout.as_fd(), 10_000).unwrap());
    }

    #[test]
    fn wait_try_wait_and_kill() {
        if crate::tests::skip_without_autokill() {
            return;
        }
        let mut child = Command::new("sleep")
            .arg("100")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        assert!(child.pid() > 0);
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(child.try_wait().unwrap(), Some(status));
        // Signalling an exited child is not an error.
        child.kill().unwrap();
        child.signal(libc::SIGTERM).unwrap();
    }
}
