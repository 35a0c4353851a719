// SPDX-License-Identifier: GPL-2.0

//! End-to-end tests of the library and of `autokill-run`. They need a kernel with
//! `CLONE_PIDFD_AUTOKILL` (Linux 7.1+) and run in the VM; on a kernel without it each prints one
//! line starting with `skipped: host kernel lacks CLONE_PIDFD_AUTOKILL` and returns (set
//! `AUTOKILL_REQUIRE_SUPPORT=1` to make that a failure instead). The usage tests of
//! `autokill-run` run everywhere.
//!
//! Deaths are observed through a pidfd of the test's own (`pidfd_open()`, which does not keep
//! the child alive) becoming readable, never with `waitpid()`: autoreaped children cannot be
//! waited for.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio as StdStdio;
use std::time::Duration;

use autokill::{sys, Command, Error, Guarantee, Stdio};

/// How long a killed process may take to disappear (the VM may run under TCG emulation).
const DEATH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process must survive to count as alive.
const ALIVE_FOR: Duration = Duration::from_millis(300);

/// On a kernel without `CLONE_PIDFD_AUTOKILL`: prints the line the test runner counts as a skip
/// and returns `true`.
///
/// Also gives the signals the tests send their default action in this process, whose children
/// inherit ignored signals: the environment may ignore some (`nohup`, a shell's background
/// job), and then a forwarded `SIGTERM` would never end a program.
fn skip_without_autokill() -> bool {
    static DEFAULT_SIGNALS: std::sync::Once = std::sync::Once::new();
    DEFAULT_SIGNALS.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            // SAFETY: Sets the default action; no handler of ours is involved.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    });
    if autokill::supported().autokill() {
        return false;
    }
    assert!(
        std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
        "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel lacks CLONE_PIDFD_AUTOKILL"
    );
    println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
    true
}

macro_rules! require_autokill {
    () => {
        if skip_without_autokill() {
            return;
        }
    };
}

/// A pidfd of our own for `pid`, to watch it die.
fn watch(pid: u32) -> OwnedFd {
    sys::pidfd_open(pid as libc::pid_t, 0).unwrap_or_else(|e| panic!("pidfd_open({pid}): {e}"))
}

/// Whether `fd` polls readable within `timeout`.
fn readable_within(fd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().try_into().unwrap();
    loop {
        // SAFETY: Polls one valid `pollfd`.
        let ret = unsafe { libc::poll(&mut pollfd, 1, ms) };
        if ret >= 0 {
            return ret > 0;
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINTR)
        );
    }
}

/// Asserts that the process behind the watching pidfd stays alive for a while.
fn assert_alive(watcher: &OwnedFd, what: &str) {
    assert!(
        !readable_within(watcher.as_fd(), ALIVE_FOR),
        "{what} died but should be alive"
    );
}

/// Waits for `child`, failing after [`DEATH_TIMEOUT`] instead of hanging.
fn wait_within(child: &mut autokill::Child) -> std::process::ExitStatus {
    assert!(
        readable_within(child.as_fd(), DEATH_TIMEOUT),
        "child {} did not exit within {DEATH_TIMEOUT:?}",
        child.id()
    );
    child.wait().unwrap()
}

/// Asserts that the process behind the watching pidfd dies soon.
fn assert_dies(watcher: &OwnedFd, what: &str) {
    assert!(
        readable_within(watcher.as_fd(), DEATH_TIMEOUT),
        "{what} is still alive after {DEATH_TIMEOUT:?}"
    );
}

/// `sleep 100`, not reading the test's standard input.
fn sleeper() -> autokill::Child {
    Command::new("sleep")
        .arg("100")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep")
}

/// Runs `cmd` with standard output piped; returns the output and the exit status.
fn output(cmd: &mut Command) -> (String, std::process::ExitStatus) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (out, child.wait().unwrap())
}

/// The `NoNewPrivs:` value a program run by `cmd` sees.
fn no_new_privs(cmd: &mut Command) -> String {
    let (out, _) = output(cmd.args(["/proc/self/status"]));
    out.lines()
        .find_map(|line| line.strip_prefix("NoNewPrivs:"))
        .expect("NoNewPrivs in /proc/self/status")
        .trim()
        .to_owned()
}

/// Whether this process has `CAP_SYS_ADMIN` in its effective set.
fn have_cap_sys_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    // CAP_SYS_ADMIN is capability 21 (include/uapi/linux/capability.h).
    u64::from_str_radix(caps, 16).unwrap() & (1 << 21) != 0
}

/// A new pipe (both ends close-on-exec): `(read, write)`.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: Both are new descriptors owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A forked helper process (a plain child, not an autokill one), killed and reaped when dropped
/// unless it was waited for.
struct Helper {
    pid: libc::pid_t,
    reaped: bool,
}

impl Helper {
    /// Forks a helper process that runs `helper` and exits with its return value; `keep` is the
    /// only descriptor above 2 it keeps (the test process's other descriptors, among them other
    /// tests' autokill pidfds, must not live on in the helper).
    ///
    /// `helper` runs in a fork of the multi-threaded test process; it may allocate (glibc's
    /// `fork()` makes that safe) but must not print. A panic in it becomes exit status 101.
    fn fork(keep: &OwnedFd, helper: impl FnOnce() -> i32) -> Helper {
        // SAFETY: The child only closes descriptors, runs `helper` and exits, see above.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let fd = keep.as_raw_fd() as libc::c_uint;
            // SAFETY: Closes the descriptors above 2 except `keep` in this new process; nothing
            // in it uses them.
            unsafe {
                if fd > 3 {
                    libc::close_range(3, fd - 1, 0);
                }
                libc::close_range(fd + 1, libc::c_uint::MAX, 0);
            }
            let code =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(helper)).unwrap_or(101);
            // SAFETY: Ends the helper without running the test harness's exit code.
            unsafe { libc::_exit(code) };
        }
        Helper { pid, reaped: false }
    }

    /// Sends the helper `signal`.
    fn signal(&self, signal: libc::c_int) {
        // SAFETY: Signals our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.pid, signal) }, 0);
    }

    /// Waits for the helper to exit (`waitpid()`, it is a plain child).
    fn wait(&mut self) -> std::process::ExitStatus {
        let mut status = 0;
        loop {
            // SAFETY: Waits for our own child.
            let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if ret == self.pid {
                self.reaped = true;
                return std::process::ExitStatus::from_raw(status);
            }
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR)
            );
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(libc::SIGKILL);
            self.wait();
        }
    }
}

#[test]
fn child_is_alive_until_dropped() {
    require_autokill!();
    let child = sleeper();
    let watcher = watch(child.id());
    assert_alive(&watcher, "sleep");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    assert_eq!(cmdline, b"sleep\x00100\x00");
    drop(child);
    assert_dies(&watcher, "sleep after its Child was dropped");
}

#[test]
fn duplicate_of_the_pidfd_keeps_the_child_alive() {
    require_autokill!();
    let child = sleeper();
    let watcher = watch(child.id());
    let duplicate = child.as_fd().try_clone_to_owned().unwrap();
    drop(child);
    assert_alive(&watcher, "sleep with a duplicate of its pidfd open");
    drop(duplicate);
    assert_dies(
        &watcher,
        "sleep after the last copy of its pidfd was closed",
    );
}

#[test]
fn kill_then_wait_reports_sigkill() {
    require_autokill!();
    let mut child = sleeper();
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    let status = wait_within(&mut child);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(status.code(), None);
    assert_eq!(child.try_wait().unwrap(), Some(status));
    child.kill().expect("killing an exited child succeeds");
}

#[test]
fn signal_is_delivered() {
    require_autokill!();
    let mut child = sleeper();
    child.signal(libc::SIGTERM).unwrap();
    assert_eq!(wait_within(&mut child).signal(), Some(libc::SIGTERM));
}

#[test]
fn wait_reports_exit_codes() {
    require_autokill!();
    let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(!status.success());
    assert!(Command::new("true")
        .spawn()
        .unwrap()
        .wait()
        .unwrap()
        .success());
}

#[test]
fn wait_reports_death_by_signal() {
    require_autokill!();
    let mut child = Command::new("sh")
        .args(["-c", "kill -TERM $$; sleep 100"])
        .spawn()
        .unwrap();
    let status = wait_within(&mut child);
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert_eq!(status.code(), None);
}

#[test]
fn the_status_is_there_once_the_pidfd_reports_the_reaping() {
    require_autokill!();
    // What wait() relies on, without retries: POLLHUP (no events requested) means reaped, and
    // pidfs_exit() stored the status before that. Many times, to catch a window if there were
    // one.
    for i in 0..200 {
        let child = Command::new("sh")
            .args(["-c", "exit $1", "sh", &(i % 256).to_string()])
            .spawn()
            .unwrap();
        assert!(sys::pidfd_wait_reaped(child.as_fd(), Some(DEATH_TIMEOUT)).unwrap());
        let status = sys::pidfd_exit_status(child.as_fd()).unwrap();
        assert_eq!(
            status,
            Some((i % 256) << 8),
            "run {i}: reaped without a status"
        );
    }
    // POLLIN alone may come first; then try_wait() may still say None, but wait() does not
    // need to retry.
    let mut child = Command::new("sh").args(["-c", "exit 9"]).spawn().unwrap();
    assert!(readable_within(child.as_fd(), DEATH_TIMEOUT));
    let _ = child.try_wait().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(9));
}

#[test]
fn output_status_and_wait_with_output() {
    require_autokill!();
    let out = Command::new("sh")
        .args(["-c", "cat; echo out; echo err >&2; exit 3"])
        .output()
        .unwrap();
    // stdin is /dev/null, so cat ends at once.
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    // Large output on both streams at once: no deadlock.
    let out = Command::new("sh")
        .args([
            "-c",
            "head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!((out.stdout.len(), out.stderr.len()), (200_000, 300_000));

    assert_eq!(
        Command::new("sh")
            .args(["-c", "exit 4"])
            .status()
            .unwrap()
            .code(),
        Some(4)
    );
    assert!(matches!(
        Command::new("/nonexistent/x").output(),
        Err(Error::Exec { .. })
    ));

    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"echo\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"echo\n");
}

#[test]
fn wait_timeout_times_out_then_returns_the_status() {
    require_autokill!();
    let mut child = sleeper();
    let started = std::time::Instant::now();
    assert_eq!(
        child.wait_timeout(Duration::from_millis(200)).unwrap(),
        None
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    child.kill().unwrap();
    let status = child.wait_timeout(DEATH_TIMEOUT).unwrap().expect("killed");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(child.wait_timeout(Duration::ZERO).unwrap(), Some(status));
}

#[test]
fn exec_failure_is_reported() {
    require_autokill!();
    for (program, errno) in [
        ("/nonexistent/autokill-test", libc::ENOENT),
        ("autokill-test-no-such-program", libc::ENOENT),
        ("/etc/passwd", libc::EACCES),
    ] {
        match Command::new(program).spawn() {
            Err(Error::Exec { program: p, source }) => {
                assert_eq!(p, program);
                assert_eq!(source.raw_os_error(), Some(errno), "{program}");
            }
            other => panic!("{program}: expected Error::Exec, got {:?}", other.err()),
        }
    }
    match Command::new("true").current_dir("/nonexistent").spawn() {
        Err(Error::CurrentDir { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT))
        }
        other => panic!("expected Error::CurrentDir, got {:?}", other.err()),
    }
}

#[test]
fn a_panicking_pre_exec_never_returns_into_the_caller() {
    require_autokill!();
    let (read, write) = pipe();
    let marker = write.as_raw_fd();
    // SAFETY: `getpid()` cannot fail.
    let parent = unsafe { libc::getpid() };
    let spawned = std::panic::catch_unwind(|| {
        let mut cmd = Command::new("true");
        // SAFETY: The closure panics, against the contract of `pre_exec`: what the test is
        // about (the panic hook it runs in the child is acceptable in a test).
        unsafe { cmd.pre_exec(|| panic!("a pre_exec closure panics")) };
        cmd.spawn()
    });
    // SAFETY: `getpid()` cannot fail.
    if unsafe { libc::getpid() } != parent {
        // Only a child whose panic unwound out of spawn() gets here, as a second copy of the
        // test: it tells the test and ends without running the harness.
        // SAFETY: Writes from a live array to the pipe, then ends this process.
        unsafe {
            libc::write(marker, b"returned".as_ptr().cast(), 8);
            libc::_exit(0);
        }
    }
    drop(write);
    // EOF once the child has exited (it holds a copy of the write end).
    assert!(
        readable_within(read.as_fd(), DEATH_TIMEOUT),
        "the child did not exit"
    );
    let mut written = Vec::new();
    std::fs::File::from(read).read_to_end(&mut written).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&written),
        "",
        "the child returned into the test"
    );
    match spawned.expect("the parent does not unwind") {
        Err(Error::Io(error)) => assert!(
            error.to_string().contains("pre_exec closure panicked"),
            "{error}"
        ),
        other => panic!("expected the panic reported, got {:?}", other.err()),
    }
}

#[test]
fn piped_stdio() {
    require_autokill!();
    let mut child = Command::new("sh")
        .args(["-c", "cat; echo err >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("hello\n", "err\n"));
    assert!(child.wait().unwrap().success());
}

#[test]
fn environment_and_working_directory() {
    require_autokill!();
    let (out, status) = output(
        Command::new("sh")
            .args(["-c", "echo \"$FOO|${HOME-unset}|$(pwd)\""])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("FOO", "bar")
            .current_dir("/proc"),
    );
    assert!(status.success());
    assert_eq!(out, "bar|unset|/proc\n");
}

/// `cmd` once as it is (the vfork path on x86_64 and aarch64, for a command without
/// credentials) and once with an empty
/// `pre_exec` closure (which makes it take the fork path): the outputs, exit statuses or spawn
/// errors as text.
fn on_both_paths(cmd: impl Fn() -> Command) -> [String; 2] {
    let run = |mut cmd: Command| match cmd.stdout(Stdio::piped()).spawn() {
        Ok(mut child) => {
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            format!("{out}{:?}", wait_within(&mut child).code())
        }
        Err(error) => format!("{error:?}"),
    };
    let default = run(cmd());
    let mut forked = cmd();
    // SAFETY: The closure does nothing.
    unsafe { forked.pre_exec(|| Ok(())) };
    [default, run(forked)]
}

#[test]
fn the_vfork_and_the_fork_path_agree() {
    require_autokill!();
    for (make, expected) in [
        (
            (|| {
                let mut cmd = Command::new("sh");
                cmd.args(["-c", "echo $0 $1 \"$FOO\"; exit 3", "a", "b"])
                    .env("FOO", "foo");
                cmd
            }) as fn() -> Command,
            "a b foo\nSome(3)",
        ),
        (|| Command::new("autokill-test-no-such-program"), "Exec"),
        (|| Command::new("/etc/passwd"), "Exec"),
        (
            || {
                let mut cmd = Command::new("true");
                cmd.current_dir("/nonexistent");
                cmd
            },
            "CurrentDir",
        ),
    ] {
        let [vfork, fork] = on_both_paths(make);
        assert_eq!(vfork, fork);
        assert!(vfork.starts_with(expected), "{vfork}");
    }
}

#[test]
fn built_ins_without_pre_exec() {
    require_autokill!();
    let (five_read, five_write) = pipe();
    // A descriptor without close-on-exec, as a C library may leave one. Numbered 200 or above:
    // the lowest free number (what `dup()` gives) may be 5 while other tests run.
    let null = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: `F_DUPFD` makes a new descriptor (without close-on-exec), owned below.
    let leaked_fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD, 200) };
    assert!(leaked_fd >= 200, "{}", std::io::Error::last_os_error());
    // SAFETY: A new descriptor that nothing else owns.
    let leaked = unsafe { OwnedFd::from_raw_fd(leaked_fd) };
    assert_ne!(leaked_fd, 5);
    let script = format!(
        "cut -d' ' -f6 /proc/$$/stat; umask; ulimit -Sn; ulimit -Hn; echo five >&5; \
         [ -e /proc/$$/fd/{} ] && echo leaked; true",
        leaked.as_raw_fd()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .setsid(true)
        .umask(0o027)
        .rlimit(libc::RLIMIT_NOFILE, 50, 60)
        .fd(5, five_write)
        .close_other_fds(true)
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(wait_within(&mut child).success());
    assert_eq!(
        out,
        format!("{pid}\n0027\n50\n60\n"),
        "a session of its own"
    );
    drop(cmd);
    let mut five = String::new();
    std::fs::File::from(five_read)
        .read_to_string(&mut five)
        .unwrap();
    assert_eq!(five, "five\n");
}

/// A cgroup2 hierarchy's mount point and this process's cgroup in it: the mounted one, or one
/// mounted on a new directory under `/tmp` (returned third, to be unmounted).
fn cgroup2() -> Option<(std::path::PathBuf, String, Option<std::path::PathBuf>)> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounted = mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let point = before.split(' ').nth(4)?;
        after
            .starts_with("cgroup2 ")
            .then(|| std::path::PathBuf::from(point))
    });
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?
        .to_owned();
    if let Some(point) = mounted {
        return Some((point, own, None));
    }
    let point = std::env::temp_dir().join(format!("autokill-cgroup2-{}", std::process::id()));
    std::fs::create_dir_all(&point).ok()?;
    let target = std::ffi::CString::new(point.to_str()?).ok()?;
    // SAFETY: Mounts a cgroup2 file system on a new, empty directory of ours; the strings are
    // NUL-terminated.
    let ret = unsafe {
        libc::mount(
            c"cgroup2".as_ptr(),
            target.as_ptr(),
            c"cgroup2".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        let _ = std::fs::remove_dir(&point);
        return None;
    }
    Some((point.clone(), own, Some(point)))
}

#[test]
fn into_a_cgroup() {
    require_autokill!();
    // Not a cgroup2 directory: clone3() refuses with EBADF before any child exists.
    match Command::new("true")
        .cgroup(std::fs::File::open("/").unwrap())
        .spawn()
    {
        Err(Error::Cgroup { source }) => assert_eq!(source.raw_os_error(), Some(libc::EBADF)),
        other => panic!("expected Error::Cgroup, got {:?}", other.err()),
    }
    let Some((point, own, mounted)) = cgroup2() else {
        println!("skipped: no cgroup2 hierarchy (CONFIG_CGROUPS)");
        return;
    };
    let name = format!("autokill-vm-{}", std::process::id());
    let dir = point.join(own.trim_start_matches('/')).join(&name);
    std::fs::create_dir(&dir).unwrap();
    let cgroup = std::fs::File::open(&dir).unwrap();
    let [vfork, fork] = on_both_paths(|| {
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/cgroup")
            .cgroup(cgroup.try_clone().unwrap());
        cmd
    });
    std::fs::remove_dir(&dir).unwrap();
    if let Some(point) = mounted {
        let target = std::ffi::CString::new(point.to_str().unwrap()).unwrap();
        // SAFETY: Unmounts the file system `cgroup2()` mounted there; the string is
        // NUL-terminated.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir(&point);
    }
    assert_eq!(vfork, fork);
    if vfork.starts_with("Cgroup") {
        // Not allowed here (a delegated subtree, a hierarchy whose cgroups cannot take
        // processes): not what this test is about.
        println!(
            "skipped: cannot move a child into {}: {vfork}",
            dir.display()
        );
        return;
    }
    let expected = format!("0::{}/{name}\n", own.trim_end_matches('/'));
    assert!(vfork.contains(&expected), "{vfork} lacks {expected}");
}

#[test]
fn no_new_privs_by_default() {
    require_autokill!();
    assert_eq!(no_new_privs(&mut Command::new("cat")), "1");
}

#[test]
fn without_nnp_needs_cap_sys_admin() {
    require_autokill!();
    if !have_cap_sys_admin() {
        let result = Command::new("true")
            .no_new_privs(false)
            .require(Guarantee::Kernel)
            .spawn();
        assert!(
            matches!(&result, Err(Error::GuaranteeUnavailable { reason, .. })
                if matches!(**reason, Error::PermissionDenied)),
            "{:?}",
            result.err()
        );
        // Best effort: the fallback, which cannot promise anything at parent death.
        let child = Command::new("true").no_new_privs(false).spawn().unwrap();
        assert_eq!(child.guarantee(), Guarantee::DropOnly);
        return;
    }
    // Privileged: allowed, and the child really lacks no_new_privs.
    assert_eq!(no_new_privs(Command::new("cat").no_new_privs(false)), "0");

    // Unprivileged (nobody, in a forked helper): refused without NNP, allowed with it.
    let (_read, write) = pipe();
    let mut helper = Helper::fork(&write, || {
        // SAFETY: Raw system calls dropping the credentials of this single-threaded helper.
        let dropped = unsafe {
            libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) == 0
                && libc::syscall(libc::SYS_setgid, 65534) == 0
                && libc::syscall(libc::SYS_setuid, 65534) == 0
        };
        if !dropped {
            return 10;
        }
        match Command::new("true")
            .no_new_privs(false)
            .require(Guarantee::Kernel)
            .spawn()
        {
            Err(Error::GuaranteeUnavailable { reason, .. })
                if matches!(*reason, Error::PermissionDenied) => {}
            _ => return 11,
        }
        match Command::new("true").no_new_privs(false).spawn() {
            Ok(child) if child.guarantee() == Guarantee::DropOnly => {}
            _ => return 13,
        }
        match Command::new("true").spawn().map(|mut child| child.wait()) {
            Ok(Ok(status)) if status.success() => 0,
            _ => 12,
        }
    });
    let status = helper.wait();
    assert_eq!(
        status.code(),
        Some(0),
        "helper as nobody: 10 = cannot drop privileges, 11 = no EPERM without NNP, \
         12 = cannot spawn with NNP"
    );
}

#[test]
fn credentials_leave_the_parent_dumpable() {
    require_autokill!();
    // SAFETY: `geteuid()` cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return;
    }
    // In a helper, whose dumpability is its own: a regression must not change this process's.
    let (_read, write) = pipe();
    let mut helper = Helper::fork(&write, || {
        // SAFETY: Reads a flag of this process.
        let dumpable = || unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
        if dumpable() != 1 {
            return 10;
        }
        // The child's setuid()/setgid() must not reach the parent's dumpability (the fork
        // path: on the vfork path the child would share it).
        match Command::new("id")
            .args(["-u"])
            .uid(65534)
            .gid(65534)
            .output()
        {
            Ok(output) if output.status.success() && output.stdout == b"65534\n" => {}
            _ => return 11,
        }
        if dumpable() != 1 {
            return 12;
        }
        0
    });
    assert_eq!(
        helper.wait().code(),
        Some(0),
        "10 = not dumpable before, 11 = the spawn as nobody failed, 12 = not dumpable after"
    );
}

/// In a [`Helper`]: spawns `sleep 100` with autokill and writes its pid to `report`; the caller
/// keeps the returned `Child` (and with it the grandchild) alive.
fn spawn_and_report(report: &OwnedFd) -> Option<autokill::Child> {
    let child = Command::new("sleep")
        .arg("100")
        .stdin(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    // SAFETY: Writes 4 bytes from a live value to the pipe.
    unsafe { libc::write(report.as_raw_fd(), (&pid as *const u32).cast(), 4) };
    Some(child)
}

/// The pid a helper reported on `read` (with [`spawn_and_report`], or the grandchild of a
/// tree).
fn read_report(read: OwnedFd) -> u32 {
    assert!(
        readable_within(read.as_fd(), DEATH_TIMEOUT),
        "the helper did not report within {DEATH_TIMEOUT:?}"
    );
    let mut pid = [0; 4];
    std::fs::File::from(read)
        .read_exact(&mut pid)
        .expect("the helper reports the grandchild's pid");
    u32::from_ne_bytes(pid)
}

#[test]
fn parent_killed_kills_child() {
    require_autokill!();
    let (read, write) = pipe();
    let mut helper = Helper::fork(&write, || {
        let Some(_child) = spawn_and_report(&write) else {
            return 1;
        };
        // `_child` stays alive (and with it the grandchild) until the helper is killed.
        loop {
            // SAFETY: Waits for a signal.
            unsafe { libc::pause() };
        }
    });
    drop(write);
    let watcher = watch(read_report(read));
    assert_alive(&watcher, "the helper's child");
    helper.signal(libc::SIGKILL);
    assert_eq!(helper.wait().signal(), Some(libc::SIGKILL));
    assert_dies(&watcher, "the child of a SIGKILLed parent");
}

#[test]
fn parent_aborted_kills_child() {
    require_autokill!();
    let (read, write) = pipe();
    let mut helper = Helper::fork(&write, || {
        // SIGUSR1 tells the helper to abort. It is blocked before the report, so that it cannot
        // come too early, and given its default action first: an ignored signal would be
        // discarded, blocked or not. (The grandchild starts with an empty signal mask.)
        // SAFETY: Sets the default action of a signal, then blocks it in this single-threaded
        // helper; `set` is initialised by `sigemptyset()`.
        let set = unsafe {
            libc::signal(libc::SIGUSR1, libc::SIG_DFL);
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            set
        };
        let Some(_child) = spawn_and_report(&write) else {
            return 1;
        };
        let mut signal = 0;
        // SAFETY: Waits for a signal of a valid set that is blocked.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            return 2;
        }
        // No core dump (into the working directory, or through a core_pattern pipe) to wait
        // for: only the death by SIGABRT matters.
        // SAFETY: Sets a resource limit and a flag of this process.
        unsafe {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
        // Dies by SIGABRT, as with panic = "abort": `_child` is never dropped, and the kernel
        // closing the helper's descriptors at its death is what kills the grandchild.
        std::process::abort()
    });
    drop(write);
    let watcher = watch(read_report(read));
    assert_alive(&watcher, "the helper's child");
    helper.signal(libc::SIGUSR1);
    assert_eq!(helper.wait().signal(), Some(libc::SIGABRT));
    assert_dies(&watcher, "the child of an aborted parent");
}

/// `autokill-run` with `args`.
fn autokill_run<const N: usize>(args: [&str; N]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_autokill-run"));
    cmd.args(args).stdin(StdStdio::null());
    cmd
}

/// A running `autokill-run`, killed and reaped when dropped (say, when a test fails).
struct Running(std::process::Child);

impl Running {
    /// Starts `cmd` with standard output piped and reads its first line.
    fn start(mut cmd: std::process::Command) -> (Running, String) {
        let mut child = cmd.stdout(StdStdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (Running(child), line)
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: Signals our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.0.id() as libc::pid_t, signal) }, 0);
    }

    /// Waits for it to exit, failing after [`DEATH_TIMEOUT`] instead of hanging.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + DEATH_TIMEOUT;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "autokill-run did not exit within {DEATH_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn autokill_run_usage() {
    let out = autokill_run([]).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing PROGRAM"));

    let out = autokill_run(["--bogus", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option"));

    let out = autokill_run(["--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.starts_with("Usage: autokill-run [--no-nnp] [--tree] [--] PROGRAM [ARGS...]"));

    let out = autokill_run(["--version"]).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn autokill_run_without_kernel_support_uses_the_fallback() {
    // With CLONE_PIDFD_AUTOKILL or without it (PR_SET_PDEATHSIG from the spawner thread).
    let status = autokill_run(["sh", "-c", "exit 3"]).status().unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn autokill_run_exit_status() {
    require_autokill!();
    let code = |args: &[&str]| {
        let mut cmd = autokill_run([]);
        cmd.args(args);
        cmd.status().unwrap().code()
    };
    assert_eq!(code(&["true"]), Some(0));
    assert_eq!(code(&["sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["--", "sh", "-c", "exit 200"]), Some(200));
    assert_eq!(
        code(&["sh", "-c", "kill -KILL $$"]),
        Some(128 + libc::SIGKILL)
    );
    assert_eq!(
        code(&["sh", "-c", "kill -TERM $$"]),
        Some(128 + libc::SIGTERM)
    );
}

#[test]
fn autokill_run_exec_errors() {
    require_autokill!();
    let out = autokill_run(["/nonexistent/autokill-test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    // The message ends with the errno (the error's source).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "autokill-run: cannot execute \"/nonexistent/autokill-test\": \
         No such file or directory (os error 2)\n"
    );
    let out = autokill_run(["/etc/passwd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(126));
}

#[test]
fn autokill_run_no_new_privs() {
    require_autokill!();
    let status_of = |args: &[&str]| {
        let mut cmd = autokill_run([]);
        cmd.args(args).args(["cat", "/proc/self/status"]);
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, status) = status_of(&[]);
    assert_eq!(code, Some(0));
    assert!(status.contains("NoNewPrivs:\t1\n"), "{status}");
    let (code, status) = status_of(&["--no-nnp"]);
    if have_cap_sys_admin() {
        assert_eq!(code, Some(0));
        assert!(status.contains("NoNewPrivs:\t0\n"), "{status}");
    } else {
        assert_eq!(code, Some(125));
    }
}

#[test]
fn autokill_run_forwards_sigterm() {
    require_autokill!();
    // A program that handles SIGTERM: its own exit status comes through.
    let (mut running, line) = Running::start(autokill_run([
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
    ]));
    assert_eq!(line, "ready\n");
    running.signal(libc::SIGTERM);
    assert_eq!(running.wait().code(), Some(42));

    // One that does not: 128 + SIGTERM.
    let (mut running, line) =
        Running::start(autokill_run(["sh", "-c", "echo ready; exec sleep 100"]));
    assert_eq!(line, "ready\n");
    running.signal(libc::SIGTERM);
    assert_eq!(running.wait().code(), Some(128 + libc::SIGTERM));

    // SIGINT likewise.
    let (mut running, line) = Running::start(autokill_run([
        "sh",
        "-c",
        "trap 'exit 41' INT; echo ready; while :; do sleep 0.1; done",
    ]));
    assert_eq!(line, "ready\n");
    running.signal(libc::SIGINT);
    assert_eq!(running.wait().code(), Some(41));
}

#[test]
fn autokill_run_killed_kills_program() {
    require_autokill!();
    let (mut running, line) = Running::start(autokill_run(["sh", "-c", "echo $$; exec sleep 100"]));
    let pid: u32 = line.trim().parse().unwrap();
    let watcher = watch(pid);
    assert_alive(&watcher, "PROGRAM of autokill-run");
    running.signal(libc::SIGKILL);
    assert_eq!(running.wait().signal(), Some(libc::SIGKILL));
    assert_dies(&watcher, "PROGRAM of a SIGKILLed autokill-run");
}

/// The pid (in our namespace) of a child of `parent`, from `/proc`; waits up to
/// [`DEATH_TIMEOUT`].
fn child_of(parent: u32) -> u32 {
    let deadline = std::time::Instant::now() + DEATH_TIMEOUT;
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The fields after the command name, which is in parentheses.
            let fields = &stat[stat.rfind(')').unwrap() + 2..];
            if fields.split(' ').nth(1) == Some(&parent.to_string()) {
                return pid;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no child of {parent}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A shell as the root of a tree, with a grandchild that ignores `SIGTERM` and sleeps; returns
/// the `Child` and the grandchild's pid in our namespace.
fn tree() -> (autokill::Child, u32) {
    let mut child = Command::new("sh")
        .args(["-c", "trap '' TERM; sleep 1000 & echo $$; wait"])
        .kill_tree(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a tree");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "1\n", "the tree's root is pid 1 of its namespace");
    let grandchild = child_of(child.id());
    (child, grandchild)
}

#[test]
fn tree_grandchild_dies_when_the_child_is_dropped() {
    require_autokill!();
    let (child, grandchild) = tree();
    let watcher = watch(grandchild);
    assert_alive(&watcher, "the grandchild");
    drop(child);
    assert_dies(&watcher, "a SIGTERM-ignoring grandchild after the drop");
}

#[test]
fn tree_wait_returns_once_the_whole_tree_is_gone() {
    require_autokill!();
    let (mut child, grandchild) = tree();
    let watcher = watch(grandchild);
    // pid 1 of a namespace gets SIGTERM only with a handler: the shell has none (it ignores
    // it, as do its children).
    child.signal(libc::SIGTERM).unwrap();
    assert_alive(&watcher, "the grandchild after SIGTERM to the tree's root");
    assert_eq!(child.try_wait().unwrap(), None, "pid 1 ignored SIGTERM");
    child.kill().unwrap();
    assert_eq!(wait_within(&mut child).signal(), Some(libc::SIGKILL));
    // The init of a pid namespace is reaped after everything else in it.
    assert!(
        sys::pidfd_wait_reaped(watcher.as_fd(), Some(Duration::ZERO)).unwrap(),
        "the grandchild outlived the wait() of the tree's root"
    );
}

#[test]
fn tree_dies_with_its_sigkilled_parent() {
    require_autokill!();
    let (read, write) = pipe();
    let mut helper = Helper::fork(&write, || {
        let (child, grandchild) = tree();
        // SAFETY: Writes 4 bytes from a live value to the pipe.
        unsafe { libc::write(write.as_raw_fd(), (&grandchild as *const u32).cast(), 4) };
        let _keep = child;
        loop {
            // SAFETY: Waits for a signal.
            unsafe { libc::pause() };
        }
    });
    drop(write);
    let watcher = watch(read_report(read));
    assert_alive(&watcher, "the helper's grandchild");
    helper.signal(libc::SIGKILL);
    assert_eq!(helper.wait().signal(), Some(libc::SIGKILL));
    assert_dies(&watcher, "a grandchild of a SIGKILLed parent");
}

#[test]
fn tree_unprivileged_through_a_user_namespace() {
    require_autokill!();
    let (_read, write) = pipe();
    let mut helper = Helper::fork(&write, || {
        // SAFETY: Raw system calls dropping the credentials of this single-threaded helper;
        // then it is made dumpable again, as an ordinary unprivileged process is.
        let dropped = unsafe {
            libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) == 0
                && libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) == 0
                && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) == 0
                && libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) == 0
        };
        if !dropped || have_cap_sys_admin() {
            return 10;
        }
        let maps = Command::new("sh")
            .args(["-c", "echo $$; cat /proc/self/uid_map /proc/self/gid_map"])
            .kill_tree(true)
            .output();
        match maps {
            Ok(out)
                if out.status.success()
                    && String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        == ["1", "65534", "65534", "1", "65534", "65534", "1"] => {}
            Ok(_) => return 11,
            Err(Error::Namespace { .. }) => return 12,
            Err(_) => return 13,
        }
        let (child, grandchild) = tree();
        let watcher = watch(grandchild);
        drop(child);
        if readable_within(watcher.as_fd(), DEATH_TIMEOUT) {
            0
        } else {
            14
        }
    });
    assert_eq!(
        helper.wait().code(),
        Some(0),
        "as nobody: 10 = cannot drop privileges, 11 = wrong pid or maps, 12 = namespaces \
         refused, 13 = other spawn error, 14 = the tree survived the drop"
    );
}

#[test]
fn autokill_run_tree() {
    require_autokill!();
    // SIGKILL of autokill-run takes the whole tree.
    let (mut running, line) = Running::start(autokill_run([
        "--tree",
        "sh",
        "-c",
        "trap '' TERM; sleep 1000 & echo $$; wait",
    ]));
    assert_eq!(line, "1\n");
    let root = child_of(running.0.id());
    let watcher = watch(child_of(root));
    running.signal(libc::SIGKILL);
    assert_eq!(running.wait().signal(), Some(libc::SIGKILL));
    assert_dies(
        &watcher,
        "the grandchild of a SIGKILLed autokill-run --tree",
    );

    // A forwarded SIGTERM that pid 1 does not catch terminates it (as SIGKILL).
    let (mut running, line) = Running::start(autokill_run([
        "--tree",
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]));
    assert_eq!(line, "ready\n");
    running.signal(libc::SIGTERM);
    assert_eq!(running.wait().code(), Some(128 + libc::SIGKILL));

    // One it catches arrives as itself.
    let (mut running, line) = Running::start(autokill_run([
        "--tree",
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
    ]));
    assert_eq!(line, "ready\n");
    running.signal(libc::SIGTERM);
    assert_eq!(running.wait().code(), Some(42));
}

#[test]
fn kernel_children_report_the_kernel_guarantee_and_the_fallback_its_own() {
    require_autokill!();
    let child = Command::new("sleep").arg("1000").spawn().unwrap();
    assert_eq!(child.guarantee(), Guarantee::Kernel);
    assert!(autokill::supported().autokill());
    // The fallback on the same kernel: PR_SET_PDEATHSIG from the spawner thread.
    let mut fallback = Command::new("sh")
        .args(["-c", "exit 6"])
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    assert_eq!(fallback.guarantee(), Guarantee::ParentThreadSignal);
    assert_eq!(fallback.wait().unwrap().code(), Some(6));
    let fallback = Command::new("sleep")
        .arg("1000")
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    let watcher = watch(fallback.id());
    drop(fallback);
    // Killed and reaped by the spawner thread: POLLHUP.
    assert!(
        sys::pidfd_wait_reaped(watcher.as_fd(), Some(std::time::Duration::from_secs(30))).unwrap()
    );
    // kernel_autokill(false) with require(Kernel) is refused.
    assert!(matches!(
        Command::new("true")
            .kernel_autokill(false)
            .require(Guarantee::Kernel)
            .spawn(),
        Err(Error::GuaranteeUnavailable { .. })
    ));
    drop(child);
}
