// SPDX-License-Identifier: GPL-2.0

//! System calls without the C library, for the child between `clone3()` and `execve()`.
//!
//! A child created with `CLONE_VM | CLONE_VFORK` (see [`crate::vfork`]) runs in the parent's
//! memory with the parent thread's thread pointer (`%fs` on x86_64, `tpidr_el0` on aarch64):
//! `errno`, like every thread-local variable it would touch, is the parent thread's. So the
//! child cannot call the C library's system call wrappers, not even its `syscall()`, which
//! writes `errno` on failure (the `memcpy()` and `memset()` the compiler may emit touch no
//! thread-local state and take no lock).
//! On x86_64 and aarch64 these functions enter the kernel directly with inline assembly and
//! return the kernel's `-errno` as `Err(errno)`; nothing here touches memory other than through
//! the arguments, takes a lock, allocates or panics.
//!
//! On the other architectures only the fork path exists ([`crate::exec::clone_child`]: the
//! child has a copy of the parent's memory, and `errno` is its own), and the same functions are
//! thin wrappers of the C library's `syscall()`, `sigaction()` and `sigprocmask()`, which are
//! async-signal-safe.
//!
//! The functions are safe where every argument is a value or a reference that the kernel only
//! reads or writes within its bounds; what they do to the calling process (its credentials, its
//! descriptors, its exit) is why only the child calls them.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_long, c_uint};

/// The `errno` of a failed system call.
pub(crate) type Errno = c_int;

/// Whether this architecture has the inline system calls, and with them the vfork path.
pub(crate) const INLINE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Enters the kernel with system call `n` and six arguments; returns the raw result, `-errno`
/// on failure.
///
/// # Safety
///
/// The arguments must be what system call `n` takes: every pointer among them valid for what
/// the kernel reads or writes through it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn syscall6(n: c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // The x86_64 system call convention: number in rax, arguments in rdi, rsi, rdx, r10, r8,
    // r9; the kernel returns in rax and clobbers rcx and r11, nothing else.
    // SAFETY: The kernel uses no stack of ours; the caller vouches for the pointers among the
    // arguments, and the asm is not `nomem`, so the compiler expects memory to change.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Enters the kernel with system call `n` and six arguments; returns the raw result, `-errno`
/// on failure.
///
/// # Safety
///
/// The arguments must be what system call `n` takes: every pointer among them valid for what
/// the kernel reads or writes through it.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn syscall6(n: c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // The arm64 system call convention: number in x8, arguments in x0 to x5; the kernel
    // returns in x0 and preserves every other register.
    // SAFETY: The kernel uses no stack of ours; the caller vouches for the pointers among the
    // arguments, and the asm is not `nomem`, so the compiler expects memory to change.
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x8") n,
            inlateout("x0") a[0] => ret,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

/// System call `n` with up to six arguments (the rest 0): `Ok` with the result, or
/// `Err(errno)`.
///
/// # Safety
///
/// As for [`syscall6`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
unsafe fn syscall(n: c_long, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: The caller's obligations are those of `syscall6`.
    let ret = unsafe { syscall6(n, a) };
    // The kernel returns -4095..=-1 for an error, anything else is a result.
    if (-4095..0).contains(&ret) {
        Err(-ret as Errno)
    } else {
        Ok(ret as usize)
    }
}

/// System call `n` with up to six arguments (the rest 0), through the C library: `Ok` with the
/// result, or `Err(errno)`. Only for the fork path's child, whose `errno` is its own.
///
/// # Safety
///
/// As for the C library's `syscall()`: the arguments must be what system call `n` takes.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
unsafe fn syscall(n: c_long, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: The caller's obligations; `syscall()` passes the six words on.
    let ret = unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if ret == -1 {
        // SAFETY: `__errno_location` returns the address of this thread's `errno`.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(ret as usize)
    }
}

/// `dup3(old, new, 0)`: `new` becomes a copy of `old`, without close-on-exec. `old` and `new`
/// must differ (`EINVAL` otherwise).
pub(crate) fn dup3(old: c_int, new: c_int) -> Result<(), Errno> {
    // SAFETY: Integer arguments only.
    unsafe {
        syscall(
            libc::SYS_dup3 as c_long,
            [old as usize, new as usize, 0, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`: marks the descriptors from `first` to
/// `last` close-on-exec (Linux 5.11).
pub(crate) fn close_range_cloexec(first: c_uint, last: c_uint) -> Result<(), Errno> {
    let flags = libc::CLOSE_RANGE_CLOEXEC as usize;
    // SAFETY: Integer arguments only.
    unsafe {
        syscall(
            libc::SYS_close_range as c_long,
            [first as usize, last as usize, flags, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// `chdir(dir)`.
pub(crate) fn chdir(dir: &CStr) -> Result<(), Errno> {
    // SAFETY: `dir` is a NUL-terminated string the kernel only reads.
    unsafe {
        syscall(
            libc::SYS_chdir as c_long,
            [dir.as_ptr() as usize, 0, 0, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// `setsid()`.
pub(crate) fn setsid() -> Result<(), Errno> {
    // SAFETY: No arguments.
    unsafe { syscall(libc::SYS_setsid as c_long, [0; 6]) }?;
    Ok(())
}

/// `setpgid(0, pgroup)`.
pub(crate) fn setpgid(pgroup: libc::pid_t) -> Result<(), Errno> {
    // SAFETY: Integer arguments only.
    unsafe {
        syscall(
            libc::SYS_setpgid as c_long,
            [0, pgroup as usize, 0, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// `umask(mask)` (which cannot fail).
pub(crate) fn umask(mask: libc::mode_t) {
    // SAFETY: An integer argument.
    let _ = unsafe { syscall(libc::SYS_umask as c_long, [mask as usize, 0, 0, 0, 0, 0]) };
}

/// `prlimit64(0, resource, &limits, NULL)`: sets the soft and hard limit (in that order) of
/// `resource` for the calling process.
pub(crate) fn set_rlimit(resource: c_uint, limits: &[u64; 2]) -> Result<(), Errno> {
    // `struct rlimit64` is two `__u64`, soft then hard: the array's layout.
    let new = limits.as_ptr() as usize;
    // SAFETY: `limits` is a live `struct rlimit64` the kernel only reads; no old limits are
    // asked for.
    unsafe {
        syscall(
            libc::SYS_prlimit64 as c_long,
            [0, resource as usize, new, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// `setgroups(groups)` with 32-bit gids ([`crate::sys::id32`]).
pub(crate) fn setgroups(groups: &[libc::gid_t]) -> Result<(), Errno> {
    let (len, ptr) = (groups.len(), groups.as_ptr() as usize);
    // SAFETY: `len` gids at `ptr`, which the kernel only reads.
    unsafe { syscall(crate::sys::id32::SETGROUPS, [len, ptr, 0, 0, 0, 0]) }?;
    Ok(())
}

/// `setgid(gid)` with a 32-bit gid ([`crate::sys::id32`]).
pub(crate) fn setgid(gid: libc::gid_t) -> Result<(), Errno> {
    // SAFETY: An integer argument.
    unsafe { syscall(crate::sys::id32::SETGID, [gid as usize, 0, 0, 0, 0, 0]) }?;
    Ok(())
}

/// `setuid(uid)` with a 32-bit uid ([`crate::sys::id32`]).
pub(crate) fn setuid(uid: libc::uid_t) -> Result<(), Errno> {
    // SAFETY: An integer argument.
    unsafe { syscall(crate::sys::id32::SETUID, [uid as usize, 0, 0, 0, 0, 0]) }?;
    Ok(())
}

/// `write(fd, data)` once: the number of bytes written.
pub(crate) fn write(fd: c_int, data: &[u8]) -> Result<usize, Errno> {
    let (ptr, len) = (data.as_ptr() as usize, data.len());
    // SAFETY: `len` bytes at `ptr`, which the kernel only reads.
    unsafe { syscall(libc::SYS_write as c_long, [fd as usize, ptr, len, 0, 0, 0]) }
}

/// Writes `data` to the existing file `path` with a single `write()` (as the id map files of a
/// user namespace require), then closes it.
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    write_file_at(libc::AT_FDCWD, path, data)
}

/// [`write_file`] with `path` relative to the directory `dir` (`openat()`): e.g. a cgroup's
/// `cgroup.procs` or `cgroup.kill`.
pub(crate) fn write_file_at(dir: c_int, path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let flags = (libc::O_WRONLY | libc::O_CLOEXEC) as usize;
    let at = dir as usize;
    // SAFETY: `path` is a NUL-terminated string the kernel only reads; no mode is needed
    // without `O_CREAT`.
    let fd = unsafe {
        syscall(
            libc::SYS_openat as c_long,
            [at, path.as_ptr() as usize, flags, 0, 0, 0],
        )
    }? as c_int;
    let result = match write(fd, data) {
        Ok(n) if n == data.len() => Ok(()),
        Ok(_) => Err(libc::EIO),
        Err(errno) => Err(errno),
    };
    // SAFETY: Closes the descriptor opened above, which nothing else uses.
    let _ = unsafe { syscall(libc::SYS_close as c_long, [fd as usize, 0, 0, 0, 0, 0]) };
    result
}

/// `prctl(option, arg2, 0, 0, 0)` for an option whose arguments are integers only.
fn prctl_set(option: c_int, arg2: usize) -> Result<(), Errno> {
    // SAFETY: The two callers below pass options that take integers only, no pointer.
    unsafe {
        syscall(
            libc::SYS_prctl as c_long,
            [option as usize, arg2, 0, 0, 0, 0],
        )
    }?;
    Ok(())
}

/// `prctl(PR_SET_PDEATHSIG, SIGKILL)`: this task gets `SIGKILL` when the thread that created
/// it exits.
pub(crate) fn set_parent_death_kill() -> Result<(), Errno> {
    prctl_set(libc::PR_SET_PDEATHSIG, libc::SIGKILL as usize)
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
pub(crate) fn set_no_new_privs() -> Result<(), Errno> {
    prctl_set(libc::PR_SET_NO_NEW_PRIVS, 1)
}

/// `getppid()` (which cannot fail): the pid of the parent process in the caller's pid
/// namespace, 0 for a parent outside it (the init of a new pid namespace).
pub(crate) fn getppid() -> libc::pid_t {
    // SAFETY: No arguments.
    let ret = unsafe { syscall(libc::SYS_getppid as c_long, [0; 6]) };
    // A pid fits in a `pid_t`.
    ret.map_or(-1, |pid| pid as libc::pid_t)
}

/// Whether the process or thread the pidfd `fd` refers to has exited: `ppoll()` for `POLLIN`
/// with a zero timeout. An error (a bad descriptor) counts as exited.
pub(crate) fn pidfd_exited(fd: c_int) -> bool {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let fds = &mut pollfd as *mut libc::pollfd as usize;
    let timeout = &zero as *const libc::timespec as usize;
    // SAFETY: One live `pollfd` the kernel reads and writes, a live `timespec` it reads, no
    // signal mask.
    let ret = unsafe {
        syscall(
            libc::SYS_ppoll as c_long,
            [fds, 1, timeout, 0, KERNEL_SIGSET_BYTES, 0],
        )
    };
    match ret {
        Ok(0) => false,
        Ok(_) => pollfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLNVAL) != 0,
        Err(_) => true,
    }
}

/// The size of the kernel's signal set for `ppoll()`'s mask argument (unused here: no mask).
const KERNEL_SIGSET_BYTES: usize = 8;

/// Resets every signal that has a handler to its default action, leaving ignored ones ignored:
/// what `CLONE_CLEAR_SIGHAND` does in the kernel, for a child of the legacy `clone()`, which
/// lacks that flag (a handler of the parent would otherwise run in the child). One
/// `rt_sigaction()` query per signal, as glibc's `posix_spawn()` does.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn reset_caught_signals() {
    for signal in 1..=64usize {
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        let old_ptr = &mut old as *mut KernelSigaction as usize;
        // SAFETY: Asks for the action into a live `struct sigaction` of the kernel's layout,
        // which it only writes; sets nothing.
        let asked = unsafe {
            syscall(
                libc::SYS_rt_sigaction as c_long,
                [signal, 0, old_ptr, KERNEL_SIGSET_SIZE, 0, 0],
            )
        };
        // 0 is SIG_DFL, 1 is SIG_IGN.
        if asked.is_ok() && old.handler > 1 {
            default_action(signal as c_int);
        }
    }
}

/// Resets every signal that has a handler to its default action, leaving ignored ones ignored
/// (see the x86_64 version), with the C library's async-signal-safe `sigaction()`.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn reset_caught_signals() {
    for signal in 1..=64 {
        // SAFETY: All-zero is a valid `struct sigaction`.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: Asks for the action into a live `struct sigaction`; sets nothing.
        let asked = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) } == 0;
        if asked && old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
            default_action(signal);
        }
    }
}

/// `execve(path, argv, envp)`; returns only on failure, with the `errno`.
///
/// # Safety
///
/// `path` must be a NUL-terminated string, `argv` and `envp` NULL-terminated arrays of
/// NUL-terminated strings, all alive and unchanged until the call returns or the program runs.
pub(crate) unsafe fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> Errno {
    let a = [path as usize, argv as usize, envp as usize, 0, 0, 0];
    // SAFETY: The caller vouches for the three pointers.
    match unsafe { syscall(libc::SYS_execve as c_long, a) } {
        Err(errno) => errno,
        // `execve()` does not return on success; a return is a failure all the same.
        Ok(_) => libc::EINVAL,
    }
}

/// `exit_group(code)`: ends the calling process at once, running nothing of the C library's or
/// of the Rust runtime's (no `atexit` handlers, no buffers flushed, no unwinding).
pub(crate) fn exit(code: c_int) -> ! {
    loop {
        // SAFETY: An integer argument; `exit_group()` does not return.
        let _ = unsafe {
            syscall(
                libc::SYS_exit_group as c_long,
                [code as usize, 0, 0, 0, 0, 0],
            )
        };
    }
}

/// The kernel's `struct sigaction` of x86_64 and arm64 (`sa_handler`, `sa_flags`,
/// `sa_restorer`, `sa_mask`), as `rt_sigaction()` takes it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// The size of the kernel's signal set (64 signals) on x86_64 and arm64, as
/// `rt_sigaction()` and `rt_sigprocmask()` want it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const KERNEL_SIGSET_SIZE: usize = 8;

/// Gives `signal` its default action (`SIG_DFL`, no flags, no mask). Cannot fail for a valid
/// signal that can be caught.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn default_action(signal: c_int) {
    let action = KernelSigaction {
        handler: 0, // SIG_DFL
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let act = &action as *const KernelSigaction as usize;
    let size = KERNEL_SIGSET_SIZE;
    // SAFETY: `action` is a live `struct sigaction` in the kernel's layout, which it only
    // reads; no old action is asked for.
    let _ = unsafe {
        syscall(
            libc::SYS_rt_sigaction as c_long,
            [signal as usize, act, 0, size, 0, 0],
        )
    };
}

/// Gives `signal` its default action (`SIG_DFL`, no flags, no mask). Cannot fail for a valid
/// signal that can be caught.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn default_action(signal: c_int) {
    // SAFETY: All-zero is a valid `struct sigaction`: `SIG_DFL`, no flags, an empty mask.
    let action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: Sets the action from a live `struct sigaction`; no old action is asked for.
    unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
}

/// The kernel's signal set of x86_64 and arm64: bit `n - 1` for signal `n`, 64 signals.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) type KernelSigset = u64;

/// `rt_sigprocmask(how, &set, &old)` on the calling thread: the mask before the call.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn sigprocmask(how: c_int, set: KernelSigset) -> Result<KernelSigset, Errno> {
    let mut old: KernelSigset = 0;
    let new = &set as *const KernelSigset as usize;
    let old_ptr = &mut old as *mut KernelSigset as usize;
    let size = KERNEL_SIGSET_SIZE;
    // SAFETY: `set` is a live kernel signal set of `size` bytes, which the kernel only reads,
    // and `old` one it only writes.
    unsafe {
        syscall(
            libc::SYS_rt_sigprocmask as c_long,
            [how as usize, new, old_ptr, size, 0, 0],
        )
    }?;
    Ok(old)
}

/// Blocks every signal of the calling thread, the C library's internal ones included (glibc's
/// `SIGCANCEL` and `SIGSETXID`, 32 and 33, which its `pthread_sigmask()` leaves unblocked), as
/// glibc's `posix_spawn()` does with the same system call; the kernel keeps `SIGKILL` and
/// `SIGSTOP` unblockable. Returns the mask before, for [`set_signal_mask`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn block_all_signals() -> Result<KernelSigset, Errno> {
    sigprocmask(libc::SIG_BLOCK, KernelSigset::MAX)
}

/// Sets the signal mask of the calling thread to `mask` (the kernel drops `SIGKILL` and
/// `SIGSTOP` from it). Cannot fail with a valid `how` and set size.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn set_signal_mask(mask: KernelSigset) {
    let _ = sigprocmask(libc::SIG_SETMASK, mask);
}

/// Unblocks every signal of the calling thread (an empty signal mask).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn unblock_all_signals() {
    set_signal_mask(0);
}

/// Unblocks every signal of the calling thread (an empty signal mask).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn unblock_all_signals() {
    let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set; `sigprocmask` only reads it.
    unsafe {
        libc::sigemptyset(empty.as_mut_ptr());
        libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_back_as_errno() {
        // A descriptor that is not open.
        assert_eq!(dup3(-1, 100), Err(libc::EBADF));
        assert_eq!(write(-1, b"x"), Err(libc::EBADF));
        assert_eq!(chdir(c"/nonexistent/autokill"), Err(libc::ENOENT));
        assert_eq!(
            write_file(c"/nonexistent/autokill", b"x"),
            Err(libc::ENOENT)
        );
        // A bad range.
        assert_eq!(close_range_cloexec(10, 5), Err(libc::EINVAL));
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn block_all_signals_blocks_the_c_librarys_too() {
        use crate::tests::blocked_signals;
        let before = blocked_signals();
        let old = block_all_signals().unwrap();
        let during = blocked_signals();
        set_signal_mask(old);
        let after = blocked_signals();
        assert_eq!(old, before);
        // Every signal but SIGKILL and SIGSTOP, 32 and 33 (glibc's internal ones) included.
        let unblockable = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));
        assert_eq!(during, !unblockable, "{during:#x}");
        assert_eq!(during & (0b11 << 31), 0b11 << 31);
        assert_eq!(after, before);
    }

    #[test]
    fn results_come_back_as_values() {
        let (read, write_end) = crate::sys::pipe().unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(write(write_end.as_raw_fd(), b"abc"), Ok(3));
        let mut buf = [0u8; 3];
        // SAFETY: Reads into a live buffer of its length.
        let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!((n, &buf), (3, b"abc"));
    }
}
