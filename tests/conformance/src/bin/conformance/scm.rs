// SPDX-License-Identifier: GPL-2.0

//! `SCM_RIGHTS`: received, in flight, purged, garbage-collected, closed by an unprivileged
//! receiver.

use std::os::fd::AsRawFd;

use conformance::check;
use conformance::creds;
use conformance::errno::Errno;
use conformance::util::{self, FdExt};
use conformance::verdict::{Ctx as _, TestResult};

use crate::common::*;

pub fn received_keeps_alive(_: &Ctx) -> TestResult {
    let (a, b) = util::socketpair();
    let (gr, gw) = util::pipe();
    let (rr, rw) = util::pipe();
    let (a_raw, b_raw, gw_raw, gr_raw, rw_raw) = (
        a.as_raw_fd(),
        b.as_raw_fd(),
        gw.as_raw_fd(),
        gr.as_raw_fd(),
        rw.as_raw_fd(),
    );
    let receiver = fork_proc(move || {
        let _ = util::close_raw(a_raw);
        let _ = util::close_raw(gw_raw);
        let Ok(fd) = util::recv_fd(b_raw, 60_000) else {
            return 1;
        };
        let _ = util::write_all(rw_raw, b"got\n");
        let _ = util::read_line(gr_raw, 60_000);
        drop(fd);
        util::pause_forever()
    })?;
    drop(rw);
    drop(gr);
    // Created after the fork: the receiver holds no inherited copy.
    let mut kid = autokill_kid()?;
    util::send_fd(a.raw(), kid.fd()).ctx("sendmsg SCM_RIGHTS")?;
    let line = util::read_line(rr.as_raw_fd(), util::death_ms()).ctx("receiver")?;
    check!(line == "got", "receiver: {line:?}");
    kid.close()?;
    kid.expect_alive("while the receiver holds the received fd")?;
    drop(gw); // the receiver closes its fd
    let res = kid.expect_killed_and_reaped("the receiver closed the received fd");
    util::kill_reap(receiver);
    res
}

pub fn in_flight_keeps_alive(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let (a, b) = util::socketpair();
    util::send_fd(a.raw(), kid.fd()).ctx("sendmsg")?;
    kid.close()?;
    kid.expect_alive("while the fd is in flight (sent, not received)")?;
    // Receiving and closing it is the last reference.
    let fd = util::recv_fd(b.raw(), util::death_ms()).ctx("recvmsg")?;
    check!(is_autokill_fd(fd.raw())?, "received fd lacks O_TRUNC");
    kid.expect_alive("after receiving (the received fd is open)")?;
    util::close(fd).ctx("close")?;
    kid.expect_killed_and_reaped("closing the received fd")
}

pub fn in_flight_purged_on_socket_close(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let (a, b) = util::socketpair();
    util::send_fd(a.raw(), kid.fd()).ctx("sendmsg")?;
    util::send_fd(a.raw(), kid.fd()).ctx("sendmsg again")?;
    kid.close()?;
    util::close(a).ctx("close sender socket")?;
    kid.expect_alive("with the fd queued at the still-open receiving socket")?;
    util::close(b).ctx("close receiving socket")?;
    kid.expect_killed_and_reaped("closing the socket that had the fd queued")
}

pub fn in_flight_gc_cycle_purged(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let (a, b) = util::socketpair();
    // Queue the autokill fd at b, then b itself (a cycle: b is only reachable through its own
    // queue). Closing both leaves only the unix garbage collector to free it.
    util::send_fd(a.raw(), kid.fd()).ctx("sendmsg pidfd")?;
    util::send_fd(a.raw(), b.raw()).ctx("sendmsg the socket itself")?;
    kid.close()?;
    util::close(b).ctx("close b")?;
    kid.expect_alive("with the fd in flight inside a reference cycle (a still open)")?;
    util::close(a).ctx("close a")?;
    kid.expect_killed_and_reaped("the unix GC purged the cycle")
}

pub fn unprivileged_receiver_close_kills(_: &Ctx) -> TestResult {
    // A root child without CLONE_NNP; the last reference is closed by `nobody`.
    let mut kid = spawn_kid(conformance::sys::AUTOKILL)?;
    let (a, b) = util::socketpair();
    let (gr, gw) = util::pipe();
    let (rr, rw) = util::pipe();
    let pid = kid.pid;
    let inherited = kid.fd();
    let (a_raw, b_raw, gw_raw, gr_raw, rw_raw) = (
        a.as_raw_fd(),
        b.as_raw_fd(),
        gw.as_raw_fd(),
        gr.as_raw_fd(),
        rw.as_raw_fd(),
    );
    let receiver = fork_proc(move || {
        let _ = util::close_raw(a_raw);
        let _ = util::close_raw(gw_raw);
        // Not the copy fork() gave us: only the received one counts.
        let _ = util::close_raw(inherited);
        if let Err(e) = creds::drop_to_nobody() {
            let _ = util::write_all(rw_raw, format!("drop: {e}\n").as_bytes());
            return 1;
        }
        let Ok(fd) = util::recv_fd(b_raw, 60_000) else {
            return 1;
        };
        // No permission to signal the root child...
        // SAFETY: kill with integer arguments.
        let r = unsafe { libc::kill(pid, libc::SIGKILL) };
        let e = Errno::last();
        let _ = util::write_all(rw_raw, format!("kill {r} {e}\n").as_bytes());
        let _ = util::read_line(gr_raw, 60_000);
        // ...but closing the last reference kills it.
        drop(fd);
        util::pause_forever()
    })?;
    drop(rw);
    drop(gr);
    util::send_fd(a.raw(), kid.fd()).ctx("sendmsg")?;
    let line = util::read_line(rr.as_raw_fd(), util::death_ms()).ctx("receiver")?;
    check!(
        line == "kill -1 EPERM",
        "unprivileged receiver's kill(2) of the root child: {line:?}, want EPERM"
    );
    kid.close()?;
    kid.expect_alive("while the unprivileged receiver holds the fd")?;
    drop(gw);
    let res = kid.expect_killed_and_reaped("the unprivileged receiver closed the last reference");
    util::kill_reap(receiver);
    res
}
