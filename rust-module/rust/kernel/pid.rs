// SPDX-License-Identifier: GPL-2.0

//! Process identifiers (`struct pid`).
//!
//! A `struct pid` names a task, a thread group, a process group or a session, and outlives the
//! tasks it names; pidfds refer to one. Not to be confused with [`crate::task::Pid`], the numeric
//! `pid_t`.
//!
//! C header: [`include/linux/pid.h`](srctree/include/linux/pid.h).

use crate::{
    bindings,
    sync::rcu,
    task::Task,
    types::Opaque, //
};

/// The kinds of task sets a [`Pid`] can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum PidType {
    /// A single task (thread).
    Pid = bindings::pid_type_PIDTYPE_PID,
    /// A thread group (process).
    Tgid = bindings::pid_type_PIDTYPE_TGID,
    /// A process group.
    Pgid = bindings::pid_type_PIDTYPE_PGID,
    /// A session.
    Sid = bindings::pid_type_PIDTYPE_SID,
}

impl PidType {
    /// Returns the C `enum pid_type` value.
    #[inline]
    pub const fn as_raw(self) -> bindings::pid_type {
        self as bindings::pid_type
    }
}

/// Wraps the kernel's `struct pid`.
///
/// # Invariants
///
/// Instances are valid `struct pid` objects created by the C portion of the kernel; a shared
/// reference `&'a Pid` implies that the `struct pid` stays allocated for `'a` (someone holds a
/// reference to it, or it is only used under the RCU read lock that delays its freeing).
#[repr(transparent)]
pub struct Pid(Opaque<bindings::pid>);

impl Pid {
    /// Creates a reference to a [`Pid`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` points at a valid `struct pid` and that it stays
    /// allocated for the duration of `'a` (for example because the caller holds a reference to
    /// it, as the inode of a pidfd does).
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::pid) -> &'a Pid {
        // SAFETY: The safety requirements guarantee the validity of the dereference, while the
        // `Pid` type being transparent makes the cast ok.
        unsafe { &*ptr.cast() }
    }

    /// Returns a raw pointer to the `struct pid`.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::pid {
        self.0.get()
    }

    /// Returns the first task of the given type that this pid is attached to, if any.
    ///
    /// For [`PidType::Tgid`] this is the thread group leader of the process, even after it
    /// exited while other threads still run. The task is only borrowed for as long as the RCU
    /// read lock is held, which keeps it from being freed.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{pid::{Pid, PidType}, sync::rcu};
    ///
    /// fn is_alive(pid: &Pid) -> bool {
    ///     pid.task(PidType::Tgid, &rcu::read_lock()).is_some()
    /// }
    /// ```
    #[inline]
    #[doc(alias = "pid_task")]
    pub fn task<'a>(&'a self, pid_type: PidType, _rcu: &'a rcu::Guard) -> Option<&'a Task> {
        // SAFETY: `self.as_ptr()` is a valid `struct pid` by the type invariants, and the RCU read
        // lock is held as `pid_task()` requires, by the invariants of `rcu::Guard`.
        let task = unsafe { bindings::pid_task(self.as_ptr(), pid_type.as_raw()) };
        if task.is_null() {
            return None;
        }
        // SAFETY: `pid_task()` returned a task that is attached to this pid; task structs are
        // freed only after an RCU grace period, so the task stays valid while the guard that
        // `'a` borrows is alive. `Task` is `repr(transparent)` over `task_struct`.
        Some(unsafe { &*task.cast::<Task>() })
    }
}

// SAFETY: A `struct pid` may be used from any thread; the fields `Pid` reads are either immutable
// or protected by RCU.
unsafe impl Send for Pid {}

// SAFETY: Shared references only allow RCU-protected lookups, which are safe from any thread.
unsafe impl Sync for Pid {}
