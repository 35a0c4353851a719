// SPDX-License-Identifier: GPL-2.0

//! [`Command`] and [`Stdio`]: the builder, and what the parent prepares before `clone3()`.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout};
use crate::error::{CloneContext, Error};
use crate::exec::{
    self, CStringArray, CloneRequest, Envp, ExecPlan, FdMapping, IdMaps, ParentDeath, PreExec,
};
use crate::fallback::{self, ChildFd};
use crate::guarantee::Guarantee;
use crate::raw;
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
/// [`kill_tree(true)`](Command::kill_tree), plus `CLONE_INTO_CGROUP` with
/// [`cgroup`](Command::cgroup)), then executes the program in it. On x86_64 and aarch64,
/// without [`pre_exec`](Command::pre_exec) closures and without new credentials
/// ([`uid`](Command::uid), [`gid`](Command::gid), [`groups`](Command::groups)), it adds
/// `CLONE_VM | CLONE_VFORK`, as `posix_spawn()` does, so that the cost of a spawn does not grow
/// with this process's memory (see the
/// [crate documentation](crate#the-child-between-clone3-and-execve)).
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
    setsid: bool,
    umask: Option<libc::mode_t>,
    /// Resource (`None` for one that is no `u32`), soft and hard limit, one entry per resource.
    rlimits: Vec<(Option<u32>, u64, u64)>,
    /// The extra descriptors of [`Command::fd`], by the child's number.
    fds: BTreeMap<RawFd, OwnedFd>,
    close_other_fds: bool,
    cgroup: Option<OwnedFd>,
    pre_exec: Vec<PreExec>,
    /// [`Command::kernel_autokill`].
    kernel_autokill: bool,
    /// [`Command::require`].
    required: Guarantee,
    /// Test hook: what the fallback's child compares `getppid()` with, and the pidfd it polls,
    /// instead of the real ones (to show that a dead parent is seen).
    #[cfg(test)]
    pub(crate) test_parent: Option<(libc::pid_t, OwnedFd)>,
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
            .field("setsid", &self.setsid)
            .field("umask", &self.umask)
            .field("rlimits", &self.rlimits)
            .field("fds", &self.fds)
            .field("close_other_fds", &self.close_other_fds)
            .field("cgroup", &self.cgroup)
            .field("pre_exec", &self.pre_exec.len())
            .field("kernel_autokill", &self.kernel_autokill)
            .field("required", &self.required)
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
            setsid: false,
            umask: None,
            rlimits: Vec::new(),
            fds: BTreeMap::new(),
            close_other_fds: false,
            cgroup: None,
            pre_exec: Vec::new(),
            kernel_autokill: true,
            required: Guarantee::DropOnly,
            #[cfg(test)]
            test_parent: None,
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
    /// `no_new_privs` (`PR_SET_NO_NEW_PRIVS`, see `prctl(2)`) means that neither the child nor
    /// anything it executes, however deep, can gain privileges through `execve()`; it is
    /// inherited by every descendant and never cleared. That breaks what relies on gaining
    /// them:
    ///
    /// - set-user-ID and set-group-ID programs run with the caller's ids, so they fail or
    ///   misbehave: `sudo`, `su`, `pkexec`, `passwd`, `fusermount3` (FUSE mounts by a user),
    ///   `newuidmap` and `newgidmap` (rootless podman and buildah), a set-user-ID `ping`;
    /// - file capabilities (`setcap`, such as `ping` with `cap_net_raw` or `newuidmap` with
    ///   `cap_setuid` on some distributions) are not granted;
    /// - security modules change the confinement on `execve()` only towards less privilege:
    ///   SELinux makes a domain transition only into a bounded domain (or with the
    ///   `nnp_transition` permission); otherwise the program stays in the caller's domain, and
    ///   an explicit `setexeccon()` makes `execve()` fail with `EPERM`. AppArmor likewise lets
    ///   a confined task change profile only to one that stacks on its current one.
    ///
    /// Programs that do not gain privileges (compilers, servers, shells running ordinary
    /// commands, containers that do not need `newuidmap`) see no difference.
    ///
    /// With `false` the child may gain privileges that way, and could be killed by its
    /// unprivileged parent at a moment of the parent's choosing while privileged; so the kernel
    /// arms `CLONE_PIDFD_AUTOKILL` without `CLONE_NNP` only for a caller with `CAP_SYS_ADMIN`
    /// in its user namespace ([`Guarantee::Kernel`]). Without it (`clone3()` fails with
    /// `EPERM`, [`Error::PermissionDenied`]) the crate falls back, as
    /// [`require`](Command::require) allows by default: the child gets `PR_SET_PDEATHSIG`,
    /// which the kernel clears when it executes a set-user-ID program or one with file
    /// capabilities, so it is only sure to be killed when its [`Child`] is dropped
    /// ([`Guarantee::DropOnly`]; [`Child::guarantee`] tells which level a child got). With
    /// [`require(Guarantee::Kernel)`](Command::require) such a spawn fails instead, with
    /// [`Error::GuaranteeUnavailable`] whose reason is [`Error::PermissionDenied`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Error, Guarantee};
    ///
    /// // sudo needs its set-user-ID bit, which no_new_privs would ignore.
    /// match Command::new("sudo")
    ///     .arg("true")
    ///     .no_new_privs(false)
    ///     .require(Guarantee::Kernel)
    ///     .status()
    /// {
    ///     Err(Error::GuaranteeUnavailable { reason, .. }) => eprintln!("{reason}"),
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
    /// A command with a user id, a group id or groups takes the fork path (`clone3()` without
    /// `CLONE_VM`; its cost grows with this process's memory), as `std` does not use
    /// `posix_spawn()` for them: a change of credentials makes the kernel reset the
    /// dumpability of the changing task's memory (`commit_creds()`), which on the vfork path is
    /// this process's, and would leave this process non-dumpable (`PR_GET_DUMPABLE` 0) for
    /// good.
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
    /// `std::os::unix::process::CommandExt::gid`. Takes the fork path, see
    /// [`uid`](Command::uid).
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
    /// `std::os::unix::process::CommandExt::groups`. Takes the fork path, see
    /// [`uid`](Command::uid).
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

    /// Whether the child starts a new session (`setsid()` before `execve()`); off by default.
    ///
    /// The child becomes the leader of a new session and of a new process group (both named
    /// by its pid), without a controlling terminal: a daemon's usual first step, and what keeps
    /// the terminal's `SIGHUP` and job control signals away from it. Cannot be combined with
    /// [`process_group`](Command::process_group) (a session leader cannot change its process
    /// group): [`spawn`](Command::spawn) then fails with [`Error::Io`] of kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // `ps -o sid=` prints the session id, which is the child's own pid.
    /// let mut child = Command::new("sh").args(["-c", "ps -o sid= -p $$"]).setsid(true).spawn()?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn setsid(&mut self, on: bool) -> &mut Self {
        self.setsid = on;
        self
    }

    /// Sets the child's file mode creation mask (`umask(mask)` before `execve()`); by default
    /// the child inherits this process's.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// let output = Command::new("sh").args(["-c", "umask"]).umask(0o077).output()?;
    /// assert_eq!(output.stdout, b"0077\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn umask(&mut self, mask: u32) -> &mut Self {
        self.umask = Some((mask & 0o777) as libc::mode_t);
        self
    }

    /// Sets a resource limit of the child (`prlimit64()` before `execve()`): `resource` is one
    /// of `libc::RLIMIT_*` (an unsigned integer with glibc, an `int` with musl: both convert),
    /// `soft` and `hard` the limits, `u64::MAX` for unlimited (`RLIM64_INFINITY`). A later call
    /// for the same resource replaces the earlier one; a negative (or too large) resource makes
    /// [`spawn`](Command::spawn) fail with [`Error::Io`] of kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput).
    ///
    /// The limits are set before the credentials change, so a child started as root and
    /// switched to another [`uid`](Command::uid) can still get a hard limit above this
    /// process's. Lowering a limit always works; raising the hard limit needs
    /// `CAP_SYS_RESOURCE`, and `soft` above `hard` is invalid: [`spawn`](Command::spawn) then
    /// fails with [`Error::Io`] and the kernel's `errno` (`EPERM`, `EINVAL`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // At most 64 open files and no core dumps.
    /// let output = Command::new("sh")
    ///     .args(["-c", "ulimit -n; ulimit -c"])
    ///     .rlimit(libc::RLIMIT_NOFILE, 64, 64)
    ///     .rlimit(libc::RLIMIT_CORE, 0, 0)
    ///     .output()?;
    /// assert_eq!(output.stdout, b"64\n0\n");
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn rlimit<R: TryInto<u32>>(&mut self, resource: R, soft: u64, hard: u64) -> &mut Self {
        let resource = resource.try_into().ok();
        self.rlimits.retain(|&(r, _, _)| r != resource);
        self.rlimits.push((resource, soft, hard));
        self
    }

    /// Gives the child `parent_fd` as its descriptor number `child_fd` (3 or above), open
    /// across `execve()`, e.g. a socket for socket activation or a pipe for a `--status-fd`
    /// option. The command keeps `parent_fd` (each [`spawn`](Command::spawn) passes a
    /// duplicate); a later call for the same `child_fd` replaces the earlier one.
    ///
    /// The child's standard input, output and error are set with
    /// [`stdin`](Command::stdin), [`stdout`](Command::stdout) and [`stderr`](Command::stderr);
    /// a `child_fd` of 0, 1 or 2 (or a negative one) makes [`spawn`](Command::spawn) fail with
    /// [`Error::Io`] of kind [`InvalidInput`](io::ErrorKind::InvalidInput). Every other
    /// descriptor of this process that is not close-on-exec is inherited too, unless
    /// [`close_other_fds`](Command::close_other_fds).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io::Read;
    /// use autokill::Command;
    ///
    /// let (read, write) = autokill::sys::pipe()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo ready >&3"]).fd(3, write);
    /// cmd.spawn()?.wait()?;
    /// drop(cmd); // and with it the command's write end
    /// let mut status = String::new();
    /// File::from(read).read_to_string(&mut status)?;
    /// assert_eq!(status, "ready\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&mut self, child_fd: RawFd, parent_fd: impl Into<OwnedFd>) -> &mut Self {
        self.fds.insert(child_fd, parent_fd.into());
        self
    }

    /// Whether the child gets no descriptors but its standard input, output and error and
    /// those of [`fd`](Command::fd); off by default (it inherits every descriptor of this
    /// process that is not close-on-exec, as with [`std::process::Command`]).
    ///
    /// The child marks every other descriptor close-on-exec with one
    /// `close_range(CLOSE_RANGE_CLOEXEC)` per gap between the numbers it keeps (Linux 5.11),
    /// so `execve()` closes them: a descriptor another thread opened without `O_CLOEXEC`, or a
    /// library's, cannot leak into the program.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::Command;
    ///
    /// // Lists only 0, 1, 2 (and the descriptor ls opens for the directory).
    /// let output = Command::new("ls").arg("/proc/self/fd").close_other_fds(true).output()?;
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn close_other_fds(&mut self, on: bool) -> &mut Self {
        self.close_other_fds = on;
        self
    }

    /// Creates the child in the cgroup `dir`, an open cgroup2 directory (`O_PATH` is enough),
    /// with `CLONE_INTO_CGROUP` (Linux 5.7): the child is in that cgroup from its first
    /// instruction, subject to its limits, and never in this process's cgroup. The command
    /// keeps the descriptor.
    ///
    /// The kernel checks the move when `clone3()` creates the child, as for writing the pid to
    /// the cgroup's `cgroup.procs`: this process needs write access to that file and to the
    /// common ancestor's, and the cgroup must be a cgroup2 directory that can take processes
    /// (a leaf, or the root). Otherwise [`spawn`](Command::spawn) fails with
    /// [`Error::Cgroup`] and the kernel's `errno` (`EBADF` for a directory that is not in a
    /// cgroup2 hierarchy, `EACCES`, `ENOENT` for a cgroup outside this process's cgroup
    /// namespace, `EBUSY` or `EOPNOTSUPP` for one that cannot take processes, `ENODEV` for a
    /// removed one).
    ///
    /// On the fallback (see [`Guarantee::ParentThreadSignal`]) dropping the child writes the
    /// cgroup's `cgroup.kill`, which kills **every** process in it, other children spawned
    /// into it included: give each child a cgroup of its own. Where a seccomp filter refuses
    /// `clone3()` the fallback's legacy `clone()` has no `CLONE_INTO_CGROUP`, and the child
    /// moves itself into the cgroup (writing `cgroup.procs`) as its first step, before any
    /// other step of the command.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use autokill::Command;
    ///
    /// std::fs::create_dir_all("/sys/fs/cgroup/jobs/job-1")?;
    /// std::fs::write("/sys/fs/cgroup/jobs/job-1/memory.max", "1G")?;
    /// let mut child = Command::new("make")
    ///     .cgroup(File::open("/sys/fs/cgroup/jobs/job-1")?)
    ///     .spawn()?;
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cgroup(&mut self, dir: impl Into<OwnedFd>) -> &mut Self {
        self.cgroup = Some(dir.into());
        self
    }

    /// Schedules a closure to run in the child just before `execve()`, after the standard
    /// I/O, credentials, working directory and process group are set up, like
    /// `std::os::unix::process::CommandExt::pre_exec`. Closures run in the order they were
    /// added; if one fails, [`spawn`](Command::spawn) returns [`Error::Io`] with its
    /// `raw_os_error()` (`EINVAL` for an error without one) and the child exits with status 127.
    ///
    /// Look first for a built-in that does what the closure would, without `unsafe`:
    /// [`setsid`](Command::setsid), [`umask`](Command::umask), [`rlimit`](Command::rlimit),
    /// [`fd`](Command::fd), [`close_other_fds`](Command::close_other_fds),
    /// [`cgroup`](Command::cgroup) and [`process_group`](Command::process_group) work on the
    /// cheaper vfork path; [`uid`](Command::uid), [`gid`](Command::gid) and
    /// [`groups`](Command::groups) take the fork path (see [`uid`](Command::uid)), as `std`
    /// does for them. A command with a closure takes the fork path: `clone3()` without
    /// `CLONE_VM` copies this process (its page tables; the cost grows with its memory).
    ///
    /// # Safety
    ///
    /// The closure runs in a copy of this process made by `clone3()` without `CLONE_VM`, in
    /// which only the calling thread exists. Other threads may have held locks (of the memory
    /// allocator, of `stdout`, ...) at that moment, which then stay locked forever in the
    /// child: the closure must only do async-signal-safe things, as after `fork()`. It must not
    /// allocate, take locks, panic or unwind, and must not close or replace the descriptors the
    /// child still needs (the report pipe, above 2 and above every [`fd`](Command::fd) target,
    /// close-on-exec).
    ///
    /// This is stricter than after `std`'s `fork()`: `clone3()` is a raw system call, so none
    /// of the C library's fork handlers ran. `malloc()` (any allocation: `Box`, `Vec`,
    /// `format!`), `printf()` and `println!`, and the C library's `setuid()`, `setgid()` and
    /// `setgroups()` (which signal every thread the library believes exists) can deadlock in
    /// the closure where they would work after `std`'s `fork()`. Call the system calls
    /// themselves (`libc::syscall(libc::SYS_...)`) or the async-signal-safe functions of
    /// `signal-safety(7)`.
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

    /// Whether [`spawn`](Command::spawn) tries `clone3(CLONE_PIDFD_AUTOKILL)` first; on by
    /// default. With `false` it goes straight to the fallback
    /// ([`Guarantee::ParentThreadSignal`], see there), as on a kernel without
    /// `CLONE_PIDFD_AUTOKILL`: for tests of the fallback and for comparing the two on a Linux
    /// 7.1+ kernel. A [`require`](Command::require)d [`Guarantee::Kernel`] then makes
    /// [`spawn`](Command::spawn) fail.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Guarantee};
    ///
    /// let child = Command::new("sleep").arg("10").kernel_autokill(false).spawn()?;
    /// assert_eq!(child.guarantee(), Guarantee::ParentThreadSignal);
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn kernel_autokill(&mut self, on: bool) -> &mut Self {
        self.kernel_autokill = on;
        self
    }

    /// The weakest [`Guarantee`] the child may get: [`spawn`](Command::spawn) fails with
    /// [`Error::GuaranteeUnavailable`] (saying what is missing and why) rather than give less,
    /// and creates no child then. The default, [`Guarantee::DropOnly`], is best effort: the
    /// kernel's guarantee where `clone3(CLONE_PIDFD_AUTOKILL)` works, else the fallback.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use autokill::{Command, Error, Guarantee};
    ///
    /// match Command::new("server").require(Guarantee::Kernel).spawn() {
    ///     Ok(child) => assert_eq!(child.guarantee(), Guarantee::Kernel),
    ///     Err(Error::GuaranteeUnavailable { reason, .. }) => eprintln!("no autokill: {reason}"),
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok::<(), autokill::Error>(())
    /// ```
    pub fn require(&mut self, guarantee: Guarantee) -> &mut Self {
        self.required = guarantee;
        self
    }

    /// Creates the child and executes the program in it. Standard I/O not set on the command
    /// is inherited.
    ///
    /// Returns once the program has been executed (or failed to be). The child is killed when
    /// the returned [`Child`] is dropped, see there.
    ///
    /// # Errors
    ///
    /// Where `CLONE_PIDFD_AUTOKILL` is missing or refused the child is spawned on the fallback
    /// (see [`Guarantee`]) unless [`require`](Command::require) asks for more: then
    /// [`Error::GuaranteeUnavailable`], with the reason ([`Error::Unsupported`] before Linux
    /// 7.1, [`Error::Seccomp`] when a seccomp filter refuses `clone3()`,
    /// [`Error::PermissionDenied`] for [`no_new_privs(false)`](Command::no_new_privs) without
    /// `CAP_SYS_ADMIN`). On the fallback, a calling thread whose namespaces, seccomp filter,
    /// capabilities or `no_new_privs` are not those of the crate's spawner thread gets
    /// [`Error::Io`] of kind [`Unsupported`](io::ErrorKind::Unsupported). Further:
    /// [`Error::Namespace`] when the namespaces of
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

    /// [`spawn`](Command::spawn) without the autokill flags (no `CLONE_AUTOREAP`,
    /// `CLONE_PIDFD_AUTOKILL` or `CLONE_NNP`, nor the namespaces' privilege checks), with
    /// `SIGCHLD` as exit signal, on the same path: for tests and benchmarks of the spawn
    /// itself on kernels without autokill (feature `unarmed`). Not for programs: the child is
    /// tied to nothing.
    ///
    /// The caller must ignore `SIGCHLD` (`SIG_IGN`) so that the kernel reaps the child; its
    /// pidfd then reports the exit status like an autoreaped one's, else [`Child::wait`] waits
    /// for a reaping that never comes.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn), with a failed `clone3()` as [`Error::Io`].
    #[cfg(any(test, feature = "unarmed"))]
    pub fn spawn_unarmed(&mut self) -> Result<Child, Error> {
        let path = self.clone_path();
        self.create(INHERIT_ALL, 0, libc::SIGCHLD, path, Error::Io)?
            .into_child(self)
    }

    /// [`spawn`](Command::spawn) with the given defaults for standard I/O: the kernel's
    /// guarantee if it can be had, else the fallback if [`require`](Command::require) allows.
    fn spawn_with(&mut self, defaults: StdioDefaults) -> Result<Child, Error> {
        let level = if self.no_new_privs {
            Guarantee::ParentThreadSignal
        } else {
            Guarantee::DropOnly
        };
        let reason = if !self.kernel_autokill {
            Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "kernel_autokill(false) turned CLONE_PIDFD_AUTOKILL off",
            ))
        } else if let Some(reason) = crate::probe::known_missing() {
            reason
        } else {
            match self.spawn_kernel(defaults) {
                Ok(child) => return Ok(child),
                Err(error @ (Error::Unsupported | Error::Seccomp | Error::PermissionDenied)) => {
                    error
                }
                Err(error) => return Err(error),
            }
        };
        if self.required > level {
            return Err(Error::GuaranteeUnavailable {
                required: self.required,
                available: level,
                reason: Box::new(reason),
            });
        }
        let legacy = crate::probe::clone3_refused();
        match self.spawn_fallback(defaults, level, legacy) {
            // A seccomp filter installed since: once more with the legacy `clone()`.
            Err(FallbackError::Clone3Refused) => {
                crate::probe::record_clone3_refused();
                self.spawn_fallback(defaults, level, true)
            }
            // Once more with `clone()`, which says whether the flags or the kernel were wrong.
            Err(FallbackError::Clone3Einval) => self.spawn_fallback(defaults, level, true),
            result => result,
        }
        .map_err(|error| match error {
            FallbackError::Clone3Refused => Error::Io(io::Error::from_raw_os_error(libc::ENOSYS)),
            FallbackError::Clone3Einval => Error::Io(io::Error::from_raw_os_error(libc::EINVAL)),
            FallbackError::Spawn(error) => error,
        })
    }

    /// The kernel's way: `clone3(CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL)`. Notes in
    /// [`crate::probe`] what a refusal says about the kernel.
    fn spawn_kernel(&mut self, defaults: StdioDefaults) -> Result<Child, Error> {
        let mut flags = sys::AUTOKILL;
        if self.no_new_privs {
            flags |= sys::CLONE_NNP;
        }
        let (nnp, namespaces, cgroup) = (self.no_new_privs, self.kill_tree, self.cgroup.is_some());
        let path = self.clone_path();
        let result = self.create(defaults, flags, 0, path, |error| {
            let errno = error.raw_os_error();
            let mapped = clone_error(error, nnp, namespaces, cgroup);
            if matches!(mapped, Error::Unsupported | Error::Seccomp) {
                crate::probe::record_kernel_refusal(errno, namespaces || cgroup);
            }
            mapped
        });
        result?.into_child(self)
    }

    /// The fallback ([`Guarantee::ParentThreadSignal`], or [`Guarantee::DropOnly`] without
    /// `no_new_privs`): the child is created by the crate's spawner thread, with `clone3()` on
    /// the usual path, or with the legacy `clone()` (fork-like) if `legacy` (`clone3()` is
    /// refused), with exit signal 0; it sets `no_new_privs` and `PR_SET_PDEATHSIG(SIGKILL)`
    /// itself and checks that its parent still lives before `execve()`.
    fn spawn_fallback(
        &mut self,
        defaults: StdioDefaults,
        level: Guarantee,
        legacy: bool,
    ) -> Result<Child, FallbackError> {
        let path = if legacy {
            ClonePath::Fork
        } else {
            self.clone_path()
        };
        let (mut plan, parent) = self.prepare(defaults, path)?;
        let min = self.min_source()?;
        plan.set_no_new_privs = self.no_new_privs;
        // SAFETY: `getpid()` cannot fail.
        let pid = unsafe { libc::getpid() };
        plan.parent_death = Some(ParentDeath {
            // The init of a new pid namespace sees its parent as pid 0.
            ppid: (!self.kill_tree).then_some(pid),
            // Set on the spawner thread.
            pidfd: -1,
        });
        #[cfg(test)]
        let test_pidfd = match &self.test_parent {
            Some((ppid, pidfd)) => {
                if let Some(death) = plan.parent_death.as_mut() {
                    death.ppid = death.ppid.map(|_| *ppid);
                }
                Some(exec::dup_at_least(pidfd.as_fd(), min)?)
            }
            None => None,
        };
        #[cfg(not(test))]
        let test_pidfd: Option<OwnedFd> = None;
        let mut cgroup = self.cgroup.as_ref().map(AsRawFd::as_raw_fd);
        if legacy {
            // No `CLONE_INTO_CGROUP` for `clone()`: the child moves itself.
            if let Some(dir) = self.cgroup.as_ref() {
                let dir = exec::dup_at_least(dir.as_fd(), min)?;
                plan.cgroup_procs = Some(dir.as_raw_fd());
                plan.owned.push(dir);
            }
            cgroup = None;
        }
        let request = CloneRequest {
            flags: self.namespace_flags(&plan),
            exit_signal: 0,
            cgroup,
        };
        // The cgroup directory the child's drop writes `cgroup.kill` of: taken before the
        // clone, so that nothing can fail between the clone and the child's handle.
        let kill_cgroup = match &self.cgroup {
            Some(dir) => Some(dir.try_clone()?),
            None => None,
        };
        let mut pre_exec = std::mem::take(&mut self.pre_exec);
        // Everything the spawner thread uses is moved to it (and back): no borrowed data
        // crosses threads. `request.cgroup` is a number of a descriptor that `self` keeps open
        // while this thread waits for the job.
        let caller = fallback::ThreadState::current();
        let job = move |spawner: &fallback::SpawnerInfo| {
            // A panic stops here, so that the `pre_exec` closures always come back: a retry
            // must not spawn without them (nor may they be dropped on the spawner thread).
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if let Some(what) = fallback::ThreadState::current().differs(&caller) {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!(
                            "the fallback creates children from the crate's spawner thread, \
                             whose {what} are not the calling thread's: the child would \
                             not get this thread's state (use a thread whose state is the \
                             process's, or a kernel with CLONE_PIDFD_AUTOKILL)"
                        ),
                    ));
                }
                let pidfd = match test_pidfd {
                    Some(pidfd) => pidfd,
                    None => {
                        // SAFETY: The spawner's pidfd stays open as long as the process (the
                        // spawner is never freed).
                        let own = unsafe { BorrowedFd::borrow_raw(spawner.thread_pidfd) };
                        exec::dup_at_least(own, min)?
                    }
                };
                if let Some(death) = plan.parent_death.as_mut() {
                    death.pidfd = pidfd.as_raw_fd();
                }
                plan.owned.push(pidfd);
                match (path, legacy) {
                    (ClonePath::Vfork, _) => clone_vfork(&request, &plan),
                    // SAFETY: As for `clone_child` below; the flags are those of the
                    // namespaces (below bit 32) and there is no `request.cgroup`.
                    (ClonePath::Fork, true) => unsafe {
                        exec::clone_child_legacy(&request, || {
                            exec::exec_child(&plan, &mut pre_exec)
                        })
                    },
                    // SAFETY: `exec_child` is async-signal-safe and never returns, and so are
                    // the pre-exec closures by the contract of `pre_exec`; `plan` outlives the
                    // call.
                    (ClonePath::Fork, false) => unsafe {
                        exec::clone_child(&request, || exec::exec_child(&plan, &mut pre_exec))
                    },
                }
            }))
            .unwrap_or_else(|_| Err(io::Error::other("the spawn panicked on the spawner thread")));
            (result, plan, pre_exec)
        };
        let (result, plan, pre_exec) = fallback::on_spawner_thread(job)?;
        self.pre_exec = pre_exec;
        let (pid, pidfd) = result.map_err(|error| match error.raw_os_error() {
            Some(libc::ENOSYS) if !legacy => FallbackError::Clone3Refused,
            // Kernels 5.3 to 5.6 have `clone3()` but not `CLONE_CLEAR_SIGHAND` (5.5) or
            // `CLONE_INTO_CGROUP` (5.7); `clone()` does without them.
            Some(libc::EINVAL) if !legacy => FallbackError::Clone3Einval,
            _ => FallbackError::Spawn(clone_error(
                error,
                true,
                self.kill_tree,
                self.cgroup.is_some(),
            )),
        })?;
        let report = match path {
            ClonePath::Vfork => plan.vfork_report(),
            ClonePath::Fork => {
                drop(plan);
                let report = parent
                    .report
                    .ok_or_else(|| io::Error::other("no pipe"))
                    .and_then(exec::read_report);
                match report {
                    Ok(report) => report,
                    Err(error) => {
                        // The child runs, with no handle: killed and reaped as a dropped one.
                        drop(ChildFd::fallback(pidfd, None, level));
                        return Err(error.into());
                    }
                }
            }
        };
        Created {
            pid,
            pidfd,
            kind: CreatedKind::Fallback(level, kill_cgroup),
            stdin: parent.stdin,
            stdout: parent.stdout,
            stderr: parent.stderr,
            report,
        }
        .into_child(self)
        .map_err(FallbackError::Spawn)
    }

    /// The lowest number a descriptor the child duplicates from may have: above every target.
    fn min_source(&self) -> Result<RawFd, Error> {
        let max_target = self.fds.keys().copied().fold(2, RawFd::max);
        max_target
            .checked_add(1)
            .ok_or_else(|| invalid_input(format!("fd({max_target}, ...): too high")))
    }

    /// The way [`spawn`](Command::spawn) creates the child: the vfork path, unless
    ///
    /// - a pre-exec closure is set (which needs a copy of this process to run in, as with
    ///   `std`),
    /// - the child changes its credentials ([`uid`](Command::uid), [`gid`](Command::gid),
    ///   [`groups`](Command::groups)): when a task's ids or capabilities change, the kernel's
    ///   `commit_creds()` (kernel/cred.c) sets the dumpability that the task shares with every
    ///   task on the same memory to `fs.suid_dumpable` (0 by default), and on the vfork path
    ///   (`CLONE_VM`) those are this process's threads: a root parent would stay non-dumpable
    ///   for good (`PR_GET_DUMPABLE` 0: its `/proc/<pid>` files owned by root, no core dumps).
    ///   `std` does not use `posix_spawn()` for commands with credentials either,
    /// - or this architecture has no trampoline for it.
    fn clone_path(&self) -> ClonePath {
        if raw::INLINE && self.pre_exec.is_empty() && !self.credentials.any() {
            ClonePath::Vfork
        } else {
            ClonePath::Fork
        }
    }

    /// Prepares the child, creates it with `clone3(flags | namespace flags)`, `exit_signal`
    /// and the cgroup on `path`, and waits until it has executed the program or failed to.
    /// `clone_error` maps a failed `clone3()`.
    fn create(
        &mut self,
        defaults: StdioDefaults,
        flags: u64,
        exit_signal: libc::c_int,
        path: ClonePath,
        clone_error: impl FnOnce(io::Error) -> Error,
    ) -> Result<Created, Error> {
        let (plan, parent) = self.prepare(defaults, path)?;
        let request = CloneRequest {
            flags: flags | self.namespace_flags(&plan),
            exit_signal,
            cgroup: self.cgroup.as_ref().map(AsRawFd::as_raw_fd),
        };
        let (pid, pidfd, report) = match path {
            ClonePath::Vfork => {
                let (pid, pidfd) = clone_vfork(&request, &plan).map_err(clone_error)?;
                (pid, pidfd, plan.vfork_report())
            }
            ClonePath::Fork => {
                let pre_exec = &mut self.pre_exec;
                // SAFETY: `exec_child` is async-signal-safe and never returns, and so are the
                // pre-exec closures by the contract of `pre_exec`; `plan` outlives the call.
                let result =
                    unsafe { exec::clone_child(&request, || exec::exec_child(&plan, pre_exec)) };
                let (pid, pidfd) = result.map_err(clone_error)?;
                // Close the child's ends, among them the write end of the report pipe, so that
                // reading its read end ends when the child has executed the program or exited.
                drop(plan);
                let report_pipe = parent.report.ok_or_else(|| io::Error::other("no pipe"))?;
                (pid, pidfd, exec::read_report(report_pipe)?)
            }
        };
        Ok(Created {
            pid,
            pidfd,
            kind: CreatedKind::Kernel,
            stdin: parent.stdin,
            stdout: parent.stdout,
            stderr: parent.stderr,
            report,
        })
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

    /// The child's environment, and its `PATH`: this process's `environ` as it is, unless the
    /// command changes it; else a copy with the changes applied.
    fn child_env(&self) -> Result<(Envp, Option<OsString>), Error> {
        if !self.env_clear && self.env.is_empty() {
            return Ok((Envp::inherit(), std::env::var_os("PATH")));
        }
        for key in self.env.keys() {
            if key.is_empty() || key.as_bytes().contains(&b'=') {
                return Err(invalid_input(format!(
                    "the environment variable name {key:?} is empty or contains '='"
                )));
            }
        }
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
        let path = env.get(OsStr::new("PATH")).cloned();
        let envp = env
            .into_iter()
            .map(|(key, value)| {
                let mut entry = key.into_vec();
                entry.push(b'=');
                entry.extend(value.into_vec());
                cstring(OsStr::from_bytes(&entry), "an environment variable")
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Envp::Own(CStringArray::new(envp)), path))
    }

    /// Prepares everything the child needs between `clone3()` and `execve()` on `path`.
    fn prepare(
        &self,
        defaults: StdioDefaults,
        path: ClonePath,
    ) -> Result<(ExecPlan, ParentSide), Error> {
        let argv0 = self.arg0.as_ref().unwrap_or(&self.program);
        let argv = std::iter::once(cstring(argv0, "the program"))
            .chain(self.args.iter().map(|arg| cstring(arg, "an argument")))
            .collect::<Result<Vec<_>, _>>()?;
        let (envp, search_path) = self.child_env()?;
        let candidates = path_candidates(&self.program, search_path.as_deref())?;
        let mut plan = ExecPlan::new(CStringArray::new(argv), envp, candidates);

        if self.setsid && self.pgroup.is_some() {
            return Err(invalid_input(
                "setsid(true) and process_group() cannot be combined: a session leader cannot \
                 change its process group"
                    .to_owned(),
            ));
        }
        if let Some((&child_fd, _)) = self.fds.iter().find(|(&fd, _)| fd <= 2) {
            return Err(invalid_input(format!(
                "fd({child_fd}, ...): the child's descriptor must be 3 or above (use stdin(), \
                 stdout() and stderr() for 0, 1 and 2)"
            )));
        }
        // Every descriptor the child duplicates from is above every target.
        let max_target = self.fds.keys().copied().fold(2, RawFd::max);
        let min_source = max_target
            .checked_add(1)
            .ok_or_else(|| invalid_input(format!("fd({max_target}, ...): too high")))?;

        let [stdin, stdout, stderr] = defaults.0;
        let mut null = None;
        let mut parent_ends: [Option<OwnedFd>; 3] = [None, None, None];
        for (target, (stdio, default, direction)) in [
            (&self.stdin, stdin, Direction::ToChild),
            (&self.stdout, stdout, Direction::FromChild),
            (&self.stderr, stderr, Direction::FromChild),
        ]
        .into_iter()
        .enumerate()
        {
            let (source, parent_end) = prepare_stdio(
                stdio,
                default,
                direction,
                min_source,
                &mut plan.owned,
                &mut null,
            )?;
            if let Some(source) = source {
                plan.fds.push(FdMapping {
                    source,
                    target: target as RawFd,
                });
            }
            parent_ends[target] = parent_end;
        }
        for (&target, fd) in &self.fds {
            let source = exec::dup_at_least(fd.as_fd(), min_source)?;
            plan.fds.push(FdMapping {
                source: source.as_raw_fd(),
                target,
            });
            plan.owned.push(source);
        }
        if self.close_other_fds {
            plan.cloexec_ranges = cloexec_ranges(self.fds.keys().copied());
        }

        let report = match path {
            ClonePath::Vfork => None,
            ClonePath::Fork => {
                let (read, write) = sys::pipe()?;
                plan.report_pipe = Some(exec::at_least(write, min_source)?);
                Some(read)
            }
        };
        plan.cwd = match &self.cwd {
            Some(dir) => Some(cstring(dir.as_os_str(), "the working directory")?),
            None => None,
        };
        // Without CAP_SYS_ADMIN only a new user namespace lets the child own a pid namespace.
        // Asked only then: one `capget()` less for every other spawn.
        if self.kill_tree && !sys::has_capability(sys::CAP_SYS_ADMIN).unwrap_or(false) {
            plan.id_maps = Some(IdMaps::identity());
        }
        plan.credentials = self.credentials.clone();
        plan.setsid = self.setsid;
        plan.pgroup = self.pgroup;
        plan.umask = self.umask;
        plan.rlimits = self
            .rlimits
            .iter()
            .map(|&(resource, soft, hard)| match resource {
                Some(resource) => Ok((resource, [soft, hard])),
                None => Err(invalid_input(
                    "rlimit(): the resource is no RLIMIT_* number".to_owned(),
                )),
            })
            .collect::<Result<_, _>>()?;
        let [stdin, stdout, stderr] = parent_ends;
        let parent = ParentSide {
            stdin: stdin.map(ChildStdin::from_fd),
            stdout: stdout.map(ChildStdout::from_fd),
            stderr: stderr.map(ChildStderr::from_fd),
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
            exec::STEP_PARENT_GONE => Error::Io(io::Error::other(
                "the parent died before the child set PR_SET_PDEATHSIG; the child exited",
            )),
            exec::STEP_CGROUP => Error::Cgroup { source },
            _ => Error::Io(source),
        }
    }
}

/// The error for a failed `clone3()` with the autokill flags: `nnp`, `namespaces` and `cgroup`
/// say whether `CLONE_NNP`, `CLONE_NEWPID` and `CLONE_INTO_CGROUP` were asked for.
pub(crate) fn clone_error(error: io::Error, nnp: bool, namespaces: bool, cgroup: bool) -> Error {
    let errno = error.raw_os_error();
    let context = CloneContext {
        nnp,
        namespaces,
        cgroup,
        seccomp_filter: errno == Some(libc::ENOSYS)
            && sys::seccomp_mode().ok() == Some(libc::SECCOMP_MODE_FILTER as libc::c_int),
        // Only asked when it decides: an EINVAL with namespaces.
        autokill_supported: (namespaces && errno == Some(libc::EINVAL))
            .then(|| crate::supported().kernel == Some(true)),
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

/// The paths `execve()` tries in turn for `program`, with `path` the child's `PATH`: each
/// followed by a NUL, one after the other in one buffer (as [`ExecPlan::candidates`] wants
/// them).
///
/// A program with a `/` is used as is; otherwise each `PATH` entry is tried in order, an empty
/// one meaning the working directory, like `execvp()` does. An empty program has no candidates
/// (the child then reports `ENOENT`).
fn path_candidates(program: &OsStr, path: Option<&OsStr>) -> Result<Vec<u8>, Error> {
    let program = program.as_bytes();
    if program.contains(&0) {
        return Err(invalid_input(format!(
            "the program {:?} contains a NUL byte",
            OsStr::from_bytes(program)
        )));
    }
    let mut candidates = Vec::new();
    if program.contains(&b'/') {
        candidates.extend_from_slice(program);
        candidates.push(0);
        return Ok(candidates);
    }
    if program.is_empty() {
        return Ok(candidates);
    }
    let path = path.map_or(DEFAULT_PATH.as_bytes(), OsStrExt::as_bytes);
    candidates.reserve(path.len() + (program.len() + 2) * (path.len() / 4 + 1));
    for dir in path.split(|&byte| byte == b':') {
        // A NUL would end the candidate early (an environment value cannot hold one anyway).
        if dir.contains(&0) {
            continue;
        }
        // As `Path::join`: no second `/` after a directory that ends with one.
        if !dir.is_empty() {
            candidates.extend_from_slice(dir);
            if !dir.ends_with(b"/") {
                candidates.push(b'/');
            }
        }
        candidates.extend_from_slice(program);
        candidates.push(0);
    }
    Ok(candidates)
}

/// The ranges of descriptor numbers [`Command::close_other_fds`] marks close-on-exec: from 3 to
/// the last one, without `keep`.
fn cloexec_ranges(keep: impl Iterator<Item = RawFd>) -> Vec<(libc::c_uint, libc::c_uint)> {
    let mut keep: Vec<libc::c_uint> = keep
        .filter_map(|fd| libc::c_uint::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut ranges = Vec::with_capacity(keep.len() + 1);
    let mut first: libc::c_uint = 3;
    for fd in keep {
        if fd > first {
            ranges.push((first, fd - 1));
        }
        // Below 2^31: the number came from a non-negative `RawFd`.
        first = fd + 1;
    }
    ranges.push((first, libc::c_uint::MAX));
    ranges
}

/// How the child is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClonePath {
    /// `clone3(CLONE_VM | CLONE_VFORK)` on a stack of its own ([`crate::vfork`]).
    Vfork,
    /// `clone3()` of a copy of this process ([`exec::clone_child`]).
    Fork,
}

/// The vfork path's `clone3()`, for the child that runs `plan`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn clone_vfork(request: &CloneRequest, plan: &ExecPlan) -> io::Result<(libc::pid_t, OwnedFd)> {
    // SAFETY: `vfork_child` only makes raw system calls on `plan` and ends in `execve()` or
    // `exit_group()`; `plan` has no report pipe and stays alive and unchanged until
    // `clone_vfork` returns, which is after the child executed the program or exited.
    unsafe {
        crate::vfork::clone_vfork(request, exec::vfork_child, std::ptr::addr_of!(*plan).cast())
    }
}

/// The vfork path's `clone3()`: not on this architecture ([`Command::clone_path`] never
/// chooses it here).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn clone_vfork(_request: &CloneRequest, _plan: &ExecPlan) -> io::Result<(libc::pid_t, OwnedFd)> {
    Err(io::ErrorKind::Unsupported.into())
}

/// A child created by [`Command::create`], and what it reported.
struct Created {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    kind: CreatedKind,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// The child's report: `None` if it executed the program.
    report: Option<[u8; 4]>,
}

/// How a child was created.
enum CreatedKind {
    /// With `CLONE_PIDFD_AUTOKILL | CLONE_AUTOREAP` (or unarmed, with `SIGCHLD` ignored: the
    /// kernel reaps it too).
    Kernel,
    /// On the fallback, at this level, with a duplicate of the cgroup directory for
    /// `cgroup.kill`.
    Fallback(Guarantee, Option<OwnedFd>),
}

impl Created {
    /// The [`Child`], or the error the child reported (it has exited: dropping a kernel
    /// child's pidfd has nothing left to kill; a fallback child is handed to the spawner thread
    /// to be reaped, without `cgroup.kill`, which is for children that ran).
    fn into_child(self, command: &Command) -> Result<Child, Error> {
        let failed = self.report.is_some();
        let pidfd = match self.kind {
            CreatedKind::Kernel => ChildFd::kernel(self.pidfd),
            CreatedKind::Fallback(level, _) if failed => ChildFd::fallback(self.pidfd, None, level),
            CreatedKind::Fallback(level, cgroup) => ChildFd::fallback(self.pidfd, cgroup, level),
        };
        match self.report {
            None => Ok(Child::new(
                self.pid,
                pidfd,
                self.stdin,
                self.stdout,
                self.stderr,
            )),
            Some(report) => Err(command.report_error(report)),
        }
    }
}

/// Why the fallback failed.
enum FallbackError {
    /// `clone3()` said `ENOSYS`: to be tried again with the legacy `clone()`.
    Clone3Refused,
    /// `clone3()` said `EINVAL`: a kernel before 5.7 may lack a flag of the fallback's; to be
    /// tried again with `clone()`, without noting anything.
    Clone3Einval,
    Spawn(Error),
}

impl From<Error> for FallbackError {
    fn from(error: Error) -> Self {
        FallbackError::Spawn(error)
    }
}

impl From<io::Error> for FallbackError {
    fn from(error: io::Error) -> Self {
        FallbackError::Spawn(Error::Io(error))
    }
}

/// The parent's ends of the pipes.
struct ParentSide {
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// The fork path's read end of the report pipe: EOF when the child executed the program,
    /// or 4 bytes.
    report: Option<OwnedFd>,
}

/// Which way a standard stream flows.
#[derive(Clone, Copy)]
enum Direction {
    ToChild,
    FromChild,
}

/// The child's descriptor for a standard stream (`stdio`, or `default` if unset), numbered
/// `min` or above, and the parent's end if it is piped. New descriptors for the child go into
/// `owned`; `/dev/null` is opened once per spawn (`null`), whichever streams use it.
fn prepare_stdio(
    stdio: &Option<Stdio>,
    default: DefaultStdio,
    direction: Direction,
    min: RawFd,
    owned: &mut Vec<OwnedFd>,
    null: &mut Option<RawFd>,
) -> io::Result<(Option<RawFd>, Option<OwnedFd>)> {
    let kind = match (stdio, default) {
        (Some(stdio), _) => &stdio.0,
        (None, DefaultStdio::Inherit) => &StdioKind::Inherit,
        (None, DefaultStdio::Null) => &StdioKind::Null,
        (None, DefaultStdio::Piped) => &StdioKind::Piped,
    };
    let mut own = |fd: OwnedFd| {
        let raw = fd.as_raw_fd();
        owned.push(fd);
        raw
    };
    Ok(match kind {
        StdioKind::Inherit => (None, None),
        StdioKind::Null => match *null {
            Some(fd) => (Some(fd), None),
            None => {
                let file = File::options().read(true).write(true).open("/dev/null")?;
                let fd = own(exec::at_least(file.into(), min)?);
                *null = Some(fd);
                (Some(fd), None)
            }
        },
        StdioKind::Piped => {
            let (read, write) = sys::pipe()?;
            match direction {
                Direction::ToChild => (Some(own(exec::at_least(read, min)?)), Some(write)),
                Direction::FromChild => (Some(own(exec::at_least(write, min)?)), Some(read)),
            }
        }
        StdioKind::Fd(fd) => (Some(own(exec::dup_at_least(fd.as_fd(), min)?)), None),
    })
}

mod replace;

#[cfg(test)]
mod tests;
