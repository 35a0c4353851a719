// SPDX-License-Identifier: GPL-2.0

//! `autokill-run [--no-nnp] [--tree] [--] PROGRAM [ARGS...]`: runs PROGRAM tied to the lifetime
//! of this process with `clone3(CLONE_PIDFD_AUTOKILL)` (with `--tree`, PROGRAM and everything it
//! starts), forwards termination signals to it and exits with its status.
//!
//! Exit status: PROGRAM's, or 128 + the signal that killed it; 125 for a usage error or when
//! PROGRAM cannot be started (kernel without support, permission, resources), 126 when it cannot
//! be executed, 127 when it is not found, like shells and `env` do.

use std::ffi::OsString;
use std::io;
use std::mem::{self, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::c_int;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};
use std::ptr;

use autokill::{Child, Command, Error, Guarantee};

/// The program's name in messages.
const NAME: &str = "autokill-run";

/// The exit status for our own failures: usage errors, spawn errors.
const EXIT_FAILURE: u8 = 125;
/// The exit status when PROGRAM exists but cannot be executed.
const EXIT_CANNOT_EXECUTE: u8 = 126;
/// The exit status when PROGRAM is not found.
const EXIT_NOT_FOUND: u8 = 127;

/// The signals forwarded to PROGRAM.
const FORWARDED: [c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

const HELP: &str = "\
Usage: autokill-run [--no-nnp] [--tree] [--] PROGRAM [ARGS...]

Run PROGRAM tied to the lifetime of autokill-run: if autokill-run dies for any
reason (SIGKILL included), the kernel kills PROGRAM (clone3() with
CLONE_PIDFD_AUTOKILL, Linux 7.1+; on older kernels or where seccomp refuses
clone3(), PR_SET_PDEATHSIG(SIGKILL) from a thread that lives as long as
autokill-run). SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to
autokill-run by another process are forwarded to PROGRAM; those the terminal
sends (Ctrl-C, Ctrl-\\, hang-up) reach PROGRAM directly. Exits with PROGRAM's
exit status, or 128+N if signal N killed it.

PROGRAM runs with no_new_privs set (it cannot gain privileges through setuid
programs or file capabilities).

With --tree, every process PROGRAM starts dies with it too: PROGRAM runs as
pid 1 of a new pid namespace (with a user namespace mapping only your uid and
gid when you lack CAP_SYS_ADMIN), and the kernel kills the whole namespace
when PROGRAM dies. As pid 1 PROGRAM gets no signal it has no handler for, so a
forwarded signal PROGRAM neither catches nor ignores becomes SIGKILL (its
default action, termination, which pid 1 cannot get otherwise), Ctrl-C and
Ctrl-\\ included. /proc still shows the outer namespace.

Options:
  --no-nnp    do not set no_new_privs (needs CAP_SYS_ADMIN and Linux 7.1+:
              the fallback refuses it)
  --tree      kill PROGRAM's whole process tree with it
  -h, --help  show this help
  --version   show the version

Exit status: PROGRAM's; 125 if autokill-run fails (usage, kernel support,
permission); 126 if PROGRAM cannot be executed; 127 if it is not found.
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Action {
    Help,
    Version,
    Run {
        nnp: bool,
        tree: bool,
        program: OsString,
        args: Vec<OsString>,
    },
}

/// Parses the arguments after the program name. Options come before PROGRAM; everything from
/// PROGRAM on belongs to it.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Action, String> {
    let mut args = args.into_iter();
    let mut nnp = true;
    let mut tree = false;
    let program = loop {
        let Some(arg) = args.next() else {
            return Err("missing PROGRAM".to_owned());
        };
        match arg.to_str() {
            Some("--") => match args.next() {
                Some(program) => break program,
                None => return Err("missing PROGRAM after --".to_owned()),
            },
            Some("--no-nnp") => nnp = false,
            Some("--tree") => tree = true,
            Some("-h" | "--help") => return Ok(Action::Help),
            Some("--version") => return Ok(Action::Version),
            Some(option) if option.starts_with('-') && option != "-" => {
                return Err(format!("unknown option {option:?}"));
            }
            _ => break arg,
        }
    };
    Ok(Action::Run {
        nnp,
        tree,
        program,
        args: args.collect(),
    })
}

/// The exit status for a spawn error.
fn spawn_error_status(error: &Error) -> u8 {
    match error {
        Error::Exec { source, .. } if source.kind() == io::ErrorKind::NotFound => EXIT_NOT_FOUND,
        Error::Exec { .. } => EXIT_CANNOT_EXECUTE,
        _ => EXIT_FAILURE,
    }
}

/// The message for `error`: its own, then that of each [`source`](std::error::Error::source)
/// in turn, joined by `": "`, so that the `errno` behind a spawn error shows (the library's
/// messages leave the source out).
fn message(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        message.push_str(": ");
        message.push_str(&error.to_string());
        source = error.source();
    }
    message
}

/// Our exit status for PROGRAM's: its exit code, or 128 + the signal that killed it.
fn exit_status(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        // Only the low 8 bits of an exit code reach the parent anyway.
        code as u8
    } else if let Some(signal) = status.signal() {
        u8::try_from(128 + signal).unwrap_or(u8::MAX)
    } else {
        EXIT_FAILURE
    }
}

/// What PROGRAM does with a signal, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Disposition {
    Default,
    Ignored,
    Caught,
}

/// The disposition of `signal` in the process `pid` (`SigCgt` and `SigIgn` of its status);
/// `Caught` if it cannot be read, so that the signal is forwarded as is.
fn disposition(pid: u32, signal: c_int) -> Disposition {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Disposition::Caught;
    };
    let has = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
    };
    if has("SigCgt:") {
        Disposition::Caught
    } else if has("SigIgn:") {
        Disposition::Ignored
    } else {
        Disposition::Default
    }
}

/// Which signal, if any, goes on to PROGRAM (`child`) for `signal` with this `si_code`, sent by
/// `sender`; `tree` says whether PROGRAM is pid 1 of its own pid namespace, where it has
/// `disposition` for the signal.
///
/// Only signals sent by a process (`si_code` <= 0: `kill()`, `sigqueue()`, `tgkill()`, ...) and
/// not by PROGRAM itself (say with `kill(0, ...)` to its process group, which includes us), so
/// that PROGRAM does not get one signal twice. Those the kernel generates, like the terminal's
/// `SIGINT` on Ctrl-C, already went to the whole foreground process group, PROGRAM included.
///
/// Except for a tree's pid 1, which the kernel only gives signals it catches: one it neither
/// catches nor ignores would have terminated an ordinary process, so it becomes `SIGKILL`,
/// whoever sent it (PROGRAM itself aside).
fn forwarded_signal(
    signal: c_int,
    si_code: i32,
    sender: u32,
    child: u32,
    tree: Option<Disposition>,
) -> Option<c_int> {
    if sender == child && si_code <= 0 {
        return None;
    }
    match tree {
        Some(Disposition::Default) => Some(libc::SIGKILL),
        Some(Disposition::Ignored) => None,
        Some(Disposition::Caught) | None => (si_code <= 0).then_some(signal),
    }
}

/// The forwarded signals as a set.
fn forwarded_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set; `sigaddset` adds valid signals to it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for signal in FORWARDED {
            libc::sigaddset(set.as_mut_ptr(), signal);
        }
        set.assume_init()
    }
}

/// Blocks the forwarded signals and returns a signalfd that receives them.
///
/// Must happen before spawning, so that no signal is lost in between; the child starts with an
/// empty signal mask (the library resets it before `execve()`).
fn signalfd() -> io::Result<OwnedFd> {
    let set = forwarded_set();
    // SAFETY: Blocks a valid signal set in this (the only) thread.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    // SAFETY: Creates a new signalfd for a valid set.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal from the signalfd.
fn read_signal(signalfd: &OwnedFd) -> io::Result<libc::signalfd_siginfo> {
    // SAFETY: All-zero is a valid `signalfd_siginfo` (plain integers).
    let mut info: libc::signalfd_siginfo = unsafe { mem::zeroed() };
    let size = mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: Reads at most `size` bytes into `info`.
        let n = unsafe { libc::read(signalfd.as_raw_fd(), ptr::addr_of_mut!(info).cast(), size) };
        if n >= 0 {
            if n as usize != size {
                return Err(io::Error::other("short read from the signalfd"));
            }
            return Ok(info);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Waits for PROGRAM to exit, forwarding signals meanwhile; returns its exit status. `tree`
/// says whether PROGRAM is the init of its own pid namespace.
fn supervise(child: &mut Child, signalfd: &OwnedFd, tree: bool) -> io::Result<ExitStatus> {
    let mut fds = [
        libc::pollfd {
            fd: signalfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        // POLLIN once PROGRAM has exited; `wait()` then reaps it (the fallback) or waits the
        // moment until the kernel has reaped it and stored its status (CLONE_AUTOREAP).
        libc::pollfd {
            fd: child.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: Polls an array of two valid `pollfd`s.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ret < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if fds[1].revents != 0 {
            return child.wait();
        }
        if fds[0].revents & libc::POLLIN != 0 {
            let info = read_signal(signalfd)?;
            // The signal number of a forwarded signal fits an int.
            let signal = info.ssi_signo as c_int;
            let pid = child.id();
            let tree = tree.then(|| disposition(pid, signal));
            if let Some(signal) = forwarded_signal(signal, info.ssi_code, info.ssi_pid, pid, tree) {
                child.signal(signal)?;
            }
        }
    }
}

fn main() -> ExitCode {
    let action = match parse_args(std::env::args_os().skip(1)) {
        Ok(action) => action,
        Err(message) => {
            eprintln!("{NAME}: {message}\nTry '{NAME} --help' for more information.");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let (nnp, tree, program, args) = match action {
        Action::Help => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Action::Version => {
            println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Action::Run {
            nnp,
            tree,
            program,
            args,
        } => (nnp, tree, program, args),
    };

    let signalfd = match signalfd() {
        Ok(fd) => fd,
        Err(error) => {
            eprintln!("{NAME}: cannot set up signal forwarding: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Nothing less than PROGRAM's death with autokill-run, which is the point of running it:
    // without no_new_privs and CAP_SYS_ADMIN the fallback could only promise a kill on drop
    // (a setuid program clears PR_SET_PDEATHSIG), so that is refused.
    let spawned = Command::new(&program)
        .args(&args)
        .no_new_privs(nnp)
        .kill_tree(tree)
        .require(Guarantee::ParentThreadSignal)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            let message = message(&error);
            match &error {
                Error::PermissionDenied | Error::GuaranteeUnavailable { .. } => {
                    eprintln!("{NAME}: {message} (drop --no-nnp)");
                }
                _ => eprintln!("{NAME}: {message}"),
            }
            return ExitCode::from(spawn_error_status(&error));
        }
    };
    match supervise(&mut child, &signalfd, tree) {
        Ok(status) => ExitCode::from(exit_status(status)),
        Err(error) => {
            // Exiting closes the pidfd, which kills PROGRAM.
            eprintln!("{NAME}: cannot wait for {program:?}: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Action, String> {
        parse_args(args.iter().map(OsString::from))
    }

    fn run(nnp: bool, program: &str, args: &[&str]) -> Action {
        Action::Run {
            nnp,
            tree: false,
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
        }
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&["ls"]), Ok(run(true, "ls", &[])));
        assert_eq!(
            parse(&["ls", "-l", "--no-nnp"]),
            Ok(run(true, "ls", &["-l", "--no-nnp"]))
        );
        assert_eq!(
            parse(&["--no-nnp", "--", "--weird", "-x"]),
            Ok(run(false, "--weird", &["-x"]))
        );
        assert_eq!(parse(&["--", "--"]), Ok(run(true, "--", &[])));
        assert_eq!(parse(&["-"]), Ok(run(true, "-", &[])));
        assert_eq!(
            parse(&["--tree", "--no-nnp", "ls", "--tree"]),
            Ok(Action::Run {
                nnp: false,
                tree: true,
                program: "ls".into(),
                args: vec!["--tree".into()],
            })
        );
        assert_eq!(parse(&["--help", "ls"]), Ok(Action::Help));
        assert_eq!(parse(&["-h"]), Ok(Action::Help));
        assert_eq!(parse(&["--version"]), Ok(Action::Version));
        assert!(parse(&[]).is_err());
        assert!(parse(&["--"]).is_err());
        assert!(parse(&["--no-nnp"]).is_err());
        assert!(parse(&["--bogus", "ls"]).unwrap_err().contains("--bogus"));
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_status(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_status(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_status(ExitStatus::from_raw(libc::SIGKILL)), 137);
        assert_eq!(exit_status(ExitStatus::from_raw(libc::SIGTERM)), 143);
        // Killed by SIGSEGV with a core dump.
        assert_eq!(exit_status(ExitStatus::from_raw(libc::SIGSEGV | 0x80)), 139);

        let exec = |errno| Error::Exec {
            program: "x".into(),
            source: io::Error::from_raw_os_error(errno),
        };
        assert_eq!(spawn_error_status(&exec(libc::ENOENT)), 127);
        assert_eq!(spawn_error_status(&exec(libc::EACCES)), 126);
        assert_eq!(spawn_error_status(&exec(libc::ENOEXEC)), 126);
        assert_eq!(spawn_error_status(&Error::Unsupported), 125);
        assert_eq!(spawn_error_status(&Error::PermissionDenied), 125);
    }

    #[test]
    fn messages_include_the_source() {
        let exec = Error::Exec {
            program: "x".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            message(&exec),
            "cannot execute \"x\": No such file or directory (os error 2)"
        );
        let dir = Error::CurrentDir {
            dir: "/nowhere".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            message(&dir),
            "cannot change the child's working directory to \"/nowhere\": \
             Permission denied (os error 13)"
        );
        let io = Error::Io(io::Error::from_raw_os_error(libc::EAGAIN));
        assert_eq!(
            message(&io),
            "cannot spawn the child process: Resource temporarily unavailable (os error 11)"
        );
        // Without a source, the message alone.
        assert_eq!(message(&Error::Unsupported), Error::Unsupported.to_string());
        // A chain of more than one source.
        let nested = io::Error::other(Error::Exec {
            program: "y".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        });
        let outer = Error::Io(nested);
        assert_eq!(
            message(&outer),
            "cannot spawn the child process: cannot execute \"y\": Permission denied (os error 13)"
        );
    }

    #[test]
    fn forwarding_rule() {
        let term = libc::SIGTERM;
        let forward = |code, sender, tree| forwarded_signal(term, code, sender, 42, tree);
        // kill() and sigqueue() from another process.
        assert_eq!(forward(libc::SI_USER, 1, None), Some(term));
        assert_eq!(forward(-1, 1, None), Some(term));
        // The terminal (SI_KERNEL): PROGRAM got it directly.
        assert_eq!(forward(libc::SI_KERNEL, 0, None), None);
        // From PROGRAM itself.
        assert_eq!(forward(libc::SI_USER, 42, None), None);

        // A tree's pid 1 that catches it: as above.
        let caught = Some(Disposition::Caught);
        assert_eq!(forward(libc::SI_USER, 1, caught), Some(term));
        assert_eq!(forward(libc::SI_KERNEL, 0, caught), None);
        // One that does not: terminated, as its default action would, from any sender.
        let default = Some(Disposition::Default);
        assert_eq!(forward(libc::SI_USER, 1, default), Some(libc::SIGKILL));
        assert_eq!(forward(libc::SI_KERNEL, 0, default), Some(libc::SIGKILL));
        assert_eq!(forward(libc::SI_USER, 42, default), None);
        // One that ignores it: nothing.
        assert_eq!(forward(libc::SI_USER, 1, Some(Disposition::Ignored)), None);
    }

    #[test]
    fn dispositions() {
        // This test process: SIGPIPE ignored (the Rust runtime), SIGUSR2 default.
        let me = std::process::id();
        assert_eq!(disposition(me, libc::SIGPIPE), Disposition::Ignored);
        assert_eq!(disposition(me, libc::SIGUSR2), Disposition::Default);
        assert_eq!(disposition(u32::MAX, libc::SIGUSR2), Disposition::Caught);
    }
}
