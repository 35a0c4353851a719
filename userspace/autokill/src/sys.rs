// SPDX-License-Identifier: GPL-2.0

//! The raw kernel interface: the `clone3()` flags, `struct clone_args`, `struct pidfd_info`, a
//! raw `clone3()` and thin wrappers of the pidfd, `poll()`, `waitid()`, `capget()` and seccomp
//! system calls.
//!
//! This is the one place in this workspace where these values are defined, from
//! `include/uapi/linux/sched.h`, `include/uapi/linux/pidfd.h` and
//! `include/uapi/linux/capability.h` of Linux 7.1+. The `libc` crate lacks `CLONE_AUTOREAP`,
//! `CLONE_NNP`, `CLONE_PIDFD_AUTOKILL` and `CLONE_EMPTY_MNTNS`, and has the older flags as
//! `c_int` (so `CLONE_IO`, bit 31, sign-extends when widened); here every flag is the `u64` of
//! `clone_args.flags`.
//!
//! The wrappers return [`io::Error`] with the kernel's `errno` and retry on `EINTR` where they
//! wait. Everything except [`clone3_raw`] is safe to call.
//!
//! # Waiting for a process through a pidfd
//!
//! A pidfd polls `POLLIN` once the process has exited and `POLLIN | POLLHUP` once it has been
//! reaped (`fs/pidfs.c`, `pidfd_poll()`). The exit status for `PIDFD_INFO_EXIT` is stored in
//! between: `exit_notify()` (`kernel/exit.c`) wakes the pidfd's waiters with `POLLIN` *before*
//! `release_task()` calls `pidfs_exit()`, which stores the status, and only then
//! `__unhash_process()` detaches the pid and wakes all waiters again. So after `POLLIN` alone
//! the status may still be missing, while after `POLLHUP` it is there (the barriers in
//! `pidfs_exit()` and `pidfd_info()` order the two). [`pidfd_wait_reaped`] polls with no
//! requested events, which `poll()` answers only for `POLLHUP` (or `POLLERR`, `POLLNVAL`), so
//! it sleeps through the first wake-up and returns at the second: no retry loop is needed.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Share the memory space (`CLONE_VM`).
pub const CLONE_VM: u64 = 0x0000_0100;
/// Share the file system information (`CLONE_FS`).
pub const CLONE_FS: u64 = 0x0000_0200;
/// Share the file descriptor table (`CLONE_FILES`).
pub const CLONE_FILES: u64 = 0x0000_0400;
/// Share signal handlers (`CLONE_SIGHAND`).
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
/// Return a pidfd for the child in `clone_args.pidfd` (`CLONE_PIDFD`, Linux 5.2).
pub const CLONE_PIDFD: u64 = 0x0000_1000;
/// Let tracing continue on the child (`CLONE_PTRACE`).
pub const CLONE_PTRACE: u64 = 0x0000_2000;
/// Suspend the parent until the child executes or exits (`CLONE_VFORK`).
pub const CLONE_VFORK: u64 = 0x0000_4000;
/// Give the child the caller's parent (`CLONE_PARENT`).
pub const CLONE_PARENT: u64 = 0x0000_8000;
/// Create a thread of the caller's thread group (`CLONE_THREAD`).
pub const CLONE_THREAD: u64 = 0x0001_0000;
/// New mount namespace (`CLONE_NEWNS`).
pub const CLONE_NEWNS: u64 = 0x0002_0000;
/// Share System V `SEM_UNDO` semantics (`CLONE_SYSVSEM`).
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
/// Set the child's thread-local storage (`CLONE_SETTLS`).
pub const CLONE_SETTLS: u64 = 0x0008_0000;
/// Store the child's TID at `clone_args.parent_tid` (`CLONE_PARENT_SETTID`).
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
/// Clear the child's TID at `clone_args.child_tid` when it exits (`CLONE_CHILD_CLEARTID`).
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
/// Ignored by `clone()`, rejected by `clone3()` (`CLONE_DETACHED`).
pub const CLONE_DETACHED: u64 = 0x0040_0000;
/// A tracer cannot force `CLONE_PTRACE` (`CLONE_UNTRACED`).
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
/// Store the child's TID at `clone_args.child_tid` in the child (`CLONE_CHILD_SETTID`).
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
/// New cgroup namespace (`CLONE_NEWCGROUP`).
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
/// New UTS namespace (`CLONE_NEWUTS`).
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
/// New IPC namespace (`CLONE_NEWIPC`).
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
/// New user namespace (`CLONE_NEWUSER`).
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// New pid namespace (`CLONE_NEWPID`): the child is its init (pid 1).
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// New network namespace (`CLONE_NEWNET`).
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// Share the I/O context (`CLONE_IO`).
pub const CLONE_IO: u64 = 0x8000_0000;
/// New time namespace (`CLONE_NEWTIME`, Linux 5.6; reuses the bit of the old `CSIGNAL` mask).
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
/// Reset every signal handler of the child to `SIG_DFL`; ignored signals stay ignored
/// (`CLONE_CLEAR_SIGHAND`, Linux 5.5).
pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
/// Create the child in the cgroup `clone_args.cgroup` (`CLONE_INTO_CGROUP`, Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 1 << 33;
/// Reap the child on exit without notifying the parent (`CLONE_AUTOREAP`, Linux 7.1).
pub const CLONE_AUTOREAP: u64 = 1 << 34;
/// Set `no_new_privs` on the child (`CLONE_NNP`, Linux 7.1).
pub const CLONE_NNP: u64 = 1 << 35;
/// Kill the child when the last reference to its clone pidfd goes away
/// (`CLONE_PIDFD_AUTOKILL`, Linux 7.1).
pub const CLONE_PIDFD_AUTOKILL: u64 = 1 << 36;
/// New, empty mount namespace (`CLONE_EMPTY_MNTNS`, Linux 7.1).
pub const CLONE_EMPTY_MNTNS: u64 = 1 << 37;

/// The flags of a thread (`CLONE_THREAD | CLONE_SIGHAND | CLONE_VM`).
pub const THREAD_FLAGS: u64 = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
/// The flags that tie a child to its pidfd: `CLONE_PIDFD | CLONE_AUTOREAP |
/// CLONE_PIDFD_AUTOKILL`. The kernel also wants `exit_signal` 0 and, unless the caller has
/// `CAP_SYS_ADMIN`, [`CLONE_NNP`].
pub const AUTOKILL: u64 = CLONE_PIDFD | CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL;
/// [`AUTOKILL`] with [`CLONE_NNP`]: what an unprivileged caller may use.
pub const AUTOKILL_NNP: u64 = AUTOKILL | CLONE_NNP;

/// The file flag that marks an autokill pidfd (`O_TRUNC`, shown in `/proc/<pid>/fdinfo`).
pub const PIDFD_AUTOKILL: libc::c_int = libc::O_TRUNC;
/// `pidfd_open()` flag: a pidfd for a thread, not a thread group (`O_EXCL`, Linux 6.9).
pub const PIDFD_THREAD: u32 = libc::O_EXCL as u32;
/// `pidfd_open()` flag: a non-blocking pidfd (`O_NONBLOCK`).
pub const PIDFD_NONBLOCK: u32 = libc::O_NONBLOCK as u32;

/// Size of `struct clone_args` version 0 (Linux 5.3): up to and including `tls`.
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
/// Size of `struct clone_args` version 1 (Linux 5.5): up to and including `set_tid_size`.
pub const CLONE_ARGS_SIZE_VER1: usize = 80;
/// Size of `struct clone_args` version 2 (Linux 5.7): up to and including `cgroup`, the size of
/// [`CloneArgs`].
pub const CLONE_ARGS_SIZE_VER2: usize = 88;

/// `PIDFD_GET_INFO`: `_IOWR(0xFF, 11, struct pidfd_info)` with the 64-byte version 0 struct.
pub const PIDFD_GET_INFO: libc::c_ulong = 0xc040_ff0b;
/// Size of `struct pidfd_info` version 0 (Linux 6.13), the size of [`PidfdInfo`] and the size
/// encoded in [`PIDFD_GET_INFO`].
pub const PIDFD_INFO_SIZE_VER0: usize = 64;
/// `pidfd_info.mask`: the pid fields are valid.
pub const PIDFD_INFO_PID: u64 = 1 << 0;
/// `pidfd_info.mask`: the credential fields are valid.
pub const PIDFD_INFO_CREDS: u64 = 1 << 1;
/// `pidfd_info.mask`: the cgroup id is valid.
pub const PIDFD_INFO_CGROUPID: u64 = 1 << 2;
/// `pidfd_info.mask`: the exit code is valid (the process exited and was reaped).
pub const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `CAP_SYS_ADMIN`, the capability number (`include/uapi/linux/capability.h`).
pub const CAP_SYS_ADMIN: u32 = 21;
/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two [`CapUserData`].
pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct pidfd_info`, version 0 (64 bytes), from `include/uapi/linux/pidfd.h`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PidfdInfo {
    /// Which fields to fill in (request) and which are valid (reply).
    pub mask: u64,
    /// Cgroup id.
    pub cgroupid: u64,
    /// Pid in the caller's pid namespace.
    pub pid: u32,
    /// Thread group id.
    pub tgid: u32,
    /// Parent pid.
    pub ppid: u32,
    /// Real uid.
    pub ruid: u32,
    /// Real gid.
    pub rgid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved uid.
    pub suid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
    /// Exit status as `wait()` reports it.
    pub exit_code: i32,
}

/// `struct clone_args` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneArgs {
    /// Flags (`CLONE_*`).
    pub flags: u64,
    /// Where to store the pidfd (`CLONE_PIDFD`).
    pub pidfd: u64,
    /// Where to store the child's TID in the child's memory (`CLONE_CHILD_SETTID`).
    pub child_tid: u64,
    /// Where to store the child's TID in the parent's memory (`CLONE_PARENT_SETTID`).
    pub parent_tid: u64,
    /// Signal to the parent when the child exits.
    pub exit_signal: u64,
    /// Lowest address of the child's stack.
    pub stack: u64,
    /// Size of the child's stack.
    pub stack_size: u64,
    /// Thread-local storage (`CLONE_SETTLS`).
    pub tls: u64,
    /// Pointer to an array of pids to use (`set_tid`).
    pub set_tid: u64,
    /// Number of elements in `set_tid`.
    pub set_tid_size: u64,
    /// Cgroup file descriptor (`CLONE_INTO_CGROUP`).
    pub cgroup: u64,
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CapUserHeader {
    /// `_LINUX_CAPABILITY_VERSION_*`.
    pub version: u32,
    /// The thread to query; 0 for the calling thread.
    pub pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: 32 bits of each set (version 3 uses two of them).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CapUserData {
    /// Effective set.
    pub effective: u32,
    /// Permitted set.
    pub permitted: u32,
    /// Inheritable set.
    pub inheritable: u32,
}

// The struct sizes the kernel sees must be the documented ones.
const _: () = assert!(std::mem::size_of::<CloneArgs>() == CLONE_ARGS_SIZE_VER2);
const _: () = assert!(std::mem::size_of::<PidfdInfo>() == PIDFD_INFO_SIZE_VER0);
const _: () = assert!((PIDFD_GET_INFO >> 16) as usize & 0x3fff == PIDFD_INFO_SIZE_VER0);

/// Calls `clone3()` with `args` and the given struct size, without any wrapper logic.
///
/// Returns the raw result: the child's pid in the parent, 0 in the child, -1 with `errno` set on
/// failure.
///
/// # Safety
///
/// Like `fork()` in a multithreaded program: in the child, only async-signal-safe operations may
/// run until `execve()` or `_exit()`. With `CLONE_VM` or a custom stack the caller takes on all
/// the obligations of a raw `clone()`. `size` must not exceed the size of `*args` unless the
/// memory behind it is readable and zero, and every pointer in `*args` must be null or valid for
/// the kernel to write.
///
/// # Examples
///
/// ```no_run
/// use autokill::sys::{self, CloneArgs};
///
/// let mut pidfd: libc::c_int = -1;
/// let mut args = CloneArgs {
///     flags: sys::AUTOKILL_NNP, // with exit_signal 0, as CLONE_AUTOREAP requires
///     pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
///     ..CloneArgs::default()
/// };
/// // SAFETY: The child only calls `_exit()`; `pidfd` is valid for the kernel to write.
/// match unsafe { sys::clone3_raw(&mut args, sys::CLONE_ARGS_SIZE_VER2) } {
///     -1 => return Err(std::io::Error::last_os_error()),
///     0 => unsafe { libc::_exit(0) },
///     pid => println!("child {pid}, autokill pidfd {pidfd}"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub unsafe fn clone3_raw(args: *mut CloneArgs, size: usize) -> libc::c_long {
    // SAFETY: The caller upholds the requirements above.
    unsafe { libc::syscall(libc::SYS_clone3, args, size) }
}

/// Returns the calling thread's `errno` as an [`io::Error`] if `ret` is -1, else `ret`.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Takes ownership of a descriptor a system call returned in a `long`.
fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    // The kernel returns an `int` file descriptor in a `long`.
    let fd = cvt(ret)? as RawFd;
    // SAFETY: `fd` is a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_open(pid, flags)`: a new pidfd (`O_CLOEXEC`) for the process `pid`; `flags` is 0,
/// [`PIDFD_NONBLOCK`] or [`PIDFD_THREAD`].
///
/// The new pidfd is a file of its own, never an autokill one: holding or closing it does not
/// affect the process's lifetime. It polls readable (`POLLIN`) once the process has exited.
///
/// # Errors
///
/// The kernel's: `ESRCH` if there is no such process, `EINVAL` for bad flags, `EMFILE`, ...
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use autokill::sys;
///
/// let mut child = std::process::Command::new("true").spawn()?;
/// let pidfd = sys::pidfd_open(child.id() as libc::pid_t, 0)?;
/// // Readable once the child has exited, before wait() reaps it.
/// assert_ne!(sys::poll(pidfd.as_fd(), libc::POLLIN, Some(Duration::from_secs(30)))?, 0);
/// child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pidfd_open(pid: libc::pid_t, flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: `pidfd_open` takes two integers and touches no memory of ours.
    owned_fd(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) })
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`: sends `signal` to the process `pidfd` refers to,
/// as `kill()` would (`si_code` `SI_USER`).
///
/// # Errors
///
/// The kernel's: `ESRCH` if the process has exited, `EPERM`, `EINVAL` for a bad signal, ...
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use autokill::sys;
///
/// let mut child = std::process::Command::new("sleep").arg("100").spawn()?;
/// let pidfd = sys::pidfd_open(child.id() as libc::pid_t, 0)?;
/// sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL)?;
/// assert!(!child.wait()?.success());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    let null = std::ptr::null::<libc::siginfo_t>();
    // SAFETY: A NULL `siginfo_t` is allowed; the file descriptor is borrowed, hence open.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            null,
            0,
        )
    })?;
    Ok(())
}

/// `pidfd_getfd(pidfd, targetfd, 0)`: a duplicate (`O_CLOEXEC`) of the descriptor `targetfd` of
/// the process `pidfd` refers to.
///
/// # Errors
///
/// The kernel's: `EPERM` without `PTRACE_MODE_ATTACH_REALCREDS` over the process, `EBADF` if
/// it has no such descriptor, `ESRCH` if it has exited, ...
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use autokill::{sys, Command};
///
/// let child = Command::new("sleep").arg("100").spawn()?;
/// let stdout = sys::pidfd_getfd(child.as_fd(), 1)?;
/// println!("the child's standard output is our {stdout:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, targetfd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: `pidfd_getfd` takes three integers and touches no memory of ours.
    owned_fd(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), targetfd, 0) })
}

/// `ioctl(pidfd, PIDFD_GET_INFO)` asking for the fields in `mask` (`PIDFD_INFO_*`).
///
/// The reply's `mask` says which fields the kernel filled in: [`PIDFD_INFO_EXIT`] only once the
/// process has been reaped.
///
/// # Errors
///
/// `ESRCH` if the process is gone and `mask` does not ask for [`PIDFD_INFO_EXIT`]; `ENOTTY`
/// on kernels before 6.13; `EREMOTE` for a process outside the caller's pid namespaces.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use autokill::sys;
///
/// let pidfd = sys::pidfd_open(std::process::id() as libc::pid_t, 0)?;
/// let info = sys::pidfd_get_info(pidfd.as_fd(), sys::PIDFD_INFO_PID | sys::PIDFD_INFO_CREDS)?;
/// assert_eq!(info.pid, std::process::id());
/// println!("parent {}, uid {}", info.ppid, info.ruid);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pidfd_get_info(pidfd: BorrowedFd<'_>, mask: u64) -> io::Result<PidfdInfo> {
    let mut info = PidfdInfo {
        mask,
        ..PidfdInfo::default()
    };
    // SAFETY: `PIDFD_GET_INFO` reads and writes a `struct pidfd_info` of the size encoded in the
    // command, which is the size of `info` (checked above at compile time).
    let ret = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO,
            std::ptr::addr_of_mut!(info),
        )
    };
    // An `int` widened to a `long` (the same type on 32-bit targets).
    cvt(ret as libc::c_long)?;
    Ok(info)
}

/// The wait status (as `waitpid()` reports it) of the process `pidfd` refers to, if it has been
/// reaped; `None` while it runs or is a zombie.
///
/// Never blocks. After [`pidfd_wait_reaped`] returned `true` the status is there.
///
/// # Errors
///
/// Those of [`pidfd_get_info`] other than `ESRCH`, which means "not yet".
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use autokill::{sys, Command};
///
/// let child = Command::new("true").spawn()?;
/// sys::pidfd_wait_reaped(child.as_fd(), None)?;
/// let status = sys::pidfd_exit_status(child.as_fd())?.expect("reaped");
/// assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pidfd_exit_status(pidfd: BorrowedFd<'_>) -> io::Result<Option<libc::c_int>> {
    match pidfd_get_info(pidfd, PIDFD_INFO_EXIT) {
        Ok(info) if info.mask & PIDFD_INFO_EXIT != 0 => Ok(Some(info.exit_code)),
        Ok(_) => Ok(None),
        Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(None),
        Err(error) => Err(error),
    }
}

/// `poll()` of one descriptor for `events`, for up to `timeout` (`None`: forever); returns the
/// `revents`, 0 on timeout.
///
/// Retries on `EINTR` with the time that is left. `POLLHUP`, `POLLERR` and `POLLNVAL` are
/// reported even when `events` does not ask for them.
///
/// # Errors
///
/// Those of `ppoll()`, which leave nothing to retry (`ENOMEM`, `EFAULT`).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use autokill::sys;
///
/// let (read, write) = sys::pipe()?;
/// assert_eq!(sys::poll(read.as_fd(), libc::POLLIN, Some(Duration::ZERO))?, 0);
/// drop(write);
/// assert_ne!(sys::poll(read.as_fd(), libc::POLLIN, None)? & libc::POLLHUP, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn poll(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<libc::c_short> {
    let deadline = timeout.map(|timeout| Instant::now().checked_add(timeout));
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        let left = match deadline {
            None => None,
            // So far in the future that it cannot be represented: forever.
            Some(None) => None,
            Some(Some(deadline)) => Some(deadline.saturating_duration_since(Instant::now())),
        };
        let timespec = left.map(|left| libc::timespec {
            tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
            // Below 10^9, so it fits.
            tv_nsec: left.subsec_nanos() as libc::c_long,
        });
        let timespec_ptr = timespec
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: Polls one valid `pollfd`; the timeout is NULL or a valid `timespec`; no
        // signal mask change.
        let ret = unsafe { libc::ppoll(&mut pollfd, 1, timespec_ptr, std::ptr::null()) };
        if ret >= 0 {
            return Ok(if ret == 0 { 0 } else { pollfd.revents });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Waits up to `timeout` (`None`: forever) until the process `pidfd` refers to has been reaped
/// (`POLLHUP`); whether it has.
///
/// Polls with no requested events, so the `POLLIN` wake-up at exit, which comes before the
/// exit status is stored, does not end the wait; the one after the reaping does (see the
/// [module documentation](self)). For a child that is reaped by `waitpid()` this only returns
/// `true` after that `waitpid()`.
///
/// # Errors
///
/// Those of [`poll`]; `EBADF`-like `POLLNVAL` becomes `EBADF`.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use autokill::{sys, Command};
///
/// let child = Command::new("sleep").arg("1").spawn()?;
/// if sys::pidfd_wait_reaped(child.as_fd(), Some(Duration::from_secs(5)))? {
///     println!("wait status {:?}", sys::pidfd_exit_status(child.as_fd())?);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pidfd_wait_reaped(pidfd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let revents = poll(pidfd, 0, timeout)?;
    if revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(revents & libc::POLLHUP != 0)
}

/// What `waitid()` reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitInfo {
    /// `si_pid` (0: nothing to report yet with `WNOHANG`).
    pub pid: libc::pid_t,
    /// `si_code` (`CLD_EXITED`, `CLD_KILLED`, `CLD_DUMPED`, ...).
    pub code: libc::c_int,
    /// `si_status`: the exit code or the signal.
    pub status: libc::c_int,
}

/// `waitid(idtype, id, options)`, retried on `EINTR`. With `idtype` `P_PIDFD`, `id` is a
/// pidfd.
///
/// Children created with [`CLONE_AUTOREAP`] cannot be waited for (`ECHILD`); use
/// [`pidfd_wait_reaped`] and [`pidfd_exit_status`] for them.
///
/// # Errors
///
/// The kernel's: `ECHILD` if there is no such child (or it is autoreaped), `EINVAL`.
///
/// # Examples
///
/// ```
/// use autokill::sys;
///
/// // A plain child, not an autoreaped one.
/// let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let info = sys::waitid(libc::P_PID, child.id(), libc::WEXITED)?;
/// assert_eq!((info.code, info.status), (libc::CLD_EXITED, 3));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn waitid(
    idtype: libc::idtype_t,
    id: libc::id_t,
    options: libc::c_int,
) -> io::Result<WaitInfo> {
    loop {
        // SAFETY: All-zero is a valid `siginfo_t` (plain data).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t`.
        let ret = unsafe { libc::waitid(idtype, id, &mut info, options) };
        if ret == 0 {
            // SAFETY: `waitid()` filled in the `SIGCHLD` fields (or left them zero).
            let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
            return Ok(WaitInfo {
                pid,
                code: info.si_code,
                status,
            });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// `capget()` of the calling thread: its effective and permitted capability sets as 64-bit
/// masks (bit `n` is capability `n`).
///
/// # Errors
///
/// The kernel's (none are expected for the calling thread).
///
/// # Examples
///
/// ```
/// let (effective, permitted) = autokill::sys::capget()?;
/// assert_eq!(effective & !permitted, 0, "effective is a subset of permitted");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn capget() -> io::Result<(u64, u64)> {
    let mut header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapUserData::default(); 2];
    // SAFETY: A version-3 header and the two data structs version 3 writes.
    cvt(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    let join = |low: u32, high: u32| u64::from(low) | u64::from(high) << 32;
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
    ))
}

/// Whether the calling thread has `cap` in its effective set (in its own user namespace).
///
/// # Errors
///
/// Those of [`capget`].
///
/// # Examples
///
/// ```
/// use autokill::sys;
///
/// if !sys::has_capability(sys::CAP_SYS_ADMIN)? {
///     println!("no_new_privs(false) will be refused");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn has_capability(cap: u32) -> io::Result<bool> {
    Ok(capget()?.0 & (1 << cap) != 0)
}

/// The calling thread's seccomp mode: `PR_GET_SECCOMP`, 0 (none) or `SECCOMP_MODE_FILTER` (2).
///
/// # Errors
///
/// `EINVAL` on a kernel built without `CONFIG_SECCOMP` (which therefore has no filter).
///
/// # Examples
///
/// ```
/// match autokill::sys::seccomp_mode() {
///     Ok(2) => println!("under a seccomp filter"),
///     Ok(_) => println!("no seccomp filter"),
///     Err(_) => println!("a kernel without seccomp"),
/// }
/// ```
pub fn seccomp_mode() -> io::Result<libc::c_int> {
    // SAFETY: `PR_GET_SECCOMP` takes no further arguments and touches no memory.
    let ret = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    // An `int` widened to a `long` (the same type on 32-bit targets) and back.
    Ok(cvt(ret as libc::c_long)? as libc::c_int)
}

/// The numbers of the system calls that set user and group ids, in their versions with 32-bit
/// `uid_t` and `gid_t`, for raw `syscall()`.
///
/// On x86 (i386), arm and 32-bit sparc, `libc::SYS_setuid`, `SYS_setgid`, `SYS_setgroups`,
/// `SYS_setresuid` and `SYS_setresgid` are the legacy calls with 16-bit ids (`kernel/uid16.c`,
/// `CONFIG_UID16`): they cut a uid or gid to its low 16 bits, and the legacy `setgroups()`
/// reads an array of 16-bit gids, so `[100, 200]` as `u32`s reaches the kernel as `[100, 0]`.
/// There the `*32` calls take the full ids. m68k's `libc` constants already name its `*32`
/// calls, and every other architecture Rust supports has only the 32-bit calls, which `libc`
/// names without the suffix.
pub(crate) mod id32 {
    #[cfg(any(target_arch = "x86", target_arch = "arm", target_arch = "sparc"))]
    mod numbers {
        pub(crate) const SETUID: libc::c_long = libc::SYS_setuid32;
        pub(crate) const SETGID: libc::c_long = libc::SYS_setgid32;
        pub(crate) const SETGROUPS: libc::c_long = libc::SYS_setgroups32;
        pub(crate) const SETRESUID: libc::c_long = libc::SYS_setresuid32;
        pub(crate) const SETRESGID: libc::c_long = libc::SYS_setresgid32;
    }

    #[cfg(not(any(target_arch = "x86", target_arch = "arm", target_arch = "sparc")))]
    mod numbers {
        pub(crate) const SETUID: libc::c_long = libc::SYS_setuid;
        pub(crate) const SETGID: libc::c_long = libc::SYS_setgid;
        pub(crate) const SETGROUPS: libc::c_long = libc::SYS_setgroups;
        pub(crate) const SETRESUID: libc::c_long = libc::SYS_setresuid;
        pub(crate) const SETRESGID: libc::c_long = libc::SYS_setresgid;
    }

    /// `setuid()` with a 32-bit uid.
    pub(crate) const SETUID: libc::c_long = numbers::SETUID;
    /// `setgid()` with a 32-bit gid.
    pub(crate) const SETGID: libc::c_long = numbers::SETGID;
    /// `setgroups()` of an array of 32-bit gids.
    pub(crate) const SETGROUPS: libc::c_long = numbers::SETGROUPS;
    /// `setresuid()` with 32-bit uids (for the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) const SETRESUID: libc::c_long = numbers::SETRESUID;
    /// `setresgid()` with 32-bit gids (for the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) const SETRESGID: libc::c_long = numbers::SETRESGID;
}

/// A new pipe, both ends close-on-exec: `(read, write)`.
///
/// # Errors
///
/// The kernel's: `EMFILE`, `ENFILE`.
///
/// # Examples
///
/// ```
/// use std::fs::File;
/// use std::io::{Read, Write};
///
/// let (read, write) = autokill::sys::pipe()?;
/// File::from(write).write_all(b"hi")?; // and closes the write end
/// let mut text = String::new();
/// File::from(read).read_to_string(&mut text)?;
/// assert_eq!(text, "hi");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = MaybeUninit::<[libc::c_int; 2]>::uninit();
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr().cast(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `pipe2()` succeeded, so it wrote both descriptors.
    let [read, write] = unsafe { fds.assume_init() };
    // SAFETY: Both descriptors are new and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn flags_are_the_uapi_values() {
        // Those libc has must agree; the rest are from include/uapi/linux/sched.h.
        for (ours, libc) in [
            (CLONE_VM, libc::CLONE_VM),
            (CLONE_PIDFD, libc::CLONE_PIDFD),
            (CLONE_THREAD, libc::CLONE_THREAD),
            (CLONE_PARENT, libc::CLONE_PARENT),
            (CLONE_NEWUSER, libc::CLONE_NEWUSER),
            (CLONE_NEWPID, libc::CLONE_NEWPID),
            (CLONE_NEWTIME, libc::CLONE_NEWTIME),
        ] {
            assert_eq!(ours, libc as u32 as u64);
        }
        assert_eq!(CLONE_IO, 1 << 31, "no sign extension");
        assert_eq!(
            AUTOKILL_NNP,
            CLONE_PIDFD | (0b111 << 34),
            "AUTOREAP, NNP and PIDFD_AUTOKILL are bits 34 to 36"
        );
    }

    #[test]
    fn id_system_calls_take_32_bit_ids() {
        let ours = [
            id32::SETUID,
            id32::SETGID,
            id32::SETGROUPS,
            id32::SETRESUID,
            id32::SETRESGID,
        ];
        let unsuffixed = [
            libc::SYS_setuid,
            libc::SYS_setgid,
            libc::SYS_setgroups,
            libc::SYS_setresuid,
            libc::SYS_setresgid,
        ];
        // Where the unsuffixed calls take 16-bit ids: the `*32` ones, never the legacy ones.
        #[cfg(any(target_arch = "x86", target_arch = "arm", target_arch = "sparc"))]
        {
            assert_eq!(
                ours,
                [
                    libc::SYS_setuid32,
                    libc::SYS_setgid32,
                    libc::SYS_setgroups32,
                    libc::SYS_setresuid32,
                    libc::SYS_setresgid32,
                ]
            );
            for (ours, legacy) in ours.iter().zip(unsuffixed) {
                assert_ne!(*ours, legacy);
            }
        }
        #[cfg(not(any(target_arch = "x86", target_arch = "arm", target_arch = "sparc")))]
        assert_eq!(ours, unsuffixed);
        // The numbers of the kernel's tables (arch/x86/entry/syscalls/syscall_32.tbl,
        // arch/arm/tools/syscall.tbl, arch/sparc/kernel/syscalls/syscall.tbl,
        // arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h), in the
        // order setuid, setgid, setgroups, setresuid, setresgid.
        let kernel: Option<[libc::c_long; 5]> =
            if cfg!(any(target_arch = "x86", target_arch = "arm")) {
                Some([213, 214, 206, 208, 210])
            } else if cfg!(target_arch = "sparc") {
                Some([87, 89, 82, 108, 110])
            } else if cfg!(target_arch = "x86_64") && cfg!(target_pointer_width = "64") {
                Some([105, 106, 116, 117, 119])
            } else if cfg!(any(target_arch = "aarch64", target_arch = "riscv64")) {
                Some([146, 144, 159, 147, 149])
            } else {
                None
            };
        if let Some(kernel) = kernel {
            assert_eq!(ours, kernel);
        }
    }

    #[test]
    fn poll_and_pipe() {
        let (read, write) = pipe().unwrap();
        assert_eq!(
            poll(read.as_fd(), libc::POLLIN, Some(Duration::ZERO)).unwrap(),
            0
        );
        let started = Instant::now();
        assert_eq!(
            poll(read.as_fd(), libc::POLLIN, Some(Duration::from_millis(50))).unwrap(),
            0
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        std::fs::File::from(write).write_all(b"x").unwrap();
        assert_eq!(
            poll(read.as_fd(), libc::POLLIN, None).unwrap() & libc::POLLIN,
            libc::POLLIN
        );
    }

    #[test]
    fn pidfd_of_a_reaped_child_has_its_status() {
        // A plain child of ours: its pidfd polls POLLHUP only once waitid() has reaped it.
        let (read, write) = pipe().unwrap();
        // SAFETY: The child only calls async-signal-safe `read()` and `_exit()`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let mut byte = 0u8;
            // SAFETY: Closes this process's copy of the write end (so that the parent's drop
            // ends the read), reads one byte into a live variable, then exits.
            unsafe {
                libc::close(write.as_raw_fd());
                libc::read(read.as_raw_fd(), std::ptr::addr_of_mut!(byte).cast(), 1);
                libc::_exit(7);
            }
        }
        drop(read);
        let pidfd = pidfd_open(pid, 0).unwrap();
        assert!(!pidfd_wait_reaped(pidfd.as_fd(), Some(Duration::from_millis(20))).unwrap());
        drop(write);
        // Exited (POLLIN), a zombie until waitid(): no POLLHUP, so waiting for it times out.
        let revents = poll(pidfd.as_fd(), libc::POLLIN, Some(Duration::from_secs(30))).unwrap();
        assert_eq!(revents, libc::POLLIN);
        assert!(!pidfd_wait_reaped(pidfd.as_fd(), Some(Duration::from_millis(50))).unwrap());
        if let Ok(status) = pidfd_exit_status(pidfd.as_fd()) {
            assert_eq!(status, None, "no exit status before the reaping");
        }
        let info = waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            libc::WEXITED,
        )
        .unwrap();
        assert_eq!(
            (info.pid, info.code, info.status),
            (pid, libc::CLD_EXITED, 7)
        );
        assert!(pidfd_wait_reaped(pidfd.as_fd(), None).unwrap());
        // PIDFD_GET_INFO exists since Linux 6.13; older hosts answer ENOTTY.
        match pidfd_exit_status(pidfd.as_fd()) {
            Ok(status) => assert_eq!(status, Some(7 << 8)),
            Err(error) => assert_eq!(error.raw_os_error(), Some(libc::ENOTTY)),
        }
        assert_eq!(
            pidfd_send_signal(pidfd.as_fd(), libc::SIGTERM)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ESRCH)
        );
    }

    #[test]
    fn capabilities_and_seccomp() {
        let (effective, permitted) = capget().unwrap();
        assert_eq!(
            effective & !permitted,
            0,
            "effective is a subset of permitted"
        );
        // The test process runs without a seccomp filter here, or with one.
        assert!(matches!(seccomp_mode(), Ok(0 | 2) | Err(_)));
    }
}
