// SPDX-License-Identifier: GPL-2.0

//! POSIX capabilities.
//!
//! C header: [`include/linux/capability.h`](srctree/include/linux/capability.h).

use crate::{
    bindings,
    user_namespace::UserNamespace, //
};

/// A POSIX capability, one of the `CAP_*` values of
/// [`include/uapi/linux/capability.h`](srctree/include/uapi/linux/capability.h).
///
/// Variants are added as users appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Capability {
    /// `CAP_SYS_ADMIN`: a broad range of system administration operations.
    #[doc(alias = "CAP_SYS_ADMIN")]
    SysAdmin = bindings::CAP_SYS_ADMIN,
}

impl Capability {
    /// Returns the C capability number.
    #[inline]
    pub const fn as_raw(self) -> crate::ffi::c_int {
        self as crate::ffi::c_int
    }
}

/// Returns whether the current task has the capability `cap` in the user namespace `ns`.
///
/// Like the C function, a successful check marks the task as having used superuser privileges
/// (`PF_SUPERPRIV`) and may be audited, so ask only when the answer decides the outcome.
///
/// # Examples
///
/// ```
/// use kernel::capability::{ns_capable, Capability};
///
/// fn reconfigure() -> Result {
///     if !ns_capable(current!().user_ns(), Capability::SysAdmin) {
///         return Err(EPERM);
///     }
///     Ok(())
/// }
///
/// // KUnit runs the examples in kernel threads, which have every capability.
/// assert!(reconfigure().is_ok());
/// ```
#[inline]
pub fn ns_capable(ns: &UserNamespace, cap: Capability) -> bool {
    // SAFETY: `ns` is a valid user namespace by the type invariants of `UserNamespace`, and `cap`
    // is a valid capability number.
    unsafe { bindings::ns_capable(ns.as_ptr(), cap.as_raw()) }
}

#[cfg(CONFIG_RUST_CAPABILITY_KUNIT_TEST)]
#[macros::kunit_tests(rust_kernel_capability)]
mod tests {
    use super::*;

    #[test]
    fn kthread_is_capable_in_its_namespace() {
        // Kernel threads run with the full capabilities of the initial user namespace.
        assert!(ns_capable(
            crate::current!().user_ns(),
            Capability::SysAdmin
        ));
    }
}
