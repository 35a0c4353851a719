// SPDX-License-Identifier: GPL-2.0

//! Which files are autokill files, and when the last reference goes away: flags, other ways to
//! open a pidfd, dup/dup2/dup3/close_range, fork, exec, pidfd_getfd, holders dying, epoll,
//! poll and io_uring.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use conformance::errno::{cvt, Errno};
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};
use conformance::verdict::{Ctx as _, TestResult};
use conformance::{check, fail};

use crate::common::*;

pub fn fdflags_o_trunc_visible(_: &Ctx) -> TestResult {
    let kid = autokill_kid()?;
    let fl = util::getfl(kid.fd()).ctx("F_GETFL")?;
    check!(fl & PIDFD_AUTOKILL != 0, "F_GETFL {fl:#o} lacks O_TRUNC");
    let fi = util::fdinfo_flags(kid.fd()).ctx("fdinfo flags")?;
    check!(
        fi & libc::O_TRUNC as u32 != 0,
        "fdinfo flags {fi:#o} lacks O_TRUNC (01000)"
    );
    check!(
        fi & libc::O_RDWR as u32 != 0,
        "fdinfo flags {fi:#o} lacks O_RDWR"
    );
    check!(
        util::fdinfo_pid(kid.fd()) == Some(kid.pid),
        "fdinfo Pid {:?}, want {}",
        util::fdinfo_pid(kid.fd()),
        kid.pid
    );
    // The observer from pidfd_open() and a plain autoreap pidfd are not autokill files.
    check!(
        !is_autokill_fd(kid.obs.raw())?,
        "pidfd_open() fd has O_TRUNC"
    );
    let fi = util::fdinfo_flags(kid.obs.raw()).ctx("fdinfo flags")?;
    check!(
        fi & libc::O_TRUNC as u32 == 0,
        "pidfd_open() fdinfo flags {fi:#o}"
    );
    let plain = spawn_kid(CLONE_PIDFD | CLONE_AUTOREAP)?;
    check!(
        !is_autokill_fd(plain.fd())?,
        "CLONE_PIDFD|CLONE_AUTOREAP pidfd has O_TRUNC"
    );
    let nnp = spawn_kid(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_NNP)?;
    check!(!is_autokill_fd(nnp.fd())?, "CLONE_NNP pidfd has O_TRUNC");
    Ok(())
}

pub fn fdflags_setfl_cannot_clear(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let fl = util::getfl(kid.fd()).ctx("F_GETFL")?;
    util::setfl(kid.fd(), (fl & !PIDFD_AUTOKILL) | libc::O_NONBLOCK).ctx("F_SETFL")?;
    let fl2 = util::getfl(kid.fd()).ctx("F_GETFL")?;
    check!(
        fl2 & libc::O_NONBLOCK != 0,
        "F_SETFL O_NONBLOCK did not stick: {fl2:#o}"
    );
    check!(
        fl2 & PIDFD_AUTOKILL != 0,
        "F_SETFL cleared O_TRUNC: {fl2:#o}"
    );
    util::setfl(kid.fd(), 0).ctx("F_SETFL 0")?;
    check!(is_autokill_fd(kid.fd())?, "F_SETFL(0) cleared O_TRUNC");
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd after F_SETFL")
}

pub fn fdflags_setfl_cannot_set(_: &Ctx) -> TestResult {
    let mut kid = spawn_kid(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_NNP)?;
    util::setfl(kid.fd(), libc::O_TRUNC).ctx("F_SETFL O_TRUNC")?;
    check!(
        !is_autokill_fd(kid.fd())?,
        "F_SETFL set O_TRUNC on a clone pidfd"
    );
    let o = util::pidfd_open(kid.pid, 0).ctx("pidfd_open")?;
    util::setfl(o.raw(), libc::O_TRUNC | libc::O_NONBLOCK).ctx("F_SETFL O_TRUNC")?;
    check!(
        !is_autokill_fd(o.raw())?,
        "F_SETFL set O_TRUNC on a pidfd_open() fd"
    );
    util::close(o).ctx("close")?;
    kid.close()?;
    kid.expect_alive("after closing pidfds that F_SETFL tried to arm")
}

pub fn pidfd_open_never_autokill(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    match util::pidfd_open(kid.pid, libc::O_TRUNC as u32) {
        Err(Errno::EINVAL) => {}
        r => fail!("pidfd_open(pid, O_TRUNC): {r:?}, want EINVAL"),
    }
    for flags in [
        0,
        PIDFD_NONBLOCK,
        PIDFD_THREAD,
        PIDFD_NONBLOCK | PIDFD_THREAD,
    ] {
        let o = util::pidfd_open(kid.pid, flags).ctx("pidfd_open")?;
        check!(
            !is_autokill_fd(o.raw())?,
            "pidfd_open(flags {flags:#o}) has O_TRUNC"
        );
        util::close(o).ctx("close")?;
    }
    kid.expect_alive("after closing pidfd_open() fds")?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the clone pidfd")
}

#[repr(C)]
struct FileHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; 128],
}

pub fn open_by_handle_never_autokill(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let mut fh = FileHandle {
        handle_bytes: 128,
        handle_type: 0,
        f_handle: [0; 128],
    };
    let mut mnt_id = 0;
    let empty = c"";
    // SAFETY: `fh` has room for 128 handle bytes as declared; the path is a C string.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            kid.fd(),
            empty.as_ptr(),
            &mut fh as *mut FileHandle,
            &mut mnt_id as *mut i32,
            libc::AT_EMPTY_PATH,
        )
    })
    .ctx("name_to_handle_at on the autokill pidfd")?;
    let open = |flags: i32| -> Result<OwnedFd, Errno> {
        // SAFETY: `fh` holds a handle the kernel filled in; the mount fd is a pidfd.
        let fd = cvt(unsafe {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                kid.obs.raw(),
                &fh as *const FileHandle,
                flags,
            )
        })?;
        // SAFETY: A new fd nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    };
    match open(libc::O_RDWR | libc::O_TRUNC) {
        Err(Errno::EINVAL) => {}
        Ok(_) => fail!("open_by_handle_at(O_TRUNC) succeeded"),
        Err(e) => fail!("open_by_handle_at(O_TRUNC): {e}, want EINVAL"),
    }
    let mut st1: libc::stat = unsafe_zeroed_stat();
    // SAFETY: fstat into a local struct.
    cvt(unsafe { libc::fstat(kid.fd(), &mut st1) }).ctx("fstat")?;
    for flags in [
        0,
        libc::O_RDWR,
        libc::O_CLOEXEC,
        libc::O_NONBLOCK,
        libc::O_EXCL,
    ] {
        let fd = open(flags).ctx(&format!("open_by_handle_at(flags {flags:#o})"))?;
        let mut st2: libc::stat = unsafe_zeroed_stat();
        // SAFETY: fstat into a local struct.
        cvt(unsafe { libc::fstat(fd.raw(), &mut st2) }).ctx("fstat")?;
        check!(
            st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev,
            "the handle opened another inode"
        );
        check!(
            !is_autokill_fd(fd.raw())?,
            "open_by_handle_at(flags {flags:#o}) has O_TRUNC"
        );
        util::close(fd).ctx("close")?;
    }
    kid.expect_alive("after closing fds opened by handle")?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the clone pidfd")
}

fn unsafe_zeroed_stat() -> libc::stat {
    // SAFETY: `struct stat` is plain data; all zeroes is valid.
    unsafe { std::mem::zeroed() }
}

pub fn proc_fd_reopen_never_autokill(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let path = std::ffi::CString::new(format!("/proc/self/fd/{}", kid.fd())).expect("path");
    let mut opened = 0;
    for flags in [libc::O_RDONLY, libc::O_RDWR, libc::O_RDWR | libc::O_TRUNC] {
        // SAFETY: open with a C string path.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            opened += 1;
            // SAFETY: A new fd nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            check!(
                !is_autokill_fd(fd.raw())?,
                "reopening through /proc (flags {flags:#o}) gave an O_TRUNC file"
            );
            util::close(fd).ctx("close")?;
        }
    }
    kid.expect_alive(&format!(
        "after closing {opened} fds reopened through /proc/self/fd"
    ))?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the clone pidfd")
}

pub fn dup_keeps_alive_until_last_close(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let d1 = util::dup(kid.fd()).ctx("dup")?;
    let d2 = util::dup(d1.raw()).ctx("dup")?;
    check!(is_autokill_fd(d2.raw())?, "dup lost O_TRUNC");
    kid.close()?;
    kid.expect_alive("after closing the original (two dups left)")?;
    util::close(d1).ctx("close")?;
    kid.expect_alive("after closing the first dup (one left)")?;
    util::close(d2).ctx("close")?;
    kid.expect_killed_and_reaped("closing the last dup")
}

pub fn dup2_over_last_ref_kills(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let target = 200;
    // SAFETY: dup2 onto an unused fd number.
    cvt(unsafe { libc::dup2(kid.fd(), target) }).ctx("dup2")?;
    kid.close()?;
    kid.expect_alive("with the copy at fd 200")?;
    let (r, _w) = util::pipe();
    // Replacing the last reference by another file closes it.
    // SAFETY: dup2 over our own fd 200.
    cvt(unsafe { libc::dup2(r.raw(), target) }).ctx("dup2 over the copy")?;
    let res = kid.expect_killed_and_reaped("dup2() replaced the last reference");
    util::close_raw(target).ctx("close")?;
    res
}

pub fn dup3_cloexec_copy_keeps_alive(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let target = 201;
    // SAFETY: dup3 onto an unused fd number.
    cvt(unsafe { libc::dup3(kid.fd(), target, libc::O_CLOEXEC) }).ctx("dup3")?;
    check!(is_autokill_fd(target)?, "dup3 copy lacks O_TRUNC");
    kid.close()?;
    kid.expect_alive("with the O_CLOEXEC copy")?;
    // dup3 onto itself is EINVAL and must not drop anything.
    // SAFETY: dup3 with equal fds fails without side effects.
    let r = unsafe { libc::dup3(target, target, 0) };
    check!(
        r == -1 && Errno::last() == Errno::EINVAL,
        "dup3(fd, fd): {r}"
    );
    kid.expect_alive("after dup3(fd, fd)")?;
    util::close_raw(target).ctx("close")?;
    kid.expect_killed_and_reaped("closing the dup3 copy")
}

pub fn fcntl_dupfd_keeps_alive(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    // SAFETY: fcntl with integer arguments.
    let a =
        cvt(unsafe { libc::fcntl(kid.fd(), libc::F_DUPFD_CLOEXEC, 300) }).ctx("F_DUPFD_CLOEXEC")?;
    // SAFETY: fcntl with integer arguments.
    let b = cvt(unsafe { libc::fcntl(a, libc::F_DUPFD, 310) }).ctx("F_DUPFD")?;
    kid.close()?;
    util::close_raw(a).ctx("close")?;
    kid.expect_alive("with the F_DUPFD copy")?;
    util::close_raw(b).ctx("close")?;
    kid.expect_killed_and_reaped("closing the F_DUPFD copy")
}

fn close_range(first: u32, last: u32, flags: u32) -> Result<(), Errno> {
    // SAFETY: close_range with integer arguments; the range holds only our test fds.
    cvt(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) })?;
    Ok(())
}

pub fn close_range_partial_and_full(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    for fd in 400..404 {
        // SAFETY: dup2 onto unused fd numbers.
        cvt(unsafe { libc::dup2(kid.fd(), fd) }).ctx("dup2")?;
    }
    kid.close()?;
    close_range(400, 402, 0).ctx("close_range 400..402")?;
    kid.expect_alive("after close_range() left fd 403")?;
    // CLOSE_RANGE_CLOEXEC only marks.
    close_range(403, 403, libc::CLOSE_RANGE_CLOEXEC).ctx("close_range CLOEXEC")?;
    kid.expect_alive("after close_range(CLOSE_RANGE_CLOEXEC)")?;
    close_range(400, 500, 0).ctx("close_range 400..500")?;
    kid.expect_killed_and_reaped("close_range() closed the last reference")
}

/// Forks a holder that keeps `fd` (FD_CLOEXEC as given), prepares with `prep`, execs the
/// helper with `fd` and reports the helper's line. Returns (holder pid, line).
fn exec_holder(
    ctx: &Ctx,
    fd: RawFd,
    prep: impl FnOnce(RawFd) -> Result<(), Errno>,
) -> Result<(i32, String), conformance::verdict::Verdict> {
    let (r, w) = util::pipe();
    let helper = ctx.helper.clone();
    let wfd = w.as_raw_fd();
    let pid = fork_proc(move || {
        if let Err(e) = prep(fd) {
            eprintln!("holder prep: {e}");
            return 126;
        }
        exec_helper(&helper, wfd, Some(fd))
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("the exec'd helper")?;
    Ok((pid, line))
}

pub fn exec_holder_without_cloexec_keeps_fd(ctx: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let fd = kid.fd();
    let (holder, line) = exec_holder(ctx, fd, |fd| util::set_cloexec(fd, false))?;
    let (_, _, _, flags) = parse_helper_line(&line)?;
    check!(
        flags >= 0 && flags & PIDFD_AUTOKILL != 0,
        "the exec'd helper's inherited fd: F_GETFL {flags}"
    );
    kid.close()?;
    kid.expect_alive("while the exec'd helper holds the fd")?;
    util::kill_reap(holder);
    kid.expect_killed_and_reaped("the exec'd helper died")
}

pub fn exec_holder_with_cloexec_kills(ctx: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let dupfd = util::dup(kid.fd()).ctx("dup")?;
    // The dup is not close-on-exec in our process; the holder marks its copies close-on-exec.
    let fd = dupfd.raw();
    kid.close()?;
    let (r, w) = util::pipe();
    let helper = ctx.helper.clone();
    let wfd = w.as_raw_fd();
    let holder = fork_proc(move || {
        let _ = util::set_cloexec(fd, true);
        exec_helper(&helper, wfd, Some(fd))
    })?;
    drop(w);
    util::close(dupfd).ctx("close our copy")?;
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("the exec'd helper")?;
    let (_, _, _, flags) = parse_helper_line(&line)?;
    check!(
        flags == -1,
        "the O_CLOEXEC fd survived exec: F_GETFL {flags}"
    );
    let res = kid.expect_killed_and_reaped("exec() closed the O_CLOEXEC reference");
    util::kill_reap(holder);
    res
}

pub fn close_range_cloexec_then_exec_kills(ctx: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let d = util::dup(kid.fd()).ctx("dup")?;
    let fd = d.raw();
    kid.close()?;
    let (r, w) = util::pipe_flags(0);
    let helper = ctx.helper.clone();
    let wfd = w.as_raw_fd();
    let holder = fork_proc(move || {
        // Everything from fd 3 up becomes close-on-exec, except the notify pipe (cleared again).
        // SAFETY: close_range with integer arguments.
        unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        exec_helper(&helper, wfd, Some(fd))
    })?;
    drop(w);
    util::close(d).ctx("close")?;
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("helper")?;
    let (_, _, _, flags) = parse_helper_line(&line)?;
    check!(
        flags == -1,
        "fd survived exec after CLOSE_RANGE_CLOEXEC: {flags}"
    );
    let res = kid.expect_killed_and_reaped("exec() after close_range(CLOSE_RANGE_CLOEXEC)");
    util::kill_reap(holder);
    res
}

pub fn pidfd_getfd_copy_keeps_alive(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let (r, w) = util::pipe();
    let fd = kid.fd();
    // A holder that keeps a copy (fork) and waits.
    let (r_raw, w_raw) = (r.as_raw_fd(), w.as_raw_fd());
    let holder = fork_proc(move || {
        let _ = util::close_raw(w_raw);
        let _ = util::read_line(r_raw, 60_000);
        0
    })?;
    let hfd = util::pidfd_open(holder, 0).ctx("pidfd_open holder")?;
    kid.close()?;
    let copy = util::pidfd_getfd(hfd.as_fd_borrowed(), fd).ctx("pidfd_getfd")?;
    check!(
        is_autokill_fd(copy.raw())?,
        "pidfd_getfd copy lacks O_TRUNC"
    );
    util::kill_reap(holder);
    kid.expect_alive("with the pidfd_getfd() copy after the holder died")?;
    util::close(copy).ctx("close")?;
    kid.expect_killed_and_reaped("closing the pidfd_getfd() copy")
}

pub fn fork_holder_child_copy_keeps_alive(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let (r, w) = util::pipe();
    let (r_raw, w_raw) = (r.as_raw_fd(), w.as_raw_fd());
    let holder = fork_proc(move || {
        let _ = util::close_raw(w_raw);
        let _ = util::read_line(r_raw, 60_000);
        0
    })?;
    kid.close()?;
    kid.expect_alive("while the forked child holds its copy")?;
    util::kill_reap(holder);
    kid.expect_killed_and_reaped("the forked holder died")
}

pub fn fork_holder_parent_copy_keeps_alive(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let fd = kid.fd();
    let holder = fork_proc(move || {
        let _ = util::close_raw(fd);
        0
    })?;
    util::reap(holder).ctx("reap holder")?;
    kid.expect_alive("after the forked child closed its copy and exited")?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the parent's copy")
}

pub fn holder_sigkilled_kills_child(_: &Ctx) -> TestResult {
    let (r, w) = util::pipe();
    let wfd = w.as_raw_fd();
    let holder = fork_proc(move || {
        let Ok(s) = Clone3::new(AUTOKILL_NNP).spawn(ChildMode::Pause) else {
            return 1;
        };
        let _ = util::write_all(wfd, format!("{}\n", s.pid).as_bytes());
        std::mem::forget(s);
        util::pause_forever()
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("holder")?;
    let pid: i32 = line
        .parse()
        .map_err(|_| conformance::verdict::Verdict::Fail(format!("bad pid {line:?}")))?;
    let obs = util::pidfd_open(pid, 0).ctx("pidfd_open")?;
    let kid = Kid {
        pid,
        pidfd: None,
        obs,
    };
    kid.expect_alive("while the holder lives")?;
    // SAFETY: kill with integer arguments.
    unsafe { libc::kill(holder, libc::SIGKILL) };
    let res = kid.expect_killed_and_reaped("the holder was SIGKILLed");
    let _ = util::reap(holder);
    res
}

pub fn holder_exit_kills_all_its_children(_: &Ctx) -> TestResult {
    let (r, w) = util::pipe();
    let (gr, gw) = util::pipe();
    let wfd = w.as_raw_fd();
    let gw_raw = gw.as_raw_fd();
    let gr_raw = gr.as_raw_fd();
    let holder = fork_proc(move || {
        let _ = util::close_raw(gw_raw);
        let mut pids = Vec::new();
        for _ in 0..3 {
            let Ok(s) = Clone3::new(AUTOKILL_NNP).spawn(ChildMode::Pause) else {
                return 1;
            };
            pids.push(s.pid.to_string());
            std::mem::forget(s);
        }
        let _ = util::write_all(wfd, format!("{}\n", pids.join(" ")).as_bytes());
        let _ = util::read_line(gr_raw, 60_000);
        // exit() closes every fd.
        0
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("holder")?;
    let mut kids = Vec::new();
    for p in line.split_whitespace() {
        let pid: i32 = p.parse().unwrap_or(-1);
        let obs = util::pidfd_open(pid, 0).ctx("pidfd_open")?;
        kids.push(Kid {
            pid,
            pidfd: None,
            obs,
        });
    }
    check!(kids.len() == 3, "holder reported {line:?}");
    kids[0].expect_alive("while the holder lives")?;
    drop(gw);
    for k in &kids {
        k.expect_killed_and_reaped("the holder exited")?;
    }
    util::reap(holder).ctx("reap")?;
    Ok(())
}

pub fn epoll_registration_holds_no_ref(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    // SAFETY: epoll_create1 with a flag.
    let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }).ctx("epoll_create1")?;
    // SAFETY: A new fd nothing else owns.
    let ep = unsafe { OwnedFd::from_raw_fd(ep) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 1,
    };
    // SAFETY: `ev` is a valid epoll_event.
    cvt(unsafe { libc::epoll_ctl(ep.raw(), libc::EPOLL_CTL_ADD, kid.fd(), &mut ev) })
        .ctx("EPOLL_CTL_ADD")?;
    // A dup keeps it alive, the epoll registration does not.
    let d = util::dup(kid.fd()).ctx("dup")?;
    kid.close()?;
    kid.expect_alive("with a dup left (registered in epoll)")?;
    util::close(d).ctx("close")?;
    kid.expect_killed_and_reaped("closing the last fd while registered in epoll")?;
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: `out` has room for 4 events.
    let n = unsafe { libc::epoll_wait(ep.raw(), out.as_mut_ptr(), 4, 0) };
    check!(n == 0, "epoll still reports the released file: {n}");
    Ok(())
}

/// The system calls a thread in `epoll_wait()` can be in (arm64 has no `epoll_wait`).
#[cfg(target_arch = "x86_64")]
const EPOLL_WAITS: &[libc::c_long] = &[
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
];
#[cfg(not(target_arch = "x86_64"))]
const EPOLL_WAITS: &[libc::c_long] = &[libc::SYS_epoll_pwait, libc::SYS_epoll_pwait2];

pub fn epoll_wait_in_progress_holds_no_ref(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    // SAFETY: epoll_create1 with a flag.
    let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }).ctx("epoll_create1")?;
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 1,
    };
    // SAFETY: `ev` is a valid epoll_event.
    cvt(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, kid.fd(), &mut ev) })
        .ctx("EPOLL_CTL_ADD")?;
    let waiter = std::thread::spawn(move || {
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 1];
        // SAFETY: `out` has room for one event.
        unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 1, 3000) }
    });
    // Let the thread block in epoll_wait().
    let tid_blocked =
        util::wait_until(util::death_ms(), || in_syscall_of_other_thread(EPOLL_WAITS));
    kid.close()?;
    let res =
        kid.expect_killed_and_reaped("closing the fd while another thread is in epoll_wait()");
    let n = waiter.join().unwrap_or(-2);
    util::close_raw(ep).ctx("close epoll")?;
    res?;
    check!(
        tid_blocked,
        "the thread never blocked in epoll_wait (setup)"
    );
    // The pidfd reported exit (EPOLLIN) before its removal, or nothing.
    check!(n >= 0, "epoll_wait: {n}");
    Ok(())
}

/// Whether some other thread of ours is blocked in system call `nr` (from
/// `/proc/self/task/*/syscall`).
pub fn in_syscall_of_other_thread(nrs: &[i64]) -> bool {
    let me = util::gettid();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    for e in dir.flatten() {
        let tid: i32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
        if tid == me {
            continue;
        }
        let sc =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).unwrap_or_default();
        let stat =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next());
        let nr = sc
            .split_whitespace()
            .next()
            .and_then(|x| x.parse::<i64>().ok());
        if nr.is_some_and(|n| nrs.contains(&n)) && state == Some("S") {
            return true;
        }
    }
    false
}

/// The system calls a thread in `poll()` can be in (arm64 has only `ppoll()`).
#[cfg(target_arch = "x86_64")]
const POLLS: &[libc::c_long] = &[libc::SYS_poll, libc::SYS_ppoll];
#[cfg(not(target_arch = "x86_64"))]
const POLLS: &[libc::c_long] = &[libc::SYS_ppoll];

pub fn poll_in_progress_delays_release(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let fd = kid.fd();
    let poll_ms = 3 * util::alive_ms() + 1500;
    let poller = std::thread::spawn(move || util::poll1(fd, libc::POLLIN, poll_ms));
    check!(
        util::wait_until(util::death_ms(), || in_syscall_of_other_thread(POLLS)),
        "the thread never blocked in poll (setup)"
    );
    // poll()'s wait queue entry holds a reference to the file: closing the fd does not drop
    // the last reference until poll() returns.
    kid.close()?;
    let alive = kid.expect_alive("while another thread is still in poll() on the fd");
    let pr = poller.join();
    alive?;
    // A timeout: 0, or POLLNVAL from the final scan after the timeout (the fd number is
    // closed by then); not POLLIN (the child stayed alive while poll() held the file).
    check!(
        matches!(pr, Ok(Ok(r)) if r & !libc::POLLNVAL == 0),
        "poll in the thread: {pr:?}, want a timeout (0 or POLLNVAL)"
    );
    kid.expect_killed_and_reaped("poll() returned and dropped its reference")
}

/// Raw io_uring: a ring fd.
fn io_uring_setup() -> Result<OwnedFd, Errno> {
    let mut params = [0u8; 120];
    // SAFETY: `params` is a zeroed `struct io_uring_params` (120 bytes).
    let fd = cvt(unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) })?;
    // SAFETY: A new fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn io_uring_register(ring: RawFd, op: libc::c_uint, fds: &[RawFd]) -> Result<(), Errno> {
    let (arg, n) = if fds.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (fds.as_ptr(), fds.len() as u32)
    };
    // SAFETY: `arg` points to `n` ints (or is null with 0).
    cvt(unsafe { libc::syscall(libc::SYS_io_uring_register, ring, op, arg, n) })?;
    Ok(())
}

pub fn io_uring_registered_file_holds_ref(_: &Ctx) -> TestResult {
    let ring = match io_uring_setup() {
        Ok(r) => r,
        Err(e) => conformance::skip!("io_uring_setup: {e}"),
    };
    let mut kid = autokill_kid()?;
    io_uring_register(ring.raw(), IORING_REGISTER_FILES, &[kid.fd()])
        .ctx("IORING_REGISTER_FILES")?;
    kid.close()?;
    kid.expect_alive("while the io_uring file table holds the file")?;
    io_uring_register(ring.raw(), IORING_UNREGISTER_FILES, &[]).ctx("IORING_UNREGISTER_FILES")?;
    kid.expect_killed_and_reaped("unregistering the io_uring file table")
}

pub fn io_uring_ring_close_releases_ref(_: &Ctx) -> TestResult {
    let ring = match io_uring_setup() {
        Ok(r) => r,
        Err(e) => conformance::skip!("io_uring_setup: {e}"),
    };
    let mut kid = autokill_kid()?;
    io_uring_register(ring.raw(), IORING_REGISTER_FILES, &[kid.fd()])
        .ctx("IORING_REGISTER_FILES")?;
    kid.close()?;
    kid.expect_alive("while the ring holds the file")?;
    util::close(ring).ctx("close ring")?;
    kid.expect_killed_and_reaped("closing the io_uring (asynchronous teardown)")
}
