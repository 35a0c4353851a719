// SPDX-License-Identifier: GPL-2.0

//! A supervisor that keeps a pool of workers running, and only as long as it runs itself.
//!
//! Each worker is spawned with `kill_tree`, so the worker and everything it starts are killed
//! by the kernel when the supervisor drops its `Child`, and equally when the supervisor dies:
//! Ctrl-C, `kill -9`, a panic with `panic = "abort"`, an out-of-memory kill. There is no
//! cleanup code to forget, and no way for a worker's grandchild to escape.
//!
//! One thread waits for all workers at once with `poll()` on their pidfds (no events asked for:
//! a pidfd reports `POLLHUP` once its process has been reaped, when its exit status is there)
//! and restarts any that exits.
//!
//! ```text
//! cargo run --example supervisor -- 3 sh -c 'echo worker $$ up; sleep $((RANDOM % 5 + 1))'
//! ```
//!
//! With no arguments it runs 3 workers of `sh -c 'sleep 2; exit 1'` for 10 seconds.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use autokill::{Child, Command};

/// How long the supervisor runs when started without arguments.
const DEMO_RUN_TIME: Duration = Duration::from_secs(10);

fn start(program: &[OsString]) -> Result<Child, autokill::Error> {
    let child = Command::new(&program[0])
        .args(&program[1..])
        .kill_tree(true)
        .spawn()?;
    eprintln!("supervisor: started worker {}", child.id());
    Ok(child)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let demo = args.is_empty();
    if demo {
        args = ["3", "sh", "-c", "sleep 2; exit 1"]
            .map(OsString::from)
            .to_vec();
    }
    let count: usize = args[0]
        .to_str()
        .and_then(|n| n.parse().ok())
        .ok_or("usage: supervisor [COUNT PROGRAM [ARGS...]]")?;
    let program = &args[1..];
    if program.is_empty() {
        return Err("usage: supervisor [COUNT PROGRAM [ARGS...]]".into());
    }
    let support = autokill::supported();
    if !support.autokill() {
        eprintln!(
            "supervisor: no CLONE_PIDFD_AUTOKILL here, the workers get the fallback:\n{support}"
        );
    }

    let mut workers = (0..count)
        .map(|_| start(program))
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    loop {
        let left = DEMO_RUN_TIME.saturating_sub(started.elapsed());
        if demo && left.is_zero() {
            eprintln!("supervisor: done; dropping the workers kills them");
            return Ok(());
        }
        let mut fds: Vec<libc::pollfd> = workers
            .iter()
            .map(|worker| libc::pollfd {
                fd: worker.as_fd().as_raw_fd(),
                events: 0,
                revents: 0,
            })
            .collect();
        let timeout = if demo {
            left.as_millis() as libc::c_int
        } else {
            -1
        };
        // SAFETY: Polls an array of valid `pollfd`s of the given length.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ret < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error.into());
        }
        for (worker, fd) in workers.iter_mut().zip(&fds) {
            if fd.revents == 0 {
                continue;
            }
            let status = worker.wait()?;
            eprintln!(
                "supervisor: worker {} exited ({status}); restarting",
                worker.id()
            );
            *worker = start(program)?;
        }
    }
}
