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
    fs::LocalFile,
    pid::{
        Pid,
        PidType, //
    },
    prelude::*,
    sync::rcu,
    task::{
        flags::{
            PF_KTHREAD,
            PF_USER_WORKER, //
        },
        SigInfo,
        Signal, //
    },
    uapi,
    warn_on_once, //
};

/// Called by `pidfs_file_release()`, the `release` file operation of pidfs files.
///
/// Only a file that `clone3()` created with `CLONE_PIDFD_AUTOKILL` acts, on its final `fput()`:
/// the thread group the pidfd refers to is killed, if it still exists. Returns 0.
///
/// # Safety
///
/// `inode` must be the pidfs inode of `file`, whose `i_private` is the `struct pid` it pins, and
/// `file` the pidfs file being released. Both must stay valid for the duration of the call.
#[export]
pub unsafe extern "C" fn pidfs_autokill_release(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The caller guarantees that `file` is valid for the duration of the call. The file is
    // being released, so no `fdget_pos()` of it is active.
    let file = unsafe { LocalFile::from_raw_file(file) };
    if file.flags() & uapi::PIDFD_AUTOKILL == 0 {
        return 0;
    }
    // SAFETY: The caller guarantees that `inode` is a valid pidfs inode; its `i_private` is the
    // `struct pid` the inode holds a reference to until it is evicted, after this call.
    let pid = unsafe { Pid::from_ptr((*inode).i_private.cast()) };
    autokill(pid);
    0
}

/// Sends `SIGKILL` to the thread group `pid` refers to, if it still exists.
#[cold]
fn autokill(pid: &Pid) {
    let guard = rcu::read_lock();
    let Some(task) = pid.pid_task_with_guard(PidType::Tgid, &guard) else {
        // Already exited and reaped.
        return;
    };
    // Not available for kernel threads or user workers for now: `clone3()` cannot create those
    // with an autokill pidfd.
    if warn_on_once!(task.flags() & (PF_KTHREAD | PF_USER_WORKER) != 0) {
        return;
    }
    // Like the C implementation, ignore `ESRCH`: a thread group that is exiting dies anyway.
    let _ = task.do_send_sig_info(Signal::Kill, SigInfo::Priv, PidType::Tgid);
}
