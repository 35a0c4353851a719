// SPDX-License-Identifier: GPL-2.0

//! The parent: a fresh process (this program, re-executed with the hidden subcommand
//! `__parent MECHANISM DEATH`) that spawns the child with one mechanism and then ends its hold
//! on it in one way, as the orchestrator orders.
//!
//! Protocol. Standard output is the report pipe, which the child and the grandchild inherit
//! too; every message is one line, written at once (shorter than `PIPE_BUF`, so lines from
//! different processes never interleave):
//! - `c PID`, `g PID`: the child and the grandchild, each its own pid as the orchestrator sees
//!   it (read from `/proc/self/stat`, which is the orchestrator's `/proc` mount even inside the
//!   pid namespaces of `kill_tree` and bwrap);
//! - `p PID SPAWNED NOTE`: the parent's pid, the pid of the process its handle refers to, and
//!   what the mechanism reported (may be empty);
//! - `d`: the handle has been dropped, or the spawning thread has exited;
//! - `unavailable REASON`: the mechanism cannot run here (the cell is "not run");
//! - `error MESSAGE`: anything else that went wrong (a harness error).
//!
//! Standard input carries the order: the parent waits for one line (`go`) before it ends its
//! hold, except for `sigkill`, which the orchestrator delivers itself. Afterwards the parent
//! (when it lives on) waits for end of file on standard input or for the orchestrator's
//! `SIGKILL`.

use std::any::Any;
use std::io::{BufRead, Write};
use std::process::Stdio;
use std::sync::mpsc;

use crate::cases::{Death, Mechanism};

/// The child's program: reports its pid, starts the grandchild (which reports its own), and
/// becomes `sleep`. `read` is a shell builtin, so `/proc/self` is the shell itself.
pub const CHILD_SCRIPT: &str = "read me rest </proc/self/stat; echo \"c $me\"; \
     sh -c 'read me rest </proc/self/stat; echo \"g $me\"; exec sleep 1000' & \
     exec sleep 1000";

/// Why a spawn did not happen.
enum Failure {
    /// The mechanism cannot run here: the cell is "not run: REASON".
    Unavailable(String),
    /// A harness error.
    Error(String),
}

/// A spawned child and everything that keeps the mechanism's hold on it.
struct Spawned {
    /// The mechanism's handle; dropping it is the `drop` death.
    handle: Option<Box<dyn Any + Send>>,
    /// The tokio runtime the handle needs (kept when the handle is dropped).
    runtime: Option<tokio::runtime::Runtime>,
    /// The pid of the process the handle refers to.
    pid: u32,
    /// What the mechanism reported about itself.
    note: String,
}

impl Spawned {
    fn drop_handle(&mut self) {
        let _context = self.runtime.as_ref().map(|rt| rt.enter());
        drop(self.handle.take());
    }
}

/// Writes one protocol line to standard output (the report pipe).
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    // A single write of the whole line; a failure means the orchestrator is gone.
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

/// Blocks until a line (or end of file) arrives on standard input.
fn wait_for_order() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().to_string()
}

/// Blocks until end of file on standard input (or until the orchestrator kills this process).
fn wait_for_eof() {
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
}

/// The hidden subcommand: `__parent MECHANISM DEATH`. Never returns.
pub fn main(args: &[String]) -> ! {
    let (Some(mechanism), Some(death)) = (
        args.first().and_then(|m| Mechanism::from_name(m)),
        args.get(1).and_then(|d| Death::from_name(d)),
    ) else {
        report("error usage: __parent MECHANISM DEATH");
        std::process::exit(2);
    };
    match run(mechanism, death) {
        Ok(()) => std::process::exit(0),
        Err(Failure::Unavailable(reason)) => {
            report(&format!("unavailable {reason}"));
            std::process::exit(0);
        }
        Err(Failure::Error(message)) => {
            report(&format!("error {message}"));
            std::process::exit(2);
        }
    }
}

fn run(mechanism: Mechanism, death: Death) -> Result<(), Failure> {
    // For `thread-exit`, a thread of its own spawns the child, hands the handle to the main
    // thread and waits to be told to exit.
    let mut spawner = None;
    let mut spawned = if death == Death::ThreadExit {
        let (handle_tx, handle_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = handle_tx.send(spawn(mechanism));
            let _ = exit_rx.recv();
        });
        let spawned = handle_rx
            .recv()
            .map_err(|_| Failure::Error("the spawning thread died".into()))??;
        spawner = Some((thread, exit_tx));
        spawned
    } else {
        spawn(mechanism)?
    };
    report(&format!(
        "p {} {} {}",
        std::process::id(),
        spawned.pid,
        spawned.note
    ));
    if death == Death::Sigkill {
        // The orchestrator sends SIGKILL; nothing to do but wait for it.
        wait_for_eof();
        return Ok(());
    }
    if wait_for_order() != "go" {
        return Err(Failure::Error("no order from the orchestrator".into()));
    }
    match death {
        Death::Sigkill => unreachable!("handled above"),
        Death::Abort => abort_without_core(),
        Death::Drop => spawned.drop_handle(),
        Death::ThreadExit => {
            let (thread, exit_tx) = spawner.take().expect("spawned by a thread");
            drop(exit_tx);
            thread
                .join()
                .map_err(|_| Failure::Error("the spawning thread panicked".into()))?;
        }
    }
    report("d");
    wait_for_eof();
    // Whatever the handle does on drop no longer matters: the cell has been measured.
    std::mem::forget(spawned);
    Ok(())
}

/// `abort()`, as `panic = "abort"` ends a process, without leaving a core dump behind.
fn abort_without_core() -> ! {
    // SAFETY: Sets an attribute of this process; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `none` is a valid `rlimit` for the duration of the call.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
    std::process::abort()
}

fn error(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Error(format!("{what}: {e}"))
}

/// A `sh -c CHILD_SCRIPT` tokio command with standard input from `/dev/null`.
fn tokio_command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("sh");
    command.args(["-c", CHILD_SCRIPT]).stdin(Stdio::null());
    command
}

/// A current-thread tokio runtime, as a small program would use.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error("tokio runtime", e))
}

/// Spawns `sh -c CHILD_SCRIPT` with `mechanism`.
fn spawn(mechanism: Mechanism) -> Result<Spawned, Failure> {
    match mechanism {
        Mechanism::Std => {
            let child = std::process::Command::new("sh")
                .args(["-c", CHILD_SCRIPT])
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| error("spawn", e))?;
            Ok(plain(child, String::new()))
        }
        Mechanism::Tokio => {
            let rt = runtime()?;
            let child = {
                let _context = rt.enter();
                tokio_command()
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| error("spawn", e))?
            };
            let pid = child.id().unwrap_or(0);
            Ok(Spawned {
                handle: Some(Box::new(child)),
                runtime: Some(rt),
                pid,
                note: String::new(),
            })
        }
        Mechanism::ProcessWrap => {
            use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
            let rt = runtime()?;
            let child = {
                let _context = rt.enter();
                let mut command = CommandWrap::from(tokio_command());
                command.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
                command.spawn().map_err(|e| error("spawn", e))?
            };
            let pid = child.id().unwrap_or(0);
            Ok(Spawned {
                handle: Some(Box::new(child)),
                runtime: Some(rt),
                pid,
                note: String::new(),
            })
        }
        Mechanism::Processkit => {
            let rt = runtime()?;
            let group = processkit::ProcessGroup::new().map_err(|e| error("ProcessGroup", e))?;
            let note = group.mechanism().name().to_string();
            let child = {
                let _context = rt.enter();
                group
                    .spawn(tokio_command())
                    .map_err(|e| error("spawn", e))?
            };
            let pid = child.id().unwrap_or(0);
            Ok(Spawned {
                // Dropped in this order: the child's handle, then the group.
                handle: Some(Box::new((child, group))),
                runtime: Some(rt),
                pid,
                note,
            })
        }
        Mechanism::ProcesskitPdeathsig => {
            use processkit::StdioMode;
            let rt = runtime()?;
            let group = processkit::ProcessGroup::new().map_err(|e| error("ProcessGroup", e))?;
            let note = group.mechanism().name().to_string();
            let command = processkit::Command::new("sh")
                .args(["-c", CHILD_SCRIPT])
                .stdout(StdioMode::Inherit)
                .stderr(StdioMode::Inherit)
                .kill_on_parent_death();
            let running = rt
                .block_on(group.start(&command))
                .map_err(|e| error("start", e))?;
            let pid = running.pid().unwrap_or(0);
            Ok(Spawned {
                handle: Some(Box::new((running, group))),
                runtime: Some(rt),
                pid,
                note,
            })
        }
        Mechanism::Setpriv => {
            let child = std::process::Command::new("setpriv")
                .args(["--pdeathsig", "KILL", "--", "sh", "-c", CHILD_SCRIPT])
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| Failure::Unavailable(format!("setpriv: {e}")))?;
            Ok(plain(child, String::new()))
        }
        Mechanism::Bwrap => {
            let child = std::process::Command::new("bwrap")
                .args(BWRAP_ARGS)
                .args(["sh", "-c", CHILD_SCRIPT])
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| Failure::Unavailable(format!("bwrap: {e}")))?;
            Ok(plain(child, String::new()))
        }
        Mechanism::Autokill => spawn_autokill(true, false),
        Mechanism::AutokillTree => spawn_autokill(true, true),
        Mechanism::AutokillFallback => spawn_autokill(false, false),
        Mechanism::AutokillFallbackTree => spawn_autokill(false, true),
    }
}

/// bubblewrap's options, before the command: the whole file system as it is (so `/proc` is
/// still the orchestrator's), a new pid namespace, and `--die-with-parent`.
pub const BWRAP_ARGS: [&str; 6] = [
    "--die-with-parent",
    "--unshare-pid",
    "--dev-bind",
    "/",
    "/",
    "--",
];

fn plain(child: std::process::Child, note: String) -> Spawned {
    Spawned {
        pid: child.id(),
        handle: Some(Box::new(child)),
        runtime: None,
        note,
    }
}

/// autokill: with the kernel's guarantee (required, so that it cannot silently fall back), or
/// with the fallback. The note is the guarantee the child reports.
fn spawn_autokill(kernel: bool, tree: bool) -> Result<Spawned, Failure> {
    let mut command = autokill::Command::new("sh");
    command
        .args(["-c", CHILD_SCRIPT])
        .stdin(autokill::Stdio::null())
        .kill_tree(tree)
        .kernel_autokill(kernel);
    if kernel {
        command.require(autokill::Guarantee::Kernel);
    }
    let child = command.spawn().map_err(|e| match e {
        autokill::Error::GuaranteeUnavailable { reason, .. } => {
            Failure::Unavailable(format!("kernel guarantee unavailable: {reason}"))
        }
        autokill::Error::Namespace { .. } => Failure::Unavailable(e.to_string()),
        e => error("spawn", e),
    })?;
    Ok(Spawned {
        pid: child.id(),
        note: format!("{:?}", child.guarantee()),
        handle: Some(Box::new(child)),
        runtime: None,
    })
}
