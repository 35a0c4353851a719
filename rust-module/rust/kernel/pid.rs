// SPDX-License-Identifier: GPL-2.0

//! Process identifiers (`struct pid`).
//!
//! A `struct pid` is the kernel's internal notion of a process identifier. It names a task, a
//! thread group, a process group or a session, and it outlives the tasks it names: a reference
//! to it, such as the one a pidfd holds, never ends up naming another process after the number
//! was recycled.
//!
//! [`Pid`] wraps `struct pid`. It is not the numeric process identifier, `pid_t`, which is
//! [`task::Pid`]; code that uses both can refer to this one as `pid::Pid`.
//!
//! C header: [`include/linux/pid.h`](srctree/include/linux/pid.h).

use crate::{
    bindings,
    pid_namespace::PidNamespace,
    sync::{
        aref::AlwaysRefCounted,
        rcu, //
    },
    task::{
        self,
        Task, //
    },
    types::Opaque, //
};
use core::ptr;

/// The kinds of task sets a [`Pid`] can name (`enum pid_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum PidType {
    /// A single task (thread): `PIDTYPE_PID`.
    Pid = bindings::pid_type_PIDTYPE_PID,
    /// A thread group (process): `PIDTYPE_TGID`.
    Tgid = bindings::pid_type_PIDTYPE_TGID,
    /// A process group: `PIDTYPE_PGID`.
    Pgid = bindings::pid_type_PIDTYPE_PGID,
    /// A session: `PIDTYPE_SID`.
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
/// Instances are valid `struct pid` objects with a nonzero reference count. A shared reference
/// `&'a Pid` implies that the `struct pid` stays valid for `'a`: its owner holds a reference,
/// or, for a pid found in a pid namespace under the RCU read lock, the lock delays the release
/// of the namespace's reference.
#[repr(transparent)]
pub struct Pid(Opaque<bindings::pid>);

impl Pid {
    /// Creates a reference to a [`Pid`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` points at a valid `struct pid` with a nonzero reference
    /// count and that it stays valid for the lifetime `'a`, for example because the caller holds
    /// a reference to it, as the inode of a pidfd does.
    #[inline]
    pub unsafe fn from_ptr<'a>(ptr: *const bindings::pid) -> &'a Self {
        // SAFETY: The safety requirements guarantee the validity of the dereference, while the
        // `Pid` type being transparent makes the cast ok.
        unsafe { &*ptr.cast() }
    }

    /// Returns a raw pointer to the `struct pid`.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::pid {
        self.0.get()
    }

    /// Looks up the `struct pid` that the number `nr` names in the pid namespace `ns`.
    ///
    /// Returns `None` if `nr` names nothing there. The returned reference is only valid for the
    /// RCU read-side critical section that `_guard` stands for; take a reference with
    /// [`ARef::from`](crate::sync::aref::ARef) to keep the pid beyond it.
    ///
    /// The namespace of the current task is [`CurrentTask::active_pid_ns`], which is `None` once
    /// the task has been released (as a task that reaps itself can be, while it still runs).
    ///
    /// [`CurrentTask::active_pid_ns`]: crate::task::CurrentTask::active_pid_ns
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{
    ///     pid::Pid,
    ///     sync::rcu, //
    /// };
    ///
    /// let me = current!();
    /// let ns = me.active_pid_ns().ok_or(ESRCH)?;
    /// let guard = rcu::read_lock();
    /// assert!(Pid::find_pid_ns_with_guard(me.tgid_nr_ns(None), ns, &guard).is_some());
    /// // No task is ever given the number 0.
    /// assert!(Pid::find_pid_ns_with_guard(0, ns, &guard).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    #[doc(alias = "find_pid_ns")]
    pub fn find_pid_ns_with_guard<'a>(
        nr: task::Pid,
        ns: &PidNamespace,
        _guard: &'a rcu::Guard,
    ) -> Option<&'a Self> {
        // SAFETY: `ns` is a valid pid namespace by the type invariants of `PidNamespace`, and the
        // RCU read lock is held, as `find_pid_ns()` requires, by the invariants of `rcu::Guard`.
        let ptr = unsafe { bindings::find_pid_ns(nr, ns.as_ptr()) };
        if ptr.is_null() {
            return None;
        }
        // The pid is attached to `ns`, and `free_pid()` drops the attachment's reference only
        // after an RCU grace period (`delayed_put_pid()`).
        // SAFETY: So the pid stays valid while `_guard` is alive, which `'a` ensures.
        Some(unsafe { Self::from_ptr(ptr) })
    }

    /// Returns the first task of type `pid_type` attached to this pid, if any.
    ///
    /// For [`PidType::Tgid`] this is the thread group leader, also after it exited while other
    /// threads of the process still run. The task is only borrowed for the RCU read-side
    /// critical section `_guard` stands for, which keeps it from being freed.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{
    ///     pid::{
    ///         Pid,
    ///         PidType, //
    ///     },
    ///     sync::rcu, //
    /// };
    ///
    /// fn is_alive(pid: &Pid) -> bool {
    ///     pid.pid_task_with_guard(PidType::Tgid, &rcu::read_lock()).is_some()
    /// }
    ///
    /// let me = current!();
    /// let ns = me.active_pid_ns().ok_or(ESRCH)?;
    /// let guard = rcu::read_lock();
    /// let pid = Pid::find_pid_ns_with_guard(me.pid(), ns, &guard).ok_or(ESRCH)?;
    /// assert!(is_alive(pid));
    /// assert!(pid.pid_task_with_guard(PidType::Pid, &guard).is_some_and(|t| t == &**me));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    #[doc(alias = "pid_task")]
    pub fn pid_task_with_guard<'a>(
        &'a self,
        pid_type: PidType,
        _guard: &'a rcu::Guard,
    ) -> Option<&'a Task> {
        // SAFETY: `self.as_ptr()` is a valid `struct pid` by the type invariants, and the RCU read
        // lock is held, as `pid_task()` requires, by the invariants of `rcu::Guard`.
        let task = unsafe { bindings::pid_task(self.as_ptr(), pid_type.as_raw()) };
        if task.is_null() {
            return None;
        }
        // SAFETY: `pid_task()` returned a task attached to this pid. Tasks are freed only after
        // an RCU grace period, so it stays valid while `_guard` is alive, which `'a` ensures.
        // `Task` is `repr(transparent)` over `task_struct`.
        Some(unsafe { &*task.cast::<Task>() })
    }
}

// SAFETY: The type invariants guarantee that `Pid` is always refcounted.
unsafe impl AlwaysRefCounted for Pid {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means that the refcount is nonzero.
        unsafe { bindings::get_pid(self.as_ptr()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: ptr::NonNull<Pid>) {
        // SAFETY: The safety requirements guarantee that the refcount is nonzero.
        unsafe { bindings::put_pid(obj.cast().as_ptr()) }
    }
}

// SAFETY: `put_pid()` may be called from any thread, so ownership of a reference may move between
// threads.
unsafe impl Send for Pid {}

// SAFETY: Shared references only give access to immutable fields and to lookups under the RCU read
// lock, which are safe from any thread.
unsafe impl Sync for Pid {}

#[cfg(CONFIG_RUST_PID_KUNIT_TEST)]
#[macros::kunit_tests(rust_kernel_pid)]
mod tests {
    use super::*;
    use crate::{
        prelude::*,
        sync::aref::ARef, //
    };

    #[test]
    fn finds_own_thread_group() -> Result {
        let me = crate::current!();
        let ns = me.active_pid_ns().ok_or(ESRCH)?;
        let guard = rcu::read_lock();
        let pid = Pid::find_pid_ns_with_guard(me.tgid_nr_ns(None), ns, &guard).ok_or(ESRCH)?;
        let leader = pid.pid_task_with_guard(PidType::Tgid, &guard);
        assert!(leader.is_some_and(|leader| leader == me.group_leader()));
        let thread = pid.pid_task_with_guard(PidType::Pid, &guard);
        assert!(thread.is_some_and(|thread| thread == me.group_leader()));
        Ok(())
    }

    #[test]
    fn unused_numbers_name_nothing() -> Result {
        let me = crate::current!();
        let ns = me.active_pid_ns().ok_or(ESRCH)?;
        let guard = rcu::read_lock();
        assert!(Pid::find_pid_ns_with_guard(0, ns, &guard).is_none());
        assert!(Pid::find_pid_ns_with_guard(-1, ns, &guard).is_none());
        Ok(())
    }

    #[test]
    fn reference_outlives_the_rcu_guard() -> Result {
        let me = crate::current!();
        let ns = me.active_pid_ns().ok_or(ESRCH)?;
        let pid: ARef<Pid> = {
            let guard = rcu::read_lock();
            Pid::find_pid_ns_with_guard(me.pid(), ns, &guard)
                .ok_or(ESRCH)?
                .into()
        };
        let extra = pid.clone();
        drop(pid);
        let guard = rcu::read_lock();
        let task = extra.pid_task_with_guard(PidType::Pid, &guard);
        assert!(task.is_some_and(|task| task == &**me));
        Ok(())
    }
}
