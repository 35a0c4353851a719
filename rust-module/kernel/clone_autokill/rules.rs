// SPDX-License-Identifier: GPL-2.0

//! The `clone3()` rules for `CLONE_AUTOREAP`, `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`.
//!
//! This is pure decision logic: the state of the caller that a rule needs is passed in as a
//! closure, and the flag and error values come from the parent module's `uapi`, so that the rules
//! can be tested on their own.

use super::uapi::{
    CLONE_AUTOREAP,
    CLONE_NNP,
    CLONE_PARENT,
    CLONE_PIDFD,
    CLONE_PIDFD_AUTOKILL,
    CLONE_THREAD,
    EINVAL,
    EPERM, //
};

/// Why `clone3()` refuses a flag combination, as the negative error number `copy_process()`
/// returns: a refusal becomes the C return value by a cast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Refusal {
    /// The combination is invalid.
    Invalid = -EINVAL,
    /// The caller may not arm autokill without `CLONE_NNP`.
    NotPermitted = -EPERM,
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
    // The two rules that ask about the caller are out of line and reached by tail calls, so that
    // the other paths keep nothing across a call.
    if has(CLONE_PARENT) {
        return check_parent(flags, caller_autoreap, capable);
    }
    check_nnp_autokill(flags, capable)
}

/// The rules from the second on, for a `clone3()` with `CLONE_PARENT`.
#[cold]
#[inline(never)]
fn check_parent(
    flags: u64,
    caller_autoreap: impl FnOnce() -> bool,
    capable: impl FnOnce() -> bool,
) -> Result<(), Refusal> {
    if caller_autoreap() {
        return Err(Refusal::Invalid);
    }
    check_nnp_autokill(flags, capable)
}

/// The rules for `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`, the last two.
#[inline(always)]
fn check_nnp_autokill(flags: u64, capable: impl FnOnce() -> bool) -> Result<(), Refusal> {
    let has = |flag: u64| flags & flag != 0;

    if has(CLONE_NNP) && has(CLONE_THREAD) {
        return Err(Refusal::Invalid);
    }
    if has(CLONE_PIDFD_AUTOKILL) {
        if !has(CLONE_PIDFD) || !has(CLONE_AUTOREAP) || has(CLONE_THREAD) {
            return Err(Refusal::Invalid);
        }
        // Without `CLONE_NNP` the child could gain privileges after it was spawned, and the
        // caller could then kill a privileged program at a moment of its choosing.
        if !has(CLONE_NNP) {
            return check_capable(capable);
        }
    }
    Ok(())
}

/// The last rule: autokill without `CLONE_NNP` needs the capability. Out of line, as a tail call,
/// like [`check_parent`].
#[cold]
#[inline(never)]
fn check_capable(capable: impl FnOnce() -> bool) -> Result<(), Refusal> {
    if !capable() {
        return Err(Refusal::NotPermitted);
    }
    Ok(())
}
