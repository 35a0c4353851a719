// SPDX-License-Identifier: GPL-2.0

//! Credentials: dropping to a real unprivileged user and capability sets.

use crate::errno::{cvt, Errno};
use crate::sys::{self, CAP_SYS_ADMIN};

/// The unprivileged user and group (`nobody`, `nogroup`).
pub const NOBODY: u32 = 65534;

/// The effective and permitted capability sets of this thread (64-bit masks).
pub fn capget() -> Result<(u64, u64), Errno> {
    Ok(sys::capget()?)
}

/// Sets the effective and permitted sets (inheritable cleared).
pub fn capset(effective: u64, permitted: u64) -> Result<(), Errno> {
    let mut hdr = sys::CapUserHeader {
        version: sys::LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        sys::CapUserData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: 0,
        },
        sys::CapUserData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: 0,
        },
    ];
    // SAFETY: A version-3 header and two data structs, as the kernel expects.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) })?;
    Ok(())
}

/// Whether this thread has `CAP_SYS_ADMIN` in its effective set.
pub fn has_cap_sys_admin() -> bool {
    sys::has_capability(CAP_SYS_ADMIN).unwrap_or(false)
}

/// Whether we run as root with `CAP_SYS_ADMIN`.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments.
    let euid = unsafe { libc::geteuid() };
    euid == 0 && has_cap_sys_admin()
}

/// Becomes `nobody:nogroup` with no supplementary groups and no capabilities (effective,
/// permitted, inheritable, ambient), dumpable so that the parent can still inspect us. For a
/// forked process: irreversible.
pub fn drop_to_nobody() -> Result<(), String> {
    become_user(NOBODY, false)
}

/// Becomes uid/gid `id`; with `keep_sys_admin`, keeps `CAP_SYS_ADMIN` (only) in the effective
/// and permitted sets.
pub fn become_user(id: u32, keep_sys_admin: bool) -> Result<(), String> {
    // SAFETY: Plain credential system calls with integer or null arguments.
    unsafe {
        cvt(libc::setgroups(0, std::ptr::null())).map_err(|e| format!("setgroups: {e}"))?;
        cvt(libc::setresgid(id, id, id)).map_err(|e| format!("setresgid: {e}"))?;
        if keep_sys_admin {
            cvt(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0))
                .map_err(|e| format!("PR_SET_KEEPCAPS: {e}"))?;
        }
        cvt(libc::setresuid(id, id, id)).map_err(|e| format!("setresuid: {e}"))?;
        let _ = libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
    let keep = if keep_sys_admin {
        1u64 << CAP_SYS_ADMIN
    } else {
        0
    };
    capset(keep, keep).map_err(|e| format!("capset: {e}"))?;
    let (eff, perm) = capget().map_err(|e| format!("capget: {e}"))?;
    // SAFETY: getuid/geteuid/getgid have no arguments.
    let (uid, euid, gid) = unsafe { (libc::getuid(), libc::geteuid(), libc::getgid()) };
    if uid != id || euid != id || gid != id || eff != keep || perm != keep {
        return Err(format!(
            "drop failed: uid {uid} euid {euid} gid {gid} caps eff {eff:#x} perm {perm:#x}"
        ));
    }
    Ok(())
}

/// Drops `cap` from the effective and permitted sets (staying root otherwise).
pub fn drop_cap(cap: u32) -> Result<(), String> {
    let (eff, perm) = capget().map_err(|e| format!("capget: {e}"))?;
    capset(eff & !(1 << cap), perm & !(1 << cap)).map_err(|e| format!("capset: {e}"))?;
    if has_cap_sys_admin() && cap == CAP_SYS_ADMIN {
        return Err("CAP_SYS_ADMIN still effective".into());
    }
    Ok(())
}
