/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What clone_autokill_flags_check() of kernel/fork.c needs to compile on the
 * host: the UAPI flag, capability and errno values from the kernel tree, and
 * stubs for current, current_user_ns() and ns_capable(), implemented by the
 * Rust test so that it sees every question the C rules ask.
 */
#ifndef ORACLE_H
#define ORACLE_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/sched.h>
#include <linux/capability.h>
#include <asm-generic/errno-base.h>

typedef __u64 u64;

struct signal_struct {
	unsigned int autoreap:1;
};

struct task_struct {
	struct signal_struct *signal;
};

struct user_namespace;

struct task_struct *oracle_current(void);
#define current oracle_current()
struct user_namespace *current_user_ns(void);
bool ns_capable(struct user_namespace *ns, int cap);

int oracle_clone_autokill_flags_check(u64 clone_flags, int exit_signal);

#endif /* ORACLE_H */
