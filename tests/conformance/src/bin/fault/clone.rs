// SPDX-License-Identifier: GPL-2.0

//! The `clone3_nnp` and `clone3_root` paths: one `clone3()` of an autokill child.

use conformance::sys::*;
use conformance::util::{self, FdExt};

use crate::common::*;

/// (a), (b): one `clone3()` of an autokill child.
pub fn clone3_path(ctx: &Ctx, n: Option<u32>, flags: u64) -> Result<Step, String> {
    let a = ctx.clone3(n, flags)?;
    let mut st = Step::new(&a, a.value.is_ok());
    let (pid, pidfd) = match a.value {
        Err(e) => {
            st.add(&format!("{} child:none", errno_str(e)));
            return Ok(st);
        }
        Ok(s) => s,
    };
    st.add("ok");
    if let Some(p) = ctx.pid {
        if pid != p {
            // ns_last_pid is a hint, not a promise: a kernel thread or another process may
            // take the pid between our write and the clone3() (the pid namespace is the whole
            // machine's), and on the 7.2 debug kernel a child now and then gets the next pid
            // with nobody holding this one. The try is made again; only a pid that cannot be
            // pinned on any try is a broken rule (in `Runner::vote`).
            st.interfered = Some(match std::fs::read_to_string(format!("/proc/{p}/comm")) {
                Ok(comm) => format!("pid {p} was taken by {}, the child got {pid}", comm.trim()),
                Err(_) => format!("the child got pid {pid}, not {p} (free)"),
            });
        }
    }
    let Some(pidfd) = pidfd else {
        util::kill_reap(pid);
        st.add("pidfd:none");
        st.check(false, "clone3 succeeded without a pidfd");
        return Ok(st);
    };
    let obs = match util::pidfd_open(pid, 0) {
        Ok(o) => o,
        Err(e) => {
            let _ = util::pidfd_send_signal(pidfd.as_fd_borrowed(), libc::SIGKILL);
            return Err(format!("pidfd_open of the new child: {e}"));
        }
    };
    let kid = Kid {
        pid,
        pidfd: Some(pidfd),
        obs,
    };
    let alive = kid.alive();
    st.add(if alive { "child:alive" } else { "child:dead" });
    st.check(alive, "the child died with its pidfd open");
    let (state, pid_ok) = pidfd_state(kid.pidfd.as_ref().expect("pidfd").raw(), kid.pid);
    st.add(&state);
    st.check(state == "pidfd:autokill", "the pidfd lacks PIDFD_AUTOKILL");
    st.add(if pid_ok { "pid:ok" } else { "pid:wrong" });
    st.check(pid_ok, "the pidfd's fdinfo Pid is not the child");
    let nnp = util::proc_status(kid.pid).map(|p| p.nnp);
    st.add(match nnp {
        Some(true) => "nnp:1",
        Some(false) => "nnp:0",
        None => "nnp:?",
    });
    st.check(
        nnp == Some(flags & CLONE_NNP != 0),
        "NoNewPrivs differs from CLONE_NNP",
    );
    let mut kid = kid;
    util::close(kid.pidfd.take().expect("pidfd")).map_err(|e| format!("close: {e}"))?;
    let died = kid.dies();
    st.add(if died {
        "close:killed"
    } else {
        "close:survived"
    });
    st.check(
        died,
        "the child survived the close of its pidfd (or was not autoreaped)",
    );
    Ok(st)
}
