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
        Signal,
        Task, //
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
    // The file's count has dropped to zero, but `__fput()` frees it only after `release` returns,
    // as the `release` callback of `rust/kernel/miscdevice.rs` relies on too.
    // SAFETY: `file` is valid for the duration of the call, which the reference does not outlive.
    // The file is being released, so no `fdget_pos()` of it is active.
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

/// What the release of an autokill pidfd does to the thread group its pid refers to.
enum Verdict<'a> {
    /// The thread group has exited and was reaped: nothing to do.
    Gone,
    /// A kernel thread or a user worker, never killed: `clone3()` cannot create those with an
    /// autokill pidfd.
    NotUser,
    /// The thread group to kill.
    Kill(&'a Task),
}

/// Decides what the release of an autokill pidfd for `pid` does.
fn verdict<'a>(pid: &'a Pid, guard: &'a rcu::Guard) -> Verdict<'a> {
    match pid.pid_task_with_guard(PidType::Tgid, guard) {
        None => Verdict::Gone,
        Some(task) if task.flags() & (PF_KTHREAD | PF_USER_WORKER) != 0 => Verdict::NotUser,
        Some(task) => Verdict::Kill(task),
    }
}

/// Sends `SIGKILL` to the thread group `pid` refers to, if it still exists.
#[cold]
fn autokill(pid: &Pid) {
    let guard = rcu::read_lock();
    match verdict(pid, &guard) {
        Verdict::Gone => {}
        Verdict::NotUser => {
            warn_on_once!(true);
        }
        // Like the C implementation, ignore `ESRCH`: a thread group that is exiting dies anyway.
        Verdict::Kill(task) => {
            let _ = task.do_send_sig_info(Signal::Kill, SigInfo::Priv, PidType::Tgid);
        }
    }
}

#[cfg(CONFIG_PIDFD_AUTOKILL_RUST_KUNIT_TEST)]
#[kunit_tests(pidfs_autokill)]
mod tests {
    use super::*;

    #[test]
    fn kthreads_are_not_killed() {
        // KUnit runs each test in a kernel thread of its own.
        let me = current!();
        let guard = rcu::read_lock();
        let pid = Pid::find_vpid_with_guard(me.pid(), &guard);
        assert!(pid.is_some());
        assert!(matches!(verdict(pid.unwrap(), &guard), Verdict::NotUser));
    }

    #[test]
    fn a_user_process_is_killed() {
        // Built-in KUnit suites run from `kernel_init()`, pid 1, a user-mode thread before it
        // executes init; the verdict is only computed, nothing is killed.
        let guard = rcu::read_lock();
        let pid = Pid::find_vpid_with_guard(1, &guard);
        assert!(pid.is_some());
        let verdict = verdict(pid.unwrap(), &guard);
        assert!(matches!(verdict, Verdict::Kill(task) if task.pid() == 1));
    }
}
