// SPDX-License-Identifier: GPL-2.0

//! Kernel constants: `autokill::sys` plus the `clone3()` flags as `u64` (the `libc` crate has
//! them as `c_int`, and `CLONE_IO` would sign-extend).

pub use autokill::sys::{
    clone3_raw, CloneArgs, PidfdInfo, CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD_AUTOKILL,
    PIDFD_AUTOKILL, PIDFD_GET_INFO, PIDFD_INFO_EXIT, PIDFD_INFO_PID,
};

/// `CLONE_VM`.
pub const CLONE_VM: u64 = 0x0000_0100;
/// `CLONE_FS`.
pub const CLONE_FS: u64 = 0x0000_0200;
/// `CLONE_FILES`.
pub const CLONE_FILES: u64 = 0x0000_0400;
/// `CLONE_SIGHAND`.
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
/// `CLONE_PIDFD`.
pub const CLONE_PIDFD: u64 = 0x0000_1000;
/// `CLONE_PTRACE`.
pub const CLONE_PTRACE: u64 = 0x0000_2000;
/// `CLONE_VFORK`.
pub const CLONE_VFORK: u64 = 0x0000_4000;
/// `CLONE_PARENT`.
pub const CLONE_PARENT: u64 = 0x0000_8000;
/// `CLONE_THREAD`.
pub const CLONE_THREAD: u64 = 0x0001_0000;
/// `CLONE_NEWNS`.
pub const CLONE_NEWNS: u64 = 0x0002_0000;
/// `CLONE_SYSVSEM`.
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
/// `CLONE_SETTLS`.
pub const CLONE_SETTLS: u64 = 0x0008_0000;
/// `CLONE_PARENT_SETTID`.
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
/// `CLONE_CHILD_CLEARTID`.
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
/// `CLONE_DETACHED` (rejected by `clone3()`).
pub const CLONE_DETACHED: u64 = 0x0040_0000;
/// `CLONE_UNTRACED`.
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
/// `CLONE_CHILD_SETTID`.
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
/// `CLONE_NEWCGROUP`.
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
/// `CLONE_NEWUTS`.
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
/// `CLONE_NEWIPC`.
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
/// `CLONE_NEWUSER`.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// `CLONE_NEWPID`.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// `CLONE_NEWNET`.
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// `CLONE_IO`.
pub const CLONE_IO: u64 = 0x8000_0000;
/// `CLONE_NEWTIME` (shares a bit with `CSIGNAL`; `clone3()` only).
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
/// `CLONE_CLEAR_SIGHAND`.
pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
/// `CLONE_INTO_CGROUP`.
pub const CLONE_INTO_CGROUP: u64 = 1 << 33;
/// `CLONE_EMPTY_MNTNS` (Linux 7.3: an empty mount namespace; implies `CLONE_NEWNS`).
pub const CLONE_EMPTY_MNTNS: u64 = 1 << 37;

/// A thread: `CLONE_THREAD` needs `CLONE_SIGHAND`, which needs `CLONE_VM`.
pub const THREAD_FLAGS: u64 = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
/// The flags of an autokill child, without `CLONE_NNP`.
pub const AUTOKILL: u64 = CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL;
/// The flags of an autokill child with `CLONE_NNP` (allowed without privilege).
pub const AUTOKILL_NNP: u64 = AUTOKILL | CLONE_NNP;

/// `sizeof(struct clone_args)`, version 0.
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
/// `sizeof(struct clone_args)`, version 1 (`set_tid`).
pub const CLONE_ARGS_SIZE_VER1: usize = 80;
/// `sizeof(struct clone_args)`, version 2 (`cgroup`).
pub const CLONE_ARGS_SIZE_VER2: usize = 88;
/// The page size of x86_64: the largest `struct clone_args` the kernel accepts.
pub const PAGE_SIZE: usize = 4096;

/// `PIDFD_THREAD` (`O_EXCL`).
pub const PIDFD_THREAD: u32 = libc::O_EXCL as u32;
/// `PIDFD_NONBLOCK` (`O_NONBLOCK`).
pub const PIDFD_NONBLOCK: u32 = libc::O_NONBLOCK as u32;

/// `io_uring_register()` opcode: register a file table.
pub const IORING_REGISTER_FILES: libc::c_uint = 2;
/// `io_uring_register()` opcode: unregister the file table.
pub const IORING_UNREGISTER_FILES: libc::c_uint = 3;

/// The name of a known flag bit, for messages.
pub fn flag_name(bit: u32) -> Option<&'static str> {
    Some(match 1u64 << bit {
        CLONE_NEWTIME => "NEWTIME",
        CLONE_VM => "VM",
        CLONE_FS => "FS",
        CLONE_FILES => "FILES",
        CLONE_SIGHAND => "SIGHAND",
        CLONE_PIDFD => "PIDFD",
        CLONE_PTRACE => "PTRACE",
        CLONE_VFORK => "VFORK",
        CLONE_PARENT => "PARENT",
        CLONE_THREAD => "THREAD",
        CLONE_NEWNS => "NEWNS",
        CLONE_SYSVSEM => "SYSVSEM",
        CLONE_SETTLS => "SETTLS",
        CLONE_PARENT_SETTID => "PARENT_SETTID",
        CLONE_CHILD_CLEARTID => "CHILD_CLEARTID",
        CLONE_DETACHED => "DETACHED",
        CLONE_UNTRACED => "UNTRACED",
        CLONE_CHILD_SETTID => "CHILD_SETTID",
        CLONE_NEWCGROUP => "NEWCGROUP",
        CLONE_NEWUTS => "NEWUTS",
        CLONE_NEWIPC => "NEWIPC",
        CLONE_NEWUSER => "NEWUSER",
        CLONE_NEWPID => "NEWPID",
        CLONE_NEWNET => "NEWNET",
        CLONE_IO => "IO",
        CLONE_CLEAR_SIGHAND => "CLEAR_SIGHAND",
        CLONE_INTO_CGROUP => "INTO_CGROUP",
        CLONE_AUTOREAP => "AUTOREAP",
        CLONE_NNP => "NNP",
        CLONE_PIDFD_AUTOKILL => "PIDFD_AUTOKILL",
        CLONE_EMPTY_MNTNS => "EMPTY_MNTNS",
        _ => return None,
    })
}

/// Flags as `A|B|0x...`, for messages.
pub fn flags_str(flags: u64) -> String {
    let mut parts = Vec::new();
    let mut rest = 0u64;
    for bit in 0..64 {
        if flags & (1 << bit) != 0 {
            match flag_name(bit) {
                Some(n) => parts.push(n.to_string()),
                None => rest |= 1 << bit,
            }
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}
