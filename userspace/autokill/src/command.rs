// SPDX-License-Identifier: GPL-2.0

//! [`Command`]: the builder, what the parent prepares before `clone3()`, and the child's way from
//! `clone3()` to `execve()`.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::mem::{self, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::ptr;

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout};
use crate::error::Error;
use crate::sys;

/// The search path when the child's environment has no `PATH`: what glibc's `execvp()` uses
/// (`confstr(_CS_PATH)`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Where a child's standard input, output or error goes.
///
/// Used with [`Command::stdin`], [`Command::stdout`] and [`Command::stderr`], like
/// [`std::process::Stdio`].
#[derive(Debug)]
pub struct Stdio(StdioKind);

#[derive(Debug)]
enum StdioKind {
    Inherit,
    Null,
    Piped,
    Fd(OwnedFd),
}

impl Stdio {
    /// The child inherits the parent's descriptor (the default).
    pub fn inherit() -> Self {
        Stdio(StdioKind::Inherit)
    }

    /// The child's descriptor is `/dev/null`.
    pub fn null() -> Self {
        Stdio(StdioKind::Null)
    }

    /// A new pipe connects the child with the parent, whose end is in [`Child::stdin`],
    /// [`Child::stdout`] or [`Child::stderr`].
    pub fn piped() -> Self {
        Stdio(StdioKind::Piped)
    }
}

/// The child gets a duplicate of the descriptor; the [`Command`] keeps this one until it is
/// dropped or the stream is set again.
impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Self {
        Stdio(StdioKind::Fd(fd))
    }
}

/// The child gets a duplicate of the file's descriptor.
impl From<File> for Stdio {
    fn from(file: File) -> Self {
        OwnedFd::from(file).into()
    }
}

/// Connects another child's standard input, e.g. to build a pipeline.
impl From<ChildStdin> for Stdio {
    fn from(stdin: ChildStdin) -> Self {
        OwnedFd::from(stdin).into()
    }
}

/// Connects another child's standard output, e.g. to build a pipeline.
impl From<ChildStdout> for Stdio {
    fn from(stdout: ChildStdout) -> Self {
        OwnedFd::from(stdout).into()
    }
}

/// Connects another child's standard error.
impl From<ChildStderr> for Stdio {
    fn from(stderr: ChildStderr) -> Self {
        OwnedFd::from(stderr).into()
    }
}

/// A builder for a child process that dies with its [`Child`] handle, in the style of
/// [`std::process::Command`].
///
/// [`spawn`](Command::spawn) creates the child with
/// `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL)` (plus `CLONE_NNP` unless
/// [`nnp(false)`](Command::nnp)), then executes the program in it.
///
/// Differences from [`std::process::Command`]:
///
/// - The child is killed (`SIGKILL`, by the kernel) when its [`Child`] is dropped or the parent
///   process dies, however it dies.
/// - By default the child runs with `no_new_privs` set: neither it nor anything it executes can
///   gain privileges through `execve()` (set-user-ID bits and file capabilities are ignored).
/// - A program name without `/` is looked up in the `PATH` of the child's environment (or
///   `/bin:/usr/bin` without one) by the parent, which hands the child the list of candidates
///   to try in order, like `execvp()` but without its `/bin/sh` fallback for files that are not
///   executables (`ENOEXEC`).
/// - The child starts with an empty signal mask and every caught signal reset to its default
///   action, and so does `SIGPIPE`, which the Rust runtime ignores (as `std` does). Other
///   ignored signals stay ignored, as across `execve()` (that is how `nohup` works).
#[derive(Debug)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
    nnp: bool,
}

impl Command {
    /// A command that runs `program` with no arguments, the parent's environment and working
    /// directory, inherited standard I/O and `no_new_privs` on.
    ///
    /// A `program` without `/` is searched for in `PATH`; `argv[0]` is `program` as given.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: Stdio::inherit(),
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
            nnp: true,
        }
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, value: V) -> &mut Self {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (key, value) in vars {
            self.env(key, value);
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Self {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child's environment empty instead of with the parent's, and forgets the
    /// variables set so far.
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// Relative program paths (with a `/`) and relative `PATH` entries are then resolved
    /// against it, as `execvp()` after `chdir()` would.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets the child's standard input.
    pub fn stdin<T: Into<Stdio>>(&mut self, stdin: T) -> &mut Self {
        self.stdin = stdin.into();
        self
    }

    /// Sets the child's standard output.
    pub fn stdout<T: Into<Stdio>>(&mut self, stdout: T) -> &mut Self {
        self.stdout = stdout.into();
        self
    }

    /// Sets the child's standard error.
    pub fn stderr<T: Into<Stdio>>(&mut self, stderr: T) -> &mut Self {
        self.stderr = stderr.into();
        self
    }

    /// Whether the child gets `no_new_privs` (`CLONE_NNP`); on by default.
    ///
    /// With `false` the child may gain privileges by executing set-user-ID programs, so the
    /// kernel only allows it to a caller with `CAP_SYS_ADMIN`: otherwise
    /// [`spawn`](Command::spawn) fails with [`Error::PermissionDenied`].
    pub fn nnp(&mut self, nnp: bool) -> &mut Self {
        self.nnp = nnp;
        self
    }

    /// The program as given to [`Command::new`].
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, without the program.
    pub fn get_args(&self) -> impl ExactSizeIterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The working directory set with [`Command::current_dir`].
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// Whether the child gets `no_new_privs`, see [`Command::nnp`].
    pub fn get_nnp(&self) -> bool {
        self.nnp
    }

    /// Creates the child and executes the program in it.
    ///
    /// Returns once the program has been executed (or failed to be): an [`Error::Exec`] carries
    /// the `errno` of the failed `execve()`. The child is killed when the returned [`Child`] is
    /// dropped, see there.
    pub fn spawn(&mut self) -> Result<Child, Error> {
        let (plan, parent) = self.prepare()?;
        // SAFETY: `exec_child` is async-signal-safe and never returns; `plan` outlives the call.
        let (pid, pidfd) = unsafe { clone_autokill(self.nnp, || exec_child(&plan)) }?;
        // Close the child's ends, among them the write end of the report pipe, so that reading
        // its read end ends when the child has executed the program or exited.
        drop(plan);
        match read_report(parent.report)? {
            None => Ok(Child::new(
                pid,
                pidfd,
                parent.stdin,
                parent.stdout,
                parent.stderr,
            )),
            // The child exits by itself; dropping `pidfd` has nothing left to kill.
            Some(report) => Err(self.report_error(report)),
        }
    }

    /// The child's environment: the parent's (unless cleared) with the changes applied.
    fn child_env(&self) -> BTreeMap<OsString, OsString> {
        let mut env: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (key, value) in &self.env {
            match value {
                Some(value) => env.insert(key.clone(), value.clone()),
                None => env.remove(key),
            };
        }
        env
    }

    /// Prepares everything the child needs between `clone3()` and `execve()`.
    fn prepare(&self) -> Result<(ExecPlan, ParentSide), Error> {
        let argv = std::iter::once(cstring(&self.program, "the program"))
            .chain(self.args.iter().map(|arg| cstring(arg, "an argument")))
            .collect::<Result<Vec<_>, _>>()?;

        for key in self.env.keys() {
            if key.is_empty() || key.as_bytes().contains(&b'=') {
                return Err(invalid_input(format!(
                    "the environment variable name {key:?} is empty or contains '='"
                )));
            }
        }
        let env = self.child_env();
        let candidates = path_candidates(&self.program, env.get(OsStr::new("PATH")))
            .into_iter()
            .map(|path| cstring(path.as_os_str(), "the program"))
            .collect::<Result<Vec<_>, _>>()?;
        let envp = env
            .into_iter()
            .map(|(key, value)| {
                let mut entry = key.into_vec();
                entry.push(b'=');
                entry.extend(value.into_vec());
                cstring(OsStr::from_bytes(&entry), "an environment variable")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = match &self.cwd {
            Some(dir) => Some(cstring(dir.as_os_str(), "the working directory")?),
            None => None,
        };

        let (child_stdin, parent_stdin) = prepare_stdio(&self.stdin, Direction::ToChild)?;
        let (child_stdout, parent_stdout) = prepare_stdio(&self.stdout, Direction::FromChild)?;
        let (child_stderr, parent_stderr) = prepare_stdio(&self.stderr, Direction::FromChild)?;
        let (report_read, report_write) = pipe()?;

        let mut sigmask = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `sigemptyset` initialises the set it is given.
        unsafe { libc::sigemptyset(sigmask.as_mut_ptr()) };
        // SAFETY: Initialised just above.
        let sigmask = unsafe { sigmask.assume_init() };
        // SAFETY: All-zero is a valid `struct sigaction`: `SIG_DFL`, no flags, an empty mask.
        let mut default_action: libc::sigaction = unsafe { mem::zeroed() };
        default_action.sa_sigaction = libc::SIG_DFL;

        let plan = ExecPlan {
            argv: CStringArray::new(argv),
            envp: CStringArray::new(envp),
            candidates: CStringArray::new(candidates),
            cwd,
            stdio: [child_stdin, child_stdout, child_stderr],
            report: above_stdio(report_write)?,
            sigmask,
            default_action,
            max_signal: libc::SIGRTMAX(),
        };
        let parent = ParentSide {
            stdin: parent_stdin.map(ChildStdin::from_fd),
            stdout: parent_stdout.map(ChildStdout::from_fd),
            stderr: parent_stderr.map(ChildStderr::from_fd),
            report: report_read,
        };
        Ok((plan, parent))
    }

    /// The error for what the child reported before it exited.
    fn report_error(&self, report: [u8; 4]) -> Error {
        let (step, errno) = decode_report(report);
        let source = io::Error::from_raw_os_error(errno);
        match step {
            STEP_EXEC => Error::Exec {
                program: self.program.clone(),
                source,
            },
            STEP_CHDIR => Error::CurrentDir {
                dir: self.cwd.clone().unwrap_or_default(),
                source,
            },
            _ => Error::Io(source),
        }
    }
}

/// An `InvalidInput` [`Error::Io`].
fn invalid_input(message: String) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, message))
}

/// `s` as a C string, or an error that names `what` if it contains a NUL byte.
fn cstring(s: &OsStr, what: &str) -> Result<CString, Error> {
    CString::new(s.as_bytes())
        .map_err(|_| invalid_input(format!("{what} {s:?} contains a NUL byte")))
}

/// The paths `execve()` tries in turn for `program`, with `path` the child's `PATH`.
///
/// A program with a `/` is used as is; otherwise each `PATH` entry is tried in order, an empty
/// one meaning the working directory, like `execvp()` does. An empty program has no candidates
/// (the child then reports `ENOENT`).
fn path_candidates(program: &OsStr, path: Option<&OsString>) -> Vec<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return vec![PathBuf::from(program)];
    }
    if program.is_empty() {
        return Vec::new();
    }
    let path = path.map_or(DEFAULT_PATH.as_bytes(), |path| path.as_bytes());
    path.split(|&byte| byte == b':')
        .map(|dir| Path::new(OsStr::from_bytes(dir)).join(program))
        .collect()
}

/// A NULL-terminated array of pointers to C strings, as `execve()` takes, with the strings.
struct CStringArray {
    /// What `ptrs` points to; only read by tests, otherwise kept for ownership.
    #[cfg_attr(not(test), allow(dead_code))]
    strings: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl CStringArray {
    fn new(strings: Vec<CString>) -> Self {
        // The pointers stay valid when `strings` moves: each `CString` owns its heap buffer.
        let ptrs = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(ptr::null()))
            .collect();
        CStringArray { strings, ptrs }
    }

    /// The NULL-terminated array.
    fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// Everything the child uses between `clone3()` and `execve()`, prepared by the parent so that
/// the child only makes system calls on it.
struct ExecPlan {
    argv: CStringArray,
    envp: CStringArray,
    /// The paths to try, in order.
    candidates: CStringArray,
    cwd: Option<CString>,
    /// What to `dup2()` onto descriptors 0, 1 and 2 (all numbered above 2 and close-on-exec).
    stdio: [Option<OwnedFd>; 3],
    /// The write end of the report pipe (above 2 and close-on-exec).
    report: OwnedFd,
    /// The signal mask the program starts with.
    sigmask: libc::sigset_t,
    /// `SIG_DFL`, for resetting caught signals.
    default_action: libc::sigaction,
    /// The highest signal number.
    max_signal: c_int,
}

/// The parent's ends of the pipes.
struct ParentSide {
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// The read end of the report pipe: EOF when the child executed the program, or 4 bytes.
    report: OwnedFd,
}

/// Which way a standard stream flows.
#[derive(Clone, Copy)]
enum Direction {
    ToChild,
    FromChild,
}

/// The child's descriptor for a standard stream, and the parent's end if it is piped.
fn prepare_stdio(
    stdio: &Stdio,
    direction: Direction,
) -> io::Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    Ok(match &stdio.0 {
        StdioKind::Inherit => (None, None),
        StdioKind::Null => {
            let null = File::options().read(true).write(true).open("/dev/null")?;
            (Some(above_stdio(null.into())?), None)
        }
        StdioKind::Piped => {
            let (read, write) = pipe()?;
            match direction {
                Direction::ToChild => (Some(above_stdio(read)?), Some(write)),
                Direction::FromChild => (Some(above_stdio(write)?), Some(read)),
            }
        }
        StdioKind::Fd(fd) => (Some(dup_above_stdio(fd.as_fd())?), None),
    })
}

/// A new pipe, both ends close-on-exec: `(read, write)`.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: Both descriptors are new and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A close-on-exec duplicate of `fd` numbered 3 or above.
fn dup_above_stdio(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: `F_DUPFD_CLOEXEC` only reads the descriptor, which is open as it is borrowed.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a new descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `fd`, moved to a number above 2 if it is 0, 1 or 2 (when the parent has closed one of
/// those), so that the child's `dup2()` onto 0, 1 and 2 cannot overwrite a descriptor it still
/// needs. Close-on-exec is kept.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        Ok(fd)
    } else {
        dup_above_stdio(fd.as_fd())
    }
}

/// The steps of the child that can fail, reported in the top byte of the 4-byte report; the
/// rest is `errno`.
const STEP_EXEC: u32 = 0;
/// `dup2()` of a standard stream failed.
const STEP_STDIO: u32 = 1;
/// `chdir()` failed.
const STEP_CHDIR: u32 = 2;
/// Where the step goes in the report.
const STEP_SHIFT: u32 = 24;

/// The 4 bytes the child writes when `step` failed with `errno`.
fn encode_report(step: u32, errno: c_int) -> [u8; 4] {
    // `errno` values are small and positive; the mask keeps a bogus one out of the step byte.
    ((step << STEP_SHIFT) | (errno as u32 & ((1 << STEP_SHIFT) - 1))).to_ne_bytes()
}

/// The step and `errno` of a report.
fn decode_report(report: [u8; 4]) -> (u32, c_int) {
    let word = u32::from_ne_bytes(report);
    (
        word >> STEP_SHIFT,
        (word & ((1 << STEP_SHIFT) - 1)) as c_int,
    )
}

/// Reads the report pipe to its end: `None` on EOF without data (the program was executed),
/// else the 4 bytes the child wrote before `_exit(127)`.
fn read_report(fd: OwnedFd) -> io::Result<Option<[u8; 4]>> {
    let mut file = File::from(fd);
    let mut report = [0; 4];
    let mut filled = 0;
    while filled < report.len() {
        match file.read(&mut report[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    match filled {
        0 => Ok(None),
        4 => Ok(Some(report)),
        n => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the child wrote {n} bytes instead of 4 about why it could not execute"),
        )),
    }
}

/// Blocks all signals of the calling thread until dropped, which restores the previous mask.
///
/// Around `clone3()`, so that no signal handler of the parent (maybe Rust code that allocates or
/// takes locks) runs in the child before it has reset the handlers.
struct SignalsBlocked {
    old: libc::sigset_t,
}

impl SignalsBlocked {
    fn new() -> io::Result<Self> {
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `sigfillset` initialises `all`; `pthread_sigmask` reads it and initialises
        // `old` when it succeeds.
        let ret = unsafe {
            libc::sigfillset(all.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), old.as_mut_ptr())
        };
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(SignalsBlocked {
            // SAFETY: `pthread_sigmask` succeeded, so it filled in `old`.
            old: unsafe { old.assume_init() },
        })
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: `self.old` is a valid signal set; restoring it cannot fail.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, ptr::null_mut()) };
    }
}

/// Creates a child with `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL)`, plus
/// `CLONE_NNP` if `nnp`, exit signal 0 and no new stack (fork-like: the child runs on a copy of
/// the caller's memory), and runs `child` in it. Returns the child's pid and its autokill pidfd.
///
/// # Safety
///
/// `child` runs in the new, single-threaded copy of the process, with all signals blocked: it
/// must only do async-signal-safe things (no allocation, no locks, no panics) and should end with
/// `execve()` or `_exit()` (if it returns, the child calls `_exit(127)`).
pub(crate) unsafe fn clone_autokill(
    nnp: bool,
    child: impl FnOnce(),
) -> Result<(libc::pid_t, OwnedFd), Error> {
    let mut flags = sys::CLONE_PIDFD | sys::CLONE_AUTOREAP | sys::CLONE_PIDFD_AUTOKILL;
    if nnp {
        flags |= sys::CLONE_NNP;
    }
    let mut pidfd: c_int = -1;
    let mut args = sys::CloneArgs {
        flags,
        pidfd: ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: 0,
        ..sys::CloneArgs::default()
    };
    let blocked = SignalsBlocked::new()?;
    // SAFETY: No `CLONE_VM` and no stack: the child runs on its own copy of this stack and
    // memory, like after `fork()`; the caller guarantees that `child` is async-signal-safe.
    let ret = unsafe { sys::clone3_raw(&mut args, mem::size_of::<sys::CloneArgs>()) };
    if ret == 0 {
        child();
        // SAFETY: `child` should not return; if it does, end the child without running anything
        // of the parent's.
        unsafe { libc::_exit(127) };
    }
    let error = io::Error::last_os_error();
    drop(blocked);
    if ret < 0 {
        return Err(Error::from_clone3(error, nnp));
    }
    // SAFETY: `clone3()` succeeded with `CLONE_PIDFD`, so `pidfd` is a new descriptor that
    // nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // The kernel returns a pid in a `long`.
    Ok((ret as libc::pid_t, pidfd))
}

/// The calling thread's `errno` (async-signal-safe).
fn errno() -> c_int {
    // SAFETY: `__errno_location` returns the address of this thread's `errno`.
    unsafe { *libc::__errno_location() }
}

/// Writes the report for `step` failing with `errno` and exits with status 127.
///
/// Only in the child: async-signal-safe.
fn fail(report: RawFd, step: u32, errno: c_int) -> ! {
    let report_bytes = encode_report(step, errno);
    loop {
        // SAFETY: Writes 4 bytes from a live array to a descriptor; a bad descriptor only fails.
        let n = unsafe { libc::write(report, report_bytes.as_ptr().cast(), report_bytes.len()) };
        if n >= 0 || self::errno() != libc::EINTR {
            break;
        }
    }
    // SAFETY: Ends the process without running anything of the parent's (atexit handlers,
    // stdio buffers).
    unsafe { libc::_exit(127) }
}

/// The child's way from `clone3()` to `execve()`: resets signal handlers, sets up standard I/O
/// and the working directory, sets the signal mask, then tries the candidate paths in turn.
/// On failure it reports the step and `errno` through `plan.report` and exits with status 127.
///
/// Async-signal-safe: only system calls on data the parent prepared, no allocation, no locks,
/// no panics. Meant to run only in a new child process (after `clone3()` or `fork()`).
fn exec_child(plan: &ExecPlan) -> ! {
    let report = plan.report.as_raw_fd();

    // A handler of the parent's must not run in the child; signals caught by the parent get
    // their default action again (`execve()` would do that too, but only at its end). Ignored
    // signals stay ignored, except `SIGPIPE`, which the Rust runtime ignores.
    for signal in 1..=plan.max_signal {
        let mut action = MaybeUninit::<libc::sigaction>::uninit();
        // SAFETY: Queries the action of `signal` into `action`; fails for invalid signals.
        let queried = unsafe { libc::sigaction(signal, ptr::null(), action.as_mut_ptr()) } == 0;
        if queried {
            // SAFETY: `sigaction` succeeded, so `action` is initialised.
            let handler = unsafe { action.assume_init_ref() }.sa_sigaction;
            if handler != libc::SIG_DFL && (handler != libc::SIG_IGN || signal == libc::SIGPIPE) {
                // SAFETY: Sets the default action from a valid `struct sigaction`.
                unsafe { libc::sigaction(signal, &plan.default_action, ptr::null_mut()) };
            }
        }
    }

    // All prepared descriptors are above 2 and close-on-exec, so the order does not matter and
    // `dup2()` leaves close-on-exec off on 0, 1 and 2.
    for (target, fd) in (0..).zip(&plan.stdio) {
        if let Some(fd) = fd {
            // SAFETY: Plain system call on descriptors.
            if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
                fail(report, STEP_STDIO, errno());
            }
        }
    }

    if let Some(dir) = &plan.cwd {
        // SAFETY: `dir` is a NUL-terminated string.
        if unsafe { libc::chdir(dir.as_ptr()) } != 0 {
            fail(report, STEP_CHDIR, errno());
        }
    }

    // SAFETY: Sets the mask from a valid signal set.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &plan.sigmask, ptr::null_mut()) };

    // Like `execvp()`: go on with the next candidate if this one does not exist or cannot be
    // searched; report `EACCES` if some candidate had it and none worked, else the last error.
    // Any other error decides.
    let error = 'search: {
        let mut eacces = false;
        let mut last = libc::ENOENT;
        for &path in plan.candidates.ptrs.iter().take_while(|p| !p.is_null()) {
            // SAFETY: `path` and the strings of the NULL-terminated arrays `argv` and `envp`
            // are NUL-terminated strings alive in `plan`. Returns only on failure.
            unsafe { libc::execve(path, plan.argv.as_ptr(), plan.envp.as_ptr()) };
            last = errno();
            match last {
                libc::EACCES => eacces = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => break 'search last,
            }
        }
        if eacces {
            libc::EACCES
        } else {
            last
        }
    };
    fail(report, STEP_EXEC, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn strings(array: &CStringArray) -> Vec<String> {
        array
            .strings
            .iter()
            .map(|s| s.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn builder_records_everything() {
        let mut cmd = Command::new("prog");
        cmd.arg("a")
            .args(["b", "c"])
            .current_dir("/tmp")
            .nnp(false)
            .stdin(Stdio::null());
        assert_eq!(cmd.get_program(), "prog");
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/tmp")));
        assert!(!cmd.get_nnp());
        assert!(Command::new("x").get_nnp(), "NNP is on by default");
    }

    #[test]
    fn argv_starts_with_the_program_as_given() {
        let mut cmd = Command::new("echo");
        cmd.args(["hello", "", "wörld"]);
        let (plan, _) = cmd.prepare().unwrap();
        assert_eq!(strings(&plan.argv), ["echo", "hello", "", "wörld"]);
        assert_eq!(plan.argv.ptrs.len(), 5);
        assert!(plan.argv.ptrs[4].is_null());
        assert!(plan.envp.ptrs.last().unwrap().is_null());
        assert!(plan.candidates.ptrs.last().unwrap().is_null());
    }

    #[test]
    fn environment_changes() {
        let mut cmd = Command::new("x");
        cmd.env_clear()
            .env("A", "1")
            .envs([("B", "2"), ("C", "3")])
            .env_remove("B")
            .env("A", "4");
        let (plan, _) = cmd.prepare().unwrap();
        assert_eq!(strings(&plan.envp), ["A=4", "C=3"]);

        // env_clear() forgets earlier changes.
        let mut cmd = Command::new("x");
        cmd.env("GONE", "1").env_clear().env("KEPT", "1");
        assert_eq!(strings(&cmd.prepare().unwrap().0.envp), ["KEPT=1"]);

        // Without env_clear() the parent's environment is the base.
        let inherited = std::env::vars_os().count();
        let mut cmd = Command::new("x");
        cmd.env("AUTOKILL_TEST_NEW_VARIABLE", "yes");
        let envp = strings(&cmd.prepare().unwrap().0.envp);
        assert_eq!(envp.len(), inherited + 1);
        assert!(envp.contains(&"AUTOKILL_TEST_NEW_VARIABLE=yes".to_owned()));
        if let Some(path) = std::env::var_os("PATH") {
            let mut cmd = Command::new("x");
            cmd.env_remove("PATH");
            let envp = strings(&cmd.prepare().unwrap().0.envp);
            assert_eq!(envp.len(), inherited - 1);
            assert!(!envp.contains(&format!("PATH={}", path.to_str().unwrap())));
        }
    }

    #[test]
    fn nul_bytes_and_bad_names_are_invalid_input() {
        let invalid = |cmd: &mut Command| match cmd.prepare() {
            Err(Error::Io(error)) => {
                assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
                error.to_string()
            }
            other => panic!("expected InvalidInput, got {:?}", other.err()),
        };
        assert!(invalid(Command::new("a\0b").env_clear()).contains("NUL"));
        assert!(invalid(Command::new("a").arg("b\0")).contains("NUL"));
        assert!(invalid(Command::new("a").env("K", "v\0")).contains("NUL"));
        assert!(invalid(Command::new("a").current_dir("/\0")).contains("NUL"));
        assert!(invalid(Command::new("a").env("K=V", "v")).contains("'='"));
        assert!(invalid(Command::new("a").env("", "v")).contains("'='"));
    }

    #[test]
    fn path_resolution() {
        let path = |s: &str| Some(OsString::from(s));
        let names = |v: Vec<PathBuf>| {
            v.into_iter()
                .map(|p| p.into_os_string().into_string().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(path_candidates(
                "ls".as_ref(),
                path("/a:/b/::rel:/c/").as_ref()
            )),
            ["/a/ls", "/b/ls", "ls", "rel/ls", "/c/ls"]
        );
        // With a slash: as is, PATH is not used.
        assert_eq!(
            names(path_candidates("./ls".as_ref(), path("/a").as_ref())),
            ["./ls"]
        );
        assert_eq!(
            names(path_candidates("/bin/ls".as_ref(), None)),
            ["/bin/ls"]
        );
        // No PATH: glibc's default.
        assert_eq!(
            names(path_candidates("ls".as_ref(), None)),
            ["/bin/ls", "/usr/bin/ls"]
        );
        // An empty PATH is one empty entry: the working directory.
        assert_eq!(
            names(path_candidates("ls".as_ref(), path("").as_ref())),
            ["ls"]
        );
        assert!(path_candidates("".as_ref(), path("/a").as_ref()).is_empty());
    }

    #[test]
    fn the_childs_path_decides() {
        let mut cmd = Command::new("prog");
        cmd.env("PATH", "/only/here");
        assert_eq!(
            strings(&cmd.prepare().unwrap().0.candidates),
            ["/only/here/prog"]
        );
        cmd.env_remove("PATH");
        assert_eq!(
            strings(&cmd.prepare().unwrap().0.candidates),
            ["/bin/prog", "/usr/bin/prog"]
        );
    }

    #[test]
    fn report_encoding() {
        for (step, errno) in [
            (STEP_EXEC, libc::ENOENT),
            (STEP_STDIO, libc::EBADF),
            (STEP_CHDIR, libc::ENOTDIR),
            (STEP_EXEC, 4095),
        ] {
            assert_eq!(decode_report(encode_report(step, errno)), (step, errno));
        }
        // A plain errno is an exec failure.
        assert_eq!(
            decode_report(libc::EACCES.to_ne_bytes()),
            (STEP_EXEC, libc::EACCES)
        );
        let cmd = Command::new("prog");
        match cmd.report_error(encode_report(STEP_EXEC, libc::ENOENT)) {
            Error::Exec { program, source } => {
                assert_eq!(program, "prog");
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cmd.report_error(encode_report(STEP_CHDIR, libc::ENOENT)),
            Error::CurrentDir { .. }
        ));
        assert!(matches!(
            cmd.report_error(encode_report(STEP_STDIO, libc::EBADF)),
            Error::Io(_)
        ));
    }

    #[test]
    fn report_pipe_reading() {
        // EOF without data: the program was executed.
        let (read, write) = pipe().unwrap();
        drop(write);
        assert_eq!(read_report(read).unwrap(), None);
        // Four bytes: the errno.
        let (read, write) = pipe().unwrap();
        File::from(write)
            .write_all(&encode_report(STEP_EXEC, libc::ENOEXEC))
            .unwrap();
        assert_eq!(
            read_report(read).unwrap(),
            Some(encode_report(STEP_EXEC, libc::ENOEXEC))
        );
        // A short report is an error, not success.
        let (read, write) = pipe().unwrap();
        File::from(write).write_all(&[1, 2]).unwrap();
        assert_eq!(
            read_report(read).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn descriptors_for_the_child_are_above_stdio_and_cloexec() {
        let mut cmd = Command::new("x");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(File::open("/dev/null").unwrap());
        let (plan, parent) = cmd.prepare().unwrap();
        for fd in plan.stdio.iter().flatten().chain([&plan.report]) {
            assert!(fd.as_raw_fd() > 2);
            // SAFETY: Reads the descriptor flags of an open descriptor.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert!(parent.stdin.is_some());
        assert!(parent.stdout.is_none() && parent.stderr.is_none());

        let fd: OwnedFd = File::open("/dev/null").unwrap().into();
        let low = above_stdio(fd).unwrap();
        assert!(low.as_raw_fd() > 2);
    }

    /// A child created with plain `fork()` running the same path as after `clone3()`, so that
    /// the child's side can be tested on kernels without `CLONE_PIDFD_AUTOKILL`.
    struct Forked {
        pid: libc::pid_t,
        result: Result<(), Error>,
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
    }

    impl Forked {
        fn run(cmd: &Command) -> Forked {
            let (plan, parent) = cmd.prepare().unwrap();
            let blocked = SignalsBlocked::new().unwrap();
            // SAFETY: The child only runs the async-signal-safe `exec_child`.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                exec_child(&plan);
            }
            drop(blocked);
            assert!(pid > 0, "fork: {}", io::Error::last_os_error());
            drop(plan);
            let result = match read_report(parent.report).unwrap() {
                None => Ok(()),
                Some(report) => Err(cmd.report_error(report)),
            };
            Forked {
                pid,
                result,
                stdin: parent.stdin,
                stdout: parent.stdout,
            }
        }

        fn output(&mut self) -> String {
            let mut out = String::new();
            self.stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            out
        }

        fn wait(self) -> ExitStatus {
            let mut status = 0;
            // SAFETY: Waits for our own (plain, not autoreaped) child.
            let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            assert_eq!(ret, self.pid);
            ExitStatus::from_raw(status)
        }
    }

    fn temp_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "autokill-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_file(path: &Path, contents: &str, mode: u32) {
        std::fs::write(path, contents).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn exec_success_reports_nothing() {
        let forked = Forked::run(Command::new("true").stdout(Stdio::null()));
        assert!(forked.result.is_ok());
        assert_eq!(forked.wait().code(), Some(0));
    }

    #[test]
    fn exec_failure_reports_enoent() {
        for program in [
            "/nonexistent/autokill-test",
            "autokill-test-no-such-program",
        ] {
            let forked = Forked::run(&Command::new(program));
            match &forked.result {
                Err(Error::Exec { program: p, source }) => {
                    assert_eq!(p, program);
                    assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
                }
                other => panic!("{program}: {other:?}"),
            }
            assert_eq!(forked.wait().code(), Some(127));
        }
    }

    #[test]
    fn exec_failure_reports_eacces_and_enoexec() {
        let dir = temp_dir();
        let not_executable = dir.join("not-executable");
        write_file(&not_executable, "#!/bin/sh\n", 0o644);
        let not_a_program = dir.join("not-a-program");
        write_file(&not_a_program, "just text\n", 0o755);
        for (path, errno) in [
            (&not_executable, libc::EACCES),
            (&not_a_program, libc::ENOEXEC),
        ] {
            let forked = Forked::run(&Command::new(path));
            match &forked.result {
                Err(Error::Exec { source, .. }) => assert_eq!(source.raw_os_error(), Some(errno)),
                other => panic!("{path:?}: {other:?}"),
            }
            assert_eq!(forked.wait().code(), Some(127));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn path_search_skips_what_it_cannot_execute() {
        let dir = temp_dir();
        write_file(&dir.join("true"), "#!/bin/sh\nexit 1\n", 0o644);
        write_file(&dir.join("only-here"), "#!/bin/sh\nexit 1\n", 0o644);
        let path = format!("/nonexistent:{}:/usr/bin:/bin", dir.display());

        // Not executable in the first directory, found further on: as execvp().
        let forked = Forked::run(Command::new("true").env("PATH", &path));
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        assert_eq!(forked.wait().code(), Some(0));

        // Only a non-executable candidate: EACCES, not ENOENT.
        let forked = Forked::run(Command::new("only-here").env("PATH", &path));
        match &forked.result {
            Err(Error::Exec { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::EACCES))
            }
            other => panic!("{other:?}"),
        }
        forked.wait();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn child_gets_stdio_environment_and_directory() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read line; echo \"$line|$FOO|${BAR-unset}|$(pwd)\""])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("FOO", "foo")
            .current_dir("/proc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut forked = Forked::run(&cmd);
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        let mut stdin = forked.stdin.take().unwrap();
        stdin.write_all(b"input\n").unwrap();
        drop(stdin);
        assert_eq!(forked.output(), "input|foo|unset|/proc\n");
        assert_eq!(forked.wait().code(), Some(0));
    }

    #[test]
    fn stdio_null_and_from_fd() {
        let dir = temp_dir();
        let file = dir.join("out");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; echo to-file"])
            .stdin(Stdio::null())
            .stdout(File::create(&file).unwrap());
        let forked = Forked::run(&cmd);
        assert!(forked.result.is_ok());
        assert_eq!(forked.wait().code(), Some(0));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "to-file\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn working_directory_failure_is_reported() {
        let forked = Forked::run(Command::new("true").current_dir("/nonexistent/dir"));
        match &forked.result {
            Err(Error::CurrentDir { dir, source }) => {
                assert_eq!(dir, Path::new("/nonexistent/dir"));
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(forked.wait().code(), Some(127));
    }

    /// The `Sig*` masks of `/proc/self/status` as the child sees them.
    fn signal_masks(out: &str) -> (u64, u64) {
        let mask = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        (mask("SigBlk:"), mask("SigIgn:"))
    }

    #[test]
    fn child_starts_with_empty_signal_mask_and_default_sigpipe() {
        // Block SIGUSR1 in this thread (which the child would inherit); the test harness, like
        // every Rust program, ignores SIGPIPE.
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: Initialises `set`, then blocks SIGUSR1 in this thread, saving the old mask.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR1);
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), old.as_mut_ptr());
        }
        let mut forked = Forked::run(
            Command::new("grep")
                .args(["^Sig", "/proc/self/status"])
                .stdout(Stdio::piped()),
        );
        // SAFETY: Restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut()) };
        assert!(forked.result.is_ok());
        let (blocked, ignored) = signal_masks(&forked.output());
        forked.wait();
        assert_eq!(blocked, 0);
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0);
    }

    #[test]
    fn spawn_on_a_kernel_with_autokill() {
        if crate::tests::skip_without_autokill() {
            return;
        }
        let mut child = Command::new("sh")
            .args(["-c", "echo hi; exit 5"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hi\n");
        assert_eq!(child.wait().unwrap().code(), Some(5));
        let info = sys::pidfd_get_info(child.as_fd(), sys::PIDFD_INFO_EXIT).unwrap();
        assert_ne!(info.mask & sys::PIDFD_INFO_EXIT, 0);
    }

    #[test]
    fn supported_agrees_with_spawn() {
        let result = Command::new("true").spawn();
        if crate::supported() {
            assert!(result.is_ok(), "{:?}", result.err());
        } else {
            match result {
                Err(Error::Unsupported) => {}
                other => panic!("expected Unsupported, got {:?}", other.err()),
            }
        }
    }
}
