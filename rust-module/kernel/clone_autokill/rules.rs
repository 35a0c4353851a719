// SPDX-License-Identifier: GPL-2.0

//! The `clone3()` rules for `CLONE_AUTOREAP`, `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`.
//!
//! This is pure decision logic: the state of the caller that a rule needs is passed in as a
//! closure, and the flag values come from the parent module's `flags`, so that the rules can be
//! tested on their own.

use super::flags::{
    CLONE_AUTOREAP,
    CLONE_NNP,
    CLONE_PARENT,
    CLONE_PIDFD,
    CLONE_PIDFD_AUTOKILL,
    CLONE_THREAD, //
};

/// Why `clone3()` refuses a flag combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The combination is invalid: `EINVAL`.
    Invalid,
    /// The caller may not arm autokill without `CLONE_NNP`: `EPERM`.
    NotPermitted,
}

/// Checks `flags` and `exit_signal` of a `clone3()` call against the rules for `CLONE_AUTOREAP`,
/// `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`; the first rule that fails decides.
///
/// `caller_autoreap` tells whether the calling process reaps itself; it is only asked when
/// `CLONE_PARENT` is set, so the common fork path reads nothing more. `capable` answers whether
/// the caller has `CAP_SYS_ADMIN` in its user namespace; it is called at most once, and only when
/// every other rule holds and autokill is requested without `CLONE_NNP`, because the kernel's
/// capability check has side effects (`PF_SUPERPRIV`, audit).
#[inline]
pub(crate) fn check(
    flags: u64,
    exit_signal: i32,
    caller_autoreap: impl FnOnce() -> bool,
    capable: impl FnOnce() -> bool,
) -> Result<(), Refusal> {
    let has = |flag: u64| flags & flag != 0;

    // Every rule needs one of these: the common fork path stops here.
    if !has(CLONE_AUTOREAP | CLONE_PARENT | CLONE_NNP | CLONE_PIDFD_AUTOKILL) {
        return Ok(());
    }
    if has(CLONE_AUTOREAP) && (has(CLONE_THREAD) || has(CLONE_PARENT) || exit_signal != 0) {
        return Err(Refusal::Invalid);
    }
    if has(CLONE_PARENT) && caller_autoreap() {
        return Err(Refusal::Invalid);
    }
    if has(CLONE_NNP) && has(CLONE_THREAD) {
        return Err(Refusal::Invalid);
    }
    if has(CLONE_PIDFD_AUTOKILL) {
        if !has(CLONE_PIDFD) || !has(CLONE_AUTOREAP) || has(CLONE_THREAD) {
            return Err(Refusal::Invalid);
        }
        // Without `CLONE_NNP` the child could gain privileges after it was spawned, and the
        // caller could then kill a privileged program at a moment of its choosing.
        if !has(CLONE_NNP) && !capable() {
            return Err(Refusal::NotPermitted);
        }
    }
    Ok(())
}
