// SPDX-License-Identifier: GPL-2.0

//! The kill of `CLONE_PIDFD_AUTOKILL`, in the release of a pidfd.
//!
//! `clone3()` with `CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL` marks the pidfd's file
//! with `PIDFD_AUTOKILL`. When the last reference to that file goes away, `pidfs_file_release()`
//! calls [`pidfs_autokill`], which sends the child's thread group `SIGKILL`, so that the child
//! cannot outlive the process (or processes) holding the pidfd.
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
    task::{
        flags::{
            PF_KTHREAD,
            PF_USER_WORKER, //
        },
        SigInfo,
        Signal,
        Task, //
    },
    warn_on_once, //
};

/// Sends `SIGKILL` to the thread group `pid` refers to, if it still exists.
///
/// `pidfs_file_release()` calls this on the final `fput()` of a pidfd file that `clone3()` marked
/// with `PIDFD_AUTOKILL`, with the `struct pid` of the file's inode. The signal bypasses
/// permission and LSM checks and reaches even the init process of a pid namespace. A kernel thread
/// or a user worker, which `clone3()` cannot create with an autokill pidfd, is left alone with a
/// warning.
///
/// # Safety
///
/// `pid` must point at a `struct pid` on which the caller holds a reference for the duration of the
/// call.
// Required to be unsafe due to the `#[export]` annotation.
#[export]
pub unsafe extern "C" fn pidfs_autokill(pid: *mut bindings::pid) {
    // SAFETY: The caller holds a reference to `pid` for the duration of the call, which the borrow
    // does not outlive: `pidfs_file_release()` passes the inode's, dropped when the inode is
    // evicted, after the release of its last file.
    let pid = unsafe { Pid::from_ptr(pid) };
    let guard = rcu::read_lock();
    let Some(task) = thread_group(pid, &guard) else {
        // The thread group has exited and was reaped.
        return;
    };
    if warn_on_once!(is_kernel_task(task)) {
        return;
    }
    // Like the C implementation, ignore `ESRCH`: a thread group that is exiting dies anyway.
    let _ = task.do_send_sig_info(Signal::Kill, SigInfo::Priv, PidType::Tgid);
}

/// The thread group leader `pid` refers to, as long as the thread group exists.
fn thread_group<'a>(pid: &'a Pid, guard: &'a rcu::Guard) -> Option<&'a Task> {
    pid.pid_task_with_guard(PidType::Tgid, guard)
}

/// Whether `task` is a kernel thread or a user worker, which autokill never kills.
fn is_kernel_task(task: &Task) -> bool {
    task.flags() & (PF_KTHREAD | PF_USER_WORKER) != 0
}

#[cfg(CONFIG_PIDFD_AUTOKILL_RUST_KUNIT_TEST)]
#[kunit_tests(pidfs_autokill)]
mod tests {
    use super::*;

    /// The `struct pid` of the number `nr` in the current task's pid namespace.
    fn find<'a>(nr: i32, guard: &'a rcu::Guard) -> Result<&'a Pid> {
        let me = current!();
        let ns = me.active_pid_ns().ok_or(ESRCH)?;
        Pid::find_pid_ns_with_guard(nr, ns, guard).ok_or(ESRCH)
    }

    #[test]
    fn a_kthread_is_not_killed() -> Result {
        // KUnit runs each test in a kernel thread of its own.
        let guard = rcu::read_lock();
        let task = thread_group(find(current!().pid(), &guard)?, &guard).ok_or(ESRCH)?;
        assert!(is_kernel_task(task));
        Ok(())
    }

    #[test]
    fn a_user_process_is_killed() -> Result {
        // Built-in KUnit suites run before `kernel_init()`, pid 1, executes init; it is a
        // user-mode thread already. Only the decision is checked, nothing is killed.
        let guard = rcu::read_lock();
        let task = thread_group(find(1, &guard)?, &guard).ok_or(ESRCH)?;
        assert_eq!(task.pid(), 1);
        assert!(!is_kernel_task(task));
        Ok(())
    }
}
