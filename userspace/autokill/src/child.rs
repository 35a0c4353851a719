// SPDX-License-Identifier: GPL-2.0

//! [`Child`]: the owning handle of a spawned child, and the parent's ends of its pipes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::raw::c_int;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Output};
use std::time::Duration;

use crate::fallback::ChildFd;
use crate::guarantee::Guarantee;
use crate::sys;

/// A child process spawned by [`Command::spawn`](crate::Command::spawn), owning its autokill
/// pidfd.
///
/// What follows is the [`Guarantee::Kernel`] child's (`CLONE_PIDFD_AUTOKILL`). A child of the
/// fallback ([`guarantee`](Child::guarantee) says which) owns a plain pidfd instead: dropping
/// the `Child` sends it `SIGKILL` (and writes `cgroup.kill` of its
/// [`cgroup`](crate::Command::cgroup)), and the crate's spawner thread reaps it;
/// `PR_SET_PDEATHSIG` kills it when this process dies; a duplicate of the pidfd neither keeps
/// it alive nor kills it; [`wait`](Child::wait) reaps it with `waitid(P_PIDFD)`.
///
/// # Lifetime
///
/// Dropping the `Child` closes the pidfd. When the last reference to that open file goes away,
/// the kernel sends the child `SIGKILL`: on drop, and just as well when this process exits or is
/// killed, however it dies. Dropping does not wait for the child; it is reaped automatically
/// (`CLONE_AUTOREAP`) and never becomes a zombie. Hence `#[must_use]`: a `Child` that is not
/// kept is killed at once.
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
/// `waitpid()` cannot be used: the child sends no exit signal and is reaped by the kernel.
/// [`wait`](Child::wait) and [`wait_timeout`](Child::wait_timeout) poll the pidfd until the
/// kernel has reaped the child (`POLLHUP`), at which point its exit status is stored, and read
/// it with `ioctl(PIDFD_GET_INFO)` and `PIDFD_INFO_EXIT`: one `poll()` and one `ioctl()`, no
/// retry loop (see [`sys`](crate::sys#waiting-for-a-process-through-a-pidfd) for why that
/// suffices). For an event loop, [`AsFd`] gives the pidfd: poll it with no events, or for
/// `POLLIN` and then call [`try_wait`](Child::try_wait) until it returns the status.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use autokill::Command;
///
/// let mut child = Command::new("sleep").arg("1000").spawn()?;
/// if child.wait_timeout(Duration::from_secs(1))?.is_none() {
///     child.kill()?;
/// }
/// println!("{}", child.wait()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping a Child kills the process at once; keep it, or wait() for it"]
pub struct Child {
    pid: libc::pid_t,
    pidfd: ChildFd,
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
        pidfd: ChildFd,
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

    /// The parts, for the `tokio` wrapper and the conversion into the pidfd.
    pub(crate) fn into_parts(
        self,
    ) -> (
        libc::pid_t,
        ChildFd,
        Option<ChildStdin>,
        Option<ChildStdout>,
        Option<ChildStderr>,
    ) {
        (self.pid, self.pidfd, self.stdin, self.stdout, self.stderr)
    }

    /// What kills this child when the `Child` is dropped or this process dies: see
    /// [`Guarantee`] for what each level covers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Guarantee};
    ///
    /// let child = Command::new("sleep").arg("10").spawn()?;
    /// if child.guarantee() < Guarantee::Kernel {
    ///     eprintln!("fallback: {}", child.guarantee());
    /// }
    /// # Ok::<(), autokill::Error>(())
    /// ```
    #[must_use]
    pub fn guarantee(&self) -> Guarantee {
        self.pidfd.guarantee()
    }

    /// The child's process id in the caller's pid namespace, like
    /// [`std::process::Child::id`].
    ///
    /// Once the child has exited the id may be reused by another process; the pidfd
    /// ([`AsFd`]) always refers to this child. With [`kill_tree`](crate::Command::kill_tree)
    /// the child sees itself as pid 1.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let child = autokill::Command::new("sleep").arg("10").spawn()?;
    /// println!("sleep runs as pid {}", child.id());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    #[must_use]
    pub fn id(&self) -> u32 {
        // A pid from `clone3()` is positive.
        self.pid as u32
    }

    /// The exit status if the child has exited and been reaped, without blocking.
    ///
    /// Returns `Ok(None)` while the child runs, including the instant between its exit and the
    /// kernel storing its status.
    ///
    /// # Errors
    ///
    /// Those of `ioctl(PIDFD_GET_INFO)` other than `ESRCH` (`ENOTTY` on a kernel without it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut child = autokill::Command::new("sleep").arg("1").spawn()?;
    /// match child.try_wait()? {
    ///     Some(status) => println!("exited: {status}"),
    ///     None => println!("still running"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.pidfd.try_status()?.map(ExitStatus::from_raw);
        }
        Ok(self.status)
    }

    /// Waits for the child to exit and returns its exit status.
    ///
    /// Closes [`Child::stdin`] first, so that a child reading its input to the end can finish.
    /// Returns the same status again when called after the child exited. With
    /// [`kill_tree`](crate::Command::kill_tree) it returns once every process of the tree is
    /// gone.
    ///
    /// # Errors
    ///
    /// Those of `poll()` and `ioctl(PIDFD_GET_INFO)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut child = autokill::Command::new("ls").spawn()?;
    /// let status = child.wait()?;
    /// println!("ls exited with {status}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.wait_for(None)?
            .ok_or_else(|| io::Error::other("poll() without a timeout returned nothing"))
    }

    /// Waits up to `timeout` for the child to exit; its exit status, or `None` if it still
    /// runs. Like [`wait`](Child::wait), closes [`Child::stdin`] first.
    ///
    /// # Errors
    ///
    /// Those of `poll()` and `ioctl(PIDFD_GET_INFO)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use autokill::Command;
    ///
    /// let mut child = Command::new("sleep").arg("10").spawn()?;
    /// assert_eq!(child.wait_timeout(Duration::from_millis(100))?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        self.wait_for(Some(timeout))
    }

    fn wait_for(&mut self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        drop(self.stdin.take());
        if self.status.is_none() {
            self.status = self.pidfd.wait_status(timeout)?.map(ExitStatus::from_raw);
        }
        Ok(self.status)
    }

    /// Waits for the child to exit and collects its standard output and error, like
    /// [`std::process::Child::wait_with_output`]: closes [`Child::stdin`], reads the piped
    /// standard output and error to their ends (both at once, so that neither pipe fills up and
    /// blocks the child), then waits. Streams that were not piped, or were taken from the
    /// `Child`, give empty output.
    ///
    /// # Errors
    ///
    /// Those of reading the pipes and of [`wait`](Child::wait).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Stdio};
    ///
    /// let child = Command::new("ls").stdout(Stdio::piped()).spawn()?;
    /// let output = child.wait_with_output()?;
    /// println!("{}", String::from_utf8_lossy(&output.stdout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read2(self.stdout.take(), self.stderr.take())?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Kills the child with `SIGKILL` (`pidfd_send_signal()`), like
    /// [`std::process::Child::kill`].
    ///
    /// Does not wait for it to die; [`wait`](Child::wait) does. Succeeds if the child has
    /// already exited. With [`kill_tree`](crate::Command::kill_tree) the whole tree dies.
    ///
    /// # Errors
    ///
    /// Those of `pidfd_send_signal()` other than `ESRCH`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let mut child = autokill::Command::new("sleep").arg("100").spawn()?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(libc::SIGKILL));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends the child `signal` (`pidfd_send_signal()`), which arrives as if sent with
    /// `kill()` (`si_code` `SI_USER`).
    ///
    /// Succeeds if the child has already exited: the pidfd guarantees that no other process
    /// that reused the pid gets the signal. A child spawned with
    /// [`kill_tree`](crate::Command::kill_tree) is the init of its pid namespace and ignores
    /// every signal it has no handler for, except `SIGKILL` and `SIGSTOP`.
    ///
    /// # Errors
    ///
    /// Those of `pidfd_send_signal()` other than `ESRCH`: `EINVAL` for an invalid signal.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let mut child = autokill::Command::new("sleep").arg("100").spawn()?;
    /// child.signal(libc::SIGTERM)?;
    /// assert_eq!(child.wait()?.signal(), Some(libc::SIGTERM));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signal(&self, signal: c_int) -> io::Result<()> {
        match sys::pidfd_send_signal(self.pidfd.as_fd(), signal) {
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            result => result,
        }
    }
}

/// The child's pidfd. With [`Guarantee::Kernel`](crate::Guarantee::Kernel), a duplicate keeps
/// the child alive, see [`Child`]; a fallback child's pidfd is an ordinary one.
impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

/// The child's pidfd, as [`AsFd`].
impl AsRawFd for Child {
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}

/// Reads both pipes to their ends at the same time (`poll()` on the two); what they gave.
fn read2(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut ends = [stdout.map(|s| s.inner), stderr.map(|s| s.inner)];
    let mut chunk = [0u8; 16 * 1024];
    while ends.iter().any(Option::is_some) {
        let mut fds = ends.each_ref().map(|end| libc::pollfd {
            fd: end.as_ref().map_or(-1, |file| file.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: Polls an array of two `pollfd`s; a negative fd is ignored.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for (i, buffer) in [&mut out, &mut err].into_iter().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            let Some(file) = ends[i].as_mut() else {
                continue;
            };
            // Readable, so this read does not block.
            match file.read(&mut chunk) {
                Ok(0) => ends[i] = None,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok((out, err))
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
    fn read2_reads_both_pipes_at_once() {
        let (out_read, out_write) = sys::pipe().unwrap();
        let (err_read, err_write) = sys::pipe().unwrap();
        // More than a pipe holds (64 KiB), first on stderr: reading stdout to its end first
        // would leave the writer blocked on a full stderr pipe forever.
        let writer = std::thread::spawn(move || {
            let mut out = ChildStdin::from_fd(out_write);
            let mut err = ChildStdin::from_fd(err_write);
            err.write_all(&[b'e'; 200_000]).unwrap();
            out.write_all(&[b'o'; 100_000]).unwrap();
            err.write_all(b"end").unwrap();
        });
        let (out, err) = read2(
            Some(ChildStdout::from_fd(out_read)),
            Some(ChildStderr::from_fd(err_read)),
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(out.len(), 100_000);
        assert_eq!(err.len(), 200_003);
        assert!(err.ends_with(b"end"));
        assert_eq!(read2(None, None).unwrap(), (Vec::new(), Vec::new()));
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
        assert!(child.id() > 0);
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(child.try_wait().unwrap(), Some(status));
        // Signalling an exited child is not an error.
        child.kill().unwrap();
        child.signal(libc::SIGTERM).unwrap();
    }

    /// Runs `check` in a helper process that ignores `SIGCHLD`, so that the kernel reaps its
    /// children like autoreaped ones, on kernels without autokill; prints the skip line and
    /// returns `false` on a kernel without `PIDFD_INFO_EXIT` (before Linux 6.15), else asserts
    /// that `check` returned 0.
    pub(crate) fn with_kernel_reaping(check: impl FnOnce() -> i32, what: &str) -> bool {
        const NO_EXIT_INFO: i32 = 99;
        let code = crate::tests::in_helper(|| {
            // SAFETY: Sets the disposition of SIGCHLD in this single-threaded helper.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
            let probe = Command::new("true").spawn_unarmed();
            match probe.map(|mut child| child.wait()) {
                Ok(Ok(_)) => check(),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOTTY) => NO_EXIT_INFO,
                _ => 98,
            }
        });
        if code == NO_EXIT_INFO {
            println!("skipped: kernel lacks PIDFD_INFO_EXIT (needs Linux 6.15+)");
            return false;
        }
        assert_eq!(code, 0, "{what}");
        true
    }

    #[test]
    fn wait_wait_timeout_and_output_of_a_kernel_reaped_child() {
        with_kernel_reaping(
            || {
                // Exit codes, in one poll() and one ioctl() each.
                let Ok(mut child) = Command::new("sh").args(["-c", "exit 7"]).spawn_unarmed()
                else {
                    return 1;
                };
                if child.wait().ok().and_then(|s| s.code()) != Some(7) {
                    return 2;
                }
                if child.try_wait().ok().flatten().and_then(|s| s.code()) != Some(7) {
                    return 3;
                }
                // A timeout, then a kill.
                let Ok(mut child) = Command::new("sleep")
                    .arg("100")
                    .stdin(Stdio::null())
                    .spawn_unarmed()
                else {
                    return 4;
                };
                let started = std::time::Instant::now();
                match child.wait_timeout(Duration::from_millis(100)) {
                    Ok(None) if started.elapsed() >= Duration::from_millis(100) => {}
                    _ => return 5,
                }
                if child.try_wait().ok() != Some(None) || child.kill().is_err() {
                    return 6;
                }
                match child.wait_timeout(Duration::from_secs(30)) {
                    Ok(Some(status)) if status.signal() == Some(libc::SIGKILL) => {}
                    _ => return 7,
                }
                // stdin closed by wait_with_output; both outputs collected.
                let Ok(child) = Command::new("sh")
                    .args(["-c", "cat; echo err >&2; exit 4"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn_unarmed()
                else {
                    return 8;
                };
                let mut child = child;
                let Some(mut stdin) = child.stdin.take() else {
                    return 9;
                };
                if stdin.write_all(b"in\n").is_err() {
                    return 10;
                }
                drop(stdin);
                match child.wait_with_output() {
                    Ok(output)
                        if output.status.code() == Some(4)
                            && output.stdout == b"in\n"
                            && output.stderr == b"err\n" => {}
                    _ => return 11,
                }
                0
            },
            "1-3 = wait, 4-7 = wait_timeout/kill, 8-11 = wait_with_output",
        );
    }
}
