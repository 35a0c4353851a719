// SPDX-License-Identifier: GPL-2.0

//! User namespaces.
//!
//! C header: [`include/linux/user_namespace.h`](srctree/include/linux/user_namespace.h).

use crate::{
    bindings,
    types::Opaque, //
};

/// Wraps the kernel's `struct user_namespace`.
///
/// # Invariants
///
/// Instances are valid user namespaces created by the C portion of the kernel; a shared reference
/// `&'a UserNamespace` implies that the namespace stays valid for `'a`.
#[repr(transparent)]
pub struct UserNamespace(Opaque<bindings::user_namespace>);

impl UserNamespace {
    /// Creates a reference to a [`UserNamespace`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` is valid and remains valid for the lifetime of the
    /// returned [`UserNamespace`] reference.
    #[inline]
    pub unsafe fn from_ptr<'a>(ptr: *const bindings::user_namespace) -> &'a Self {
        // SAFETY: The safety requirements guarantee the validity of the dereference, while the
        // `UserNamespace` type being transparent makes the cast ok.
        unsafe { &*ptr.cast() }
    }

    /// Returns a raw pointer to the inner C struct.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::user_namespace {
        self.0.get()
    }
}
