// SPDX-License-Identifier: GPL-2.0

//! The vfork path: `clone3(CLONE_VM | CLONE_VFORK)` onto a stack of its own, with an assembly
//! trampoline per architecture (x86_64 and aarch64).
//!
//! The child shares the parent's memory, as a thread would, while the calling thread sleeps in
//! `clone3()` until the child has executed the program or exited (`CLONE_VFORK`). Nothing is
//! copied: no page tables, no write-protect faults afterwards in the parent (what `fork()`
//! costs a parent with a large heap, see the crate's benchmark), and it works under strict
//! overcommit. This is what glibc's `posix_spawn()` and `pidfd_spawn()` do.
//!
//! The child runs on a stack of its own ([`ChildStack`]: mapped once, with a guard page, and
//! kept for the next spawn), entered through [`clone3_on_stack`]: `clone3()` returns in the
//! child with the stack pointer at the top of that stack, where no Rust frame exists, so the
//! assembly calls the child's entry right away, an `extern "C" fn(*const c_void) -> !`. The
//! entry only makes raw system calls ([`crate::raw`]) on data the parent prepared before the
//! call, and reports a failure through memory the blocked parent reads when `clone3()` returns
//! ([`crate::exec::vfork_child`]).
//!
//! Signals: `CLONE_CLEAR_SIGHAND` gives the child the default action for every signal the
//! parent catches, in the kernel before the child runs, so no handler of the parent can ever
//! run on the shared memory; and every signal is blocked around `clone3()` (the child inherits
//! the mask and unblocks them just before `execve()`), as glibc's `posix_spawn()` does: with the
//! raw `rt_sigprocmask()` ([`crate::raw::block_all_signals`]), so the C library's internal
//! signals too (glibc's 32 and 33, which its `pthread_sigmask()` leaves unblocked); only
//! `SIGKILL` and `SIGSTOP` cannot be blocked. The calling thread's mask is restored once
//! `clone3()` has returned.

use std::ffi::c_void;
use std::io;
use std::mem;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::exec::{CloneRequest, SignalsBlocked};
use crate::sys;

/// The usable size of a child stack. The child's code needs a few hundred bytes per frame and
/// a handful of frames, with room for unoptimised builds; only the pages it touches are ever
/// allocated.
const STACK_SIZE: usize = 64 * 1024;

/// A child's stack: a private anonymous mapping of [`STACK_SIZE`] bytes above a guard page
/// (`PROT_NONE`), so that an overflow faults (and kills the child) instead of writing into
/// whatever the parent has mapped below.
///
/// One stack is kept between spawns in [`CACHED`]: taking it is one atomic exchange where
/// mapping a new one costs `mmap()`, `mprotect()`, `munmap()` and a page fault per touched page.
/// Measured with `autokill-spawn-bench` (spawn of `/bin/true` until `clone3()` returned,
/// 3000 rounds, three runs, 2-core host under load): fastest spawn 35-37 µs kept against
/// 41-44 µs mapped anew, medians 81-103 µs against 98-161 µs. Concurrent spawns map stacks of
/// their own, and on return only one is kept.
///
/// # Invariants
///
/// `base` is the start of a mapping of [`ChildStack::mapping_len`] bytes owned by this value:
/// the first [`page_size`] bytes `PROT_NONE`, the rest readable and writable.
pub(crate) struct ChildStack {
    base: ptr::NonNull<u8>,
}

/// The stack kept for the next spawn (null if none), owned by this static while it is here.
static CACHED: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());

/// The page size (the guard's size and the mapping's alignment).
fn page_size() -> usize {
    // SAFETY: `sysconf()` has no memory arguments.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as usize,
        _ => 4096,
    }
}

impl ChildStack {
    /// The length of the mapping: the guard page and the stack.
    fn mapping_len() -> usize {
        page_size() + STACK_SIZE.max(page_size())
    }

    /// The kept stack, or a new one.
    pub(crate) fn take() -> io::Result<Self> {
        // Acquire: the last user's writes to the stack (the child's) happen before ours.
        if let Some(base) = ptr::NonNull::new(CACHED.swap(ptr::null_mut(), Ordering::Acquire)) {
            // INVARIANT: Only `ChildStack`s are ever put into `CACHED`.
            return Ok(ChildStack { base });
        }
        Self::map()
    }

    /// Maps a new stack.
    pub(crate) fn map() -> io::Result<Self> {
        let len = Self::mapping_len();
        // SAFETY: A new anonymous mapping at an address the kernel chooses: no memory of ours
        // is affected.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: The first page of the mapping just made, which nothing else uses.
        if unsafe { libc::mprotect(base, page_size(), libc::PROT_NONE) } != 0 {
            let error = io::Error::last_os_error();
            // SAFETY: Unmaps the mapping just made, which nothing else uses.
            unsafe { libc::munmap(base, len) };
            return Err(error);
        }
        // INVARIANT: A mapping of `mapping_len()` bytes with its first page `PROT_NONE`.
        Ok(ChildStack {
            base: ptr::NonNull::new(base.cast()).ok_or_else(|| io::Error::other("mmap gave 0"))?,
        })
    }

    /// The lowest address of the usable stack and its size, as `clone_args.stack` and
    /// `clone_args.stack_size` want them (the kernel starts the child at `stack + stack_size`).
    fn bounds(&self) -> (u64, u64) {
        let guard = page_size();
        let low = self.base.as_ptr() as usize + guard;
        (low as u64, (Self::mapping_len() - guard) as u64)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // Release: our writes (and the child's, which happened before `clone3()` returned)
        // happen before the next user's.
        let kept = CACHED.compare_exchange(
            ptr::null_mut(),
            self.base.as_ptr(),
            Ordering::Release,
            Ordering::Relaxed,
        );
        if kept.is_err() {
            // SAFETY: By the type invariant the mapping is ours, and no child runs on it any
            // more: it is only dropped after `clone3()` returned in the parent, when the child
            // has executed a program (its memory is a new one) or exited.
            unsafe { libc::munmap(self.base.as_ptr().cast(), Self::mapping_len()) };
        }
    }
}

/// The entry of a child on the vfork path: called on the child's stack with the argument given
/// to [`clone_vfork`], never returns (it ends in `execve()` or `exit_group()`).
pub(crate) type ChildEntry = unsafe extern "C" fn(*const c_void) -> !;

/// `clone3(args)` with `args.stack` set; in the child, calls `entry(arg)` on the new stack.
/// Returns the raw result in the parent: the child's pid, or `-errno`.
///
/// # Safety
///
/// `args` must describe a child with a stack (`stack`, `stack_size`) that nothing else uses
/// until this returns, and every pointer in it must be valid for the kernel. `entry` must not
/// return and must be able to run on that stack in the child: with `CLONE_VM` that means it
/// only makes raw system calls on memory that stays valid and unchanged until this returns
/// (which `CLONE_VFORK` makes the moment the child executes a program or exits).
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_on_stack(
    args: &mut sys::CloneArgs,
    entry: ChildEntry,
    arg: *const c_void,
) -> isize {
    let ret: isize;
    // `syscall` preserves every register but rax, rcx and r11, in the parent and in the child,
    // so `entry` (rdx) and `arg` (r8) are still there in the child, which starts after the
    // `syscall` with rax 0 and rsp at the top of its new stack (the kernel's `copy_thread()`
    // sets it from `clone_args.stack + stack_size`). The child ends the frame chain (rbp 0),
    // aligns the stack to 16 bytes before the `call` as the ABI wants, and never comes back:
    // `entry` does not return (`ud2` traps if it did). The parent continues after the label
    // with the result in rax; it pushed nothing (`nostack`).
    // SAFETY: The child leaves this block only into `entry`, on its own stack; the parent
    // leaves it with its registers and stack intact. The caller vouches for `args`, which the
    // kernel only reads, and for the memory `entry` uses.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r8",
            "and rsp, -16",
            "call rdx",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") args as *mut sys::CloneArgs,
            in("rsi") mem::size_of::<sys::CloneArgs>(),
            in("rdx") entry,
            in("r8") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `clone3(args)` with `args.stack` set; in the child, calls `entry(arg)` on the new stack.
/// Returns the raw result in the parent: the child's pid, or `-errno`.
///
/// # Safety
///
/// `args` must describe a child with a stack (`stack`, `stack_size`) that nothing else uses
/// until this returns, and every pointer in it must be valid for the kernel. `entry` must not
/// return and must be able to run on that stack in the child: with `CLONE_VM` that means it
/// only makes raw system calls on memory that stays valid and unchanged until this returns
/// (which `CLONE_VFORK` makes the moment the child executes a program or exits).
#[cfg(target_arch = "aarch64")]
unsafe fn clone3_on_stack(
    args: &mut sys::CloneArgs,
    entry: ChildEntry,
    arg: *const c_void,
) -> isize {
    let ret: isize;
    // `svc` preserves every register but x0, in the parent and in the child, so `entry` (x2)
    // and `arg` (x3) are still there in the child, which starts after the `svc` with x0 0 and
    // sp at the top of its new stack (the kernel's `copy_thread()` sets it from
    // `clone_args.stack + stack_size`, 16-byte aligned as the stack's top is page-aligned).
    // The child ends the frame chain (x29 and x30 0) and never comes back: `entry` does not
    // return (`brk` traps if it did). The parent continues after the label with the result in
    // x0; it pushed nothing (`nostack`).
    // SAFETY: The child leaves this block only into `entry`, on its own stack; the parent
    // leaves it with its registers and stack intact. The caller vouches for `args`, which the
    // kernel only reads, and for the memory `entry` uses.
    unsafe {
        core::arch::asm!(
            "svc #0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x3",
            "blr x2",
            "brk #0x1",
            "2:",
            in("x8") libc::SYS_clone3,
            inlateout("x0") args as *mut sys::CloneArgs => ret,
            in("x1") mem::size_of::<sys::CloneArgs>(),
            in("x2") entry,
            in("x3") arg,
            options(nostack),
        );
    }
    ret
}

/// Creates a child with `clone3(request.flags | CLONE_PIDFD | CLONE_CLEAR_SIGHAND | CLONE_VM |
/// CLONE_VFORK)` on a stack of its own, which runs `entry(arg)`, and returns when the child has
/// executed a program or exited: the child's pid and its pidfd.
///
/// Every signal is blocked around the call with the raw `rt_sigprocmask()` ([`SignalsBlocked`]),
/// the C library's internal ones included, so the child starts with them blocked (`SIGKILL`
/// and `SIGSTOP` cannot be); the calling thread's mask is restored before this returns.
///
/// # Safety
///
/// `entry` runs in the child, on the parent's memory, with the parent thread's thread pointer
/// and all signals blocked: it must only make raw system calls ([`crate::raw`]), take no lock,
/// allocate nothing, touch no thread-local variable (`errno` included), not panic and not
/// return, and end with `execve()` or `exit_group()`. It may read what `arg` points to, which
/// must stay valid until this returns, and write only to memory nobody else uses meanwhile
/// (the calling thread is blocked; other threads of the process run on). `request.flags` must
/// ask for nothing else to be shared (no `CLONE_FILES`, `CLONE_FS`, `CLONE_SIGHAND`,
/// `CLONE_THREAD`, `CLONE_SETTLS`, no tid pointers): the child changes its descriptors, working
/// directory and signal actions, which must stay its own.
pub(crate) unsafe fn clone_vfork(
    request: &CloneRequest,
    entry: ChildEntry,
    arg: *const c_void,
) -> io::Result<(libc::pid_t, OwnedFd)> {
    let stack = ChildStack::take()?;
    let (stack_low, stack_size) = stack.bounds();
    let mut pidfd: c_int = -1;
    let mut args = request.clone_args(ptr::addr_of_mut!(pidfd));
    args.flags |= sys::CLONE_VM | sys::CLONE_VFORK;
    args.stack = stack_low;
    args.stack_size = stack_size;
    #[cfg(test)]
    crate::exec::LAST_CLONE_FLAGS.with(|last| last.set(args.flags));
    let blocked = SignalsBlocked::new()?;
    // SAFETY: `stack` is ours alone until it is dropped below, after the call; `pidfd` is valid
    // for the kernel to write. The caller vouches for `entry` and `arg`.
    let ret = unsafe { clone3_on_stack(&mut args, entry, arg) };
    drop(blocked);
    // Whatever the child did, it is done with the stack now: it executed a program or exited.
    drop(stack);
    if ret < 0 {
        // The kernel's errors are -4095..=-1.
        return Err(io::Error::from_raw_os_error(-ret as c_int));
    }
    // SAFETY: `clone3()` succeeded with `CLONE_PIDFD`, so `pidfd` is a new descriptor that
    // nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // The kernel returns a pid.
    Ok((ret as libc::pid_t, pidfd))
}

/// A child entry that exits with status 0 at once: for [`crate::supported`]'s probe.
pub(crate) unsafe extern "C" fn exit_at_once(_: *const c_void) -> ! {
    crate::raw::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// What the test child reads and writes in the parent's memory.
    struct Shared {
        input: u64,
        output: AtomicU64,
        /// The child's stack pointer, roughly.
        stack: AtomicU64,
    }

    /// Doubles `input` into `output`, notes where its stack is, and exits with status 42.
    unsafe extern "C" fn double_and_exit(arg: *const c_void) -> ! {
        // SAFETY: The test passes a `Shared` that outlives the call (the parent is blocked).
        let shared = unsafe { &*arg.cast::<Shared>() };
        let local = 0u8;
        shared
            .stack
            .store(ptr::addr_of!(local) as u64, Ordering::Relaxed);
        shared
            .output
            .store(shared.input.wrapping_mul(2), Ordering::Relaxed);
        crate::raw::exit(42)
    }

    /// Waits for a plain child and returns its wait status.
    fn reap(pid: libc::pid_t) -> c_int {
        let mut status = 0;
        loop {
            // SAFETY: Waits for our own (not autoreaped) child.
            if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
                return status;
            }
            assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EINTR));
        }
    }

    #[test]
    fn the_trampoline_runs_the_entry_on_the_new_stack_in_shared_memory() {
        // Plain `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)`, as the host has it, with
        // SIGCHLD so that the child can be waited for.
        let shared = Shared {
            input: 21,
            output: AtomicU64::new(0),
            stack: AtomicU64::new(0),
        };
        let before = [1u64, 2, 3];
        let request = CloneRequest {
            flags: 0,
            exit_signal: libc::SIGCHLD,
            cgroup: None,
        };
        for _ in 0..3 {
            shared.output.store(0, Ordering::Relaxed);
            // SAFETY: The entry only stores to atomics of `shared`, which outlives the call,
            // and exits with a raw system call.
            let (pid, _pidfd) =
                unsafe { clone_vfork(&request, double_and_exit, ptr::addr_of!(shared).cast()) }
                    .unwrap();
            // CLONE_VFORK: the child has exited by now, and CLONE_VM: its write is ours.
            assert_eq!(shared.output.load(Ordering::Relaxed), 42);
            let status = reap(pid);
            assert!(libc::WIFEXITED(status), "status {status:#x}");
            assert_eq!(libc::WEXITSTATUS(status), 42);
            // The child ran on the cached stack, not on ours.
            let stack = shared.stack.load(Ordering::Relaxed) as usize;
            let here = ptr::addr_of!(before) as usize;
            assert!(stack.abs_diff(here) > STACK_SIZE, "{stack:#x} vs {here:#x}");
        }
        // The parent's frame survived.
        assert_eq!(before, [1, 2, 3]);
    }

    #[test]
    fn a_failed_clone3_returns_its_errno() {
        // CLONE_THREAD without CLONE_SIGHAND: EINVAL from copy_process().
        let request = CloneRequest {
            flags: sys::CLONE_THREAD,
            exit_signal: 0,
            cgroup: None,
        };
        // SAFETY: clone3() fails, no child runs.
        let error = unsafe { clone_vfork(&request, exit_at_once, ptr::null()) }.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
    }

    /// What `clone3()` says to `CLONE_VM | CLONE_VFORK` with `flags` and `exit_signal`, for a
    /// child that exits at once: `Ok(exit status)` (the status only for a `SIGCHLD` child), or
    /// the `errno`.
    fn try_flags(flags: u64, exit_signal: c_int) -> Result<Option<c_int>, c_int> {
        let request = CloneRequest {
            flags,
            exit_signal,
            cgroup: None,
        };
        // SAFETY: The entry only exits.
        match unsafe { clone_vfork(&request, exit_at_once, ptr::null()) } {
            Ok((pid, _pidfd)) if exit_signal != 0 => Ok(Some(reap(pid))),
            Ok(_) => Ok(None),
            Err(error) => Err(error.raw_os_error().unwrap_or(0)),
        }
    }

    /// Records what the kernel does with `CLONE_VM | CLONE_VFORK` and the namespaces of
    /// `kill_tree` (kernel/fork.c refuses `CLONE_NEWUSER` only with `CLONE_FS`, and
    /// `CLONE_NEWPID` only with `CLONE_THREAD`): accepted, as root (`CLONE_NEWPID`) and
    /// unprivileged (with `CLONE_NEWUSER`), plain and, where the kernel has it, with the
    /// autokill flags. So `kill_tree` takes the vfork path too.
    #[test]
    fn clone_vm_with_new_pid_and_user_namespaces_is_accepted() {
        let plain = sys::CLONE_NEWPID | sys::CLONE_NEWUSER;
        // SAFETY: `geteuid()` cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            assert_eq!(try_flags(sys::CLONE_NEWPID, libc::SIGCHLD), Ok(Some(0)));
        }
        assert_eq!(try_flags(plain, libc::SIGCHLD), Ok(Some(0)));
        println!("clone3(CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWUSER): accepted");
        let unprivileged = crate::tests::in_helper(|| {
            if crate::tests::become_nobody().is_err() {
                return 10;
            }
            match try_flags(plain, libc::SIGCHLD) {
                Ok(Some(0)) => 0,
                // Unprivileged user namespaces are off here.
                Err(libc::EPERM | libc::ENOSPC) => 11,
                _ => 12,
            }
        });
        match unprivileged {
            0 => println!("... and as nobody"),
            11 => println!("... not as nobody: unprivileged user namespaces are off"),
            code => panic!("as nobody: {code}"),
        }
        if crate::tests::skip_without_autokill() {
            return;
        }
        let autokill = sys::AUTOKILL_NNP | plain;
        assert_eq!(try_flags(autokill, 0), Ok(None));
        if root {
            assert_eq!(
                try_flags(sys::AUTOKILL_NNP | sys::CLONE_NEWPID, 0),
                Ok(None)
            );
        }
        println!("... and with CLONE_PIDFD | CLONE_AUTOREAP | CLONE_NNP | CLONE_PIDFD_AUTOKILL");
    }

    #[test]
    fn stacks_have_a_guard_page_below() {
        let stack = ChildStack::map().unwrap();
        let (low, size) = stack.bounds();
        assert_eq!(low as usize, stack.base.as_ptr() as usize + page_size());
        assert!(size as usize >= STACK_SIZE);
        assert_eq!((low + size) as usize % 16, 0, "the top is aligned");
        // mincore()-free check of the protection: /proc/self/maps shows the guard as ---p.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let guard = format!("{:x}-{:x} ---p", stack.base.as_ptr() as usize, low);
        assert!(maps.contains(&guard), "no {guard} in\n{maps}");
    }
}
