// SPDX-License-Identifier: GPL-2.0

//! POSIX capabilities.
//!
//! C header: [`include/linux/capability.h`](srctree/include/linux/capability.h).

use crate::{bindings, prelude::*};

/// A POSIX capability, one of the `CAP_*` values of
/// [`include/uapi/linux/capability.h`](srctree/include/uapi/linux/capability.h).
///
/// # Invariants
///
/// The value is a valid capability number (at most `CAP_LAST_CAP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability(c_int);

impl Capability {
    /// `CAP_SYS_ADMIN`: a broad range of system administration operations.
    pub const SYS_ADMIN: Self = Self(bindings::CAP_SYS_ADMIN as c_int);
    /// `CAP_KILL`: bypass permission checks for sending signals.
    pub const KILL: Self = Self(bindings::CAP_KILL as c_int);
    /// `CAP_SYS_PTRACE`: trace arbitrary processes.
    pub const SYS_PTRACE: Self = Self(bindings::CAP_SYS_PTRACE as c_int);

    /// Returns the C capability number.
    #[inline]
    pub const fn as_raw(self) -> c_int {
        self.0
    }
}

/// Returns whether the current task has `cap` in the user namespace of its credentials.
///
/// This is `ns_capable(current_user_ns(), cap)`: like the C function, a successful check marks
/// the task as having used superuser privileges (`PF_SUPERPRIV`) and may be audited, so call it
/// only when the answer decides the outcome.
///
/// # Examples
///
/// ```
/// use kernel::capability::{self, Capability};
///
/// fn reconfigure() -> Result {
///     if !capability::current_ns_capable(Capability::SYS_ADMIN) {
///         return Err(EPERM);
///     }
///     Ok(())
/// }
/// ```
#[inline]
#[doc(alias = "ns_capable")]
pub fn current_ns_capable(cap: Capability) -> bool {
    // SAFETY: `current_user_ns()` returns the user namespace of the current task's credentials,
    // which is valid while the task runs; `cap` is a valid capability by the type invariants.
    unsafe { bindings::ns_capable(bindings::current_user_ns(), cap.as_raw()) }
}
