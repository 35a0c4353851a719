// SPDX-License-Identifier: GPL-2.0

//! Async waiting and output with tokio (feature `tokio`).
//!
//! [`CommandExt`] adds [`spawn_async`](CommandExt::spawn_async),
//! [`output_async`](CommandExt::output_async) and [`status_async`](CommandExt::status_async)
//! to [`crate::Command`]; [`Child`] is the async handle, with the same autokill lifetime as
//! [`crate::Child`]. Its [`wait`](Child::wait) registers the pidfd with the runtime's reactor
//! (`tokio::io::unix::AsyncFd`, `epoll` underneath): no thread blocks, no signal handler for
//! `SIGCHLD` is installed (the child sends none), nothing polls on a timer. The pipe ends are
//! `tokio::net::unix::pipe` types.
//!
//! These functions must be called within a tokio runtime with I/O enabled
//! (`enable_io()`/`enable_all()`), like tokio's own I/O types; they panic otherwise.
//!
//! # Examples
//!
//! ```no_run
//! use autokill::tokio::CommandExt;
//! use autokill::Command;
//!
//! # async fn run() -> Result<(), autokill::Error> {
//! let output = Command::new("uname").arg("-r").output_async().await?;
//! println!("{}", String::from_utf8_lossy(&output.stdout));
//!
//! let mut child = Command::new("sleep").arg("1000").spawn_async()?;
//! let timeout = tokio::time::timeout(std::time::Duration::from_secs(1), child.wait());
//! if timeout.await.is_err() {
//!     // The wait was cancelled; the child still runs and can be waited for again.
//!     child.kill().await?;
//! }
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Output};
use std::task::Poll;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::unix::pipe;

use crate::{sys, Error};

/// The parent's end of a child's piped standard input: a [`pipe::Sender`] (`AsyncWrite`).
pub type ChildStdin = pipe::Sender;
/// The parent's end of a child's piped standard output: a [`pipe::Receiver`] (`AsyncRead`).
pub type ChildStdout = pipe::Receiver;
/// The parent's end of a child's piped standard error: a [`pipe::Receiver`] (`AsyncRead`).
pub type ChildStderr = pipe::Receiver;

/// The async handle of a child spawned with autokill: like [`crate::Child`] (dropping it kills
/// the child, as does the death of this process), with async [`wait`](Child::wait),
/// [`wait_with_output`](Child::wait_with_output) and [`kill`](Child::kill), in the style of
/// `tokio::process::Child`.
#[derive(Debug)]
#[must_use = "dropping a Child kills the process at once; keep it, or wait() for it"]
pub struct Child {
    pid: libc::pid_t,
    pidfd: AsyncFd<OwnedFd>,
    status: Option<ExitStatus>,
    /// The parent's end of the child's standard input, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Turns a [`crate::Child`] into an async one: registers its pidfd with the runtime and
    /// makes its pipe ends non-blocking tokio pipes. The child keeps running throughout.
    ///
    /// # Errors
    ///
    /// Registering with the reactor (`epoll_ctl()`) or converting a pipe end failed; the child
    /// has then been killed, as its pidfd was closed.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let child = autokill::Command::new("sleep").arg("1").spawn()?;
    /// let mut child = autokill::tokio::Child::from_sync(child)?;
    /// assert!(child.wait().await?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_sync(child: crate::Child) -> io::Result<Self> {
        let (pid, pidfd, stdin, stdout, stderr) = child.into_parts();
        // SAFETY: An `OwnedFd` keeps its descriptor open and returns the same one from every
        // `as_raw_fd()` until it is dropped, which happens only with the `AsyncFd`.
        let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }?;
        Ok(Child {
            pid,
            pidfd,
            status: None,
            stdin: stdin
                .map(|s| pipe::Sender::from_owned_fd(s.into()))
                .transpose()?,
            stdout: stdout
                .map(|s| pipe::Receiver::from_owned_fd(s.into()))
                .transpose()?,
            stderr: stderr
                .map(|s| pipe::Receiver::from_owned_fd(s.into()))
                .transpose()?,
        })
    }

    /// The child's process id in the caller's pid namespace, see [`crate::Child::id`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let child = Command::new("sleep").arg("10").spawn_async()?;
    /// println!("sleep runs as pid {}", child.id());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn id(&self) -> u32 {
        // A pid from `clone3()` is positive.
        self.pid as u32
    }

    /// The exit status if the child has exited and been reaped, without blocking or awaiting.
    ///
    /// # Errors
    ///
    /// Those of `ioctl(PIDFD_GET_INFO)` other than `ESRCH`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sleep").arg("10").spawn_async()?;
    /// if child.try_wait()?.is_none() {
    ///     println!("still running");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status =
                sys::pidfd_exit_status(self.pidfd.get_ref().as_fd())?.map(ExitStatus::from_raw);
        }
        Ok(self.status)
    }

    /// Waits for the child to exit and returns its exit status; closes [`Child::stdin`] first.
    ///
    /// Cancellation-safe: dropping the future before it completes loses nothing, and a later
    /// `wait()` (or [`try_wait`](Child::try_wait)) gets the status.
    ///
    /// The pidfd becomes readable twice: when the child exits, a moment before the kernel
    /// stores its status, and when it is reaped, after (see
    /// [`sys`](crate::sys#waiting-for-a-process-through-a-pidfd)). So a readiness without the
    /// status is cleared and awaited again, for the second wake-up; there is no timer.
    ///
    /// # Errors
    ///
    /// Those of the reactor and of `ioctl(PIDFD_GET_INFO)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn_async()?;
    /// assert_eq!(child.wait().await?.code(), Some(3));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let mut guard = self.pidfd.readable().await?;
            match sys::pidfd_exit_status(guard.get_inner().as_fd())? {
                Some(raw) => {
                    let status = ExitStatus::from_raw(raw);
                    self.status = Some(status);
                    return Ok(status);
                }
                None => guard.clear_ready(),
            }
        }
    }

    /// Collects the child's piped standard output and error and waits for it, like
    /// [`crate::Child::wait_with_output`]: closes [`Child::stdin`], reads both pipes to their
    /// ends at the same time, then waits.
    ///
    /// Not cancellation-safe in the sense that output read so far is lost with the future; the
    /// `Child` is consumed, so dropping the future also kills the child.
    ///
    /// # Errors
    ///
    /// Those of reading the pipes and of [`wait`](Child::wait).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::{Command, Stdio};
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let child = Command::new("ls").stdout(Stdio::piped()).spawn_async()?;
    /// let output = child.wait_with_output().await?;
    /// println!("{}", String::from_utf8_lossy(&output.stdout));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read2(self.stdout.take(), self.stderr.take()).await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Sends the child `SIGKILL` without waiting, like `tokio::process::Child::start_kill`.
    ///
    /// # Errors
    ///
    /// Those of [`crate::Child::kill`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sleep").arg("100").spawn_async()?;
    /// child.start_kill()?;
    /// println!("{}", child.wait().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends the child `SIGKILL` and waits for it to be gone, like
    /// `tokio::process::Child::kill`.
    ///
    /// # Errors
    ///
    /// Those of [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sleep").arg("100").spawn_async()?;
    /// child.kill().await?;
    /// assert!(child.try_wait()?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// Sends the child `signal`, see [`crate::Child::signal`].
    ///
    /// # Errors
    ///
    /// Those of [`crate::Child::signal`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::os::unix::process::ExitStatusExt;
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sleep").arg("100").spawn_async()?;
    /// child.signal(libc::SIGTERM)?;
    /// assert_eq!(child.wait().await?.signal(), Some(libc::SIGTERM));
    /// # Ok(())
    /// # }
    /// ```
    pub fn signal(&self, signal: libc::c_int) -> io::Result<()> {
        match sys::pidfd_send_signal(self.pidfd.get_ref().as_fd(), signal) {
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            result => result,
        }
    }
}

/// The child's autokill pidfd. Duplicating it keeps the child alive, see [`crate::Child`].
impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.get_ref().as_fd()
    }
}

/// The child's autokill pidfd. Duplicating it keeps the child alive, see [`crate::Child`].
impl AsRawFd for Child {
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.get_ref().as_raw_fd()
    }
}

/// Reads both pipes to their ends at the same time.
async fn read2(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut ends = [stdout, stderr];
    let mut buffers = [Vec::new(), Vec::new()];
    let mut chunk = vec![0u8; 16 * 1024];
    std::future::poll_fn(|cx| {
        for (end, buffer) in ends.iter_mut().zip(buffers.iter_mut()) {
            while let Some(receiver) = end.as_ref() {
                match receiver.poll_read_ready(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Ready(Ok(())) => {}
                }
                match receiver.try_read(&mut chunk) {
                    Ok(0) => *end = None,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    // The readiness is cleared; the next poll_read_ready() registers the waker.
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
        }
        if ends.iter().all(Option::is_none) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    let [stdout, stderr] = buffers;
    Ok((stdout, stderr))
}

/// Async spawning for [`crate::Command`].
///
/// # Examples
///
/// ```no_run
/// use autokill::tokio::CommandExt;
/// use autokill::Command;
///
/// # async fn run() -> Result<(), autokill::Error> {
/// let status = Command::new("true").status_async().await?;
/// assert!(status.success());
/// # Ok(())
/// # }
/// ```
pub trait CommandExt {
    /// [`Command::spawn`](crate::Command::spawn), returning the async [`Child`].
    ///
    /// # Errors
    ///
    /// Those of [`Command::spawn`](crate::Command::spawn), and [`Error::Io`] from
    /// [`Child::from_sync`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sleep").arg("1").spawn_async()?;
    /// assert!(child.wait().await?.success());
    /// # Ok(())
    /// # }
    /// ```
    fn spawn_async(&mut self) -> Result<Child, Error>;

    /// [`Command::output`](crate::Command::output), awaiting instead of blocking. The child is
    /// spawned when the future is first polled, and killed if the future is dropped before it
    /// completes.
    ///
    /// # Errors
    ///
    /// Those of [`Command::output`](crate::Command::output).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let output = Command::new("echo").arg("hi").output_async().await?;
    /// assert_eq!(output.stdout, b"hi\n");
    /// # Ok(())
    /// # }
    /// ```
    fn output_async(&mut self) -> impl Future<Output = Result<Output, Error>> + Send + '_;

    /// [`Command::status`](crate::Command::status), awaiting instead of blocking. The child is
    /// spawned when the future is first polled, and killed if the future is dropped before it
    /// completes.
    ///
    /// # Errors
    ///
    /// Those of [`Command::status`](crate::Command::status).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let status = Command::new("sh").args(["-c", "exit 2"]).status_async().await?;
    /// assert_eq!(status.code(), Some(2));
    /// # Ok(())
    /// # }
    /// ```
    fn status_async(&mut self) -> impl Future<Output = Result<ExitStatus, Error>> + Send + '_;
}

impl CommandExt for crate::Command {
    fn spawn_async(&mut self) -> Result<Child, Error> {
        Ok(Child::from_sync(self.spawn()?)?)
    }

    async fn output_async(&mut self) -> Result<Output, Error> {
        let child = Child::from_sync(self.spawn_capturing()?)?;
        Ok(child.wait_with_output().await?)
    }

    async fn status_async(&mut self) -> Result<ExitStatus, Error> {
        Ok(self.spawn_async()?.wait().await?)
    }
}
