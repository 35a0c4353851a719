// SPDX-License-Identifier: GPL-2.0

//! `CLONE_NNP` against a real setuid-root helper: with it the unprivileged autokill child cannot
//! gain root (and is still killed); without it (root caller) the child can, and is killed too.

use std::ffi::CString;
use std::os::fd::AsRawFd;

use conformance::creds::{self, NOBODY};
use conformance::errno::cvt;
use conformance::sys::*;
use conformance::util;
use conformance::verdict::{as_nobody, Ctx as _, TestResult, Verdict};
use conformance::{check, skip};

use crate::common::*;

/// A copy of the helper, owned by root with mode 04755, on a private tmpfs (in a private mount
/// namespace of this test process, so nothing leaks; `nosuid` mounts do not matter).
struct SuidHelper {
    dir: String,
    path: String,
}

impl SuidHelper {
    fn new(ctx: &Ctx) -> Result<SuidHelper, Verdict> {
        let c = |s: &str| CString::new(s).expect("c string");
        // SAFETY: unshare and mount with valid C strings / null pointers.
        unsafe {
            cvt(libc::unshare(libc::CLONE_NEWNS)).ctx("unshare(CLONE_NEWNS)")?;
            let root = c("/");
            cvt(libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))
            .ctx("making / private")?;
        }
        let dir = format!("/tmp/autokill-conformance-{}", util::getpid());
        let _ = std::fs::create_dir(&dir);
        let (cdir, tmpfs, opts) = (c(&dir), c("tmpfs"), c("mode=0755"));
        // SAFETY: mount with valid C strings.
        cvt(unsafe {
            libc::mount(
                tmpfs.as_ptr(),
                cdir.as_ptr(),
                tmpfs.as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        })
        .ctx(&format!("mounting a tmpfs on {dir}"))?;
        let path = format!("{dir}/helper-suid");
        let me = SuidHelper { dir, path };
        std::fs::copy(&ctx.helper, &me.path)
            .map_err(|e| Verdict::Fail(format!("copying {}: {e}", ctx.helper)))?;
        let cpath = c(&me.path);
        // SAFETY: chown/chmod with a valid C string.
        unsafe {
            cvt(libc::chown(cpath.as_ptr(), 0, 0)).ctx("chown")?;
            cvt(libc::chmod(cpath.as_ptr(), 0o4755)).ctx("chmod 04755")?;
        }
        Ok(me)
    }

    /// Runs the helper from a forked `nobody` process (no NNP) and returns its euid.
    fn control_euid(&self) -> Result<u32, Verdict> {
        let (r, w) = util::pipe_flags(0);
        let wfd = w.as_raw_fd();
        let path = self.path.clone();
        let pid = fork_proc(move || {
            if creds::drop_to_nobody().is_err() {
                return 1;
            }
            exec_helper(&path, wfd, None)
        })?;
        drop(w);
        let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("control helper");
        util::kill_reap(pid);
        let (ruid, euid, nnp, _) = parse_helper_line(&line?)?;
        check!(ruid == NOBODY && nnp == 0, "control: ruid {ruid} nnp {nnp}");
        Ok(euid)
    }
}

impl Drop for SuidHelper {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Ok(d) = CString::new(self.dir.clone()) {
            // SAFETY: umount2 with a valid C string.
            unsafe { libc::umount2(d.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

pub fn nnp_blocks_setuid_root_autokill_still_kills(ctx: &Ctx) -> TestResult {
    let suid = SuidHelper::new(ctx)?;
    let euid = suid.control_euid()?;
    if euid != 0 {
        skip!("setuid-root exec does not take effect here (control euid {euid})");
    }
    let path = suid.path.clone();
    as_nobody(move || {
        let (r, w) = util::pipe_flags(0);
        let wfd = w.as_raw_fd();
        let mut kid = spawn_kid_fn(AUTOKILL_NNP, &[wfd], move || exec_helper(&path, wfd, None))?;
        drop(w);
        let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("setuid helper")?;
        let (ruid, euid, nnp, _) = parse_helper_line(&line)?;
        check!(nnp == 1, "the autokill child lost no_new_privs across exec");
        check!(
            ruid == NOBODY && euid == NOBODY,
            "CLONE_NNP child gained privileges from a setuid-root binary: ruid {ruid} euid {euid}"
        );
        let st = util::proc_status(kid.pid).ctx("status")?;
        check!(st.uid == (NOBODY, NOBODY), "child uids {:?}", st.uid);
        kid.expect_alive("running the setuid helper")?;
        kid.close()?;
        kid.expect_killed_and_reaped("the unprivileged parent closed the pidfd")
    })
}

pub fn no_nnp_setuid_gains_root_still_killed(ctx: &Ctx) -> TestResult {
    let suid = SuidHelper::new(ctx)?;
    let euid = suid.control_euid()?;
    if euid != 0 {
        skip!("setuid-root exec does not take effect here (control euid {euid})");
    }
    let path = suid.path.clone();
    let (r, w) = util::pipe_flags(0);
    let wfd = w.as_raw_fd();
    // Root arms autokill without CLONE_NNP; the child drops to nobody and execs the setuid
    // helper, regaining euid 0.
    let mut kid = spawn_kid_fn(AUTOKILL, &[wfd], move || {
        if creds::drop_to_nobody().is_err() {
            return 1;
        }
        exec_helper(&path, wfd, None)
    })?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("setuid helper")?;
    let (ruid, euid, nnp, _) = parse_helper_line(&line)?;
    check!(
        ruid == NOBODY && euid == 0 && nnp == 0,
        "without CLONE_NNP: ruid {ruid} euid {euid} nnp {nnp}, want {NOBODY} 0 0"
    );
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd of a child that became setuid root")
}
