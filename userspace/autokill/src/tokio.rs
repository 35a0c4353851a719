// SPDX-License-Identifier: GPL-2.0

//! Async waiting and output with tokio (feature `tokio`).
//!
//! [`CommandExt`] adds [`spawn_async`](CommandExt::spawn_async),
//! [`output_async`](CommandExt::output_async) and [`status_async`](CommandExt::status_async)
//! to [`crate::Command`]; [`Command`] is a builder in the style of `tokio::process::Command`
//! over it, whose errors are [`io::Error`]s; [`Child`] is the async handle, with the same
//! autokill lifetime as [`crate::Child`]. Its [`wait`](Child::wait) registers the pidfd with the runtime's reactor
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

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::pin::pin;
use std::process::{ExitStatus, Output};
use std::task::Poll;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::unix::pipe;

use crate::fallback::ChildFd;
use crate::{sys, Error, Stdio};

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
    /// The pidfd, with how the child is reaped and killed on drop (a fallback child is killed
    /// and handed to the crate's spawner thread for reaping when this is dropped).
    pidfd: AsyncFd<ChildFd>,
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
        // SAFETY: A `ChildFd` keeps its descriptor open and returns the same one from every
        // `as_raw_fd()` until it is dropped, which happens only with the `AsyncFd` (after it
        // deregistered the descriptor) or when `into_inner()` gives it up.
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

    /// The child's process id in the caller's pid namespace (see [`crate::Child::id`]), or
    /// `None` once its exit status has been collected ([`wait`](Child::wait),
    /// [`try_wait`](Child::try_wait) or another method that waits returned it), as
    /// `tokio::process::Child::id` does: the child is gone and its id may belong to another
    /// process by then. The pidfd ([`AsFd`]) keeps referring to this child.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::CommandExt;
    /// use autokill::Command;
    ///
    /// # async fn run() -> Result<(), autokill::Error> {
    /// let mut child = Command::new("sleep").arg("1").spawn_async()?;
    /// println!("sleep runs as pid {}", child.id().expect("not waited for yet"));
    /// child.wait().await?;
    /// assert_eq!(child.id(), None);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn id(&self) -> Option<u32> {
        // A pid from `clone3()` is positive.
        self.status.is_none().then_some(self.pid as u32)
    }

    /// What kills this child when the `Child` is dropped or this process dies, as
    /// [`crate::Child::guarantee`].
    #[must_use]
    pub fn guarantee(&self) -> crate::Guarantee {
        self.pidfd.get_ref().guarantee()
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
            // A fallback child is reaped here (`waitid(WNOHANG)`), a kernel one's status read.
            self.status = self.pidfd.get_ref().try_status()?.map(ExitStatus::from_raw);
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
            // Readable at exit: a fallback child (a zombie) is reaped by `try_status()`; for a
            // kernel child the status may still be missing, see above.
            match guard.get_inner().try_status()? {
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

impl Child {
    /// Stops the child gracefully, like [`crate::Child::terminate`]: sends `SIGTERM`, awaits
    /// its exit for up to `grace`, then sends `SIGKILL` and awaits that. Returns the exit
    /// status (the child's own, `SIGTERM`'s, or `SIGKILL`'s after the grace). Closes
    /// [`Child::stdin`] first; a child whose status is known gets no signal.
    ///
    /// The grace period is a `timerfd` on the reactor, so the runtime needs I/O but not its
    /// time driver. Cancellation-safe: dropping the future leaves the child (perhaps with its
    /// `SIGTERM` on the way) for a later `wait()`, `kill()` or `terminate()`.
    ///
    /// With [`kill_tree`](crate::Command::kill_tree), a child that does not catch `SIGTERM`
    /// ignores it as the init of its pid namespace: `terminate` then awaits the whole `grace`
    /// before it kills the tree, see [`crate::Child::terminate`].
    ///
    /// # Errors
    ///
    /// Those of [`signal`](Child::signal), of creating the `timerfd` and registering it, and of
    /// [`wait`](Child::wait).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use autokill::tokio::Command;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let mut server = Command::new("my-server").spawn()?;
    /// // ... later: give it 5 seconds to shut down cleanly.
    /// let status = server.terminate(Duration::from_secs(5)).await?;
    /// println!("server: {status}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)?;
        let deadline = Deadline::after(grace)?;
        {
            let mut wait = pin!(self.wait());
            let waited = std::future::poll_fn(|cx| match wait.as_mut().poll(cx) {
                Poll::Ready(result) => Poll::Ready(Some(result)),
                Poll::Pending => match deadline.0.poll_read_ready(cx) {
                    Poll::Ready(Ok(_)) => Poll::Ready(None),
                    Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
                    Poll::Pending => Poll::Pending,
                },
            })
            .await;
            if let Some(result) = waited {
                return result;
            }
        }
        self.start_kill()?;
        self.wait().await
    }
}

/// A one-shot `timerfd` (`CLOCK_MONOTONIC`) on the reactor, readable once its time has come.
struct Deadline(AsyncFd<OwnedFd>);

impl Deadline {
    /// A deadline `after` from now (at once for zero).
    fn after(after: Duration) -> io::Result<Self> {
        // SAFETY: `timerfd_create()` takes no pointers.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A zero `it_value` would disarm the timer instead of expiring it.
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                // Below 10^9.
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `fd` is an open timerfd, `spec` a valid `itimerspec` that lives across the
        // call, and the old value may be NULL.
        if unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: An `OwnedFd` keeps its descriptor open and returns the same one from every
        // `as_raw_fd()` until it is dropped, which happens only with the `AsyncFd`.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        Ok(Deadline(fd))
    }
}

/// Gives up the `Child` for its pidfd, deregistered from the reactor, closing the pipe ends it
/// holds (take them first to keep them).
///
/// A [`Guarantee::Kernel`](crate::Guarantee::Kernel) child then lives as long as that open
/// file: closing the descriptor (with every duplicate, in any process) kills it, as dropping
/// the `Child` would have, and so does the death of this process. A fallback child is the
/// caller's to kill and reap. See [`crate::Child`]'s conversion.
impl From<Child> for OwnedFd {
    fn from(child: Child) -> OwnedFd {
        let Child { pidfd, .. } = child;
        pidfd.into_inner().into()
    }
}

/// Gives up the `Child` for its pidfd, as the conversion into [`OwnedFd`] does (see there):
/// a [`Guarantee::Kernel`](crate::Guarantee::Kernel) child lives as long as that open file.
impl IntoRawFd for Child {
    fn into_raw_fd(self) -> RawFd {
        OwnedFd::from(self).into_raw_fd()
    }
}

/// A builder in the style of `tokio::process::Command` over [`crate::Command`]: the same
/// methods with the same names, [`spawn`](Command::spawn) returning the async [`Child`], and
/// [`output`](Command::output) and [`status`](Command::status) to be awaited. Errors are
/// [`io::Error`]s, as with tokio (converted from [`Error`], keeping the `errno`:
/// [`raw_os_error()`](io::Error::raw_os_error) of a failed `execve()` is its `errno`, and an
/// error without one wraps the [`Error`], see its conversion).
///
/// What differs from tokio: the child is always killed when its [`Child`] is dropped (there is
/// no `kill_on_drop(false)`: see [`crate::Child`]), and by default it runs with
/// `no_new_privs` (see [`crate::Command`]). Everything else [`crate::Command`] offers
/// ([`fd`](crate::Command::fd), [`rlimit`](crate::Command::rlimit),
/// [`cgroup`](crate::Command::cgroup), ...) is reached through
/// [`as_autokill_mut`](Command::as_autokill_mut).
///
/// # Examples
///
/// ```no_run
/// use autokill::tokio::Command;
///
/// # async fn run() -> std::io::Result<()> {
/// let output = Command::new("echo").arg("hello").output().await?;
/// assert_eq!(output.stdout, b"hello\n");
///
/// let mut child = Command::new("sleep").arg("100").kill_tree(true).spawn()?;
/// child.kill().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Command {
    inner: crate::Command,
}

impl Command {
    /// A command that runs `program`, see [`crate::Command::new`].
    #[must_use]
    pub fn new<S: AsRef<OsStr>>(program: S) -> Self {
        Command {
            inner: crate::Command::new(program),
        }
    }

    /// Adds an argument, see [`crate::Command::arg`].
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments, see [`crate::Command::args`].
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets `argv[0]`, see [`crate::Command::arg0`].
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg0: S) -> &mut Self {
        self.inner.arg0(arg0);
        self
    }

    /// Sets an environment variable, see [`crate::Command::env`].
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, value: V) -> &mut Self {
        self.inner.env(key, value);
        self
    }

    /// Sets environment variables, see [`crate::Command::envs`].
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable, see [`crate::Command::env_remove`].
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Self {
        self.inner.env_remove(key);
        self
    }

    /// Starts from an empty environment, see [`crate::Command::env_clear`].
    pub fn env_clear(&mut self) -> &mut Self {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory, see [`crate::Command::current_dir`].
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Self {
        self.inner.current_dir(dir);
        self
    }

    /// Sets the standard input, see [`crate::Command::stdin`]; a piped one is a tokio pipe in
    /// [`Child::stdin`].
    pub fn stdin<T: Into<Stdio>>(&mut self, stdin: T) -> &mut Self {
        self.inner.stdin(stdin);
        self
    }

    /// Sets the standard output, see [`crate::Command::stdout`]; a piped one is a tokio pipe
    /// in [`Child::stdout`].
    pub fn stdout<T: Into<Stdio>>(&mut self, stdout: T) -> &mut Self {
        self.inner.stdout(stdout);
        self
    }

    /// Sets the standard error, see [`crate::Command::stderr`]; a piped one is a tokio pipe
    /// in [`Child::stderr`].
    pub fn stderr<T: Into<Stdio>>(&mut self, stderr: T) -> &mut Self {
        self.inner.stderr(stderr);
        self
    }

    /// Whether dropping the [`Child`] kills every process the child started, see
    /// [`crate::Command::kill_tree`].
    pub fn kill_tree(&mut self, on: bool) -> &mut Self {
        self.inner.kill_tree(on);
        self
    }

    /// Whether the child gets `no_new_privs`, see [`crate::Command::no_new_privs`].
    pub fn no_new_privs(&mut self, on: bool) -> &mut Self {
        self.inner.no_new_privs(on);
        self
    }

    /// Sets the child's user id, see [`crate::Command::uid`].
    pub fn uid(&mut self, id: u32) -> &mut Self {
        self.inner.uid(id);
        self
    }

    /// Sets the child's group id, see [`crate::Command::gid`].
    pub fn gid(&mut self, id: u32) -> &mut Self {
        self.inner.gid(id);
        self
    }

    /// Puts the child into a process group, see [`crate::Command::process_group`].
    pub fn process_group(&mut self, pgroup: i32) -> &mut Self {
        self.inner.process_group(pgroup);
        self
    }

    /// Schedules a closure to run in the child before `execve()`, see
    /// [`crate::Command::pre_exec`].
    ///
    /// # Safety
    ///
    /// That of [`crate::Command::pre_exec`]: the closure runs in a copy of this process made
    /// without the C library's fork handlers and must only do async-signal-safe things (no
    /// allocation, no locks, no panics).
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Self
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: The caller upholds the contract of `crate::Command::pre_exec`, which is this
        // function's.
        unsafe { self.inner.pre_exec(f) };
        self
    }

    /// The [`crate::Command`] underneath, like `tokio::process::Command::as_std`.
    #[must_use]
    pub fn as_autokill(&self) -> &crate::Command {
        &self.inner
    }

    /// The [`crate::Command`] underneath, to set what this wrapper has no method for, like
    /// `tokio::process::Command::as_std_mut`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::Command;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "ulimit -n"]);
    /// cmd.as_autokill_mut().rlimit(libc::RLIMIT_NOFILE, 64, 64);
    /// assert_eq!(cmd.output().await?.stdout, b"64\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_autokill_mut(&mut self) -> &mut crate::Command {
        &mut self.inner
    }

    /// The [`crate::Command`] underneath.
    #[must_use]
    pub fn into_autokill(self) -> crate::Command {
        self.inner
    }

    /// Creates the child and executes the program in it, like
    /// `tokio::process::Command::spawn`; see [`crate::Command::spawn`].
    ///
    /// # Errors
    ///
    /// The [`Error`] of [`crate::Command::spawn`] as an [`io::Error`] (see its conversion:
    /// the `errno` of a failed `execve()` or `chdir()` is the
    /// [`raw_os_error()`](io::Error::raw_os_error); [`Error::Unsupported`] is of kind
    /// [`Unsupported`](io::ErrorKind::Unsupported)), and those of [`Child::from_sync`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::Command;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let mut child = Command::new("sleep").arg("1").spawn()?;
    /// assert!(child.wait().await?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        Ok(self.inner.spawn_async()?)
    }

    /// Runs the program to its end and collects its output, like
    /// `tokio::process::Command::output`: standard output and error piped, standard input
    /// `/dev/null`, unless set. The child is spawned when the future is first polled and killed
    /// if the future is dropped before it completes.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn), of reading the pipes and of waiting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::Command;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let output = Command::new("uname").arg("-r").output().await?;
    /// println!("{}", String::from_utf8_lossy(&output.stdout));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        Ok(self.inner.output_async().await?)
    }

    /// Runs the program to its end and returns its exit status, like
    /// `tokio::process::Command::status`; standard I/O not set is inherited. The child is
    /// spawned when the future is first polled and killed if the future is dropped before it
    /// completes.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn) and of waiting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::tokio::Command;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// assert!(Command::new("true").status().await?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        Ok(self.inner.status_async().await?)
    }
}

/// Wraps a [`crate::Command`], keeping everything set on it.
impl From<crate::Command> for Command {
    fn from(inner: crate::Command) -> Self {
        Command { inner }
    }
}

/// Converts what `std` lets us read, see the conversion of [`crate::Command`] (what `std`
/// keeps to itself, `env_clear` and standard I/O among it, is lost).
impl From<std::process::Command> for Command {
    fn from(std_cmd: std::process::Command) -> Self {
        crate::Command::from(std_cmd).into()
    }
}
