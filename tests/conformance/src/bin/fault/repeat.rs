// SPDX-License-Identifier: GPL-2.0

//! What keeps the sequence of fault points the same from run to run: the re-exec without
//! address space randomisation, one CPU and locked memory, the armed `clone3()` in one block
//! of assembly with its buffers in shared pages, and one pid for every child of `clone3()`
//! under test.

use std::os::fd::{FromRawFd, OwnedFd};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the raw clone3() child is written for x86_64 and aarch64 only");

use conformance::errno::Errno;
use conformance::sys::*;
use conformance::util::{self, FdExt};

use crate::inject::FailNth;

/// The environment variable that marks the re-exec'd process.
const REEXEC_ENV: &str = "AUTOKILL_FAULT_REEXEC";

/// The scheduling and memory set-up that makes fault point sequences repeatable: pinned to
/// CPU 0 (with the children: one per-CPU cache, one run queue), the stack grown and the memory
/// locked (no page fault while a fault is armed). Not `MCL_FUTURE`: the page [`clone3_window`]
/// has the kernel store the pidfd into must stay unpopulated until then.
pub fn pin_and_lock() -> Result<(), String> {
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
///
/// Invariant: `page` is a mapping of `PAGE_SIZE` bytes this value made and unmaps on drop; the
/// field is private so that no other module can forge one around another pointer (the safe
/// [`clone3_window`] writes into it).
pub struct Scratch {
    page: *mut u8,
}

const SCRATCH_READ: usize = 256;
/// The length of the `pread()` of `fail-nth` in [`clone3_window`].
pub const SCRATCH_READ_LEN: usize = 16;
const SCRATCH_ZERO: usize = 288;

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: Unmaps the page this value mapped; nothing refers to it any more.
        unsafe { libc::munmap(self.page.cast(), PAGE_SIZE) };
    }
}

impl Scratch {
    /// A page, not populated: mapped, never touched.
    pub fn new() -> Result<Scratch, String> {
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
    pub fn populated() -> Result<Scratch, String> {
        let sc = Scratch::new()?;
        // SAFETY: The page is ours and writable; mlock with its address and size.
        unsafe {
            sc.page.write_bytes(0, PAGE_SIZE);
            libc::mlock(sc.page.cast(), PAGE_SIZE);
        }
        Ok(sc)
    }

    /// What [`clone3_window`]'s `pread()` stored: a copy of its first `len` bytes (at most the
    /// length it asked for), on the stack: no allocation between fault windows.
    pub fn read_text(&self, len: usize) -> ([u8; SCRATCH_READ_LEN], usize) {
        let len = len.min(SCRATCH_READ_LEN);
        let mut out = [0u8; SCRATCH_READ_LEN];
        // SAFETY: By the type's invariant the page is mapped for `PAGE_SIZE` bytes, and these
        // are at most `SCRATCH_READ_LEN` from `SCRATCH_READ`; the borrow of `self` keeps it
        // mapped for the copy. `Scratch` is not `Sync`, so no other thread runs a window on it
        // meanwhile, and the window's child touches no memory; the copy leaves no reference
        // into the shared page behind.
        unsafe {
            std::ptr::copy_nonoverlapping(self.page.add(SCRATCH_READ), out.as_mut_ptr(), len)
        };
        (out, len)
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
pub fn clone3_window(
    nth: &FailNth,
    sc: &Scratch,
    slot: &Scratch,
    flags: u64,
) -> (Clone3Result, i64) {
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
    #[cfg(target_arch = "x86_64")]
    // SAFETY: The parent's side makes three system calls whose buffers are in the scratch page
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
            "mov edx, {read_len}",
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
            read_len = const SCRATCH_READ_LEN,
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
    #[cfg(target_arch = "aarch64")]
    // SAFETY: As on x86_64: three system calls (number in x8, arguments from x0, the result in
    // x0; the kernel preserves every other register), all declared clobbered; the buffers are in
    // the scratch page. The child (x0 == 0) makes `close_range(3, ~0U, 0)` and then `ppoll()`
    // with no descriptors and no timeout (arm64's `pause()`) forever with register operands,
    // never returns into Rust code and touches no memory.
    unsafe {
        core::arch::asm!(
            "svc #0",
            "cbnz x0, 3f",
            "mov x8, #436",
            "mov x0, #3",
            "mov w1, #-1",
            "mov x2, xzr",
            "svc #0",
            "2:",
            "mov x8, #73",
            "mov x0, xzr",
            "mov x1, xzr",
            "mov x2, xzr",
            "mov x3, xzr",
            "mov x4, xzr",
            "svc #0",
            "b 2b",
            "3:",
            "mov x9, x0",
            "mov x8, #67",
            "mov x0, x12",
            "mov x1, x13",
            "mov x2, #{read_len}",
            "mov x3, xzr",
            "svc #0",
            "mov x10, x0",
            "mov x8, #68",
            "mov x0, x12",
            "mov x1, x14",
            "mov x2, #1",
            "mov x3, xzr",
            "svc #0",
            read_len = const SCRATCH_READ_LEN,
            inlateout("x8") libc::SYS_clone3 => _,
            inlateout("x0") sc.page => _,
            inlateout("x1") CLONE_ARGS_SIZE_VER2 => _,
            out("x2") _,
            out("x3") _,
            out("x4") _,
            in("x12") nth.fd.raw() as i64,
            in("x13") sc.page.wrapping_add(SCRATCH_READ),
            in("x14") sc.page.wrapping_add(SCRATCH_ZERO),
            out("x9") ret,
            out("x10") read,
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
pub type Clone3Result = Result<(i32, Option<OwnedFd>), Errno>;

/// A free pid in the same block of 64 as ours, for every child of `clone3()` under test.
///
/// `alloc_pid()` preloads the pid IDR's per-CPU node cache (`idr_preload()`), one slab
/// allocation whenever a node was used since: when the pid numbers cross into a new block of 64
/// (an IDR leaf), so now and then depending on how many pids the machine used before. With the
/// same pid each time, in a leaf our own pid keeps allocated, no node is ever used. `None` if
/// there is no free pid in the block (the numbers are then left to the kernel).
pub fn pick_pid() -> Option<i32> {
    let me = util::getpid();
    let base = me & !63;
    (base.max(2)..base + 64)
        .filter(|&p| p != me)
        .find(|&p| !std::path::Path::new(&format!("/proc/{p}")).exists())
}

/// Re-execs the program without address space randomisation: the same layout every time, so
/// the same page tables to copy into a child.
pub fn reexec() {
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
