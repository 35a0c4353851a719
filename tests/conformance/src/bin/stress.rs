// SPDX-License-Identifier: GPL-2.0

//! `autokill-stress --cycles N [--exec-every K] [--margin OBJECTS] [--margin-pct P]`
//!
//! N autokill spawn/close cycles, rotating through the ways the last reference can go away:
//! a plain close, dup copies, a forked holder, `SCM_RIGHTS` (received, or purged while in
//! flight) and, every K-th cycle, an exec'd holder. Each cycle checks that the child is not
//! killed while a reference remains (cheap: `SIGKILL` pending or exit) and dies once the last
//! reference is gone. Afterwards: no zombie among our children, and the `pid`, `filp` and
//! pidfs slab caches back to their starting counts within a margin.
//!
//! Output: KTAP (version 1, with a plan) as `autokill-conformance` prints it: the results
//! `cycles`, `no_zombies` and `slab_NAME` per slab cache, `# cycles N failures F` and
//! `# passed P failed F skipped S`. Exit status 0 iff nothing failed.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};

fn usage() -> ! {
    eprintln!(
        "usage: autokill-stress --cycles N [--exec-every K] [--margin OBJECTS] [--margin-pct P]"
    );
    std::process::exit(2);
}

/// The ways a cycle drops the last reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    Close,
    Dup,
    ForkHolder,
    ScmReceived,
    ScmPurged,
    Exec,
}

struct Stress {
    helper: String,
    /// A socket pair reused by the SCM_RIGHTS cycles.
    sock: (OwnedFd, OwnedFd),
}

/// A child and an observer pidfd.
struct Kid {
    pid: i32,
    pidfd: Option<OwnedFd>,
    obs: OwnedFd,
}

impl Kid {
    fn spawn() -> Result<Kid, String> {
        let mut s = Clone3::new(AUTOKILL_NNP)
            .spawn(ChildMode::CleanPause)
            .map_err(|e| format!("clone3: {e}"))?;
        let obs = util::pidfd_open(s.pid, 0).map_err(|e| format!("pidfd_open: {e}"))?;
        Ok(Kid {
            pid: s.pid,
            pidfd: Some(s.take_pidfd()),
            obs,
        })
    }

    fn fd(&self) -> RawFd {
        self.pidfd.as_ref().expect("pidfd").raw()
    }

    /// Not killed (yet): no exit, no SIGKILL queued.
    fn check_alive(&self, what: &str) -> Result<(), String> {
        if util::has_exited(self.obs.as_fd_borrowed()) || util::killed_or_dead(self.pid) {
            return Err(format!("child {} killed early ({what})", self.pid));
        }
        Ok(())
    }

    fn check_dies(&self, what: &str) -> Result<(), String> {
        if !util::wait_exit(self.obs.as_fd_borrowed(), util::death_ms()) {
            return Err(format!("child {} survived ({what})", self.pid));
        }
        Ok(())
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = util::pidfd_send_signal(self.obs.as_fd_borrowed(), libc::SIGKILL);
    }
}

impl Stress {
    fn cycle(&self, v: Variant) -> Result<(), String> {
        let mut kid = Kid::spawn()?;
        match v {
            Variant::Close => {
                util::close(kid.pidfd.take().expect("pidfd")).map_err(|e| format!("close: {e}"))?;
            }
            Variant::Dup => {
                let d = util::dup(kid.fd()).map_err(|e| format!("dup: {e}"))?;
                drop(kid.pidfd.take());
                kid.check_alive("dup left")?;
                drop(d);
            }
            Variant::ForkHolder => {
                let (r, w) = util::pipe();
                let (r_raw, w_raw) = (r.as_raw_fd(), w.as_raw_fd());
                // SAFETY: fork(); the child only reads a pipe and _exit()s.
                let holder = unsafe { libc::fork() };
                if holder < 0 {
                    return Err(format!("fork: {}", Errno::last()));
                }
                if holder == 0 {
                    // SAFETY: Plain system calls, then _exit.
                    unsafe {
                        libc::close(w_raw);
                        let mut b = [0u8; 1];
                        libc::read(r_raw, b.as_mut_ptr().cast(), 1);
                        libc::_exit(0);
                    }
                }
                drop(r);
                drop(kid.pidfd.take());
                let res = kid.check_alive("forked holder left");
                drop(w); // the holder exits
                let st = util::reap(holder).map_err(|e| format!("reap holder: {e}"))?;
                res?;
                if !libc::WIFEXITED(st) {
                    return Err(format!("holder status {st:#x}"));
                }
            }
            Variant::ScmReceived => {
                util::send_fd(self.sock.0.raw(), kid.fd()).map_err(|e| format!("sendmsg: {e}"))?;
                drop(kid.pidfd.take());
                kid.check_alive("in flight")?;
                let got = util::recv_fd(self.sock.1.raw(), util::death_ms())?;
                kid.check_alive("received")?;
                drop(got);
            }
            Variant::ScmPurged => {
                let (a, b) = util::socketpair();
                util::send_fd(a.raw(), kid.fd()).map_err(|e| format!("sendmsg: {e}"))?;
                drop(kid.pidfd.take());
                drop(a);
                kid.check_alive("in flight, receiver open")?;
                drop(b);
            }
            Variant::Exec => {
                let (r, w) = util::pipe_flags(0);
                let fd = kid.fd();
                let wfd = w.as_raw_fd();
                let helper = self.helper.clone();
                let holder = conformance::raw::fork_fn(move || {
                    let _ = util::set_cloexec(fd, false);
                    let args = vec![helper.clone(), wfd.to_string(), fd.to_string()];
                    let e = util::execv(&helper, &args);
                    eprintln!("exec {helper}: {e}");
                    127
                })
                .map_err(|e| format!("fork: {e}"))?;
                drop(w);
                let line = util::read_line(r.as_raw_fd(), util::death_ms());
                drop(kid.pidfd.take());
                let res = match line {
                    Ok(l)
                        if l.split_whitespace()
                            .nth(3)
                            .and_then(|f| f.parse::<i32>().ok())
                            .is_some_and(|f| f >= 0 && f & PIDFD_AUTOKILL != 0) =>
                    {
                        kid.check_alive("exec'd holder left")
                    }
                    Ok(l) => Err(format!("helper reported {l:?}")),
                    Err(e) => Err(format!("helper: {e}")),
                };
                util::kill_reap(holder);
                res?;
            }
        }
        kid.check_dies(&format!("{v:?}: last reference gone"))?;
        if !util::wait_reaped(kid.obs.as_fd_borrowed(), util::death_ms()) {
            return Err(format!("child {} not reaped ({v:?})", kid.pid));
        }
        Ok(())
    }
}

/// The slab caches to watch: `pid`, `filp` and whatever pidfs has, if they exist.
fn slab_names() -> Vec<String> {
    let mut v: Vec<String> = ["pid", "filp"].iter().map(|s| s.to_string()).collect();
    if let Ok(d) = std::fs::read_dir("/sys/kernel/slab") {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains("pidfs") {
                v.push(n);
            }
        }
    } else if let Ok(t) = std::fs::read_to_string("/proc/slabinfo") {
        for l in t.lines() {
            if let Some(n) = l.split_whitespace().next() {
                if n.contains("pidfs") {
                    v.push(n.to_string());
                }
            }
        }
    }
    v.sort();
    v.dedup();
    v.retain(|n| util::slab_objects(n).is_some());
    v
}

/// The object counts, after asking the kernel to drop unused dentries and inodes (pidfs and
/// /proc inodes pin `struct pid`s) and to shrink the caches (free objects held in per-CPU and
/// partial slabs count as used otherwise). Both need root; without it the counts are noisier.
fn slab_counts(names: &[String]) -> Vec<u64> {
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "2");
    for n in names {
        let _ = std::fs::write(format!("/sys/kernel/slab/{n}/shrink"), "1");
    }
    names
        .iter()
        .map(|n| util::slab_objects(n).unwrap_or(0))
        .collect()
}

fn within(before: u64, after: u64, margin: u64, pct: u64) -> bool {
    let allow = margin.max(before * pct / 100);
    after <= before + allow
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut cycles, mut exec_every, mut margin, mut pct) = (None, 100u64, 64u64, 2u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || util::next_u64(&mut it, usage);
        match a.as_str() {
            "--cycles" => cycles = Some(val()),
            "--exec-every" => exec_every = val().max(1),
            "--margin" => margin = val(),
            "--margin-pct" => pct = val(),
            _ => usage(),
        }
    }
    let Some(cycles) = cycles else { usage() };
    println!("KTAP version 1");
    println!(
        "# autokill-stress: kernel {}, {cycles} cycles, exec every {exec_every}",
        util::kernel_release()
    );
    let feature = util::kernel_has_autokill().unwrap_or(false);
    let names = slab_names();
    // cycles, no_zombies, then one result per slab cache (or one skipped `slab`).
    let plan = if feature { 2 + names.len().max(1) } else { 3 };
    println!("1..{plan}");
    let mut n = 0;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut report = |ok: Result<(), String>, name: &str| {
        n += 1;
        match ok {
            Ok(()) => {
                passed += 1;
                println!("ok {n} {name}");
            }
            Err(r) if r.starts_with("SKIP ") => {
                skipped += 1;
                println!("ok {n} {name} # SKIP {}", &r[5..]);
            }
            Err(r) => {
                failed += 1;
                println!("# {name}: {r}");
                println!("not ok {n} {name}");
            }
        }
    };
    if !feature {
        report(
            Err("SKIP kernel lacks CLONE_PIDFD_AUTOKILL".into()),
            "cycles",
        );
        report(
            Err("SKIP kernel lacks CLONE_PIDFD_AUTOKILL".into()),
            "no_zombies",
        );
        report(Err("SKIP kernel lacks CLONE_PIDFD_AUTOKILL".into()), "slab");
        println!("# cycles 0 failures 0");
        println!("# passed {passed} failed {failed} skipped {skipped}");
        return;
    }
    // Warm up the caches, then settle and take the baseline.
    let st = Stress {
        helper: util::helper_path(),
        sock: util::socketpair(),
    };
    for v in [Variant::Close, Variant::ForkHolder, Variant::ScmReceived] {
        let _ = st.cycle(v);
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = slab_counts(&names);
    let start = Instant::now();
    let rotation = [
        Variant::Close,
        Variant::Dup,
        Variant::ForkHolder,
        Variant::ScmReceived,
        Variant::Close,
        Variant::Dup,
        Variant::ScmPurged,
    ];
    let mut failures = 0u64;
    let mut first_errors = Vec::new();
    let mut per_variant: std::collections::BTreeMap<Variant, u64> = Default::default();
    for i in 0..cycles {
        let v = if (i + 1) % exec_every == 0 {
            Variant::Exec
        } else {
            rotation[(i % rotation.len() as u64) as usize]
        };
        *per_variant.entry(v).or_default() += 1;
        if cycles >= 10 && i > 0 && i % (cycles / 10) == 0 {
            eprintln!(
                "autokill-stress: {i} cycles, {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        if let Err(e) = st.cycle(v) {
            failures += 1;
            if first_errors.len() < 5 {
                first_errors.push(format!("cycle {i}: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    drop(st);
    let detail: Vec<String> = per_variant
        .iter()
        .map(|(v, c)| format!("{v:?} {c}"))
        .collect();
    println!(
        "# {cycles} cycles in {:.1} s ({})",
        elapsed.as_secs_f64(),
        detail.join(", ")
    );
    report(
        if failures == 0 {
            Ok(())
        } else {
            Err(format!("{failures} failed: {}", first_errors.join("; ")))
        },
        "cycles",
    );
    // No zombie among our children.
    let z = match util::waitid(
        libc::P_ALL,
        0,
        libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
    ) {
        Err(Errno::ECHILD) => Ok(()),
        Ok(w) if w.pid == 0 => Ok(()),
        Ok(w) => Err(format!("zombie child {}", w.pid)),
        Err(e) => Err(format!("waitid: {e}")),
    };
    report(z, "no_zombies");
    // Slab counts back to the baseline (RCU-deferred frees need a moment).
    if names.is_empty() {
        report(
            Err("SKIP no readable slab counts (/sys/kernel/slab, /proc/slabinfo)".into()),
            "slab",
        );
    } else {
        let mut after = slab_counts(&names);
        let deadline = Instant::now() + Duration::from_millis(util::death_ms() as u64);
        while !names
            .iter()
            .enumerate()
            .all(|(i, _)| within(before[i], after[i], margin, pct))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(200));
            after = slab_counts(&names);
        }
        for (i, name) in names.iter().enumerate() {
            let ok = within(before[i], after[i], margin, pct);
            let msg = format!("{} -> {} objects", before[i], after[i]);
            println!("# slab {name}: {msg}");
            report(
                if ok {
                    Ok(())
                } else {
                    Err(format!("grew {msg} (margin {margin} or {pct}%)"))
                },
                &format!("slab_{name}"),
            );
        }
    }
    println!("# cycles {cycles} failures {failures}");
    println!("# passed {passed} failed {failed} skipped {skipped}");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
