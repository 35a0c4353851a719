// SPDX-License-Identifier: GPL-2.0

//! The child's way from `clone3()` to `execve()`: what the parent prepares ([`ExecPlan`]), the
//! `clone3()` call itself ([`clone_child`]) and what the child runs ([`exec_child`]), with the
//! report pipe that tells the parent why the child could not execute the program.

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::mem::{self, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::{c_char, c_int};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::sys;

/// A pre-exec closure of [`Command::pre_exec`](crate::Command::pre_exec).
pub(crate) type PreExec = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

/// A NULL-terminated array of pointers to C strings, as `execve()` takes, with the strings.
pub(crate) struct CStringArray {
    /// What `ptrs` points to; only read by tests, otherwise kept for ownership.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) strings: Vec<CString>,
    pub(crate) ptrs: Vec<*const c_char>,
}

impl CStringArray {
    pub(crate) fn new(strings: Vec<CString>) -> Self {
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

/// The identity maps a child in a new user namespace writes for itself: its own uid and gid,
/// mapped to themselves.
pub(crate) struct IdMaps {
    /// `"<euid> <euid> 1\n"`.
    pub(crate) uid_map: Vec<u8>,
    /// `"<egid> <egid> 1\n"`.
    pub(crate) gid_map: Vec<u8>,
}

impl IdMaps {
    /// The maps for the calling process's effective uid and gid.
    pub(crate) fn identity() -> Self {
        // SAFETY: `geteuid()` and `getegid()` cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        IdMaps {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }
}

/// The user and groups the child switches to before executing the program.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credentials {
    pub(crate) uid: Option<libc::uid_t>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) groups: Option<Vec<libc::gid_t>>,
}

/// Everything the child uses between `clone3()` and `execve()`, prepared by the parent so that
/// the child only makes system calls on it.
pub(crate) struct ExecPlan {
    pub(crate) argv: CStringArray,
    pub(crate) envp: CStringArray,
    /// The paths to try, in order.
    pub(crate) candidates: CStringArray,
    pub(crate) cwd: Option<CString>,
    /// What to `dup2()` onto descriptors 0, 1 and 2 (all numbered above 2 and close-on-exec).
    pub(crate) stdio: [Option<OwnedFd>; 3],
    /// The write end of the report pipe (above 2 and close-on-exec).
    pub(crate) report: OwnedFd,
    /// The signal mask the program starts with (empty).
    pub(crate) sigmask: libc::sigset_t,
    /// `SIG_DFL`, for `SIGPIPE`.
    pub(crate) default_action: libc::sigaction,
    /// Set for a child in a new user namespace.
    pub(crate) id_maps: Option<IdMaps>,
    pub(crate) credentials: Credentials,
    /// `setpgid(0, pgroup)`.
    pub(crate) pgroup: Option<libc::pid_t>,
}

impl ExecPlan {
    /// The plan's parts that do not depend on the command: the report pipe's write end, the
    /// empty signal mask and the default action. Returns the plan with everything else empty,
    /// and the read end of the report pipe.
    pub(crate) fn new(
        argv: CStringArray,
        envp: CStringArray,
        candidates: CStringArray,
    ) -> io::Result<(Self, OwnedFd)> {
        let (report_read, report_write) = sys::pipe()?;
        let mut sigmask = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `sigemptyset` initialises the set it is given.
        unsafe { libc::sigemptyset(sigmask.as_mut_ptr()) };
        // SAFETY: All-zero is a valid `struct sigaction`: `SIG_DFL`, no flags, an empty mask.
        let mut default_action: libc::sigaction = unsafe { mem::zeroed() };
        default_action.sa_sigaction = libc::SIG_DFL;
        let plan = ExecPlan {
            argv,
            envp,
            candidates,
            cwd: None,
            stdio: [None, None, None],
            report: above_stdio(report_write)?,
            // SAFETY: Initialised just above.
            sigmask: unsafe { sigmask.assume_init() },
            default_action,
            id_maps: None,
            credentials: Credentials::default(),
            pgroup: None,
        };
        Ok((plan, report_read))
    }
}

/// A close-on-exec duplicate of `fd` numbered 3 or above.
pub(crate) fn dup_above_stdio(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
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
pub(crate) fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        Ok(fd)
    } else {
        dup_above_stdio(fd.as_fd())
    }
}

/// The steps of the child that can fail, reported in the top byte of the 4-byte report; the
/// rest is `errno`.
pub(crate) const STEP_EXEC: u32 = 0;
/// `dup2()` of a standard stream failed.
pub(crate) const STEP_STDIO: u32 = 1;
/// `chdir()` failed.
pub(crate) const STEP_CHDIR: u32 = 2;
/// Writing the uid or gid map of the new user namespace failed.
pub(crate) const STEP_ID_MAPS: u32 = 3;
/// `setgroups()`, `setgid()` or `setuid()` failed.
pub(crate) const STEP_CREDENTIALS: u32 = 4;
/// `setpgid()` failed.
pub(crate) const STEP_PGROUP: u32 = 5;
/// A pre-exec closure failed.
pub(crate) const STEP_PRE_EXEC: u32 = 6;
/// A pre-exec closure panicked (the `errno` is 0).
pub(crate) const STEP_PANIC: u32 = 7;
/// Where the step goes in the report.
const STEP_SHIFT: u32 = 24;

/// The 4 bytes the child writes when `step` failed with `errno`.
pub(crate) fn encode_report(step: u32, errno: c_int) -> [u8; 4] {
    // `errno` values are small and positive; the mask keeps a bogus one out of the step byte.
    ((step << STEP_SHIFT) | (errno as u32 & ((1 << STEP_SHIFT) - 1))).to_ne_bytes()
}

/// The step and `errno` of a report.
pub(crate) fn decode_report(report: [u8; 4]) -> (u32, c_int) {
    let word = u32::from_ne_bytes(report);
    (
        word >> STEP_SHIFT,
        (word & ((1 << STEP_SHIFT) - 1)) as c_int,
    )
}

/// Reads the report pipe to its end: `None` on EOF without data (the program was executed),
/// else the 4 bytes the child wrote before `_exit(127)`.
pub(crate) fn read_report(fd: OwnedFd) -> io::Result<Option<[u8; 4]>> {
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
/// takes locks) runs in the child: `CLONE_CLEAR_SIGHAND` resets the handlers in the kernel, but
/// a signal arriving between the child's start and that reset would otherwise still run one.
pub(crate) struct SignalsBlocked {
    old: libc::sigset_t,
}

impl SignalsBlocked {
    pub(crate) fn new() -> io::Result<Self> {
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

/// Creates a child with `clone3(flags | CLONE_PIDFD | CLONE_CLEAR_SIGHAND)`, `exit_signal` and
/// no new stack (fork-like: the child runs on a copy of the caller's memory), and runs `child`
/// in it. Returns the child's pid and its pidfd.
///
/// Only the parent returns. `child` cannot return: its result type, [`Infallible`], has no
/// values (a closure whose body is a call of a `-> !` function, such as `_exit()` or
/// [`exec_child`], has it). If it unwinds, the unwind is caught right here in the child, which
/// then exits with `_exit(127)`: the child never runs on as a second copy of the caller,
/// however the caller catches panics. See [`exit_on_unwind`].
///
/// # Safety
///
/// `child` runs in the new, single-threaded copy of the process, with all signals blocked: it
/// must only do async-signal-safe things (no allocation, no locks, no panics) and end with
/// `execve()` or `_exit()`. `flags` must not ask for shared memory, a stack or anything else
/// that needs more fields of `struct clone_args`.
pub(crate) unsafe fn clone_child(
    flags: u64,
    exit_signal: c_int,
    child: impl FnOnce() -> Infallible,
) -> io::Result<(libc::pid_t, OwnedFd)> {
    let mut pidfd: c_int = -1;
    let mut args = sys::CloneArgs {
        flags: flags | sys::CLONE_PIDFD | sys::CLONE_CLEAR_SIGHAND,
        pidfd: ptr::addr_of_mut!(pidfd) as u64,
        // A valid signal number is positive.
        exit_signal: exit_signal as u64,
        ..sys::CloneArgs::default()
    };
    let blocked = SignalsBlocked::new()?;
    // SAFETY: No `CLONE_VM` and no stack: the child runs on its own copy of this stack and
    // memory, like after `fork()`; the caller guarantees that `child` is async-signal-safe.
    let ret = unsafe { sys::clone3_raw(&mut args, mem::size_of::<sys::CloneArgs>()) };
    if ret == 0 {
        exit_on_unwind(child, || {});
    }
    let error = io::Error::last_os_error();
    drop(blocked);
    if ret < 0 {
        return Err(error);
    }
    // SAFETY: `clone3()` succeeded with `CLONE_PIDFD`, so `pidfd` is a new descriptor that
    // nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // The kernel returns a pid in a `long`.
    Ok((ret as libc::pid_t, pidfd))
}

/// Runs `f` in the child; if it unwinds, runs `report` and ends the child with `_exit(127)`.
/// Never returns: `f` cannot ([`Infallible`] has no values), and an unwind out of it stops here.
///
/// This is what keeps a panic in the child (in a pre-exec closure, the only code the crate runs
/// there that may panic) from unwinding out of [`clone_child`] into the caller's frames, where a
/// `catch_unwind` (every tokio task has one) would let the child go on as a second copy of the
/// parent. Never `abort()` instead: on musl, `abort()` raises `SIGABRT` with the thread id the C
/// library cached for the calling thread, which after a raw `clone3()` (no
/// `CLONE_CHILD_SETTID`, no fork handlers) is the parent thread's, so it would kill the parent.
///
/// The panic hook has already run by the time the unwind gets here, and so has the start of the
/// unwinding (it allocates the exception and reads the unwind tables); the hook locks the
/// backtrace printing lock, may read `RUST_BACKTRACE` (the environment lock) and allocates. In
/// a child of a multithreaded parent each of these can block forever if another thread held
/// the lock at the time of `clone3()`: the child then hangs (and the spawning thread with it,
/// waiting for the report). There is no stable way to skip the hook (`std`'s own fork path calls
/// the unstable `panic::always_abort()`, which also aborts), and replacing the process-wide
/// hook from a library would change the application's panics and need the hook's lock in every
/// child. So a panic in a pre-exec closure stays a violation of its contract (no panics): this
/// makes the outcome an `_exit(127)` that the parent learns about, where the lock state allows.
/// With `panic = "abort"` nothing unwinds and the panic runtime aborts the child.
fn exit_on_unwind(f: impl FnOnce() -> Infallible, report: impl FnOnce()) -> ! {
    let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f));
    // Freeing the payload would take the allocator's lock, which another thread of the parent
    // may have held when the child was created; `_exit()` frees nothing anyway.
    mem::forget(payload);
    report();
    // SAFETY: Ends the child without running anything of the parent's (no unwinding, no atexit
    // handlers, no stdio buffers).
    unsafe { libc::_exit(127) }
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
    report_failure(report, step, errno);
    // SAFETY: Ends the process without running anything of the parent's (atexit handlers,
    // stdio buffers).
    unsafe { libc::_exit(127) }
}

/// Writes the report for `step` failing with `errno`. Async-signal-safe.
fn report_failure(report: RawFd, step: u32, errno: c_int) {
    let report_bytes = encode_report(step, errno);
    loop {
        // SAFETY: Writes 4 bytes from a live array to a descriptor; a bad descriptor only fails.
        let n = unsafe { libc::write(report, report_bytes.as_ptr().cast(), report_bytes.len()) };
        if n >= 0 || self::errno() != libc::EINTR {
            break;
        }
    }
}

/// `-1` of a raw system call as `Err(errno)`. Async-signal-safe.
fn check(ret: libc::c_long) -> Result<(), c_int> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Writes `data` to the file `path` in one `write()`, as the id map files require.
/// Async-signal-safe.
fn write_file(path: &std::ffi::CStr, data: &[u8]) -> Result<(), c_int> {
    // SAFETY: `path` is a NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    // An `int` widened to the `long` of a raw system call (the same type on 32-bit targets).
    check(fd as libc::c_long)?;
    // SAFETY: Writes from a live slice to the descriptor just opened.
    let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let result = match written {
        n if n < 0 => Err(errno()),
        n if n as usize != data.len() => Err(libc::EIO),
        _ => Ok(()),
    };
    // SAFETY: Closes the descriptor opened above, which nothing else uses.
    unsafe { libc::close(fd) };
    result
}

/// Writes the identity uid and gid maps of the child's new user namespace. `setgroups` must be
/// denied before an unprivileged process may write `gid_map`. Async-signal-safe.
fn write_id_maps(maps: &IdMaps) -> Result<(), c_int> {
    write_file(c"/proc/self/setgroups", b"deny\n")?;
    write_file(c"/proc/self/uid_map", &maps.uid_map)?;
    write_file(c"/proc/self/gid_map", &maps.gid_map)
}

/// Switches to the requested groups, group and user, in that order (afterwards the child may
/// lack the privilege for the others). Like `std`, a new uid without explicit groups drops the
/// supplementary groups if the process may (`EPERM` is ignored then).
///
/// Raw system calls: the C library's `setuid()` and friends synchronise all threads of the
/// process, which after a raw `clone3()` it believes still exist. Their versions with 32-bit
/// ids ([`sys::id32`]): on x86, arm and sparc `libc::SYS_setuid` and friends are the legacy
/// calls that cut ids to 16 bits. Async-signal-safe.
fn set_credentials(credentials: &Credentials) -> Result<(), c_int> {
    match (&credentials.groups, credentials.uid) {
        (Some(groups), _) => {
            // SAFETY: Passes a live array and its length.
            check(unsafe { libc::syscall(sys::id32::SETGROUPS, groups.len(), groups.as_ptr()) })?;
        }
        (None, Some(_)) => {
            // SAFETY: An empty list.
            let dropped = check(unsafe {
                libc::syscall(sys::id32::SETGROUPS, 0, ptr::null::<libc::gid_t>())
            });
            match dropped {
                Ok(()) | Err(libc::EPERM) => {}
                Err(errno) => return Err(errno),
            }
        }
        (None, None) => {}
    }
    if let Some(gid) = credentials.gid {
        // SAFETY: A system call with integer arguments.
        check(unsafe { libc::syscall(sys::id32::SETGID, gid) })?;
    }
    if let Some(uid) = credentials.uid {
        // SAFETY: A system call with integer arguments.
        check(unsafe { libc::syscall(sys::id32::SETUID, uid) })?;
    }
    Ok(())
}

/// The child's way from `clone3()` to `execve()`: writes the id maps of a new user namespace,
/// resets `SIGPIPE`, sets up standard I/O, the credentials, the working directory, the process
/// group and the signal mask, runs the pre-exec closures, then tries the candidate paths in
/// turn. On failure it reports the step and `errno` through `plan.report` and exits with status
/// 127.
///
/// Signal handlers need no reset here: `CLONE_CLEAR_SIGHAND` has reset every caught signal to
/// `SIG_DFL` in the kernel.
///
/// Async-signal-safe: only system calls on data the parent prepared, no allocation, no locks,
/// no panics (the pre-exec closures promise the same; if one panics anyway, the child reports
/// [`STEP_PANIC`] and exits with status 127, see [`exit_on_unwind`]). Meant to run only in a new
/// child process.
pub(crate) fn exec_child(plan: &ExecPlan, pre_exec: &mut [PreExec]) -> ! {
    let report = plan.report.as_raw_fd();

    if let Some(maps) = &plan.id_maps {
        if let Err(errno) = write_id_maps(maps) {
            fail(report, STEP_ID_MAPS, errno);
        }
    }

    // `CLONE_CLEAR_SIGHAND` keeps ignored signals ignored (that is how `nohup` works), but the
    // Rust runtime ignores `SIGPIPE`, which programs expect at its default, as `std` does.
    // SAFETY: Sets the default action from a valid `struct sigaction`.
    unsafe { libc::sigaction(libc::SIGPIPE, &plan.default_action, ptr::null_mut()) };

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

    if let Err(errno) = set_credentials(&plan.credentials) {
        fail(report, STEP_CREDENTIALS, errno);
    }

    if let Some(dir) = &plan.cwd {
        // SAFETY: `dir` is a NUL-terminated string.
        if unsafe { libc::chdir(dir.as_ptr()) } != 0 {
            fail(report, STEP_CHDIR, errno());
        }
    }

    if let Some(pgroup) = plan.pgroup {
        // SAFETY: A system call with integer arguments.
        if unsafe { libc::setpgid(0, pgroup) } != 0 {
            fail(report, STEP_PGROUP, errno());
        }
    }

    // SAFETY: Sets the mask from a valid signal set.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &plan.sigmask, ptr::null_mut()) };

    // The closures are the caller's code, the only code here that could panic, which their
    // contract forbids; a panic anyway is reported as such, and the child exits with status 127
    // instead of unwinding into the parent's frames (see `exit_on_unwind`).
    exit_on_unwind(
        || {
            for closure in pre_exec {
                if let Err(error) = closure() {
                    fail(
                        report,
                        STEP_PRE_EXEC,
                        error.raw_os_error().unwrap_or(libc::EINVAL),
                    );
                }
            }
            exec_program(plan)
        },
        || report_failure(report, STEP_PANIC, 0),
    )
}

/// Executes the program, trying the candidate paths in turn; reports the failure and exits if
/// none works. Async-signal-safe.
fn exec_program(plan: &ExecPlan) -> ! {
    let report = plan.report.as_raw_fd();

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

    /// What the test process finds in `marker` once `pid`, a plain child, has exited, with its
    /// exit status.
    fn reap_and_read(pid: libc::pid_t, marker: OwnedFd) -> (c_int, Vec<u8>) {
        let mut status = 0;
        loop {
            // SAFETY: Waits for our own (plain, not autoreaped) child.
            let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
            if ret == pid {
                break;
            }
            assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EINTR));
        }
        let mut written = Vec::new();
        File::from(marker).read_to_end(&mut written).unwrap();
        (status, written)
    }

    #[test]
    fn an_unwind_in_the_child_ends_in_exit_127() {
        let (marker_read, marker_write) = sys::pipe().unwrap();
        // SAFETY: `getpid()` cannot fail.
        let parent = unsafe { libc::getpid() };
        let cloned = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: The child only panics, which must end it with `_exit(127)`; the
            // panic hook it runs is the one risk, acceptable in a test.
            unsafe {
                clone_child(0, libc::SIGCHLD, || {
                    panic!("a panic in the child, to be stopped there")
                })
            }
        }));
        // SAFETY: `getpid()` cannot fail.
        if unsafe { libc::getpid() } != parent {
            // Only a child whose unwind left `clone_child()` gets here: it tells the test and
            // ends without running the rest of the harness.
            // SAFETY: Writes from a live array to the pipe, then ends this process.
            unsafe {
                libc::write(marker_write.as_raw_fd(), b"returned".as_ptr().cast(), 8);
                libc::_exit(0);
            }
        }
        let (pid, _pidfd) = cloned
            .expect("the parent does not unwind")
            .expect("clone3()");
        drop(marker_write);
        let (status, written) = reap_and_read(pid, marker_read);
        assert_eq!(written, b"", "the child returned into the test's code");
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 127);
    }
}
