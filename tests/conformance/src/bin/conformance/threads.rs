// SPDX-License-Identifier: GPL-2.0

//! Multithreaded holders: one thread closes, the spawning thread exits, concurrent closes and
//! spawns, close racing with the child's own exit.

use std::os::fd::{IntoRawFd, RawFd};
use std::sync::{Arc, Barrier};

use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};
use conformance::verdict::{Ctx as _, TestResult, Verdict};
use conformance::{check, fail};

use crate::common::*;

pub fn holder_thread_close_kills(_: &Ctx) -> TestResult {
    let mut kid = autokill_kid()?;
    let fd: RawFd = kid.take().into_raw_fd();
    let t = std::thread::spawn(move || util::close_raw(fd));
    let r = t
        .join()
        .map_err(|_| Verdict::Fail("thread panicked".into()))?;
    r.ctx("close from a second thread")?;
    kid.expect_killed_and_reaped("a second thread closed the last reference")
}

pub fn spawning_thread_exit_keeps_child(_: &Ctx) -> TestResult {
    let t = std::thread::spawn(|| Clone3::new(AUTOKILL_NNP).spawn(ChildMode::CleanPause));
    let s = t
        .join()
        .map_err(|_| Verdict::Fail("thread panicked".into()))?
        .ctx("clone3 from a thread")?;
    let mut kid = Kid::watch(s)?;
    // Unlike PR_SET_PDEATHSIG, autokill follows the file, not the thread that created it.
    kid.expect_alive("after the thread that created it exited")?;
    let st = util::proc_status(kid.pid).ctx("status")?;
    check!(
        st.ppid == util::getpid(),
        "child reparented to {} instead of our thread group {}",
        st.ppid,
        util::getpid()
    );
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd after its creator thread exited")
}

pub fn concurrent_close_of_dups(_: &Ctx) -> TestResult {
    const THREADS: usize = 8;
    for round in 0..10 {
        let mut kid = autokill_kid()?;
        let mut fds = Vec::new();
        for _ in 0..THREADS - 1 {
            fds.push(util::dup(kid.fd()).ctx("dup")?.into_raw_fd());
        }
        fds.push(kid.take().into_raw_fd());
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = fds
            .into_iter()
            .map(|fd| {
                let b = barrier.clone();
                std::thread::spawn(move || {
                    b.wait();
                    util::close_raw(fd)
                })
            })
            .collect();
        for h in handles {
            let r = h
                .join()
                .map_err(|_| Verdict::Fail("thread panicked".into()))?;
            r.ctx(&format!("round {round}: concurrent close"))?;
        }
        kid.expect_killed_and_reaped(&format!("round {round}: {THREADS} threads closed all dups"))?;
    }
    Ok(())
}

pub fn concurrent_spawn_close_threads(_: &Ctx) -> TestResult {
    const THREADS: usize = 4;
    const ROUNDS: usize = 20;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || -> Result<(), String> {
                b.wait();
                for i in 0..ROUNDS {
                    let mut s = Clone3::new(AUTOKILL_NNP)
                        .spawn(ChildMode::CleanPause)
                        .map_err(|e| format!("round {i}: clone3: {e}"))?;
                    let obs = util::pidfd_open(s.pid, 0).map_err(|e| format!("pidfd_open: {e}"))?;
                    util::close(s.take_pidfd()).map_err(|e| format!("close: {e}"))?;
                    if !util::wait_exit(obs.as_fd_borrowed(), util::death_ms()) {
                        let _ = util::pidfd_send_signal(obs.as_fd_borrowed(), libc::SIGKILL);
                        return Err(format!("round {i}: child {} survived the close", s.pid));
                    }
                    if !util::wait_reaped(obs.as_fd_borrowed(), util::death_ms()) {
                        return Err(format!("round {i}: child {} not reaped", s.pid));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut errs = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errs.push(e),
            Err(_) => errs.push("thread panicked".into()),
        }
    }
    check!(errs.is_empty(), "{}", errs.join("; "));
    Ok(())
}

pub fn close_races_child_exit(_: &Ctx) -> TestResult {
    for i in 0..30 {
        let mut s = Clone3::new(AUTOKILL_NNP)
            .spawn(ChildMode::Exit(3))
            .ctx("clone3")?;
        // Observe through a dup-free pidfd_open() if the child is still there.
        let obs = util::pidfd_open(s.pid, 0).ok();
        let fd = s.take_pidfd();
        let keep = if i % 2 == 0 {
            util::close(fd).ctx(&format!("round {i}: close racing the exit"))?;
            None
        } else {
            Some(fd)
        };
        if let Some(obs) = obs.as_ref().or(keep.as_ref()) {
            check!(
                util::wait_reaped(obs.as_fd_borrowed(), util::death_ms()),
                "round {i}: child {} not reaped",
                s.pid
            );
            match util::exit_code(obs.as_fd_borrowed(), util::death_ms()) {
                Some(st) => check!(
                    (libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 3)
                        || (libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL),
                    "round {i}: status {st:#x}"
                ),
                None => fail!("round {i}: no exit status"),
            }
        }
        if let Some(fd) = keep {
            util::close(fd).ctx(&format!("round {i}: close after the exit"))?;
        }
        match util::waitid_nohang(s.pid) {
            Err(Errno::ECHILD) => {}
            r => fail!("round {i}: waitid: {r:?}, want ECHILD"),
        }
    }
    Ok(())
}
