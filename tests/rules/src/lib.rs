// SPDX-License-Identifier: GPL-2.0

//! Host build of the kernel's pure `clone3()` rules, checked against the reference table.
//!
//! Both files are the very ones the kernel compiles (`rust-module/kernel/clone_autokill/`).

#[cfg(test)]
#[path = "../../../rust-module/kernel/clone_autokill/rules.rs"]
mod rules;

#[cfg(test)]
#[path = "../../../rust-module/kernel/clone_autokill/rules_table.rs"]
mod rules_table;

#[cfg(test)]
mod tests {
    use super::rules::{self, Refusal};
    use super::rules_table::{Expect, OTHERS, TABLE};
    use std::cell::Cell;

    fn expect_of(result: Result<(), Refusal>) -> Expect {
        match result {
            Ok(()) => Expect::Ok,
            Err(Refusal::Invalid) => Expect::Inval,
            Err(Refusal::NotPermitted) => Expect::Perm,
        }
    }

    #[test]
    fn table_covers_every_combination() {
        // 6 relevant flags, with and without the ignored ones, 3 exit signals, autoreap and
        // capability each on and off.
        assert_eq!(TABLE.len(), 64 * 2 * 3 * 2 * 2);
        let mut seen = std::collections::HashSet::new();
        for row in TABLE {
            assert!(seen.insert((row.flags, row.exit_signal, row.autoreap, row.capable)));
        }
    }

    #[test]
    fn every_row_matches_the_reference() {
        let mut failures = Vec::new();
        for row in TABLE {
            let asked = Cell::new(0);
            let got = expect_of(rules::check(
                row.flags,
                row.exit_signal,
                || row.autoreap,
                || {
                    asked.set(asked.get() + 1);
                    row.capable
                },
            ));
            if got != row.expect || (asked.get() == 1) != row.asks_capable || asked.get() > 1 {
                failures.push(format!(
                    "flags {:#x} exit_signal {} autoreap {} capable {}: got {:?} (asked {}x), want {:?} (asks {})",
                    row.flags, row.exit_signal, row.autoreap, row.capable, got, asked.get(),
                    row.expect, row.asks_capable
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn every_outcome_occurs() {
        for want in [Expect::Ok, Expect::Inval, Expect::Perm] {
            assert!(
                TABLE.iter().any(|r| r.expect == want),
                "no row expects {want:?}"
            );
        }
        assert!(TABLE.iter().any(|r| r.asks_capable));
    }

    #[test]
    fn ignored_flags_never_change_the_outcome() {
        // Every bit outside the relevant six, one at a time, over bits 0..=40.
        let relevant = rules::CLONE_AUTOREAP
            | rules::CLONE_NNP
            | rules::CLONE_PIDFD_AUTOKILL
            | rules::CLONE_PIDFD
            | rules::CLONE_THREAD
            | rules::CLONE_PARENT;
        for row in TABLE.iter().filter(|r| r.flags & OTHERS == 0) {
            for bit in (0..=40).map(|b| 1u64 << b).filter(|b| b & relevant == 0) {
                let got = expect_of(rules::check(
                    row.flags | bit,
                    row.exit_signal,
                    || row.autoreap,
                    || row.capable,
                ));
                assert_eq!(got, row.expect, "flags {:#x} | bit {bit:#x}", row.flags);
            }
        }
    }

    #[test]
    fn mainline_examples() {
        use rules::*;
        let autokill = CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL;
        // Unprivileged with NNP: allowed, capability not consulted.
        assert_eq!(
            check(autokill | CLONE_NNP, 0, || false, || panic!("asked")),
            Ok(())
        );
        // Unprivileged without NNP: EPERM; privileged: allowed.
        assert_eq!(
            check(autokill, 0, || false, || false),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(check(autokill, 0, || false, || true), Ok(()));
        // EINVAL wins over EPERM: autokill with SIGCHLD as exit signal.
        assert_eq!(
            check(autokill, 17, || false, || false),
            Err(Refusal::Invalid)
        );
        // CLONE_PARENT from an autoreap process.
        assert_eq!(
            check(CLONE_PARENT, 0, || true, || true),
            Err(Refusal::Invalid)
        );
        assert_eq!(check(CLONE_PARENT, 0, || false, || true), Ok(()));
    }
}
