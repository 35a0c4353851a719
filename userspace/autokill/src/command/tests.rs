// SPDX-License-Identifier: GPL-2.0

//! The unit tests of [`Command`](super::Command) and of what the parent prepares.

use super::*;
use crate::exec::{decode_report, encode_report, read_report, STEP_CHDIR, STEP_EXEC, STEP_STDIO};

/// The paths this architecture has, the vfork path first.
const PATHS: &[ClonePath] = if raw::INLINE {
    &[ClonePath::Vfork, ClonePath::Fork]
} else {
    &[ClonePath::Fork]
};
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The strings of an `argv`, `envp` or candidate list of a plan.
trait Strings {
    fn strings(&self) -> Vec<String>;
}

impl Strings for CStringArray {
    fn strings(&self) -> Vec<String> {
        self.strings
            .iter()
            .map(|s| s.to_str().unwrap().to_owned())
            .collect()
    }
}

impl Strings for Envp {
    fn strings(&self) -> Vec<String> {
        match self {
            Envp::Inherit(_) => std::env::vars_os()
                .map(|(k, v)| format!("{}={}", k.to_str().unwrap(), v.to_str().unwrap()))
                .collect(),
            Envp::Own(array) => array.strings(),
        }
    }
}

/// The candidates of a plan.
impl Strings for Vec<u8> {
    fn strings(&self) -> Vec<String> {
        assert!(self.is_empty() || self.ends_with(&[0]), "{self:?}");
        self.split(|&byte| byte == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect()
    }
}

fn strings(strings: &impl Strings) -> Vec<String> {
    strings.strings()
}

#[test]
fn builder_records_everything() {
    let mut cmd = Command::new("prog");
    cmd.arg("a")
        .args(["b", "c"])
        .current_dir("/tmp")
        .no_new_privs(false)
        .stdin(Stdio::null());
    assert_eq!(cmd.get_program(), "prog");
    assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(cmd.get_current_dir(), Some(Path::new("/tmp")));
    assert!(!cmd.get_no_new_privs());
    assert!(Command::new("x").get_no_new_privs(), "NNP is on by default");
    assert!(!cmd.get_kill_tree());
}

#[test]
fn argv_starts_with_the_program_as_given() {
    let mut cmd = Command::new("echo");
    cmd.args(["hello", "", "wörld"]);
    let (plan, _) = cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap();
    assert_eq!(strings(&plan.argv), ["echo", "hello", "", "wörld"]);
    assert_eq!(plan.argv.ptrs.len(), 5);
    assert!(plan.argv.ptrs[4].is_null());
    // An unchanged environment is this process's, passed through.
    assert!(matches!(plan.envp, Envp::Inherit(_)));
    assert!(plan.candidates.ends_with(&[0]));
}

#[test]
fn environment_changes() {
    let mut cmd = Command::new("x");
    cmd.env_clear()
        .env("A", "1")
        .envs([("B", "2"), ("C", "3")])
        .env_remove("B")
        .env("A", "4");
    let (plan, _) = cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap();
    assert_eq!(strings(&plan.envp), ["A=4", "C=3"]);

    // env_clear() forgets earlier changes.
    let mut cmd = Command::new("x");
    cmd.env("GONE", "1").env_clear().env("KEPT", "1");
    assert_eq!(
        strings(&cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap().0.envp),
        ["KEPT=1"]
    );

    // Without env_clear() the parent's environment is the base.
    let inherited = std::env::vars_os().count();
    let mut cmd = Command::new("x");
    cmd.env("AUTOKILL_TEST_NEW_VARIABLE", "yes");
    let envp = strings(&cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap().0.envp);
    assert_eq!(envp.len(), inherited + 1);
    assert!(envp.contains(&"AUTOKILL_TEST_NEW_VARIABLE=yes".to_owned()));
    if let Some(path) = std::env::var_os("PATH") {
        let mut cmd = Command::new("x");
        cmd.env_remove("PATH");
        let envp = strings(&cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap().0.envp);
        assert_eq!(envp.len(), inherited - 1);
        assert!(!envp.contains(&format!("PATH={}", path.to_str().unwrap())));
    }
}

#[test]
fn nul_bytes_and_bad_names_are_invalid_input() {
    let invalid = |cmd: &mut Command| match cmd.prepare(INHERIT_ALL, ClonePath::Fork) {
        Err(Error::Io(error)) => {
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            error.to_string()
        }
        other => panic!("expected InvalidInput, got {:?}", other.err()),
    };
    assert!(invalid(Command::new("a\0b").env_clear()).contains("NUL"));
    assert!(invalid(Command::new("a").arg("b\0")).contains("NUL"));
    assert!(invalid(Command::new("a").env("K", "v\0")).contains("NUL"));
    assert!(invalid(Command::new("a").current_dir("/\0")).contains("NUL"));
    assert!(invalid(Command::new("a").env("K=V", "v")).contains("'='"));
    assert!(invalid(Command::new("a").env("", "v")).contains("'='"));
}

#[test]
fn path_resolution() {
    let path = |s: &'static str| Some(OsStr::new(s));
    let names = |v: Result<Vec<u8>, Error>| strings(&v.unwrap());
    assert_eq!(
        names(path_candidates("ls".as_ref(), path("/a:/b/::rel:/c/"))),
        ["/a/ls", "/b/ls", "ls", "rel/ls", "/c/ls"]
    );
    // With a slash: as is, PATH is not used.
    assert_eq!(
        names(path_candidates("./ls".as_ref(), path("/a"))),
        ["./ls"]
    );
    assert_eq!(
        names(path_candidates("/bin/ls".as_ref(), None)),
        ["/bin/ls"]
    );
    // No PATH: glibc's default.
    assert_eq!(
        names(path_candidates("ls".as_ref(), None)),
        ["/bin/ls", "/usr/bin/ls"]
    );
    // An empty PATH is one empty entry: the working directory.
    assert_eq!(names(path_candidates("ls".as_ref(), path(""))), ["ls"]);
    assert!(path_candidates("".as_ref(), path("/a")).unwrap().is_empty());
    // One buffer, each candidate followed by its NUL.
    assert_eq!(
        path_candidates("ls".as_ref(), path("/a:b")).unwrap(),
        b"/a/ls\0b/ls\0"
    );
}

#[test]
fn the_childs_path_decides() {
    let mut cmd = Command::new("prog");
    cmd.env("PATH", "/only/here");
    assert_eq!(
        strings(
            &cmd.prepare(INHERIT_ALL, ClonePath::Fork)
                .unwrap()
                .0
                .candidates
        ),
        ["/only/here/prog"]
    );
    cmd.env_remove("PATH");
    assert_eq!(
        strings(
            &cmd.prepare(INHERIT_ALL, ClonePath::Fork)
                .unwrap()
                .0
                .candidates
        ),
        ["/bin/prog", "/usr/bin/prog"]
    );
}

#[test]
fn report_encoding() {
    for (step, errno) in [
        (STEP_EXEC, libc::ENOENT),
        (STEP_STDIO, libc::EBADF),
        (STEP_CHDIR, libc::ENOTDIR),
        (STEP_EXEC, 4095),
    ] {
        assert_eq!(decode_report(encode_report(step, errno)), (step, errno));
    }
    // A plain errno is an exec failure.
    assert_eq!(
        decode_report(libc::EACCES.to_ne_bytes()),
        (STEP_EXEC, libc::EACCES)
    );
    let cmd = Command::new("prog");
    match cmd.report_error(encode_report(STEP_EXEC, libc::ENOENT)) {
        Error::Exec { program, source } => {
            assert_eq!(program, "prog");
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        cmd.report_error(encode_report(STEP_CHDIR, libc::ENOENT)),
        Error::CurrentDir { .. }
    ));
    assert!(matches!(
        cmd.report_error(encode_report(STEP_STDIO, libc::EBADF)),
        Error::Io(_)
    ));
}

#[test]
fn report_pipe_reading() {
    // EOF without data: the program was executed.
    let (read, write) = sys::pipe().unwrap();
    drop(write);
    assert_eq!(read_report(read).unwrap(), None);
    // Four bytes: the errno.
    let (read, write) = sys::pipe().unwrap();
    File::from(write)
        .write_all(&encode_report(STEP_EXEC, libc::ENOEXEC))
        .unwrap();
    assert_eq!(
        read_report(read).unwrap(),
        Some(encode_report(STEP_EXEC, libc::ENOEXEC))
    );
    // A short report is an error, not success.
    let (read, write) = sys::pipe().unwrap();
    File::from(write).write_all(&[1, 2]).unwrap();
    assert_eq!(
        read_report(read).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
}

#[test]
fn descriptors_for_the_child_are_above_stdio_and_cloexec() {
    let mut cmd = Command::new("x");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(File::open("/dev/null").unwrap());
    let (plan, parent) = cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap();
    let report = plan.report_pipe.as_ref().unwrap().as_raw_fd();
    let sources = plan.fds.iter().map(|mapping| mapping.source);
    for fd in sources.chain([report]) {
        assert!(fd > 2);
        // SAFETY: Reads the descriptor flags of an open descriptor.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
    let targets: Vec<RawFd> = plan.fds.iter().map(|mapping| mapping.target).collect();
    assert_eq!(targets, [0, 1, 2]);
    assert!(parent.stdin.is_some());
    assert!(parent.stdout.is_none() && parent.stderr.is_none());
    // The vfork path has no pipe.
    let (plan, parent) = cmd.prepare(INHERIT_ALL, ClonePath::Vfork).unwrap();
    assert!(plan.report_pipe.is_none() && parent.report.is_none());

    let fd: OwnedFd = File::open("/dev/null").unwrap().into();
    let low = exec::at_least(fd, 3).unwrap();
    assert!(low.as_raw_fd() > 2);
    // Above every target of fd().
    let high = exec::at_least(low, 100).unwrap();
    assert!(high.as_raw_fd() >= 100);
}

/// A child created by the same `clone3()` and running the same path as [`Command::spawn`]'s
/// (the vfork path unless the command has pre-exec closures, or the one asked for), but without
/// the autokill flags and with `SIGCHLD` as its exit signal (so that it can be waited for), so
/// that the child's side can be tested on kernels without `CLONE_PIDFD_AUTOKILL`. The
/// namespaces of `kill_tree` and the cgroup are those of `spawn`.
struct Forked {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    result: Result<(), Error>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
}

thread_local! {
    /// The path [`Forked::run`] takes on this thread, if [`on_every_path`] chose one.
    static FORCED_PATH: std::cell::Cell<Option<ClonePath>> = const { std::cell::Cell::new(None) };
}

/// Runs `test` once on each path this architecture has (the vfork path first), as far as it
/// uses [`Forked::run`] and [`Forked::try_run`].
fn on_every_path(test: impl Fn()) {
    for &path in PATHS {
        FORCED_PATH.with(|forced| forced.set(Some(path)));
        test();
    }
    FORCED_PATH.with(|forced| forced.set(None));
}

impl Forked {
    fn run(cmd: &mut Command) -> Forked {
        Self::try_run(cmd).unwrap()
    }

    /// [`Forked::run`] on `path`.
    fn run_on(cmd: &mut Command, path: ClonePath) -> Forked {
        Self::try_run_on(cmd, path).unwrap()
    }

    /// Like [`Forked::run`], `Err` if `clone3()` fails.
    fn try_run(cmd: &mut Command) -> io::Result<Forked> {
        let path = FORCED_PATH
            .with(|forced| forced.get())
            .unwrap_or_else(|| cmd.clone_path());
        Self::try_run_on(cmd, path)
    }

    /// Like [`Forked::run_on`], `Err` if `clone3()` fails.
    fn try_run_on(cmd: &mut Command, path: ClonePath) -> io::Result<Forked> {
        assert!(
            path == ClonePath::Fork || cmd.pre_exec.is_empty(),
            "pre-exec closures only run on the fork path"
        );
        // The vfork path with credentials would make this test process non-dumpable (see
        // `Command::clone_path`), which changes what other tests see of it.
        assert!(
            path == ClonePath::Fork || !cmd.credentials.any(),
            "credentials only on the fork path"
        );
        let created = match cmd.create(INHERIT_ALL, 0, libc::SIGCHLD, path, Error::Io) {
            Ok(created) => created,
            Err(Error::Io(error)) => return Err(error),
            Err(other) => panic!("{other:?}"),
        };
        Ok(Forked {
            pid: created.pid,
            pidfd: created.pidfd,
            result: match created.report {
                None => Ok(()),
                Some(report) => Err(cmd.report_error(report)),
            },
            stdin: created.stdin,
            stdout: created.stdout,
        })
    }

    fn output(&mut self) -> String {
        let mut out = String::new();
        self.stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    fn wait(self) -> ExitStatus {
        let mut status = 0;
        // SAFETY: Waits for our own (plain, not autoreaped) child.
        let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(ret, self.pid);
        ExitStatus::from_raw(status)
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "autokill-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_file(path: &Path, contents: &str, mode: u32) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn exec_success_reports_nothing() {
    on_every_path(|| {
        let forked = Forked::run(Command::new("true").stdout(Stdio::null()));
        assert!(forked.result.is_ok());
        assert_eq!(forked.wait().code(), Some(0));
    });
}

#[test]
fn exec_failure_reports_enoent() {
    on_every_path(|| {
        for program in [
            "/nonexistent/autokill-test",
            "autokill-test-no-such-program",
        ] {
            let forked = Forked::run(&mut Command::new(program));
            match &forked.result {
                Err(Error::Exec { program: p, source }) => {
                    assert_eq!(p, program);
                    assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
                }
                other => panic!("{program}: {other:?}"),
            }
            assert_eq!(forked.wait().code(), Some(127));
        }
    });
}

#[test]
fn exec_failure_reports_eacces_and_enoexec() {
    on_every_path(|| {
        let dir = temp_dir();
        let not_executable = dir.join("not-executable");
        write_file(&not_executable, "#!/bin/sh\n", 0o644);
        let not_a_program = dir.join("not-a-program");
        write_file(&not_a_program, "just text\n", 0o755);
        for (path, errno) in [
            (&not_executable, libc::EACCES),
            (&not_a_program, libc::ENOEXEC),
        ] {
            let forked = Forked::run(&mut Command::new(path));
            match &forked.result {
                Err(Error::Exec { source, .. }) => assert_eq!(source.raw_os_error(), Some(errno)),
                other => panic!("{path:?}: {other:?}"),
            }
            assert_eq!(forked.wait().code(), Some(127));
        }
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn path_search_skips_what_it_cannot_execute() {
    on_every_path(|| {
        let dir = temp_dir();
        write_file(&dir.join("true"), "#!/bin/sh\nexit 1\n", 0o644);
        write_file(&dir.join("only-here"), "#!/bin/sh\nexit 1\n", 0o644);
        let path = format!("/nonexistent:{}:/usr/bin:/bin", dir.display());

        // Not executable in the first directory, found further on: as execvp().
        let forked = Forked::run(Command::new("true").env("PATH", &path));
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        assert_eq!(forked.wait().code(), Some(0));

        // Only a non-executable candidate: EACCES, not ENOENT.
        let forked = Forked::run(Command::new("only-here").env("PATH", &path));
        match &forked.result {
            Err(Error::Exec { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::EACCES))
            }
            other => panic!("{other:?}"),
        }
        forked.wait();
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn child_gets_stdio_environment_and_directory() {
    on_every_path(|| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read line; echo \"$line|$FOO|${BAR-unset}|$(pwd)\""])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("FOO", "foo")
            .current_dir("/proc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut forked = Forked::run(&mut cmd);
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        let mut stdin = forked.stdin.take().unwrap();
        stdin.write_all(b"input\n").unwrap();
        drop(stdin);
        assert_eq!(forked.output(), "input|foo|unset|/proc\n");
        assert_eq!(forked.wait().code(), Some(0));
    });
}

#[test]
fn stdio_null_and_from_fd() {
    on_every_path(|| {
        let dir = temp_dir();
        let file = dir.join("out");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; echo to-file"])
            .stdin(Stdio::null())
            .stdout(File::create(&file).unwrap());
        let forked = Forked::run(&mut cmd);
        assert!(forked.result.is_ok());
        assert_eq!(forked.wait().code(), Some(0));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "to-file\n");
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn working_directory_failure_is_reported() {
    on_every_path(|| {
        let forked = Forked::run(Command::new("true").current_dir("/nonexistent/dir"));
        match &forked.result {
            Err(Error::CurrentDir { dir, source }) => {
                assert_eq!(dir, Path::new("/nonexistent/dir"));
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(forked.wait().code(), Some(127));
    });
}

/// The `Sig*` masks of `/proc/self/status` as the child sees them.
fn signal_masks(out: &str) -> (u64, u64) {
    let mask = |name: &str| {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    (mask("SigBlk:"), mask("SigIgn:"))
}

#[test]
fn child_starts_with_empty_signal_mask_and_default_sigpipe() {
    on_every_path(|| {
        // Block SIGUSR1 in this thread (which the child would inherit); the test harness, like
        // every Rust program, ignores SIGPIPE.
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: Initialises `set`, then blocks SIGUSR1 in this thread, saving the old mask.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR1);
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), old.as_mut_ptr());
        }
        let mut forked = Forked::run(
            Command::new("grep")
                .args(["^Sig", "/proc/self/status"])
                .stdout(Stdio::piped()),
        );
        // SAFETY: Restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut()) };
        assert!(forked.result.is_ok());
        let (blocked, ignored) = signal_masks(&forked.output());
        forked.wait();
        assert_eq!(blocked, 0);
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0);
    });
}

#[test]
fn the_parents_signal_mask_is_the_same_after_a_spawn() {
    on_every_path(|| {
        // A mask that is neither empty nor full: SIGUSR2 blocked in this thread.
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: Initialises `set`, then blocks SIGUSR2 in this thread, saving the old mask.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), old.as_mut_ptr());
        }
        let before = crate::tests::blocked_signals();
        // A program executed, one that fails to be, and a clone3() that fails (not a cgroup2
        // directory: EBADF).
        let executed = Forked::run(&mut Command::new("true"));
        let after_exec = crate::tests::blocked_signals();
        let failed = Forked::run(&mut Command::new("/nonexistent/autokill-test"));
        let after_failed_exec = crate::tests::blocked_signals();
        let refused = Forked::try_run(Command::new("true").cgroup(File::open("/").unwrap()));
        let after_failed_clone = crate::tests::blocked_signals();
        // SAFETY: Restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut()) };

        assert!(executed.result.is_ok(), "{:?}", executed.result);
        assert!(executed.wait().success());
        assert!(matches!(failed.result, Err(Error::Exec { .. })));
        assert_eq!(failed.wait().code(), Some(127));
        assert_eq!(
            refused.err().and_then(|error| error.raw_os_error()),
            Some(libc::EBADF)
        );
        assert_ne!(before & (1 << (libc::SIGUSR2 - 1)), 0, "{before:#x}");
        assert_eq!(
            [after_exec, after_failed_exec, after_failed_clone],
            [before; 3],
            "{before:#x}"
        );
    });
}

#[test]
fn concurrent_spawns_on_the_vfork_path() {
    if !raw::INLINE {
        println!("skipped: no vfork path on this architecture");
        return;
    }
    // Four threads at once: their spawns take the kept stack or map their own, and return
    // them to the one slot (see `ChildStack`).
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for round in 0..50 {
                    let forked =
                        Forked::run_on(Command::new("true").stdin(Stdio::null()), ClonePath::Vfork);
                    assert!(forked.result.is_ok(), "round {round}: {:?}", forked.result);
                    assert_eq!(forked.wait().code(), Some(0), "round {round}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// The `clone3()` flags of this thread's last spawn.
fn last_clone_flags() -> u64 {
    exec::LAST_CLONE_FLAGS.with(|last| last.get())
}

#[test]
fn spawn_without_pre_exec_shares_the_memory() {
    let shared = sys::CLONE_VM | sys::CLONE_VFORK;
    let expected = if raw::INLINE { shared } else { 0 };
    // `spawn()` itself: the flags reach clone3() whether or not this kernel has autokill (the
    // call then fails with EINVAL, and the fallback runs on the spawner thread).
    crate::probe::forget();
    let _ = Command::new("true").stdout(Stdio::null()).spawn();
    let flags = last_clone_flags();
    assert_eq!(flags & sys::AUTOKILL, sys::AUTOKILL, "{flags:#x}");
    assert_eq!(flags & shared, expected, "{flags:#x}");
    // With a pre-exec closure or credentials: a copy.
    let mut cmd = Command::new("true");
    // SAFETY: The closure does nothing.
    unsafe { cmd.pre_exec(|| Ok(())) };
    crate::probe::forget();
    let _ = cmd.stdout(Stdio::null()).spawn();
    assert_eq!(last_clone_flags() & shared, 0, "pre_exec");
    // SAFETY: `getuid()` cannot fail.
    let own = unsafe { libc::getuid() };
    crate::probe::forget();
    let _ = Command::new("true").uid(own).stdout(Stdio::null()).spawn();
    assert_eq!(last_clone_flags() & shared, 0, "uid");

    // And the kernel shared the memory: on the path `spawn()` chooses there is no report pipe,
    // and the child's report of its failed execve() reaches the parent all the same, through
    // the memory they share (a child on a copy could not tell).
    let mut cmd = Command::new("/nonexistent/autokill-test");
    let path = cmd.clone_path();
    let forked = Forked::run(&mut cmd);
    if raw::INLINE {
        assert_eq!(path, ClonePath::Vfork);
        assert_eq!(last_clone_flags() & shared, shared);
        let (plan, parent) = cmd.prepare(INHERIT_ALL, path).unwrap();
        assert!(plan.report_pipe.is_none() && parent.report.is_none());
    }
    match &forked.result {
        Err(Error::Exec { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::ENOENT)),
        other => panic!("{other:?}"),
    }
    assert_eq!(forked.wait().code(), Some(127));
}

#[test]
fn spawn_on_a_kernel_with_autokill() {
    if crate::tests::skip_without_autokill() {
        return;
    }
    let mut child = Command::new("sh")
        .args(["-c", "echo hi; exit 5"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "hi\n");
    assert_eq!(child.wait().unwrap().code(), Some(5));
    let info = sys::pidfd_get_info(child.as_fd(), sys::PIDFD_INFO_EXIT).unwrap();
    assert_ne!(info.mask & sys::PIDFD_INFO_EXIT, 0);
}

#[test]
fn supported_agrees_with_spawn() {
    let child = Command::new("true").spawn().unwrap();
    let required = Command::new("true").require(Guarantee::Kernel).spawn();
    if crate::supported().autokill() {
        assert_eq!(child.guarantee(), Guarantee::Kernel);
        assert!(required.is_ok(), "{:?}", required.err());
    } else {
        assert_eq!(child.guarantee(), Guarantee::ParentThreadSignal);
        match required {
            Err(Error::GuaranteeUnavailable {
                required: Guarantee::Kernel,
                available: Guarantee::ParentThreadSignal,
                reason,
            }) => assert!(matches!(*reason, Error::Unsupported | Error::Seccomp)),
            other => panic!("expected GuaranteeUnavailable, got {:?}", other.err()),
        }
    }
}

#[test]
fn builder_records_the_commandext_options() {
    let mut cmd = Command::new("prog");
    cmd.env("A", "1").env_remove("B").env("C", "3");
    assert_eq!(
        cmd.get_envs().collect::<Vec<_>>(),
        [
            (OsStr::new("A"), Some(OsStr::new("1"))),
            (OsStr::new("B"), None),
            (OsStr::new("C"), Some(OsStr::new("3")))
        ]
    );
    cmd.env_clear().env("D", "4");
    assert_eq!(cmd.get_envs().len(), 1);
    cmd.arg0("shown").arg("x").kill_tree(true);
    assert!(cmd.get_kill_tree());
    let (plan, _) = cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap();
    assert_eq!(strings(&plan.argv), ["shown", "x"]);
    assert_eq!(
        strings(&plan.candidates).len(),
        2,
        "still searches for prog"
    );
    assert!(Stdio::piped().makes_pipe() && !Stdio::null().makes_pipe());
}

#[test]
fn output_defaults_capture_and_null_stdin() {
    let (plan, parent) = Command::new("x").prepare(CAPTURE, ClonePath::Fork).unwrap();
    let targets = |plan: &ExecPlan| plan.fds.iter().map(|m| m.target).collect::<Vec<_>>();
    assert_eq!(targets(&plan), [0, 1, 2]);
    assert!(parent.stdin.is_none() && parent.stdout.is_some() && parent.stderr.is_some());
    // What the command sets wins over the defaults.
    let (plan, parent) = Command::new("x")
        .stdout(Stdio::inherit())
        .prepare(CAPTURE, ClonePath::Fork)
        .unwrap();
    assert!(targets(&plan) == [0, 2] && parent.stdout.is_none());
    let (plan, _) = Command::new("x")
        .prepare(INHERIT_ALL, ClonePath::Fork)
        .unwrap();
    assert!(plan.fds.is_empty());
}

#[test]
fn arg0_and_process_group() {
    on_every_path(|| {
        let mut forked = Forked::run(
            Command::new("sh")
                .arg0("custom-name")
                .args([
                    "-c",
                    "tr '\\0' ' ' </proc/$$/cmdline; echo; cut -d' ' -f5 /proc/self/stat",
                ])
                .process_group(0)
                .stdout(Stdio::piped()),
        );
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        let out = forked.output();
        let pid = forked.pid;
        assert!(forked.wait().success());
        let mut lines = out.lines();
        assert!(
            lines.next().unwrap().starts_with("custom-name -c "),
            "{out}"
        );
        assert_eq!(
            lines.next().unwrap(),
            pid.to_string(),
            "a new group named by the child"
        );
    });
}

#[test]
fn pre_exec_runs_after_the_kernel_cleared_the_handlers() {
    extern "C" fn handler(_: libc::c_int) {}
    // A handler in this process; CLONE_CLEAR_SIGHAND must have reset it in the child before
    // anything of ours runs there. No test sends SIGURG.
    // SAFETY: Installs an empty handler for a signal nothing sends here.
    unsafe { libc::signal(libc::SIGURG, handler as *const () as libc::sighandler_t) };
    let handler_is_reset = || {
        let mut old = MaybeUninit::<libc::sigaction>::uninit();
        // SAFETY: Queries the action of SIGURG into `old`.
        if unsafe { libc::sigaction(libc::SIGURG, ptr::null(), old.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `sigaction` succeeded, so `old` is initialised.
        if unsafe { old.assume_init() }.sa_sigaction != libc::SIG_DFL {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        Ok(())
    };
    let mut cmd = Command::new("true");
    // SAFETY: The closure only calls the async-signal-safe `sigaction()`.
    unsafe { cmd.pre_exec(handler_is_reset) };
    let forked = Forked::run(&mut cmd);
    // SAFETY: Restores the default action.
    unsafe { libc::signal(libc::SIGURG, libc::SIG_DFL) };
    assert!(
        forked.result.is_ok(),
        "handler not reset: {:?}",
        forked.result
    );
    assert!(forked.wait().success());

    // A failing closure: its errno, exit status 127, and later closures do not run.
    let mut cmd = Command::new("true");
    // SAFETY: The closures touch no memory and call nothing.
    unsafe {
        cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EXDEV)))
            .pre_exec(|| Err(io::Error::from_raw_os_error(libc::ENOTSUP)))
    };
    let forked = Forked::run(&mut cmd);
    match &forked.result {
        Err(Error::Io(error)) => assert_eq!(error.raw_os_error(), Some(libc::EXDEV)),
        other => panic!("{other:?}"),
    }
    assert_eq!(forked.wait().code(), Some(127));
}

#[test]
fn a_panicking_pre_exec_closure_ends_the_child_with_127() {
    let (marker_read, marker_write) = sys::pipe().unwrap();
    let marker = marker_write.as_raw_fd();
    // SAFETY: `getpid()` cannot fail.
    let parent = unsafe { libc::getpid() };
    let forked = std::panic::catch_unwind(|| {
        let mut cmd = Command::new("true");
        // SAFETY: The first closure panics, against the contract of `pre_exec`: what the
        // test is about (the panic hook it runs in the child is acceptable in a test). The
        // second one writes to a pipe, async-signal-safe.
        unsafe {
            cmd.pre_exec(|| panic!("a pre_exec closure panics"))
                .pre_exec(move || {
                    libc::write(marker, b"second closure".as_ptr().cast(), 14);
                    Ok(())
                })
        };
        Forked::run(&mut cmd)
    });
    // SAFETY: `getpid()` cannot fail.
    if unsafe { libc::getpid() } != parent {
        // Only a child whose panic unwound out of the spawning code gets here, as a second
        // copy of the test: it tells the test and ends without running the harness.
        // SAFETY: Writes from a live array to the pipe, then ends this process.
        unsafe {
            libc::write(marker, b"returned".as_ptr().cast(), 8);
            libc::_exit(0);
        }
    }
    let mut forked = forked.expect("the parent does not unwind");
    let result = std::mem::replace(&mut forked.result, Ok(()));
    let status = forked.wait();
    drop(marker_write);
    let mut written = Vec::new();
    File::from(marker_read).read_to_end(&mut written).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&written),
        "",
        "the child ran the next closure or returned into the test"
    );
    match result {
        Err(Error::Io(error)) => {
            assert!(
                error.to_string().contains("pre_exec closure panicked"),
                "{error}"
            );
            assert_eq!(error.raw_os_error(), None);
        }
        other => panic!("expected the panic reported, got {other:?}"),
    }
    assert_eq!(status.code(), Some(127));
}

/// On the path [`Command::clone_path`] chooses, the fork path: the vfork path with credentials
/// would make this test process non-dumpable (see
/// [`the_parent_stays_dumpable_after_a_spawn_with_credentials`]).
#[test]
fn uid_gid_and_groups() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "id -u; id -g; id -G"])
        .uid(65534)
        .gid(65533)
        .groups(&[65533, 65532])
        .stdout(Stdio::piped());
    assert_eq!(cmd.clone_path(), ClonePath::Fork);
    // SAFETY: `geteuid()` cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // Unprivileged: the child reports setgroups()' EPERM.
        let forked = Forked::run(&mut cmd);
        assert!(
            matches!(&forked.result, Err(Error::Io(e)) if e.raw_os_error() == Some(libc::EPERM))
        );
        forked.wait();
        return;
    }
    let mut forked = Forked::run(&mut cmd);
    assert!(forked.result.is_ok(), "{:?}", forked.result);
    assert_eq!(forked.output(), "65534\n65533\n65533 65532\n");
    assert!(forked.wait().success());
    // A uid without groups drops root's supplementary groups, as std does.
    let mut forked = Forked::run(
        Command::new("sh")
            .args(["-c", "id -G"])
            .uid(65534)
            .gid(65534)
            .stdout(Stdio::piped()),
    );
    assert_eq!(forked.output(), "65534\n");
    assert!(forked.wait().success());
    // Ids that do not fit in 16 bits, and groups that the legacy setgroups() of x86 and arm
    // would read as 16-bit gids ([100, 0, 200, 0, ...]): they reach the kernel whole.
    let mut forked = Forked::run(
        Command::new("sh")
            .args(["-c", "id -u; id -g; id -G"])
            .uid(100_000)
            .gid(100_001)
            .groups(&[100, 200, 70_000])
            .stdout(Stdio::piped()),
    );
    assert!(forked.result.is_ok(), "{:?}", forked.result);
    assert_eq!(forked.output(), "100000\n100001\n100001 100 200 70000\n");
    assert!(forked.wait().success());
}

/// The pid (in our namespace) of a child of `parent`, found in `/proc`; waits up to 30 s.
pub(crate) fn child_of(parent: libc::pid_t) -> libc::pid_t {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The fields after the command name, which is in parentheses.
            let fields = &stat[stat.rfind(')').unwrap() + 2..];
            let ppid = fields.split(' ').nth(1).unwrap().parse::<libc::pid_t>();
            if ppid == Ok(parent) {
                return pid;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no child of {parent}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Runs the tree check of [`kill_tree_namespace_takes_the_grandchildren`]; the error says
/// what failed.
fn check_tree_kill() -> Result<(), String> {
    use std::io::BufRead;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' TERM; sleep 1000 & echo $$ $!; wait"])
        .kill_tree(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut forked = Forked::try_run(&mut cmd).map_err(|e| format!("clone3: {e}"))?;
    forked
        .result
        .as_ref()
        .map_err(|e| format!("spawn: {e:?}"))?;
    let mut line = String::new();
    std::io::BufReader::new(forked.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line != "1 2\n" {
        return Err(format!(
            "the shell is not pid 1 with its child pid 2: {line:?}"
        ));
    }
    let grandchild = child_of(forked.pid);
    let watcher = sys::pidfd_open(grandchild, 0).unwrap();
    if sys::pidfd_wait_reaped(watcher.as_fd(), Some(std::time::Duration::from_millis(200))).unwrap()
    {
        return Err("the grandchild died early".into());
    }
    sys::pidfd_send_signal(forked.pidfd.as_fd(), libc::SIGKILL).unwrap();
    let status = forked.wait();
    if status.signal() != Some(libc::SIGKILL) {
        return Err(format!("init status {status:?}"));
    }
    // The init of a pid namespace is reaped only after every other process in it.
    if !sys::pidfd_wait_reaped(watcher.as_fd(), Some(std::time::Duration::ZERO)).unwrap() {
        return Err("the grandchild outlived the reaped init".into());
    }
    Ok(())
}

#[test]
fn kill_tree_namespace_takes_the_grandchildren() {
    on_every_path(|| {
        // As this test process is (root: CLONE_NEWPID only, else with CLONE_NEWUSER).
        check_tree_kill().unwrap();
    });
}

#[test]
fn kill_tree_unprivileged_through_a_user_namespace() {
    on_every_path(|| {
        let code = crate::tests::in_helper(|| {
            if crate::tests::become_nobody().is_err() {
                return 10;
            }
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "echo $$; cat /proc/self/uid_map; id -u"])
                .kill_tree(true)
                .stdout(Stdio::piped());
            let mut forked = match Forked::try_run(&mut cmd) {
                Ok(forked) => forked,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSPC)) => {
                    return 11;
                }
                Err(_) => return 12,
            };
            if forked.result.is_err() {
                return 13;
            }
            let out = forked.output();
            let words: Vec<&str> = out.split_whitespace().collect();
            if words != ["1", "65534", "65534", "1", "65534"] || !forked.wait().success() {
                return 14;
            }
            match check_tree_kill() {
                Ok(()) => 0,
                Err(_) => 15,
            }
        });
        if code == 11 && std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0") {
            println!("skipped: unprivileged user namespaces are not allowed here");
            return;
        }
        assert_eq!(
            code, 0,
            "as nobody: 10 = cannot drop privileges, 11 = user namespace refused, 12 = clone3 \
             failed, 13 = child failed, 14 = wrong pid or maps, 15 = tree survived"
        );
    });
}

#[test]
fn the_vfork_path_unless_pre_exec_or_credentials() {
    let mut cmd = Command::new("true");
    let expected = if raw::INLINE {
        ClonePath::Vfork
    } else {
        ClonePath::Fork
    };
    assert_eq!(cmd.clone_path(), expected);
    cmd.kill_tree(true)
        .setsid(true)
        .umask(0o022)
        .rlimit(libc::RLIMIT_CORE, 0, 0)
        .fd(3, File::open("/dev/null").unwrap())
        .close_other_fds(true)
        .cgroup(File::open("/").unwrap());
    assert_eq!(
        cmd.clone_path(),
        expected,
        "every built-in but the credentials works on it"
    );
    // Changing credentials in a child on the parent's memory would make the parent
    // non-dumpable (commit_creds()): each of them takes the fork path, as with std.
    for set in [
        |cmd: &mut Command| {
            cmd.uid(1);
        },
        |cmd: &mut Command| {
            cmd.gid(1);
        },
        |cmd: &mut Command| {
            cmd.groups(&[]);
        },
    ] {
        let mut cmd = Command::new("true");
        set(&mut cmd);
        assert_eq!(cmd.clone_path(), ClonePath::Fork, "{cmd:?}");
    }
    // SAFETY: The closure does nothing.
    unsafe { cmd.pre_exec(|| Ok(())) };
    assert_eq!(cmd.clone_path(), ClonePath::Fork);
}

/// `PR_GET_DUMPABLE` of the calling process.
fn dumpable() -> libc::c_int {
    // SAFETY: Reads a flag of this process.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }
}

#[test]
fn the_parent_stays_dumpable_after_a_spawn_with_credentials() {
    // SAFETY: `geteuid()` cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return;
    }
    // What commit_creds() sets the dumpability to when ids change.
    let suid_dumpable = std::fs::read_to_string("/proc/sys/fs/suid_dumpable")
        .ok()
        .and_then(|value| value.trim().parse::<libc::c_int>().ok())
        .unwrap_or(0);
    // In a helper: its dumpability is its own, so that the control below (and a regression)
    // leaves this test process as it is.
    let code = crate::tests::in_helper(|| {
        if dumpable() != 1 {
            return 10;
        }
        let mut cmd = Command::new("true");
        cmd.uid(65534).gid(65534);
        // What `spawn()` does, without the autokill flags.
        let Ok(child) = cmd.spawn_unarmed() else {
            return 11;
        };
        let mut status = 0;
        // SAFETY: Waits for our own child (`SIGCHLD`, not autoreaped).
        if unsafe { libc::waitpid(child.id() as libc::pid_t, &mut status, 0) } < 0
            || !libc::WIFEXITED(status)
            || libc::WEXITSTATUS(status) != 0
        {
            return 12;
        }
        if dumpable() != 1 {
            return 13;
        }
        // The control: the same child on the vfork path does change the helper's dumpability
        // (to fs.suid_dumpable, 0 by default), so the check above can see the difference.
        if !raw::INLINE {
            return 0;
        }
        let Ok(created) = cmd.create(INHERIT_ALL, 0, libc::SIGCHLD, ClonePath::Vfork, Error::Io)
        else {
            return 14;
        };
        // SAFETY: Waits for our own child (`SIGCHLD`, not autoreaped).
        if unsafe { libc::waitpid(created.pid, &mut status, 0) } < 0 || created.report.is_some() {
            return 15;
        }
        if dumpable() == suid_dumpable {
            0
        } else {
            16
        }
    });
    assert_eq!(
        code, 0,
        "10 = not dumpable before, 11 = spawn failed, 12 = the child failed, 13 = not dumpable \
         after the spawn, 14-15 = the vfork control failed, 16 = the vfork control did not \
         change the helper's dumpability"
    );
}

#[test]
fn setsid_umask_and_resource_limits() {
    on_every_path(|| {
        let mut forked = Forked::run(
            Command::new("sh")
                .args([
                    "-c",
                    // The session id is field 6 of /proc/<pid>/stat (sh's name has no spaces).
                    "cut -d' ' -f6 /proc/$$/stat; umask; ulimit -Sn; ulimit -Hn; ulimit -c",
                ])
                .setsid(true)
                .umask(0o027)
                .rlimit(libc::RLIMIT_NOFILE, 50, 60)
                .rlimit(libc::RLIMIT_CORE, 1 << 20, 1 << 20)
                // Replaces the one before.
                .rlimit(libc::RLIMIT_CORE, 0, 0)
                .stdout(Stdio::piped()),
        );
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        let out = forked.output();
        let pid = forked.pid;
        assert!(forked.wait().success());
        assert_eq!(
            out,
            format!("{pid}\n0027\n50\n60\n0\n"),
            "a session of its own"
        );

        // A soft limit above the hard one: the kernel's EINVAL, reported.
        let forked = Forked::run(Command::new("true").rlimit(libc::RLIMIT_NOFILE, 2, 1));
        match &forked.result {
            Err(Error::Io(error)) => assert_eq!(error.raw_os_error(), Some(libc::EINVAL)),
            other => panic!("{other:?}"),
        }
        assert_eq!(forked.wait().code(), Some(127));
    });
    // A resource that cannot be one.
    match Command::new("true")
        .rlimit(-1, 0, 0)
        .prepare(INHERIT_ALL, ClonePath::Vfork)
    {
        Err(Error::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::InvalidInput),
        other => panic!("{:?}", other.err()),
    }
    // setsid() and a process group do not combine.
    match Command::new("true")
        .setsid(true)
        .process_group(0)
        .prepare(INHERIT_ALL, ClonePath::Vfork)
    {
        Err(Error::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::InvalidInput),
        other => panic!("{:?}", other.err()),
    }
}

/// Whether `fd` is open in this process.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of a descriptor number.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

#[test]
fn extra_descriptors_and_closing_the_others() {
    // A descriptor without close-on-exec, as another thread or a C library may leave one.
    // Numbered 200 or above: the lowest free number (what `dup()` gives) may be 5 or 100 while
    // other tests run, which this test maps with `fd()`.
    let null = File::open("/dev/null").unwrap();
    // SAFETY: `F_DUPFD` makes a new descriptor (without close-on-exec), owned below.
    let leaked_fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD, 200) };
    assert!(leaked_fd >= 200, "{}", io::Error::last_os_error());
    // SAFETY: A new descriptor that nothing else owns.
    let leaked = unsafe { OwnedFd::from_raw_fd(leaked_fd) };
    assert!(leaked_fd != 5 && leaked_fd != 100 && is_open(leaked_fd));
    // Which of the child shell's descriptors are open: 5 and 100 (given), the leaked one.
    let script = format!(
        // dash redirects only one-digit descriptors; the pipe reopens through /proc.
        "echo to-five >&5; echo to-hundred >/proc/$$/fd/100; \
         for fd in 5 100 {leaked_fd}; do [ -e /proc/$$/fd/$fd ] && echo $fd; done; true"
    );
    on_every_path(|| {
        for close_others in [false, true] {
            let (five_read, five_write) = sys::pipe().unwrap();
            let (hundred_read, hundred_write) = sys::pipe().unwrap();
            let mut cmd = Command::new("sh");
            cmd.args(["-c", &script])
                .fd(5, five_write)
                .fd(100, hundred_write)
                .close_other_fds(close_others)
                .stdout(Stdio::piped());
            let mut forked = Forked::run(&mut cmd);
            assert!(forked.result.is_ok(), "{:?}", forked.result);
            let out = forked.output();
            assert!(forked.wait().success());
            // The command's own copies of the write ends go with it.
            drop(cmd);
            let mut five = String::new();
            File::from(five_read).read_to_string(&mut five).unwrap();
            let mut hundred = String::new();
            File::from(hundred_read)
                .read_to_string(&mut hundred)
                .unwrap();
            assert_eq!(
                (five.as_str(), hundred.as_str()),
                ("to-five\n", "to-hundred\n")
            );
            let expected = if close_others {
                "5\n100\n".to_owned()
            } else {
                format!("5\n100\n{leaked_fd}\n")
            };
            assert_eq!(out, expected, "close_other_fds({close_others})");
        }
    });
    drop(leaked);
    // 0, 1 and 2 are stdin(), stdout() and stderr(); negative numbers are no descriptors.
    for fd in [-1, 0, 2] {
        match Command::new("true")
            .fd(fd, File::open("/dev/null").unwrap())
            .prepare(INHERIT_ALL, ClonePath::Vfork)
        {
            Err(Error::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::InvalidInput),
            other => panic!("{fd}: {:?}", other.err()),
        }
    }
}

#[test]
fn descriptor_plan() {
    let mut cmd = Command::new("x");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .fd(40, File::open("/dev/null").unwrap())
        .close_other_fds(true);
    let (plan, _parent) = cmd.prepare(INHERIT_ALL, ClonePath::Fork).unwrap();
    let mapped: Vec<(RawFd, RawFd)> = plan.fds.iter().map(|m| (m.source, m.target)).collect();
    assert_eq!(mapped.len(), 4);
    // Every source above every target, /dev/null opened once for both streams.
    assert!(mapped.iter().all(|&(source, _)| source > 40), "{mapped:?}");
    assert_eq!(mapped[0].0, mapped[1].0, "one /dev/null");
    assert_eq!(
        plan.owned.len(),
        3,
        "/dev/null, the pipe's end, the duplicate of fd 40"
    );
    assert!(plan.report_pipe.as_ref().unwrap().as_raw_fd() > 40);
    assert_eq!(
        plan.cloexec_ranges,
        [(3, 39), (41, libc::c_uint::MAX)],
        "all but 0, 1, 2 and 40"
    );
    assert_eq!(
        cloexec_ranges([3, 4, 6].into_iter()),
        [(5, 5), (7, libc::c_uint::MAX)]
    );
    assert_eq!(cloexec_ranges(std::iter::empty()), [(3, libc::c_uint::MAX)]);
}

/// The cgroup2 mount point and this process's cgroup in it, if there is a cgroup2 hierarchy.
fn cgroup2() -> Option<(PathBuf, String)> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // "... <mount point> <options> - cgroup2 <source> <options>"
    let mount = mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let point = before.split(' ').nth(4)?;
        after.starts_with("cgroup2 ").then(|| PathBuf::from(point))
    })?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some((mount, path.to_owned()))
}

#[test]
fn into_a_cgroup() {
    // A directory that is no cgroup2 one: clone3()'s EBADF, before any child exists.
    on_every_path(|| {
        let mut cmd = Command::new("true");
        cmd.cgroup(File::open("/").unwrap());
        match Forked::try_run(&mut cmd) {
            Err(error) => assert_eq!(error.raw_os_error(), Some(libc::EBADF)),
            Ok(forked) => panic!("created pid {} in /", forked.pid),
        }
    });
    // A new cgroup below ours, if this process may make one.
    let Some((mount, own)) = cgroup2() else {
        println!("skipped: no cgroup2 hierarchy");
        return;
    };
    let name = format!("autokill-test-{}", std::process::id());
    let dir = mount.join(own.trim_start_matches('/')).join(&name);
    if let Err(error) = std::fs::create_dir(&dir) {
        println!(
            "skipped: cannot create the cgroup {}: {error}",
            dir.display()
        );
        return;
    }
    let cgroup = File::open(&dir).unwrap();
    let result = std::panic::catch_unwind(|| {
        on_every_path(|| {
            let mut cmd = Command::new("cat");
            cmd.arg("/proc/self/cgroup")
                .cgroup(cgroup.try_clone().unwrap())
                .stdout(Stdio::piped());
            let mut forked = match Forked::try_run(&mut cmd) {
                Ok(forked) => forked,
                // The move is not allowed here (a delegated subtree without write access to
                // the common ancestor, a hierarchy whose cgroups cannot take processes): not
                // what this test is about.
                Err(error)
                    if matches!(
                        error.raw_os_error(),
                        Some(libc::EACCES | libc::EPERM | libc::EBUSY | libc::EOPNOTSUPP)
                    ) =>
                {
                    println!(
                        "skipped: cannot move a child into {}: {error}",
                        dir.display()
                    );
                    return;
                }
                Err(error) => panic!("{error}"),
            };
            assert!(forked.result.is_ok(), "{:?}", forked.result);
            let out = forked.output();
            assert!(forked.wait().success());
            let expected = format!("{}/{name}", own.trim_end_matches('/'));
            assert!(
                out.lines().any(|line| line == format!("0::{expected}")),
                "{out}"
            );
        });
    });
    // Empty again once the children are reaped.
    std::fs::remove_dir(&dir).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn an_explicit_fork_path_runs_too() {
    // What the benchmark and `pre_exec` use, also without closures.
    let mut forked = Forked::run_on(
        Command::new("sh")
            .args(["-c", "echo $0"])
            .arg0("fork-path")
            .stdout(Stdio::piped()),
        ClonePath::Fork,
    );
    assert_eq!(forked.output(), "fork-path\n");
    assert!(forked.wait().success());
}
