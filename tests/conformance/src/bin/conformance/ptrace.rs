// SPDX-License-Identifier: GPL-2.0

//! ptrace of autoreap and autokill children: the tracer sees stops and exits, the zombie is kept
//! for the tracer, and autoreap applies once the tracer lets go.

use std::os::fd::AsRawFd;

use conformance::errno::{cvt, Errno};
use conformance::sys::*;
use conformance::util::{self, FdExt};
use conformance::verdict::{Ctx as _, TestResult, Verdict};
use conformance::{check, fail};

use crate::common::*;

fn ptrace(req: libc::c_uint, pid: i32) -> Result<(), Errno> {
    // SAFETY: ptrace requests without memory arguments (addr and data 0).
    cvt(unsafe { libc::ptrace(req, pid, 0usize, 0usize) })?;
    Ok(())
}

/// Waits (`__WALL`) for a state change of `pid` within the death timeout; returns the status
/// (`WNOWAIT` keeps an exited child waitable).
fn wait_change(pid: i32, extra: i32) -> Result<i32, Verdict> {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(util::death_ms() as u64);
    loop {
        let mut st = 0;
        // SAFETY: waitpid into a local int.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL | libc::WNOHANG | extra) };
        if r == pid {
            return Ok(st);
        }
        if r < 0 {
            fail!("waitpid({pid}): {}", Errno::last());
        }
        if std::time::Instant::now() >= deadline {
            fail!("no state change of {pid} within {} ms", util::death_ms());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// An autoreap (not autokill) pausing child.
fn autoreap_kid() -> Result<Kid, Verdict> {
    spawn_kid(CLONE_PIDFD | CLONE_AUTOREAP)
}

pub fn seize_interrupt_detach_autoreaps(_: &Ctx) -> TestResult {
    let kid = autoreap_kid()?;
    ptrace(libc::PTRACE_SEIZE, kid.pid).ctx("PTRACE_SEIZE of an autoreap child")?;
    ptrace(libc::PTRACE_INTERRUPT, kid.pid).ctx("PTRACE_INTERRUPT")?;
    let st = wait_change(kid.pid, 0)?;
    check!(
        libc::WIFSTOPPED(st) && st >> 16 == libc::PTRACE_EVENT_STOP,
        "tracer saw status {st:#x}, want a PTRACE_EVENT_STOP"
    );
    ptrace(libc::PTRACE_DETACH, kid.pid).ctx("PTRACE_DETACH")?;
    kid.expect_alive("after the detach")?;
    util::pidfd_send_signal(kid.obs.as_fd_borrowed(), libc::SIGKILL).ctx("kill")?;
    kid.expect_killed_and_reaped("SIGKILL after the tracer detached")
}

pub fn parent_tracer_reaps_exit(_: &Ctx) -> TestResult {
    let kid = autoreap_kid()?;
    ptrace(libc::PTRACE_SEIZE, kid.pid).ctx("PTRACE_SEIZE")?;
    util::pidfd_send_signal(kid.obs.as_fd_borrowed(), libc::SIGKILL).ctx("kill")?;
    kid.expect_dies("SIGKILL")?;
    // Traced: the exit is reported to the tracer (here also the parent), not autoreaped.
    check!(
        util::fdinfo_pid(kid.obs.raw()) == Some(kid.pid),
        "the traced autoreap child was reaped before its tracer waited (Pid {:?})",
        util::fdinfo_pid(kid.obs.raw())
    );
    let st = wait_change(kid.pid, 0)?;
    check!(
        libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL,
        "tracer saw {st:#x}, want killed by SIGKILL"
    );
    check!(
        util::wait_reaped(kid.obs.as_fd_borrowed(), util::death_ms()),
        "not released"
    );
    match util::waitid_nohang(kid.pid) {
        Err(Errno::ECHILD) => Ok(()),
        r => fail!("waitid after the tracer reaped: {r:?}"),
    }
}

/// A tracer process: seizes `pid`, reports, then follows the script of `reap`.
fn foreign_tracer(pid: i32, reap: bool) -> Result<(i32, i32, i32), Verdict> {
    let (r, w) = util::pipe();
    let (gr, gw) = util::pipe();
    let wfd = w.as_raw_fd();
    let (gw_raw, gr_raw) = (gw.as_raw_fd(), gr.as_raw_fd());
    let tracer = fork_proc(move || {
        let _ = util::close_raw(gw_raw);
        let res = ptrace(libc::PTRACE_SEIZE, pid);
        let _ = util::write_all(wfd, format!("seized {res:?}\n").as_bytes());
        if res.is_err() {
            return 1;
        }
        // Wait for the exit without reaping.
        let w = util::waitid(
            libc::P_PID,
            pid as u32,
            libc::WEXITED | libc::WNOWAIT | libc::__WALL,
        );
        let msg = match w {
            Ok(i) => format!("exited {} {}\n", i.code, i.status),
            Err(e) => format!("error {e}\n"),
        };
        let _ = util::write_all(wfd, msg.as_bytes());
        let _ = util::read_line(gr_raw, 60_000);
        if reap {
            let mut st = 0;
            // SAFETY: waitpid into a local int.
            let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL) };
            let _ = util::write_all(wfd, format!("reaped {r} {st}\n").as_bytes());
            let _ = util::read_line(gr_raw, 60_000);
        }
        0
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("tracer")?;
    check!(line == "seized Ok(())", "tracer: {line}");
    // Keep the pipe ends for the caller through leaking into raw fds.
    let rfd = std::os::fd::IntoRawFd::into_raw_fd(r);
    let gwfd = std::os::fd::IntoRawFd::into_raw_fd(gw);
    Ok((tracer, rfd, gwfd))
}

pub fn foreign_tracer_holds_zombie_then_autoreap(_: &Ctx) -> TestResult {
    let kid = autoreap_kid()?;
    let (tracer, r, gw) = foreign_tracer(kid.pid, true)?;
    util::pidfd_send_signal(kid.obs.as_fd_borrowed(), libc::SIGKILL).ctx("kill")?;
    let line = util::read_line(r, util::death_ms()).ctx("tracer")?;
    check!(
        line == format!("exited {} {}", libc::CLD_KILLED, libc::SIGKILL),
        "tracer saw {line:?}"
    );
    check!(
        util::fdinfo_pid(kid.obs.raw()) == Some(kid.pid),
        "released while the tracer has not waited (Pid {:?})",
        util::fdinfo_pid(kid.obs.raw())
    );
    util::write_all(gw, b"go\n").ctx("write")?;
    let line = util::read_line(r, util::death_ms()).ctx("tracer")?;
    check!(
        line.starts_with(&format!("reaped {} ", kid.pid)),
        "tracer: {line}"
    );
    check!(
        util::wait_reaped(kid.obs.as_fd_borrowed(), util::death_ms()),
        "not autoreaped after the foreign tracer reaped its trace zombie"
    );
    match util::waitid_nohang(kid.pid) {
        Err(Errno::ECHILD) => {}
        r => fail!("the real parent can wait for it: {r:?}"),
    }
    util::write_all(gw, b"go\n").ctx("write")?;
    util::reap(tracer).ctx("reap tracer")?;
    let _ = util::close_raw(r);
    let _ = util::close_raw(gw);
    Ok(())
}

pub fn tracer_exit_releases_zombie(_: &Ctx) -> TestResult {
    let kid = autoreap_kid()?;
    let (tracer, r, gw) = foreign_tracer(kid.pid, false)?;
    util::pidfd_send_signal(kid.obs.as_fd_borrowed(), libc::SIGKILL).ctx("kill")?;
    let line = util::read_line(r, util::death_ms()).ctx("tracer")?;
    check!(line.starts_with("exited"), "tracer: {line}");
    check!(
        util::fdinfo_pid(kid.obs.raw()) == Some(kid.pid),
        "released too early"
    );
    // The tracer exits without waiting: the detach on exit must autoreap the zombie.
    util::write_all(gw, b"go\n").ctx("write")?;
    util::reap(tracer).ctx("reap tracer")?;
    check!(
        util::wait_reaped(kid.obs.as_fd_borrowed(), util::death_ms()),
        "zombie left behind after its tracer exited (Pid {:?})",
        util::fdinfo_pid(kid.obs.raw())
    );
    let _ = util::close_raw(r);
    let _ = util::close_raw(gw);
    match util::waitid_nohang(kid.pid) {
        Err(Errno::ECHILD) => Ok(()),
        r => fail!("waitid: {r:?}"),
    }
}

pub fn stopped_autokill_child_killed(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    ptrace(libc::PTRACE_SEIZE, kid.pid).ctx("PTRACE_SEIZE")?;
    ptrace(libc::PTRACE_INTERRUPT, kid.pid).ctx("PTRACE_INTERRUPT")?;
    let st = wait_change(kid.pid, 0)?;
    check!(libc::WIFSTOPPED(st), "not stopped: {st:#x}");
    kid.close()?;
    kid.expect_dies("closing the pidfd of a ptrace-stopped child")?;
    let st = wait_change(kid.pid, 0)?;
    check!(
        libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL,
        "tracer saw {st:#x}, want SIGKILL"
    );
    check!(
        util::wait_reaped(kid.obs.as_fd_borrowed(), util::death_ms()),
        "not released"
    );
    Ok(())
}
