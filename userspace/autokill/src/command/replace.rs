// SPDX-License-Identifier: GPL-2.0

//! [`Command::exec`]: the command's program in place of this process, with the same plan and
//! the same steps as a spawned child, run here.

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use super::{invalid_input, ClonePath, Command, INHERIT_ALL};
use crate::error::Error;
use crate::exec::{self, STEP_PRE_EXEC};
use crate::raw;

impl Command {
    /// Executes the program in place of this process (`execve()`), like
    /// `std::os::unix::process::CommandExt::exec`: returns only if that failed, with the error.
    ///
    /// Nothing of autokill applies: no child is created, so there is no pidfd, no `Child`
    /// handle and nothing that kills the program; it simply is this process from now on (same
    /// pid, same parent). [`kill_tree`](Command::kill_tree) is ignored (no pid namespace is
    /// created), and so are [`require`](Command::require) and
    /// [`kernel_autokill`](Command::kernel_autokill): there is no [`Guarantee`] to give.
    ///
    /// [`Guarantee`]: crate::Guarantee
    ///
    /// Of the command's settings, these apply, in this order, to this process: the
    /// [`cgroup`](Command::cgroup) (this whole process is moved into it by writing its
    /// `cgroup.procs`), [`no_new_privs`](Command::no_new_privs) (on by default, as for a spawn:
    /// `prctl(PR_SET_NO_NEW_PRIVS)`, irreversible), `SIGPIPE` reset to its default action, the
    /// standard input, output and error ([`stdin`](Command::stdin) and friends; unset ones are
    /// inherited, and a [piped](crate::Stdio::piped) one is a pipe whose other end is closed
    /// by `execve()`), the descriptors of [`fd`](Command::fd) and
    /// [`close_other_fds`](Command::close_other_fds), the resource limits
    /// ([`rlimit`](Command::rlimit)), the [`umask`](Command::umask), the credentials
    /// ([`groups`](Command::groups), [`gid`](Command::gid), [`uid`](Command::uid)), the working
    /// directory ([`current_dir`](Command::current_dir)), [`setsid`](Command::setsid) and
    /// [`process_group`](Command::process_group); then the calling thread's signal mask is
    /// emptied, the [`pre_exec`](Command::pre_exec) closures run, and the program is executed
    /// with the arguments (and [`arg0`](Command::arg0)) and environment of the command, looked
    /// up in `PATH` as for a spawn.
    ///
    /// These steps run in this process, not in a new child: nothing is forked, so there are
    /// no async-signal-safety restrictions here (the `pre_exec` closures run in this process
    /// and could even allocate). But **other threads keep running until `execve()`** ends
    /// them, and they see each step as it happens: the standard streams replaced, the working
    /// directory, umask and resource limits changed (all are per process), descriptors marked
    /// close-on-exec, and `SIGPIPE` at its default action at once (a thread that then writes
    /// to a closed pipe kills the process, also if `execve()` fails). The credentials are set with raw system calls, which change only the
    /// calling thread (the C library's `setuid()` would change all); that is the thread
    /// `execve()` keeps, so the program gets them. A `setsid()` fails with `EPERM` if this
    /// process leads its process group (a shell's job control makes each job a group). An
    /// environment the command does not change is this process's `environ`, read by
    /// `execve()`: as for a spawn, another thread's `setenv()` at the same time can free it
    /// (see the [crate documentation](crate#the-child-between-clone3-and-execve)).
    ///
    /// # Errors
    ///
    /// The returned [`Error`] is what went wrong: [`Error::Exec`] with the `errno` of the
    /// failed `execve()`, [`Error::CurrentDir`], or [`Error::Io`] for a failed step (with its
    /// `errno`), a failing `pre_exec` closure (with its `raw_os_error()`, `EINVAL` for one
    /// without) or an invalid command (a NUL byte in a string, `fd()` onto 0 to 2 or onto a
    /// descriptor open in this process, `setsid(true)` with `process_group()`). An invalid command is found before anything
    /// changes; after a failed step or `execve()`, the steps that succeeded are **not undone**
    /// (as with `std`): the streams stay replaced, `SIGPIPE` at its default, the credentials
    /// of the calling thread changed, and so on. A process that goes on after a failed `exec`
    /// should usually just report the error and exit.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // A wrapper that sets up the environment and becomes the real program.
    /// let error = Command::new("my-server").env("PORT", "8080").umask(0o077).exec();
    /// eprintln!("cannot start my-server: {error}");
    /// std::process::exit(127);
    /// ```
    pub fn exec(&mut self) -> Error {
        match self.replace_process() {
            Ok(never) => match never {},
            Err(error) => error,
        }
    }

    /// [`Command::exec`], as a `Result` for `?`.
    fn replace_process(&mut self) -> Result<Infallible, Error> {
        // The descriptors of `fd()` are put at their numbers in this process: one open there
        // belongs to something else (a `File`, an `OwnedFd`, an event loop's epoll), which
        // `dup3()` would close under its owner, unless it is one of the command's own.
        let own: Vec<RawFd> = self.fds.values().map(AsRawFd::as_raw_fd).collect();
        for &target in self.fds.keys().filter(|target| !own.contains(target)) {
            // SAFETY: `F_GETFD` only asks whether `target` is open; no memory is touched.
            if unsafe { libc::fcntl(target, libc::F_GETFD) } != -1 {
                return Err(invalid_input(format!(
                    "fd({target}, ...): descriptor {target} is open in this process, and exec() \
                     would replace it under its owner; choose a free number"
                )));
            }
        }
        // The plan of the vfork path: no report pipe; the report is returned instead.
        let (mut plan, parent) = self.prepare(INHERIT_ALL, ClonePath::Vfork)?;
        // No child, so no new user namespace to write the id maps of.
        plan.id_maps = None;
        plan.set_no_new_privs = self.no_new_privs;
        if let Some(cgroup) = &self.cgroup {
            // Above every target of the plan's descriptors, as the plan wants it.
            let min = plan.fds.iter().map(|fd| fd.target).fold(2, RawFd::max) + 1;
            let dir = exec::dup_at_least(cgroup.as_fd(), min)?;
            plan.cgroup_procs = Some(dir.as_raw_fd());
            plan.owned.push(dir);
        }
        let (step, errno) = match exec::setup(&plan) {
            Err(failure) => failure,
            Ok(()) => {
                raw::unblock_all_signals();
                match self.pre_exec.iter_mut().find_map(|closure| closure().err()) {
                    Some(error) => (STEP_PRE_EXEC, error.raw_os_error().unwrap_or(libc::EINVAL)),
                    None => exec::exec_program(&plan),
                }
            }
        };
        // The parent's ends of piped streams lived until here, as they would have in a spawn.
        drop(parent);
        Err(self.report_error(exec::encode_report(step, errno)))
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use crate::tests::in_helper;
    use crate::{Command, Error, Stdio};

    /// The exit code of a helper process that executes `cmd` (configured there); 100 if
    /// `exec` returned.
    fn exec_in_helper(configure: impl FnOnce(&mut Command)) -> i32 {
        in_helper(|| {
            let mut cmd = Command::new("sh");
            configure(&mut cmd);
            let _ = cmd.exec();
            100
        })
    }

    #[test]
    fn exec_replaces_the_process_and_returns_its_status() {
        let code = exec_in_helper(|cmd| {
            cmd.args(["-c", "exit 7"]);
        });
        assert_eq!(code, 7);
    }

    #[test]
    fn exec_applies_the_command() {
        // Each check has its own exit code; 7 means all passed.
        let script = r#"
            [ "$0" = the-name ] || exit 1
            [ "$X" = y ] && [ "${HOME-unset}" = unset ] || exit 2
            [ "$(pwd)" = / ] || exit 3
            grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status || exit 4
            [ "$(umask)" = 0077 ] || exit 5
            [ /proc/$$/fd/1 -ef /dev/null ] || exit 6
            [ "$(cat <&3)" = through-fd-3 ] || exit 8
            [ $$ != 1 ] || exit 9
            [ "$(ulimit -n)" = 64 ] || exit 10
            exit 7
        "#;
        let code = exec_in_helper(|cmd| {
            let (read, write) = crate::sys::pipe().unwrap();
            io::Write::write_all(&mut std::fs::File::from(write), b"through-fd-3").unwrap();
            cmd.arg0("the-name")
                .args(["-c", script])
                .env("X", "y")
                .env_remove("HOME")
                .current_dir("/")
                .umask(0o077)
                .stdout(Stdio::null())
                .fd(3, read)
                .rlimit(libc::RLIMIT_NOFILE, 64, 64)
                // Ignored: there is no child to be pid 1 of a namespace.
                .kill_tree(true);
        });
        assert_eq!(code, 7);
    }

    #[test]
    fn exec_without_no_new_privs_leaves_it_off() {
        let code = exec_in_helper(|cmd| {
            cmd.args([
                "-c",
                "grep -q '^NoNewPrivs:[[:space:]]*0' /proc/self/status && exit 7",
            ])
            .no_new_privs(false);
        });
        assert_eq!(code, 7);
    }

    #[test]
    fn exec_runs_the_pre_exec_closures_last() {
        let code = exec_in_helper(|cmd| {
            cmd.args(["-c", "[ \"$(pwd)\" = /tmp ] && exit 7"])
                .current_dir("/");
            // SAFETY: The closure makes one system call on a static string.
            unsafe {
                cmd.pre_exec(|| match libc::chdir(c"/tmp".as_ptr()) {
                    0 => Ok(()),
                    _ => Err(io::Error::last_os_error()),
                })
            };
        });
        assert_eq!(code, 7);
    }

    #[test]
    fn exec_returns_the_error_when_it_fails() {
        let code = in_helper(|| {
            match Command::new("/nonexistent/program").exec() {
                Error::Exec { program, source }
                    if program == "/nonexistent/program"
                        && source.raw_os_error() == Some(libc::ENOENT) =>
                {
                    // And through io::Error, the bare errno.
                    let error = io::Error::from(Error::Exec { program, source });
                    if error.raw_os_error() != Some(libc::ENOENT) {
                        return 2;
                    }
                }
                _ => return 1,
            }
            match Command::new("true").current_dir("/nonexistent/dir").exec() {
                Error::CurrentDir { source, .. } if source.raw_os_error() == Some(libc::ENOENT) => {
                }
                _ => return 3,
            }
            let mut failing = Command::new("true");
            // SAFETY: The closure only returns an error.
            unsafe { failing.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EXDEV))) };
            match failing.exec() {
                Error::Io(error) if error.raw_os_error() == Some(libc::EXDEV) => {}
                _ => return 4,
            }
            // Found before anything changes.
            match Command::new("true").arg("a\0b").exec() {
                Error::Io(error) if error.kind() == io::ErrorKind::InvalidInput => {}
                _ => return 5,
            }
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn exec_refuses_an_fd_target_that_is_open_here() {
        let code = in_helper(|| {
            let open = std::fs::File::open("/dev/null").unwrap();
            let target = std::os::fd::AsRawFd::as_raw_fd(&open);
            let source = std::fs::File::open("/dev/null").unwrap();
            let mut cmd = Command::new("true");
            cmd.fd(target, std::os::fd::OwnedFd::from(source));
            match cmd.exec() {
                Error::Io(error) if error.kind() == io::ErrorKind::InvalidInput => {
                    // Still the same open file, not replaced.
                    drop(open);
                    0
                }
                _ => 1,
            }
        });
        assert_eq!(code, 0);
    }
}
