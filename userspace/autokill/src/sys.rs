// SPDX-License-Identifier: GPL-2.0

//! Raw kernel interface: the constants the `libc` crate lacks, `struct clone_args`,
//! `struct pidfd_info`, a raw `clone3()` and thin wrappers of the pidfd system calls.
//!
//! This is the one place these values are defined (from `include/uapi/linux/sched.h` and
//! `include/uapi/linux/pidfd.h` of Linux 7.1+).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Reap the child on exit without notifying the parent (Linux 7.1+).
pub const CLONE_AUTOREAP: u64 = 1 << 34;
/// Set `no_new_privs` on the child (Linux 7.1+).
pub const CLONE_NNP: u64 = 1 << 35;
/// Kill the child when the last reference to its clone pidfd goes away (Linux 7.1+).
pub const CLONE_PIDFD_AUTOKILL: u64 = 1 << 36;
/// The file flag that marks an autokill pidfd (`O_TRUNC`).
pub const PIDFD_AUTOKILL: libc::c_int = libc::O_TRUNC;

/// `CLONE_PIDFD` as a `u64`.
pub const CLONE_PIDFD: u64 = libc::CLONE_PIDFD as u64;
/// `CLONE_THREAD` as a `u64`.
pub const CLONE_THREAD: u64 = libc::CLONE_THREAD as u64;
/// `CLONE_PARENT` as a `u64`.
pub const CLONE_PARENT: u64 = libc::CLONE_PARENT as u64;

/// Size of `struct clone_args` version 0 (Linux 5.3): up to and including `tls`.
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
/// Size of `struct clone_args` version 2 (Linux 5.7): up to and including `cgroup`, the size of
/// [`CloneArgs`].
pub const CLONE_ARGS_SIZE_VER2: usize = 88;

/// `PIDFD_GET_INFO`: `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte version 0 struct.
pub const PIDFD_GET_INFO: libc::c_ulong = 0xc040_ff0b;
/// Size of `struct pidfd_info` version 0 (Linux 6.13), the size of [`PidfdInfo`] and the size
/// encoded in [`PIDFD_GET_INFO`].
pub const PIDFD_INFO_SIZE_VER0: usize = 64;
/// `pidfd_info.mask`: the pid fields are valid.
pub const PIDFD_INFO_PID: u64 = 1 << 0;
/// `pidfd_info.mask`: the credential fields are valid.
pub const PIDFD_INFO_CREDS: u64 = 1 << 1;
/// `pidfd_info.mask`: the cgroup id is valid.
pub const PIDFD_INFO_CGROUPID: u64 = 1 << 2;
/// `pidfd_info.mask`: the exit code is valid (the process exited and was reaped).
pub const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `struct pidfd_info`, version 0 (64 bytes), from `include/uapi/linux/pidfd.h`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PidfdInfo {
    /// Which fields to fill in (request) and which are valid (reply).
    pub mask: u64,
    /// Cgroup id.
    pub cgroupid: u64,
    /// Pid in the caller's pid namespace.
    pub pid: u32,
    /// Thread group id.
    pub tgid: u32,
    /// Parent pid.
    pub ppid: u32,
    /// Real uid.
    pub ruid: u32,
    /// Real gid.
    pub rgid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved uid.
    pub suid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
    /// Exit status as `wait()` reports it.
    pub exit_code: i32,
}

/// `struct clone_args` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneArgs {
    /// Flags (`CLONE_*`).
    pub flags: u64,
    /// Where to store the pidfd (`CLONE_PIDFD`).
    pub pidfd: u64,
    /// Where to store the child's TID in the child's memory (`CLONE_CHILD_SETTID`).
    pub child_tid: u64,
    /// Where to store the child's TID in the parent's memory (`CLONE_PARENT_SETTID`).
    pub parent_tid: u64,
    /// Signal to the parent when the child exits.
    pub exit_signal: u64,
    /// Lowest address of the child's stack.
    pub stack: u64,
    /// Size of the child's stack.
    pub stack_size: u64,
    /// Thread-local storage (`CLONE_SETTLS`).
    pub tls: u64,
    /// Pointer to an array of pids to use (`set_tid`).
    pub set_tid: u64,
    /// Number of elements in `set_tid`.
    pub set_tid_size: u64,
    /// Cgroup file descriptor (`CLONE_INTO_CGROUP`).
    pub cgroup: u64,
}

/// Calls `clone3()` with `args` and the given struct size, without any wrapper logic.
///
/// Returns the raw result: the child's pid in the parent, 0 in the child, -1 with `errno` set on
/// failure.
///
/// # Safety
///
/// Like `fork()` in a multithreaded program: in the child, only async-signal-safe operations may
/// run until `execve()` or `_exit()`. With `CLONE_VM` or a custom stack the caller takes on all
/// the obligations of a raw `clone()`. `size` must not exceed the size of `*args` unless the
/// memory behind it is readable and zero.
pub unsafe fn clone3_raw(args: *mut CloneArgs, size: usize) -> libc::c_long {
    // SAFETY: The caller upholds the requirements above.
    unsafe { libc::syscall(libc::SYS_clone3, args, size) }
}

// The struct sizes the kernel sees must be the documented ones.
const _: () = assert!(std::mem::size_of::<CloneArgs>() == CLONE_ARGS_SIZE_VER2);
const _: () = assert!(std::mem::size_of::<PidfdInfo>() == PIDFD_INFO_SIZE_VER0);
const _: () = assert!((PIDFD_GET_INFO >> 16) as usize & 0x3fff == PIDFD_INFO_SIZE_VER0);

/// Returns the calling thread's `errno` as an [`io::Error`] if `ret` is -1, else `ret`.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `pidfd_open(pid, 0)`: a new pidfd (`O_CLOEXEC`) for the process `pid`.
///
/// The new pidfd is a file of its own, never an autokill one: holding or closing it does not
/// affect the process's lifetime. It polls readable (`POLLIN`) once the process has exited.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: `pidfd_open` takes two integers and touches no memory of ours.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // The kernel returns an `int` file descriptor in a `long`.
    let fd = fd as libc::c_int;
    // SAFETY: `fd` is a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`: sends `signal` to the process `pidfd` refers to,
/// as `kill()` would (`si_code` `SI_USER`).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    let null = std::ptr::null::<libc::siginfo_t>();
    // SAFETY: A NULL `siginfo_t` is allowed; the file descriptor is borrowed, hence open.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            null,
            0,
        )
    })?;
    Ok(())
}

/// `ioctl(pidfd, PIDFD_GET_INFO)` asking for the fields in `mask` (`PIDFD_INFO_*`).
///
/// The reply's `mask` says which fields the kernel filled in: [`PIDFD_INFO_EXIT`] only once the
/// process has exited and been reaped. Fails with `ESRCH` if the process is gone and `mask` does
/// not ask for [`PIDFD_INFO_EXIT`] (or its exit information is not there yet).
pub fn pidfd_get_info(pidfd: BorrowedFd<'_>, mask: u64) -> io::Result<PidfdInfo> {
    let mut info = PidfdInfo {
        mask,
        ..PidfdInfo::default()
    };
    // SAFETY: `PIDFD_GET_INFO` reads and writes a `struct pidfd_info` of the size encoded in the
    // command, which is the size of `info` (checked above at compile time).
    let ret = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO,
            std::ptr::addr_of_mut!(info),
        )
    };
    cvt(ret.into())?;
    Ok(info)
}
