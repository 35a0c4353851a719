// SPDX-License-Identifier: GPL-2.0

//! The fallback, for real, on any kernel: `kernel_autokill(false)` takes it on a 7.1+ kernel
//! too. Deaths are seen through pidfds (`POLLIN` once a process exited, `POLLHUP` once it was
//! reaped) and `/proc/<pid>/stat`, not through sleeps; where a test must show that a process
//! lives on, it gives it a bounded time to die.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::sys;
use crate::{Child, Command, Error, Guarantee, Stdio};

/// How long a killed process may take to disappear.
const DEATH: Duration = Duration::from_secs(30);
/// How long a process that must survive is watched.
const SURVIVAL: Duration = Duration::from_millis(500);

/// A pidfd of our own for `pid` (not the `Child`'s), to watch it.
fn watch(pid: u32) -> OwnedFd {
    sys::pidfd_open(pid as libc::pid_t, 0).unwrap()
}

/// Whether the watched process exits within `timeout` (`POLLIN` on its pidfd).
fn exits_within(watcher: &OwnedFd, timeout: Duration) -> bool {
    sys::poll(watcher.as_fd(), libc::POLLIN, Some(timeout)).unwrap() & libc::POLLIN != 0
}

/// Whether the watched process is reaped within `timeout` (`POLLHUP`): no zombie left.
fn reaped_within(watcher: &OwnedFd, timeout: Duration) -> bool {
    sys::pidfd_wait_reaped(watcher.as_fd(), Some(timeout)).unwrap()
}

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `Z`, ...), `None` if there is no such
/// process.
fn state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Asserts that `pid` (watched by `watcher`) lives: `kill(pid, 0)` succeeds, it is no zombie,
/// and it does not exit within [`SURVIVAL`].
fn assert_alive(pid: u32, watcher: &OwnedFd, what: &str) {
    assert!(!exits_within(watcher, SURVIVAL), "{what}: {pid} exited");
    // SAFETY: Signal 0 only checks that the process exists.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, 0) }, 0, "{what}");
    assert!(
        matches!(state(pid), Some(s) if s != 'Z'),
        "{what}: {:?}",
        state(pid)
    );
}

/// The processes whose parent is `pid`, from `/proc/*/stat`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(candidate) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{candidate}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            children.push(candidate);
        }
    }
    children
}

/// Waits until `pid` has `count` children; returns them.
fn wait_for_children(pid: u32, count: usize) -> Vec<u32> {
    for _ in 0..3000 {
        let children = children_of(pid);
        if children.len() >= count {
            return children;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{pid} never had {count} children");
}

/// A forked helper process that runs `body` with the write end of a pipe and then waits to be
/// killed (or does what `body` ends with); the test reads what it wrote.
struct Helper {
    pid: libc::pid_t,
    output: fs::File,
}

impl Helper {
    fn fork(body: impl FnOnce(&mut fs::File)) -> Helper {
        let (read, write) = sys::pipe().unwrap();
        // SAFETY: The child runs `body` (which may allocate: glibc's fork() makes that safe
        // in the copy of this multithreaded process) and never returns into the harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            drop(read);
            let mut write = fs::File::from(write);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut write)));
            drop(write);
            loop {
                // SAFETY: Waits for a signal; the helper is killed by the test.
                unsafe { libc::pause() };
            }
        }
        drop(write);
        Helper {
            pid,
            output: read.into(),
        }
    }

    /// The next line the helper wrote.
    fn line(&mut self) -> String {
        let mut line = Vec::new();
        let mut byte = [0u8];
        while self.output.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        String::from_utf8(line).unwrap()
    }

    /// Kills the helper with `signal` (unless it dies by itself) and reaps it.
    fn kill_and_reap(&self, signal: libc::c_int) {
        if signal != 0 {
            // SAFETY: Sends a signal to our own helper.
            unsafe { libc::kill(self.pid, signal) };
        }
        let mut status = 0;
        // SAFETY: Waits for our own helper.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } != self.pid {}
    }
}

/// Spawns `cmd` in the helper and writes "<pid> <guarantee>" for the test.
fn spawn_in_helper(out: &mut fs::File, cmd: &mut Command) -> Child {
    let child = cmd.stdin(Stdio::null()).spawn().unwrap();
    writeln!(out, "{} {:?}", child.id(), child.guarantee()).unwrap();
    child
}

fn parse(line: &str) -> (u32, String) {
    let (pid, guarantee) = line.split_once(' ').unwrap();
    (pid.parse().unwrap(), guarantee.to_owned())
}

#[test]
fn the_fallback_child_reports_its_guarantee_and_is_waited_for() {
    let mut child = Command::new("sh")
        .args(["-c", "exit 7"])
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    assert_eq!(child.guarantee(), Guarantee::ParentThreadSignal);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    // waitid() reaped it: the pidfd hangs up.
    assert!(reaped_within(&child.pidfd_dup(), Duration::ZERO));
    assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(7));

    let mut child = Command::new("sleep")
        .arg("1000")
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.wait_timeout(Duration::from_millis(50)).unwrap(), None);
    child.kill().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));

    // Output through pipes, as on the kernel path.
    let output = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 2"])
        .kernel_autokill(false)
        .output()
        .unwrap();
    assert_eq!(
        (output.stdout, output.stderr),
        (b"out\n".to_vec(), b"err\n".to_vec())
    );
    assert_eq!(output.status.code(), Some(2));
}

impl Child {
    /// A duplicate of the pidfd (not an autokill one on the fallback), to watch the child
    /// after the `Child` is gone.
    fn pidfd_dup(&self) -> OwnedFd {
        self.as_fd().try_clone_to_owned().unwrap()
    }
}

#[test]
fn drop_kills_and_reaps_the_fallback_child() {
    let child = Command::new("sleep")
        .arg("1000")
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    let watcher = watch(pid);
    assert_alive(pid, &watcher, "before the drop");
    drop(child);
    // Killed, and reaped by the spawner thread: no zombie.
    assert!(reaped_within(&watcher, DEATH), "state {:?}", state(pid));
    assert_eq!(state(pid), None);
}

#[test]
fn parent_sigkill_kills_the_fallback_child() {
    for (kernel_autokill, what) in [(false, "kernel_autokill(false)"), (true, "default")] {
        let mut helper = Helper::fork(|out| {
            let child = spawn_in_helper(
                out,
                Command::new("sleep")
                    .arg("1000")
                    .kernel_autokill(kernel_autokill),
            );
            std::mem::forget(child);
        });
        let (pid, guarantee) = parse(&helper.line());
        if !kernel_autokill || !crate::supported().autokill() {
            assert_eq!(guarantee, "ParentThreadSignal", "{what}");
        }
        let watcher = watch(pid);
        assert_alive(pid, &watcher, what);
        helper.kill_and_reap(libc::SIGKILL);
        assert!(
            exits_within(&watcher, DEATH),
            "{what}: survived its parent's SIGKILL"
        );
    }
}

#[test]
fn parent_abort_kills_the_fallback_child() {
    let mut helper = Helper::fork(|out| {
        let child = spawn_in_helper(
            out,
            Command::new("sleep").arg("1000").kernel_autokill(false),
        );
        // No core file of the helper.
        // SAFETY: Sets a resource limit of this process from a live struct.
        unsafe {
            libc::setrlimit(
                libc::RLIMIT_CORE,
                &libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                },
            )
        };
        let _ = out.flush();
        std::mem::forget(child);
        std::process::abort();
    });
    let (pid, guarantee) = parse(&helper.line());
    assert_eq!(guarantee, "ParentThreadSignal");
    let watcher = watch(pid);
    helper.kill_and_reap(0);
    assert!(
        exits_within(&watcher, DEATH),
        "survived its parent's abort()"
    );
}

#[test]
fn the_child_outlives_the_thread_that_spawned_it() {
    // The caller's thread spawns and exits; the child is tied to the crate's spawner thread.
    let child = std::thread::spawn(|| {
        Command::new("sleep")
            .arg("1000")
            .kernel_autokill(false)
            .spawn()
            .unwrap()
    })
    .join()
    .unwrap();
    let pid = child.id();
    let watcher = watch(pid);
    assert_alive(pid, &watcher, "after its spawning thread exited");

    // What a plain PR_SET_PDEATHSIG from the caller's thread would have done: the child of a
    // thread that exits is killed although the process lives on.
    let plain = std::thread::spawn(|| {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("1000");
        // SAFETY: `prctl()` is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        cmd.spawn().unwrap()
    })
    .join()
    .unwrap();
    let plain_watcher = watch(plain.id());
    assert!(
        exits_within(&plain_watcher, DEATH),
        "a plain PDEATHSIG child survived its thread"
    );
    let mut plain = plain;
    plain.wait().unwrap();

    assert_alive(pid, &watcher, "still");
    drop(child);
    assert!(reaped_within(&watcher, DEATH));
}

#[test]
fn kill_tree_on_the_fallback_kills_grandchildren_on_drop_and_parent_death() {
    // Drop: the init and both of its children.
    let child = Command::new("sh")
        .args(["-c", "sleep 1000 & sleep 1000 & wait"])
        .kill_tree(true)
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    assert_eq!(child.guarantee(), Guarantee::ParentThreadSignal);
    let grandchildren = wait_for_children(child.id(), 2);
    let watchers: Vec<_> = grandchildren.iter().map(|&pid| watch(pid)).collect();
    let init = watch(child.id());
    drop(child);
    assert!(reaped_within(&init, DEATH));
    for (pid, watcher) in grandchildren.iter().zip(&watchers) {
        assert!(
            exits_within(watcher, DEATH),
            "grandchild {pid} survived the drop"
        );
    }

    // Parent death: PR_SET_PDEATHSIG kills the init, which takes the namespace with it.
    let mut helper = Helper::fork(|out| {
        let child = spawn_in_helper(
            out,
            Command::new("sh")
                .args(["-c", "sleep 1000 & sleep 1000 & wait"])
                .kill_tree(true)
                .kernel_autokill(false),
        );
        std::mem::forget(child);
    });
    let (init_pid, _) = parse(&helper.line());
    let grandchildren = wait_for_children(init_pid, 2);
    let watchers: Vec<_> = grandchildren.iter().map(|&pid| watch(pid)).collect();
    let init = watch(init_pid);
    assert_alive(init_pid, &init, "the init");
    helper.kill_and_reap(libc::SIGKILL);
    assert!(exits_within(&init, DEATH), "the init survived its parent");
    for (pid, watcher) in grandchildren.iter().zip(&watchers) {
        assert!(
            exits_within(watcher, DEATH),
            "grandchild {pid} survived the parent"
        );
    }
}

#[test]
fn without_kill_tree_grandchildren_survive_the_drop() {
    // The table's "grandchildren" row: only the child is killed.
    let child = Command::new("sh")
        .args(["-c", "sleep 1000 & wait"])
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    let grandchild = wait_for_children(child.id(), 1)[0];
    let watcher = watch(grandchild);
    drop(child);
    assert_alive(grandchild, &watcher, "the grandchild without kill_tree");
    // SAFETY: Kills the orphaned sleep this test started.
    unsafe { libc::kill(grandchild as libc::pid_t, libc::SIGKILL) };
    assert!(exits_within(&watcher, DEATH));
}

#[test]
fn a_parent_gone_before_the_prctl_makes_the_child_exit() {
    // The check after PR_SET_PDEATHSIG, made to see a dead parent through the test hook: a
    // getppid() that is not ours, and (for the init of a pid namespace, whose getppid() is 0) a
    // pidfd of a process that has exited.
    // SAFETY: `getpid()` cannot fail.
    let own = unsafe { libc::getpid() };
    let live = sys::pidfd_open(own, 0).unwrap();
    let mut exited = std::process::Command::new("true").spawn().unwrap();
    let dead = sys::pidfd_open(exited.id() as libc::pid_t, 0).unwrap();
    exited.wait().unwrap();

    for (ppid, pidfd, tree, gone) in [
        (own, &live, false, false),
        (1, &live, false, true),
        (own, &dead, false, true),
        (own, &live, true, false),
        (own, &dead, true, true),
    ] {
        let mut cmd = Command::new("true");
        cmd.kernel_autokill(false).kill_tree(tree);
        cmd.test_parent = Some((ppid, pidfd.try_clone().unwrap()));
        let result = cmd.spawn();
        let what = format!(
            "ppid {ppid}, dead pidfd {}, kill_tree {tree}",
            std::ptr::eq(pidfd, &dead)
        );
        if gone {
            match result {
                Err(Error::Io(error)) => {
                    assert!(error.to_string().contains("parent died"), "{what}: {error}")
                }
                other => panic!("{what}: {:?}", other.map(|c| c.id())),
            }
        } else {
            assert!(result.unwrap().wait().unwrap().success(), "{what}");
        }
    }
}

/// A cgroup2 directory of our own under the cgroup2 mount, or `None` (printing the skip
/// line) where none can be made.
fn own_cgroup() -> Option<(String, OwnedFd)> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let Some(mount) = mounts.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        (right.split_whitespace().next() == Some("cgroup2")).then(|| {
            left.split_whitespace()
                .nth(4)
                .unwrap_or_default()
                .to_owned()
        })
    }) else {
        println!("skipped: no cgroup2 mount");
        return None;
    };
    let dir = format!("{mount}/autokill-test-{}", std::process::id());
    if let Err(error) = fs::create_dir(&dir) {
        println!("skipped: cgroup2 is not writable here ({dir}: {error})");
        return None;
    }
    let path = CString::new(dir.clone()).unwrap();
    // SAFETY: Opens a directory from a live C string.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    assert!(fd >= 0);
    // SAFETY: A new descriptor nothing else owns.
    Some((dir, unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[test]
fn drop_writes_cgroup_kill_of_the_childs_cgroup() {
    let Some((dir, fd)) = own_cgroup() else {
        return;
    };
    let child = Command::new("sh")
        .args(["-c", "sleep 1000 & wait"])
        .cgroup(fd.try_clone().unwrap())
        .kernel_autokill(false)
        .spawn()
        .unwrap();
    let grandchild = wait_for_children(child.id(), 1)[0];
    let procs = fs::read_to_string(format!("{dir}/cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|p| p == grandchild.to_string()),
        "{procs}"
    );
    let watcher = watch(grandchild);
    drop(child);
    // Without kill_tree, only cgroup.kill reaches the grandchild.
    assert!(
        exits_within(&watcher, DEATH),
        "the grandchild survived cgroup.kill"
    );
    for _ in 0..3000 {
        if fs::remove_dir(&dir).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{dir} still has processes");
}

/// A set-user-ID-root copy of `sleep` in a directory of its own under /tmp, or `None` (with
/// the skip line) where that cannot be (not root, a `nosuid` file system).
fn setuid_sleep() -> Option<(String, String)> {
    // SAFETY: `geteuid()` cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: set-user-ID exec needs root to make the program");
        return None;
    }
    let dir = format!("/tmp/autokill-setuid-{}", std::process::id());
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let program = format!("{dir}/sleep");
    let source = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| fs::metadata(p).is_ok())?;
    fs::copy(source, &program).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o4755)).unwrap();
    Some((dir, program))
}

/// The effective uid of `pid` (`/proc/<pid>/status`).
fn euid(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[test]
fn a_setuid_program_keeps_pdeathsig_only_with_no_new_privs() {
    let Some((dir, program)) = setuid_sleep() else {
        return;
    };
    for nnp in [true, false] {
        let to_run = program.clone();
        let mut helper = Helper::fork(move |out| {
            if crate::tests::become_nobody().is_err() {
                return;
            }
            let child = spawn_in_helper(
                out,
                Command::new(&to_run)
                    .arg("1000")
                    .no_new_privs(nnp)
                    .kernel_autokill(false),
            );
            std::mem::forget(child);
        });
        let line = helper.line();
        assert!(
            !line.is_empty(),
            "the helper could not become nobody or spawn"
        );
        let (pid, guarantee) = parse(&line);
        let watcher = watch(pid);
        // Wait until the program runs (its euid shows what the exec did).
        let mut seen = None;
        for _ in 0..3000 {
            seen = fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .ok()
                .filter(|c| c.starts_with(&program))
                .and_then(|_| euid(pid));
            if seen.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if nnp {
            assert_eq!(guarantee, "ParentThreadSignal");
            assert_eq!(
                seen,
                Some(65534),
                "no_new_privs: the set-user-ID bit is not honoured"
            );
            helper.kill_and_reap(libc::SIGKILL);
            assert!(
                exits_within(&watcher, DEATH),
                "the NNP child survived its parent"
            );
        } else if seen == Some(0) {
            assert_eq!(guarantee, "DropOnly");
            helper.kill_and_reap(libc::SIGKILL);
            // The kernel cleared PR_SET_PDEATHSIG at the set-user-ID exec: it lives on, as
            // DropOnly says.
            assert_alive(pid, &watcher, "the set-user-ID child without NNP");
            // SAFETY: Kills the orphan this test made.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            assert!(exits_within(&watcher, DEATH));
        } else {
            helper.kill_and_reap(libc::SIGKILL);
            // SAFETY: As above.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            println!("skipped: the set-user-ID bit is not honoured here (nosuid?): euid {seen:?}");
        }
    }
    let _ = fs::remove_dir_all(dir);
}

/// glibc's `setgid()` signals every thread (SIGSETXID) and waits for each to answer: the
/// spawner thread must not block that signal, or `setgid()` hangs for good in any thread.
#[test]
fn setxid_answers_after_a_fallback_spawn() {
    let mut child = Command::new("true").kernel_autokill(false).spawn().unwrap();
    assert!(child.wait().unwrap().success());
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: Sets the group id to the one the process has: no change.
        let ret = unsafe { libc::setgid(libc::getgid()) };
        let _ = done.send(ret);
    });
    assert_eq!(
        finished.recv_timeout(DEATH),
        Ok(0),
        "setgid() did not return: a thread blocks the C library's SIGSETXID"
    );
}

/// A thread of its own namespaces (here a UTS namespace of its own, by `unshare()` in that
/// thread only) cannot have a fallback child: the spawner thread would create it in the
/// process's namespaces instead, so the spawn fails and says why.
#[test]
fn a_thread_of_other_namespaces_is_refused() {
    // The spawner thread first (from this thread, of the process's namespaces): it takes the
    // state of the thread that starts it.
    let mut child = Command::new("true").kernel_autokill(false).spawn().unwrap();
    assert!(child.wait().unwrap().success());
    let outcome = std::thread::spawn(|| {
        // SAFETY: Gives this thread a UTS namespace of its own; nothing else changes.
        if unsafe { libc::unshare(libc::CLONE_NEWUTS) } != 0 {
            return None;
        }
        Some(
            Command::new("true")
                .kernel_autokill(false)
                .spawn()
                .map(drop),
        )
    })
    .join()
    .unwrap();
    let Some(result) = outcome else {
        println!("skipped: unshare(CLONE_NEWUTS) needs CAP_SYS_ADMIN");
        return;
    };
    match result {
        Err(Error::Io(error)) => {
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported, "{error}");
            assert!(error.to_string().contains("namespaces"), "{error}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The process's own threads still spawn.
    let mut child = Command::new("true").kernel_autokill(false).spawn().unwrap();
    assert!(child.wait().unwrap().success());
}
