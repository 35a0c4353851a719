// SPDX-License-Identifier: GPL-2.0

//! The fallback where `CLONE_PIDFD_AUTOKILL` is missing or refused
//! ([`Guarantee::ParentThreadSignal`]): the crate's spawner thread, and [`ChildFd`], the
//! pidfd of a child together with how it is reaped and killed.
//!
//! `PR_SET_PDEATHSIG` follows the *thread* that created the child: the kernel sends the signal
//! when that thread exits, not when the process does. A thread of the caller (a tokio blocking
//! thread exits after 10 s idle) would kill the child too early, so every fallback child is
//! created by one thread the crate starts and never ends, which lives exactly as long as the
//! process. The caller hands it the prepared [`ExecPlan`] (owned data, no borrowed lifetime
//! crosses to the thread) and blocks until the child executed the program or failed.
//!
//! The same thread reaps the fallback children that were dropped: they are not autoreaped,
//! so a dropped child is killed and its pidfd handed to the thread, which polls it and reaps
//! the child with `waitid(P_PIDFD)` once it has exited; nothing blocks in `Drop`. The children
//! have exit signal 0: no `SIGCHLD` reaches the application, and `waitpid(-1)` without
//! `__WALL` does not see them (a `SIGCHLD` of `SIG_IGN` does not reap them either).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::c_int;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::guarantee::Guarantee;
use crate::raw;
use crate::sys;

/// What the spawner thread is asked to do.
enum Message {
    /// Run this job (a spawn) and send its result through the job's own channel.
    Job(Box<dyn FnOnce() + Send>),
    /// Reap the child of this pidfd once it has exited (it was sent `SIGKILL`).
    Reap(OwnedFd),
}

/// The crate's spawner thread, one per process.
struct Spawner {
    /// The process that started it: a `fork()`ed copy of the process has no spawner thread (only
    /// the forking thread is copied) and starts its own.
    pid: libc::pid_t,
    queue: Arc<Mutex<Vec<Message>>>,
    /// An `eventfd` that wakes the thread when a message is queued.
    wake: OwnedFd,
    /// A pidfd of the spawner thread (`PIDFD_THREAD`, Linux 6.9+; of the process before that),
    /// readable once it exited: what the fallback's child checks after `PR_SET_PDEATHSIG`.
    thread_pidfd: OwnedFd,
}

/// The current process's spawner, leaked (it lives as long as the process).
static SPAWNER: AtomicPtr<Spawner> = AtomicPtr::new(ptr::null_mut());
/// The pid of the process one of whose threads is starting a spawner, 0 if none is. Not a
/// `Mutex`: a `fork()` while another thread starts one would copy it locked into the child,
/// where no thread would ever unlock it; a pid that is not the current process's is such a
/// stale copy, and free.
static STARTING: AtomicI32 = AtomicI32::new(0);

/// The spawner thread of this process, started on first use.
fn spawner() -> io::Result<&'static Spawner> {
    // SAFETY: `getpid()` cannot fail.
    let pid = unsafe { libc::getpid() };
    let current = |ptr: *mut Spawner| {
        // SAFETY: A non-null pointer in `SPAWNER` is a leaked `Box<Spawner>`, never freed.
        (!ptr.is_null())
            .then(|| unsafe { &*ptr })
            .filter(|s| s.pid == pid)
    };
    if let Some(spawner) = current(SPAWNER.load(Ordering::Acquire)) {
        return Ok(spawner);
    }
    loop {
        match STARTING.compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => break,
            Err(holder) if holder != pid => {
                // Copied from the process this one was forked from: no thread here holds it.
                if STARTING
                    .compare_exchange(holder, pid, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    break;
                }
            }
            // Another thread of this process is starting one; it takes a moment.
            Err(_) => std::thread::yield_now(),
        }
    }
    let started = match current(SPAWNER.load(Ordering::Acquire)) {
        Some(spawner) => Ok(spawner),
        None => Spawner::start(pid).map(|spawner| {
            let spawner: &'static Spawner = Box::leak(Box::new(spawner));
            SPAWNER.store(ptr::from_ref(spawner).cast_mut(), Ordering::Release);
            spawner
        }),
    };
    STARTING.store(0, Ordering::Release);
    started
}

impl Spawner {
    /// Starts the thread and waits for its pidfd.
    fn start(pid: libc::pid_t) -> io::Result<Spawner> {
        // SAFETY: Creates a new descriptor; no pointers.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: A new descriptor that nothing else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        let (started, pidfd) = mpsc::sync_channel(1);
        let thread_wake = wake.try_clone()?;
        let queue = Arc::new(Mutex::new(Vec::new()));
        let thread_queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name("autokill-spawner".into())
            .spawn(move || {
                // Process-directed signals go to other threads: this one blocks them all (the
                // children unblock every signal before `execve()`), with `pthread_sigmask()`,
                // which leaves the C library's internal signals unblocked: glibc's `setuid()`
                // and its kin signal every thread (SIGSETXID) and wait for each to answer.
                block_signals_but_internal();
                // SAFETY: `gettid()` cannot fail.
                let tid = unsafe { libc::gettid() };
                let pidfd =
                    sys::pidfd_open(tid, sys::PIDFD_THREAD).or_else(|_| sys::pidfd_open(pid, 0));
                let ok = pidfd.is_ok();
                let _ = started.send(pidfd);
                if ok {
                    run(&thread_wake, &thread_queue);
                }
            })?;
        let thread_pidfd = pidfd
            .recv()
            .map_err(|_| io::Error::other("the autokill spawner thread did not start"))??;
        Ok(Spawner {
            pid,
            queue,
            wake,
            thread_pidfd,
        })
    }

    fn send(&self, message: Message) {
        self.queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(message);
        let one = 1u64.to_ne_bytes();
        // SAFETY: Writes 8 bytes from a live array to the eventfd; it cannot overflow in
        // practice (2^64 - 1 wake-ups), and a failure would only delay the thread.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }
}

/// The spawner thread: runs the jobs, reaps the dropped children. Never returns.
fn run(wake: &OwnedFd, queue: &Mutex<Vec<Message>>) {
    let queue = || std::mem::take(&mut *queue.lock().unwrap_or_else(|p| p.into_inner()));
    let mut zombies: Vec<OwnedFd> = Vec::new();
    loop {
        let mut fds: Vec<libc::pollfd> = std::iter::once(wake)
            .chain(&zombies)
            .map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: Polls a live array of `fds.len()` `pollfd`s.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            continue; // EINTR (every signal is blocked, but a stop/continue may interrupt)
        }
        if fds[0].revents != 0 {
            let mut count = [0u8; 8];
            // SAFETY: Reads 8 bytes into a live array from the non-blocking eventfd.
            unsafe { libc::read(wake.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
            for message in queue() {
                match message {
                    // A job that panicked drops its result channel: its caller gets an error.
                    // The thread must live on (its children are tied to it).
                    Message::Job(job) => drop(panic::catch_unwind(AssertUnwindSafe(job))),
                    Message::Reap(pidfd) => zombies.push(pidfd),
                }
            }
        }
        // Reaped (or gone): dropped from the list. New ones are tried at once too.
        zombies.retain(|pidfd| matches!(reap(pidfd.as_fd(), true), Ok(None)));
    }
}

/// Blocks every signal in the calling thread but those the C library keeps for itself.
fn block_signals_but_internal() {
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigfillset()` initialises `all`, which `pthread_sigmask()` then reads; the C
    // library's `pthread_sigmask()` removes its internal signals from the set itself. It
    // cannot fail with valid arguments.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), ptr::null_mut());
    }
}

/// Runs `job` on the spawner thread and returns its result; blocks until it is done.
///
/// # Errors
///
/// Starting the spawner thread failed, or the job panicked.
pub(crate) fn on_spawner_thread<T: Send + 'static>(
    job: impl FnOnce(&SpawnerInfo) -> T + Send + 'static,
) -> io::Result<T> {
    let spawner = spawner()?;
    let info = SpawnerInfo {
        thread_pidfd: spawner.thread_pidfd.as_raw_fd(),
    };
    let (result, receive) = mpsc::sync_channel(1);
    spawner.send(Message::Job(Box::new(move || {
        let _ = result.send(job(&info));
    })));
    receive
        .recv()
        .map_err(|_| io::Error::other("the autokill spawner thread failed to spawn"))
}

/// What of a thread's state a child created by it inherits and the kernel lets us read: its
/// seccomp mode, `no_new_privs`, capabilities, and namespaces (those a child gets: the
/// `*_for_children` ones of pid and time). A fallback child is created by the spawner thread,
/// not by the caller: a caller whose thread differs (`unshare()` or `setns()` in one thread, a
/// seccomp filter or `capset()` without effect on the process's other threads) would give the
/// child a state it did not ask for, so the spawn fails instead ([`ThreadState::differs`]).
/// What cannot be read (a Landlock domain, an LSM exec context, affinity, scheduling) is not
/// compared; the documentation of [`Guarantee::ParentThreadSignal`] says so.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ThreadState {
    seccomp: Option<c_int>,
    no_new_privs: Option<c_int>,
    capabilities: Option<(u64, u64)>,
    namespaces: [Option<(u64, u64)>; 8],
}

impl ThreadState {
    /// The calling thread's.
    pub(crate) fn current() -> ThreadState {
        const NAMESPACES: [&str; 8] = [
            "cgroup",
            "ipc",
            "mnt",
            "net",
            "pid_for_children",
            "time_for_children",
            "user",
            "uts",
        ];
        // SAFETY: `PR_GET_NO_NEW_PRIVS` takes no further arguments and touches no memory.
        let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
        ThreadState {
            seccomp: sys::seccomp_mode().ok(),
            no_new_privs: (nnp >= 0).then_some(nnp),
            capabilities: sys::capget().ok(),
            namespaces: NAMESPACES.map(|ns| {
                std::fs::metadata(format!("/proc/thread-self/ns/{ns}"))
                    .ok()
                    .map(|m| {
                        use std::os::unix::fs::MetadataExt;
                        (m.dev(), m.ino())
                    })
            }),
        }
    }

    /// Why a child created by a thread in `self` would not get `caller`'s state: the first
    /// thing that differs.
    pub(crate) fn differs(&self, caller: &ThreadState) -> Option<&'static str> {
        if self.seccomp != caller.seccomp {
            Some("seccomp filters")
        } else if self.no_new_privs != caller.no_new_privs {
            Some("no_new_privs settings")
        } else if self.capabilities != caller.capabilities {
            Some("capabilities")
        } else if self.namespaces != caller.namespaces {
            Some("namespaces")
        } else {
            None
        }
    }
}

/// What a job learns about the spawner thread.
pub(crate) struct SpawnerInfo {
    /// A pidfd of the spawner thread, alive as long as the process (see [`Spawner`]).
    pub(crate) thread_pidfd: RawFd,
}

/// A `SIGCHLD`-less child reaped with `waitid(P_PIDFD, pidfd, WEXITED | __WALL)`, `WNOHANG`
/// with `nohang`: its wait status (as `waitpid()` gives it), `None` if it has not exited.
/// `ECHILD` (someone else reaped it, e.g. a `waitid(P_ALL, __WALL)` of the application) falls
/// back to the exit status the kernel keeps with the pidfd (`PIDFD_INFO_EXIT`, Linux 6.15+).
fn reap(pidfd: BorrowedFd<'_>, nohang: bool) -> io::Result<Option<c_int>> {
    let options = libc::WEXITED | libc::__WALL | if nohang { libc::WNOHANG } else { 0 };
    match sys::waitid(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, options) {
        Ok(info) if info.pid == 0 => Ok(None),
        Ok(info) => Ok(Some(wait_status(info.code, info.status))),
        Err(error) if error.raw_os_error() == Some(libc::ECHILD) => {
            match sys::pidfd_exit_status(pidfd) {
                Ok(Some(status)) => Ok(Some(status)),
                _ => Err(io::Error::other(
                    "the child was reaped by someone else (waitid with __WALL) and the kernel \
                     keeps no exit status for it (PIDFD_INFO_EXIT, Linux 6.15+)",
                )),
            }
        }
        Err(error) => Err(error),
    }
}

/// The wait status of `waitid()`'s `si_code` and `si_status`.
fn wait_status(code: c_int, status: c_int) -> c_int {
    match code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => status & 0x7f,
    }
}

/// How a child is reaped and what its drop does.
#[derive(Debug)]
enum Kind {
    /// `CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL`: the kernel kills it when the pidfd is closed
    /// and reaps it.
    Kernel,
    /// The fallback: killed and handed to the spawner thread on drop, reaped with `waitid()`.
    Fallback {
        /// The cgroup of [`Command::cgroup`](crate::Command::cgroup), whose `cgroup.kill` the
        /// drop writes.
        cgroup: Option<OwnedFd>,
        guarantee: Guarantee,
    },
}

/// The pidfd of a spawned child, with how it is reaped: owned by [`crate::Child`] and the
/// tokio `Child`.
#[derive(Debug)]
pub(crate) struct ChildFd {
    /// `Some` until dropped.
    fd: Option<OwnedFd>,
    kind: Kind,
    /// A fallback child has been reaped (its status was taken): nothing to kill or reap.
    reaped: AtomicBool,
    /// The process that spawned the child. A `fork()`ed copy of it holds a copy of this
    /// handle, whose drop there must not kill or reap the child (as closing its copy of a
    /// kernel child's pidfd does not).
    owner: libc::pid_t,
}

impl ChildFd {
    /// The autokill pidfd of a child of `clone3(CLONE_PIDFD_AUTOKILL | CLONE_AUTOREAP)`.
    pub(crate) fn kernel(fd: OwnedFd) -> Self {
        ChildFd {
            fd: Some(fd),
            kind: Kind::Kernel,
            reaped: AtomicBool::new(false),
            // SAFETY: `getpid()` cannot fail.
            owner: unsafe { libc::getpid() },
        }
    }

    /// The pidfd of a fallback child (not autoreaped, exit signal 0), with the cgroup whose
    /// `cgroup.kill` its drop writes.
    pub(crate) fn fallback(fd: OwnedFd, cgroup: Option<OwnedFd>, guarantee: Guarantee) -> Self {
        ChildFd {
            fd: Some(fd),
            kind: Kind::Fallback { cgroup, guarantee },
            reaped: AtomicBool::new(false),
            // SAFETY: `getpid()` cannot fail.
            owner: unsafe { libc::getpid() },
        }
    }

    /// What ties the child to its parent.
    pub(crate) fn guarantee(&self) -> Guarantee {
        match &self.kind {
            Kind::Kernel => Guarantee::Kernel,
            Kind::Fallback { guarantee, .. } => *guarantee,
        }
    }

    /// The child's wait status if it has exited (and, for a fallback child, reaps it); never
    /// blocks.
    pub(crate) fn try_status(&self) -> io::Result<Option<c_int>> {
        match self.kind {
            Kind::Kernel => sys::pidfd_exit_status(self.as_fd()),
            Kind::Fallback { .. } => {
                let status = reap(self.as_fd(), true)?;
                if status.is_some() {
                    self.reaped.store(true, Ordering::Relaxed);
                }
                Ok(status)
            }
        }
    }

    /// Waits up to `timeout` (`None`: forever) for the child to exit: its wait status, or `None`
    /// on timeout.
    pub(crate) fn wait_status(&self, timeout: Option<Duration>) -> io::Result<Option<c_int>> {
        match self.kind {
            Kind::Kernel => {
                if !sys::pidfd_wait_reaped(self.as_fd(), timeout)? {
                    return Ok(None);
                }
                match self.try_status()? {
                    Some(status) => Ok(Some(status)),
                    // pidfs_exit() stores the status before the reaping that POLLHUP reports.
                    None => Err(io::Error::other(
                        "the child was reaped but the kernel has no exit status for it \
                         (PIDFD_INFO_EXIT)",
                    )),
                }
            }
            Kind::Fallback { .. } => {
                // Readable once the child has exited (a zombie until `waitid()`); `POLLHUP`
                // if someone else reaped it.
                if sys::poll(self.as_fd(), libc::POLLIN, timeout)? == 0 {
                    return Ok(None);
                }
                self.try_status()
            }
        }
    }
}

impl AsFd for ChildFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // `None` only inside `drop()` and the conversion into `OwnedFd`, which consume the
        // `ChildFd`: nothing can borrow it then.
        self.fd
            .as_ref()
            .expect("the pidfd is there until dropped")
            .as_fd()
    }
}

/// Gives up the pidfd without killing the child: a kernel child then lives as long as that open
/// file; a fallback child is no longer killed on drop nor reaped by the crate (unless its
/// status was taken already, its owner must reap it with `waitid(P_PIDFD, ..., WEXITED |
/// __WALL)`; `PR_SET_PDEATHSIG` holds as the child's [`Guarantee`] says).
impl From<ChildFd> for OwnedFd {
    fn from(mut child: ChildFd) -> OwnedFd {
        // `Some` outside `drop()`; the drop that follows finds `None` and does nothing.
        child.fd.take().expect("the pidfd is there until dropped")
    }
}

impl AsRawFd for ChildFd {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A fallback child that was not reaped: `cgroup.kill` of its cgroup (if any), `SIGKILL`
/// through the pidfd, then the pidfd goes to the spawner thread, which reaps the child once it
/// has exited. Nothing here blocks. A kernel child's pidfd is closed, which kills it (unless
/// a copy of the open file lives on). In a `fork()`ed copy of the spawning process, which is
/// not the child's parent, the pidfd is only closed.
impl Drop for ChildFd {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else {
            return;
        };
        let Kind::Fallback { cgroup, .. } = &self.kind else {
            return;
        };
        // SAFETY: `getpid()` cannot fail.
        if self.reaped.load(Ordering::Relaxed) || unsafe { libc::getpid() } != self.owner {
            return;
        }
        if let Some(dir) = cgroup {
            let _ = raw::write_file_at(dir.as_raw_fd(), c"cgroup.kill", b"1");
        }
        let _ = sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
        match spawner() {
            Ok(spawner) => spawner.send(Message::Reap(fd)),
            // No thread to reap it (no more descriptors or threads): a zombie until this
            // process exits, unless it is gone already.
            Err(_) => {
                let _ = reap(fd.as_fd(), true);
            }
        }
    }
}

#[cfg(test)]
mod tests;
