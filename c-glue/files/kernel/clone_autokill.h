/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KERNEL_CLONE_AUTOKILL_H
#define _KERNEL_CLONE_AUTOKILL_H

#include <linux/types.h>

#ifdef CONFIG_PIDFD_AUTOKILL_RUST
/*
 * Implemented in Rust: kernel/clone_autokill.rs. Declared here rather than
 * in <linux/sched/task.h>, so that turning the option on or off rebuilds
 * kernel/fork.c and not every user of that header.
 */
int clone_autokill_flags_check(u64 clone_flags, int exit_signal);
#endif

#endif /* _KERNEL_CLONE_AUTOKILL_H */
