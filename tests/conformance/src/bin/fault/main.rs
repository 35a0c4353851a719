// SPDX-License-Identifier: GPL-2.0

//! `autokill-fault [--log FILE] [--kmemleak] [--cap N] [--kinds LIST] [--trace] [PATH...]`
//!
//! Systematic fault injection on the `CLONE_PIDFD_AUTOKILL` paths, with the per-task
//! `/proc/thread-self/fail-nth` interface (Documentation/fault-injection/fault-injection.rst).
//! For n = 1, 2, ... it writes n to `fail-nth`, makes exactly one system call, reads `fail-nth`
//! back (0: the n-th fault point of the call failed), records the outcome and cleans up, until
//! a call succeeds with the fault not injected: n - 1 is then the number of fault points of the
//! call. A sequence that reaches `--cap` (default 1000) fails.
//!
//! Paths (`PATH...` selects those whose names contain one of the words):
//!
//! - `clone3_nnp`: `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_NNP)`.
//! - `clone3_root`: the same without `CLONE_NNP`, as root (`CAP_SYS_ADMIN`).
//! - `close_armed`: the final `close()` of an armed pidfd: the child must die.
//! - `pidfd_open`: `pidfd_open()` of a live autokill child (its own pidfd stays open), then
//!   `close()` of the new fd unarmed: nothing may die.
//! - `pidfd_open_close`: the same with the `close()` armed.
//! - `scm_send`: `sendmsg()` of an armed pidfd over `SCM_RIGHTS`; then every copy is closed.
//! - `scm_recv`: `recvmsg()` of an armed pidfd in flight (ours closed); then every copy.
//!
//! Each path runs three sub-sequences, one per kind of fault point counted by `fail-nth`:
//! `slab` (failslab, with `ignore-gfp-wait=N`), `page` (fail_page_alloc with `ignore-gfp-wait=N`,
//! `ignore-gfp-highmem=N`, `min-order=0`; failslab off by its `cache-filter`) and `usercopy`
//! (both off). Without `CONFIG_FAULT_INJECTION_STACKTRACE_FILTER` fail_usercopy cannot be
//! turned off, so the usercopy points are also counted in the slab and page sequences.
//! `--kinds slab,page` limits them; `--trace` sets `verbose=2` (a stack trace in the kernel log
//! per injected fault) instead of 0. The debugfs knobs are restored at the end.
//!
//! After every n: the call's child (if any) was checked and is gone, no child of ours is left
//! but the path's own target, no zombie, the number of open fds is back to where it was.
//!
//! The same sequence of fault points on every run and on both kernels takes some care:
//!
//! - No page fault while a fault is armed: the program locks its memory (`mlockall`), and the
//!   armed `clone3()` runs in one block of assembly from the system call to the reset of
//!   `fail-nth`, with its buffers in a shared page (after the fork our private pages are
//!   copy-on-write: the next write to one would be a page fault that consumes fault points).
//!   The children of the other paths share our memory (`CLONE_VM`) for the same reason.
//! - The same address space layout (a re-exec without randomisation: the same page tables to
//!   copy), one CPU for us and the children (CPU 0: one set of per-CPU caches), and the same pid
//!   for every child of `clone3()` under test (`ns_last_pid`; see [`pick_pid`]). A try whose
//!   child got another pid (another task took it first, or the kernel skipped it) is made
//!   again and noted (`# path kind: tried again: ...`); 6 such tries in a row are a broken
//!   rule.
//! - Each n is tried until one outcome was seen twice (at most 5 tries): the allocators add a
//!   point now and then (a new sheaf, a slab refilled from the page allocator). `# ... n tried
//!   again` counts the n whose first two tries differed; a sequence whose points changed while it
//!   ran is reported as `not repeatable` (a note, not a failure: on the debug kernel kmemleak's
//!   and the stack depot's own allocations are fault points that come and go, so its log is
//!   not comparable with the others).
//!
//! Output: KTAP (`KTAP version 1`, `1..N`, one `ok N - path` or `not ok N - path` per path,
//! the reasons on `# path: ...` lines before it, `#` lines with the points per sequence), then
//! `# passed P failed F skipped S`. `--log FILE` writes the outcome of every n, one line each,
//! with no pid or timing in it, the same on kernels that behave the same:
//!
//! ```text
//! PATH KIND N injected OUTCOME
//! PATH KIND N clean OUTCOME consumed:C
//! PATH KIND points P
//! ```
//!
//! `--kmemleak`: kmemleak is scanned and cleared before the run (older suspects are not ours;
//! that scan logs them to the kernel log if there are any); after it, after
//! `MSECS_MIN_AGE` (5 s in mm/kmemleak.c: younger objects are never reported), it is scanned
//! twice with that wait in between and every unreferenced object allocated by this program or
//! with a backtrace through pidfs, fork, signal, file, pid or unix socket code is printed and
//! fails the `kmemleak` line (`# SKIP` without /sys/kernel/debug/kmemleak).
//!
//! Needs root. Exit status 0 iff nothing failed.

mod clone;
mod common;
mod inject;
mod kmemleak;
mod kmsg;
mod pidfd;
mod repeat;
mod runner;
mod scm;

use std::io::Write;
use std::time::Instant;

use conformance::creds;
use conformance::sys::*;
use conformance::util;

use clone::clone3_path;
use common::{Ctx, Kid, Step};
use inject::{debugfs, failslab_caches, have, FailNth, Kind, Knobs, DEBUGFS};
use kmemleak::{kmemleak_report, kmemleak_write, KMEMLEAK, KMEMLEAK_WAIT};
use kmsg::Kmsg;
use pidfd::{close_path, pidfd_open_path};
use repeat::{pick_pid, pin_and_lock, reexec, Scratch};
use runner::Runner;
use scm::scm_path;

fn usage() -> ! {
    eprintln!(
        "usage: autokill-fault [--log FILE] [--kmemleak] [--cap N] [--kinds slab,page,usercopy] \
         [--trace] [PATH...]"
    );
    std::process::exit(2);
}

/// One try of a path: the n-th fault armed (`None`: unarmed), the path's target if it has one.
type Attempt = fn(&Ctx, Option<u32>, Option<&Kid>) -> Result<Step, String>;

/// A path: a name and the attempt function (`None`: the warm-up, unarmed).
struct PathDef {
    name: &'static str,
    target: bool,
    run: Attempt,
}

fn paths() -> Vec<PathDef> {
    vec![
        PathDef {
            name: "clone3_nnp",
            target: false,
            run: |c, n, _| clone3_path(c, n, AUTOKILL_NNP),
        },
        PathDef {
            name: "clone3_root",
            target: false,
            run: |c, n, _| clone3_path(c, n, AUTOKILL),
        },
        PathDef {
            name: "close_armed",
            target: false,
            run: |c, n, _| close_path(c, n),
        },
        PathDef {
            name: "pidfd_open",
            target: true,
            run: |c, n, t| pidfd_open_path(c, n, t.expect("target"), false),
        },
        PathDef {
            name: "pidfd_open_close",
            target: true,
            run: |c, n, t| pidfd_open_path(c, n, t.expect("target"), true),
        },
        PathDef {
            name: "scm_send",
            target: false,
            run: |c, n, _| scm_path(c, n, false),
        },
        PathDef {
            name: "scm_recv",
            target: false,
            run: |c, n, _| scm_path(c, n, true),
        },
    ]
}

/// How many broken rules of a path are printed.
const MAX_SHOWN: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut log_path, mut kmemleak, mut cap, mut trace) = (None, false, 1000u32, false);
    let mut kinds: Vec<Kind> = Kind::ALL.to_vec();
    let mut select: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--log" => log_path = Some(it.next().cloned().unwrap_or_else(|| usage())),
            "--kmemleak" => kmemleak = true,
            "--trace" => trace = true,
            "--cap" => {
                cap = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&c| c > 0)
                    .unwrap_or_else(|| usage())
            }
            "--kinds" => {
                let v = it.next().unwrap_or_else(|| usage());
                kinds = v
                    .split(',')
                    .map(|k| {
                        Kind::ALL
                            .into_iter()
                            .find(|x| x.name() == k)
                            .unwrap_or_else(|| usage())
                    })
                    .collect();
            }
            s if s.starts_with('-') => usage(),
            s => select.push(s.to_string()),
        }
    }
    reexec();
    let start = Instant::now();
    let defs: Vec<PathDef> = paths()
        .into_iter()
        .filter(|p| select.is_empty() || select.iter().any(|s| p.name.contains(s.as_str())))
        .collect();
    let comm = std::fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    println!("KTAP version 1");
    println!("1..{}", defs.len() + kmemleak as usize);
    println!(
        "# autokill-fault: kernel {}, cap {cap}, kinds {}",
        util::kernel_release(),
        kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut num = 0;
    let mut report = |res: Result<(), String>, name: &str| {
        num += 1;
        match res {
            Ok(()) => {
                passed += 1;
                println!("ok {num} - {name}");
            }
            Err(r) if r.starts_with("SKIP ") => {
                skipped += 1;
                println!("ok {num} - {name} # SKIP {}", &r[5..]);
            }
            Err(r) => {
                // The reason before the result, as a diagnostic line: the name stays the name.
                failed += 1;
                println!("# {name}: {r}");
                println!("not ok {num} - {name}");
            }
        }
        let _ = std::io::stdout().flush();
    };
    // Why nothing can run, if so.
    let mut blocker = None;
    if !creds::is_root() {
        blocker = Some("SKIP needs root (debugfs, CAP_SYS_ADMIN)".to_string());
    } else if !std::path::Path::new("/proc/thread-self/fail-nth").exists() {
        blocker = Some("SKIP no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)".into());
    } else if let Err(e) = debugfs() {
        blocker = Some(e);
    } else if !util::kernel_has_autokill().unwrap_or(false) {
        blocker = Some("SKIP kernel lacks CLONE_PIDFD_AUTOKILL".into());
    }
    kinds.retain(|&k| {
        let h = have(k);
        if !h && blocker.is_none() {
            println!("# {} faults: no {DEBUGFS}/{}, not run", k.name(), k.dir());
        }
        h
    });
    if blocker.is_none() && kinds.is_empty() {
        blocker = Some(format!("SKIP no fault capability in {DEBUGFS}"));
    }
    if blocker.is_none() && kinds.iter().any(|&k| k != Kind::Slab) {
        let marked = failslab_caches();
        if !marked.is_empty() {
            blocker = Some(format!("slab caches marked for failslab: {marked:?}"));
        }
    }
    let ctx = match &blocker {
        Some(_) => None,
        None => match FailNth::open().and_then(|nth| {
            pin_and_lock()?;
            Ok((nth, Scratch::populated()?))
        }) {
            Ok((nth, scratch)) => {
                let pid = pick_pid();
                match pid {
                    Some(p) => println!("# children of clone3() get pid {p}"),
                    None => println!("# no free pid next to ours: pid numbers left to the kernel"),
                }
                Some(Ctx { nth, scratch, pid })
            }
            Err(e) => {
                blocker = Some(e);
                None
            }
        },
    };
    let leak_start = match (&ctx, kmemleak) {
        (Some(_), true) if std::path::Path::new(KMEMLEAK).exists() => {
            Some(kmemleak_write("scan").and_then(|()| kmemleak_write("clear")))
        }
        _ => None,
    };
    let log: Box<dyn Write> = match &log_path {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("autokill-fault: {p}: {e}");
                std::process::exit(2);
            }
        },
        None => Box::new(std::io::sink()),
    };
    let mut total_points = 0u32;
    let mut runner = ctx.as_ref().map(|ctx| Runner {
        ctx,
        knobs: Knobs::default(),
        kinds: kinds.clone(),
        cap,
        verbose: if trace { "2" } else { "0" },
        log,
        attempts: 0,
        trace: if trace { Kmsg::open().ok() } else { None },
    });
    for def in &defs {
        let Some(r) = runner.as_mut() else {
            report(Err(blocker.clone().expect("blocker")), def.name);
            continue;
        };
        let (seqs, problems) = r.run_path(def);
        for s in &seqs {
            total_points += s.points;
            let mut what: Vec<String> = s.errnos.iter().map(|(e, c)| format!("{e} {c}")).collect();
            what.push(format!("success {}", s.injected_ok));
            println!(
                "# {} {}: {} fault points ({}), {} n tried again, {:.1} s",
                def.name,
                s.kind.name(),
                s.points,
                what.join(", "),
                s.disagreed,
                s.elapsed.as_secs_f64()
            );
            for u in &s.unstable {
                println!("# {} {}: not repeatable: {u}", def.name, s.kind.name());
            }
            for u in &s.interfered {
                println!("# {} {}: tried again: {u}", def.name, s.kind.name());
            }
        }
        for p in problems.iter().take(MAX_SHOWN) {
            println!("# {}: {p}", def.name);
        }
        report(
            match problems.len() {
                0 => Ok(()),
                k if k > MAX_SHOWN => Err(format!("{k} broken rules, the first {MAX_SHOWN} above")),
                k => Err(format!("{k} broken rules (above)")),
            },
            def.name,
        );
    }
    let attempts = runner.as_ref().map_or(0, |r| r.attempts);
    let mut log_failed = false;
    if let Some(mut r) = runner {
        r.knobs.restore();
        if let Err(e) = r.log.flush() {
            eprintln!("autokill-fault: writing the log: {e}");
            log_failed = true;
        }
    }
    if kmemleak {
        let res = match (&ctx, leak_start) {
            (None, _) => Err(blocker.clone().expect("blocker")),
            (Some(_), None) => Err(format!("SKIP no {KMEMLEAK} (CONFIG_DEBUG_KMEMLEAK)")),
            (Some(_), Some(Err(e))) => Err(e),
            (Some(_), Some(Ok(()))) => {
                std::thread::sleep(KMEMLEAK_WAIT);
                let r = kmemleak_write("scan").and_then(|()| {
                    std::thread::sleep(KMEMLEAK_WAIT);
                    kmemleak_write("scan")
                });
                match r.and_then(|()| kmemleak_report(&comm)) {
                    Err(e) => Err(e),
                    Ok((ours, others)) => {
                        println!(
                            "# kmemleak: {} unreferenced objects attributable to the run, {} others",
                            ours.len(),
                            others.len()
                        );
                        for o in &others {
                            println!("# kmemleak (not ours): {o}");
                        }
                        for b in &ours {
                            for l in b.lines() {
                                println!("# {l}");
                            }
                        }
                        if ours.is_empty() {
                            Ok(())
                        } else {
                            Err(format!("{} leaked objects (above)", ours.len()))
                        }
                    }
                }
            }
        };
        report(res, "kmemleak");
    }
    failed += log_failed as i32;
    println!(
        "# fault points {total_points}, {attempts} armed calls, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    println!("# passed {passed} failed {failed} skipped {skipped}");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
