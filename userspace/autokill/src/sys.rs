// SPDX-License-Identifier: GPL-2.0

//! Raw kernel interface: the constants the `libc` crate lacks, `struct clone_args` and a raw
//! `clone3()`.
//!
//! This is the one place these values are defined (from `include/uapi/linux/sched.h` and
//! `include/uapi/linux/pidfd.h` of Linux 7.1+).

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

/// `PIDFD_GET_INFO`: `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte version 0 struct.
pub const PIDFD_GET_INFO: libc::c_ulong = 0xc040_ff0b;
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
