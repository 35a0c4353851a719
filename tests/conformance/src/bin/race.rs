// SPDX-License-Identifier: GPL-2.0

//! `autokill-race [--seconds S] [--iterations N] [--writers W] [--autokill-every K]
//! [--writer both|timer|subreaper] [--unprivileged]`
//!
//! Provokes, for a KCSAN kernel, the data race between `copy_process()`'s read of
//! `current->signal->autoreap` (rule 2: `CLONE_PARENT` from an autoreap process is `EINVAL`)
//! and the unlocked writes of its neighbours in `struct signal_struct`:
//!
//! - `prctl(PR_TIMER_CREATE_RESTORE_IDS, ON/OFF)` writes `timer_create_restore_ids:1`, the
//!   bitfield right after `autoreap:1`: the same memory location, so every write is a
//!   read-modify-write of the byte that holds `autoreap` (`CONFIG_POSIX_TIMERS`; Linux 6.14+;
//!   `EINVAL` otherwise, and then the writers flip only the subreaper flag);
//! - `prctl(PR_SET_CHILD_SUBREAPER, 1/0)` writes `is_child_subreaper` (and
//!   `has_child_subreaper` of the descendants). Since these became `bool`s (7.3 has them so)
//!   they sit in the bytes before `autoreap`, separate memory locations: KCSAN reports them only
//!   against a read wider than the bitfield.
//!
//! `--writer timer|subreaper` keeps one of the two (default: both). The subreaper writer also
//! races, in the normal process, with `copy_process()` inheriting `has_child_subreaper` from
//! `real_parent->signal->is_child_subreaper` for the autokill children (kernel/fork.c, a plain
//! read under `tasklist_lock`, which the prctl does not take): a KCSAN report there is
//! upstream's, not the autoreap race; `--writer timer` avoids it.
//!
//! Processes: this one (the reaper) forks a normal process, which starts W writer threads
//! (default: one per CPU beyond the first, at least one) that flip both prctls in a tight loop
//! while its main thread loops
//!
//! - (a) `clone3(CLONE_PARENT)`, a child that exits at once: must succeed every time
//!   (`autoreap` is 0; `EINVAL` would be a misread). `exit_signal` is 0: clone3 refuses any
//!   other with `CLONE_PARENT` (`clone3_args_valid()`), and the child takes the exit signal of
//!   our group leader, `SIGCHLD`. The children are the reaper's, which reaps them with
//!   `waitpid(-1, __WALL)` and counts them;
//! - (b) every K-th iteration (default 8), `clone3(CLONE_PIDFD | CLONE_AUTOREAP |
//!   CLONE_PIDFD_AUTOKILL | CLONE_NNP, exit_signal 0)`, a child that pauses, and closes the
//!   pidfd: the child must be killed (`SIGKILL`) and reaped by the kernel (its exit status
//!   through `PIDFD_GET_INFO` on a second pidfd), and leave no zombie.
//!
//! At the same time an autoreap process (created by the reaper with `CLONE_PIDFD |
//! CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_NNP`, so its `signal->autoreap` is 1) starts W
//! writers of its own and loops (c) `clone3(CLONE_PARENT)`, which must fail with `EINVAL` every
//! time (success would be a misread; such a child would be the reaper's, which reaps it). The
//! same call succeeding in (a) shows that the `EINVAL` comes from rule 2.
//!
//! `CLONE_NNP` lets an unprivileged caller arm autokill, so everything works without root;
//! `--unprivileged` drops a root caller to `nobody` first. The run ends after S seconds
//! (default 10), or after N iterations of each loop, whichever comes first when both are given.
//!
//! Output: KTAP (version 1, with a plan) like `autokill-stress`: a summary comment per check,
//! the reason of a failure on the line before it, then the counts and the totals:
//!
//! ```text
//! KTAP version 1
//! # autokill-race: kernel R, C CPUs, W writer(s) per process, S s, CLONE_AUTOREAP present, ...
//! # PR_TIMER_CREATE_RESTORE_IDS: available
//! 1..4
//! # writers: ...
//! ok 1 writers
//! # clone_parent_accepted: ...
//! ok 2 clone_parent_accepted
//! # clone_parent_refused_autoreap: ...
//! ok 3 clone_parent_refused_autoreap
//! # autokill_killed: ...
//! ok 4 autokill_killed
//! # race seconds T writers W timer_flips X subreaper_flips Y parent_accepted A parent_refused R misreads M autokill_armed K autokill_killed K failures F
//! # passed P failed F skipped S
//! ```
//!
//! On a kernel without `CLONE_AUTOREAP` checks 3 and 4 are `ok N NAME # SKIP kernel lacks
//! CLONE_AUTOREAP` (4: `... CLONE_PIDFD_AUTOKILL` on a kernel with only the former); with
//! `AUTOKILL_REQUIRE_SUPPORT=1` they fail instead. Exit status 0 iff nothing failed.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conformance::creds;
use conformance::errno::Errno;
use conformance::raw::{self, ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};

/// `prctl()` option: restore the ids of POSIX timers (`include/uapi/linux/prctl.h`, 6.14).
const PR_TIMER_CREATE_RESTORE_IDS: libc::c_int = 77;
/// `PR_TIMER_CREATE_RESTORE_IDS` argument: clear `timer_create_restore_ids`.
const PR_TIMER_CREATE_RESTORE_IDS_OFF: libc::c_ulong = 0;
/// `PR_TIMER_CREATE_RESTORE_IDS` argument: set `timer_create_restore_ids`.
const PR_TIMER_CREATE_RESTORE_IDS_ON: libc::c_ulong = 1;
/// `PR_TIMER_CREATE_RESTORE_IDS` argument: read `timer_create_restore_ids`.
const PR_TIMER_CREATE_RESTORE_IDS_GET: libc::c_ulong = 2;

/// Autokill children whose death is checked later, at most.
const MAX_PENDING: usize = 64;

fn usage() -> ! {
    eprintln!(
        "usage: autokill-race [--seconds S] [--iterations N] [--writers W] [--autokill-every K] \
         [--writer both|timer|subreaper] [--unprivileged]"
    );
    std::process::exit(2);
}

/// What the racing processes do.
#[derive(Clone, Copy, Debug)]
struct Config {
    /// How long each loop runs, if bounded by time.
    seconds: Option<u64>,
    /// How many calls each loop makes, if bounded by count.
    iterations: Option<u64>,
    /// Writer threads per process.
    writers: u64,
    /// One autokill cycle every this many `CLONE_PARENT` calls.
    autokill_every: u64,
    /// Whether the writers flip `timer_create_restore_ids` (asked for, and the prctl works).
    timer: bool,
    /// Whether the writers flip `is_child_subreaper`.
    subreaper: bool,
    /// Whether the kernel has `CLONE_PIDFD_AUTOKILL` (for the autokill cycles).
    autokill: bool,
}

impl Config {
    /// Whether a loop that started at `start` and made `i` calls is done.
    fn done(&self, i: u64, start: Instant) -> bool {
        self.iterations.is_some_and(|n| i >= n)
            || self
                .seconds
                .is_some_and(|s| start.elapsed() >= Duration::from_secs(s))
    }
}

/// The counts and errors a racing process sends to the reaper: `n KEY VALUE` and
/// `e CHECK MESSAGE` lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Report {
    counts: BTreeMap<String, u64>,
    /// `(check, message)`, the first few of each check.
    errors: Vec<(String, String)>,
}

impl Report {
    fn add(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_string()).or_default() += n;
    }

    fn get(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// Records an error of `check` (the first 5 of each; the counts tell the rest).
    fn error(&mut self, check: &str, msg: String) {
        if self.errors.iter().filter(|(c, _)| c == check).count() < 5 {
            self.errors
                .push((check.to_string(), msg.replace('\n', " ")));
        }
    }

    fn errors_of(&self, check: &str) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|(c, _)| c == check)
            .map(|(_, m)| m.as_str())
            .collect()
    }

    fn encode(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.counts {
            s.push_str(&format!("n {k} {v}\n"));
        }
        for (c, m) in &self.errors {
            s.push_str(&format!("e {c} {m}\n"));
        }
        s
    }

    fn decode(text: &str) -> Report {
        let mut r = Report::default();
        for line in text.lines() {
            let mut it = line.splitn(3, ' ');
            match (it.next(), it.next(), it.next()) {
                (Some("n"), Some(k), Some(v)) => {
                    if let Ok(v) = v.parse() {
                        r.add(k, v);
                    }
                }
                (Some("e"), Some(c), Some(m)) => r.errors.push((c.to_string(), m.to_string())),
                _ => {}
            }
        }
        r
    }
}

/// `prctl(option, arg2, 0, 0, 0)`, all arguments as `unsigned long`:
/// `PR_TIMER_CREATE_RESTORE_IDS` rejects non-zero unused arguments, so no garbage may reach
/// the upper halves of these variadic arguments.
fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> Result<i32, Errno> {
    let zero: libc::c_ulong = 0;
    // SAFETY: The callers pass only `PR_TIMER_CREATE_RESTORE_IDS` and `PR_SET_CHILD_SUBREAPER`,
    // whose arguments are plain integers: the kernel dereferences no pointer and touches no
    // memory of ours.
    let r = unsafe { libc::prctl(option, arg2, zero, zero, zero) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// Whether `PR_TIMER_CREATE_RESTORE_IDS` can be written here; restores our own value.
fn probe_timer_prctl() -> Result<(), Errno> {
    let old = prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET)?;
    prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON)?;
    prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF)?;
    if old != 0 {
        prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON)?;
    }
    Ok(())
}

/// Whether this kernel has `CLONE_AUTOREAP`: one child that exits at once must be reaped by
/// the kernel, never waitable by us.
fn kernel_has_autoreap() -> Result<bool, String> {
    let mut c = match Clone3::new(CLONE_PIDFD | CLONE_AUTOREAP).spawn(ChildMode::Exit(0)) {
        Ok(c) => c,
        Err(Errno::EINVAL) => return Ok(false),
        Err(e) => return Err(format!("clone3(PIDFD|AUTOREAP): {e}")),
    };
    let pidfd = c.take_pidfd();
    if !util::wait_exit(pidfd.as_fd_borrowed(), util::death_ms()) {
        util::kill_reap(c.pid);
        return Err("the CLONE_AUTOREAP probe child did not exit".into());
    }
    let mut verdict = Err("the CLONE_AUTOREAP probe child was neither reaped nor waitable".into());
    util::wait_until(util::death_ms(), || match util::waitid_nohang(c.pid) {
        Err(Errno::ECHILD) => {
            verdict = Ok(true);
            true
        }
        Ok(w) if w.pid == c.pid => {
            verdict = Err("CLONE_AUTOREAP accepted but the child became a zombie".into());
            true
        }
        Ok(_) => false,
        Err(e) => {
            verdict = Err(format!("waitid: {e}"));
            true
        }
    });
    verdict
}

/// What one writer thread did.
#[derive(Debug, Default)]
struct WriterStats {
    timer_flips: u64,
    subreaper_flips: u64,
    timer_errors: u64,
    subreaper_errors: u64,
    first_error: Option<String>,
}

/// Flips `timer_create_restore_ids` (if `timer`) and `is_child_subreaper` (if `subreaper`) of
/// our `signal_struct` until `stop`; counts itself in `started` after its first round.
fn writer(stop: &AtomicBool, started: &AtomicU64, timer: bool, subreaper: bool) -> WriterStats {
    let mut st = WriterStats::default();
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        for (on_off, sub) in [
            (PR_TIMER_CREATE_RESTORE_IDS_ON, 1),
            (PR_TIMER_CREATE_RESTORE_IDS_OFF, 0),
        ] {
            if timer {
                match prctl(PR_TIMER_CREATE_RESTORE_IDS, on_off) {
                    Ok(_) => st.timer_flips += 1,
                    Err(e) => {
                        st.timer_errors += 1;
                        st.first_error.get_or_insert_with(|| {
                            format!("prctl(PR_TIMER_CREATE_RESTORE_IDS, {on_off}): {e}")
                        });
                    }
                }
            }
            if !subreaper {
                continue;
            }
            match prctl(libc::PR_SET_CHILD_SUBREAPER, sub) {
                Ok(_) => st.subreaper_flips += 1,
                Err(e) => {
                    st.subreaper_errors += 1;
                    st.first_error.get_or_insert_with(|| {
                        format!("prctl(PR_SET_CHILD_SUBREAPER, {sub}): {e}")
                    });
                }
            }
        }
        if first {
            started.fetch_add(1, Ordering::Release);
            first = false;
        }
    }
    st
}

/// Starts `cfg.writers` writer threads, waits until each has flipped once, runs `body` and
/// stops and joins the writers; their counts go to `rep` (`writers_*`, `*_flips`, `*_errors`).
fn with_writers(cfg: &Config, rep: &mut Report, body: impl FnOnce(&mut Report)) {
    let stop = AtomicBool::new(false);
    let started = AtomicU64::new(0);
    rep.add("writers", cfg.writers);
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for i in 0..cfg.writers {
            let b = std::thread::Builder::new().name(format!("writer{i}"));
            match b.spawn_scoped(s, || writer(&stop, &started, cfg.timer, cfg.subreaper)) {
                Ok(h) => handles.push(h),
                Err(e) => rep.error("writers", format!("starting writer {i}: {e}")),
            }
        }
        let n = handles.len() as u64;
        if !util::wait_until(util::death_ms(), || started.load(Ordering::Acquire) >= n) {
            rep.error(
                "writers",
                format!(
                    "only {} of {n} writers flipped within {} ms",
                    started.load(Ordering::Acquire),
                    util::death_ms()
                ),
            );
        }
        body(rep);
        stop.store(true, Ordering::Relaxed);
        let mut ok = 0;
        for h in handles {
            match h.join() {
                Ok(st) => {
                    ok += 1;
                    rep.add("timer_flips", st.timer_flips);
                    rep.add("subreaper_flips", st.subreaper_flips);
                    rep.add("timer_errors", st.timer_errors);
                    rep.add("subreaper_errors", st.subreaper_errors);
                    if let Some(e) = st.first_error {
                        rep.error("writers", e);
                    }
                }
                Err(_) => rep.error("writers", "a writer thread panicked".into()),
            }
        }
        rep.add("writers_started", started.load(Ordering::Acquire).min(ok));
    });
}

/// `clone3(CLONE_PARENT)` of a child that exits at once.
///
/// `exit_signal` must be 0: `clone3_args_valid()` refuses any other with `CLONE_PARENT`
/// (`EINVAL`, before `copy_process()` reads `autoreap`). The child takes the exit signal of
/// the caller's group leader (`SIGCHLD` for the forked normal process, 0 for the autoreap one)
/// and the caller's parent.
fn clone_parent() -> Result<i32, Errno> {
    Clone3::new(CLONE_PARENT)
        .spawn(ChildMode::Exit(0))
        .map(|s| s.pid)
}

/// An autokill child whose pidfd is closed, and our second pidfd to it.
struct Killed {
    pid: i32,
    obs: OwnedFd,
}

impl Killed {
    /// `None` while the child is not yet reaped; then whether it died of `SIGKILL`. Without
    /// `PIDFD_INFO_EXIT` (before 6.15) its exit is all we see.
    fn state(&self) -> Option<Result<(), String>> {
        match autokill::sys::pidfd_exit_status(self.obs.as_fd_borrowed()) {
            Ok(Some(st)) if libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL => {
                Some(Ok(()))
            }
            Ok(Some(st)) => Some(Err(format!("child {} ended with status {st:#x}", self.pid))),
            Ok(None) => None,
            Err(_) => util::has_exited(self.obs.as_fd_borrowed()).then_some(Ok(())),
        }
    }
}

/// The normal process's checks of the autokill children.
struct Autokill {
    pending: VecDeque<Killed>,
    checked_flag: bool,
}

impl Autokill {
    /// One child: arm, close the pidfd, queue it for the death check.
    fn cycle(&mut self, rep: &mut Report) {
        let mut s = match Clone3::new(AUTOKILL_NNP).spawn(ChildMode::CleanPause) {
            Ok(s) => s,
            Err(e) => {
                rep.add("autokill_errors", 1);
                rep.error(
                    "autokill",
                    format!("clone3({}): {e}", flags_str(AUTOKILL_NNP)),
                );
                return;
            }
        };
        rep.add("autokill_armed", 1);
        let fd = s.take_pidfd();
        let obs = util::pidfd_open(s.pid, 0);
        if !self.checked_flag {
            self.checked_flag = true;
            if let Some(f) = util::fdinfo_flags(fd.as_raw_fd()) {
                if f & PIDFD_AUTOKILL as u32 == 0 {
                    rep.add("autokill_errors", 1);
                    rep.error(
                        "autokill",
                        format!("clone3 pidfd flags {f:#o} lack PIDFD_AUTOKILL"),
                    );
                }
            }
        }
        drop(fd);
        match obs {
            Ok(obs) => self.pending.push_back(Killed { pid: s.pid, obs }),
            Err(e) => {
                // Closed already: it dies anyway, but we cannot watch it.
                rep.add("autokill_errors", 1);
                rep.error("autokill", format!("pidfd_open({}): {e}", s.pid));
            }
        }
        self.collect(rep, MAX_PENDING);
    }

    /// Checks the queued children, in order, until at most `keep` are left: those that are
    /// done now without waiting, then the oldest ones, waiting up to the death timeout in all
    /// (not per child: a kernel that kills none must not keep us for the queue's length times
    /// the timeout).
    fn collect(&mut self, rep: &mut Report, keep: usize) {
        let deadline = Instant::now() + Duration::from_millis(util::death_ms() as u64);
        while let Some(k) = self.pending.front() {
            let res = match k.state() {
                Some(r) => r,
                None if self.pending.len() <= keep => break,
                None => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let mut res = None;
                    util::wait_until(left.as_millis() as i32, || {
                        res = k.state();
                        res.is_some()
                    });
                    res.unwrap_or_else(|| {
                        let what = if util::has_exited(k.obs.as_fd_borrowed()) {
                            "exited but not reaped"
                        } else {
                            "alive"
                        };
                        let _ = util::pidfd_send_signal(k.obs.as_fd_borrowed(), libc::SIGKILL);
                        Err(format!(
                            "child {} {what} {} ms after its autokill pidfd was closed",
                            k.pid,
                            util::death_ms()
                        ))
                    })
                }
            };
            match res {
                Ok(()) => rep.add("autokill_killed", 1),
                Err(e) => {
                    rep.add("autokill_errors", 1);
                    rep.error("autokill", e);
                }
            }
            self.pending.pop_front();
        }
    }
}

/// The normal process: (a) and (b) while the writers flip.
fn normal_process(cfg: &Config) -> Report {
    let mut rep = Report::default();
    with_writers(cfg, &mut rep, |rep| {
        let mut ak = Autokill {
            pending: VecDeque::new(),
            checked_flag: false,
        };
        let start = Instant::now();
        let mut i = 0u64;
        while !cfg.done(i, start) {
            match clone_parent() {
                Ok(_) => rep.add("parent_ok", 1),
                Err(Errno::EINVAL) => {
                    rep.add("parent_misread", 1);
                    rep.error(
                        "parent",
                        format!("call {i}: EINVAL from a process whose autoreap is 0"),
                    );
                }
                Err(e) if e == Errno::EAGAIN || e.0 == libc::ENOMEM => {
                    // Out of pids or memory for a moment (RLIMIT_NPROC counts the zombies
                    // the reaper has not reaped yet): not a verdict, try again.
                    rep.add("parent_transient", 1);
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                Err(e) => {
                    rep.add("parent_other", 1);
                    rep.error("parent", format!("call {i}: {e}"));
                }
            }
            if cfg.autokill && i.is_multiple_of(cfg.autokill_every) {
                ak.cycle(rep);
            }
            i += 1;
        }
        rep.add("parent_calls", i);
        ak.collect(rep, 0);
    });
    if cfg.autokill {
        // The autokill children were our only children: none may be left as a zombie.
        let mut zombie = None;
        let clean = util::wait_until(util::death_ms(), || {
            match util::waitid(
                libc::P_ALL,
                0,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
            ) {
                Err(Errno::ECHILD) => true,
                Ok(w) if w.pid == 0 => false,
                Ok(w) => {
                    zombie = Some(w.pid);
                    false
                }
                Err(_) => true,
            }
        });
        if !clean {
            rep.add("autokill_errors", 1);
            rep.error(
                "autokill",
                match zombie {
                    Some(p) => format!("autoreap child {p} left as a zombie"),
                    None => "autoreap children still alive at the end".into(),
                },
            );
        }
    }
    rep
}

/// The autoreap process: (c) while the writers flip.
fn autoreap_process(cfg: &Config) -> Report {
    let mut rep = Report::default();
    with_writers(cfg, &mut rep, |rep| {
        let start = Instant::now();
        let mut i = 0u64;
        while !cfg.done(i, start) {
            match clone_parent() {
                Err(Errno::EINVAL) => rep.add("refused", 1),
                Ok(pid) => {
                    rep.add("refused_misread", 1);
                    rep.error(
                        "refused",
                        format!("call {i}: accepted (child {pid}) from an autoreap process"),
                    );
                }
                Err(e) => {
                    rep.add("refused_other", 1);
                    rep.error("refused", format!("call {i}: {e}, not EINVAL"));
                }
            }
            i += 1;
        }
        rep.add("refused_calls", i);
    });
    rep
}

/// Writes `rep` to `fd` (the reaper reads it).
fn send_report(fd: RawFd, rep: &Report) -> i32 {
    match util::write_all(fd, rep.encode().as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("autokill-race: sending the report: {e}");
            1
        }
    }
}

/// What the reaper saw of its children other than the two racing processes.
#[derive(Debug, Default)]
struct Reaped {
    children: u64,
    bad: u64,
    first_bad: Option<String>,
}

impl Reaped {
    fn note(&mut self, pid: i32, st: i32) {
        self.children += 1;
        if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
            self.bad += 1;
            self.first_bad
                .get_or_insert_with(|| format!("child {pid} status {st:#x}"));
        }
    }
}

/// `waitpid(pid, __WALL | extra)`, retried on `EINTR`: `(pid, status)`.
fn waitpid(pid: i32, extra: i32) -> Result<(i32, i32), Errno> {
    loop {
        let mut st = 0;
        // SAFETY: waitpid into a local int.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL | extra) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok((r, st));
    }
}

/// The result of one check: its summary, or why it was skipped, or its summary and what went
/// wrong.
enum Outcome {
    Pass(String),
    Skip(String),
    Fail(String, String),
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut seconds, mut iterations, mut writers, mut every, mut unpriv) =
        (None, None, None, 8u64, false);
    let (mut want_timer, mut want_subreaper) = (true, true);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || util::next_u64(&mut it, usage);
        match a.as_str() {
            "--seconds" => seconds = Some(val()),
            "--iterations" => iterations = Some(val().max(1)),
            "--writers" => writers = Some(val().max(1)),
            "--autokill-every" => every = val().max(1),
            "--unprivileged" => unpriv = true,
            "--writer" => match it.next().map(String::as_str) {
                Some("both") => (want_timer, want_subreaper) = (true, true),
                Some("timer") => (want_timer, want_subreaper) = (true, false),
                Some("subreaper") => (want_timer, want_subreaper) = (false, true),
                _ => usage(),
            },
            _ => usage(),
        }
    }
    if seconds.is_none() && iterations.is_none() {
        seconds = Some(10);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let writers = writers.unwrap_or(cpus.saturating_sub(1).max(1));
    if unpriv && creds::is_root() {
        if let Err(e) = creds::drop_to_nobody() {
            eprintln!("autokill-race: dropping to nobody: {e}");
            std::process::exit(2);
        }
    }
    let require = std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_some_and(|v| v == "1");

    println!("KTAP version 1");
    let autoreap = match kernel_has_autoreap() {
        Ok(f) => f,
        Err(e) => {
            println!("# probing CLONE_AUTOREAP failed: {e}; treating it as absent");
            false
        }
    };
    let autokill = autoreap
        && match util::kernel_has_autokill() {
            Ok(f) => f,
            Err(e) => {
                println!("# probing CLONE_PIDFD_AUTOKILL failed: {e}; treating it as absent");
                false
            }
        };
    let timer = if want_timer {
        probe_timer_prctl().map_err(|e| e.to_string())
    } else {
        Err("not asked for (--writer subreaper)".to_string())
    };
    let cfg = Config {
        seconds,
        iterations,
        writers,
        autokill_every: every,
        timer: timer.is_ok(),
        subreaper: want_subreaper,
        autokill,
    };
    let bound = match (seconds, iterations) {
        (Some(s), Some(n)) => format!("{s} s or {n} iterations"),
        (Some(s), None) => format!("{s} s"),
        (None, Some(n)) => format!("{n} iterations"),
        (None, None) => unreachable!(),
    };
    let present = |f: bool| if f { "present" } else { "absent" };
    println!(
        "# autokill-race: kernel {}, {cpus} CPUs, {writers} writer(s) per process, {bound}, \
         CLONE_AUTOREAP {}, CLONE_PIDFD_AUTOKILL {}, {}",
        util::kernel_release(),
        present(autoreap),
        present(autokill),
        if creds::is_root() { "root" } else { "not root" },
    );
    match &timer {
        Ok(()) => println!("# PR_TIMER_CREATE_RESTORE_IDS: available"),
        Err(e) if !want_timer => println!("# PR_TIMER_CREATE_RESTORE_IDS: {e}"),
        Err(e) => println!(
            "# PR_TIMER_CREATE_RESTORE_IDS: unavailable ({e}; needs Linux 6.14+ with \
             CONFIG_POSIX_TIMERS){}",
            if want_subreaper {
                ": the writers flip only PR_SET_CHILD_SUBREAPER"
            } else {
                ": the writers have nothing to flip"
            }
        ),
    }
    if !want_subreaper {
        println!("# PR_SET_CHILD_SUBREAPER: not asked for (--writer timer)");
    }
    println!("1..4");
    let t0 = Instant::now();

    // The normal process; its CLONE_PARENT children are ours.
    let (a_r, a_w) = util::pipe();
    let a_wfd = a_w.as_raw_fd();
    let a_pid = match raw::fork_fn(move || send_report(a_wfd, &normal_process(&cfg))) {
        Ok(p) => p,
        Err(e) => {
            println!("# fork: {e}");
            println!("Bail out! fork failed");
            std::process::exit(1);
        }
    };
    drop(a_w);
    let a_pidfd = util::pidfd_open(a_pid, 0).ok();

    // The autoreap process (killed if we die: its pidfd is an autokill one where possible).
    let mut c_setup_error = None;
    let c = if autoreap {
        let (c_r, c_w) = util::pipe();
        let c_wfd = c_w.as_raw_fd();
        let flags = if autokill {
            AUTOKILL_NNP
        } else {
            CLONE_PIDFD | CLONE_AUTOREAP
        };
        let res = Clone3::new(flags).spawn_fn(move || send_report(c_wfd, &autoreap_process(&cfg)));
        drop(c_w);
        match res {
            Ok(mut s) => Some((s.take_pidfd(), c_r)),
            Err(e) => {
                c_setup_error = Some(format!("clone3({}): {e}", flags_str(flags)));
                None
            }
        }
    } else {
        None
    };

    // Reap until the normal process is gone.
    let mut reaped = Reaped::default();
    let mut a_status = None;
    let mut reap_error = None;
    while a_status.is_none() {
        match waitpid(-1, 0) {
            Ok((pid, st)) if pid == a_pid => a_status = Some(st),
            Ok((pid, st)) => reaped.note(pid, st),
            Err(e) => {
                reap_error = Some(format!("waitpid: {e}"));
                break;
            }
        }
    }
    let a_rep = match &a_pidfd {
        Some(fd) => util::read_from_process(a_r.as_raw_fd(), fd.as_raw_fd(), util::death_ms()),
        None => util::read_to_end(a_r.as_raw_fd(), util::death_ms()),
    }
    .map(|b| Report::decode(&String::from_utf8_lossy(&b)));
    let a_rep = match (a_status, a_rep) {
        (Some(st), Ok(r)) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => Ok(r),
        (Some(st), _) => Err(format!("the normal process ended with status {st:#x}")),
        (None, _) => Err(reap_error.clone().unwrap_or_default()),
    };

    // The autoreap process's report, then its end.
    let c_rep = c.as_ref().map(|(pidfd, r)| {
        // Bounded by time: the run plus the writers' start and stop; by count only: no bound.
        let timeout = seconds.map_or(i32::MAX, |s| {
            i32::try_from(s)
                .unwrap_or(i32::MAX)
                .saturating_mul(1000)
                .saturating_add(util::death_ms().saturating_mul(3))
        });
        let rep = util::read_from_process(r.as_raw_fd(), pidfd.as_raw_fd(), timeout)
            .map(|b| Report::decode(&String::from_utf8_lossy(&b)));
        if !util::wait_exit(pidfd.as_fd_borrowed(), util::death_ms()) {
            let _ = util::pidfd_send_signal(pidfd.as_fd_borrowed(), libc::SIGKILL);
            return Err("the autoreap process did not end".to_string());
        }
        let status = util::exit_code(pidfd.as_fd_borrowed(), util::death_ms());
        match (status, rep) {
            (Some(st), _) if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) => {
                Err(format!("the autoreap process ended with status {st:#x}"))
            }
            (_, Ok(r)) if r.counts.is_empty() => Err("no report from the autoreap process".into()),
            (_, r) => r.map_err(|e| format!("reading the autoreap process's report: {e}")),
        }
    });
    drop(c);
    let elapsed = t0.elapsed();

    // Late children: CLONE_PARENT children still exiting.
    let mut leftover = None;
    let drained = util::wait_until(util::death_ms(), || match waitpid(-1, libc::WNOHANG) {
        Ok((0, _)) => false,
        Ok((pid, st)) => {
            reaped.note(pid, st);
            false
        }
        Err(Errno::ECHILD) => true,
        Err(e) => {
            leftover = Some(format!("waitpid: {e}"));
            true
        }
    });
    if !drained {
        leftover = Some("children left after the run".into());
    }

    let none = Report::default();
    let a = a_rep.as_ref().unwrap_or(&none);
    let cr = c_rep.as_ref().and_then(|r| r.as_ref().ok());
    let a_missing = a_rep.as_ref().err();
    let absent_reason = if !autoreap {
        "kernel lacks CLONE_AUTOREAP"
    } else {
        "kernel lacks CLONE_PIDFD_AUTOKILL"
    };

    // 1. writers
    let writers_out = {
        let mut why = Vec::new();
        let mut procs = vec![("the normal process", Some(a))];
        if autoreap {
            procs.push(("the autoreap process", cr));
        }
        let (mut started, mut timer_flips, mut sub_flips, mut errors) = (0, 0, 0, 0);
        for (name, rep) in &procs {
            let Some(rep) = rep else { continue };
            if rep.get("writers_started") < cfg.writers {
                why.push(format!(
                    "{name}: {} of {} writers started",
                    rep.get("writers_started"),
                    cfg.writers
                ));
            }
            started += rep.get("writers_started");
            timer_flips += rep.get("timer_flips");
            sub_flips += rep.get("subreaper_flips");
            errors += rep.get("timer_errors") + rep.get("subreaper_errors");
            why.extend(
                rep.errors_of("writers")
                    .iter()
                    .map(|e| format!("{name}: {e}")),
            );
        }
        if let Some(e) = a_missing {
            why.push(e.clone());
        }
        if !cfg.timer && !cfg.subreaper {
            why.push("no writer prctl to flip".into());
        } else if (cfg.subreaper && sub_flips == 0) || (cfg.timer && timer_flips == 0) {
            why.push("no flips".into());
        }
        let summary = format!(
            "{started} writer thread(s) in {} process(es) started; timer_create_restore_ids \
             written {timer_flips} times{}, is_child_subreaper written {sub_flips} times; \
             {errors} prctl errors",
            procs.len(),
            if cfg.timer { "" } else { " (not flipped)" }
        );
        if why.is_empty() && errors == 0 {
            Outcome::Pass(summary)
        } else {
            Outcome::Fail(summary, why.join("; "))
        }
    };

    // 2. clone_parent_accepted
    let parent_out = {
        let mut why: Vec<String> = a
            .errors_of("parent")
            .iter()
            .map(|e| e.to_string())
            .collect();
        if let Some(e) = a_missing {
            why.push(e.clone());
        }
        let c_misread = cr.map_or(0, |r| r.get("refused_misread"));
        let expect = a.get("parent_ok") + c_misread;
        if reaped.children != expect {
            why.push(format!(
                "reaped {} CLONE_PARENT children, expected {expect}",
                reaped.children
            ));
        }
        if let Some(b) = &reaped.first_bad {
            why.push(format!(
                "{} children did not exit 0 (first: {b})",
                reaped.bad
            ));
        }
        if let Some(l) = &leftover {
            why.push(l.clone());
        }
        if a.get("parent_calls") == 0 && a_missing.is_none() {
            why.push("no calls".into());
        }
        let summary = format!(
            "{} calls from a normal process, {} accepted, {} misread (EINVAL), {} other \
             errors, {} transient (EAGAIN/ENOMEM, retried); {} children reaped by the parent, \
             {} not exit 0",
            a.get("parent_calls"),
            a.get("parent_ok"),
            a.get("parent_misread"),
            a.get("parent_other"),
            a.get("parent_transient"),
            reaped.children,
            reaped.bad
        );
        if why.is_empty() && a.get("parent_ok") == a.get("parent_calls") {
            Outcome::Pass(summary)
        } else {
            Outcome::Fail(summary, why.join("; "))
        }
    };

    // 3. clone_parent_refused_autoreap
    let refused_out = match &c_rep {
        None if !autoreap => Outcome::Skip("kernel lacks CLONE_AUTOREAP".into()),
        None => Outcome::Fail(
            "no autoreap process".into(),
            c_setup_error.clone().unwrap_or_default(),
        ),
        Some(Err(e)) => Outcome::Fail("no result".into(), e.clone()),
        Some(Ok(r)) => {
            let summary = format!(
                "{} calls from an autoreap process, {} refused with EINVAL, {} misread \
                 (accepted), {} other errors",
                r.get("refused_calls"),
                r.get("refused"),
                r.get("refused_misread"),
                r.get("refused_other")
            );
            let mut why: Vec<String> = r
                .errors_of("refused")
                .iter()
                .map(|e| e.to_string())
                .collect();
            if r.get("refused_calls") == 0 {
                why.push("no calls".into());
            }
            if why.is_empty() && r.get("refused") == r.get("refused_calls") {
                Outcome::Pass(summary)
            } else {
                Outcome::Fail(summary, why.join("; "))
            }
        }
    };

    // 4. autokill_killed
    let autokill_out = if !autokill {
        Outcome::Skip(absent_reason.into())
    } else {
        let summary = format!(
            "{} autokill children armed, {} killed (SIGKILL) and reaped by the kernel after \
             the pidfd was closed, {} errors",
            a.get("autokill_armed"),
            a.get("autokill_killed"),
            a.get("autokill_errors")
        );
        let mut why: Vec<String> = a
            .errors_of("autokill")
            .iter()
            .map(|e| e.to_string())
            .collect();
        if let Some(e) = a_missing {
            why.push(e.clone());
        }
        if a.get("autokill_armed") == 0 {
            why.push("none armed".into());
        }
        if why.is_empty()
            && a.get("autokill_errors") == 0
            && a.get("autokill_killed") == a.get("autokill_armed")
        {
            Outcome::Pass(summary)
        } else {
            Outcome::Fail(summary, why.join("; "))
        }
    };

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let checks = [
        ("writers", writers_out),
        ("clone_parent_accepted", parent_out),
        ("clone_parent_refused_autoreap", refused_out),
        ("autokill_killed", autokill_out),
    ];
    for (i, (name, out)) in checks.into_iter().enumerate() {
        let n = i + 1;
        let out = match out {
            Outcome::Skip(r) if require => Outcome::Fail(
                format!("skipped: {r}"),
                format!("{r}, with AUTOKILL_REQUIRE_SUPPORT=1"),
            ),
            o => o,
        };
        match out {
            Outcome::Pass(s) => {
                passed += 1;
                println!("# {name}: {s}");
                println!("ok {n} {name}");
            }
            Outcome::Skip(r) => {
                skipped += 1;
                println!("# {name}: skipped: {r}");
                println!("ok {n} {name} # SKIP {r}");
            }
            Outcome::Fail(s, r) => {
                failed += 1;
                println!("# {name}: {s}");
                println!("# {name}: {r}");
                println!("not ok {n} {name}");
            }
        }
    }
    let crg = |k: &str| cr.map_or(0, |r| r.get(k));
    let misreads = a.get("parent_misread") + crg("refused_misread");
    let failures = misreads
        + a.get("parent_other")
        + crg("refused_other")
        + a.get("autokill_errors")
        + a.get("timer_errors")
        + a.get("subreaper_errors")
        + crg("timer_errors")
        + crg("subreaper_errors")
        + reaped.bad;
    println!(
        "# race seconds {:.1} writers {} timer_flips {} subreaper_flips {} parent_accepted {} \
         parent_refused {} misreads {misreads} autokill_armed {} autokill_killed {} \
         failures {failures}",
        elapsed.as_secs_f64(),
        cfg.writers,
        a.get("timer_flips") + crg("timer_flips"),
        a.get("subreaper_flips") + crg("subreaper_flips"),
        a.get("parent_ok"),
        crg("refused"),
        a.get("autokill_armed"),
        a.get("autokill_killed"),
    );
    println!("# passed {passed} failed {failed} skipped {skipped}");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip() {
        let mut r = Report::default();
        r.add("parent_ok", 7);
        r.add("parent_ok", 3);
        r.error("parent", "call 1: EINVAL from\na process".into());
        for i in 0..9 {
            r.error("refused", format!("call {i}"));
        }
        let d = Report::decode(&r.encode());
        assert_eq!(d, r);
        assert_eq!(d.get("parent_ok"), 10);
        assert_eq!(d.get("missing"), 0);
        assert_eq!(d.errors_of("parent"), ["call 1: EINVAL from a process"]);
        assert_eq!(d.errors_of("refused").len(), 5);
    }

    #[test]
    fn config_bounds() {
        let mut c = Config {
            seconds: None,
            iterations: Some(3),
            writers: 1,
            autokill_every: 8,
            timer: false,
            subreaper: true,
            autokill: false,
        };
        let now = Instant::now();
        assert!(!c.done(2, now));
        assert!(c.done(3, now));
        c.seconds = Some(0);
        assert!(c.done(0, now));
    }
}
