// SPDX-License-Identifier: GPL-2.0

//! Host tests of the kernel's pure `clone3()` rules (`rust-module/kernel/clone_autokill/rules.rs`,
//! the very file the kernel compiles) against the C implementation they replace,
//! `clone_autokill_flags_check()` of the kernel tree's `kernel/fork.c`, compiled by `build.rs`.

/// The clone flags of `include/uapi/linux/sched.h` and the error numbers, which the kernel takes
/// from its bindings. Written out here: the comparison with the C function, compiled with the
/// tree's UAPI headers, fails for any value that differs.
#[cfg(test)]
mod uapi {
    pub(crate) const CLONE_THREAD: u64 = 0x0001_0000;
    pub(crate) const CLONE_PARENT: u64 = 0x0000_8000;
    pub(crate) const CLONE_PIDFD: u64 = 0x0000_1000;
    pub(crate) const CLONE_AUTOREAP: u64 = 1 << 34;
    pub(crate) const CLONE_NNP: u64 = 1 << 35;
    pub(crate) const CLONE_PIDFD_AUTOKILL: u64 = 1 << 36;
    pub(crate) const EINVAL: i32 = 22;
    pub(crate) const EPERM: i32 = 1;
}

#[cfg(test)]
#[path = "../../../rust-module/kernel/clone_autokill/rules.rs"]
mod rules;

/// The C rules, with the kernel functions they call replaced by counters.
#[cfg(all(test, c_oracle = "built"))]
mod oracle {
    use std::cell::Cell;
    use std::ffi::c_int;

    #[repr(C)]
    struct SignalStruct {
        // `unsigned int autoreap:1`: bit 0 of the first unsigned int on x86_64.
        bits: u32,
    }

    #[repr(C)]
    struct TaskStruct {
        signal: *mut SignalStruct,
    }

    /// The `current_user_ns()` the stubs hand out; only its address matters.
    static USER_NS: u8 = 0;

    thread_local! {
        static AUTOREAP: Cell<bool> = const { Cell::new(false) };
        static CAPABLE: Cell<bool> = const { Cell::new(false) };
        static CURRENT_CALLS: Cell<u32> = const { Cell::new(0) };
        static CAPABLE_CALLS: Cell<u32> = const { Cell::new(0) };
        static BAD_CAPABLE_CALLS: Cell<u32> = const { Cell::new(0) };
    }

    // CAP_SYS_ADMIN, from the kernel's include/uapi/linux/capability.h.
    const CAP_SYS_ADMIN: c_int = 21;

    /// `current`, as the C rules use it: only to read `current->signal->autoreap`.
    #[no_mangle]
    extern "C" fn oracle_current() -> *mut TaskStruct {
        CURRENT_CALLS.with(|c| c.set(c.get() + 1));
        let signal = Box::leak(Box::new(SignalStruct {
            bits: AUTOREAP.with(Cell::get).into(),
        }));
        Box::leak(Box::new(TaskStruct { signal }))
    }

    #[no_mangle]
    extern "C" fn current_user_ns() -> *const u8 {
        &USER_NS
    }

    #[no_mangle]
    extern "C" fn ns_capable(ns: *const u8, cap: c_int) -> bool {
        CAPABLE_CALLS.with(|c| c.set(c.get() + 1));
        if !std::ptr::eq(ns, &USER_NS) || cap != CAP_SYS_ADMIN {
            BAD_CAPABLE_CALLS.with(|c| c.set(c.get() + 1));
        }
        CAPABLE.with(Cell::get)
    }

    extern "C" {
        fn oracle_clone_autokill_flags_check(clone_flags: u64, exit_signal: c_int) -> c_int;
    }

    /// What the C function returned, how often it read the caller's autoreap bit and how often
    /// it asked `ns_capable()` (and whether every such call asked for `CAP_SYS_ADMIN` in the
    /// caller's user namespace).
    pub(crate) fn check(
        flags: u64,
        exit_signal: i32,
        autoreap: bool,
        capable: bool,
    ) -> (c_int, u32, u32, bool) {
        AUTOREAP.with(|c| c.set(autoreap));
        CAPABLE.with(|c| c.set(capable));
        CURRENT_CALLS.with(|c| c.set(0));
        CAPABLE_CALLS.with(|c| c.set(0));
        BAD_CAPABLE_CALLS.with(|c| c.set(0));
        // SAFETY: The C function only calls the stubs above.
        let ret = unsafe { oracle_clone_autokill_flags_check(flags, exit_signal) };
        (
            ret,
            CURRENT_CALLS.with(Cell::get),
            CAPABLE_CALLS.with(Cell::get),
            BAD_CAPABLE_CALLS.with(Cell::get) == 0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{rules, uapi};
    use std::cell::Cell;

    /// The flags the rules read.
    #[cfg(c_oracle = "built")]
    const RELEVANT: [u64; 6] = [
        uapi::CLONE_AUTOREAP,
        uapi::CLONE_NNP,
        uapi::CLONE_PIDFD_AUTOKILL,
        uapi::CLONE_PIDFD,
        uapi::CLONE_THREAD,
        uapi::CLONE_PARENT,
    ];
    /// Exit signals: none, SIGCHLD, another one.
    #[cfg(c_oracle = "built")]
    const EXIT_SIGNALS: [i32; 3] = [0, 17, 9];

    /// Every combination of the relevant flags.
    #[cfg(c_oracle = "built")]
    fn combinations() -> impl Iterator<Item = u64> {
        (0..1u32 << RELEVANT.len()).map(|mask| {
            RELEVANT
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .fold(0, |flags, (_, flag)| flags | flag)
        })
    }

    /// The flags the rules ignore, each on its own and all together.
    #[cfg(c_oracle = "built")]
    fn others() -> Vec<u64> {
        let relevant = RELEVANT.iter().fold(0, |a, b| a | b);
        let bits: Vec<u64> = (0..64)
            .map(|b| 1u64 << b)
            .filter(|b| b & relevant == 0)
            .collect();
        let mut others = vec![0, bits.iter().fold(0, |a, b| a | b)];
        others.extend(bits);
        others
    }

    /// The Rust rules' decision, how often they read the autoreap bit and asked the capability.
    fn rust(flags: u64, exit_signal: i32, autoreap: bool, capable: bool) -> (i32, u32, u32) {
        let asked_autoreap = Cell::new(0);
        let asked_capable = Cell::new(0);
        let result = rules::check(
            flags,
            exit_signal,
            || {
                asked_autoreap.set(asked_autoreap.get() + 1);
                autoreap
            },
            || {
                asked_capable.set(asked_capable.get() + 1);
                capable
            },
        );
        // As the kernel's `clone_autokill_flags_check()` returns it.
        let errno = match result {
            Ok(()) => 0,
            Err(refusal) => refusal as i32,
        };
        (errno, asked_autoreap.get(), asked_capable.get())
    }

    #[test]
    #[cfg(c_oracle = "built")]
    fn rules_equal_the_c_implementation() {
        use super::oracle;
        let mut cases = 0;
        let mut failures = Vec::new();
        let mut outcomes = std::collections::HashSet::new();
        for flags in combinations() {
            for other in others() {
                for exit_signal in EXIT_SIGNALS {
                    for autoreap in [false, true] {
                        for capable in [false, true] {
                            let flags = flags | other;
                            let (c, c_reap, c_cap, c_cap_args_ok) =
                                oracle::check(flags, exit_signal, autoreap, capable);
                            let r = rust(flags, exit_signal, autoreap, capable);
                            cases += 1;
                            outcomes.insert(c);
                            if (c, c_reap, c_cap) != r || !c_cap_args_ok {
                                failures.push(format!(
                                    "flags {flags:#x} exit_signal {exit_signal} autoreap {autoreap} \
                                     capable {capable}: C returns {c}, reads autoreap {c_reap}x, \
                                     asks the capability {c_cap}x (arguments ok: {c_cap_args_ok}); \
                                     Rust returns {}, reads {}x, asks {}x",
                                    r.0, r.1, r.2
                                ));
                            }
                        }
                    }
                }
            }
        }
        // 64 combinations x (no other flag, all of them, each of the 58 alone) x 3 x 2 x 2.
        assert_eq!(cases, 64 * 60 * 3 * 2 * 2);
        // The C errno values are those the Rust side maps to.
        assert_eq!(outcomes, [0, -22, -1].into_iter().collect());
        assert!(
            failures.is_empty(),
            "{} of {cases} cases differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    #[cfg(c_oracle = "missing")]
    fn rules_equal_the_c_implementation() {
        println!("skipped: {}", env!("C_ORACLE_STATE"));
    }

    #[test]
    #[cfg(c_oracle = "broken")]
    fn rules_equal_the_c_implementation() {
        panic!("the C oracle did not build: {}", env!("C_ORACLE_STATE"));
    }

    #[test]
    fn mainline_examples() {
        use uapi::*;
        let autokill = CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL;
        // Unprivileged with NNP: allowed, the capability not consulted.
        assert_eq!(rust(autokill | CLONE_NNP, 0, false, false), (0, 0, 0));
        // Unprivileged without NNP: EPERM; privileged: allowed.
        assert_eq!(rust(autokill, 0, false, false), (-1, 0, 1));
        assert_eq!(rust(autokill, 0, false, true), (0, 0, 1));
        // EINVAL wins over EPERM: autokill with SIGCHLD as exit signal.
        assert_eq!(rust(autokill, 17, false, false), (-22, 0, 0));
        // CLONE_PARENT from an autoreap process.
        assert_eq!(rust(CLONE_PARENT, 0, true, true), (-22, 1, 0));
        assert_eq!(rust(CLONE_PARENT, 0, false, true), (0, 1, 0));
        // Every ordinary fork asks nothing.
        assert_eq!(rust(CLONE_THREAD | CLONE_PIDFD, 17, true, true), (0, 0, 0));
    }
}
