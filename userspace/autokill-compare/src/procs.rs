// SPDX-License-Identifier: GPL-2.0

//! Processes seen from outside: pidfds, `/proc/<pid>/stat`, pipes read with a deadline.
//!
//! Every process the orchestrator watches is held through a pidfd taken while the process is
//! known to be alive, so a pid reused after the process was reaped cannot be mistaken for it:
//! "exited" is the pidfd polling readable (`POLLIN`, which a zombie and a reaped process both
//! give), never a lookup by number.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// `pidfd_open(pid, 0)`: a close-on-exec pidfd of a live process (or a zombie).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: A system call with integer arguments; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: The kernel just returned this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `signal` through the pidfd; a process that has already exited is not an error.
pub fn pidfd_kill(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: A system call on a descriptor that stays open for the call, with a null
    // `siginfo` (allowed: the kernel then fills it in as for `kill()`).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(error)
    }
}

/// Whether the process behind the pidfd has exited (is a zombie or gone): `POLLIN`.
pub fn exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid array of one `pollfd` for the duration of the call.
    let ret = unsafe { libc::poll(&mut pfd, 1, 0) };
    ret > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP) != 0
}

/// Waits until every pidfd in `pidfds` that has not exited yet exits, or `deadline` passes.
/// Returns, for each, the time it was first seen exited (measured from `since`), or `None` if it
/// still runs at the deadline.
pub fn wait_exits(pidfds: &[&OwnedFd], since: Instant, deadline: Instant) -> Vec<Option<Duration>> {
    let mut seen: Vec<Option<Duration>> = vec![None; pidfds.len()];
    loop {
        let now = Instant::now();
        for (i, fd) in pidfds.iter().enumerate() {
            if seen[i].is_none() && exited(fd) {
                seen[i] = Some(now.saturating_duration_since(since));
            }
        }
        if seen.iter().all(Option::is_some) || now >= deadline {
            return seen;
        }
        let mut pfds: Vec<libc::pollfd> = pidfds
            .iter()
            .zip(&seen)
            .filter(|(_, s)| s.is_none())
            .map(|(fd, _)| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let timeout = poll_timeout(deadline);
        // SAFETY: `pfds` is a valid array of `pfds.len()` `pollfd`s for the duration of the call.
        unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
    }
}

/// Reaps the process behind the pidfd if it is a zombie child of this process
/// (`waitid(P_PIDFD, ..., WEXITED | WNOHANG)`); anything else (not our child, still running,
/// already reaped) is left alone.
pub fn reap_if_ours(pidfd: &OwnedFd) {
    // SAFETY: All-zero is a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid for writes for the duration of the call.
    unsafe {
        libc::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        )
    };
}

/// Reaps every zombie child of this process (`waitpid(-1, WNOHANG)` until none is left).
/// Only for the end of a run, when no `std::process::Child` is waiting any more.
pub fn reap_all_zombies() {
    loop {
        let mut status = 0;
        // SAFETY: `status` is valid for writes for the duration of the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
    }
}

/// The fields of `/proc/<pid>/stat` this program uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// Start time after boot in clock ticks: with the pid, it names one process for good.
    pub starttime: u64,
}

/// Reads `/proc/<pid>/stat`; `None` if there is no such process.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses the text of a `/proc/<pid>/stat` file. The command name (field 2) is in parentheses
/// and may contain spaces and parentheses itself, so the fields after it are found from the
/// last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is fields[N - 3].
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        starttime: fields.get(19)?.parse().ok()?,
    })
}

/// Every process in this pid namespace that descends from `root` (not `root` itself), from a
/// scan of `/proc`.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some(st) = stat(pid) {
                parent_of.push((pid, st.ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == parent && pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is valid for writes of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: The kernel just returned these descriptors, and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The `poll()` timeout in milliseconds until `deadline` (at least 1 while it is in the
/// future, so that a sub-millisecond rest does not spin).
fn poll_timeout(deadline: Instant) -> libc::c_int {
    let rest = deadline.saturating_duration_since(Instant::now());
    if rest.is_zero() {
        0
    } else {
        rest.as_millis().clamp(1, libc::c_int::MAX as u128) as libc::c_int
    }
}

/// Reads lines from a pipe with a deadline.
pub struct LineReader {
    fd: OwnedFd,
    buf: Vec<u8>,
    eof: bool,
}

impl LineReader {
    /// Reads from `fd` (a pipe's read end).
    pub fn new(fd: OwnedFd) -> Self {
        LineReader {
            fd,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// The next line (without its newline); `Ok(None)` at end of file; an error of kind
    /// `TimedOut` once `deadline` has passed without a whole line.
    pub fn next_line(&mut self, deadline: Instant) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(
                    String::from_utf8_lossy(&line[..line.len() - 1]).into_owned(),
                ));
            }
            if self.eof {
                return Ok(None);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let timeout = poll_timeout(deadline);
            // SAFETY: `pfd` is a valid array of one `pollfd` for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, timeout) };
            if ready < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if ready == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no line before the deadline",
                ));
            }
            let mut chunk = [0u8; 512];
            let (fd, buf, len) = (self.fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len());
            // SAFETY: `buf` points to `len` bytes of `chunk`, valid for writes during the call.
            let n = unsafe { libc::read(fd, buf, len) };
            if n < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if n == 0 {
                self.eof = true;
            } else {
                self.buf.extend_from_slice(&chunk[..n as usize]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_after_the_last_parenthesis() {
        let text = "4242 (we (ird) name) S 17 4242 4242 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 \
                    123456 1000 100 18446744073709551615\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                state: 'S',
                ppid: 17,
                starttime: 123456
            })
        );
    }

    #[test]
    fn own_stat_is_read() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap();
        // The main thread's state: it waits for the test threads.
        assert!("RS".contains(st.state), "{st:?}");
        // SAFETY: `getppid()` has no preconditions and touches no memory of ours.
        assert_eq!(st.ppid, unsafe { libc::getppid() });
    }

    #[test]
    fn a_reaped_child_reads_as_exited_through_its_pidfd() {
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let fd = pidfd_open(child.id() as i32).unwrap();
        assert!(!exited(&fd));
        pidfd_kill(&fd, libc::SIGKILL).unwrap();
        let start = Instant::now();
        let seen = wait_exits(&[&fd], start, start + Duration::from_secs(10));
        assert!(seen[0].is_some());
        child.wait().unwrap();
        assert!(exited(&fd));
        // Killing an exited process is not an error.
        pidfd_kill(&fd, libc::SIGKILL).unwrap();
    }

    #[test]
    fn lines_time_out_and_end() {
        let (rd, wr) = pipe().unwrap();
        let mut reader = LineReader::new(rd);
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            reader.next_line(soon).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        let mut file = std::fs::File::from(wr);
        std::io::Write::write_all(&mut file, b"one\ntw").unwrap();
        drop(file);
        let later = Instant::now() + Duration::from_secs(10);
        assert_eq!(reader.next_line(later).unwrap().as_deref(), Some("one"));
        assert_eq!(reader.next_line(later).unwrap(), None);
    }
}
