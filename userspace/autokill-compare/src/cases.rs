// SPDX-License-Identifier: GPL-2.0

//! What is compared: the mechanisms (table rows) and the ways the parent ends (columns).

/// A way of spawning the child: one row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// `std::process::Command`: nothing ties the child to its parent.
    Std,
    /// `tokio::process::Command` with `kill_on_drop(true)`.
    Tokio,
    /// process-wrap (tokio): `ProcessGroup::leader()` + `KillOnDrop`.
    ProcessWrap,
    /// processkit: `ProcessGroup::spawn` (cgroup v2 where it can create one, else a process
    /// group).
    Processkit,
    /// processkit: `ProcessGroup::start` of a `Command` with `kill_on_parent_death()`
    /// (`PR_SET_PDEATHSIG`).
    ProcesskitPdeathsig,
    /// `setpriv --pdeathsig KILL -- sh -c ...` (util-linux).
    Setpriv,
    /// `bwrap --die-with-parent --unshare-pid --dev-bind / / -- sh -c ...` (bubblewrap).
    Bwrap,
    /// autokill with the kernel's `CLONE_PIDFD_AUTOKILL`.
    Autokill,
    /// autokill with the kernel's `CLONE_PIDFD_AUTOKILL` and `kill_tree(true)`.
    AutokillTree,
    /// autokill's fallback (`kernel_autokill(false)`): `PR_SET_PDEATHSIG(SIGKILL)` from the
    /// crate's spawner thread, kill on drop.
    AutokillFallback,
    /// autokill's fallback with `kill_tree(true)`.
    AutokillFallbackTree,
}

impl Mechanism {
    /// Every mechanism, in table order.
    pub const ALL: [Mechanism; 11] = [
        Mechanism::Std,
        Mechanism::Tokio,
        Mechanism::ProcessWrap,
        Mechanism::Processkit,
        Mechanism::ProcesskitPdeathsig,
        Mechanism::Setpriv,
        Mechanism::Bwrap,
        Mechanism::Autokill,
        Mechanism::AutokillTree,
        Mechanism::AutokillFallback,
        Mechanism::AutokillFallbackTree,
    ];

    /// The name on the command line and in the JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Std => "std",
            Mechanism::Tokio => "tokio",
            Mechanism::ProcessWrap => "process-wrap",
            Mechanism::Processkit => "processkit",
            Mechanism::ProcesskitPdeathsig => "processkit-pdeathsig",
            Mechanism::Setpriv => "setpriv",
            Mechanism::Bwrap => "bwrap",
            Mechanism::Autokill => "autokill",
            Mechanism::AutokillTree => "autokill-tree",
            Mechanism::AutokillFallback => "autokill-fallback",
            Mechanism::AutokillFallbackTree => "autokill-fallback-tree",
        }
    }

    /// The row label of the table (the run may append what the mechanism reported).
    pub fn label(self) -> &'static str {
        match self {
            Mechanism::Std => "`std::process::Command`",
            Mechanism::Tokio => "tokio 1.54 `kill_on_drop(true)`",
            Mechanism::ProcessWrap => {
                "process-wrap 10 (tokio: `ProcessGroup::leader()` + `KillOnDrop`)"
            }
            Mechanism::Processkit => "processkit 3.3 `ProcessGroup::spawn`",
            Mechanism::ProcesskitPdeathsig => {
                "processkit 3.3 `ProcessGroup::start`, `kill_on_parent_death()`"
            }
            Mechanism::Setpriv => "`setpriv --pdeathsig KILL`",
            Mechanism::Bwrap => "`bwrap --die-with-parent --unshare-pid`",
            Mechanism::Autokill => "autokill (kernel)",
            Mechanism::AutokillTree => "autokill `kill_tree(true)` (kernel)",
            Mechanism::AutokillFallback => "autokill fallback (`kernel_autokill(false)`)",
            Mechanism::AutokillFallbackTree => {
                "autokill fallback (`kernel_autokill(false)`), `kill_tree(true)`"
            }
        }
    }

    /// The mechanism named `name`.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// How the parent's hold on the child ends: one column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Death {
    /// The orchestrator sends the parent process `SIGKILL`.
    Sigkill,
    /// The parent calls `abort()` (what `panic = "abort"` does).
    Abort,
    /// The parent drops the handle and lives on.
    Drop,
    /// The thread that spawned the child exits; the parent process, holding the handle in its
    /// main thread, lives on.
    ThreadExit,
}

impl Death {
    /// Every death, in column order.
    pub const ALL: [Death; 4] = [Death::Sigkill, Death::Abort, Death::Drop, Death::ThreadExit];

    /// The name on the command line and in the JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            Death::Sigkill => "sigkill",
            Death::Abort => "abort",
            Death::Drop => "drop",
            Death::ThreadExit => "thread-exit",
        }
    }

    /// The column header of the table.
    pub fn label(self) -> &'static str {
        match self {
            Death::Sigkill => "parent SIGKILLed",
            Death::Abort => "parent calls abort()",
            Death::Drop => "handle dropped (parent lives)",
            Death::ThreadExit => "spawning thread exits (parent lives)",
        }
    }

    /// The death named `name`.
    pub fn from_name(name: &str) -> Option<Death> {
        Death::ALL.into_iter().find(|d| d.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
        for d in Death::ALL {
            assert_eq!(Death::from_name(d.name()), Some(d));
        }
    }
}
