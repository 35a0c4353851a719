// SPDX-License-Identifier: GPL-2.0

//! Spawn child processes that die with their parent, with `clone3(CLONE_PIDFD_AUTOKILL)`.

pub mod sys;
