// SPDX-License-Identifier: GPL-2.0

//! Shared code of the `CLONE_PIDFD_AUTOKILL` conformance runner, fuzzer and stress test.
//!
//! - [`sys`]: `autokill::sys` (the kernel constants, structs and raw wrappers), the few
//!   constants only the tests use, flag names.
//! - [`errno`]: errno values with their names.
//! - [`raw`]: `clone3()` into a child that never touches memory (safe with `CLONE_VM`,
//!   `CLONE_THREAD` or `CLONE_VFORK`, and in multithreaded callers).
//! - [`util`]: file descriptors, pidfds, polling, waiting, sockets, `/proc`.
//! - [`creds`]: dropping to a real unprivileged user, capabilities.
//! - [`verdict`]: the result type of a test case and its helpers.

pub mod creds;
pub mod errno;
pub mod raw;
pub mod sys;
pub mod util;
pub mod verdict;
