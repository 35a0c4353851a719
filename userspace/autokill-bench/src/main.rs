// SPDX-License-Identifier: GPL-2.0

//! Micro-benchmarks of the kernel paths that CONFIG_PIDFD_AUTOKILL_RUST replaces.
//!
//! Runs inside the VM, on the Rust or the C kernel, as root. Every operation of a case is timed
//! on its own, between two reads of the clock:
//!
//! - `--clock insns` (what `make bench` uses) reads the TSC. Under QEMU with
//!   `-icount shift=0,sleep=off` the TSC is the virtual clock, which advances by exactly one per
//!   guest instruction executed, so a difference of two reads is the number of instructions
//!   executed in between, in the kernel and in user space, by every task that ran.
//! - `--clock ns` reads `CLOCK_MONOTONIC` (wall time, nanoseconds).
//!
//! The cost of the two clock reads themselves (measured back to back) is subtracted. After a
//! warm-up, each case prints one JSON object on stdout with the count of every operation in
//! order: `{"case": ..., "unit": "insns", "overhead": ..., "median": ..., "switches": [voluntary,
//! involuntary], "ops": [...]}`, `switches` being this process's context switches during the
//! timed operations (in `fork_exit`, one voluntary switch per operation: the parent waits). Two
//! calibration objects follow: a loop of `n` `getppid()` calls and a user-space loop of exactly
//! `2 n` instructions, each timed as a whole for several `n`, to show that the clock counts
//! instructions and that the counts scale linearly. The host does the statistics and compares
//! kernels (`scripts/bench.py`).
//!
//! Usage: `autokill-bench [--clock insns|ns] [--warmup N] [--scale F]`

use autokill::sys::{
    self, clone3_raw, CloneArgs, CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD, CLONE_PIDFD_AUTOKILL,
};
use std::io::{Error, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

fn check(ret: libc::c_long, what: &str) -> libc::c_long {
    if ret < 0 {
        eprintln!("autokill-bench: {what}: {}", Error::last_os_error());
        std::process::exit(1);
    }
    ret
}

/// The clock operations are timed with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// The TSC: guest instructions under QEMU's `-icount shift=0`.
    Insns,
    /// `CLOCK_MONOTONIC`, in nanoseconds.
    Ns,
}

impl Clock {
    #[inline(always)]
    fn now(self) -> u64 {
        match self {
            Clock::Insns => rdtsc(),
            Clock::Ns => {
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: `ts` is a valid `timespec` to write.
                unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
                ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
            }
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Clock::Insns => "insns",
            Clock::Ns => "ns",
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: RDTSC has no preconditions; Linux lets user space execute it. Not `nomem`, so
    // that the compiler keeps it in order with the timed code.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nostack)) };
    (hi as u64) << 32 | lo as u64
}

#[cfg(not(target_arch = "x86_64"))]
fn rdtsc() -> u64 {
    eprintln!("autokill-bench: --clock insns needs x86_64");
    std::process::exit(2);
}

/// Executes exactly `2 * n` instructions (`n` > 0): a `dec` and a `jnz` per iteration.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn insn_loop(n: u64) {
    // SAFETY: Only counts a register down to zero.
    unsafe { core::arch::asm!("2:", "dec {n}", "jnz 2b", n = inout(reg) n => _, options(nostack)) };
}

#[cfg(not(target_arch = "x86_64"))]
fn insn_loop(_n: u64) {
    rdtsc();
}

/// The benchmark's own pid, for `pidfd_open()`.
static SELF_PID: AtomicI32 = AtomicI32::new(0);

fn pidfd_open(pid: libc::pid_t) -> OwnedFd {
    sys::pidfd_open(pid, 0).unwrap_or_else(|e| {
        eprintln!("autokill-bench: pidfd_open: {e}");
        std::process::exit(1);
    })
}

/// Waits until the process behind `pidfd` has been reaped: one `poll()` for `POLLHUP`, no loop
/// (see [`sys::pidfd_wait_reaped`]); the timeout only turns a kernel that never reaps into an
/// error.
fn wait_reaped(pidfd: &OwnedFd) {
    match sys::pidfd_wait_reaped(pidfd.as_fd(), Some(Duration::from_secs(10))) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("autokill-bench: a child was not reaped within 10 s");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("autokill-bench: poll: {e}");
            std::process::exit(1);
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
        unsafe { clone3_raw(&mut args, sys::CLONE_ARGS_SIZE_VER2) },
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

fn wait_child(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: Waits for our own child.
    check(
        unsafe { libc::waitpid(pid, &mut status, 0) } as libc::c_long,
        "waitpid",
    );
}

/// getppid(): the cheapest system call, the unit the other cases can be read in.
fn getppid() {
    // SAFETY: getppid() cannot fail.
    unsafe { libc::getppid() };
}

/// autokill spawn, close the pidfd, wait until the child is reaped.
fn autokill_cycle() {
    let (pid, pidfd) = spawn(
        CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_NNP,
        0,
        false,
    );
    let watch = pidfd_open(pid);
    // SAFETY: clone3 returned `pidfd`, which nothing else owns.
    drop(unsafe { OwnedFd::from_raw_fd(pidfd) });
    wait_reaped(&watch);
}

/// pidfd_open + close of a live process (this one): the release hook's not-armed path.
fn pidfd_close() {
    drop(pidfd_open(SELF_PID.load(Ordering::Relaxed)));
}

/// A clone3 that our rules reject (CLONE_PIDFD_AUTOKILL without CLONE_PIDFD).
fn rejected_clone3() {
    let mut args = CloneArgs {
        flags: CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_NNP,
        ..Default::default()
    };
    // SAFETY: The call fails validation before any process is created.
    let ret = unsafe { clone3_raw(&mut args, sys::CLONE_ARGS_SIZE_VER2) };
    if ret != -1 || Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        eprintln!("autokill-bench: rejected clone3 returned {ret}, expected EINVAL");
        std::process::exit(1);
    }
}

/// A plain fork(): the child exits at once and is waited for (the validation's common path).
fn fork_exit() {
    // SAFETY: The child only calls _exit().
    let pid = check(unsafe { libc::fork() } as libc::c_long, "fork");
    if pid == 0 {
        // SAFETY: Terminates the child without running any parent state.
        unsafe { libc::_exit(0) };
    }
    wait_child(pid as libc::pid_t);
}

/// An accepted clone3 without autokill; the child exits at once and is waited for.
fn accepted_clone3() {
    let (pid, _) = spawn(0, libc::SIGCHLD as u64, true);
    wait_child(pid);
}

struct Case {
    name: &'static str,
    run: fn(),
    /// How many operations are timed (times `--scale`).
    ops: usize,
}

/// The middle element (the lower one of the two middle elements of an even count).
fn median<T: Copy + PartialOrd>(v: &mut [T]) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[(v.len() - 1) / 2]
}

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cost of timing nothing: two clock reads back to back.
fn overhead(clock: Clock) -> u64 {
    let mut v: Vec<u64> = (0..1001)
        .map(|_| {
            let t = clock.now();
            clock.now() - t
        })
        .collect();
    median(&mut v)
}

/// Times `f(n)` as a whole for each `n`: the median of `reps` runs, clock cost subtracted.
fn calibrate(out: &mut impl Write, clock: Clock, name: &str, f: fn(u64), ns: &[u64], reps: usize) {
    let ovh = overhead(clock);
    let counts: Vec<u64> = ns
        .iter()
        .map(|&n| {
            f(n);
            let mut v: Vec<u64> = (0..reps)
                .map(|_| {
                    let t = clock.now();
                    f(n);
                    (clock.now() - t).saturating_sub(ovh)
                })
                .collect();
            median(&mut v)
        })
        .collect();
    writeln!(
        out,
        "{{\"calibration\": \"{name}\", \"unit\": \"{}\", \"n\": [{}], \"counts\": [{}]}}",
        clock.unit(),
        list(ns),
        list(&counts)
    )
    .expect("stdout");
}

/// This process's context switches so far, voluntary and involuntary (`/proc/self/status`).
fn switches() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        field("voluntary_ctxt_switches:"),
        field("nonvoluntary_ctxt_switches:"),
    )
}

fn getppid_loop(n: u64) {
    for _ in 0..n {
        getppid();
    }
}

fn main() {
    let mut warmup = 100usize;
    let mut scale = 1.0f64;
    let mut clock = Clock::Ns;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().as_deref()) {
            ("--warmup", Some(v)) => warmup = v.parse().expect("--warmup N"),
            ("--scale", Some(v)) => scale = v.parse().expect("--scale F"),
            ("--clock", Some("insns")) => clock = Clock::Insns,
            ("--clock", Some("ns")) => clock = Clock::Ns,
            _ => {
                eprintln!("usage: autokill-bench [--clock insns|ns] [--warmup N] [--scale F]");
                std::process::exit(2);
            }
        }
    }
    // SAFETY: getpid() cannot fail.
    SELF_PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    let cases = [
        Case {
            name: "getppid",
            run: getppid,
            ops: 2000,
        },
        Case {
            name: "pidfd_close",
            run: pidfd_close,
            ops: 2000,
        },
        Case {
            name: "rejected_clone3",
            run: rejected_clone3,
            ops: 2000,
        },
        Case {
            name: "fork_exit",
            run: fork_exit,
            ops: 1200,
        },
        Case {
            name: "accepted_clone3",
            run: accepted_clone3,
            ops: 1200,
        },
        Case {
            name: "autokill_cycle",
            run: autokill_cycle,
            ops: 1200,
        },
    ];
    let mut out = std::io::stdout().lock();
    let ovh = overhead(clock);
    // One buffer for the counts of every case, allocated and touched before anything is timed,
    // so that the memory a fork copies is the same for every operation and every boot.
    let most = cases.iter().map(|c| c.ops).max().unwrap_or(0);
    let most = ((most as f64 * scale) as usize).max(1);
    let mut counts = vec![u64::MAX; most];
    for case in &cases {
        let n = ((case.ops as f64 * scale) as usize).max(1);
        // Warm up caches, allocators and the page cache behind this program.
        for _ in 0..n.min(warmup) {
            (case.run)();
        }
        let (vol, invol) = switches();
        for count in &mut counts[..n] {
            let t = clock.now();
            (case.run)();
            *count = (clock.now() - t).saturating_sub(ovh);
        }
        let (vol2, invol2) = switches();
        let ops = &counts[..n];
        writeln!(
            out,
            "{{\"case\": \"{}\", \"unit\": \"{}\", \"overhead\": {ovh}, \"median\": {}, \
             \"switches\": [{}, {}], \"ops\": [{}]}}",
            case.name,
            clock.unit(),
            median(&mut ops.to_vec()),
            vol2 - vol,
            invol2 - invol,
            list(ops)
        )
        .expect("stdout");
    }
    let ns = [1, 10, 100, 1000, 10_000, 100_000];
    calibrate(&mut out, clock, "getppid_loop", getppid_loop, &ns, 5);
    calibrate(&mut out, clock, "insn_loop", insn_loop, &ns, 5);
}
