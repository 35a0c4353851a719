// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the Rust `CLONE_PIDFD_AUTOKILL` logic and the abstractions it uses.
//!
//! The rules are checked against the same reference table as the host tests; the abstractions
//! run against the real kernel objects of the test thread.

use kernel::{
    bindings,
    capability::{
        self,
        Capability, //
    },
    pid::{
        Pid,
        PidType, //
    },
    prelude::*,
    sync::rcu,
    task::flags::{
        PF_KTHREAD,
        PF_USER_WORKER, //
    },
};

const __LOG_PREFIX: &[u8] = b"clone_autokill_test\0";

#[path = "clone_autokill/rules.rs"]
mod rules;

#[path = "clone_autokill/rules_table.rs"]
mod rules_table;

#[kunit_tests(clone_autokill_rust)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use rules::Refusal;
    use rules_table::{
        Expect,
        TABLE, //
    };

    #[test]
    fn rules_match_reference_table() {
        let mut mismatches = 0;
        for row in TABLE {
            let asked_autoreap = Cell::new(false);
            let asked_capable = Cell::new(0u32);
            let result = rules::check(
                row.flags,
                row.exit_signal,
                || {
                    asked_autoreap.set(true);
                    row.autoreap
                },
                || {
                    asked_capable.set(asked_capable.get() + 1);
                    row.capable
                },
            );
            let got = match result {
                Ok(()) => Expect::Ok,
                Err(Refusal::Invalid) => Expect::Inval,
                Err(Refusal::NotPermitted) => Expect::Perm,
            };
            let parent = row.flags & rules::CLONE_PARENT != 0;
            if got != row.expect
                || asked_capable.get() > 1
                || (asked_capable.get() == 1) != row.asks_capable
                || (asked_autoreap.get() && !parent)
            {
                pr_err!(
                    "flags {:#x} exit_signal {} autoreap {} capable {}: got {:?}, want {:?}\n",
                    row.flags,
                    row.exit_signal,
                    row.autoreap,
                    row.capable,
                    got,
                    row.expect
                );
                mismatches += 1;
            }
        }
        assert_eq!(mismatches, 0);
        assert_eq!(TABLE.len(), 1536);
    }

    #[test]
    fn pid_finds_own_thread_group() {
        let task = current!();
        let guard = rcu::read_lock();
        // SAFETY: `find_vpid()` is called under the RCU read lock, as it requires.
        let raw = unsafe { bindings::find_vpid(task.tgid()) };
        assert!(!raw.is_null());
        // SAFETY: `raw` is a valid `struct pid` of a live thread group; it is freed only after
        // an RCU grace period, and `pid` does not outlive `guard`.
        let pid = unsafe { Pid::from_raw(raw) };
        let leader = pid.task(PidType::Tgid, &guard);
        assert!(leader.is_some_and(|leader| leader == task.group_leader()));
        let thread = pid.task(PidType::Pid, &guard);
        assert!(thread.is_some_and(|thread| thread.pid() == task.tgid()));
    }

    #[test]
    fn task_flags_and_autoreap_of_a_kthread() {
        // KUnit runs each test in a kernel thread of its own.
        let task = current!();
        assert!(task.flags() & PF_KTHREAD != 0);
        assert!(task.flags() & PF_USER_WORKER == 0);
        assert!(!task.is_autoreap());
    }

    #[test]
    fn kernel_thread_is_capable() {
        // Kernel threads run with the full capabilities of the initial user namespace.
        assert!(capability::current_ns_capable(Capability::SYS_ADMIN));
        assert!(capability::current_ns_capable(Capability::KILL));
    }
}
