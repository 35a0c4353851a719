// SPDX-License-Identifier: GPL-2.0

//! `autokill-fuzz --seed S --count N [--unprivileged] [--log FILE] [--jobs J]`
//!
//! A deterministic `clone3()` fuzzer. Call `i` gets pseudo-random flags over bits 0..40 (biased
//! towards the interesting ones), an exit signal, a struct size (and sometimes a non-zero tail)
//! and a privilege (root or a real unprivileged user), all from a SplitMix64 stream seeded with
//! `S`, independent of the outcomes. Its canonical outcome line is
//!
//! ```text
//! index flags exit_signal size priv -> errno:NAME
//! index flags exit_signal size priv -> ok FATE REAP
//! ```
//!
//! FATE: `alive` (a pausing child not killed when its pidfd, if any, was closed), `killed`
//! (`SIGKILL` queued by the close, or dead), `exited` (an exit child: `CLONE_VFORK` or
//! `CLONE_THREAD`). REAP: `reaped` (autoreaped: never waitable), `waited` (a zombie we reaped),
//! `foreign` (`CLONE_PARENT`: our parent's child), `thread`, `handoff` (exit signal `SIGKILL`
//! or `SIGSTOP`: its death would kill or stop us, so the worker exits and leaves it to the
//! supervisor, which kills it and starts a new worker at the next call).
//!
//! The children run a few instructions of assembly that never touch memory (exit, or pause
//! until killed), so `CLONE_VM`, `CLONE_SETTLS`, `CLONE_THREAD` and friends are harmless;
//! pointers in the struct are valid scratch memory. `CLONE_NEWUSER` and `CLONE_NEWNET` are
//! masked (cost, and unprivileged user namespaces would let the unprivileged worker gain
//! capabilities in them), and so is `CLONE_VFORK` with a `SIGKILL`/`SIGSTOP` exit signal.
//! Workers ignore every signal but `SIGCHLD` (exit signals), and reset `SIGCHLD` to the default
//! after each call (a `CLONE_SIGHAND` child that is a pid namespace init sets it to `SIG_IGN`
//! when it dies). Prints KTAP (version 1, plan 1..1) with one result, `calls`: ok iff every
//! call gave an outcome, after `# calls N ok K errors E digest HEX` (FNV-1a 64 over all
//! lines), the same for the same seed on kernels with the same semantics; `--log FILE` gets
//! every line.
//!
//! The calls of each privilege run in worker processes (root and unprivileged run in parallel);
//! this process reaps the `CLONE_PARENT` children and merges the lines in index order.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use conformance::creds;
use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt, Fnv64, SplitMix64};

/// One generated call.
#[derive(Clone, Debug)]
struct Call {
    flags: u64,
    exit_signal: u64,
    size: usize,
    tail: Option<(usize, u8)>,
    cgroup: u64,
    unpriv: bool,
}

/// Bits that are never set: expensive or unsafe for the fuzzer's own credentials.
const MASKED: u64 = CLONE_NEWUSER | CLONE_NEWNET;

/// The interesting bits and their percentage in the "mutate" step.
const INTERESTING: &[(u64, u64)] = &[
    (CLONE_AUTOREAP, 25),
    (CLONE_NNP, 25),
    (CLONE_PIDFD_AUTOKILL, 25),
    (CLONE_PIDFD, 25),
    (CLONE_THREAD, 8),
    (CLONE_PARENT, 10),
    (CLONE_VM, 8),
    (CLONE_SIGHAND, 8),
    (CLONE_VFORK, 6),
    (CLONE_NEWPID, 5),
    (CLONE_FILES, 6),
    (CLONE_FS, 4),
    (CLONE_NEWNS, 3),
    (CLONE_CLEAR_SIGHAND, 4),
    (CLONE_INTO_CGROUP, 3),
    (CLONE_DETACHED, 3),
    (CLONE_SETTLS, 3),
    (CLONE_PARENT_SETTID, 4),
    (CLONE_CHILD_SETTID, 3),
    (CLONE_CHILD_CLEARTID, 3),
    (CLONE_PTRACE, 3),
    (CLONE_UNTRACED, 3),
    (CLONE_NEWUTS, 3),
    (CLONE_NEWIPC, 3),
    (CLONE_SYSVSEM, 3),
    (CLONE_IO, 3),
    (CLONE_NEWTIME, 3),
    (CLONE_EMPTY_MNTNS, 2),
];

fn gen_call(rng: &mut SplitMix64, unpriv_only: bool) -> Call {
    // A template, then mutations.
    let mut flags = match rng.below(100) {
        0..=29 => AUTOKILL | if rng.chance(50) { CLONE_NNP } else { 0 },
        30..=44 => CLONE_AUTOREAP | if rng.chance(50) { CLONE_PIDFD } else { 0 },
        45..=54 => CLONE_NNP | if rng.chance(50) { CLONE_PIDFD } else { 0 },
        55..=64 => THREAD_FLAGS | if rng.chance(50) { CLONE_PIDFD } else { 0 },
        _ => 0,
    };
    for &(bit, pct) in INTERESTING {
        if rng.chance(pct) {
            flags ^= bit;
        }
    }
    // Any bit 0..40, rarely.
    for bit in 0..=40 {
        if rng.below(1000) < 15 {
            flags ^= 1 << bit;
        }
    }
    flags &= !MASKED;
    let exit_signal = match rng.below(100) {
        0..=39 => 0,
        40..=64 => libc::SIGCHLD as u64,
        65..=74 => libc::SIGKILL as u64,
        _ => rng.below(71),
    };
    let size = match rng.below(100) {
        0..=19 => CLONE_ARGS_SIZE_VER0,
        20..=34 => CLONE_ARGS_SIZE_VER1,
        35..=69 => CLONE_ARGS_SIZE_VER2,
        70..=79 => 96,
        80..=91 => rng.below(129) as usize,
        _ => [0, 63, 4095, 4096, 4097, 8192][rng.below(6) as usize],
    };
    let tail = if size > CLONE_ARGS_SIZE_VER2 && size <= 8192 && rng.chance(25) {
        let off = CLONE_ARGS_SIZE_VER2 + rng.below((size - CLONE_ARGS_SIZE_VER2) as u64) as usize;
        Some((off, 1 + rng.below(255) as u8))
    } else {
        None
    };
    let cgroup = if rng.chance(50) { 1_000_000 } else { 1 << 40 };
    let unpriv = unpriv_only || rng.chance(50);
    // A vfork child exits before clone3() returns, so its exit signal reaches us at once; we
    // cannot survive SIGKILL or SIGSTOP as exit signal of an exiting child.
    if is_fatal_signal(exit_signal) {
        flags &= !CLONE_VFORK;
    }
    Call {
        flags,
        exit_signal,
        size,
        tail,
        cgroup,
        unpriv,
    }
}

/// Exit signals we cannot ignore: the child's death would kill or stop the worker.
fn is_fatal_signal(sig: u64) -> bool {
    sig == libc::SIGKILL as u64 || sig == libc::SIGSTOP as u64
}

fn prefix(i: u64, c: &Call) -> String {
    format!(
        "{i} {:#018x} {} {} {}",
        c.flags,
        c.exit_signal,
        c.size,
        if c.unpriv { "unpriv" } else { "root" }
    )
}

/// What became of a call.
enum Outcome {
    /// The result part of the line.
    Done(String),
    /// The result part of the line, and a live child whose death would kill us (fatal exit
    /// signal): the worker hands it over to the supervisor by exiting.
    Handoff(String, i32),
}

/// Runs one call and returns its outcome, or an internal error.
fn execute(c: &Call) -> Result<Outcome, String> {
    let mut req = Clone3::new(c.flags).exit_signal(c.exit_signal).size(c.size);
    req.tail = c.tail;
    req.cgroup = c.cgroup;
    // Exit children where we could not wait or would block: vfork (we are suspended until the
    // child exits) and threads (no process to kill). Everything else pauses.
    let exit_child = c.flags & (CLONE_VFORK | CLONE_THREAD) != 0;
    let mode = if exit_child {
        ChildMode::Exit(0)
    } else {
        ChildMode::Pause
    };
    let mut s = match req.spawn(mode) {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Done(format!("errno:{e}"))),
    };
    let foreign = c.flags & CLONE_PARENT != 0;
    if c.flags & CLONE_THREAD != 0 {
        // A thread of ours that exits at once.
        if let Some(fd) = s.pidfd.take() {
            if !util::wait_exit(fd.as_fd_borrowed(), util::death_ms()) {
                return Err(format!("thread {} did not exit", s.pid));
            }
        }
        if !util::wait_until(util::death_ms(), || !util::task_exists(s.pid)) {
            return Err(format!("thread {} did not go away", s.pid));
        }
        return Ok(Outcome::Done("ok exited thread".into()));
    }
    let (fate, obs) = if exit_child {
        // vfork: the child has released our memory, it is exiting or gone.
        let obs = match s.pidfd.take() {
            Some(fd) => Some(fd),
            None => util::pidfd_open(s.pid, 0).ok(),
        };
        if let Some(o) = &obs {
            if !util::wait_exit(o.as_fd_borrowed(), util::death_ms()) {
                return Err(format!("vfork child {} did not exit", s.pid));
            }
        }
        ("exited", obs)
    } else {
        // A pausing child: it cannot die on its own, so pidfd_open() is race-free.
        let obs = util::pidfd_open(s.pid, 0).map_err(|e| format!("pidfd_open {}: {e}", s.pid))?;
        if let Some(fd) = s.pidfd.take() {
            util::close(fd).map_err(|e| format!("close pidfd: {e}"))?;
        }
        // The release runs before close() returns: SIGKILL is queued now or never.
        let killed = util::killed_or_dead(s.pid);
        if is_fatal_signal(c.exit_signal) && !foreign {
            // Its death would signal us: leave it to the supervisor (it gets our orphans).
            let fate = if killed { "killed" } else { "alive" };
            return Ok(Outcome::Handoff(format!("ok {fate} handoff"), s.pid));
        }
        let fate = if killed {
            if !util::wait_exit(obs.as_fd_borrowed(), util::death_ms()) {
                return Err(format!(
                    "child {} has SIGKILL pending but did not die",
                    s.pid
                ));
            }
            "killed"
        } else {
            util::pidfd_send_signal(obs.as_fd_borrowed(), libc::SIGKILL)
                .map_err(|e| format!("kill {}: {e}", s.pid))?;
            if !util::wait_exit(obs.as_fd_borrowed(), util::death_ms()) {
                return Err(format!("child {} survived SIGKILL", s.pid));
            }
            "alive"
        };
        (fate, Some(obs))
    };
    let reap = if foreign {
        "foreign"
    } else {
        match util::waitid_nohang(s.pid) {
            Ok(w) if w.pid == s.pid => "waited",
            Ok(_) => return Err(format!("child {} exited but is not waitable yet", s.pid)),
            Err(Errno::ECHILD) => "reaped",
            Err(e) => return Err(format!("waitid {}: {e}", s.pid)),
        }
    };
    drop(obs);
    Ok(Outcome::Done(format!("ok {fate} {reap}")))
}

/// Exit status of a worker that handed a child over and must be restarted.
const HANDOFF_EXIT: i32 = 42;

/// Where a worker starts and what it runs.
#[derive(Clone, Copy)]
struct Slot {
    count: u64,
    unpriv_only: bool,
    unpriv: bool,
    shard: u64,
    jobs: u64,
}

/// A worker: runs the calls of its privilege and shard from index `start`, appending lines to
/// `out`. On a hand-off it writes `NEXT STATE PID` to `side` and exits with [`HANDOFF_EXIT`].
fn worker(slot: Slot, start: u64, state: u64, out: RawFd, side: RawFd) -> i32 {
    // SAFETY: geteuid has no arguments.
    let euid = unsafe { libc::geteuid() };
    // Already unprivileged (run by a normal user with --unprivileged): nothing to drop.
    if slot.unpriv && (euid == 0 || creds::has_cap_sys_admin()) {
        if let Err(e) = creds::drop_to_nobody() {
            eprintln!("autokill-fuzz: dropping privileges: {e}");
            return 1;
        }
    }
    // Exit signals other than SIGCHLD must not kill or stop us (SIGCHLD keeps its default so
    // that children still become zombies).
    for sig in 1..=64 {
        if sig != libc::SIGCHLD && sig != libc::SIGKILL && sig != libc::SIGSTOP {
            ignore_signal(sig);
        }
    }
    // SAFETY: `out` is a dup of the slot's memfd that this process owns.
    let file = unsafe { std::fs::File::from_raw_fd(out) };
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    // `state` is the generator's state before call `start`.
    let mut rng = SplitMix64(state);
    for i in start..slot.count {
        let c = gen_call(&mut rng, slot.unpriv_only);
        if c.unpriv != slot.unpriv || i % slot.jobs != slot.shard {
            continue;
        }
        let res = execute(&c);
        // A child sharing our signal handlers (CLONE_SIGHAND) that was the init of a new pid
        // namespace set SIGCHLD to SIG_IGN on its way out (zap_pid_ns_processes()): undo that
        // so that it does not make later children autoreap.
        set_disposition(libc::SIGCHLD, libc::SIG_DFL);
        match res {
            Ok(Outcome::Done(r)) => {
                if writeln!(w, "{} -> {r}", prefix(i, &c)).is_err() {
                    return 1;
                }
            }
            Ok(Outcome::Handoff(r, pid)) => {
                if writeln!(w, "{} -> {r}", prefix(i, &c)).is_err() || w.flush().is_err() {
                    return 1;
                }
                let _ = util::write_all(side, format!("{} {} {pid}\n", i + 1, rng.0).as_bytes());
                return HANDOFF_EXIT;
            }
            Err(e) => {
                eprintln!(
                    "autokill-fuzz: call {i} ({}): internal error: {e}",
                    prefix(i, &c)
                );
                let _ = writeln!(w, "{} -> internal-error", prefix(i, &c));
                let _ = w.flush();
                return 3;
            }
        }
    }
    if w.flush().is_err() {
        return 1;
    }
    0
}

/// Sets `sig` to `SIG_IGN` with the raw system call (glibc refuses its internal signals 32
/// and 33, which children may still use as exit signal).
fn ignore_signal(sig: i32) {
    set_disposition(sig, libc::SIG_IGN);
}

/// Sets the disposition of `sig` (`SIG_IGN` or `SIG_DFL`) with the raw system call.
fn set_disposition(sig: i32, handler: usize) {
    #[repr(C)]
    struct KSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let act = KSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction with a valid kernel `struct sigaction` and an 8-byte mask.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KSigaction,
            std::ptr::null_mut::<KSigaction>(),
            8usize,
        )
    };
}

/// Forks a worker for `slot` from `start`.
fn start_worker(slot: Slot, start: u64, state: u64, out: &OwnedFd, side: &OwnedFd) -> i32 {
    let (o, sd) = (out.as_raw_fd(), side.as_raw_fd());
    conformance::raw::fork_fn(move || {
        // The memfd's offset is shared with the previous worker of the slot: we append.
        let Ok(o2) = util::dup(o) else {
            return 1;
        };
        worker(
            slot,
            start,
            state,
            std::os::fd::IntoRawFd::into_raw_fd(o2),
            sd,
        )
    })
    .expect("fork")
}

fn usage() -> ! {
    eprintln!("usage: autokill-fuzz --seed S --count N [--unprivileged] [--log FILE] [--jobs J]");
    std::process::exit(2);
}

fn memfd() -> OwnedFd {
    // SAFETY: memfd_create with a C string name.
    let fd = unsafe { libc::memfd_create(c"autokill-fuzz".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create: {}", Errno::last());
    // SAFETY: A new fd nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut seed, mut count, mut unpriv_only, mut log, mut jobs) = (None, None, false, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "--seed" => seed = Some(parse_u64(&val())),
            "--count" => count = Some(parse_u64(&val())),
            "--unprivileged" => unpriv_only = true,
            "--log" => log = Some(val()),
            "--jobs" => jobs = Some(parse_u64(&val()).max(1)),
            _ => usage(),
        }
    }
    let (Some(seed), Some(count)) = (seed, count) else {
        usage()
    };
    if !unpriv_only && !creds::is_root() {
        eprintln!("autokill-fuzz: not root: use --unprivileged (or run as root)");
        std::process::exit(2);
    }
    let jobs = jobs.unwrap_or(if unpriv_only { 2 } else { 1 });
    println!("KTAP version 1");
    println!("1..1");
    let start = Instant::now();
    // Orphans of workers (handed-over children) come to us, with SIGCHLD as exit signal.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    struct Running {
        slot: Slot,
        pid: i32,
        out: OwnedFd,
        side_r: OwnedFd,
        side_w: OwnedFd,
        status: Option<i32>,
        handoffs: u64,
    }
    let mut workers: Vec<Running> = Vec::new();
    for unpriv in [false, true] {
        if unpriv_only && !unpriv {
            continue;
        }
        for shard in 0..jobs {
            let slot = Slot {
                count,
                unpriv_only,
                unpriv,
                shard,
                jobs,
            };
            let out = memfd();
            let (side_r, side_w) = util::pipe();
            let pid = start_worker(slot, 0, seed, &out, &side_w);
            workers.push(Running {
                slot,
                pid,
                out,
                side_r,
                side_w,
                status: None,
                handoffs: 0,
            });
        }
    }
    // Reap everything (workers, CLONE_PARENT children, handed-over orphans) until every
    // worker has finished; restart workers that handed a child over.
    while workers.iter().any(|w| w.status.is_none()) {
        let mut st = 0;
        // SAFETY: waitpid into a local int.
        let pid = unsafe { libc::waitpid(-1, &mut st, libc::__WALL) };
        if pid < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            eprintln!("autokill-fuzz: waitpid: {e}");
            break;
        }
        let Some(w) = workers
            .iter_mut()
            .find(|w| w.pid == pid && w.status.is_none())
        else {
            continue;
        };
        if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == HANDOFF_EXIT {
            let line = util::read_line(w.side_r.as_raw_fd(), 1000).unwrap_or_default();
            let v: Vec<u64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let [next, state, child] = v[..] else {
                eprintln!("autokill-fuzz: bad hand-off {line:?}");
                w.status = Some(st);
                continue;
            };
            if child == 0 {
                eprintln!("autokill-fuzz: bad hand-off {line:?}");
                w.status = Some(st);
                continue;
            }
            // The child is ours now (reparented when the worker exited).
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(child as i32, libc::SIGKILL) };
            w.handoffs += 1;
            w.pid = start_worker(w.slot, next, state, &w.out, &w.side_w);
        } else {
            w.status = Some(st);
        }
    }
    // Stray children (the last hand-offs) are reaped at exit by our parent or init.
    let mut failed = false;
    for w in &workers {
        let st = w.status.unwrap_or(-1);
        if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
            eprintln!(
                "autokill-fuzz: worker ({}, shard {}) ended with status {st:#x}",
                if w.slot.unpriv { "unpriv" } else { "root" },
                w.slot.shard
            );
            failed = true;
        }
    }
    let handoffs: u64 = workers.iter().map(|w| w.handoffs).sum();
    // Merge in index order.
    let mut readers: Vec<_> = workers
        .iter()
        .map(|w| {
            let f = std::fs::File::from(util::dup(w.out.as_raw_fd()).expect("dup"));
            let mut r = BufReader::new(f);
            std::io::Seek::seek(&mut r, std::io::SeekFrom::Start(0)).expect("seek");
            ((w.slot.unpriv, w.slot.shard), r)
        })
        .collect();
    let mut logf = log.as_ref().map(|p| {
        std::io::BufWriter::new(std::fs::File::create(p).unwrap_or_else(|e| {
            eprintln!("autokill-fuzz: {p}: {e}");
            std::process::exit(2)
        }))
    });
    let mut rng = SplitMix64(seed);
    let mut hash = Fnv64::default();
    let (mut ok, mut errors, mut done) = (0u64, 0u64, 0u64);
    let mut errnos: std::collections::BTreeMap<String, u64> = Default::default();
    let mut fates: std::collections::BTreeMap<String, u64> = Default::default();
    for i in 0..count {
        let c = gen_call(&mut rng, unpriv_only);
        let key = (c.unpriv, i % jobs);
        let Some((_, r)) = readers.iter_mut().find(|(k, _)| *k == key) else {
            break;
        };
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            eprintln!("autokill-fuzz: no outcome for call {i}");
            failed = true;
            break;
        }
        let want = format!("{} -> ", prefix(i, &c));
        if !line.starts_with(&want) {
            eprintln!("autokill-fuzz: call {i}: unexpected line {line:?}");
            failed = true;
            break;
        }
        let result = line[want.len()..].trim_end().to_string();
        if result == "internal-error" {
            failed = true;
            break;
        }
        hash.update(line.as_bytes());
        if let Some(l) = logf.as_mut() {
            let _ = l.write_all(line.as_bytes());
        }
        done += 1;
        if let Some(e) = result.strip_prefix("errno:") {
            errors += 1;
            *errnos.entry(e.to_string()).or_default() += 1;
        } else {
            ok += 1;
            *fates
                .entry(result.trim_start_matches("ok ").to_string())
                .or_default() += 1;
        }
    }
    if let Some(mut l) = logf {
        let _ = l.flush();
    }
    for (e, n) in &errnos {
        println!("# errno {e}: {n}");
    }
    for (f, n) in &fates {
        println!("# ok {f}: {n}");
    }
    println!(
        "# calls {done} ok {ok} errors {errors} digest {:016x}",
        hash.0
    );
    eprintln!(
        "autokill-fuzz: {done} calls in {:.1} s ({handoffs} worker restarts)",
        start.elapsed().as_secs_f64()
    );
    if failed || done != count {
        println!("# calls: {done} of {count} calls gave an outcome (see the autokill-fuzz: lines)");
        println!("not ok 1 calls");
        std::process::exit(1);
    }
    println!("ok 1 calls");
}

fn parse_u64(s: &str) -> u64 {
    let r = if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    r.unwrap_or_else(|_| usage())
}
