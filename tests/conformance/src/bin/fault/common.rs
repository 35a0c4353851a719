// SPDX-License-Identifier: GPL-2.0

//! What the paths share: the state of the run ([`Ctx`]: `fail-nth`, the scratch page, the
//! pinned pid) with its armed calls, the autokill child ([`Kid`]) and the outcome of one try
//! ([`Step`]).

use std::os::fd::{OwnedFd, RawFd};

use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};

use crate::inject::{parse_u32, Armed, FailNth};
use crate::repeat::{clone3_window, Clone3Result, Scratch};

/// An autokill child created with no fault armed, and an observer pidfd.
pub struct Kid {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    pub obs: OwnedFd,
}

impl Kid {
    /// Not dead, exiting or with `SIGKILL` pending.
    pub fn alive(&self) -> bool {
        !util::has_exited(self.obs.as_fd_borrowed()) && !util::killed_or_dead(self.pid)
    }

    /// Dies and is autoreaped (never waitable).
    pub fn dies(&self) -> bool {
        util::wait_exit(self.obs.as_fd_borrowed(), util::death_ms())
            && util::wait_reaped(self.obs.as_fd_borrowed(), util::death_ms())
            && util::waitid_nohang(self.pid).err() == Some(Errno::ECHILD)
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = util::pidfd_send_signal(self.obs.as_fd_borrowed(), libc::SIGKILL);
    }
}

/// What one attempt gave.
pub struct Step {
    /// The outcome, deterministic: no pid, fd number or time.
    pub text: String,
    /// The system call succeeded.
    pub ok: bool,
    pub injected: bool,
    pub consumed: u32,
    /// Broken rules (an errno is not one: any error may come of an injected fault).
    pub problems: Vec<String>,
    /// The child did not get the pinned pid (see [`pick_pid`]): this try says nothing, it is
    /// made again.
    ///
    /// [`pick_pid`]: crate::repeat::pick_pid
    pub interfered: Option<String>,
}

impl Step {
    pub fn new<T>(a: &Armed<T>, ok: bool) -> Step {
        Step {
            text: String::new(),
            ok,
            injected: a.injected,
            consumed: a.consumed,
            problems: Vec::new(),
            interfered: None,
        }
    }

    pub fn add(&mut self, s: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(s);
    }

    pub fn check(&mut self, cond: bool, problem: &str) {
        if !cond {
            self.problems.push(problem.to_string());
        }
    }
}

/// `errno:NAME`, with the names the paths here can give that `Errno` lacks.
pub fn errno_str(e: Errno) -> String {
    let name = match e.0 {
        libc::ENOBUFS => "ENOBUFS".to_string(),
        libc::ENODATA => "ENODATA".to_string(),
        libc::EMSGSIZE => "EMSGSIZE".to_string(),
        _ => e.name(),
    };
    format!("errno:{name}")
}

pub fn result_str<T>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => errno_str(*e),
    }
}

/// The shared state of a run.
pub struct Ctx {
    pub nth: FailNth,
    pub scratch: Scratch,
    /// The pid every `clone3()` under test gets (see [`pick_pid`]).
    ///
    /// [`pick_pid`]: crate::repeat::pick_pid
    pub pid: Option<i32>,
}

impl Ctx {
    /// Runs `f` with the n-th fault armed, or unarmed (`None`: warm-up).
    pub fn call<T>(&self, n: Option<u32>, f: impl FnOnce() -> T) -> Result<Armed<T>, String> {
        match n {
            Some(n) => self.nth.run(n, f),
            None => Ok(Armed {
                value: f(),
                injected: false,
                consumed: 0,
            }),
        }
    }

    /// `clone3(flags)` with the n-th fault armed (see [`clone3_window`]), or unarmed.
    pub fn clone3(&self, n: Option<u32>, flags: u64) -> Result<Armed<Clone3Result>, String> {
        // A new page for the pidfd each time (see `Scratch`), unmapped at the end.
        let slot = Scratch::new()?;
        if let Some(p) = self.pid {
            std::fs::write("/proc/sys/kernel/ns_last_pid", (p - 1).to_string())
                .map_err(|e| format!("/proc/sys/kernel/ns_last_pid: {e}"))?;
        }
        if let Some(n) = n {
            self.nth
                .write(n.to_string().as_bytes())
                .map_err(|e| format!("writing {n} to fail-nth: {e}"))?;
        }
        let (value, read) = clone3_window(&self.nth, &self.scratch, &slot, flags);
        // The reset in the window may have failed (its own fault point): make sure.
        self.nth.disarm()?;
        let Some(n) = n else {
            return Ok(Armed {
                value,
                injected: false,
                consumed: 0,
            });
        };
        let left = if read == -(libc::EFAULT as i64) {
            // The read's own copy to user was the last fault point: 1 was left.
            1
        } else if read <= 0 {
            return Err(format!("reading fail-nth: {}", Errno(-read as i32)));
        } else {
            let (text, len) = self.scratch.read_text(read as usize);
            parse_u32(&text[..len])
        };
        Ok(Armed {
            value,
            injected: left == 0,
            consumed: n.saturating_sub(left),
        })
    }

    /// An autokill child for the paths that do not test `clone3()`: it shares our memory
    /// (`CLONE_VM`: no copy-on-write of our pages, which would make page faults while a
    /// fault is armed), runs `ChildMode::CleanPause`.
    pub fn spawn_kid(&self) -> Result<Kid, String> {
        let mut s = Clone3::new(AUTOKILL_NNP | CLONE_VM)
            .spawn(ChildMode::CleanPause)
            .map_err(|e| format!("clone3 (unarmed): {e}"))?;
        let pidfd = s.take_pidfd();
        let obs = util::pidfd_open(s.pid, 0).map_err(|e| format!("pidfd_open (unarmed): {e}"))?;
        Ok(Kid {
            pid: s.pid,
            pidfd: Some(pidfd),
            obs,
        })
    }
}

/// The state of a pidfd as `pidfd:autokill` or `pidfd:plain`, and whether its pid is `pid`.
pub fn pidfd_state(fd: RawFd, pid: i32) -> (String, bool) {
    let fl = util::getfl(fd).unwrap_or(0);
    let kind = if fl & PIDFD_AUTOKILL != 0 {
        "pidfd:autokill"
    } else {
        "pidfd:plain"
    };
    (kind.to_string(), util::fdinfo_pid(fd) == Some(pid))
}
