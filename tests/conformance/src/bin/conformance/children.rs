// SPDX-License-Identifier: GPL-2.0

//! What is killed: children that already exited, reused pids, thread groups whose leader
//! exited or that exec'd from another thread, stopped and signal-ignoring children, pid
//! namespaces, nested chains, vfork and shared file tables.

use std::os::fd::{AsRawFd, IntoRawFd};

use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};
use conformance::verdict::{as_nobody, Ctx as _, TestResult, Verdict};
use conformance::{check, fail, skip};

use crate::common::*;

pub fn child_exited_before_close_noop(_: &Ctx) -> TestResult {
    let canary = autokill_kid()?;
    let mut s = Clone3::new(AUTOKILL_NNP)
        .spawn(ChildMode::Exit(7))
        .ctx("clone3")?;
    let fd = s.take_pidfd();
    check!(
        util::wait_reaped(fd.as_fd_borrowed(), util::death_ms()),
        "child did not exit and get reaped"
    );
    match util::exit_code(fd.as_fd_borrowed(), util::death_ms()) {
        Some(st) => check!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 7,
            "exit status {st:#x}, want exit 7"
        ),
        None => fail!("no exit status"),
    }
    util::close(fd).ctx("close of the autokill pidfd of an exited child")?;
    canary.expect_alive("after closing another child's autokill pidfd")?;
    Ok(())
}

pub fn pid_reuse_after_exit_not_killed(_: &Ctx) -> TestResult {
    for _attempt in 0..5 {
        let mut s = Clone3::new(AUTOKILL_NNP)
            .spawn(ChildMode::Exit(0))
            .ctx("clone3")?;
        let fd = s.take_pidfd();
        check!(
            util::wait_reaped(fd.as_fd_borrowed(), util::death_ms()),
            "child not reaped"
        );
        // A new process with the same pid number (set_tid).
        let again = Clone3::new(CLONE_PIDFD | CLONE_AUTOREAP)
            .set_tid(&[s.pid])
            .spawn(ChildMode::CleanPause);
        let reuse = match again {
            Ok(r) => r,
            Err(Errno(libc::EEXIST)) => continue,
            Err(e) => skip!("clone3 with set_tid: {e}"),
        };
        check!(
            reuse.pid == s.pid,
            "set_tid gave pid {}, want {}",
            reuse.pid,
            s.pid
        );
        let kid = Kid::watch(reuse)?;
        util::close(fd).ctx("close of the stale autokill pidfd")?;
        kid.expect_alive("after closing the autokill pidfd of the old process with its pid")?;
        return Ok(());
    }
    skip!("the pid was taken again each time")
}

pub fn leader_exited_group_killed(_: &Ctx) -> TestResult {
    let mut kid = spawn_kid_fn(AUTOKILL_NNP, &[], || {
        std::thread::spawn(|| util::pause_forever());
        // The leader thread exits alone; the other thread keeps the group alive.
        // SAFETY: Exits this thread only; the other thread does not use its stack.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        0
    })?;
    check!(
        util::wait_until(util::death_ms(), || {
            util::proc_status(kid.pid).is_some_and(|s| s.state == 'Z')
        }),
        "the leader did not become a zombie: {:?}",
        util::proc_status(kid.pid)
    );
    check!(
        !util::has_exited(kid.obs.as_fd_borrowed()),
        "pidfd reports exit while a thread is alive"
    );
    // The zombie leader shows state Z, so check the group: no SIGKILL pending, no exit.
    let st = util::proc_status(kid.pid).ctx("status")?;
    check!(
        st.shdpnd & util::SIGKILL_BIT == 0,
        "SIGKILL pending before the close"
    );
    check!(
        !util::wait_exit(kid.obs.as_fd_borrowed(), util::alive_ms()),
        "the group exited with one thread left"
    );
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a group whose leader exited")
}

pub fn exec_from_non_leader_thread_killed(ctx: &Ctx) -> TestResult {
    let (r, w) = util::pipe_flags(0);
    let wfd = w.as_raw_fd();
    let helper = ctx.helper.clone();
    let mut kid = spawn_kid_fn(AUTOKILL_NNP, &[wfd], move || {
        std::thread::spawn(move || exec_helper(&helper, wfd, None));
        util::pause_forever()
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("the exec'd helper")?;
    let (_, _, nnp, _) = parse_helper_line(&line)?;
    check!(nnp == 1, "no_new_privs lost across exec: {nnp}");
    let exe = std::fs::read_link(format!("/proc/{}/exe", kid.pid)).ctx_io("readlink exe")?;
    check!(
        exe.to_string_lossy().ends_with("autokill-helper"),
        "pid {} runs {exe:?}, not the helper",
        kid.pid
    );
    let info = util::pidfd_info(kid.obs.as_fd_borrowed(), PIDFD_INFO_PID).ctx("PIDFD_GET_INFO")?;
    check!(
        info.tgid as i32 == kid.pid,
        "after exec from a thread the pidfd's tgid is {}",
        info.tgid
    );
    kid.expect_alive("after exec from a non-leader thread")?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a process that exec'd from a thread")
}

trait IoCtx<T> {
    fn ctx_io(self, what: &str) -> Result<T, Verdict>;
}

impl<T> IoCtx<T> for std::io::Result<T> {
    fn ctx_io(self, what: &str) -> Result<T, Verdict> {
        self.map_err(|e| Verdict::Fail(format!("{what}: {e}")))
    }
}

pub fn multithreaded_child_all_threads_killed(_: &Ctx) -> TestResult {
    let mut kid = spawn_kid_fn(AUTOKILL_NNP, &[], || {
        for _ in 0..4 {
            std::thread::spawn(|| util::pause_forever());
        }
        util::pause_forever()
    })?;
    check!(
        util::wait_until(util::death_ms(), || {
            util::proc_status(kid.pid).is_some_and(|s| s.threads == 5)
        }),
        "child did not start 5 threads"
    );
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a 5-thread child")
}

pub fn child_ignoring_blocking_signals_killed(_: &Ctx) -> TestResult {
    let mut kid = spawn_kid_fn(AUTOKILL_NNP, &[], || {
        // SAFETY: Signal dispositions and mask of this (single-threaded) child.
        unsafe {
            for sig in 1..65 {
                libc::signal(sig, libc::SIG_IGN);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut set);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        util::pause_forever()
    })?;
    util::wait_until(util::death_ms(), || {
        util::proc_status(kid.pid).is_some_and(|s| s.sigpnd == 0)
    });
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a child ignoring and blocking signals")
}

pub fn stopped_child_killed(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    util::pidfd_send_signal(kid.obs.as_fd_borrowed(), libc::SIGSTOP).ctx("SIGSTOP")?;
    check!(
        util::wait_until(util::death_ms(), || {
            util::proc_status(kid.pid).is_some_and(|s| s.state == 'T')
        }),
        "child did not stop"
    );
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a stopped child")
}

pub fn only_thread_group_killed_not_descendants(_: &Ctx) -> TestResult {
    let (r, w) = util::pipe();
    let wfd = w.as_raw_fd();
    let mut kid = spawn_kid_fn(AUTOKILL_NNP, &[wfd], move || {
        // SAFETY: setsid and fork in a single-threaded child.
        unsafe { libc::setsid() };
        // SAFETY: As above.
        let gc = unsafe { libc::fork() };
        if gc == 0 {
            util::pause_forever();
        }
        let _ = util::write_all(wfd, format!("{gc}\n").as_bytes());
        util::pause_forever()
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("child")?;
    let gc: i32 = line
        .parse()
        .map_err(|_| Verdict::Fail(format!("bad pid {line:?}")))?;
    let gobs = util::pidfd_open(gc, 0).ctx("pidfd_open grandchild")?;
    let grandchild = Kid {
        pid: gc,
        pidfd: None,
        obs: gobs,
    };
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd (new session, with a child)")?;
    grandchild.expect_alive("after its parent was autokilled (only the thread group is killed)")?;
    Ok(())
}

pub fn newpid_init_killed(_: &Ctx) -> TestResult {
    let mut kid = spawn_kid(AUTOKILL_NNP | CLONE_NEWPID)?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", kid.pid)).unwrap_or_default();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or("")
        .to_string();
    check!(
        nspid.split_whitespace().last() == Some("1"),
        "child is not pid 1 of its namespace: {nspid:?}"
    );
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a pid namespace init")
}

pub fn newpid_descendants_die_with_init(_: &Ctx) -> TestResult {
    let (a, b) = util::socketpair();
    let bfd = b.as_raw_fd();
    let mut kid = spawn_kid_fn(AUTOKILL_NNP | CLONE_NEWPID, &[bfd], move || {
        let mut fds = Vec::new();
        for _ in 0..2 {
            // SAFETY: fork in a single-threaded child.
            let gc = unsafe { libc::fork() };
            if gc == 0 {
                util::pause_forever();
            }
            match util::pidfd_open(gc, 0) {
                Ok(fd) => fds.push(fd),
                Err(_) => return 1,
            }
        }
        let raw: Vec<i32> = fds.iter().map(|f| f.raw()).collect();
        let _ = util::send_fds(bfd, &raw);
        util::pause_forever()
    })?;
    drop(b);
    let fds = recv_fds(a.raw(), util::death_ms()).ctx("receiving grandchild pidfds")?;
    check!(fds.len() == 2, "received {} pidfds, want 2", fds.len());
    let kids: Vec<Kid> = fds
        .into_iter()
        .map(|fd| Kid {
            pid: util::fdinfo_pid(fd.raw()).unwrap_or(-1),
            pidfd: None,
            obs: fd,
        })
        .collect();
    for g in &kids {
        check!(g.pid > 0, "grandchild pidfd has no pid");
        g.expect_alive("before the init is killed")?;
    }
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of the pid namespace init")?;
    for g in &kids {
        g.expect_dies("the init of their pid namespace was autokilled")?;
    }
    Ok(())
}

/// Receives one message with any number of fds.
fn recv_fds(sock: i32, timeout_ms: i32) -> Result<Vec<std::os::fd::OwnedFd>, String> {
    use std::os::fd::FromRawFd;
    if util::poll1(sock, libc::POLLIN, timeout_ms).map_err(|e| e.to_string())? == 0 {
        return Err("timeout".into());
    }
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut cbuf = [0u64; 16];
    // SAFETY: msghdr is plain data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: `msg` points to valid buffers.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n <= 0 {
        return Err(format!("recvmsg: {}", Errno::last()));
    }
    let mut out = Vec::new();
    // SAFETY: The kernel filled the control buffer; headers are walked with the CMSG macros
    // and each fd is read within the header's data length.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err("no SCM_RIGHTS".into());
        }
        let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
        let data = libc::CMSG_DATA(c) as *const i32;
        for i in 0..n {
            out.push(std::os::fd::OwnedFd::from_raw_fd(std::ptr::read_unaligned(
                data.add(i),
            )));
        }
    }
    if out.is_empty() {
        return Err("no fds".into());
    }
    Ok(out)
}

pub fn newpid_init_killed_by_holder_inside_ns(_: &Ctx) -> TestResult {
    let (a, b) = util::socketpair();
    let (r, w) = util::pipe();
    let bfd = b.as_raw_fd();
    let wfd = w.as_raw_fd();
    let mut kid = spawn_kid_fn(AUTOKILL | CLONE_NEWPID, &[bfd, wfd], move || {
        // SAFETY: fork in a single-threaded child.
        let d = unsafe { libc::fork() };
        if d == 0 {
            let Ok(fd) = util::recv_fd(bfd, 60_000) else {
                return 1;
            };
            // From inside the namespace, SIGKILL to its init is ignored...
            // SAFETY: kill with integer arguments.
            let r = unsafe { libc::kill(1, libc::SIGKILL) };
            let _ = util::write_all(wfd, format!("{r}\n").as_bytes());
            let _ = util::read_line(bfd, 60_000);
            // ...but the autokill release sends it with kernel privilege.
            drop(fd);
            util::pause_forever();
        }
        util::pause_forever()
    })?;
    drop(b);
    drop(w);
    util::send_fd(a.raw(), kid.fd()).ctx("send the pidfd into the namespace")?;
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("process in the namespace")?;
    check!(line == "0", "kill(1, SIGKILL) inside the namespace: {line}");
    kid.expect_alive("after SIGKILL from inside its own pid namespace (ignored for init)")?;
    kid.close()?;
    kid.expect_alive("while the process inside the namespace holds the pidfd")?;
    util::write_all(a.raw(), b"go\n").ctx("write")?;
    kid.expect_killed_and_reaped("a process inside its pid namespace closed the last reference")
}

/// A, autokill child of us, autokill-spawns B, which autokill-spawns C. Returns (A, B, C).
fn build_chain() -> Result<(Kid, Kid, Kid), Verdict> {
    let (r, w) = util::pipe();
    let wfd = w.as_raw_fd();
    let a = spawn_kid_fn(AUTOKILL_NNP, &[wfd], move || {
        let b = Clone3::new(AUTOKILL_NNP).spawn_fn(move || {
            util::close_fds_except(&[wfd]);
            let Ok(c) = Clone3::new(AUTOKILL_NNP).spawn(ChildMode::CleanPause) else {
                return 1;
            };
            let _ = util::write_all(wfd, format!("C {}\n", c.pid).as_bytes());
            std::mem::forget(c);
            util::pause_forever()
        });
        let Ok(b) = b else {
            return 1;
        };
        let _ = util::write_all(wfd, format!("B {}\n", b.pid).as_bytes());
        std::mem::forget(b);
        util::pause_forever()
    })?;
    drop(w);
    let (mut bpid, mut cpid) = (0, 0);
    for _ in 0..2 {
        let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("chain")?;
        let (k, v) = line.split_once(' ').unwrap_or(("", ""));
        let p: i32 = v.parse().unwrap_or(0);
        match k {
            "B" => bpid = p,
            "C" => cpid = p,
            _ => fail!("bad line {line:?}"),
        }
    }
    let watch = |pid: i32| -> Result<Kid, Verdict> {
        Ok(Kid {
            pid,
            pidfd: None,
            obs: util::pidfd_open(pid, 0).ctx("pidfd_open")?,
        })
    };
    let b = watch(bpid)?;
    let c = watch(cpid)?;
    Ok((a, b, c))
}

fn chain_kills_transitively() -> TestResult {
    let (mut a, b, c) = build_chain()?;
    a.expect_alive("before the close")?;
    b.expect_alive("before the close")?;
    c.expect_alive("before the close")?;
    a.close()?;
    a.expect_killed_and_reaped("closing A's pidfd")?;
    b.expect_killed_and_reaped("A (holding B's pidfd) died")?;
    c.expect_killed_and_reaped("B (holding C's pidfd) died")
}

pub fn nested_chain_kills_transitively(_: &Ctx) -> TestResult {
    chain_kills_transitively()
}

pub fn nested_chain_unprivileged(_: &Ctx) -> TestResult {
    as_nobody(chain_kills_transitively)
}

pub fn nested_chain_middle_kill_spares_top(_: &Ctx) -> TestResult {
    let (a, b, c) = build_chain()?;
    util::pidfd_send_signal(b.obs.as_fd_borrowed(), libc::SIGKILL).ctx("kill B")?;
    b.expect_dies("SIGKILL")?;
    c.expect_killed_and_reaped("B (holding C's pidfd) was killed")?;
    a.expect_alive("after its child B died")?;
    Ok(())
}

pub fn vfork_autokill_exec(ctx: &Ctx) -> TestResult {
    let (r, w) = util::pipe_flags(0);
    let wfd = w.as_raw_fd();
    let helper = ctx.helper.clone();
    // CLONE_VFORK: we are suspended until the child execs.
    let mut kid = spawn_kid_fn(AUTOKILL_NNP | CLONE_VFORK, &[wfd], move || {
        exec_helper(&helper, wfd, None)
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("helper")?;
    parse_helper_line(&line)?;
    check!(
        is_autokill_fd(kid.fd())?,
        "vfork autokill pidfd lacks O_TRUNC"
    );
    kid.expect_alive("after vfork+exec")?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a vfork child")
}

pub fn clone_files_shared_table(_: &Ctx) -> TestResult {
    // The child shares our fd table, so it sees (and holds through the table) the pidfd: the
    // close removes it from the one table and is the last reference.
    let s = Clone3::new(AUTOKILL_NNP | CLONE_FILES)
        .spawn(ChildMode::Pause)
        .ctx("clone3 with CLONE_FILES")?;
    let mut kid = Kid::watch(s)?;
    check!(is_autokill_fd(kid.fd())?, "pidfd lacks O_TRUNC");
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd in the shared table")
}

pub fn clone_files_child_closes_own_pidfd(_: &Ctx) -> TestResult {
    let (r, w) = util::pipe();
    let rfd = r.as_raw_fd();
    let mut kid = spawn_kid_fn_shared(AUTOKILL_NNP | CLONE_FILES, move || {
        let line = util::read_line(rfd, 60_000).unwrap_or_default();
        if let Ok(fd) = line.parse::<i32>() {
            // The child closes its own autokill pidfd through the shared table.
            let _ = util::close_raw(fd);
        }
        util::pause_forever()
    })?;
    let fd = kid.take().into_raw_fd();
    util::write_all(w.as_raw_fd(), format!("{fd}\n").as_bytes()).ctx("write")?;
    kid.expect_killed_and_reaped("the child closed its own autokill pidfd (shared table)")
}

/// A fork-like child with a shared fd table (nothing is closed in it).
fn spawn_kid_fn_shared<F: FnOnce() -> i32>(flags: u64, f: F) -> Result<Kid, Verdict> {
    let s = Clone3::new(flags).spawn_fn(f).ctx("clone3")?;
    Kid::watch(s)
}
