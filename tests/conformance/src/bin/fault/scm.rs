// SPDX-License-Identifier: GPL-2.0

//! The `scm_send` and `scm_recv` paths: an armed pidfd passed over `SCM_RIGHTS`.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use conformance::errno::Errno;
use conformance::util::{self, FdExt};

use crate::common::*;

/// A message received with one `recvmsg()`.
struct Received {
    fd: Option<OwnedFd>,
    flags: i32,
}

/// One `recvmsg(MSG_DONTWAIT)` of a byte and at most one fd: exactly one system call (the
/// crate's `recv_fd` polls first).
fn recv_once(sock: RawFd) -> Result<Received, Errno> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zero is a valid initial state.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: `msg` points to valid buffers for the call.
    let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if r < 0 {
        return Err(Errno::last());
    }
    if r == 0 {
        return Err(Errno(libc::ENODATA));
    }
    let mut fd = None;
    // SAFETY: The kernel filled `msg`; the header is checked before its data is read, and an
    // SCM_RIGHTS header of at least CMSG_LEN(4) bytes holds one fd that is now ours.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null()
            && (*c).cmsg_level == libc::SOL_SOCKET
            && (*c).cmsg_type == libc::SCM_RIGHTS
            && (*c).cmsg_len >= libc::CMSG_LEN(4) as usize
        {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    Ok(Received {
        fd,
        flags: msg.msg_flags,
    })
}

/// Receives (unarmed) what is left on `sock`; returns the number of messages and whether an
/// fd came with them. Each received fd is closed.
fn drain(sock: RawFd) -> (u32, bool) {
    let (mut msgs, mut fds) = (0, false);
    while let Ok(r) = recv_once(sock) {
        msgs += 1;
        fds |= r.fd.is_some();
    }
    (msgs, fds)
}

/// (e): `sendmsg()` (`recv` false) or `recvmsg()` (`recv` true) of an armed pidfd; then every
/// copy is closed and the child must die.
pub fn scm_path(ctx: &Ctx, n: Option<u32>, recv: bool) -> Result<Step, String> {
    let mut kid = ctx.spawn_kid()?;
    let (s0, s1) = util::socketpair();
    let pidfd = kid.pidfd.take().expect("pidfd");
    let mut st;
    if !recv {
        let a = ctx.call(n, || util::send_fd(s0.raw(), pidfd.raw()))?;
        let sent = a.value.is_ok();
        st = Step::new(&a, sent);
        st.add(&result_str(&a.value));
        util::close(pidfd).map_err(|e| format!("close: {e}"))?;
        let alive = kid.alive();
        st.add(if alive {
            "after-close:alive"
        } else {
            "after-close:killed"
        });
        st.check(
            alive == sent,
            if sent {
                "killed by the close with a copy in flight"
            } else {
                "alive after the close with no copy sent"
            },
        );
        let (msgs, fd) = match recv_once(s1.raw()) {
            Ok(r) => {
                let got = r.fd.is_some();
                if !got {
                    st.add("recv:nofd");
                }
                if let Some(fd) = r.fd {
                    let (state, _) = pidfd_state(fd.raw(), kid.pid);
                    st.add(&format!("recv:{state}"));
                    st.check(
                        state == "pidfd:autokill",
                        "the received pidfd lacks PIDFD_AUTOKILL",
                    );
                    let alive = kid.alive();
                    st.check(alive, "killed with the received copy open");
                }
                let (m, f) = drain(s1.raw());
                (m + 1, got || f)
            }
            Err(_) => {
                st.add("recv:none");
                (0, false)
            }
        };
        st.check(
            !sent || (msgs == 1 && fd),
            "the sent pidfd did not arrive (once, with its fd)",
        );
    } else {
        util::send_fd(s0.raw(), pidfd.raw()).map_err(|e| format!("sendmsg (unarmed): {e}"))?;
        util::close(pidfd).map_err(|e| format!("close: {e}"))?;
        if !kid.alive() {
            return Err("killed by the close with a copy in flight (unarmed)".into());
        }
        let a = ctx.call(n, || recv_once(s1.raw()))?;
        st = Step::new(&a, a.value.is_ok());
        match &a.value {
            Ok(r) => {
                st.add("ok");
                match &r.fd {
                    Some(fd) => {
                        let (state, _) = pidfd_state(fd.raw(), kid.pid);
                        st.add(&format!("fd:{state}"));
                        st.check(
                            state == "pidfd:autokill",
                            "the received pidfd lacks PIDFD_AUTOKILL",
                        );
                    }
                    None => st.add("fd:none"),
                }
                if r.flags & libc::MSG_CTRUNC != 0 {
                    st.add("ctrunc");
                }
            }
            Err(e) => st.add(&errno_str(*e)),
        }
        let alive = kid.alive();
        st.add(if alive { "child:alive" } else { "child:killed" });
        let holds = matches!(&a.value, Ok(r) if r.fd.is_some());
        st.check(!holds || alive, "killed with the received copy open");
        drop(a.value);
        let (msgs, fd) = drain(s1.raw());
        st.add(&format!("left:{msgs}{}", if fd { "+fd" } else { "" }));
    }
    drop(s0);
    drop(s1);
    let died = kid.dies();
    st.add(if died {
        "final:killed"
    } else {
        "final:survived"
    });
    st.check(died, "the child survived the close of every copy");
    Ok(st)
}
