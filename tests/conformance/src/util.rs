// SPDX-License-Identifier: GPL-2.0

//! File descriptors, pidfds, polling, waiting, sockets and `/proc`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::errno::{cvt, Errno};
use crate::sys;
pub use crate::sys::WaitInfo;

/// The positive wait: how long a death, a message or a state change may take (ms). Generous:
/// the guest may be emulated.
pub fn death_ms() -> i32 {
    env_ms("AUTOKILL_DEATH_MS", 10_000)
}

/// The negative wait: how long a child must stay alive to count as not killed (ms).
pub fn alive_ms() -> i32 {
    env_ms("AUTOKILL_ALIVE_MS", 300)
}

fn env_ms(name: &str, default: i32) -> i32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// The pidfd and `waitid()` wrappers are `autokill::sys`'s, with the errno as an [`Errno`]
// (whose name the messages print).

/// `pidfd_open(pid, flags)`.
pub fn pidfd_open(pid: i32, flags: u32) -> Result<OwnedFd, Errno> {
    Ok(sys::pidfd_open(pid, flags)?)
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> Result<(), Errno> {
    Ok(sys::pidfd_send_signal(pidfd, sig)?)
}

/// `pidfd_getfd(pidfd, targetfd, 0)`.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, targetfd: RawFd) -> Result<OwnedFd, Errno> {
    Ok(sys::pidfd_getfd(pidfd, targetfd)?)
}

/// `ioctl(PIDFD_GET_INFO)` with `mask`.
pub fn pidfd_info(pidfd: BorrowedFd<'_>, mask: u64) -> Result<sys::PidfdInfo, Errno> {
    Ok(sys::pidfd_get_info(pidfd, mask)?)
}

/// Waits until `PIDFD_GET_INFO` reports the exit status (it may lag behind the poll wake-up).
pub fn exit_code(pidfd: BorrowedFd<'_>, timeout_ms: i32) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    loop {
        if let Ok(Some(code)) = sys::pidfd_exit_status(pidfd) {
            return Some(code);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `poll()` one fd for `events`; returns `revents` (0 on timeout). Restarts on `EINTR`.
///
/// Unlike `autokill::sys::poll` it takes a raw fd, which may be closed while the poll runs (a
/// case closes the fd a poll in another thread waits on) or be closed already (`POLLNVAL`).
pub fn poll1(fd: RawFd, events: i16, timeout_ms: i32) -> Result<i16, Errno> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
    loop {
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        // SAFETY: One valid `pollfd`.
        let r = unsafe { libc::poll(&mut p, 1, if timeout_ms < 0 { -1 } else { left }) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok(if r == 0 { 0 } else { p.revents });
    }
}

/// Whether the process behind `pidfd` exits (`POLLIN`) within `timeout_ms`.
pub fn wait_exit(pidfd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    matches!(poll1(pidfd.as_raw_fd(), libc::POLLIN, timeout_ms), Ok(r) if r & libc::POLLIN != 0)
}

/// Whether the process behind `pidfd` is gone for good (reaped: `Pid: -1` in fdinfo, which is
/// also when `POLLHUP` is reported) within `timeout_ms`.
pub fn wait_reaped(pidfd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    loop {
        if fdinfo_pid(pidfd.as_raw_fd()) == Some(-1) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        let _ = poll1(pidfd.as_raw_fd(), libc::POLLIN, 5);
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether the process behind `pidfd` has exited already (`POLLIN` now).
pub fn has_exited(pidfd: BorrowedFd<'_>) -> bool {
    wait_exit(pidfd, 0)
}

/// The text of `/proc/self/fdinfo/<fd>`.
pub fn fdinfo(fd: RawFd) -> Option<String> {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()
}

/// A field of `/proc/self/fdinfo/<fd>`.
pub fn fdinfo_field(fd: RawFd, name: &str) -> Option<String> {
    let text = fdinfo(fd)?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim().to_string())
    })
}

/// `Pid:` of a pidfd's fdinfo: -1 once the process has been reaped.
pub fn fdinfo_pid(fd: RawFd) -> Option<i32> {
    fdinfo_field(fd, "Pid")?.parse().ok()
}

/// `flags:` of an fd's fdinfo (octal).
pub fn fdinfo_flags(fd: RawFd) -> Option<u32> {
    u32::from_str_radix(&fdinfo_field(fd, "flags")?, 8).ok()
}

/// `fcntl(F_GETFL)`.
pub fn getfl(fd: RawFd) -> Result<i32, Errno> {
    // SAFETY: fcntl with an integer command.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })
}

/// `fcntl(F_SETFL, flags)`.
pub fn setfl(fd: RawFd, flags: i32) -> Result<(), Errno> {
    // SAFETY: fcntl with integer arguments.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) })?;
    Ok(())
}

/// Clears or sets `FD_CLOEXEC`.
pub fn set_cloexec(fd: RawFd, on: bool) -> Result<(), Errno> {
    // SAFETY: fcntl with integer arguments.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, if on { libc::FD_CLOEXEC } else { 0 }) })?;
    Ok(())
}

/// `dup(fd)`.
pub fn dup(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: dup with an integer argument.
    let n = cvt(unsafe { libc::dup(fd) })?;
    // SAFETY: A new file descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// `close(fd)` of a raw fd, with the result.
pub fn close_raw(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: The caller gives up `fd`.
    cvt(unsafe { libc::close(fd) })?;
    Ok(())
}

/// Closes an owned fd, reporting the result of `close()`.
pub fn close(fd: OwnedFd) -> Result<(), Errno> {
    close_raw(std::os::fd::IntoRawFd::into_raw_fd(fd))
}

/// A pipe, both ends `O_CLOEXEC`: `(read, write)`.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    pipe_flags(libc::O_CLOEXEC)
}

/// A pipe with `flags`: `(read, write)`.
pub fn pipe_flags(flags: i32) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is an array of two ints.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) }).expect("pipe2");
    // SAFETY: New file descriptors nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A connected `AF_UNIX` stream socket pair, `O_CLOEXEC`.
pub fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is an array of two ints.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })
    .expect("socketpair");
    // SAFETY: New file descriptors nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Writes all of `data` (retrying on `EINTR`).
pub fn write_all(fd: RawFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for reading `data.len()` bytes.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Reads until a newline or end of file within `timeout_ms`; returns the text without the
/// newline. An empty string means end of file.
pub fn read_line(fd: RawFd, timeout_ms: i32) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    let mut out = Vec::new();
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        let r = poll1(fd, libc::POLLIN, left).map_err(|e| format!("poll: {e}"))?;
        if r == 0 {
            return Err(format!(
                "timed out after {timeout_ms} ms waiting for a message (got {:?})",
                String::from_utf8_lossy(&out)
            ));
        }
        let mut b = [0u8; 1];
        // SAFETY: Reads one byte into `b`.
        let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR || e == Errno::EAGAIN {
                continue;
            }
            return Err(format!("read: {e}"));
        }
        if n == 0 || b[0] == b'\n' {
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.push(b[0]);
    }
}

/// Reads everything until end of file within `timeout_ms`.
pub fn read_to_end(fd: RawFd, timeout_ms: i32) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    let mut out = Vec::new();
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        let r = poll1(fd, libc::POLLIN, left).map_err(|e| format!("poll: {e}"))?;
        if r == 0 {
            return Err(format!("timed out after {timeout_ms} ms reading"));
        }
        let mut b = [0u8; 4096];
        // SAFETY: Reads into `b`.
        let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR || e == Errno::EAGAIN {
                continue;
            }
            return Err(format!("read: {e}"));
        }
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&b[..n as usize]);
    }
}

/// Reads a process's message from `fd` until end of file, or until the process behind
/// `pidfd` has exited and the pipe is drained (other processes may still hold the write end),
/// within `timeout_ms`.
pub fn read_from_process(fd: RawFd, pidfd: RawFd, timeout_ms: i32) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    let mut out = Vec::new();
    let mut exited = false;
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        let mut p = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: Two valid pollfds.
        let r = unsafe { libc::poll(p.as_mut_ptr(), 2, if exited { 0 } else { left }) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        if p[0].revents != 0 {
            let mut b = [0u8; 4096];
            // SAFETY: Reads into `b`.
            let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) };
            if n < 0 {
                let e = Errno::last();
                if e == Errno::EINTR || e == Errno::EAGAIN {
                    continue;
                }
                return Err(format!("read: {e}"));
            }
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&b[..n as usize]);
            continue;
        }
        if exited {
            // Exited and nothing left to read.
            return Ok(out);
        }
        if p[1].revents != 0 {
            exited = true;
            continue;
        }
        if r == 0 {
            return Err(format!("timed out after {timeout_ms} ms"));
        }
    }
}

/// Sends one byte and `fd` over a unix socket (`SCM_RIGHTS`).
pub fn send_fd(sock: RawFd, fd: RawFd) -> Result<(), Errno> {
    send_fds(sock, &[fd])
}

/// Sends one byte and `fds` over a unix socket (`SCM_RIGHTS`).
pub fn send_fds(sock: RawFd, fds: &[RawFd]) -> Result<(), Errno> {
    let mut byte = [b'F'];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    // SAFETY: msghdr is plain data; zero is a valid initial state.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: `msg` has a control buffer of `space` bytes, room for one header with `payload`
    // bytes of data; the pointers stay valid during the call.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(payload as u32) as usize;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c) as *mut RawFd, fds.len());
        cvt(libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL))?;
    }
    Ok(())
}

/// Receives one byte and one fd (`SCM_RIGHTS`) within `timeout_ms`.
pub fn recv_fd(sock: RawFd, timeout_ms: i32) -> Result<OwnedFd, String> {
    if poll1(sock, libc::POLLIN, timeout_ms).map_err(|e| format!("poll: {e}"))? == 0 {
        return Err(format!("no fd received within {timeout_ms} ms"));
    }
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    // SAFETY: msghdr is plain data; zero is a valid initial state.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: `msg` points to valid buffers for the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n <= 0 {
        return Err(format!("recvmsg: {} ({n})", Errno::last()));
    }
    // SAFETY: The kernel filled `msg`; the header pointer is checked before use, and the data
    // of an SCM_RIGHTS header with a non-zero length holds at least one fd.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err("no SCM_RIGHTS in the message".into());
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// `waitid(idtype, id, options)`, retried on `EINTR`.
pub fn waitid(idtype: libc::idtype_t, id: u32, options: i32) -> Result<WaitInfo, Errno> {
    Ok(sys::waitid(idtype, id, options)?)
}

/// `waitid(P_PID, pid, WEXITED | WNOHANG | __WALL)`: `Err(ECHILD)` for an autoreaped (or
/// foreign) child.
pub fn waitid_nohang(pid: i32) -> Result<WaitInfo, Errno> {
    waitid(
        libc::P_PID,
        pid as u32,
        libc::WEXITED | libc::WNOHANG | libc::__WALL,
    )
}

/// Waits (blocking, `__WALL`) for `pid` to exit and reaps it; returns the wait status.
pub fn reap(pid: i32) -> Result<i32, Errno> {
    let mut st = 0;
    loop {
        // SAFETY: `st` is a valid int.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok(st);
    }
}

/// Waits up to `timeout_ms` for `pid` (`__WALL`) and reaps it; `None` on timeout.
pub fn reap_timeout(pid: i32, timeout_ms: i32) -> Result<Option<i32>, Errno> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    loop {
        let mut st = 0;
        // SAFETY: `st` is a valid int.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL | libc::WNOHANG) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if r == pid {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kills (`SIGKILL`) and reaps a child, ignoring errors (cleanup).
pub fn kill_reap(pid: i32) {
    // SAFETY: kill and waitpid with integer arguments.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut st = 0;
        libc::waitpid(pid, &mut st, libc::__WALL);
    }
}

/// The fields of `/proc/<pid>/status` we use.
#[derive(Clone, Debug, Default)]
pub struct ProcStatus {
    /// `State:` letter.
    pub state: char,
    /// `PPid:`.
    pub ppid: i32,
    /// `SigPnd:` (this thread).
    pub sigpnd: u64,
    /// `ShdPnd:` (the thread group).
    pub shdpnd: u64,
    /// `Threads:`.
    pub threads: i32,
    /// `Uid:` real, effective.
    pub uid: (u32, u32),
    /// `NoNewPrivs:`.
    pub nnp: bool,
}

/// Parses `/proc/<pid>/status`; `None` if the process is gone.
pub fn proc_status(pid: i32) -> Option<ProcStatus> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    // A process that goes away between open() and read() may give an empty file.
    let mut s = ProcStatus {
        state: '\0',
        ..Default::default()
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k {
            "State" => s.state = v.chars().next().unwrap_or('?'),
            "PPid" => s.ppid = v.parse().unwrap_or(-1),
            "SigPnd" => s.sigpnd = u64::from_str_radix(v, 16).unwrap_or(0),
            "ShdPnd" => s.shdpnd = u64::from_str_radix(v, 16).unwrap_or(0),
            "Threads" => s.threads = v.parse().unwrap_or(0),
            "NoNewPrivs" => s.nnp = v == "1",
            "Uid" => {
                let mut it = v.split_whitespace().map(|x| x.parse().unwrap_or(u32::MAX));
                s.uid = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            }
            _ => {}
        }
    }
    (s.state != '\0').then_some(s)
}

/// The `SIGKILL` bit in a pending-signal mask.
pub const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);

/// `PF_EXITING` in the flags of `/proc/<pid>/stat`.
const PF_EXITING: u64 = 0x4;

/// The flags field of `/proc/<pid>/stat`; `None` if the process is gone.
pub fn proc_stat_flags(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    rest.split_whitespace().nth(6)?.parse().ok()
}

/// Whether `pid` is dead, exiting or has `SIGKILL` pending (it has been sent `SIGKILL`).
///
/// Once `SIGKILL` is queued the process shows it as pending, then exits and is gone. A status
/// read during the exit may show no pending signal, so the `stat` flags are read afterwards:
/// `PF_EXITING` (or gone) by then.
pub fn killed_or_dead(pid: i32) -> bool {
    match proc_status(pid) {
        None => true,
        Some(s) if matches!(s.state, 'Z' | 'X') || (s.sigpnd | s.shdpnd) & SIGKILL_BIT != 0 => true,
        Some(_) => proc_stat_flags(pid).is_none_or(|f| f & PF_EXITING != 0),
    }
}

/// Whether the file `/proc/self/task/<tid>` exists.
pub fn task_exists(tid: i32) -> bool {
    std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
}

/// Waits up to `timeout_ms` for `cond`; returns whether it became true.
pub fn wait_until(timeout_ms: i32, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Closes every fd from 3 up except those in `keep` (for a fork-like child that should not hold
/// copies of the parent's autokill pidfds).
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep.iter().map(|&f| f as u32).collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for k in keep.into_iter().filter(|&k| k >= 3) {
        if k > first {
            // SAFETY: close_range with integer arguments; the caller gives up these fds.
            unsafe { libc::syscall(libc::SYS_close_range, first, k - 1, 0u32) };
        }
        first = k + 1;
    }
    // SAFETY: As above.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
}

/// `pause()` forever.
pub fn pause_forever() -> ! {
    loop {
        // SAFETY: pause has no arguments.
        unsafe { libc::pause() };
    }
}

/// `execv(path, args)`; returns only on failure.
pub fn execv(path: &str, args: &[String]) -> Errno {
    let cpath = CString::new(path).expect("path");
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).expect("arg"))
        .collect();
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: `cpath` and `argv` are NUL-terminated and outlive the call.
    unsafe { libc::execv(cpath.as_ptr(), argv.as_ptr()) };
    Errno::last()
}

/// The `autokill-helper` binary next to the running executable.
pub fn helper_path() -> String {
    let exe = std::env::current_exe().expect("current_exe");
    exe.with_file_name("autokill-helper")
        .to_string_lossy()
        .into_owned()
}

/// The value of a command-line option: the next argument as a `u64`; `usage()` (which exits)
/// if it is missing or not a number.
pub fn next_u64<'a>(args: &mut impl Iterator<Item = &'a String>, usage: fn() -> !) -> u64 {
    args.next()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| usage())
}

/// `gettid()`.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no arguments.
    unsafe { libc::gettid() }
}

/// `getpid()`.
pub fn getpid() -> i32 {
    // SAFETY: getpid has no arguments.
    unsafe { libc::getpid() }
}

/// FNV-1a, 64 bits.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Hashes `data` into the state.
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// SplitMix64, a small deterministic PRNG.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Reads the object count of a slab cache: `/sys/kernel/slab/<name>/objects`, else the active
/// objects of `/proc/slabinfo`.
pub fn slab_objects(name: &str) -> Option<u64> {
    if let Ok(t) = std::fs::read_to_string(format!("/sys/kernel/slab/{name}/objects")) {
        return t.split_whitespace().next()?.parse().ok();
    }
    let t = std::fs::read_to_string("/proc/slabinfo").ok()?;
    t.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == name).then(|| it.next()?.parse().ok())?
    })
}

/// `uname -r`.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Whether this kernel has `CLONE_PIDFD_AUTOKILL`: spawns (and ends) one autokill child.
pub fn kernel_has_autokill() -> Result<bool, Errno> {
    use crate::raw::{ChildMode, Clone3};
    match Clone3::new(crate::sys::AUTOKILL_NNP).spawn(ChildMode::Pause) {
        Ok(mut c) => {
            let obs = pidfd_open(c.pid, 0);
            drop(c.take_pidfd());
            if let Ok(obs) = obs {
                if !wait_exit(obs.as_fd_borrowed(), death_ms()) {
                    // Not killed: no such feature after all (should not happen); clean up.
                    let _ = pidfd_send_signal(obs.as_fd_borrowed(), libc::SIGKILL);
                    let _ = reap(c.pid);
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Err(Errno::EINVAL) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `as_fd()` with a shorter name for `OwnedFd`.
pub trait FdExt {
    /// A borrowed fd.
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
    /// The raw fd.
    fn raw(&self) -> RawFd;
}

impl FdExt for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
    fn raw(&self) -> RawFd {
        self.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_report_the_errno_by_name() {
        // The messages of the suites print errno names: the `autokill::sys` errors must keep
        // their errno through the conversion.
        assert_eq!(pidfd_open(-1, 0).unwrap_err(), Errno::EINVAL);
        let err = waitid(libc::P_PID, i32::MAX as u32, libc::WEXITED | libc::WNOHANG);
        assert_eq!(err.unwrap_err().to_string(), "ECHILD");
        let (r, _w) = pipe();
        // A pipe is no pidfd.
        assert_eq!(
            pidfd_send_signal(r.as_fd_borrowed(), 0).unwrap_err(),
            Errno::EBADF
        );
    }

    #[test]
    fn pidfd_of_a_child_and_its_status() {
        let pid = crate::raw::fork_fn(|| 7).unwrap();
        let pidfd = pidfd_open(pid, 0).unwrap();
        let info = pidfd_info(pidfd.as_fd_borrowed(), sys::PIDFD_INFO_PID);
        // PIDFD_GET_INFO exists since Linux 6.13.
        if let Ok(info) = &info {
            assert_eq!(info.pid, pid as u32);
        }
        assert!(wait_exit(pidfd.as_fd_borrowed(), 30_000));
        let w = waitid(libc::P_PIDFD, pidfd.as_raw_fd() as u32, libc::WEXITED).unwrap();
        assert_eq!((w.pid, w.code, w.status), (pid, libc::CLD_EXITED, 7));
        if info.is_ok() {
            assert_eq!(exit_code(pidfd.as_fd_borrowed(), 30_000), Some(7 << 8));
        }
        assert_eq!(
            pidfd_send_signal(pidfd.as_fd_borrowed(), 0).unwrap_err(),
            Errno::ESRCH
        );
    }
}
