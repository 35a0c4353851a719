// SPDX-License-Identifier: GPL-2.0

//! The `clone3()` checks of `CLONE_AUTOREAP`, `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`.
//!
//! `copy_process()` calls [`clone_autokill_flags_check`] on every `fork()`, `vfork()`, `clone()`
//! and `clone3()`; the rules themselves are pure logic in `clone_autokill/rules.rs`.
//!
//! C header: [`kernel/clone_autokill.h`](srctree/kernel/clone_autokill.h).

use kernel::{
    capability::Capability,
    prelude::*, //
};

/// The values the rules use: the clone flags, from
/// [`include/uapi/linux/sched.h`](srctree/include/uapi/linux/sched.h), as the `u64` of
/// `struct kernel_clone_args`, and the error numbers.
mod uapi {
    use kernel::bindings;

    /// Create the child in the same thread group as the caller.
    pub(crate) const CLONE_THREAD: u64 = bindings::CLONE_THREAD as u64;
    /// Give the child the caller's parent.
    pub(crate) const CLONE_PARENT: u64 = bindings::CLONE_PARENT as u64;
    /// Return a pidfd for the child.
    pub(crate) const CLONE_PIDFD: u64 = bindings::CLONE_PIDFD as u64;
    /// Reap the child on exit without notifying its parent.
    pub(crate) const CLONE_AUTOREAP: u64 = bindings::CLONE_AUTOREAP;
    /// Set `no_new_privs` on the child.
    pub(crate) const CLONE_NNP: u64 = bindings::CLONE_NNP;
    /// Kill the child when the last reference to its clone pidfd goes away.
    pub(crate) const CLONE_PIDFD_AUTOKILL: u64 = bindings::CLONE_PIDFD_AUTOKILL;
    /// Invalid argument.
    pub(crate) const EINVAL: i32 = bindings::EINVAL as i32;
    /// Operation not permitted.
    pub(crate) const EPERM: i32 = bindings::EPERM as i32;
}

#[path = "clone_autokill/rules.rs"]
mod rules;

use rules::Refusal;

/// Checks the `CLONE_AUTOREAP`, `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL` rules for a `clone3()` by
/// the current task; returns 0, `-EINVAL` or `-EPERM`.
///
/// The first rule that fails decides, in the order of the C implementation:
///
/// 1. `CLONE_AUTOREAP` with `CLONE_THREAD`, with `CLONE_PARENT` or with an exit signal: `EINVAL`.
/// 2. `CLONE_PARENT` from a process that reaps itself: `EINVAL`.
/// 3. `CLONE_NNP` with `CLONE_THREAD`: `EINVAL`.
/// 4. `CLONE_PIDFD_AUTOKILL` without `CLONE_PIDFD`, without `CLONE_AUTOREAP` or with
///    `CLONE_THREAD`: `EINVAL`; then, without `CLONE_NNP`, no `CAP_SYS_ADMIN` in the caller's user
///    namespace: `EPERM`.
///
/// # Safety
///
/// Always safe to call (from `copy_process()`, in the context of the task that forks).
// Required to be unsafe due to the `#[export]` annotation.
#[export]
pub unsafe extern "C" fn clone_autokill_flags_check(clone_flags: u64, exit_signal: c_int) -> c_int {
    let result = rules::check(
        clone_flags,
        exit_signal,
        || current!().is_autoreap(),
        || current!().ns_capable(Capability::SysAdmin),
    );
    match result {
        Ok(()) => 0,
        Err(refusal) => refusal as c_int,
    }
}

#[cfg(CONFIG_PIDFD_AUTOKILL_RUST_KUNIT_TEST)]
#[kunit_tests(clone_autokill)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use kernel::bindings;
    use rules::check;
    use uapi::{
        CLONE_AUTOREAP,
        CLONE_NNP,
        CLONE_PARENT,
        CLONE_PIDFD,
        CLONE_PIDFD_AUTOKILL,
        CLONE_THREAD, //
    };

    const AUTOKILL: u64 = CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL;
    const SIGCHLD: i32 = bindings::SIGCHLD as i32;

    /// What a call of the rules decided, and how often it asked each of its two questions.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        result: Result<(), Refusal>,
        asked_autoreap: u32,
        asked_capable: u32,
    }

    fn run(flags: u64, exit_signal: i32, autoreap: bool, capable: bool) -> Outcome {
        let asked_autoreap = Cell::new(0);
        let asked_capable = Cell::new(0);
        let result = check(
            flags,
            exit_signal,
            || {
                asked_autoreap.set(asked_autoreap.get() + 1);
                autoreap
            },
            || {
                asked_capable.set(asked_capable.get() + 1);
                capable
            },
        );
        Outcome {
            result,
            asked_autoreap: asked_autoreap.get(),
            asked_capable: asked_capable.get(),
        }
    }

    /// The expected outcome: the result, and whether each question was asked (once).
    fn outcome(result: Result<(), Refusal>, asked_autoreap: bool, asked_capable: bool) -> Outcome {
        Outcome {
            result,
            asked_autoreap: asked_autoreap.into(),
            asked_capable: asked_capable.into(),
        }
    }

    const OK: Result<(), Refusal> = Ok(());
    const INVAL: Result<(), Refusal> = Err(Refusal::Invalid);
    const PERM: Result<(), Refusal> = Err(Refusal::NotPermitted);

    #[test]
    fn ordinary_forks_ask_nothing() {
        for flags in [
            0,
            CLONE_THREAD,
            CLONE_PIDFD,
            CLONE_PIDFD | CLONE_THREAD,
            1 << 37,
        ] {
            for exit_signal in [0, SIGCHLD] {
                assert_eq!(
                    run(flags, exit_signal, true, false),
                    outcome(OK, false, false)
                );
            }
        }
    }

    #[test]
    fn autoreap_rules() {
        assert_eq!(
            run(CLONE_AUTOREAP, 0, false, false),
            outcome(OK, false, false)
        );
        assert_eq!(
            run(CLONE_AUTOREAP, SIGCHLD, false, false),
            outcome(INVAL, false, false)
        );
        let thread = CLONE_AUTOREAP | CLONE_THREAD;
        assert_eq!(run(thread, 0, false, false), outcome(INVAL, false, false));
        // With `CLONE_PARENT` the first rule decides before the caller's autoreap bit is read.
        let parent = CLONE_AUTOREAP | CLONE_PARENT;
        assert_eq!(run(parent, 0, false, false), outcome(INVAL, false, false));
    }

    #[test]
    fn parent_of_an_autoreap_caller() {
        assert_eq!(
            run(CLONE_PARENT, 0, true, true),
            outcome(INVAL, true, false)
        );
        assert_eq!(run(CLONE_PARENT, 0, false, true), outcome(OK, true, false));
    }

    #[test]
    fn nnp_rules() {
        assert_eq!(
            run(CLONE_NNP, SIGCHLD, false, false),
            outcome(OK, false, false)
        );
        let thread = CLONE_NNP | CLONE_THREAD;
        assert_eq!(run(thread, 0, false, false), outcome(INVAL, false, false));
    }

    #[test]
    fn autokill_rules() {
        // Unprivileged with `CLONE_NNP`: allowed, and the capability is not consulted.
        let nnp = AUTOKILL | CLONE_NNP;
        assert_eq!(run(nnp, 0, false, false), outcome(OK, false, false));
        // Without `CLONE_NNP` the capability decides.
        assert_eq!(run(AUTOKILL, 0, false, false), outcome(PERM, false, true));
        assert_eq!(run(AUTOKILL, 0, false, true), outcome(OK, false, true));
        // `EINVAL` wins over `EPERM`.
        for flags in [
            AUTOKILL & !CLONE_PIDFD,
            AUTOKILL & !CLONE_AUTOREAP,
            AUTOKILL | CLONE_THREAD,
            AUTOKILL | CLONE_PARENT,
        ] {
            let got = run(flags, 0, false, false);
            assert_eq!(got.result, INVAL);
            assert_eq!(got.asked_capable, 0);
        }
        assert_eq!(
            run(AUTOKILL, SIGCHLD, false, false),
            outcome(INVAL, false, false)
        );
    }

    #[test]
    fn exported_function_in_a_kthread() {
        // KUnit runs the test in a kernel thread: not autoreap, and capable.
        let check = |flags, exit_signal| {
            // SAFETY: Always safe to call.
            unsafe { clone_autokill_flags_check(flags, exit_signal) }
        };
        let einval = EINVAL.to_errno();
        assert_eq!(check(0, SIGCHLD as c_int), 0);
        assert_eq!(check(AUTOKILL, 0), 0);
        assert_eq!(check(AUTOKILL | CLONE_NNP, 0), 0);
        assert_eq!(check(CLONE_PARENT, 0), 0);
        assert_eq!(check(AUTOKILL, SIGCHLD as c_int), einval);
        assert_eq!(check(CLONE_NNP | CLONE_THREAD, 0), einval);
        assert_eq!(check(CLONE_PIDFD_AUTOKILL, 0), einval);
    }
}
