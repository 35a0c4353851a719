// SPDX-License-Identifier: GPL-2.0

//! The child's way from `clone3()` to `execve()`: what the parent prepares ([`ExecPlan`]), the
//! two ways of creating the child, and what the child runs.
//!
//! - The vfork path ([`crate::vfork`], x86_64 and aarch64, whenever no pre-exec closure and no
//!   credentials are set): `clone3(CLONE_VM | CLONE_VFORK)` on a stack of its own; the child
//!   runs [`vfork_child`] in the parent's memory and reports a failure in
//!   [`ExecPlan::report`], which the parent reads once `clone3()` has returned.
//! - The fork path ([`clone_child`], with pre-exec closures, with credentials and on other
//!   architectures): `clone3()` without `CLONE_VM`; the child runs [`exec_child`] on a copy of
//!   the parent's memory and reports a failure through a close-on-exec pipe.
//!
//! Both run the same steps ([`setup`], then [`exec_program`]) with the raw system calls of
//! [`crate::raw`], on data the parent prepared: no allocation, no lock, no thread-local
//! variable (`errno` included), no panic.

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::{c_char, c_int, c_uint};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::raw;
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

/// The child's environment.
pub(crate) enum Envp {
    /// This process's `environ` as it was when the plan was made, passed through unchanged (no
    /// copy), as `std` does for a command whose environment was not changed.
    Inherit(*const *const c_char),
    /// An environment of its own.
    Own(CStringArray),
}

impl Envp {
    /// This process's environment, as it is now.
    ///
    /// The array stays this process's: a `setenv()` in another thread (`std::env::set_var()`
    /// is one) may replace and free it before the child's `execve()` has read it. See the
    /// crate documentation.
    pub(crate) fn inherit() -> Self {
        extern "C" {
            /// The C library's environment (glibc and musl): a NULL-terminated array of
            /// `NAME=value` strings. `mut`: `setenv()`, `putenv()`, `unsetenv()` and
            /// `clearenv()` change the pointer, so it is no immutable static.
            static mut environ: *const *const c_char;
        }
        // Another thread's write at the same time would be a data race: the documented safety
        // requirement of `std::env::set_var()` and `remove_var()` (no other thread may read the
        // environment, through functions or global variables outside `std::env`, while they
        // run) makes excluding it their callers' duty, as for every C function reading it.
        // SAFETY: Reads the C library's pointer through a raw pointer, as `std` does (no
        // reference to the mutable static is made); no write races with it, see above.
        let current = unsafe { ptr::addr_of!(environ).read() };
        Envp::Inherit(current)
    }

    /// The NULL-terminated array for `execve()`.
    fn as_ptr(&self) -> *const *const c_char {
        match self {
            // A process may have set `environ` to NULL (`clearenv()`); the kernel takes NULL
            // as an empty environment too.
            Envp::Inherit(environ) => *environ,
            Envp::Own(array) => array.as_ptr(),
        }
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

impl Credentials {
    /// Whether the child changes any of its credentials, which makes
    /// [`Command::spawn`](crate::Command::spawn) take the fork path (see
    /// [`Command::uid`](crate::Command::uid)).
    pub(crate) fn any(&self) -> bool {
        self.uid.is_some() || self.gid.is_some() || self.groups.is_some()
    }
}

/// A descriptor the child gets: `source` duplicated onto `target` (without close-on-exec).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FdMapping {
    /// The parent's descriptor, owned by [`ExecPlan::owned`]: close-on-exec and numbered above
    /// every target of the plan, so that no `dup3()` of the child overwrites a source it still
    /// needs.
    pub(crate) source: RawFd,
    /// The number the program sees it as.
    pub(crate) target: RawFd,
}

/// What the child writes into [`ExecPlan::report`] on the vfork path when a step failed: the
/// report of [`encode_report`] with this bit set, which no report has (`errno` values are below
/// 4096), so that 0 means "nothing reported".
const REPORTED: u32 = 1 << 23;

/// Everything the child uses between `clone3()` and `execve()`, prepared by the parent so that
/// the child only makes system calls on it.
pub(crate) struct ExecPlan {
    pub(crate) argv: CStringArray,
    pub(crate) envp: Envp,
    /// The paths to try, in order, each followed by a NUL, one after the other; none is empty
    /// or contains a NUL (what [`exec_program`] relies on).
    pub(crate) candidates: Vec<u8>,
    pub(crate) cwd: Option<CString>,
    /// What to `dup3()` onto which descriptors: standard I/O and
    /// [`Command::fd`](crate::Command::fd).
    pub(crate) fds: Vec<FdMapping>,
    /// The ranges (first, last) of descriptors to mark close-on-exec, for
    /// [`close_other_fds`](crate::Command::close_other_fds): every number but 0, 1, 2 and the
    /// targets of `fds`.
    pub(crate) cloexec_ranges: Vec<(c_uint, c_uint)>,
    /// The fork path's report pipe, write end (close-on-exec, above every target); `None` on
    /// the vfork path.
    pub(crate) report_pipe: Option<OwnedFd>,
    /// The vfork path's report: 0, or what the child wrote before it exited (see
    /// [`REPORTED`]). Written by the child, read by the parent once `clone3()` has returned.
    pub(crate) report: AtomicU32,
    /// Set for a child in a new user namespace.
    pub(crate) id_maps: Option<IdMaps>,
    pub(crate) credentials: Credentials,
    /// `setsid()`.
    pub(crate) setsid: bool,
    /// `setpgid(0, pgroup)`.
    pub(crate) pgroup: Option<libc::pid_t>,
    /// `umask(mask)`.
    pub(crate) umask: Option<libc::mode_t>,
    /// `prlimit64(0, resource, [soft, hard])` for each.
    pub(crate) rlimits: Vec<(c_uint, [u64; 2])>,
    /// The sources of `fds` (one `/dev/null` may serve several targets).
    pub(crate) owned: Vec<OwnedFd>,
    /// The fallback's `prctl(PR_SET_NO_NEW_PRIVS)` (where `CLONE_NNP` is not used).
    pub(crate) set_no_new_privs: bool,
    /// The fallback's `PR_SET_PDEATHSIG(SIGKILL)` and the check that the parent still lives.
    pub(crate) parent_death: Option<ParentDeath>,
    /// The fallback on the legacy `clone()` (no `CLONE_INTO_CGROUP`): a cgroup2 directory
    /// (above every target of `fds`) whose `cgroup.procs` the child writes itself into, first.
    pub(crate) cgroup_procs: Option<RawFd>,
}

/// What the fallback's child checks after `prctl(PR_SET_PDEATHSIG, SIGKILL)`, to close the
/// window between `clone()` and the `prctl()` in which the parent may have died already (the
/// kernel sends the signal only to children that had set it when their parent thread exited).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParentDeath {
    /// What `getppid()` must return: this process's pid, taken before `clone()`; `None` for
    /// the init of a new pid namespace, whose `getppid()` is 0 whatever becomes of its parent.
    pub(crate) ppid: Option<libc::pid_t>,
    /// A pidfd of the thread that creates the child (the spawner thread), numbered above every
    /// target of `fds` and owned by [`ExecPlan::owned`]: readable once that thread exited.
    pub(crate) pidfd: RawFd,
}

// SAFETY: The raw pointers in an `ExecPlan` are those of `CStringArray`s (`argv`, an own
// environment), which point into C strings the plan owns on the heap (they move with it and
// are freed only when it is dropped, by whichever thread), and that of `Envp::Inherit`, the
// C library's process-wide `environ`, which is the same for every thread: another thread's
// `setenv()` can replace it for all of them alike (the hazard the crate documentation
// describes for any spawn; the spawner thread's queue only lengthens the window). Nothing in
// the plan is tied to the thread that made it (descriptors are the process's, the report is
// an atomic). So a plan may be moved to the crate's spawner thread, which uses it as the
// thread that made it would.
unsafe impl Send for ExecPlan {}

impl ExecPlan {
    /// A plan that executes `candidates` in turn with `argv` and `envp`, with nothing else to
    /// do; the caller fills in the rest.
    pub(crate) fn new(argv: CStringArray, envp: Envp, candidates: Vec<u8>) -> Self {
        ExecPlan {
            argv,
            envp,
            candidates,
            cwd: None,
            fds: Vec::new(),
            cloexec_ranges: Vec::new(),
            report_pipe: None,
            report: AtomicU32::new(0),
            id_maps: None,
            credentials: Credentials::default(),
            setsid: false,
            pgroup: None,
            umask: None,
            rlimits: Vec::new(),
            owned: Vec::new(),
            set_no_new_privs: false,
            parent_death: None,
            cgroup_procs: None,
        }
    }

    /// The vfork path's report, if the child wrote one.
    pub(crate) fn vfork_report(&self) -> Option<[u8; 4]> {
        // Acquire, for the child's Release store; `clone3()` returned only after the child
        // executed the program or exited, so whatever it stored is there.
        match self.report.load(Ordering::Acquire) {
            0 => None,
            word => Some((word & !REPORTED).to_ne_bytes()),
        }
    }
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
pub(crate) fn dup_at_least(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: `F_DUPFD_CLOEXEC` only reads the descriptor, which is open as it is borrowed.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a new descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `fd`, moved to a number `min` or above if it is below (when the parent has closed a low
/// descriptor, or for a target of [`Command::fd`](crate::Command::fd)), so that the child's
/// `dup3()` onto the targets cannot overwrite a descriptor it still needs. Close-on-exec is
/// kept.
pub(crate) fn at_least(fd: OwnedFd, min: RawFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        Ok(fd)
    } else {
        dup_at_least(fd.as_fd(), min)
    }
}

/// The steps of the child that can fail, reported in the top byte of the 4-byte report; the
/// rest is `errno`.
pub(crate) const STEP_EXEC: u32 = 0;
/// `dup3()` of a standard stream or of a [`Command::fd`](crate::Command::fd) mapping failed.
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
/// `setsid()` failed.
pub(crate) const STEP_SETSID: u32 = 8;
/// `prlimit64()` of a resource limit failed.
pub(crate) const STEP_RLIMIT: u32 = 9;
/// `close_range()` of [`Command::close_other_fds`](crate::Command::close_other_fds) failed.
pub(crate) const STEP_CLOSE_FDS: u32 = 10;
/// The fallback's `prctl(PR_SET_PDEATHSIG)` or `prctl(PR_SET_NO_NEW_PRIVS)` failed.
pub(crate) const STEP_PRCTL: u32 = 11;
/// The fallback's child found its parent gone after `prctl(PR_SET_PDEATHSIG)` (`ESRCH`).
pub(crate) const STEP_PARENT_GONE: u32 = 12;
/// Writing `cgroup.procs` (the fallback on the legacy `clone()`) failed.
pub(crate) const STEP_CGROUP: u32 = 13;
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
/// Around `clone3()`: the child starts with every signal blocked and unblocks them just before
/// `execve()`, so no signal acts on it while it sets itself up, as in glibc's `posix_spawn()`.
/// No handler of the parent (maybe Rust code that allocates or takes locks) can run in the
/// child in any case: `CLONE_CLEAR_SIGHAND` resets every handler to `SIG_DFL` in the kernel,
/// before the child runs.
///
/// On x86_64 and aarch64 (both paths) this is the raw `rt_sigprocmask()` of
/// [`raw::block_all_signals`], as glibc's `posix_spawn()` makes it: every signal, the C
/// library's internal ones included (glibc's 32 and 33); `SIGKILL` and `SIGSTOP` cannot be
/// blocked. On the other architectures (the fork path only) it is `pthread_sigmask()` with a
/// full set, which blocks every signal but those internal ones: glibc removes them from the
/// set.
pub(crate) struct SignalsBlocked {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    old: raw::KernelSigset,
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    old: libc::sigset_t,
}

impl SignalsBlocked {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub(crate) fn new() -> io::Result<Self> {
        let old = raw::block_all_signals().map_err(io::Error::from_raw_os_error)?;
        Ok(SignalsBlocked { old })
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(crate) fn new() -> io::Result<Self> {
        let mut all = mem::MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = mem::MaybeUninit::<libc::sigset_t>::uninit();
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
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn drop(&mut self) {
        raw::set_signal_mask(self.old);
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn drop(&mut self) {
        // SAFETY: `self.old` is a valid signal set; restoring it cannot fail.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, ptr::null_mut()) };
    }
}

#[cfg(test)]
thread_local! {
    /// The flags of the last `clone3()` this thread asked for, on either path: what the tests
    /// check the path taken by (written in the parent, before the call).
    pub(crate) static LAST_CLONE_FLAGS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// What `clone3()` is asked for, besides what each path adds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloneRequest {
    /// `CLONE_*` flags; `CLONE_PIDFD` and `CLONE_CLEAR_SIGHAND` are always added.
    pub(crate) flags: u64,
    /// The signal the parent gets when the child exits (0 with `CLONE_AUTOREAP`).
    pub(crate) exit_signal: c_int,
    /// A cgroup2 directory to create the child in (`CLONE_INTO_CGROUP`).
    pub(crate) cgroup: Option<RawFd>,
}

impl CloneRequest {
    /// The `struct clone_args` of the request, with the pidfd to be stored at `pidfd`.
    pub(crate) fn clone_args(&self, pidfd: *mut c_int) -> sys::CloneArgs {
        let mut args = sys::CloneArgs {
            flags: self.flags | sys::CLONE_PIDFD | sys::CLONE_CLEAR_SIGHAND,
            pidfd: pidfd as u64,
            // A valid signal number is positive.
            exit_signal: self.exit_signal as u64,
            ..sys::CloneArgs::default()
        };
        if let Some(cgroup) = self.cgroup {
            args.flags |= sys::CLONE_INTO_CGROUP;
            // An open descriptor is not negative.
            args.cgroup = cgroup as u64;
        }
        args
    }
}

/// Creates a child with `clone3()` as `request` says, with `CLONE_PIDFD | CLONE_CLEAR_SIGHAND`
/// and no new stack (fork-like: the child runs on a copy of the caller's memory), and runs
/// `child` in it. Returns the child's pid and its pidfd.
///
/// Only the parent returns. `child` cannot return: its result type, [`Infallible`], has no
/// values (a closure whose body is a call of a `-> !` function, such as `_exit()` or
/// [`exec_child`], has it). If it unwinds, the unwind is caught right here in the child, which
/// then exits with `_exit(127)`: the child never runs on as a second copy of the caller,
/// however the caller catches panics. See [`exit_on_unwind`].
///
/// # Safety
///
/// `child` runs in the new, single-threaded copy of the process, with all signals blocked (see
/// [`SignalsBlocked`]): it must only do async-signal-safe things (no allocation, no locks, no
/// panics) and end with `execve()` or `_exit()`. `request.flags` must not ask for shared
/// memory, a stack or anything else that needs more fields of `struct clone_args`.
pub(crate) unsafe fn clone_child(
    request: &CloneRequest,
    child: impl FnOnce() -> Infallible,
) -> io::Result<(libc::pid_t, OwnedFd)> {
    let mut pidfd: c_int = -1;
    let mut args = request.clone_args(ptr::addr_of_mut!(pidfd));
    #[cfg(test)]
    LAST_CLONE_FLAGS.with(|last| last.set(args.flags));
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

/// Creates a child with the legacy `clone()` system call (fork-like: no `CLONE_VM`, no new
/// stack) with `request.flags | CLONE_PIDFD` and `request.exit_signal`, for the fallback where
/// `clone3()` is refused (`ENOSYS`: a seccomp filter such as Docker's default profile, or a
/// kernel before 5.3), and runs `child` in it. Returns the child's pid and its pidfd.
///
/// `clone()` takes only the low 32 bits of the flags: no `CLONE_CLEAR_SIGHAND` (so the child
/// first resets the handlers it inherited, [`raw::reset_caught_signals`]) and no
/// `CLONE_INTO_CGROUP` (`request.cgroup` must be `None`; the child writes `cgroup.procs`
/// itself, see [`ExecPlan::cgroup_procs`]).
///
/// # Safety
///
/// As for [`clone_child`]; `request.flags` must fit in 32 bits.
pub(crate) unsafe fn clone_child_legacy(
    request: &CloneRequest,
    child: impl FnOnce() -> Infallible,
) -> io::Result<(libc::pid_t, OwnedFd)> {
    debug_assert!(request.cgroup.is_none() && request.flags >> 32 == 0);
    let mut pidfd: c_int = -1;
    // The exit signal is the low byte of the flags (`CSIGNAL`).
    let flags = (request.flags | sys::CLONE_PIDFD) as libc::c_ulong
        | (request.exit_signal as libc::c_ulong & 0xff);
    let pidfd_ptr = ptr::addr_of_mut!(pidfd);
    let blocked = SignalsBlocked::new()?;
    // With `CLONE_PIDFD` the kernel stores the pidfd through the `parent_tid` argument, the
    // third on every architecture but s390's (`CLONE_BACKWARDS2`: stack first, then flags).
    // SAFETY: No `CLONE_VM` and no stack: the child runs on its own copy of this stack and
    // memory, like after `fork()`; `pidfd` is valid for the kernel to write; the caller
    // guarantees that `child` is async-signal-safe.
    #[cfg(not(target_arch = "s390x"))]
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, pidfd_ptr, 0usize, 0usize) };
    // SAFETY: As above, with s390's order of the first two arguments.
    #[cfg(target_arch = "s390x")]
    let ret = unsafe { libc::syscall(libc::SYS_clone, 0usize, flags, pidfd_ptr, 0usize, 0usize) };
    if ret == 0 {
        exit_on_unwind(
            || {
                raw::reset_caught_signals();
                child()
            },
            || {},
        );
    }
    let error = io::Error::last_os_error();
    drop(blocked);
    if ret < 0 {
        return Err(error);
    }
    // SAFETY: `clone()` succeeded with `CLONE_PIDFD`, so `pidfd` is a new descriptor that
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

/// A step of the child that failed, with its `errno`.
pub(crate) type Failure = (u32, c_int);

/// Writes the report of `step` failing with `errno`: into the pipe on the fork path, into
/// [`ExecPlan::report`] on the vfork path. Only raw system calls.
fn report(plan: &ExecPlan, step: u32, errno: c_int) {
    let bytes = encode_report(step, errno);
    match &plan.report_pipe {
        Some(pipe) => while raw::write(pipe.as_raw_fd(), &bytes) == Err(libc::EINTR) {},
        // Release: the parent's Acquire load after `clone3()` returned sees it.
        None => plan
            .report
            .store(u32::from_ne_bytes(bytes) | REPORTED, Ordering::Release),
    }
}

/// Reports `failure` and ends the child with status 127. Only raw system calls.
fn fail(plan: &ExecPlan, (step, errno): Failure) -> ! {
    report(plan, step, errno);
    raw::exit(127)
}

/// Writes the identity uid and gid maps of the child's new user namespace. `setgroups` must be
/// denied before an unprivileged process may write `gid_map`.
fn write_id_maps(maps: &IdMaps) -> Result<(), raw::Errno> {
    raw::write_file(c"/proc/self/setgroups", b"deny\n")?;
    raw::write_file(c"/proc/self/uid_map", &maps.uid_map)?;
    raw::write_file(c"/proc/self/gid_map", &maps.gid_map)
}

/// Switches to the requested groups, group and user, in that order (afterwards the child may
/// lack the privilege for the others). Like `std`, a new uid without explicit groups drops the
/// supplementary groups if the process may (`EPERM` is ignored then).
///
/// Raw system calls: the C library's `setuid()` and friends synchronise all threads of the
/// process, which after a raw `clone3()` it believes still exist. Their versions with 32-bit
/// ids ([`sys::id32`]): on x86, arm and sparc `libc::SYS_setuid` and friends are the legacy
/// calls that cut ids to 16 bits.
fn set_credentials(credentials: &Credentials) -> Result<(), raw::Errno> {
    match (&credentials.groups, credentials.uid) {
        (Some(groups), _) => raw::setgroups(groups)?,
        (None, Some(_)) => match raw::setgroups(&[]) {
            Ok(()) | Err(libc::EPERM) => {}
            Err(errno) => return Err(errno),
        },
        (None, None) => {}
    }
    if let Some(gid) = credentials.gid {
        raw::setgid(gid)?;
    }
    if let Some(uid) = credentials.uid {
        raw::setuid(uid)?;
    }
    Ok(())
}

/// The child's steps before the program, on both paths: writes the id maps of a new user
/// namespace, resets `SIGPIPE`, sets up the descriptors, the resource limits, the umask, the
/// credentials, the working directory, the session and the process group.
///
/// Signal handlers need no reset here: `CLONE_CLEAR_SIGHAND` has reset every caught signal to
/// `SIG_DFL` in the kernel. Only raw system calls ([`crate::raw`]) on `plan`: no allocation, no
/// lock, no thread-local variable, nothing that can panic.
pub(crate) fn setup(plan: &ExecPlan) -> Result<(), Failure> {
    if let Some(dir) = plan.cgroup_procs {
        raw::write_file_at(dir, c"cgroup.procs", b"0\n").map_err(|errno| (STEP_CGROUP, errno))?;
    }
    if plan.set_no_new_privs {
        raw::set_no_new_privs().map_err(|errno| (STEP_PRCTL, errno))?;
    }
    if let Some(maps) = &plan.id_maps {
        write_id_maps(maps).map_err(|errno| (STEP_ID_MAPS, errno))?;
    }

    // `CLONE_CLEAR_SIGHAND` keeps ignored signals ignored (that is how `nohup` works), but the
    // Rust runtime ignores `SIGPIPE`, which programs expect at its default, as `std` does.
    raw::default_action(libc::SIGPIPE);

    // Every source is above every target and close-on-exec, so the order does not matter, and
    // `dup3()` leaves close-on-exec off on the targets.
    for mapping in &plan.fds {
        raw::dup3(mapping.source, mapping.target).map_err(|errno| (STEP_STDIO, errno))?;
    }
    // Marked close-on-exec rather than closed: the fork path's report pipe stays usable until
    // `execve()`, which closes them all.
    for &(first, last) in &plan.cloexec_ranges {
        raw::close_range_cloexec(first, last).map_err(|errno| (STEP_CLOSE_FDS, errno))?;
    }

    // Before the credentials: raising a hard limit needs `CAP_SYS_RESOURCE`.
    for (resource, limits) in &plan.rlimits {
        raw::set_rlimit(*resource, limits).map_err(|errno| (STEP_RLIMIT, errno))?;
    }
    if let Some(mask) = plan.umask {
        raw::umask(mask);
    }

    set_credentials(&plan.credentials).map_err(|errno| (STEP_CREDENTIALS, errno))?;

    if let Some(dir) = &plan.cwd {
        raw::chdir(dir).map_err(|errno| (STEP_CHDIR, errno))?;
    }

    if plan.setsid {
        raw::setsid().map_err(|errno| (STEP_SETSID, errno))?;
    }
    if let Some(pgroup) = plan.pgroup {
        raw::setpgid(pgroup).map_err(|errno| (STEP_PGROUP, errno))?;
    }
    Ok(())
}

/// The fallback's last step before `execve()`: `prctl(PR_SET_PDEATHSIG, SIGKILL)`, after every
/// change of credentials (`commit_creds()` clears it), then the check that the parent did not
/// die before it (see [`ParentDeath`]). Only raw system calls.
fn arm_parent_death(death: &ParentDeath) -> Result<(), Failure> {
    raw::set_parent_death_kill().map_err(|errno| (STEP_PRCTL, errno))?;
    // After the `prctl()`: a parent that dies from now on sends the signal; one that died
    // before has made this child an orphan, whose `getppid()` is another process (the child
    // subreaper or init), or is seen in the pidfd of the spawner thread, which polls readable
    // once it exited (for the init of a pid namespace, whose `getppid()` is always 0).
    if death.ppid.is_some_and(|ppid| raw::getppid() != ppid) || raw::pidfd_exited(death.pidfd) {
        return Err((STEP_PARENT_GONE, libc::ESRCH));
    }
    Ok(())
}

/// Executes the program, trying the candidate paths in turn; returns the failure if none
/// works. Only raw system calls.
pub(crate) fn exec_program(plan: &ExecPlan) -> Failure {
    let (argv, envp) = (plan.argv.as_ptr(), plan.envp.as_ptr());
    // Like `execvp()`: go on with the next candidate if this one does not exist or cannot be
    // searched; report `EACCES` if some candidate had it and none worked, else the last error.
    // Any other error decides.
    let mut eacces = false;
    let mut last = libc::ENOENT;
    // The candidates are non-empty and each followed by a NUL; the one empty piece is the end.
    for path in plan.candidates.split(|&byte| byte == 0) {
        if path.is_empty() {
            continue;
        }
        // SAFETY: `path` is followed by a NUL in `plan.candidates`, and `argv` and `envp` are
        // NULL-terminated arrays of NUL-terminated strings, all alive in `plan` (or, for an
        // inherited environment, in this process) and unchanged while the parent waits.
        last = unsafe { raw::execve(path.as_ptr().cast(), argv, envp) };
        match last {
            libc::EACCES => eacces = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => return (STEP_EXEC, last),
        }
    }
    (STEP_EXEC, if eacces { libc::EACCES } else { last })
}

/// The fork path's child: [`setup`], an empty signal mask, the pre-exec closures, then the
/// program. On failure it reports the step and `errno` through the pipe and exits with status
/// 127.
///
/// Async-signal-safe: only system calls on data the parent prepared, no allocation, no locks,
/// no panics (the pre-exec closures promise the same; if one panics anyway, the child reports
/// [`STEP_PANIC`] and exits with status 127, see [`exit_on_unwind`]). Meant to run only in a new
/// child process.
pub(crate) fn exec_child(plan: &ExecPlan, pre_exec: &mut [PreExec]) -> ! {
    if let Err(failure) = setup(plan) {
        fail(plan, failure);
    }
    raw::unblock_all_signals();

    // The closures are the caller's code, the only code here that could panic, which their
    // contract forbids; a panic anyway is reported as such, and the child exits with status 127
    // instead of unwinding into the parent's frames (see `exit_on_unwind`).
    exit_on_unwind(
        || {
            for closure in pre_exec {
                if let Err(error) = closure() {
                    let errno = error.raw_os_error().unwrap_or(libc::EINVAL);
                    fail(plan, (STEP_PRE_EXEC, errno));
                }
            }
            // After the closures, which may change the credentials too.
            if let Some(death) = &plan.parent_death {
                if let Err(failure) = arm_parent_death(death) {
                    fail(plan, failure);
                }
            }
            fail(plan, exec_program(plan))
        },
        || report(plan, STEP_PANIC, 0),
    )
}

/// The vfork path's child, entered by the trampoline of [`crate::vfork`] on its own stack:
/// [`setup`], an empty signal mask, then the program. On failure it writes the step and `errno`
/// into `plan.report`, in the memory it shares with the blocked parent, and exits with status
/// 127.
///
/// # Safety
///
/// `plan` must point to an [`ExecPlan`] without a report pipe that stays alive and unchanged
/// (but for `report`) until the child has executed the program or exited, as the caller of
/// [`crate::vfork::clone_vfork`] guarantees by waiting in `clone3()`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) unsafe extern "C" fn vfork_child(plan: *const std::ffi::c_void) -> ! {
    // SAFETY: By the caller's guarantee, a live `ExecPlan`; the child only reads it, but for
    // the atomic `report`.
    let plan = unsafe { &*plan.cast::<ExecPlan>() };
    if let Err(failure) = setup(plan) {
        fail(plan, failure);
    }
    raw::unblock_all_signals();
    if let Some(death) = &plan.parent_death {
        if let Err(failure) = arm_parent_death(death) {
            fail(plan, failure);
        }
    }
    fail(plan, exec_program(plan))
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
                clone_child(
                    &CloneRequest {
                        flags: 0,
                        exit_signal: libc::SIGCHLD,
                        cgroup: None,
                    },
                    || panic!("a panic in the child, to be stopped there"),
                )
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
