// SPDX-License-Identifier: GPL-2.0

//! The cost of spawning `/bin/true` from parents of different sizes: autokill's vfork path and
//! fork path against `std::process::Command` and `tokio::process::Command`.
//!
//! For each parent size and library, one process of its own (this program, re-executed with
//! `--case`) maps a heap of that size with 4 KiB pages (`MADV_NOHUGEPAGE`), writes to every
//! page, and then, after a few warm-up rounds, measures for each of `--iterations` rounds:
//!
//! - `spawn_us`: from the call to `spawn()` until it returned, which is after the child
//!   executed the program on every path measured here (autokill's vfork path and `std`'s
//!   `posix_spawn()` wait for the `execve()` in `clone3()` with `CLONE_VFORK`, autokill's fork
//!   path reads its report pipe to end-of-file, tokio spawns through `std`);
//! - `reap_us`: from the same start until `wait()` returned the exit status;
//! - `touch_after_ms`: writing one byte to every page of the heap right after that: a `fork()`
//!   made every page copy-on-write, so each write faults;
//! - `touch_baseline_ms`: the same writes again, with no spawn in between.
//!
//! Each case prints one JSON object on a line (medians, minima and means; times in
//! microseconds or milliseconds as named): `{"bench": "spawn", "lib": ..., "path": ...,
//! "armed": ..., "parent_mib": ..., ...}`. `armed` is `false` where the kernel lacks
//! `CLONE_PIDFD_AUTOKILL` and autokill's paths run through `Command::spawn_unarmed()` (the same
//! `clone3()` without the autokill flags, `SIGCHLD` ignored so that the kernel reaps).
//!
//! Usage: `autokill-spawn-bench [--sizes MIB,...] [--iterations N] [--libs LIB,...]`, where
//! `LIB` is `autokill-vfork`, `autokill-fork`, `std` or `tokio`; the default sizes are 1, 256
//! and 1024 MiB (add 4096 with `--sizes 1,256,1024,4096`, which needs that much free memory).

use std::io::Write;
use std::time::Instant;

/// The libraries and paths measured.
const LIBS: [&str; 4] = ["autokill-vfork", "autokill-fork", "std", "tokio"];

/// The program every case spawns.
const PROGRAM: &str = "/bin/true";

fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    eprintln!("autokill-spawn-bench: {what}: {error}");
    std::process::exit(1);
}

/// An anonymous mapping of `len` bytes with 4 KiB pages, every page written once.
struct Heap {
    ptr: *mut u8,
    len: usize,
}

impl Heap {
    fn new(len: usize) -> Heap {
        // SAFETY: A new private anonymous mapping, at an address the kernel chooses.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            fail("mmap", std::io::Error::last_os_error());
        }
        // 4 KiB pages, as a heap of small allocations has, not transparent huge pages (with
        // which a fork copies 512 times fewer page table entries).
        // SAFETY: Advice on the mapping just made.
        unsafe { libc::madvise(ptr, len, libc::MADV_NOHUGEPAGE) };
        let heap = Heap {
            ptr: ptr.cast(),
            len,
        };
        heap.touch(1);
        heap
    }

    /// Writes `value` to the first byte of every 4 KiB page.
    fn touch(&self, value: u8) {
        for offset in (0..self.len).step_by(4096) {
            // SAFETY: `offset` is within the mapping, which is readable and writable and
            // nothing else uses.
            unsafe { self.ptr.add(offset).write_volatile(value) };
        }
    }
}

/// Median, minimum and mean of `values`.
fn stats(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    format!(
        "{{\"median\": {median:.3}, \"min\": {:.3}, \"mean\": {mean:.3}}}",
        values[0]
    )
}

/// One spawn: the time until `spawn()` returned and until the status was there, in seconds.
type Spawn = Box<dyn FnMut() -> (f64, f64)>;

/// The spawn of `lib`; `armed` says whether autokill's paths use the autokill flags.
fn spawner(lib: &str, armed: bool) -> Spawn {
    match lib {
        "autokill-vfork" | "autokill-fork" => {
            let fork = lib == "autokill-fork";
            Box::new(move || {
                let mut cmd = autokill::Command::new(PROGRAM);
                if fork {
                    // An empty closure: the fork path, as any `pre_exec` takes.
                    // SAFETY: The closure does nothing.
                    unsafe { cmd.pre_exec(|| Ok(())) };
                }
                let start = Instant::now();
                let spawned = if armed {
                    cmd.spawn()
                } else {
                    cmd.spawn_unarmed()
                };
                let mut child = spawned.unwrap_or_else(|e| fail("autokill spawn", e));
                let spawned = start.elapsed().as_secs_f64();
                let status = child.wait().unwrap_or_else(|e| fail("autokill wait", e));
                let reaped = start.elapsed().as_secs_f64();
                assert!(status.success());
                (spawned, reaped)
            })
        }
        "std" => Box::new(|| {
            let start = Instant::now();
            let mut child = std::process::Command::new(PROGRAM)
                .spawn()
                .unwrap_or_else(|e| fail("std spawn", e));
            let spawned = start.elapsed().as_secs_f64();
            let status = child.wait().unwrap_or_else(|e| fail("std wait", e));
            let reaped = start.elapsed().as_secs_f64();
            assert!(status.success());
            (spawned, reaped)
        }),
        "tokio" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| fail("tokio runtime", e));
            Box::new(move || {
                runtime.block_on(async {
                    let start = Instant::now();
                    let mut child = tokio::process::Command::new(PROGRAM)
                        .spawn()
                        .unwrap_or_else(|e| fail("tokio spawn", e));
                    let spawned = start.elapsed().as_secs_f64();
                    let status = child.wait().await.unwrap_or_else(|e| fail("tokio wait", e));
                    let reaped = start.elapsed().as_secs_f64();
                    assert!(status.success());
                    (spawned, reaped)
                })
            })
        }
        _ => fail("unknown library", lib),
    }
}

/// Runs one case in this process and prints its JSON line.
fn run_case(lib: &str, mib: usize, iterations: usize) {
    let armed = autokill::supported().autokill();
    if lib.starts_with("autokill") && !armed {
        // The kernel reaps the unarmed children (see `Command::spawn_unarmed`).
        // SAFETY: Sets the disposition of SIGCHLD; no handler of ours is involved.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    }
    let heap = Heap::new(mib << 20);
    let mut spawn = spawner(lib, armed);
    for _ in 0..3 {
        spawn();
        heap.touch(2);
    }
    let (mut spawned, mut reaped, mut after, mut baseline) = (vec![], vec![], vec![], vec![]);
    for i in 0..iterations {
        let (s, r) = spawn();
        spawned.push(s * 1e6);
        reaped.push(r * 1e6);
        let start = Instant::now();
        heap.touch(i as u8);
        after.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        heap.touch(i as u8 ^ 0xff);
        baseline.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let path = match lib {
        "autokill-vfork" => "vfork",
        "autokill-fork" => "fork",
        _ => "library",
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "{{\"bench\": \"spawn\", \"lib\": \"{lib}\", \"path\": \"{path}\", \"armed\": {armed}, \
         \"kernel\": \"{}\", \"parent_mib\": {mib}, \"iterations\": {iterations}, \
         \"spawn_us\": {}, \"reap_us\": {}, \"touch_after_ms\": {}, \
         \"touch_baseline_ms\": {}}}",
        kernel.trim(),
        stats(&mut spawned),
        stats(&mut reaped),
        stats(&mut after),
        stats(&mut baseline),
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: autokill-spawn-bench [--sizes MIB,...] [--iterations N] [--libs LIB,...]\n\
         LIB: {}",
        LIBS.join(", ")
    );
    std::process::exit(2);
}

fn main() {
    let mut sizes = vec![1usize, 256, 1024];
    let mut iterations = 20usize;
    let mut libs: Vec<String> = LIBS.iter().map(|s| s.to_string()).collect();
    let mut case = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--sizes" => {
                sizes = value
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--iterations" => iterations = value.parse().unwrap_or_else(|_| usage()),
            "--libs" => libs = value.split(',').map(str::to_owned).collect(),
            "--case" => case = Some(value),
            _ => usage(),
        }
    }
    if libs.iter().any(|lib| !LIBS.contains(&lib.as_str())) || iterations == 0 {
        usage();
    }
    if let Some(lib) = case {
        run_case(&lib, sizes[0], iterations);
        return;
    }
    // Each case in a process of its own: a fresh heap, and SIGCHLD as the library wants it.
    let me = std::env::current_exe().unwrap_or_else(|e| fail("current_exe", e));
    for &mib in &sizes {
        for lib in &libs {
            let output = std::process::Command::new(&me)
                .args(["--case", lib, "--sizes", &mib.to_string()])
                .args(["--iterations", &iterations.to_string()])
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap_or_else(|e| fail("run a case", e));
            if !output.status.success() {
                fail(&format!("case {lib} {mib} MiB"), output.status);
            }
            std::io::stdout()
                .write_all(&output.stdout)
                .unwrap_or_else(|e| fail("stdout", e));
        }
    }
}
