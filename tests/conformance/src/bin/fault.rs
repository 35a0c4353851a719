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

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use conformance::creds;
use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};

const DEBUGFS: &str = "/sys/kernel/debug";
const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";
/// `MSECS_MIN_AGE` of mm/kmemleak.c, plus a margin.
const KMEMLEAK_WAIT: Duration = Duration::from_millis(6000);
/// The environment variable that marks the re-exec'd process.
const REEXEC_ENV: &str = "AUTOKILL_FAULT_REEXEC";

fn usage() -> ! {
    eprintln!(
        "usage: autokill-fault [--log FILE] [--kmemleak] [--cap N] [--kinds slab,page,usercopy] \
         [--trace] [PATH...]"
    );
    std::process::exit(2);
}

/// A kind of fault point, selected with the debugfs knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Slab,
    Page,
    Usercopy,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Slab, Kind::Page, Kind::Usercopy];

    fn name(self) -> &'static str {
        match self {
            Kind::Slab => "slab",
            Kind::Page => "page",
            Kind::Usercopy => "usercopy",
        }
    }

    /// The debugfs directory of the capability.
    fn dir(self) -> &'static str {
        match self {
            Kind::Slab => "failslab",
            Kind::Page => "fail_page_alloc",
            Kind::Usercopy => "fail_usercopy",
        }
    }
}

/// The debugfs knobs we change, with their original values.
#[derive(Default)]
struct Knobs {
    saved: Vec<(String, String)>,
}

impl Knobs {
    fn set(&mut self, rel: &str, value: &str) -> Result<(), String> {
        let path = format!("{DEBUGFS}/{rel}");
        if !self.saved.iter().any(|(p, _)| *p == path) {
            let old = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            self.saved.push((path.clone(), old.trim().to_string()));
        }
        std::fs::write(&path, value).map_err(|e| format!("writing {value} to {path}: {e}"))
    }

    /// Makes `fail-nth` count the fault points of `kind` (and the usercopy ones, which cannot
    /// be turned off without the stack trace filter).
    fn select(&mut self, kind: Kind, verbose: &str) -> Result<(), String> {
        let slab = kind == Kind::Slab;
        let page = kind == Kind::Page;
        if have(Kind::Slab) {
            self.set("failslab/ignore-gfp-wait", if slab { "N" } else { "Y" })?;
            // With no cache marked (/sys/kernel/slab/*/failslab), the filter passes nothing.
            self.set("failslab/cache-filter", if slab { "N" } else { "Y" })?;
        }
        if have(Kind::Page) {
            self.set(
                "fail_page_alloc/ignore-gfp-wait",
                if page { "N" } else { "Y" },
            )?;
            self.set(
                "fail_page_alloc/ignore-gfp-highmem",
                if page { "N" } else { "Y" },
            )?;
            // Above MAX_PAGE_ORDER: no page allocation passes.
            self.set("fail_page_alloc/min-order", if page { "0" } else { "100" })?;
        }
        for k in Kind::ALL {
            if have(k) {
                self.set(&format!("{}/verbose", k.dir()), verbose)?;
            }
        }
        Ok(())
    }

    fn restore(&mut self) {
        for (p, v) in self.saved.drain(..).rev() {
            if let Err(e) = std::fs::write(&p, &v) {
                eprintln!("autokill-fault: restoring {p} to {v}: {e}");
            }
        }
    }
}

/// Whether the kernel has the fault capability of `kind` (its debugfs directory).
fn have(kind: Kind) -> bool {
    std::path::Path::new(&format!("{DEBUGFS}/{}", kind.dir())).is_dir()
}

/// The result of one armed call.
struct Armed<T> {
    value: T,
    /// `fail-nth` read back 0: the n-th fault point failed.
    injected: bool,
    /// Fault points the call went through (n when injected).
    consumed: u32,
}

/// The number in a `fail-nth` text.
fn parse_u32(text: &[u8]) -> u32 {
    text.iter()
        .filter(|c| c.is_ascii_digit())
        .fold(0u32, |v, &c| {
            v.wrapping_mul(10).wrapping_add((c - b'0') as u32)
        })
}

/// `/proc/thread-self/fail-nth`, opened once: opening it while a fault is armed would consume
/// fault points.
struct FailNth {
    fd: OwnedFd,
}

impl FailNth {
    fn open() -> Result<FailNth, String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map_err(|e| format!("/proc/thread-self/fail-nth: {e}"))?;
        Ok(FailNth { fd: f.into() })
    }

    fn write(&self, text: &[u8]) -> Result<(), Errno> {
        // SAFETY: `text` is valid for reading `text.len()` bytes.
        let r = unsafe { libc::pwrite(self.fd.raw(), text.as_ptr().cast(), text.len(), 0) };
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// The value: the read has a usercopy fault point of its own, and reports the value from
    /// before it.
    fn read(&self) -> Result<u32, Errno> {
        let mut b = [0u8; 16];
        // SAFETY: `b` is valid for writing `b.len()` bytes.
        let r = unsafe { libc::pread(self.fd.raw(), b.as_mut_ptr().cast(), b.len(), 0) };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(parse_u32(&b[..r as usize]))
    }

    fn disarm(&self) -> Result<(), String> {
        // The write's copy from user is a fault point while fail-nth is not 0: it may fail
        // once, setting it to 0 all the same.
        for _ in 0..4 {
            let _ = self.write(b"0");
            if self.read() == Ok(0) {
                return Ok(());
            }
        }
        Err("fail-nth does not go back to 0".into())
    }

    /// Runs `call` with the n-th fault point armed.
    fn run<T>(&self, n: u32, call: impl FnOnce() -> T) -> Result<Armed<T>, String> {
        let text = n.to_string();
        self.write(text.as_bytes())
            .map_err(|e| format!("writing {n} to fail-nth: {e}"))?;
        let value = call();
        let left = match self.read() {
            Ok(v) => v,
            // The read's own copy to user was the last fault point: 1 was left.
            Err(e) if e.0 == libc::EFAULT => 1,
            Err(e) => {
                self.disarm()?;
                return Err(format!("reading fail-nth: {e}"));
            }
        };
        self.disarm()?;
        Ok(Armed {
            value,
            injected: left == 0,
            consumed: n.saturating_sub(left),
        })
    }
}

/// The scheduling and memory set-up that makes fault point sequences repeatable: pinned to
/// CPU 0 (with the children: one per-CPU cache, one run queue), the stack grown and the memory
/// locked (no page fault while a fault is armed). Not `MCL_FUTURE`: the page [`clone3_window`]
/// has the kernel store the pidfd into must stay unpopulated until then.
fn pin_and_lock() -> Result<(), String> {
    grow_stack();
    // SAFETY: A cpu_set_t with CPU 0; the children inherit the affinity.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("sched_setaffinity: {}", Errno::last()));
        }
    }
    // SAFETY: mlockall with flags.
    if unsafe { libc::mlockall(libc::MCL_CURRENT) } != 0 {
        return Err(format!("mlockall: {}", Errno::last()));
    }
    Ok(())
}

/// Extends the stack's mapping before `mlockall()`: no stack growth later.
#[inline(never)]
fn grow_stack() {
    let mut a = [0u8; 256 * 1024];
    std::hint::black_box(&mut a);
}

/// A shared anonymous page: not copy-on-write after a fork, so the kernel writes into it
/// without a page fault once it is populated.
///
/// The armed `clone3()` has one for the `struct clone_args` and the `fail-nth` texts
/// (populated), and a new one for the pidfd the kernel stores: its first write is a page fault
/// in `copy_process()` after the armed pidfd file exists, with the allocations of a page and its
/// page table as fault points, so that their failure makes `put_user()` fail and
/// `copy_process()` release the armed file with no task attached (`bad_fork_put_pidfd`).
struct Scratch {
    page: *mut u8,
}

const SCRATCH_READ: usize = 256;
const SCRATCH_ZERO: usize = 288;

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: Unmaps the page this value mapped; nothing refers to it any more.
        unsafe { libc::munmap(self.page.cast(), PAGE_SIZE) };
    }
}

impl Scratch {
    /// A page, not populated: mapped, never touched.
    fn new() -> Result<Scratch, String> {
        // SAFETY: A new anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!("mmap: {}", Errno::last()));
        }
        Ok(Scratch { page: p.cast() })
    }

    /// A page, populated (and locked).
    fn populated() -> Result<Scratch, String> {
        let sc = Scratch::new()?;
        // SAFETY: The page is ours and writable; mlock with its address and size.
        unsafe {
            sc.page.write_bytes(0, PAGE_SIZE);
            libc::mlock(sc.page.cast(), PAGE_SIZE);
        }
        Ok(sc)
    }
}

/// `clone3(flags)` of a child that closes its fds and pauses, between the arming of `fail-nth`
/// (done by the caller) and its reset, with no memory access of ours in between: after the
/// fork our private pages are copy-on-write, and a write to one of them would be a page fault
/// that consumes fault points. So one block of assembly makes the `clone3()`, the `pread()` of
/// `fail-nth` and the `pwrite()` of 0, with every buffer in the shared scratch page.
///
/// Returns the `clone3()` result and that of the `pread()` (the number of bytes, now in the
/// scratch page, or `-errno`).
/// `slot` is the page for the pidfd, not populated.
fn clone3_window(nth: &FailNth, sc: &Scratch, slot: &Scratch, flags: u64) -> (Clone3Result, i64) {
    let args = CloneArgs {
        flags,
        pidfd: slot.page as u64,
        ..Default::default()
    };
    // SAFETY: The page is ours, page-aligned and larger than the struct and the texts.
    unsafe {
        std::ptr::write(sc.page.cast::<CloneArgs>(), args);
        *sc.page.add(SCRATCH_ZERO) = b'0';
    }
    let ret: i64;
    let read: i64;
    // SAFETY: The parent's side makes four system calls whose buffers are in the scratch page
    // and clobber rax, rcx and r11 (declared) besides the argument registers (declared). The
    // child (rax == 0) makes `close_range(3, ~0U, 0)` and `pause()` system calls forever with
    // register operands, never returns into Rust code and touches no memory, as `clone3_asm`.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 3f",
            "mov eax, 436",
            "mov edi, 3",
            "mov esi, 0xffffffff",
            "xor edx, edx",
            "syscall",
            "2:",
            "mov eax, 34",
            "syscall",
            "jmp 2b",
            "3:",
            "mov r8, rax",
            "mov eax, 17",
            "mov rdi, r12",
            "lea rsi, [r13 + {read}]",
            "mov edx, 16",
            "xor r10d, r10d",
            "syscall",
            "mov r9, rax",
            "mov eax, 18",
            "mov rdi, r12",
            "lea rsi, [r13 + {zero}]",
            "mov edx, 1",
            "xor r10d, r10d",
            "syscall",
            read = const SCRATCH_READ,
            zero = const SCRATCH_ZERO,
            inlateout("rax") libc::SYS_clone3 => _,
            inlateout("rdi") sc.page => _,
            inlateout("rsi") CLONE_ARGS_SIZE_VER2 => _,
            in("r12") nth.fd.raw() as i64,
            in("r13") sc.page,
            out("r8") ret,
            out("r9") read,
            out("rdx") _,
            out("r10") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        return (Err(Errno(-ret as i32)), read);
    }
    // SAFETY: On success the kernel stored the pidfd in the slot page (the page is mapped, and
    // zero if it was not written).
    let fd = unsafe { std::ptr::read(slot.page.cast::<i32>()) };
    // SAFETY: A new fd the kernel installed for us (0 would be our standard input: not ours).
    let pidfd = (fd > 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
    (Ok((ret as i32, pidfd)), read)
}

/// A child's pid and its pidfd (`CLONE_PIDFD`), or the error.
type Clone3Result = Result<(i32, Option<OwnedFd>), Errno>;

/// An autokill child created with no fault armed, and an observer pidfd.
struct Kid {
    pid: i32,
    pidfd: Option<OwnedFd>,
    obs: OwnedFd,
}

impl Kid {
    /// Not dead, exiting or with `SIGKILL` pending.
    fn alive(&self) -> bool {
        !util::has_exited(self.obs.as_fd_borrowed()) && !util::killed_or_dead(self.pid)
    }

    /// Dies and is autoreaped (never waitable).
    fn dies(&self) -> bool {
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
struct Step {
    /// The outcome, deterministic: no pid, fd number or time.
    text: String,
    /// The system call succeeded.
    ok: bool,
    injected: bool,
    consumed: u32,
    /// Broken rules (an errno is not one: any error may come of an injected fault).
    problems: Vec<String>,
    /// The child did not get the pinned pid (see [`pick_pid`]): this try says nothing, it is
    /// made again.
    interfered: Option<String>,
}

impl Step {
    fn new<T>(a: &Armed<T>, ok: bool) -> Step {
        Step {
            text: String::new(),
            ok,
            injected: a.injected,
            consumed: a.consumed,
            problems: Vec::new(),
            interfered: None,
        }
    }

    fn add(&mut self, s: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(s);
    }

    fn check(&mut self, cond: bool, problem: &str) {
        if !cond {
            self.problems.push(problem.to_string());
        }
    }
}

/// `errno:NAME`, with the names the paths here can give that `Errno` lacks.
fn errno_str(e: Errno) -> String {
    let name = match e.0 {
        libc::ENOBUFS => "ENOBUFS".to_string(),
        libc::ENODATA => "ENODATA".to_string(),
        libc::EMSGSIZE => "EMSGSIZE".to_string(),
        _ => e.name(),
    };
    format!("errno:{name}")
}

fn result_str<T>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => errno_str(*e),
    }
}

/// The shared state of a run.
struct Ctx {
    nth: FailNth,
    scratch: Scratch,
    /// The pid every `clone3()` under test gets (see [`pick_pid`]).
    pid: Option<i32>,
}

impl Ctx {
    /// Runs `f` with the n-th fault armed, or unarmed (`None`: warm-up).
    fn call<T>(&self, n: Option<u32>, f: impl FnOnce() -> T) -> Result<Armed<T>, String> {
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
    fn clone3(&self, n: Option<u32>, flags: u64) -> Result<Armed<Clone3Result>, String> {
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
            // SAFETY: The read stored `read` (at most 16) bytes in the scratch page.
            let text = unsafe {
                std::slice::from_raw_parts(self.scratch.page.add(SCRATCH_READ), read as usize)
            };
            parse_u32(text)
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
    fn spawn_kid(&self) -> Result<Kid, String> {
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

/// A free pid in the same block of 64 as ours, for every child of `clone3()` under test.
///
/// `alloc_pid()` preloads the pid IDR's per-CPU node cache (`idr_preload()`), one slab
/// allocation whenever a node was used since: when the pid numbers cross into a new block of 64
/// (an IDR leaf), so now and then depending on how many pids the machine used before. With the
/// same pid each time, in a leaf our own pid keeps allocated, no node is ever used. `None` if
/// there is no free pid in the block (the numbers are then left to the kernel).
fn pick_pid() -> Option<i32> {
    let me = util::getpid();
    let base = me & !63;
    (base.max(2)..base + 64)
        .filter(|&p| p != me)
        .find(|&p| !std::path::Path::new(&format!("/proc/{p}")).exists())
}

/// The state of a pidfd as `pidfd:autokill` or `pidfd:plain`, and whether its pid is `pid`.
fn pidfd_state(fd: RawFd, pid: i32) -> (String, bool) {
    let fl = util::getfl(fd).unwrap_or(0);
    let kind = if fl & PIDFD_AUTOKILL != 0 {
        "pidfd:autokill"
    } else {
        "pidfd:plain"
    };
    (kind.to_string(), util::fdinfo_pid(fd) == Some(pid))
}

/// (a), (b): one `clone3()` of an autokill child.
fn clone3_path(ctx: &Ctx, n: Option<u32>, flags: u64) -> Result<Step, String> {
    let a = ctx.clone3(n, flags)?;
    let mut st = Step::new(&a, a.value.is_ok());
    let (pid, pidfd) = match a.value {
        Err(e) => {
            st.add(&format!("{} child:none", errno_str(e)));
            return Ok(st);
        }
        Ok(s) => s,
    };
    st.add("ok");
    if let Some(p) = ctx.pid {
        if pid != p {
            // ns_last_pid is a hint, not a promise: a kernel thread or another process may
            // take the pid between our write and the clone3() (the pid namespace is the whole
            // machine's), and on the 7.2 debug kernel a child now and then gets the next pid
            // with nobody holding this one. The try is made again; only a pid that cannot be
            // pinned on any try is a broken rule (in `Runner::vote`).
            st.interfered = Some(match std::fs::read_to_string(format!("/proc/{p}/comm")) {
                Ok(comm) => format!("pid {p} was taken by {}, the child got {pid}", comm.trim()),
                Err(_) => format!("the child got pid {pid}, not {p} (free)"),
            });
        }
    }
    let Some(pidfd) = pidfd else {
        util::kill_reap(pid);
        st.add("pidfd:none");
        st.check(false, "clone3 succeeded without a pidfd");
        return Ok(st);
    };
    let obs = match util::pidfd_open(pid, 0) {
        Ok(o) => o,
        Err(e) => {
            let _ = util::pidfd_send_signal(pidfd.as_fd_borrowed(), libc::SIGKILL);
            return Err(format!("pidfd_open of the new child: {e}"));
        }
    };
    let kid = Kid {
        pid,
        pidfd: Some(pidfd),
        obs,
    };
    let alive = kid.alive();
    st.add(if alive { "child:alive" } else { "child:dead" });
    st.check(alive, "the child died with its pidfd open");
    let (state, pid_ok) = pidfd_state(kid.pidfd.as_ref().expect("pidfd").raw(), kid.pid);
    st.add(&state);
    st.check(state == "pidfd:autokill", "the pidfd lacks PIDFD_AUTOKILL");
    st.add(if pid_ok { "pid:ok" } else { "pid:wrong" });
    st.check(pid_ok, "the pidfd's fdinfo Pid is not the child");
    let nnp = util::proc_status(kid.pid).map(|p| p.nnp);
    st.add(match nnp {
        Some(true) => "nnp:1",
        Some(false) => "nnp:0",
        None => "nnp:?",
    });
    st.check(
        nnp == Some(flags & CLONE_NNP != 0),
        "NoNewPrivs differs from CLONE_NNP",
    );
    let mut kid = kid;
    util::close(kid.pidfd.take().expect("pidfd")).map_err(|e| format!("close: {e}"))?;
    let died = kid.dies();
    st.add(if died {
        "close:killed"
    } else {
        "close:survived"
    });
    st.check(
        died,
        "the child survived the close of its pidfd (or was not autoreaped)",
    );
    Ok(st)
}

/// (c): the final `close()` of an armed pidfd.
fn close_path(ctx: &Ctx, n: Option<u32>) -> Result<Step, String> {
    let mut kid = ctx.spawn_kid()?;
    let pidfd = kid.pidfd.take().expect("pidfd");
    let a = ctx.call(n, || util::close(pidfd))?;
    let mut st = Step::new(&a, a.value.is_ok());
    st.add(&result_str(&a.value));
    let died = kid.dies();
    st.add(if died {
        "child:killed"
    } else {
        "child:survived"
    });
    st.check(died, "the child survived the final close of its pidfd");
    Ok(st)
}

/// (d): `pidfd_open()` of a live autokill child (`close` false) or the `close()` of its
/// result (`close` true). Nothing may die.
fn pidfd_open_path(ctx: &Ctx, n: Option<u32>, t: &Kid, close: bool) -> Result<Step, String> {
    let mut st;
    if close {
        let fd = util::pidfd_open(t.pid, 0).map_err(|e| format!("pidfd_open (unarmed): {e}"))?;
        let a = ctx.call(n, || util::close(fd))?;
        st = Step::new(&a, a.value.is_ok());
        st.add(&result_str(&a.value));
    } else {
        let a = ctx.call(n, || util::pidfd_open(t.pid, 0))?;
        st = Step::new(&a, a.value.is_ok());
        st.add(&result_str(&a.value));
        if let Ok(fd) = a.value {
            let (state, pid_ok) = pidfd_state(fd.raw(), t.pid);
            st.add(&state);
            st.check(
                state == "pidfd:plain",
                "pidfd_open() gave an autokill pidfd",
            );
            st.add(if pid_ok { "pid:ok" } else { "pid:wrong" });
            st.check(pid_ok, "the pidfd's fdinfo Pid is not the target");
            util::close(fd).map_err(|e| format!("close: {e}"))?;
        }
    }
    let alive = t.alive();
    st.add(if alive {
        "target:alive"
    } else {
        "target:killed"
    });
    st.check(alive, "the target died");
    Ok(st)
}

/// A message received with one `recvmsg()`.
struct Received {
    fd: Option<OwnedFd>,
    flags: i32,
}

/// One `recvmsg(MSG_DONTWAIT)` of a byte and at most one fd: exactly one system call (the
/// crate's `recv_fd` polls first).
fn recv_once(sock: RawFd) -> Result<Received, Errno> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zero is a valid initial state.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: `msg` points to valid buffers for the call.
    let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if r < 0 {
        return Err(Errno::last());
    }
    if r == 0 {
        return Err(Errno(libc::ENODATA));
    }
    let mut fd = None;
    // SAFETY: The kernel filled `msg`; the header is checked before its data is read, and an
    // SCM_RIGHTS header of at least CMSG_LEN(4) bytes holds one fd that is now ours.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null()
            && (*c).cmsg_level == libc::SOL_SOCKET
            && (*c).cmsg_type == libc::SCM_RIGHTS
            && (*c).cmsg_len >= libc::CMSG_LEN(4) as usize
        {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    Ok(Received {
        fd,
        flags: msg.msg_flags,
    })
}

/// Receives (unarmed) what is left on `sock`; returns the number of messages and whether an
/// fd came with them. Each received fd is closed.
fn drain(sock: RawFd) -> (u32, bool) {
    let (mut msgs, mut fds) = (0, false);
    while let Ok(r) = recv_once(sock) {
        msgs += 1;
        fds |= r.fd.is_some();
    }
    (msgs, fds)
}

/// (e): `sendmsg()` (`recv` false) or `recvmsg()` (`recv` true) of an armed pidfd; then every
/// copy is closed and the child must die.
fn scm_path(ctx: &Ctx, n: Option<u32>, recv: bool) -> Result<Step, String> {
    let mut kid = ctx.spawn_kid()?;
    let (s0, s1) = util::socketpair();
    let pidfd = kid.pidfd.take().expect("pidfd");
    let mut st;
    if !recv {
        let a = ctx.call(n, || util::send_fd(s0.raw(), pidfd.raw()))?;
        let sent = a.value.is_ok();
        st = Step::new(&a, sent);
        st.add(&result_str(&a.value));
        util::close(pidfd).map_err(|e| format!("close: {e}"))?;
        let alive = kid.alive();
        st.add(if alive {
            "after-close:alive"
        } else {
            "after-close:killed"
        });
        st.check(
            alive == sent,
            if sent {
                "killed by the close with a copy in flight"
            } else {
                "alive after the close with no copy sent"
            },
        );
        let (msgs, fd) = match recv_once(s1.raw()) {
            Ok(r) => {
                let got = r.fd.is_some();
                if !got {
                    st.add("recv:nofd");
                }
                if let Some(fd) = r.fd {
                    let (state, _) = pidfd_state(fd.raw(), kid.pid);
                    st.add(&format!("recv:{state}"));
                    st.check(
                        state == "pidfd:autokill",
                        "the received pidfd lacks PIDFD_AUTOKILL",
                    );
                    let alive = kid.alive();
                    st.check(alive, "killed with the received copy open");
                }
                let (m, f) = drain(s1.raw());
                (m + 1, got || f)
            }
            Err(_) => {
                st.add("recv:none");
                (0, false)
            }
        };
        st.check(
            !sent || (msgs == 1 && fd),
            "the sent pidfd did not arrive (once, with its fd)",
        );
    } else {
        util::send_fd(s0.raw(), pidfd.raw()).map_err(|e| format!("sendmsg (unarmed): {e}"))?;
        util::close(pidfd).map_err(|e| format!("close: {e}"))?;
        if !kid.alive() {
            return Err("killed by the close with a copy in flight (unarmed)".into());
        }
        let a = ctx.call(n, || recv_once(s1.raw()))?;
        st = Step::new(&a, a.value.is_ok());
        match &a.value {
            Ok(r) => {
                st.add("ok");
                match &r.fd {
                    Some(fd) => {
                        let (state, _) = pidfd_state(fd.raw(), kid.pid);
                        st.add(&format!("fd:{state}"));
                        st.check(
                            state == "pidfd:autokill",
                            "the received pidfd lacks PIDFD_AUTOKILL",
                        );
                    }
                    None => st.add("fd:none"),
                }
                if r.flags & libc::MSG_CTRUNC != 0 {
                    st.add("ctrunc");
                }
            }
            Err(e) => st.add(&errno_str(*e)),
        }
        let alive = kid.alive();
        st.add(if alive { "child:alive" } else { "child:killed" });
        let holds = matches!(&a.value, Ok(r) if r.fd.is_some());
        st.check(!holds || alive, "killed with the received copy open");
        drop(a.value);
        let (msgs, fd) = drain(s1.raw());
        st.add(&format!("left:{msgs}{}", if fd { "+fd" } else { "" }));
    }
    drop(s0);
    drop(s1);
    let died = kid.dies();
    st.add(if died {
        "final:killed"
    } else {
        "final:survived"
    });
    st.check(died, "the child survived the close of every copy");
    Ok(st)
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

/// The kernel log, read from its end on (`--trace`): where each injected fault was.
struct Kmsg {
    fd: OwnedFd,
}

impl Kmsg {
    fn open() -> Result<Kmsg, String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        let fd: OwnedFd = f.into();
        // SAFETY: lseek with integer arguments.
        unsafe { libc::lseek(fd.raw(), 0, libc::SEEK_END) };
        Ok(Kmsg { fd })
    }

    /// The injected faults logged since the last call: the capability and the first frames
    /// outside the allocators and the fault injection code.
    fn sites(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frames = 0;
        loop {
            let mut b = [0u8; 8192];
            // SAFETY: `b` is valid for writing `b.len()` bytes.
            let r = unsafe { libc::read(self.fd.raw(), b.as_mut_ptr().cast(), b.len()) };
            if r < 0 && Errno::last() == Errno(libc::EPIPE) {
                continue; // overwritten records
            }
            if r <= 0 {
                return out;
            }
            let rec = String::from_utf8_lossy(&b[..r as usize]);
            let Some((_, text)) = rec.split_once(';') else {
                continue;
            };
            let text = text.lines().next().unwrap_or("").trim();
            if text.starts_with("FAULT_INJECTION") {
                out.push(String::new());
                frames = 0;
            } else if let Some(name) = text.strip_prefix("name ") {
                if let Some(last) = out.last_mut() {
                    *last = name.split(',').next().unwrap_or("").to_string();
                }
            } else if let Some(last) = out.last_mut() {
                let f = text.split('+').next().unwrap_or("");
                let skip = f.is_empty()
                    || f.contains(' ')
                    || f.starts_with('<')
                    || f.starts_with('?')
                    || [
                        "dump_stack",
                        "should_fail",
                        "fail_dump",
                        "kmem_cache_alloc",
                        "__kmalloc",
                        "kmalloc",
                        "alloc_pages",
                        "__alloc_",
                        "alloc_frozen",
                        "_copy_",
                        "slab_alloc",
                    ]
                    .iter()
                    .any(|w| f.starts_with(w));
                if !skip && frames < 4 && text.contains("+0x") {
                    last.push(' ');
                    last.push_str(f);
                    frames += 1;
                }
            }
        }
    }
}

/// The result of one kind of one path.
struct Seq {
    kind: Kind,
    points: u32,
    injected_ok: u32,
    errnos: std::collections::BTreeMap<String, u32>,
    /// The n whose first two tries disagreed.
    disagreed: u32,
    /// Signs that the sequence of fault points changed during the run (not a broken rule:
    /// the debug kernel's own allocations, kmemleak's and the stack depot's, come and go).
    unstable: Vec<String>,
    /// Tries made again because the child did not get the pinned pid.
    interfered: Vec<String>,
    elapsed: Duration,
}

/// How many broken rules of a path are printed.
const MAX_SHOWN: usize = 20;

/// How often one n is tried at most: its outcome is the first one seen twice.
const MAX_TRIES: u32 = 5;

/// A run: the settings and the outcome log.
struct Runner<'a> {
    ctx: &'a Ctx,
    knobs: Knobs,
    kinds: Vec<Kind>,
    cap: u32,
    verbose: &'static str,
    log: Box<dyn Write>,
    /// Calls made with a fault armed.
    attempts: u64,
    /// `--trace`: each try and where its fault was injected, on standard error.
    trace: Option<Kmsg>,
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
    fn run_path(&mut self, def: &PathDef) -> (Vec<Seq>, Vec<String>) {
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

/// Re-execs the program without address space randomisation: the same layout every time, so
/// the same page tables to copy into a child.
fn reexec() {
    if std::env::var_os(REEXEC_ENV).is_some() {
        return;
    }
    // SAFETY: personality(0xffffffff) only queries.
    let cur = unsafe { libc::personality(0xffff_ffff) };
    // SAFETY: Sets a personality flag for the exec.
    unsafe { libc::personality((cur | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong) };
    std::env::set_var(REEXEC_ENV, "1");
    let exe = std::env::current_exe().expect("current_exe");
    let args: Vec<String> = std::env::args().collect();
    let e = util::execv(&exe.to_string_lossy(), &args);
    eprintln!("autokill-fault: re-exec {}: {e}", exe.display());
    std::process::exit(2);
}

/// Mounts debugfs if it is not mounted.
fn debugfs() -> Result<(), String> {
    if std::path::Path::new(&format!("{DEBUGFS}/fail_page_alloc")).exists()
        || std::path::Path::new(&format!("{DEBUGFS}/failslab")).exists()
    {
        return Ok(());
    }
    // SAFETY: mount with C strings.
    let r = unsafe {
        libc::mount(
            c"debugfs".as_ptr(),
            c"/sys/kernel/debug".as_ptr(),
            c"debugfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 && Errno::last() != Errno(libc::EBUSY) {
        return Err(format!("mount debugfs: {}", Errno::last()));
    }
    Ok(())
}

/// Slab caches marked for failslab's cache filter (there must be none: the filter turns
/// failslab off).
fn failslab_caches() -> Vec<String> {
    let Ok(d) = std::fs::read_dir("/sys/kernel/slab") else {
        return Vec::new();
    };
    d.flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("failslab")).is_ok_and(|v| v.trim() == "1")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn kmemleak_write(cmd: &str) -> Result<(), String> {
    std::fs::write(KMEMLEAK, cmd).map_err(|e| format!("echo {cmd} > {KMEMLEAK}: {e}"))
}

/// Words in a kmemleak backtrace that make an object ours: pidfs, fork, signals, files, pids
/// and the unix sockets that carried pidfds.
const LEAK_WORDS: &[&str] = &[
    "pidfs",
    "pidfd",
    "copy_process",
    "kernel_clone",
    "clone3",
    "dup_task_struct",
    "alloc_pid",
    "copy_signal",
    "copy_sighand",
    "send_signal",
    "sigqueue",
    "copy_creds",
    "prepare_creds",
    "dup_fd",
    "alloc_file",
    "alloc_empty_file",
    "path_from_stashed",
    "get_unused_fd",
    "scm_",
    "unix_",
    "dup_mm",
    "vm_area_dup",
];

/// The kmemleak report: the objects attributable to the run (in full) and the others (first
/// line only).
fn kmemleak_report(comm: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let text = std::fs::read_to_string(KMEMLEAK).map_err(|e| format!("{KMEMLEAK}: {e}"))?;
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("unreferenced object") || blocks.is_empty() {
            blocks.push(String::new());
        }
        let b = blocks.last_mut().expect("block");
        b.push_str(line);
        b.push('\n');
    }
    let mut ours = Vec::new();
    let mut others = Vec::new();
    for b in blocks.into_iter().filter(|b| b.starts_with("unreferenced")) {
        let by_us = b.contains(&format!("comm \"{comm}\""));
        let trace = b.split_once("backtrace").map_or("", |(_, t)| t);
        if by_us || LEAK_WORDS.iter().any(|w| trace.contains(w)) {
            ours.push(b);
        } else {
            others.push(b.lines().take(2).collect::<Vec<_>>().join(" "));
        }
    }
    Ok((ours, others))
}

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
