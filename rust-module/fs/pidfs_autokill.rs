// SPDX-License-Identifier: GPL-2.0

//! The pidfs release hook of `CLONE_PIDFD_AUTOKILL`.
//!
//! `clone3()` with `CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL` marks the pidfd's file
//! with `PIDFD_AUTOKILL`. When the last reference to that file goes away, the child's thread group
//! is sent `SIGKILL`, so the child cannot outlive the process (or processes) holding the pidfd.
//!
//! C header: [`include/linux/pidfs.h`](srctree/include/linux/pidfs.h).

use kernel::{
    bindings,
    pid::{
        Pid,
        PidType, //
    },
    prelude::*,
    sync::rcu,
    task::flags::{
        PF_KTHREAD,
        PF_USER_WORKER, //
    },
    uapi,
    warn_on_once, //
};

/// The file flag `clone3()` sets on an autokill pidfd (`O_TRUNC`, never otherwise set on one).
const PIDFD_AUTOKILL: u32 = uapi::PIDFD_AUTOKILL;

/// `file_operations::release` of pidfs files.
///
/// Only a file that `clone3()` created with `CLONE_PIDFD_AUTOKILL` acts, on its final `fput()`:
/// the thread group the pidfd refers to is killed, if it still exists.
///
/// # Safety
///
/// Called by the VFS on the final `fput()` of a pidfs file: `inode` is the pidfs inode, whose
/// `i_private` is the `struct pid` it pins, and `file` is the file being released. Both stay valid
/// for the duration of the call.
#[export]
pub unsafe extern "C" fn pidfs_file_release(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The caller guarantees that `file` is valid. The flags of a file being released no
    // longer change.
    let flags = unsafe { (*file).f_flags };
    if flags & PIDFD_AUTOKILL == 0 {
        return 0;
    }
    // SAFETY: The caller guarantees that `inode` is a valid pidfs inode; its `i_private` is the
    // `struct pid` the inode holds a reference to until it is evicted, after this call.
    let pid = unsafe { Pid::from_raw((*inode).i_private.cast()) };
    autokill(pid);
    0
}

/// Sends `SIGKILL` to the thread group `pid` refers to, if it still exists.
#[cold]
fn autokill(pid: &Pid) {
    let guard = rcu::read_lock();
    let Some(task) = pid.task(PidType::Tgid, &guard) else {
        // Already exited and reaped.
        return;
    };
    // Not available for kernel threads or user workers for now: `clone3()` cannot create those
    // with an autokill pidfd.
    if warn_on_once!(task.flags() & (PF_KTHREAD | PF_USER_WORKER) != 0) {
        return;
    }
    // Like the C implementation, ignore `ESRCH`: a thread group that is exiting dies anyway.
    let _ = task.kill_thread_group();
}
