// SPDX-License-Identifier: GPL-2.0

//! The `close_armed`, `pidfd_open` and `pidfd_open_close` paths: the final `close()` of an
//! armed pidfd; `pidfd_open()` of a live autokill child and the `close()` of its result.

use conformance::util::{self, FdExt};

use crate::common::*;

/// (c): the final `close()` of an armed pidfd.
pub fn close_path(ctx: &Ctx, n: Option<u32>) -> Result<Step, String> {
    let mut kid = ctx.spawn_kid()?;
    let pidfd = kid.pidfd.take().expect("pidfd");
    let a = ctx.call(n, || util::close(pidfd))?;
    let mut st = Step::new(&a, a.value.is_ok());
    st.add(&result_str(&a.value));
    let died = kid.dies();
    st.add(if died {
        "child:killed"
    } else {
        "child:survived"
    });
    st.check(died, "the child survived the final close of its pidfd");
    Ok(st)
}

/// (d): `pidfd_open()` of a live autokill child (`close` false) or the `close()` of its
/// result (`close` true). Nothing may die.
pub fn pidfd_open_path(ctx: &Ctx, n: Option<u32>, t: &Kid, close: bool) -> Result<Step, String> {
    let mut st;
    if close {
        let fd = util::pidfd_open(t.pid, 0).map_err(|e| format!("pidfd_open (unarmed): {e}"))?;
        let a = ctx.call(n, || util::close(fd))?;
        st = Step::new(&a, a.value.is_ok());
        st.add(&result_str(&a.value));
    } else {
        let a = ctx.call(n, || util::pidfd_open(t.pid, 0))?;
        st = Step::new(&a, a.value.is_ok());
        st.add(&result_str(&a.value));
        if let Ok(fd) = a.value {
            let (state, pid_ok) = pidfd_state(fd.raw(), t.pid);
            st.add(&state);
            st.check(
                state == "pidfd:plain",
                "pidfd_open() gave an autokill pidfd",
            );
            st.add(if pid_ok { "pid:ok" } else { "pid:wrong" });
            st.check(pid_ok, "the pidfd's fdinfo Pid is not the target");
            util::close(fd).map_err(|e| format!("close: {e}"))?;
        }
    }
    let alive = t.alive();
    st.add(if alive {
        "target:alive"
    } else {
        "target:killed"
    });
    st.check(alive, "the target died");
    Ok(st)
}
