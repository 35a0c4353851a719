// SPDX-License-Identifier: GPL-2.0

//! POSIX capabilities.
//!
//! C header: [`include/linux/capability.h`](srctree/include/linux/capability.h).

use crate::{
    bindings,
    prelude::*,
    task::CurrentTask, //
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
    pub const fn as_raw(self) -> c_int {
        self as c_int
    }
}

impl CurrentTask {
    /// Returns whether the current task has the capability `cap` in the user namespace of its
    /// credentials: `ns_capable(current_user_ns(), cap)` in C.
    ///
    /// Like the C function, a successful check marks the task as having used superuser privileges
    /// (`PF_SUPERPRIV`) and may be audited, so ask only when the answer decides the outcome, and
    /// from task context: in an interrupt it would mark and audit the interrupted task.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::capability::Capability;
    ///
    /// fn reconfigure() -> Result {
    ///     if !current!().ns_capable(Capability::SysAdmin) {
    ///         return Err(EPERM);
    ///     }
    ///     Ok(())
    /// }
    ///
    /// // KUnit runs the examples in kernel threads, which have every capability.
    /// reconfigure()?;
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn ns_capable(&self, cap: Capability) -> bool {
        // SAFETY: Always safe to call: it reads the namespace of `current->cred`.
        let ns = unsafe { bindings::current_user_ns() };
        // Only the current task replaces its own credentials and drops the old ones, with their
        // reference to the namespace (`commit_creds()`, `override_creds()`, `revert_creds()`). It
        // does neither while this function runs, in the task or in an interrupt that suspended it.
        // SAFETY: So `ns` is valid for the call, and no reference to it escapes. `cap` is valid.
        unsafe { bindings::ns_capable(ns, cap.as_raw()) }
    }
}

#[cfg(CONFIG_RUST_CAPABILITY_KUNIT_TEST)]
#[macros::kunit_tests(rust_kernel_capability)]
mod tests {
    use super::*;

    #[test]
    fn kthread_is_capable_in_its_namespace() {
        // Kernel threads run with the full capabilities of the initial user namespace.
        assert!(crate::current!().ns_capable(Capability::SysAdmin));
    }
}
