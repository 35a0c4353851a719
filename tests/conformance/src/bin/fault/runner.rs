// SPDX-License-Identifier: GPL-2.0

//! The sequences: per path and kind, n = 1, 2, ... until a call succeeds with no fault
//! injected, each n tried until one outcome was seen twice, and the checks after every try
//! (children, zombies, open fds).

use std::io::Write;
use std::time::{Duration, Instant};

use conformance::util;

use crate::common::{Ctx, Kid, Step};
use crate::inject::{Kind, Knobs};
use crate::kmsg::Kmsg;
use crate::PathDef;

/// The children of this thread (zombies included); `/proc` scanned without
/// `CONFIG_PROC_CHILDREN`.
fn children() -> Vec<i32> {
    let tid = util::gettid();
    let mut v: Vec<i32> = match std::fs::read_to_string(format!("/proc/self/task/{tid}/children")) {
        Ok(t) => t
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(_) => std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|&p| util::proc_status(p).is_some_and(|s| s.ppid == util::getpid()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    v.sort_unstable();
    v
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// After an attempt: only `expected` children, no zombie, `fds` open fds.
fn settle(expected: &[i32], fds: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut now = children();
    if now != expected {
        util::wait_until(util::death_ms(), || {
            now = children();
            now == expected
        });
    }
    if now != expected {
        problems.push(format!("children {now:?} left (expected {expected:?})"));
        for &p in now.iter().filter(|p| !expected.contains(p)) {
            util::kill_reap(p);
        }
    }
    match util::waitid(
        libc::P_ALL,
        0,
        libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
    ) {
        Ok(w) if w.pid != 0 => {
            problems.push(format!("zombie child {}", w.pid));
            let _ = util::reap(w.pid);
        }
        _ => {}
    }
    let now_fds = fd_count();
    if now_fds != fds {
        problems.push(format!("{now_fds} open fds, {fds} before"));
    }
    problems
}

/// The result of one kind of one path.
pub struct Seq {
    pub kind: Kind,
    pub points: u32,
    pub injected_ok: u32,
    pub errnos: std::collections::BTreeMap<String, u32>,
    /// The n whose first two tries disagreed.
    pub disagreed: u32,
    /// Signs that the sequence of fault points changed during the run (not a broken rule:
    /// the debug kernel's own allocations, kmemleak's and the stack depot's, come and go).
    pub unstable: Vec<String>,
    /// Tries made again because the child did not get the pinned pid.
    pub interfered: Vec<String>,
    pub elapsed: Duration,
}

/// How often one n is tried at most: its outcome is the first one seen twice.
const MAX_TRIES: u32 = 5;

/// A run: the settings and the outcome log.
pub struct Runner<'a> {
    pub ctx: &'a Ctx,
    pub knobs: Knobs,
    pub kinds: Vec<Kind>,
    pub cap: u32,
    pub verbose: &'static str,
    pub log: Box<dyn Write>,
    /// Calls made with a fault armed.
    pub attempts: u64,
    /// `--trace`: each try and where its fault was injected, on standard error.
    pub trace: Option<Kmsg>,
}

/// The part of a step that must be the same on every try and kernel.
fn step_key(st: &Step) -> String {
    if st.injected {
        format!("injected {}", st.text)
    } else {
        format!("clean {} consumed:{}", st.text, st.consumed)
    }
}

impl Runner<'_> {
    /// Tries the n-th fault until an outcome was seen twice: the allocators' state may add a
    /// fault point now and then (a slab refilled from the page allocator, a new sheaf), which
    /// shifts the sequence for that one call. Every try's rules are checked.
    fn vote(
        &mut self,
        def: &PathDef,
        n: u32,
        target: Option<&Kid>,
        fds: usize,
        problems: &mut Vec<String>,
        seq: &mut Seq,
    ) -> Result<(Step, String), String> {
        let expected: Vec<i32> = target.iter().map(|t| t.pid).collect();
        let mut seen: Vec<(String, u32, Step)> = Vec::new();
        let mut tries = 0;
        let mut stolen = 0;
        while tries < MAX_TRIES {
            let res = (def.run)(self.ctx, Some(n), target);
            let after = settle(&expected, fds);
            let mut st = res?;
            self.attempts += 1;
            if let Some(why) = st.interfered.take() {
                if stolen < MAX_TRIES {
                    stolen += 1;
                    seq.interfered.push(format!("n={n}: {why}"));
                    // The pid says nothing about the call; its other rules still hold.
                    for q in st.problems.drain(..).chain(after) {
                        problems.push(format!("{} n={n}: {q}", seq.kind.name()));
                    }
                    continue;
                }
                st.problems.push(format!(
                    "pid pinning failed {} times in a row: {why}",
                    stolen + 1
                ));
            }
            tries += 1;
            let key = step_key(&st);
            if let Some(k) = &self.trace {
                let sites = k.sites();
                eprintln!(
                    "{} {} {n} try {tries}: {key} <- {}",
                    def.name,
                    seq.kind.name(),
                    if sites.is_empty() {
                        "(nothing logged)".to_string()
                    } else {
                        sites.join(" | ")
                    }
                );
            }
            for q in st.problems.drain(..).chain(after) {
                problems.push(format!("{} n={n}: {q} ({key})", seq.kind.name()));
            }
            if tries == 2 && seen.first().is_some_and(|e| e.0 != key) {
                seq.disagreed += 1;
            }
            match seen.iter().position(|e| e.0 == key) {
                Some(i) => {
                    let (key, _, st) = seen.swap_remove(i);
                    return Ok((st, key));
                }
                None => seen.push((key, 1, st)),
            }
        }
        let keys: Vec<&str> = seen.iter().map(|e| e.0.as_str()).collect();
        seq.unstable.push(format!(
            "n={n}: no outcome twice in {MAX_TRIES} tries: {keys:?}, the last kept"
        ));
        let (key, _, st) = seen.pop().expect("tries");
        Ok((st, key))
    }

    /// Runs a path: warm-up, then one sequence per kind. Returns the sequences and the broken
    /// rules.
    pub fn run_path(&mut self, def: &PathDef) -> (Vec<Seq>, Vec<String>) {
        let mut problems = Vec::new();
        let mut seqs = Vec::new();
        let target = if def.target {
            match self.ctx.spawn_kid() {
                Ok(k) => Some(k),
                Err(e) => return (seqs, vec![format!("target: {e}")]),
            }
        } else {
            None
        };
        let expected: Vec<i32> = target.iter().map(|t| t.pid).collect();
        let fds = fd_count();
        // Warm-up: the caches and our own memory in the state of the armed calls.
        for _ in 0..2 {
            let res = (def.run)(self.ctx, None, target.as_ref());
            let mut p = settle(&expected, fds);
            match res {
                Ok(st) => {
                    p.extend(st.problems);
                    if !st.ok {
                        p.push(format!("fails with no fault armed: {}", st.text));
                    }
                }
                Err(e) => p.push(e),
            }
            if !p.is_empty() {
                return (seqs, vec![format!("warm-up: {}", p.join("; "))]);
            }
        }
        for kind in self.kinds.clone() {
            if let Err(e) = self.knobs.select(kind, self.verbose) {
                problems.push(format!("{}: {e}", kind.name()));
                continue;
            }
            let start = Instant::now();
            let mut seq = Seq {
                kind,
                points: 0,
                injected_ok: 0,
                errnos: Default::default(),
                disagreed: 0,
                unstable: Vec::new(),
                interfered: Vec::new(),
                elapsed: Duration::ZERO,
            };
            let mut finished = false;
            for n in 1..=self.cap {
                let (st, key) =
                    match self.vote(def, n, target.as_ref(), fds, &mut problems, &mut seq) {
                        Ok(v) => v,
                        Err(e) => {
                            problems.push(format!("{} n={n}: {e}", kind.name()));
                            finished = true;
                            break;
                        }
                    };
                let _ = writeln!(self.log, "{} {} {n} {key}", def.name, kind.name());
                if st.injected {
                    if st.ok {
                        seq.injected_ok += 1;
                    } else if let Some(e) = st
                        .text
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("errno:"))
                    {
                        *seq.errnos.entry(e.to_string()).or_default() += 1;
                    }
                    continue;
                }
                if !st.ok {
                    problems.push(format!(
                        "{} n={n}: failed with no fault injected: {}",
                        kind.name(),
                        st.text
                    ));
                }
                if st.consumed + 1 != n {
                    seq.unstable.push(format!(
                        "n={n}: the call went through {} fault points, the calls before through {}",
                        st.consumed,
                        n - 1
                    ));
                }
                seq.points = n - 1;
                finished = true;
                break;
            }
            if !finished {
                problems.push(format!(
                    "{}: still injecting at the cap n={}",
                    kind.name(),
                    self.cap
                ));
                seq.points = self.cap;
            }
            let _ = writeln!(
                self.log,
                "{} {} points {}",
                def.name,
                kind.name(),
                seq.points
            );
            seq.elapsed = start.elapsed();
            seqs.push(seq);
        }
        if let Some(mut t) = target {
            let _ = util::close(t.pidfd.take().expect("pidfd"));
            if !t.dies() {
                problems.push("the target survived the close of its pidfd".into());
            }
            problems.extend(settle(&[], fds - 1));
        }
        (seqs, problems)
    }
}
