// SPDX-License-Identifier: GPL-2.0

//! [`Command`] and [`Stdio`]: the builder, and what the parent prepares before `clone3()`.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout};
use crate::error::{CloneContext, Error};
use crate::exec::{self, CStringArray, ExecPlan, IdMaps, PreExec};
use crate::sys;

/// The search path when the child's environment has no `PATH`: what glibc's `execvp()` uses
/// (`confstr(_CS_PATH)`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Where a child's standard input, output or error goes.
///
/// Used with [`Command::stdin`], [`Command::stdout`] and [`Command::stderr`], like
/// [`std::process::Stdio`]. Besides the three constructors, anything that owns a file
/// descriptor converts into one: [`OwnedFd`], [`File`], the pipe ends of another child of this
/// crate or of [`std::process`], and [`io::Stdout`] / [`io::Stderr`] (duplicated).
///
/// There is no `From<std::process::Stdio>`: `std`'s `Stdio` is opaque (no accessor tells
/// whether it is inherited, null, piped or which descriptor it holds), so it cannot be
/// converted faithfully; convert the descriptor itself instead.
///
/// # Examples
///
/// ```no_run
/// use autokill::{Command, Stdio};
///
/// // ls | sort: the first child's standard output becomes the second one's input.
/// let mut ls = Command::new("ls").stdout(Stdio::piped()).spawn()?;
/// let sort = Command::new("sort")
///     .stdin(ls.stdout.take().expect("piped"))
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let sorted = sort.wait_with_output()?;
/// ls.wait()?;
/// print!("{}", String::from_utf8_lossy(&sorted.stdout));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    /// The child inherits the parent's descriptor (the default of [`Command::spawn`] and
    /// [`Command::status`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Stdio};
    ///
    /// // Error messages reach this process's standard error even under output().
    /// let output = Command::new("ls").arg("/nonexistent").stderr(Stdio::inherit()).output()?;
    /// assert!(output.stderr.is_empty());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    #[must_use]
    pub fn inherit() -> Self {
        Stdio(StdioKind::Inherit)
    }

    /// The child's descriptor is `/dev/null` (the standard input of [`Command::output`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Stdio};
    ///
    /// let status = Command::new("ls").stdout(Stdio::null()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    #[must_use]
    pub fn null() -> Self {
        Stdio(StdioKind::Null)
    }

    /// A new pipe connects the child with the parent, whose end is in [`Child::stdin`],
    /// [`Child::stdout`] or [`Child::stderr`] (the standard output and error of
    /// [`Command::output`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::io::Read;
    /// use autokill::{Command, Stdio};
    ///
    /// let mut child = Command::new("uname").stdout(Stdio::piped()).spawn()?;
    /// let mut name = String::new();
    /// child.stdout.take().expect("piped").read_to_string(&mut name)?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn piped() -> Self {
        Stdio(StdioKind::Piped)
    }

    /// Whether this makes a pipe, like [`std::process::Stdio::makes_pipe`].
    ///
    /// # Examples
    ///
    /// ```
    /// use autokill::Stdio;
    ///
    /// assert!(Stdio::piped().makes_pipe());
    /// assert!(!Stdio::null().makes_pipe());
    /// ```
    #[must_use]
    pub fn makes_pipe(&self) -> bool {
        matches!(self.0, StdioKind::Piped)
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

/// Implements `From<$from> for Stdio` through `OwnedFd`.
macro_rules! stdio_from_owned_fd {
    ($($from:ty => $what:literal,)*) => {
        $(
            #[doc = concat!("Connects ", $what, ", e.g. to build a pipeline.")]
            impl From<$from> for Stdio {
                fn from(end: $from) -> Self {
                    OwnedFd::from(end).into()
                }
            }
        )*
    };
}

stdio_from_owned_fd! {
    ChildStdin => "another child's standard input",
    ChildStdout => "another child's standard output",
    ChildStderr => "another child's standard error",
    std::process::ChildStdin => "the standard input of a child of `std::process`",
    std::process::ChildStdout => "the standard output of a child of `std::process`",
    std::process::ChildStderr => "the standard error of a child of `std::process`",
}

/// Implements `From<$from> for Stdio` by duplicating the descriptor.
macro_rules! stdio_from_dup {
    ($($from:ty => $what:literal,)*) => {
        $(
            #[doc = concat!("The child writes to ", $what, " of this process (a duplicate of its")]
            /// descriptor; panics if duplicating fails, as `std`'s conversion does).
            impl From<$from> for Stdio {
                fn from(stream: $from) -> Self {
                    stream
                        .as_fd()
                        .try_clone_to_owned()
                        .expect("cannot duplicate the standard stream")
                        .into()
                }
            }
        )*
    };
}

stdio_from_dup! {
    io::Stdout => "the standard output",
    io::Stderr => "the standard error",
}

/// A builder for a child process that dies with its [`Child`] handle, in the style of
/// [`std::process::Command`] and `std::os::unix::process::CommandExt`.
///
/// [`spawn`](Command::spawn) creates the child with
/// `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL | CLONE_CLEAR_SIGHAND)` (plus
/// `CLONE_NNP` unless [`no_new_privs(false)`](Command::no_new_privs), plus `CLONE_NEWPID` with
/// [`kill_tree(true)`](Command::kill_tree)), then executes the program in it.
///
/// Differences from [`std::process::Command`]:
///
/// - The child is killed (`SIGKILL`, by the kernel) when its [`Child`] is dropped or the parent
///   process dies, however it dies. With [`kill_tree`](Command::kill_tree), so is every
///   process it started.
/// - By default the child runs with `no_new_privs` set: neither it nor anything it executes can
///   gain privileges through `execve()` (set-user-ID bits and file capabilities are ignored).
/// - A program name without `/` is looked up in the `PATH` of the child's environment (or
///   `/bin:/usr/bin` without one) by the parent, which hands the child the list of candidates
///   to try in order, like `execvp()` but without its `/bin/sh` fallback for files that are not
///   executables (`ENOEXEC`).
/// - The child starts with an empty signal mask and every caught signal reset to its default
///   action (by the kernel: `CLONE_CLEAR_SIGHAND`), and so does `SIGPIPE`, which the Rust
///   runtime ignores (as `std` does). Other ignored signals stay ignored, as across `execve()`
///   (that is how `nohup` works).
/// - [`spawn`](Command::spawn), [`output`](Command::output) and [`status`](Command::status)
///   return this crate's [`Error`], which tells the failures of `clone3()` apart; it converts
///   into an [`io::Error`] for `?` in functions returning one.
///
/// # Examples
///
/// ```no_run
/// use autokill::Command;
///
/// let output = Command::new("sh").args(["-c", "echo hello"]).output()?;
/// assert!(output.status.success());
/// assert_eq!(output.stdout, b"hello\n");
/// # Ok::<(), autokill::Error>(())
/// ```
pub struct Command {
    program: OsString,
    arg0: Option<OsString>,
    args: Vec<OsString>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    no_new_privs: bool,
    kill_tree: bool,
    credentials: exec::Credentials,
    pgroup: Option<libc::pid_t>,
    pre_exec: Vec<PreExec>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("arg0", &self.arg0)
            .field("args", &self.args)
            .field("env_clear", &self.env_clear)
            .field("env", &self.env)
            .field("cwd", &self.cwd)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("no_new_privs", &self.no_new_privs)
            .field("kill_tree", &self.kill_tree)
            .field("credentials", &self.credentials)
            .field("pgroup", &self.pgroup)
            .field("pre_exec", &self.pre_exec.len())
            .finish()
    }
}

/// The standard I/O a way of running uses unless the command sets it.
#[derive(Clone, Copy)]
struct StdioDefaults([DefaultStdio; 3]);

#[derive(Clone, Copy)]
enum DefaultStdio {
    Inherit,
    Null,
    Piped,
}

/// [`Command::spawn`] and [`Command::status`]: everything inherited.
const INHERIT_ALL: StdioDefaults = StdioDefaults([DefaultStdio::Inherit; 3]);
/// [`Command::output`]: no input, output and error captured.
const CAPTURE: StdioDefaults =
    StdioDefaults([DefaultStdio::Null, DefaultStdio::Piped, DefaultStdio::Piped]);

impl Command {
    /// A command that runs `program` with no arguments, the parent's environment and working
    /// directory, `no_new_privs` on, and the standard I/O of the way it is run: inherited for
    /// [`spawn`](Command::spawn) and [`status`](Command::status), captured for
    /// [`output`](Command::output).
    ///
    /// A `program` without `/` is searched for in `PATH`; `argv[0]` is `program` as given
    /// (see [`arg0`](Command::arg0)).
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = autokill::Command::new("ls");
    /// assert_eq!(cmd.get_program(), "ls");
    /// ```
    #[must_use]
    pub fn new<S: AsRef<OsStr>>(program: S) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            no_new_privs: true,
            kill_tree: false,
            credentials: exec::Credentials::default(),
            pgroup: None,
            pre_exec: Vec::new(),
        }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let status = Command::new("ls").arg("-l").arg("/tmp").status()?;
    /// assert!(status.success());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let status = Command::new("ls").args(["-l", "/tmp"]).status()?;
    /// assert!(status.success());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]`, which is the program as given to [`Command::new`] otherwise (like
    /// `std::os::unix::process::CommandExt::arg0`). The program executed stays the same.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // `sh -c` without further arguments sets `$0` to its `argv[0]`.
    /// let output = Command::new("sh").arg0("my-shell").args(["-c", "echo $0"]).output()?;
    /// assert_eq!(output.stdout, b"my-shell\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg0: S) -> &mut Self {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let output = Command::new("sh")
    ///     .args(["-c", "echo $GREETING"])
    ///     .env("GREETING", "hi")
    ///     .output()?;
    /// assert_eq!(output.stdout, b"hi\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, value: V) -> &mut Self {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets environment variables for the child.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let output = Command::new("date").envs([("LC_ALL", "C"), ("TZ", "UTC")]).output()?;
    /// println!("{}", String::from_utf8_lossy(&output.stdout));
    /// # Ok::<(), autokill::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let output = Command::new("sh")
    ///     .args(["-c", "echo ${HOME-unset}"])
    ///     .env_remove("HOME")
    ///     .output()?;
    /// assert_eq!(output.stdout, b"unset\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Self {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child's environment empty instead of with the parent's, and forgets the
    /// variables set so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // Only PATH: nothing else of this process's environment reaches `env`.
    /// let output = Command::new("env").env_clear().env("PATH", "/usr/bin:/bin").output()?;
    /// assert_eq!(output.stdout, b"PATH=/usr/bin:/bin\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// Relative program paths (with a `/`) and relative `PATH` entries are then resolved
    /// against it, as `execvp()` after `chdir()` would.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let output = Command::new("pwd").current_dir("/tmp").output()?;
    /// assert_eq!(output.stdout, b"/tmp\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets the child's standard input.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use autokill::{Command, Stdio};
    ///
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).spawn()?;
    /// child.stdin.take().expect("piped").write_all(b"hello\n")?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, stdin: T) -> &mut Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// Sets the child's standard output.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use autokill::Command;
    ///
    /// let log = File::create("date.log")?;
    /// Command::new("date").stdout(log).status()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, stdout: T) -> &mut Self {
        self.stdout = Some(stdout.into());
        self
    }

    /// Sets the child's standard error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Stdio};
    ///
    /// // Standard error to /dev/null instead of captured by output().
    /// let output = Command::new("ls").arg("/nonexistent").stderr(Stdio::null()).output()?;
    /// assert!(output.stderr.is_empty());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, stderr: T) -> &mut Self {
        self.stderr = Some(stderr.into());
        self
    }

    /// Whether the child gets `no_new_privs` (`CLONE_NNP`); on by default.
    ///
    /// With `false` the child may gain privileges by executing set-user-ID programs, so the
    /// kernel only allows it to a caller with `CAP_SYS_ADMIN`: otherwise
    /// [`spawn`](Command::spawn) fails with [`Error::PermissionDenied`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Error};
    ///
    /// // sudo needs its set-user-ID bit, which no_new_privs would ignore.
    /// match Command::new("sudo").arg("true").no_new_privs(false).status() {
    ///     Err(Error::PermissionDenied) => eprintln!("needs CAP_SYS_ADMIN"),
    ///     result => println!("{}", result?),
    /// }
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn no_new_privs(&mut self, on: bool) -> &mut Self {
        self.no_new_privs = on;
        self
    }

    /// Whether dropping the [`Child`] (or the death of this process) kills every process the
    /// child started, not only the child; off by default.
    ///
    /// The child becomes the init (pid 1) of a new pid namespace (`CLONE_NEWPID`). When it is
    /// killed, or exits in any way, the kernel kills every other process in that namespace,
    /// however deep, and a process cannot leave its pid namespace: double forks, `setsid()` and
    /// daemons stay in the tree. [`Child::wait`] returns only once all of them are gone (the
    /// init of a pid namespace is reaped after every other process in it).
    ///
    /// A caller without `CAP_SYS_ADMIN` cannot create a pid namespace by itself, so the child
    /// then also gets a new user namespace (`CLONE_NEWUSER`) that maps only the caller's
    /// effective uid and gid to themselves. This needs unprivileged user namespaces (not
    /// disabled by `/proc/sys/user/max_user_namespaces`, a distribution's sysctl or a security
    /// module); otherwise [`spawn`](Command::spawn) fails with [`Error::Namespace`].
    ///
    /// What changes for the program:
    ///
    /// - It is pid 1: `getpid()` returns 1, `getppid()` returns 0, and its children get pids
    ///   2, 3, ... in the new namespace. Processes whose parent exits are reparented to it, so
    ///   it should reap children it did not start (or they remain zombies until it exits).
    /// - Signals: the kernel delivers to the init of a pid namespace only signals it has a
    ///   handler for, except `SIGKILL` and `SIGSTOP` from outside the namespace. So
    ///   [`Child::signal`] with `SIGTERM` does nothing to a program that does not catch
    ///   `SIGTERM` (`sleep`, a shell script without `trap`); [`Child::kill`] always works.
    ///   Inside the namespace, `kill(1, SIGKILL)` has no effect either.
    /// - `/proc` is still the parent's mount: `/proc/self` works, but `ps` and `/proc/<pid>`
    ///   show the parent's namespace with its pids. Seeing its own processes needs a new mount
    ///   namespace with `/proc` mounted again, which this crate does not do.
    /// - With the user namespace: the child writes its own `/proc/self/uid_map` and
    ///   `gid_map`, which needs this process to be dumpable (`PR_GET_DUMPABLE`), as it is
    ///   unless it changed its credentials or turned that off. Ids other than the caller's show as the overflow id
    ///   (`nobody`, 65534), `setgroups()` is denied, supplementary groups show as `nogroup`,
    ///   and capabilities in the new namespace are lost at `execve()` (the program runs as the
    ///   caller's uid, not as root); files are accessed with the caller's credentials as
    ///   before. [`uid`](Command::uid) and [`gid`](Command::gid) can only name the caller's ids.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // Without kill_tree the background sleep would survive the drop.
    /// let shell = Command::new("sh")
    ///     .args(["-c", "sleep 1000 & sleep 1000"])
    ///     .kill_tree(true)
    ///     .spawn()?;
    /// drop(shell); // both sleeps and the shell die
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn kill_tree(&mut self, on: bool) -> &mut Self {
        self.kill_tree = on;
        self
    }

    /// Sets the child's user id (`setuid()` before `execve()`), like
    /// `std::os::unix::process::CommandExt::uid`. Without [`groups`](Command::groups), the
    /// supplementary groups are dropped if the caller may.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // As nobody; setting another uid needs CAP_SETUID.
    /// let output = Command::new("id").arg("-u").uid(65534).output()?;
    /// assert_eq!(output.stdout, b"65534\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn uid(&mut self, id: u32) -> &mut Self {
        self.credentials.uid = Some(id);
        self
    }

    /// Sets the child's group id (`setgid()` before `execve()`), like
    /// `std::os::unix::process::CommandExt::gid`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // As group nogroup; setting another gid needs CAP_SETGID.
    /// let output = Command::new("id").arg("-g").gid(65534).output()?;
    /// assert_eq!(output.stdout, b"65534\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn gid(&mut self, id: u32) -> &mut Self {
        self.credentials.gid = Some(id);
        self
    }

    /// Sets the child's supplementary groups (`setgroups()` before `execve()`), like
    /// `std::os::unix::process::CommandExt::groups`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // Group 100 and no other; needs CAP_SETGID.
    /// let output = Command::new("id").arg("-G").gid(100).groups(&[100]).output()?;
    /// assert_eq!(output.stdout, b"100\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn groups(&mut self, groups: &[u32]) -> &mut Self {
        self.credentials.groups = Some(groups.to_vec());
        self
    }

    /// Puts the child into the process group `pgroup` (`setpgid(0, pgroup)`; 0 makes a new
    /// group with the child's pid as its id), like
    /// `std::os::unix::process::CommandExt::process_group`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // In a group of its own, so the terminal's Ctrl-C does not reach it.
    /// let mut child = Command::new("sleep").arg("10").process_group(0).spawn()?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_group(&mut self, pgroup: i32) -> &mut Self {
        self.pgroup = Some(pgroup);
        self
    }

    /// Schedules a closure to run in the child just before `execve()`, after the standard
    /// I/O, credentials, working directory and process group are set up, like
    /// `std::os::unix::process::CommandExt::pre_exec`. Closures run in the order they were
    /// added; if one fails, [`spawn`](Command::spawn) returns [`Error::Io`] with its
    /// `raw_os_error()` (`EINVAL` for an error without one) and the child exits with status 127.
    ///
    /// # Safety
    ///
    /// The closure runs in a copy of this process made by `clone3()` without `CLONE_VM`, in
    /// which only the calling thread exists. Other threads may have held locks (of the memory
    /// allocator, of `stdout`, ...) at that moment, which then stay locked forever in the
    /// child: the closure must only do async-signal-safe things, as after `fork()`. It must not
    /// allocate, take locks, panic or unwind, and must not close or replace the descriptors the
    /// child still needs (they are above 2 and close-on-exec).
    ///
    /// A closure that panics anyway never unwinds out of the child into the caller's frames
    /// (where a `catch_unwind`, as every tokio task has, would let the child run on as a copy
    /// of this process): the panic hook runs in the child, which then exits with status 127,
    /// and `spawn` returns an [`Error::Io`] that says a pre-exec closure panicked. The hook
    /// and the unwinding allocate and take locks, though, so this can still hang the child, and
    /// `spawn` waiting for it, if another thread held such a lock when the child was created.
    /// With `panic = "abort"` the child aborts (and with musl, whose `abort()` signals the
    /// thread id it cached, that of the parent's thread after a raw `clone3()`, the `SIGABRT`
    /// can reach this process).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::io;
    /// use autokill::Command;
    ///
    /// let mut cmd = Command::new("sleep");
    /// // SAFETY: The closure makes one async-signal-safe system call and does not allocate.
    /// unsafe {
    ///     cmd.pre_exec(|| match libc::setsid() {
    ///         -1 => Err(io::Error::last_os_error()),
    ///         _ => Ok(()),
    ///     })
    /// };
    /// let mut child = cmd.arg("10").spawn()?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Self
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        self.pre_exec.push(Box::new(f));
        self
    }

    /// The program as given to [`Command::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = autokill::Command::new("ls");
    /// assert_eq!(cmd.get_program(), "ls");
    /// ```
    #[must_use]
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, without the program.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = autokill::Command::new("ls");
    /// cmd.args(["-l", "/tmp"]);
    /// assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-l", "/tmp"]);
    /// ```
    #[must_use]
    pub fn get_args(&self) -> impl ExactSizeIterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The environment variables set or removed explicitly, sorted by name, like
    /// [`std::process::Command::get_envs`]: `(name, Some(value))` for a variable set with
    /// [`env`](Command::env), `(name, None)` for one removed with
    /// [`env_remove`](Command::env_remove). After [`env_clear`](Command::env_clear) only
    /// what was set since.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::ffi::OsStr;
    ///
    /// let mut cmd = autokill::Command::new("env");
    /// cmd.env("TZ", "UTC").env_remove("HOME");
    /// let envs: Vec<_> = cmd.get_envs().collect();
    /// assert_eq!(envs, [(OsStr::new("HOME"), None), (OsStr::new("TZ"), Some(OsStr::new("UTC")))]);
    /// ```
    #[must_use]
    pub fn get_envs(&self) -> impl ExactSizeIterator<Item = (&OsStr, Option<&OsStr>)> {
        self.env
            .iter()
            .map(|(key, value)| (key.as_os_str(), value.as_deref()))
    }

    /// The working directory set with [`Command::current_dir`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::path::Path;
    ///
    /// let mut cmd = autokill::Command::new("ls");
    /// assert_eq!(cmd.get_current_dir(), None);
    /// cmd.current_dir("/tmp");
    /// assert_eq!(cmd.get_current_dir(), Some(Path::new("/tmp")));
    /// ```
    #[must_use]
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// Whether the child gets `no_new_privs`, see [`Command::no_new_privs`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = autokill::Command::new("ls");
    /// assert!(cmd.get_no_new_privs());
    /// cmd.no_new_privs(false);
    /// assert!(!cmd.get_no_new_privs());
    /// ```
    #[must_use]
    pub fn get_no_new_privs(&self) -> bool {
        self.no_new_privs
    }

    /// Whether the whole process tree is killed, see [`Command::kill_tree`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = autokill::Command::new("make");
    /// assert!(!cmd.get_kill_tree());
    /// cmd.kill_tree(true);
    /// assert!(cmd.get_kill_tree());
    /// ```
    #[must_use]
    pub fn get_kill_tree(&self) -> bool {
        self.kill_tree
    }

    /// Creates the child and executes the program in it. Standard I/O not set on the command
    /// is inherited.
    ///
    /// Returns once the program has been executed (or failed to be). The child is killed when
    /// the returned [`Child`] is dropped, see there.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on kernels without `CLONE_PIDFD_AUTOKILL` (before Linux 7.1),
    /// [`Error::Seccomp`] when a seccomp filter refuses `clone3()`,
    /// [`Error::PermissionDenied`] for [`no_new_privs(false)`](Command::no_new_privs) without
    /// `CAP_SYS_ADMIN`, [`Error::Namespace`] when the namespaces of
    /// [`kill_tree`](Command::kill_tree) cannot be created, [`Error::Exec`] with the `errno` of
    /// the failed `execve()`, [`Error::CurrentDir`], and [`Error::Io`] for the rest (a NUL byte
    /// in a string, no more descriptors or processes, a failing [`pre_exec`](Command::pre_exec)).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let mut child = Command::new("sleep").arg("1").spawn()?;
    /// println!("sleeping as pid {}", child.id());
    /// assert!(child.wait()?.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(&mut self) -> Result<Child, Error> {
        self.spawn_with(INHERIT_ALL)
    }

    /// Runs the program to its end and collects its output: standard output and error are
    /// piped and read (both at once, so that neither pipe fills up), standard input is
    /// `/dev/null`, unless set on the command.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn), and [`Error::Io`] if reading the output or waiting
    /// fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let output = Command::new("uname").arg("-r").output()?;
    /// println!("kernel {}", String::from_utf8_lossy(&output.stdout).trim());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn output(&mut self) -> Result<Output, Error> {
        Ok(self.spawn_with(CAPTURE)?.wait_with_output()?)
    }

    /// Runs the program to its end and returns its exit status; standard I/O not set on the
    /// command is inherited.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn), and [`Error::Io`] if waiting fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let status = Command::new("true").status()?;
    /// assert!(status.success());
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn status(&mut self) -> Result<ExitStatus, Error> {
        Ok(self.spawn_with(INHERIT_ALL)?.wait()?)
    }

    /// [`spawn`](Command::spawn) with the standard I/O defaults of [`output`](Command::output).
    #[cfg(feature = "tokio")]
    pub(crate) fn spawn_capturing(&mut self) -> Result<Child, Error> {
        self.spawn_with(CAPTURE)
    }

    /// For tests on kernels without autokill: [`spawn`](Command::spawn) without the autokill
    /// flags, with `SIGCHLD` as exit signal, so that a caller that ignores `SIGCHLD` has the
    /// child reaped by the kernel (and its pidfd reports the exit status like an autoreaped
    /// one's).
    #[cfg(test)]
    pub(crate) fn spawn_unarmed(&mut self) -> Result<Child, Error> {
        let (plan, parent) = self.prepare(INHERIT_ALL)?;
        let flags = self.namespace_flags(&plan);
        let pre_exec = &mut self.pre_exec;
        // SAFETY: As in `spawn_with`.
        let (pid, pidfd) = unsafe {
            exec::clone_child(flags, libc::SIGCHLD, || exec::exec_child(&plan, pre_exec))
        }?;
        drop(plan);
        match exec::read_report(parent.report)? {
            None => Ok(Child::new(
                pid,
                pidfd,
                parent.stdin,
                parent.stdout,
                parent.stderr,
            )),
            Some(report) => Err(self.report_error(report)),
        }
    }

    /// [`spawn`](Command::spawn) with the given defaults for standard I/O.
    fn spawn_with(&mut self, defaults: StdioDefaults) -> Result<Child, Error> {
        let (plan, parent) = self.prepare(defaults)?;
        let namespaces = self.kill_tree;
        let mut flags = sys::AUTOKILL | self.namespace_flags(&plan);
        if self.no_new_privs {
            flags |= sys::CLONE_NNP;
        }
        let pre_exec = &mut self.pre_exec;
        // SAFETY: `exec_child` is async-signal-safe and never returns, and so are the pre-exec
        // closures by the contract of `pre_exec`; `plan` outlives the call.
        let result = unsafe { exec::clone_child(flags, 0, || exec::exec_child(&plan, pre_exec)) };
        let (pid, pidfd) =
            result.map_err(|error| clone_error(error, self.no_new_privs, namespaces))?;
        // Close the child's ends, among them the write end of the report pipe, so that reading
        // its read end ends when the child has executed the program or exited.
        drop(plan);
        match exec::read_report(parent.report)? {
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

    /// `CLONE_NEWPID` for [`kill_tree`](Command::kill_tree), with `CLONE_NEWUSER` if `plan`
    /// has the id maps for one.
    fn namespace_flags(&self, plan: &ExecPlan) -> u64 {
        match (self.kill_tree, plan.id_maps.is_some()) {
            (false, _) => 0,
            (true, false) => sys::CLONE_NEWPID,
            (true, true) => sys::CLONE_NEWPID | sys::CLONE_NEWUSER,
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
    fn prepare(&self, defaults: StdioDefaults) -> Result<(ExecPlan, ParentSide), Error> {
        let argv0 = self.arg0.as_ref().unwrap_or(&self.program);
        let argv = std::iter::once(cstring(argv0, "the program"))
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

        let [stdin, stdout, stderr] = defaults.0;
        let (child_stdin, parent_stdin) = prepare_stdio(&self.stdin, stdin, Direction::ToChild)?;
        let (child_stdout, parent_stdout) =
            prepare_stdio(&self.stdout, stdout, Direction::FromChild)?;
        let (child_stderr, parent_stderr) =
            prepare_stdio(&self.stderr, stderr, Direction::FromChild)?;

        let (mut plan, report) = ExecPlan::new(
            CStringArray::new(argv),
            CStringArray::new(envp),
            CStringArray::new(candidates),
        )?;
        plan.cwd = match &self.cwd {
            Some(dir) => Some(cstring(dir.as_os_str(), "the working directory")?),
            None => None,
        };
        plan.stdio = [child_stdin, child_stdout, child_stderr];
        // Without CAP_SYS_ADMIN only a new user namespace lets the child own a pid namespace.
        let privileged = sys::has_capability(sys::CAP_SYS_ADMIN).unwrap_or(false);
        if self.kill_tree && !privileged {
            plan.id_maps = Some(IdMaps::identity());
        }
        plan.credentials = self.credentials.clone();
        plan.pgroup = self.pgroup;
        let parent = ParentSide {
            stdin: parent_stdin.map(ChildStdin::from_fd),
            stdout: parent_stdout.map(ChildStdout::from_fd),
            stderr: parent_stderr.map(ChildStderr::from_fd),
            report,
        };
        Ok((plan, parent))
    }

    /// The error for what the child reported before it exited.
    fn report_error(&self, report: [u8; 4]) -> Error {
        let (step, errno) = exec::decode_report(report);
        let source = io::Error::from_raw_os_error(errno);
        match step {
            exec::STEP_EXEC => Error::Exec {
                program: self.program.clone(),
                source,
            },
            exec::STEP_CHDIR => Error::CurrentDir {
                dir: self.cwd.clone().unwrap_or_default(),
                source,
            },
            exec::STEP_ID_MAPS => Error::Namespace { source },
            exec::STEP_PANIC => Error::Io(io::Error::other(
                "a pre_exec closure panicked in the child, which exited with status 127",
            )),
            _ => Error::Io(source),
        }
    }
}

/// The error for a failed `clone3()` with the autokill flags: `nnp` and `namespaces` say
/// whether `CLONE_NNP` and `CLONE_NEWPID` were asked for.
pub(crate) fn clone_error(error: io::Error, nnp: bool, namespaces: bool) -> Error {
    let errno = error.raw_os_error();
    let context = CloneContext {
        nnp,
        namespaces,
        seccomp_filter: errno == Some(libc::ENOSYS)
            && sys::seccomp_mode().ok() == Some(libc::SECCOMP_MODE_FILTER as libc::c_int),
        // Only asked when it decides: an EINVAL with namespaces.
        autokill_supported: (namespaces && errno == Some(libc::EINVAL)).then(crate::supported),
    };
    Error::from_clone3(error, context)
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

/// The child's descriptor for a standard stream (`stdio`, or `default` if unset), and the
/// parent's end if it is piped.
fn prepare_stdio(
    stdio: &Option<Stdio>,
    default: DefaultStdio,
    direction: Direction,
) -> io::Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    let kind = match (stdio, default) {
        (Some(stdio), _) => &stdio.0,
        (None, DefaultStdio::Inherit) => &StdioKind::Inherit,
        (None, DefaultStdio::Null) => &StdioKind::Null,
        (None, DefaultStdio::Piped) => &StdioKind::Piped,
    };
    Ok(match kind {
        StdioKind::Inherit => (None, None),
        StdioKind::Null => {
            let null = File::options().read(true).write(true).open("/dev/null")?;
            (Some(exec::above_stdio(null.into())?), None)
        }
        StdioKind::Piped => {
            let (read, write) = sys::pipe()?;
            match direction {
                Direction::ToChild => (Some(exec::above_stdio(read)?), Some(write)),
                Direction::FromChild => (Some(exec::above_stdio(write)?), Some(read)),
            }
        }
        StdioKind::Fd(fd) => (Some(exec::dup_above_stdio(fd.as_fd())?), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{
        decode_report, encode_report, read_report, STEP_CHDIR, STEP_EXEC, STEP_STDIO,
    };
    use std::io::{Read, Write};
    use std::mem::MaybeUninit;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::ptr;
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
            .no_new_privs(false)
            .stdin(Stdio::null());
        assert_eq!(cmd.get_program(), "prog");
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/tmp")));
        assert!(!cmd.get_no_new_privs());
        assert!(Command::new("x").get_no_new_privs(), "NNP is on by default");
        assert!(!cmd.get_kill_tree());
    }

    #[test]
    fn argv_starts_with_the_program_as_given() {
        let mut cmd = Command::new("echo");
        cmd.args(["hello", "", "wörld"]);
        let (plan, _) = cmd.prepare(INHERIT_ALL).unwrap();
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
        let (plan, _) = cmd.prepare(INHERIT_ALL).unwrap();
        assert_eq!(strings(&plan.envp), ["A=4", "C=3"]);

        // env_clear() forgets earlier changes.
        let mut cmd = Command::new("x");
        cmd.env("GONE", "1").env_clear().env("KEPT", "1");
        assert_eq!(
            strings(&cmd.prepare(INHERIT_ALL).unwrap().0.envp),
            ["KEPT=1"]
        );

        // Without env_clear() the parent's environment is the base.
        let inherited = std::env::vars_os().count();
        let mut cmd = Command::new("x");
        cmd.env("AUTOKILL_TEST_NEW_VARIABLE", "yes");
        let envp = strings(&cmd.prepare(INHERIT_ALL).unwrap().0.envp);
        assert_eq!(envp.len(), inherited + 1);
        assert!(envp.contains(&"AUTOKILL_TEST_NEW_VARIABLE=yes".to_owned()));
        if let Some(path) = std::env::var_os("PATH") {
            let mut cmd = Command::new("x");
            cmd.env_remove("PATH");
            let envp = strings(&cmd.prepare(INHERIT_ALL).unwrap().0.envp);
            assert_eq!(envp.len(), inherited - 1);
            assert!(!envp.contains(&format!("PATH={}", path.to_str().unwrap())));
        }
    }

    #[test]
    fn nul_bytes_and_bad_names_are_invalid_input() {
        let invalid = |cmd: &mut Command| match cmd.prepare(INHERIT_ALL) {
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
            strings(&cmd.prepare(INHERIT_ALL).unwrap().0.candidates),
            ["/only/here/prog"]
        );
        cmd.env_remove("PATH");
        assert_eq!(
            strings(&cmd.prepare(INHERIT_ALL).unwrap().0.candidates),
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
        let (read, write) = sys::pipe().unwrap();
        drop(write);
        assert_eq!(read_report(read).unwrap(), None);
        // Four bytes: the errno.
        let (read, write) = sys::pipe().unwrap();
        File::from(write)
            .write_all(&encode_report(STEP_EXEC, libc::ENOEXEC))
            .unwrap();
        assert_eq!(
            read_report(read).unwrap(),
            Some(encode_report(STEP_EXEC, libc::ENOEXEC))
        );
        // A short report is an error, not success.
        let (read, write) = sys::pipe().unwrap();
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
        let (plan, parent) = cmd.prepare(INHERIT_ALL).unwrap();
        for fd in plan.stdio.iter().flatten().chain([&plan.report]) {
            assert!(fd.as_raw_fd() > 2);
            // SAFETY: Reads the descriptor flags of an open descriptor.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert!(parent.stdin.is_some());
        assert!(parent.stdout.is_none() && parent.stderr.is_none());

        let fd: OwnedFd = File::open("/dev/null").unwrap().into();
        let low = exec::above_stdio(fd).unwrap();
        assert!(low.as_raw_fd() > 2);
    }

    /// A child created by the same `clone3()` and running the same path as [`Command::spawn`]'s,
    /// but without the autokill flags and with `SIGCHLD` as its exit signal (so that it can be
    /// waited for), so that the child's side can be tested on kernels without
    /// `CLONE_PIDFD_AUTOKILL`. The namespaces of `kill_tree` are those of `spawn`.
    struct Forked {
        pid: libc::pid_t,
        pidfd: OwnedFd,
        result: Result<(), Error>,
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
    }

    impl Forked {
        fn run(cmd: &mut Command) -> Forked {
            Self::try_run(cmd).unwrap()
        }

        /// Like [`Forked::run`], `Err` if `clone3()` fails.
        fn try_run(cmd: &mut Command) -> io::Result<Forked> {
            let (plan, parent) = cmd.prepare(INHERIT_ALL).unwrap();
            let flags = cmd.namespace_flags(&plan);
            let pre_exec = &mut cmd.pre_exec;
            // SAFETY: The child only runs the async-signal-safe `exec_child` and the test's
            // async-signal-safe pre-exec closures.
            let (pid, pidfd) = unsafe {
                exec::clone_child(flags, libc::SIGCHLD, || exec::exec_child(&plan, pre_exec))
            }?;
            drop(plan);
            let result = match read_report(parent.report).unwrap() {
                None => Ok(()),
                Some(report) => Err(cmd.report_error(report)),
            };
            Ok(Forked {
                pid,
                pidfd,
                result,
                stdin: parent.stdin,
                stdout: parent.stdout,
            })
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
            let forked = Forked::run(&mut Command::new(program));
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
            let forked = Forked::run(&mut Command::new(path));
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
        let mut forked = Forked::run(&mut cmd);
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
        let forked = Forked::run(&mut cmd);
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

    #[test]
    fn builder_records_the_commandext_options() {
        let mut cmd = Command::new("prog");
        cmd.env("A", "1").env_remove("B").env("C", "3");
        assert_eq!(
            cmd.get_envs().collect::<Vec<_>>(),
            [
                (OsStr::new("A"), Some(OsStr::new("1"))),
                (OsStr::new("B"), None),
                (OsStr::new("C"), Some(OsStr::new("3")))
            ]
        );
        cmd.env_clear().env("D", "4");
        assert_eq!(cmd.get_envs().len(), 1);
        cmd.arg0("shown").arg("x").kill_tree(true);
        assert!(cmd.get_kill_tree());
        let (plan, _) = cmd.prepare(INHERIT_ALL).unwrap();
        assert_eq!(strings(&plan.argv), ["shown", "x"]);
        assert_eq!(
            strings(&plan.candidates).len(),
            2,
            "still searches for prog"
        );
        assert!(Stdio::piped().makes_pipe() && !Stdio::null().makes_pipe());
    }

    #[test]
    fn output_defaults_capture_and_null_stdin() {
        let (plan, parent) = Command::new("x").prepare(CAPTURE).unwrap();
        assert!(plan.stdio.iter().all(Option::is_some));
        assert!(parent.stdin.is_none() && parent.stdout.is_some() && parent.stderr.is_some());
        // What the command sets wins over the defaults.
        let (plan, parent) = Command::new("x")
            .stdout(Stdio::inherit())
            .prepare(CAPTURE)
            .unwrap();
        assert!(plan.stdio[1].is_none() && parent.stdout.is_none());
        let (plan, _) = Command::new("x").prepare(INHERIT_ALL).unwrap();
        assert!(plan.stdio.iter().all(Option::is_none));
    }

    #[test]
    fn arg0_and_process_group() {
        let mut forked = Forked::run(
            Command::new("sh")
                .arg0("custom-name")
                .args([
                    "-c",
                    "tr '\\0' ' ' </proc/$$/cmdline; echo; cut -d' ' -f5 /proc/self/stat",
                ])
                .process_group(0)
                .stdout(Stdio::piped()),
        );
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        let out = forked.output();
        let pid = forked.pid;
        assert!(forked.wait().success());
        let mut lines = out.lines();
        assert!(
            lines.next().unwrap().starts_with("custom-name -c "),
            "{out}"
        );
        assert_eq!(
            lines.next().unwrap(),
            pid.to_string(),
            "a new group named by the child"
        );
    }

    #[test]
    fn pre_exec_runs_after_the_kernel_cleared_the_handlers() {
        extern "C" fn handler(_: libc::c_int) {}
        // A handler in this process; CLONE_CLEAR_SIGHAND must have reset it in the child before
        // anything of ours runs there. No test sends SIGURG.
        // SAFETY: Installs an empty handler for a signal nothing sends here.
        unsafe { libc::signal(libc::SIGURG, handler as *const () as libc::sighandler_t) };
        let handler_is_reset = || {
            let mut old = MaybeUninit::<libc::sigaction>::uninit();
            // SAFETY: Queries the action of SIGURG into `old`.
            if unsafe { libc::sigaction(libc::SIGURG, ptr::null(), old.as_mut_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `sigaction` succeeded, so `old` is initialised.
            if unsafe { old.assume_init() }.sa_sigaction != libc::SIG_DFL {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            Ok(())
        };
        let mut cmd = Command::new("true");
        // SAFETY: The closure only calls the async-signal-safe `sigaction()`.
        unsafe { cmd.pre_exec(handler_is_reset) };
        let forked = Forked::run(&mut cmd);
        // SAFETY: Restores the default action.
        unsafe { libc::signal(libc::SIGURG, libc::SIG_DFL) };
        assert!(
            forked.result.is_ok(),
            "handler not reset: {:?}",
            forked.result
        );
        assert!(forked.wait().success());

        // A failing closure: its errno, exit status 127, and later closures do not run.
        let mut cmd = Command::new("true");
        // SAFETY: The closures touch no memory and call nothing.
        unsafe {
            cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EXDEV)))
                .pre_exec(|| Err(io::Error::from_raw_os_error(libc::ENOTSUP)))
        };
        let forked = Forked::run(&mut cmd);
        match &forked.result {
            Err(Error::Io(error)) => assert_eq!(error.raw_os_error(), Some(libc::EXDEV)),
            other => panic!("{other:?}"),
        }
        assert_eq!(forked.wait().code(), Some(127));
    }

    #[test]
    fn a_panicking_pre_exec_closure_ends_the_child_with_127() {
        let (marker_read, marker_write) = sys::pipe().unwrap();
        let marker = marker_write.as_raw_fd();
        // SAFETY: `getpid()` cannot fail.
        let parent = unsafe { libc::getpid() };
        let forked = std::panic::catch_unwind(|| {
            let mut cmd = Command::new("true");
            // SAFETY: The first closure panics, against the contract of `pre_exec`: what the
            // test is about (the panic hook it runs in the child is acceptable in a test). The
            // second one writes to a pipe, async-signal-safe.
            unsafe {
                cmd.pre_exec(|| panic!("a pre_exec closure panics"))
                    .pre_exec(move || {
                        libc::write(marker, b"second closure".as_ptr().cast(), 14);
                        Ok(())
                    })
            };
            Forked::run(&mut cmd)
        });
        // SAFETY: `getpid()` cannot fail.
        if unsafe { libc::getpid() } != parent {
            // Only a child whose panic unwound out of the spawning code gets here, as a second
            // copy of the test: it tells the test and ends without running the harness.
            // SAFETY: Writes from a live array to the pipe, then ends this process.
            unsafe {
                libc::write(marker, b"returned".as_ptr().cast(), 8);
                libc::_exit(0);
            }
        }
        let mut forked = forked.expect("the parent does not unwind");
        let result = std::mem::replace(&mut forked.result, Ok(()));
        let status = forked.wait();
        drop(marker_write);
        let mut written = Vec::new();
        File::from(marker_read).read_to_end(&mut written).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&written),
            "",
            "the child ran the next closure or returned into the test"
        );
        match result {
            Err(Error::Io(error)) => {
                assert!(
                    error.to_string().contains("pre_exec closure panicked"),
                    "{error}"
                );
                assert_eq!(error.raw_os_error(), None);
            }
            other => panic!("expected the panic reported, got {other:?}"),
        }
        assert_eq!(status.code(), Some(127));
    }

    #[test]
    fn uid_gid_and_groups() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "id -u; id -g; id -G"])
            .uid(65534)
            .gid(65533)
            .groups(&[65533, 65532])
            .stdout(Stdio::piped());
        // SAFETY: `geteuid()` cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            // Unprivileged: the child reports setgroups()' EPERM.
            let forked = Forked::run(&mut cmd);
            assert!(
                matches!(&forked.result, Err(Error::Io(e)) if e.raw_os_error() == Some(libc::EPERM))
            );
            forked.wait();
            return;
        }
        let mut forked = Forked::run(&mut cmd);
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        assert_eq!(forked.output(), "65534\n65533\n65533 65532\n");
        assert!(forked.wait().success());
        // A uid without groups drops root's supplementary groups, as std does.
        let mut forked = Forked::run(
            Command::new("sh")
                .args(["-c", "id -G"])
                .uid(65534)
                .gid(65534)
                .stdout(Stdio::piped()),
        );
        assert_eq!(forked.output(), "65534\n");
        assert!(forked.wait().success());
        // Ids that do not fit in 16 bits, and groups that the legacy setgroups() of x86 and arm
        // would read as 16-bit gids ([100, 0, 200, 0, ...]): they reach the kernel whole.
        let mut forked = Forked::run(
            Command::new("sh")
                .args(["-c", "id -u; id -g; id -G"])
                .uid(100_000)
                .gid(100_001)
                .groups(&[100, 200, 70_000])
                .stdout(Stdio::piped()),
        );
        assert!(forked.result.is_ok(), "{:?}", forked.result);
        assert_eq!(forked.output(), "100000\n100001\n100001 100 200 70000\n");
        assert!(forked.wait().success());
    }

    /// The pid (in our namespace) of a child of `parent`, found in `/proc`; waits up to 30 s.
    pub(crate) fn child_of(parent: libc::pid_t) -> libc::pid_t {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                // The fields after the command name, which is in parentheses.
                let fields = &stat[stat.rfind(')').unwrap() + 2..];
                let ppid = fields.split(' ').nth(1).unwrap().parse::<libc::pid_t>();
                if ppid == Ok(parent) {
                    return pid;
                }
            }
            assert!(std::time::Instant::now() < deadline, "no child of {parent}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Runs the tree check of [`kill_tree_namespace_takes_the_grandchildren`]; the error says
    /// what failed.
    fn check_tree_kill() -> Result<(), String> {
        use std::io::BufRead;
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; sleep 1000 & echo $$ $!; wait"])
            .kill_tree(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut forked = Forked::try_run(&mut cmd).map_err(|e| format!("clone3: {e}"))?;
        forked
            .result
            .as_ref()
            .map_err(|e| format!("spawn: {e:?}"))?;
        let mut line = String::new();
        std::io::BufReader::new(forked.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line != "1 2\n" {
            return Err(format!(
                "the shell is not pid 1 with its child pid 2: {line:?}"
            ));
        }
        let grandchild = child_of(forked.pid);
        let watcher = sys::pidfd_open(grandchild, 0).unwrap();
        if sys::pidfd_wait_reaped(watcher.as_fd(), Some(std::time::Duration::from_millis(200)))
            .unwrap()
        {
            return Err("the grandchild died early".into());
        }
        sys::pidfd_send_signal(forked.pidfd.as_fd(), libc::SIGKILL).unwrap();
        let status = forked.wait();
        if status.signal() != Some(libc::SIGKILL) {
            return Err(format!("init status {status:?}"));
        }
        // The init of a pid namespace is reaped only after every other process in it.
        if !sys::pidfd_wait_reaped(watcher.as_fd(), Some(std::time::Duration::ZERO)).unwrap() {
            return Err("the grandchild outlived the reaped init".into());
        }
        Ok(())
    }

    #[test]
    fn kill_tree_namespace_takes_the_grandchildren() {
        // As this test process is (root: CLONE_NEWPID only, else with CLONE_NEWUSER).
        check_tree_kill().unwrap();
    }

    #[test]
    fn kill_tree_unprivileged_through_a_user_namespace() {
        let code = crate::tests::in_helper(|| {
            if crate::tests::become_nobody().is_err() {
                return 10;
            }
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "echo $$; cat /proc/self/uid_map; id -u"])
                .kill_tree(true)
                .stdout(Stdio::piped());
            let mut forked = match Forked::try_run(&mut cmd) {
                Ok(forked) => forked,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSPC)) => {
                    return 11;
                }
                Err(_) => return 12,
            };
            if forked.result.is_err() {
                return 13;
            }
            let out = forked.output();
            let words: Vec<&str> = out.split_whitespace().collect();
            if words != ["1", "65534", "65534", "1", "65534"] || !forked.wait().success() {
                return 14;
            }
            match check_tree_kill() {
                Ok(()) => 0,
                Err(_) => 15,
            }
        });
        if code == 11 && std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0") {
            println!("skipped: unprivileged user namespaces are not allowed here");
            return;
        }
        assert_eq!(
            code, 0,
            "as nobody: 10 = cannot drop privileges, 11 = user namespace refused, 12 = clone3 \
             failed, 13 = child failed, 14 = wrong pid or maps, 15 = tree survived"
        );
    }
}
