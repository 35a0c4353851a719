// SPDX-License-Identifier: GPL-2.0

//! [`Child::terminate`], a graceful stop, and giving up the [`Child`] for its pidfd.

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::process::ExitStatus;
use std::time::Duration;

use crate::Child;

impl Child {
    /// Stops the child gracefully: sends `SIGTERM`, waits up to `grace` for it to exit, then
    /// sends `SIGKILL` and waits for it. Returns the exit status: the child's own exit or
    /// `SIGTERM` if it stopped in time, `SIGKILL` if not. Like [`wait`](Child::wait), it
    /// closes [`Child::stdin`] first; a child whose exit status is known already gets no
    /// signal, and that status is returned at once.
    ///
    /// With [`kill_tree`](crate::Command::kill_tree) the child is the init (pid 1) of its pid
    /// namespace, and the kernel gives it only the signals it has a handler for (but
    /// `SIGKILL`): a program that does not catch `SIGTERM` (`sleep`, a shell script without
    /// `trap`) ignores it, so `terminate` waits the whole `grace` and then kills it, which also
    /// kills the rest of the tree. A program that does catch it should stop its own children
    /// before it exits: when pid 1 exits, the kernel kills every process left in the
    /// namespace with `SIGKILL`.
    ///
    /// # Errors
    ///
    /// Those of [`signal`](Child::signal), [`wait_timeout`](Child::wait_timeout) and
    /// [`wait`](Child::wait).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::time::Duration;
    ///
    /// let mut child = autokill::Command::new("sleep").arg("100").spawn()?;
    /// let status = child.terminate(Duration::from_secs(5))?;
    /// assert_eq!(status.signal(), Some(libc::SIGTERM));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)?;
        if let Some(status) = self.wait_timeout(grace)? {
            return Ok(status);
        }
        self.kill()?;
        self.wait()
    }
}

/// Gives up the `Child` for its pidfd, closing the pipe ends it holds
/// ([`Child::stdin`], [`Child::stdout`], [`Child::stderr`]; take them first to keep them).
///
/// For a child with [`Guarantee::Kernel`](crate::Guarantee::Kernel) the descriptor is its
/// autokill pidfd: the child now lives exactly as long as that open file, so closing the
/// descriptor (and every duplicate of it, in any process) kills the child, as dropping the
/// `Child` would have; so does the death of this process. Waiting is then up to the owner:
/// poll it until `POLLHUP` and read the status with
/// [`sys::pidfd_exit_status`](crate::sys::pidfd_exit_status).
///
/// A child of the fallback ([`Child::guarantee`] below `Kernel`) has a plain pidfd: closing it
/// neither kills the child nor keeps it alive, and the crate no longer kills or reaps it; the
/// owner must do both (`pidfd_send_signal()`, then `waitid(P_PIDFD, ..., WEXITED | __WALL)`),
/// or it stays a zombie until this process exits. `PR_SET_PDEATHSIG` still kills it when
/// this process dies.
///
/// The descriptor is close-on-exec in either case.
impl From<Child> for OwnedFd {
    fn from(child: Child) -> OwnedFd {
        // The pipes are closed; the pidfd is taken out of its owner, whose drop then neither
        // closes it nor kills a fallback child.
        let (_, pidfd, _, _, _) = child.into_parts();
        pidfd.into()
    }
}

/// Gives up the `Child` for its pidfd, as the conversion into [`OwnedFd`] does (see there):
/// a [`Guarantee::Kernel`](crate::Guarantee::Kernel) child lives as long as that open file,
/// and is killed when the caller closes the descriptor (with every duplicate) or this process
/// dies; a fallback child is the caller's to kill and reap.
impl IntoRawFd for Child {
    fn into_raw_fd(self) -> RawFd {
        OwnedFd::from(self).into_raw_fd()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};

    use crate::{sys, Child, Command, Error, Guarantee, Stdio};

    /// How long a killed process may take to disappear (the VM may run under TCG emulation).
    const DEATH_TIMEOUT: Duration = Duration::from_secs(30);

    /// Spawns `cmd`; on a kernel that cannot spawn an autokill child at all, prints the skip
    /// line and returns `None` (with `AUTOKILL_REQUIRE_SUPPORT=1`, fails instead); likewise
    /// where the namespaces of `kill_tree` cannot be created.
    pub(crate) fn spawn_or_skip(cmd: &mut Command) -> Option<Child> {
        match cmd.spawn() {
            Ok(child) => Some(child),
            Err(Error::Unsupported | Error::Seccomp) => {
                assert!(
                    std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
                    "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel cannot spawn"
                );
                println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
                None
            }
            Err(Error::Namespace { source }) => {
                println!("skipped: no pid namespace for kill_tree here: {source}");
                None
            }
            Err(error) => panic!("spawn: {error:?}"),
        }
    }

    /// A child that ignores `SIGTERM` (an ignored signal stays ignored across `execve()`),
    /// returned once it has set that up.
    fn ignoring_sigterm() -> Option<Child> {
        let mut child = spawn_or_skip(
            Command::new("sh")
                .args(["-c", "trap '' TERM; echo ready; exec sleep 100"])
                .stdout(Stdio::piped()),
        )?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        Some(child)
    }

    #[test]
    fn terminate_stops_a_child_with_sigterm_before_the_grace_ends() {
        let Some(mut child) = spawn_or_skip(Command::new("sleep").arg("100")) else {
            return;
        };
        let started = Instant::now();
        let status = child.terminate(DEATH_TIMEOUT).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}");
        assert!(started.elapsed() < DEATH_TIMEOUT);
        // Waited for: the same status again, without another signal.
        assert_eq!(child.terminate(DEATH_TIMEOUT).unwrap(), status);
        assert_eq!(child.try_wait().unwrap(), Some(status));
    }

    #[test]
    fn terminate_kills_a_child_that_ignores_sigterm_after_the_grace() {
        let Some(mut child) = ignoring_sigterm() else {
            return;
        };
        let grace = Duration::from_millis(300);
        let started = Instant::now();
        let status = child.terminate(grace).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        assert!(started.elapsed() >= grace, "{:?}", started.elapsed());
    }

    #[test]
    fn terminate_returns_the_status_of_a_child_that_exited() {
        let Some(mut child) = spawn_or_skip(Command::new("sh").args(["-c", "exit 3"])) else {
            return;
        };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3));
        let started = Instant::now();
        assert_eq!(child.terminate(DEATH_TIMEOUT).unwrap(), status);
        assert!(started.elapsed() < DEATH_TIMEOUT);

        // Exited but not waited for: still its own status, not a signal.
        let Some(mut child) = spawn_or_skip(Command::new("sh").args(["-c", "exit 4"])) else {
            return;
        };
        let watcher = sys::pidfd_open(child.id() as libc::pid_t, 0).unwrap();
        // Exited (POLLIN): a fallback child stays a zombie until the `Child` reaps it.
        let revents = sys::poll(watcher.as_fd(), libc::POLLIN, Some(DEATH_TIMEOUT)).unwrap();
        assert_ne!(revents & libc::POLLIN, 0);
        assert_eq!(child.terminate(DEATH_TIMEOUT).unwrap().code(), Some(4));
    }

    #[test]
    fn terminate_with_a_zero_grace_kills_at_once() {
        let Some(mut child) = ignoring_sigterm() else {
            return;
        };
        let status = child.terminate(Duration::ZERO).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    }

    #[test]
    fn terminate_of_a_tree_waits_the_grace_for_pid_1() {
        // `sleep` as pid 1 of its namespace has no SIGTERM handler, so the kernel drops the
        // signal: the grace passes, then SIGKILL.
        let Some(mut child) = spawn_or_skip(Command::new("sleep").arg("100").kill_tree(true))
        else {
            return;
        };
        let grace = Duration::from_millis(300);
        let started = Instant::now();
        let status = child.terminate(grace).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        assert!(started.elapsed() >= grace, "{:?}", started.elapsed());
    }

    #[test]
    fn the_raw_pidfd_keeps_the_child_alive_until_closed() {
        if crate::tests::skip_without_autokill() {
            return;
        }
        let child = Command::new("sleep").arg("100").spawn().unwrap();
        let watcher = sys::pidfd_open(child.id() as libc::pid_t, 0).unwrap();
        let raw = child.into_raw_fd();
        assert!(
            !sys::pidfd_wait_reaped(watcher.as_fd(), Some(Duration::from_millis(200))).unwrap(),
            "the child died when the Child was given up"
        );
        // SAFETY: `raw` is the pidfd `into_raw_fd()` handed over; nothing else owns it.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
        // The descriptor is the child's: it has no exit status yet, and a signal through it
        // arrives (0: only checked).
        assert_eq!(sys::pidfd_exit_status(pidfd.as_fd()).unwrap(), None);
        sys::pidfd_send_signal(pidfd.as_fd(), 0).unwrap();
        drop(pidfd);
        assert!(
            sys::pidfd_wait_reaped(watcher.as_fd(), Some(DEATH_TIMEOUT)).unwrap(),
            "closing the pidfd did not kill the child"
        );
        let status = sys::pidfd_exit_status(watcher.as_fd()).unwrap();
        let status = std::process::ExitStatus::from_raw(status.expect("reaped"));
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn giving_up_the_child_closes_its_pipes() {
        // `cat` reads its piped standard input until the conversion closes our end. Waiting
        // on the bare pidfd relies on the kernel's autoreap.
        if crate::tests::skip_without_autokill() {
            return;
        }
        let child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        let pidfd = OwnedFd::from(child);
        assert!(
            sys::pidfd_wait_reaped(pidfd.as_fd(), Some(DEATH_TIMEOUT)).unwrap(),
            "cat did not see the end of its input"
        );
        let status = sys::pidfd_exit_status(pidfd.as_fd()).unwrap().unwrap();
        assert_eq!(std::process::ExitStatus::from_raw(status).code(), Some(0));
    }

    #[test]
    fn a_fallback_child_given_up_is_the_callers_to_kill_and_reap() {
        let Some(child) = spawn_or_skip(Command::new("sleep").arg("100").kernel_autokill(false))
        else {
            return;
        };
        assert_eq!(child.guarantee(), Guarantee::ParentThreadSignal);
        let pid = child.id();
        let pidfd = OwnedFd::from(child);
        // Neither the conversion nor closing a duplicate kills it.
        drop(pidfd.try_clone().unwrap());
        assert_eq!(
            sys::poll(
                pidfd.as_fd(),
                libc::POLLIN,
                Some(Duration::from_millis(200))
            )
            .unwrap(),
            0,
            "the child exited when the Child was given up"
        );
        sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL).unwrap();
        // Not reaped by the crate: a zombie for the owner of the pidfd to reap.
        let info = sys::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            libc::WEXITED | libc::__WALL,
        )
        .unwrap();
        assert_eq!((info.code, info.status), (libc::CLD_KILLED, libc::SIGKILL));
        assert_eq!(info.pid, pid as libc::pid_t);
    }
}
