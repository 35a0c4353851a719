// SPDX-License-Identifier: GPL-2.0

//! Kernel constants: everything of `autokill::sys` (the `clone3()` flags, the struct sizes,
//! `struct clone_args`, `struct pidfd_info`, the raw wrappers), the few values only the tests
//! need, and flag names for messages.

pub use autokill::sys::*;

/// The kernel's page size, the largest `struct clone_args` it accepts: 4 KiB on x86_64, and on
/// arm64 in the configuration the harness builds (arm64's default).
pub const PAGE_SIZE: usize = 4096;

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
