// SPDX-License-Identifier: GPL-2.0

//! What this process has learnt about the kernel and its seccomp filter, for
//! [`crate::supported`] and for [`Command::spawn`](crate::Command::spawn) (which skips what is
//! known to fail).
//!
//! Answers are cached in atomics once they are definite. A seccomp filter can be added at any
//! time but never removed, so "`clone3()` is refused" is kept for good, while an answer found
//! without a filter is asked again once one is installed.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::error::Error;
use crate::exec::{self, CloneRequest};
use crate::sys;

/// Not probed yet, or the probe failed for another reason (e.g. `EAGAIN`).
pub(crate) const UNKNOWN: u8 = 0;
/// `clone3(CLONE_PIDFD_AUTOKILL)` works.
pub(crate) const YES: u8 = 1;
/// The kernel refused the flags with `EINVAL`: before Linux 7.1.
pub(crate) const NO: u8 = 2;
/// `clone3()` itself answers `ENOSYS`: a seccomp filter, or a kernel before 5.3.
pub(crate) const REFUSED: u8 = 3;

static KERNEL: AtomicU8 = AtomicU8::new(UNKNOWN);
/// The answer in `KERNEL` was found under a seccomp filter.
static KERNEL_UNDER_FILTER: AtomicBool = AtomicBool::new(false);
static CLONE3_REFUSED: AtomicBool = AtomicBool::new(false);
/// The refusal in `CLONE3_REFUSED` was seen under a seccomp filter: filters are per thread, so
/// it holds only for threads under one too (where there is none it was the kernel's).
static CLONE3_REFUSED_UNDER_FILTER: AtomicBool = AtomicBool::new(false);
/// `kill_tree`'s namespaces: bit 0 known, bit 1 possible, bit 2 the `CAP_SYS_ADMIN` it was
/// asked with.
static KILL_TREE: AtomicU8 = AtomicU8::new(0);

fn under_filter() -> bool {
    sys::seccomp_mode().ok() == Some(libc::SECCOMP_MODE_FILTER as libc::c_int)
}

/// Notes what an `EINVAL` or `ENOSYS` of `clone3()` with the autokill flags says; with
/// `namespaces` (`kill_tree`'s flags too) an `EINVAL` may be theirs and says nothing.
pub(crate) fn record_kernel_refusal(errno: Option<i32>, namespaces: bool) {
    match errno {
        Some(libc::EINVAL) if !namespaces => {
            KERNEL_UNDER_FILTER.store(under_filter(), Ordering::Relaxed);
            KERNEL.store(NO, Ordering::Relaxed);
        }
        Some(libc::ENOSYS) => record_clone3_refused(),
        _ => {}
    }
}

/// Notes that `clone3()` answers `ENOSYS` in this thread.
pub(crate) fn record_clone3_refused() {
    CLONE3_REFUSED_UNDER_FILTER.store(under_filter(), Ordering::Relaxed);
    CLONE3_REFUSED.store(true, Ordering::Relaxed);
}

/// Whether `clone3()` is known to answer `ENOSYS` in this thread: the fallback then uses
/// `clone()`. A refusal seen under a seccomp filter holds for threads under a filter only.
pub(crate) fn clone3_refused() -> bool {
    CLONE3_REFUSED.load(Ordering::Relaxed)
        && (!CLONE3_REFUSED_UNDER_FILTER.load(Ordering::Relaxed) || under_filter())
}

/// Why `CLONE_PIDFD_AUTOKILL` is known not to work here, without probing: `None` if it may.
pub(crate) fn known_missing() -> Option<Error> {
    if clone3_refused() {
        return Some(if under_filter() {
            Error::Seccomp
        } else {
            Error::Unsupported
        });
    }
    // An answer found without a filter says nothing about `clone3()` under one installed since.
    let stale = !KERNEL_UNDER_FILTER.load(Ordering::Relaxed) && under_filter();
    (KERNEL.load(Ordering::Relaxed) == NO && !stale).then_some(Error::Unsupported)
}

/// Forgets what spawns noted about the kernel, so that the next spawn asks it again (tests
/// that check the flags of the kernel's `clone3()`; harmless to concurrent tests).
#[cfg(test)]
pub(crate) fn forget() {
    KERNEL.store(UNKNOWN, Ordering::Relaxed);
}

/// Creates a child with `request` that exits at once (`clone()` where `clone3()` is
/// refused); returns its pidfd.
fn probe_child(request: &CloneRequest) -> io::Result<std::os::fd::OwnedFd> {
    if clone3_refused() {
        let mut legacy = *request;
        legacy.flags &= !(sys::AUTOKILL_NNP);
        // SAFETY: The child only calls `_exit()`, which is async-signal-safe; the flags are
        // below bit 32 and there is no cgroup.
        return unsafe { exec::clone_child_legacy(&legacy, || libc::_exit(0)) }.map(|(_, fd)| fd);
    }
    // The vfork path where there is one: no copy of this process, however large it is.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    // SAFETY: The child only makes the raw `exit_group()` system call.
    let probe =
        unsafe { crate::vfork::clone_vfork(request, crate::vfork::exit_at_once, std::ptr::null()) };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    // SAFETY: The child only calls `_exit()`, which is async-signal-safe.
    let probe = unsafe { exec::clone_child(request, || libc::_exit(0)) };
    probe.map(|(_, fd)| fd)
}

/// What the kernel says to `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL |
/// CLONE_NNP)` (one of the constants above), probed once with a child that exits at once.
pub(crate) fn kernel() -> u8 {
    if clone3_refused() {
        return REFUSED;
    }
    let known = KERNEL.load(Ordering::Relaxed);
    // A filter installed since the answer was found may refuse `clone3()` now.
    let stale = known != UNKNOWN && !KERNEL_UNDER_FILTER.load(Ordering::Relaxed) && under_filter();
    if known != UNKNOWN && !stale {
        return known;
    }
    let request = CloneRequest {
        flags: sys::AUTOKILL_NNP,
        exit_signal: 0,
        cgroup: None,
    };
    let filter = under_filter();
    let answer = match probe_child(&request) {
        // The child is autoreaped; closing the pidfd changes nothing.
        Ok(_) => YES,
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => NO,
        Err(error) if error.raw_os_error() == Some(libc::ENOSYS) => {
            record_clone3_refused();
            return REFUSED;
        }
        Err(_) => return UNKNOWN,
    };
    KERNEL_UNDER_FILTER.store(filter, Ordering::Relaxed);
    KERNEL.store(answer, Ordering::Relaxed);
    answer
}

/// Whether [`kill_tree`](crate::Command::kill_tree) can create its pid namespace (and user
/// namespace without `CAP_SYS_ADMIN`): probed once per capability state with a child that
/// exits at once.
pub(crate) fn kill_tree(cap_sys_admin: bool) -> bool {
    let cap_bit = if cap_sys_admin { 4 } else { 0 };
    let known = KILL_TREE.load(Ordering::Relaxed);
    if known & 1 != 0 && known & 4 == cap_bit {
        return known & 2 != 0;
    }
    let mut flags = sys::CLONE_NEWPID;
    if !cap_sys_admin {
        flags |= sys::CLONE_NEWUSER;
    }
    let request = CloneRequest {
        flags,
        exit_signal: 0,
        cgroup: None,
    };
    let possible = match probe_child(&request) {
        Ok(pidfd) => {
            // Not autoreaped: reap it (exit signal 0, hence `__WALL`).
            let id = std::os::fd::AsRawFd::as_raw_fd(&pidfd) as libc::id_t;
            let _ = sys::waitid(libc::P_PIDFD, id, libc::WEXITED | libc::__WALL);
            true
        }
        Err(error) if error.raw_os_error() == Some(libc::EAGAIN) => return false,
        Err(_) => false,
    };
    KILL_TREE.store(
        1 | cap_bit | if possible { 2 } else { 0 },
        Ordering::Relaxed,
    );
    possible
}
