// SPDX-License-Identifier: GPL-2.0

//! The `clone3()` validation of `CLONE_AUTOREAP`, `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`.
//!
//! `copy_process()` calls [`clone_autokill_flags_check`] at the place where the C rules stood;
//! the rules themselves are pure logic in [`rules`], shared with the host tests.
//!
//! C header: [`include/linux/pidfs.h`](srctree/include/linux/pidfs.h).

use kernel::{
    bindings,
    capability::{
        self,
        Capability, //
    },
    prelude::*, //
};

#[path = "clone_autokill/rules.rs"]
mod rules;

use rules::Refusal;

// The rules use their own copy of the flag values; they must be the UAPI ones.
const _: () = {
    assert!(rules::CLONE_THREAD == bindings::CLONE_THREAD as u64);
    assert!(rules::CLONE_PARENT == bindings::CLONE_PARENT as u64);
    assert!(rules::CLONE_PIDFD == bindings::CLONE_PIDFD as u64);
    assert!(rules::CLONE_AUTOREAP == bindings::CLONE_AUTOREAP);
    assert!(rules::CLONE_NNP == bindings::CLONE_NNP);
    assert!(rules::CLONE_PIDFD_AUTOKILL == bindings::CLONE_PIDFD_AUTOKILL);
};

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
        || capability::current_ns_capable(Capability::SYS_ADMIN),
    );
    // Negated constants rather than `Error::to_errno()`, which is an out-of-line call.
    match result {
        Ok(()) => 0,
        Err(Refusal::Invalid) => -(bindings::EINVAL as c_int),
        Err(Refusal::NotPermitted) => -(bindings::EPERM as c_int),
    }
}
