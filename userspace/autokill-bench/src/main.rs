// SPDX-License-Identifier: GPL-2.0

//! Micro-benchmarks of the kernel paths that CONFIG_PIDFD_AUTOKILL_RUST replaces.
//!
//! Runs inside the VM, on the Rust or the C kernel, as root. Each case times batches of
//! operations with `CLOCK_MONOTONIC` and prints one JSON object per case on stdout:
//! `{"case": ..., "samples": [ns per operation, ...]}`. The host compares kernels (see
//! `scripts/bench.py`); absolute numbers under emulation mean little, ratios do.
//!
//! Usage: `autokill-bench [--samples N] [--scale F]`

use autokill::sys::{
    clone3_raw, CloneArgs, CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD, CLONE_PIDFD_AUTOKILL,
};
use std::io::{Error, Write};
use std::os::fd::RawFd;
use std::time::Instant;

fn check(ret: libc::c_long, what: &str) -> libc::c_long {
    if ret < 0 {
        eprintln!("autokill-bench: {what}: {}", Error::last_os_error());
        std::process::exit(1);
    }
    ret
}

fn pidfd_open(pid: libc::pid_t) -> RawFd {
    // SAFETY: A plain system call with integer arguments.
    check(
        unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) },
        "pidfd_open",
    ) as RawFd
}

fn close(fd: RawFd) {
    // SAFETY: `fd` is a descriptor this program opened and owns.
    unsafe { libc::close(fd) };
}

/// Waits until the process behind `fd` has been reaped (POLLHUP).
fn wait_reaped(fd: RawFd) {
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd array of length 1.
        let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
        if n < 0 && Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        check(n as libc::c_long, "poll");
        if n == 0 {
            eprintln!("autokill-bench: a child did not die within 10 s");
            std::process::exit(1);
        }
        if pfd.revents & libc::POLLHUP != 0 {
            return;
        }
    }
}

/// Spawns a child with `flags` that blocks (or exits at once with `exit_now`); returns its pid
/// and the clone3 pidfd (or -1).
fn spawn(flags: u64, exit_signal: u64, exit_now: bool) -> (libc::pid_t, RawFd) {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal,
        ..Default::default()
    };
    // SAFETY: fork-like clone3 without CLONE_VM; the child only calls async-signal-safe
    // functions (pause, _exit).
    let pid = check(
        unsafe { clone3_raw(&mut args, std::mem::size_of::<CloneArgs>()) },
        "clone3",
    );
    if pid == 0 {
        if !exit_now {
            // SAFETY: async-signal-safe calls in the child.
            unsafe { libc::pause() };
        }
        // SAFETY: Terminates the child without running any parent state.
        unsafe { libc::_exit(0) };
    }
    (pid as libc::pid_t, pidfd)
}

/// Case a: autokill spawn, close the pidfd, wait until the child is reaped.
fn autokill_cycle() {
    let (pid, pidfd) = spawn(
        CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_NNP,
        0,
        false,
    );
    let watch = pidfd_open(pid);
    close(pidfd);
    wait_reaped(watch);
    close(watch);
}

/// Case b: pidfd_open + close of a live process: the release hook's not-armed path.
fn pidfd_close() {
    // SAFETY: getpid() cannot fail.
    let fd = pidfd_open(unsafe { libc::getpid() });
    close(fd);
}

/// Case c: a clone3 that validation rejects (CLONE_PIDFD_AUTOKILL without CLONE_PIDFD).
fn rejected_clone3() {
    let mut args = CloneArgs {
        flags: CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_NNP,
        ..Default::default()
    };
    // SAFETY: The call fails validation before any process is created.
    let ret = unsafe { clone3_raw(&mut args, std::mem::size_of::<CloneArgs>()) };
    if ret != -1 || Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        eprintln!("autokill-bench: rejected clone3 returned {ret}, expected EINVAL");
        std::process::exit(1);
    }
}

/// Case d: an accepted clone3 without autokill (the validation on the normal fork path); the
/// child exits at once and is waited for.
fn accepted_clone3() {
    let (pid, _) = spawn(0, libc::SIGCHLD as u64, true);
    let mut status = 0;
    // SAFETY: Waits for our own child.
    check(
        unsafe { libc::waitpid(pid, &mut status, 0) } as libc::c_long,
        "waitpid",
    );
}

struct Case {
    name: &'static str,
    run: fn(),
    batch: usize,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut samples = 31usize;
    let mut scale = 1.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--samples", Some(v)) => samples = v.parse().expect("--samples N"),
            ("--scale", Some(v)) => scale = v.parse().expect("--scale F"),
            _ => {
                eprintln!("usage: autokill-bench [--samples N] [--scale F]");
                std::process::exit(2);
            }
        }
    }
    let cases = [
        Case {
            name: "autokill_cycle",
            run: autokill_cycle,
            batch: 20,
        },
        Case {
            name: "pidfd_close",
            run: pidfd_close,
            batch: 2000,
        },
        Case {
            name: "rejected_clone3",
            run: rejected_clone3,
            batch: 2000,
        },
        Case {
            name: "accepted_clone3",
            run: accepted_clone3,
            batch: 20,
        },
    ];
    let mut out = std::io::stdout().lock();
    for case in &cases {
        let batch = ((case.batch as f64 * scale) as usize).max(1);
        // Warm up caches and allocators.
        for _ in 0..batch {
            (case.run)();
        }
        let mut ns: Vec<f64> = (0..samples)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batch {
                    (case.run)();
                }
                t.elapsed().as_nanos() as f64 / batch as f64
            })
            .collect();
        let list: Vec<String> = ns.iter().map(|x| format!("{x:.1}")).collect();
        writeln!(
            out,
            "{{\"case\": \"{}\", \"batch\": {batch}, \"median_ns\": {:.1}, \"samples\": [{}]}}",
            case.name,
            median(&mut ns),
            list.join(", ")
        )
        .expect("stdout");
    }
}
