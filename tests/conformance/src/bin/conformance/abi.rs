// SPDX-License-Identifier: GPL-2.0

//! The `struct clone_args` ABI (sizes, tails, unknown bits) and the validation rules, with
//! their order, for root and for a real unprivileged user.

use std::os::fd::AsRawFd;

use conformance::creds::{self, NOBODY};
use conformance::errno::Errno;
use conformance::raw::{ChildMode, Clone3};
use conformance::sys::*;
use conformance::util::{self, FdExt};
use conformance::verdict::{as_nobody, in_clone, in_fork, Ctx as _, TestResult};
use conformance::{check, fail, skip};

use crate::common::*;

pub fn size_below_ver0_einval(_: &Ctx) -> TestResult {
    for size in [0, 1, 8, 32, 56, 63] {
        for flags in [0, AUTOKILL_NNP] {
            expect_err(&Clone3::new(flags).size(size), Errno::EINVAL)?;
        }
    }
    Ok(())
}

pub fn size_above_page_e2big(_: &Ctx) -> TestResult {
    for size in [PAGE_SIZE + 1, PAGE_SIZE + 8, 2 * PAGE_SIZE] {
        for flags in [0, AUTOKILL_NNP] {
            expect_err(&Clone3::new(flags).size(size), Errno::E2BIG)?;
        }
    }
    Ok(())
}

pub fn nonzero_tail_e2big(_: &Ctx) -> TestResult {
    for (size, off) in [(96, 88), (96, 95), (PAGE_SIZE, PAGE_SIZE - 1), (89, 88)] {
        for flags in [0, AUTOKILL_NNP] {
            expect_err(&Clone3::new(flags).size(size).tail(off, 0x5a), Errno::E2BIG)?;
        }
    }
    Ok(())
}

pub fn unknown_high_bits_einval(_: &Ctx) -> TestResult {
    // Bit 37 is CLONE_EMPTY_MNTNS since Linux 7.3; 38..63 are unknown.
    for bit in 38..64 {
        expect_err(&Clone3::new(1 << bit), Errno::EINVAL)?;
        expect_err(&Clone3::new(AUTOKILL_NNP | (1 << bit)), Errno::EINVAL)?;
        expect_err(&Clone3::new(CLONE_AUTOREAP | (1 << bit)), Errno::EINVAL)?;
    }
    Ok(())
}

/// An autokill child created with a struct of `size` bytes (zero tail) works end to end.
fn autokill_with_size(size: usize) -> TestResult {
    let s = Clone3::new(AUTOKILL_NNP)
        .size(size)
        .spawn(ChildMode::Pause)
        .ctx(&format!("clone3 autokill with size {size}"))?;
    let mut kid = Kid::watch(s)?;
    check!(
        is_autokill_fd(kid.fd())?,
        "size {size}: pidfd lacks PIDFD_AUTOKILL"
    );
    kid.expect_alive("before the close")?;
    kid.close()?;
    kid.expect_killed_and_reaped("closing the pidfd")
}

pub fn size_ver0_autokill(_: &Ctx) -> TestResult {
    autokill_with_size(CLONE_ARGS_SIZE_VER0)
}

pub fn size_ver1_autokill(_: &Ctx) -> TestResult {
    autokill_with_size(CLONE_ARGS_SIZE_VER1)
}

pub fn size_ver2_autokill(_: &Ctx) -> TestResult {
    autokill_with_size(CLONE_ARGS_SIZE_VER2)
}

pub fn size_page_zero_tail_autokill(_: &Ctx) -> TestResult {
    autokill_with_size(96)?;
    autokill_with_size(PAGE_SIZE)
}

pub fn legacy_clone_ignores_new_flags(_: &Ctx) -> TestResult {
    // clone() takes the lower 32 bits of its flags only: the new flags cannot be expressed, the
    // child is an ordinary SIGCHLD child that must be waited for.
    let flags = (CLONE_AUTOREAP | CLONE_NNP | CLONE_PIDFD_AUTOKILL) as libc::c_ulong
        | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: A fork-like clone() (no CLONE_VM, no new stack): the child continues on a copy of
    // this thread and immediately _exit()s.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        fail!(
            "clone() with the new flags in the upper bits: {}",
            Errno::last()
        );
    }
    if pid == 0 {
        // SAFETY: Ends the child; prctl with integer arguments.
        unsafe {
            let nnp = libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
            libc::_exit(if nnp == 0 { 3 } else { 4 });
        }
    }
    let mut st = 0;
    // SAFETY: waitpid on our child without __WALL: only SIGCHLD children are seen.
    let r = unsafe { libc::waitpid(pid as i32, &mut st, 0) };
    check!(
        r == pid as i32,
        "plain waitpid() did not find the clone() child: {}",
        Errno::last()
    );
    check!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 3,
        "clone() child status {st:#x} (4: it got no_new_privs)"
    );
    Ok(())
}

pub fn parent_from_normal_process_ok(_: &Ctx) -> TestResult {
    let (r, w) = util::pipe();
    let me = util::getpid();
    in_fork("middle process", move || {
        let w2 = w.as_raw_fd();
        let s = Clone3::new(CLONE_PARENT)
            .spawn_fn(move || {
                // SAFETY: getppid has no arguments.
                let line = format!("{} {}\n", util::getpid(), unsafe { libc::getppid() });
                let _ = util::write_all(w2, line.as_bytes());
                7
            })
            .ctx("clone3(CLONE_PARENT) from a normal process")?;
        check!(s.pid > 0, "no pid");
        Ok(())
    })?;
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("grandchild")?;
    let v: Vec<i32> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    check!(v.len() == 2, "bad line {line:?}");
    check!(
        v[1] == me,
        "CLONE_PARENT child has parent {}, want the caller's parent {me}",
        v[1]
    );
    let st = util::reap(v[0]).ctx("reaping the CLONE_PARENT child (__WALL)")?;
    check!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 7,
        "CLONE_PARENT child status {st:#x}"
    );
    Ok(())
}

/// The expected result of `clone3()` for the matrix: flags over AUTOREAP, NNP, AUTOKILL, PIDFD,
/// PARENT, THREAD (with SIGHAND|VM), exit signal 0 or SIGCHLD.
fn model(flags: u64, exit_signal: u64, caller_autoreap: bool, capable: bool) -> Option<Errno> {
    let has = |f| flags & f != 0;
    // clone3_args_valid()
    if has(CLONE_THREAD | CLONE_PARENT) && exit_signal != 0 {
        return Some(Errno::EINVAL);
    }
    // copy_process(), in order.
    if has(CLONE_AUTOREAP) && (has(CLONE_THREAD) || has(CLONE_PARENT) || exit_signal != 0) {
        return Some(Errno::EINVAL);
    }
    if has(CLONE_PARENT) && caller_autoreap {
        return Some(Errno::EINVAL);
    }
    if has(CLONE_NNP) && has(CLONE_THREAD) {
        return Some(Errno::EINVAL);
    }
    if has(CLONE_PIDFD_AUTOKILL) {
        if !has(CLONE_PIDFD) || !has(CLONE_AUTOREAP) || has(CLONE_THREAD) {
            return Some(Errno::EINVAL);
        }
        if !has(CLONE_NNP) && !capable {
            return Some(Errno::EPERM);
        }
    }
    None
}

/// Runs every combination and compares with the model. Successful children exit at once and
/// are checked for autoreap (ECHILD) exactly when `CLONE_AUTOREAP` was given.
fn matrix(caller_autoreap: bool, capable: bool) -> TestResult {
    let bits = [
        CLONE_AUTOREAP,
        CLONE_NNP,
        CLONE_PIDFD_AUTOKILL,
        CLONE_PIDFD,
        CLONE_PARENT,
        THREAD_FLAGS,
    ];
    let mut bad = Vec::new();
    let mut n = 0;
    for combo in 0u32..(1 << bits.len()) {
        let flags = bits
            .iter()
            .enumerate()
            .filter(|(i, _)| combo & (1 << i) != 0)
            .fold(0, |a, (_, b)| a | b);
        for sig in [0, libc::SIGCHLD as u64] {
            n += 1;
            let want = model(flags, sig, caller_autoreap, capable);
            let c = Clone3::new(flags).exit_signal(sig);
            match c.spawn(ChildMode::Exit(0)) {
                Err(e) => {
                    if want != Some(e) {
                        bad.push(format!("{}: {e}, want {want:?}", describe(&c)));
                    }
                }
                Ok(mut s) => {
                    if let Some(w) = want {
                        bad.push(format!("{}: ok, want {w}", describe(&c)));
                    }
                    if flags & CLONE_THREAD != 0 {
                        util::wait_until(util::death_ms(), || !util::task_exists(s.pid));
                        continue;
                    }
                    if flags & CLONE_PARENT != 0 {
                        if let Ok(o) = util::pidfd_open(s.pid, 0) {
                            util::wait_exit(o.as_fd_borrowed(), util::death_ms());
                        }
                        continue;
                    }
                    if let Some(fd) = s.pidfd.take() {
                        util::wait_exit(fd.as_fd_borrowed(), util::death_ms());
                    }
                    let r = util::reap(s.pid);
                    let autoreaped = r == Err(Errno::ECHILD);
                    if autoreaped != (flags & CLONE_AUTOREAP != 0) {
                        bad.push(format!(
                            "{}: child reap result {r:?} (autoreap flag {})",
                            describe(&c),
                            flags & CLONE_AUTOREAP != 0
                        ));
                    }
                }
            }
        }
    }
    if !bad.is_empty() {
        fail!(
            "{} of {n} combinations wrong: {}",
            bad.len(),
            bad.join("; ")
        );
    }
    Ok(())
}

pub fn matrix_root(_: &Ctx) -> TestResult {
    let r = in_fork("matrix process", || matrix(false, true));
    reap_all(util::death_ms());
    r
}

pub fn matrix_unprivileged(_: &Ctx) -> TestResult {
    let r = as_nobody(|| matrix(false, false));
    reap_all(util::death_ms());
    r
}

pub fn matrix_autoreap_caller(_: &Ctx) -> TestResult {
    let r = in_clone("autoreap caller", CLONE_AUTOREAP, || matrix(true, true));
    reap_all(util::death_ms());
    r
}

pub fn matrix_autoreap_caller_unprivileged(_: &Ctx) -> TestResult {
    let r = in_clone("unprivileged autoreap caller", CLONE_AUTOREAP, || {
        creds::drop_to_nobody().ctx("dropping privileges")?;
        matrix(true, false)
    });
    reap_all(util::death_ms());
    r
}

pub fn autoreap_rejects_every_exit_signal(_: &Ctx) -> TestResult {
    for sig in 1..=64u64 {
        expect_err(&Clone3::new(CLONE_AUTOREAP).exit_signal(sig), Errno::EINVAL)?;
        expect_err(&Clone3::new(AUTOKILL_NNP).exit_signal(sig), Errno::EINVAL)?;
    }
    // Invalid signals are refused before (kernel_clone, copy_clone_args_from_user).
    for sig in [65u64, 255, 256, 1 << 32] {
        expect_err(&Clone3::new(AUTOKILL_NNP).exit_signal(sig), Errno::EINVAL)?;
    }
    // The control: exit_signal 0 works.
    expect_ok(&Clone3::new(CLONE_AUTOREAP))
}

pub fn unpriv_autokill_without_nnp_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| {
        expect_err(&Clone3::new(AUTOKILL), Errno::EPERM)?;
        expect_err(
            &Clone3::new(AUTOKILL).size(CLONE_ARGS_SIZE_VER0),
            Errno::EPERM,
        )
    })
}

pub fn unpriv_autokill_with_nnp_killed(_: &Ctx) -> TestResult {
    as_nobody(|| {
        let mut kid = autokill_kid()?;
        let st = util::proc_status(kid.pid).ctx("status of the child")?;
        check!(
            st.uid == (NOBODY, NOBODY) && st.nnp,
            "child uid {:?} nnp {}",
            st.uid,
            st.nnp
        );
        check!(
            is_autokill_fd(kid.fd())?,
            "unprivileged autokill pidfd lacks O_TRUNC"
        );
        kid.expect_alive("before the close")?;
        kid.close()?;
        kid.expect_killed_and_reaped("the unprivileged owner closed the pidfd")
    })
}

pub fn unpriv_order_exit_signal_before_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| {
        for sig in [libc::SIGCHLD as u64, libc::SIGKILL as u64, 64] {
            expect_err(&Clone3::new(AUTOKILL).exit_signal(sig), Errno::EINVAL)?;
        }
        Ok(())
    })
}

pub fn unpriv_order_parent_before_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| expect_err(&Clone3::new(AUTOKILL | CLONE_PARENT), Errno::EINVAL))
}

pub fn unpriv_order_thread_before_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| {
        expect_err(&Clone3::new(AUTOKILL | THREAD_FLAGS), Errno::EINVAL)?;
        // Without CLONE_AUTOREAP, rule 4 itself refuses THREAD before the capability check.
        expect_err(
            &Clone3::new(CLONE_PIDFD | CLONE_PIDFD_AUTOKILL | THREAD_FLAGS),
            Errno::EINVAL,
        )
    })
}

pub fn unpriv_order_missing_pidfd_or_autoreap_before_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| {
        expect_err(
            &Clone3::new(CLONE_AUTOREAP | CLONE_PIDFD_AUTOKILL),
            Errno::EINVAL,
        )?;
        expect_err(
            &Clone3::new(CLONE_PIDFD | CLONE_PIDFD_AUTOKILL),
            Errno::EINVAL,
        )?;
        expect_err(
            &Clone3::new(CLONE_PIDFD | CLONE_PIDFD_AUTOKILL).exit_signal(libc::SIGCHLD as u64),
            Errno::EINVAL,
        )?;
        expect_err(&Clone3::new(CLONE_PIDFD_AUTOKILL), Errno::EINVAL)
    })
}

pub fn unpriv_order_abi_errors_before_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| {
        expect_err(&Clone3::new(AUTOKILL).size(63), Errno::EINVAL)?;
        expect_err(&Clone3::new(AUTOKILL).size(96).tail(90, 1), Errno::E2BIG)?;
        expect_err(&Clone3::new(AUTOKILL).size(PAGE_SIZE + 1), Errno::E2BIG)?;
        expect_err(&Clone3::new(AUTOKILL | (1 << 40)), Errno::EINVAL)?;
        expect_err(&Clone3::new(AUTOKILL).exit_signal(65), Errno::EINVAL)?;
        expect_err(&Clone3::new(AUTOKILL | CLONE_DETACHED), Errno::EINVAL)?;
        // CLONE_SIGHAND without CLONE_VM is refused before the autokill rules.
        expect_err(&Clone3::new(AUTOKILL | CLONE_SIGHAND), Errno::EINVAL)
    })
}

pub fn unpriv_order_autoreap_before_namespace_eperm(_: &Ctx) -> TestResult {
    as_nobody(|| {
        // The autoreap rule comes before the namespace permission check...
        expect_err(
            &Clone3::new(CLONE_AUTOREAP | CLONE_NEWPID).exit_signal(libc::SIGCHLD as u64),
            Errno::EINVAL,
        )?;
        expect_err(
            &Clone3::new(AUTOKILL_NNP | CLONE_PARENT | CLONE_NEWPID),
            Errno::EINVAL,
        )?;
        // ...and NNP does not let an unprivileged caller create a pid namespace.
        expect_err(&Clone3::new(AUTOKILL_NNP | CLONE_NEWPID), Errno::EPERM)
    })
}

pub fn cap_root_without_cap_sys_admin_eperm(_: &Ctx) -> TestResult {
    in_fork("root without CAP_SYS_ADMIN", || {
        creds::drop_cap(CAP_SYS_ADMIN).ctx("dropping CAP_SYS_ADMIN")?;
        // SAFETY: geteuid has no arguments.
        check!(unsafe { libc::geteuid() } == 0, "not uid 0");
        expect_err(&Clone3::new(AUTOKILL), Errno::EPERM)?;
        let mut kid = autokill_kid()?;
        kid.close()?;
        kid.expect_killed_and_reaped("closing the pidfd")
    })
}

pub fn cap_nobody_with_cap_sys_admin_ok(_: &Ctx) -> TestResult {
    in_fork("nobody with CAP_SYS_ADMIN", || {
        creds::become_user(NOBODY, true).ctx("becoming nobody with CAP_SYS_ADMIN")?;
        let mut kid = spawn_kid(AUTOKILL)?;
        let st = util::proc_status(kid.pid).ctx("child status")?;
        check!(!st.nnp, "child without CLONE_NNP has no_new_privs");
        kid.close()?;
        kid.expect_killed_and_reaped("closing the pidfd")
    })
}

/// Whether `nobody` may create user namespaces here.
fn userns_allowed() -> bool {
    in_fork("userns probe", || {
        creds::drop_to_nobody().ctx("drop")?;
        // SAFETY: unshare with a flag argument.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            skip!("unprivileged user namespaces: {}", Errno::last());
        }
        Ok(())
    })
    .is_ok()
}

pub fn cap_checked_in_callers_userns(_: &Ctx) -> TestResult {
    if !userns_allowed() {
        skip!("unprivileged user namespaces are not allowed here");
    }
    as_nobody(|| {
        // The child would be root in its new user namespace, but the capability is checked in
        // the caller's.
        expect_err(&Clone3::new(AUTOKILL | CLONE_NEWUSER), Errno::EPERM)?;
        let mut kid = spawn_kid(AUTOKILL_NNP | CLONE_NEWUSER)?;
        kid.close()?;
        kid.expect_killed_and_reaped("closing the pidfd")
    })
}

pub fn autokill_without_nnp_in_own_userns(_: &Ctx) -> TestResult {
    if !userns_allowed() {
        skip!("unprivileged user namespaces are not allowed here");
    }
    as_nobody(|| {
        expect_err(&Clone3::new(AUTOKILL), Errno::EPERM)?;
        // SAFETY: unshare with a flag argument.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            fail!("unshare(CLONE_NEWUSER): {}", Errno::last());
        }
        check!(
            creds::has_cap_sys_admin(),
            "no CAP_SYS_ADMIN in the new user namespace"
        );
        let mut kid = spawn_kid(AUTOKILL)?;
        check!(is_autokill_fd(kid.fd())?, "pidfd lacks O_TRUNC");
        kid.close()?;
        kid.expect_killed_and_reaped("closing the pidfd")
    })
}

pub fn nnp_alone_gives_waitable_child(_: &Ctx) -> TestResult {
    let s = Clone3::new(CLONE_NNP | CLONE_PIDFD)
        .exit_signal(libc::SIGCHLD as u64)
        .spawn_fn(|| {
            // SAFETY: prctl with integer arguments.
            let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
            if nnp == 1 {
                5
            } else {
                6
            }
        })
        .ctx("clone3(CLONE_NNP|CLONE_PIDFD, SIGCHLD)")?;
    let fd = s.pidfd.as_ref().expect("pidfd");
    check!(!is_autokill_fd(fd.raw())?, "a CLONE_NNP pidfd has O_TRUNC");
    // SAFETY: prctl with integer arguments.
    let parent_nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    check!(parent_nnp == 0, "the parent got no_new_privs");
    let mut st = 0;
    // SAFETY: A plain waitpid on our SIGCHLD child.
    let r = unsafe { libc::waitpid(s.pid, &mut st, 0) };
    check!(r == s.pid, "plain waitpid: {}", Errno::last());
    check!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 5,
        "child status {st:#x} (6: no no_new_privs)"
    );
    Ok(())
}

pub fn nnp_inherited_by_descendants(_: &Ctx) -> TestResult {
    let (r, w) = util::pipe();
    let wfd = w.as_raw_fd();
    let kid = spawn_kid_fn(
        CLONE_NNP | CLONE_PIDFD | CLONE_AUTOREAP,
        &[wfd],
        move || {
            // SAFETY: fork, then prctl and _exit in the grandchild.
            let gc = unsafe { libc::fork() };
            if gc == 0 {
                // SAFETY: prctl with integer arguments.
                let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
                let _ = util::write_all(wfd, format!("{nnp}\n").as_bytes());
                // SAFETY: Ends the grandchild.
                unsafe { libc::_exit(0) };
            }
            let _ = util::reap(gc);
            util::pause_forever()
        },
    )?;
    drop(w);
    let line = util::read_line(r.as_raw_fd(), util::death_ms()).ctx("grandchild")?;
    check!(
        line == "1",
        "grandchild of a CLONE_NNP child: no_new_privs {line:?}"
    );
    drop(kid);
    Ok(())
}

pub fn parent_from_autoreap_process_einval(_: &Ctx) -> TestResult {
    let r = in_clone("autoreap process", CLONE_AUTOREAP, || {
        expect_err(&Clone3::new(CLONE_PARENT), Errno::EINVAL)?;
        expect_err(&Clone3::new(CLONE_PARENT | CLONE_NNP), Errno::EINVAL)?;
        expect_err(&Clone3::new(CLONE_PARENT | CLONE_PIDFD), Errno::EINVAL)?;
        // Not inherited: an ordinary fork of the autoreap process may use CLONE_PARENT (its
        // child becomes ours, exit signal 0).
        in_fork("normal child of an autoreap process", || {
            expect_ok(&Clone3::new(CLONE_PARENT | CLONE_PIDFD))
        })?;
        reap_all(util::death_ms());
        // And a plain clone3 works.
        expect_ok(&Clone3::new(CLONE_PIDFD))
    });
    reap_all(util::death_ms());
    r
}

pub fn parent_from_autoreap_process_thread_einval(_: &Ctx) -> TestResult {
    in_clone("autoreap process", CLONE_AUTOREAP, || {
        let h = std::thread::spawn(|| {
            let c = Clone3::new(CLONE_PARENT);
            c.spawn(ChildMode::Exit(0)).err()
        });
        match h.join() {
            Ok(Some(Errno::EINVAL)) => Ok(()),
            Ok(r) => fail!("CLONE_PARENT from a second thread of an autoreap process: {r:?}"),
            Err(_) => fail!("thread panicked"),
        }
    })
}

pub fn autoreap_not_waitable_even_with_wall(_: &Ctx) -> TestResult {
    let s = Clone3::new(CLONE_PIDFD | CLONE_AUTOREAP)
        .spawn(ChildMode::Exit(9))
        .ctx("clone3 autoreap")?;
    let fd = s.pidfd.as_ref().expect("pidfd");
    check!(
        util::wait_exit(fd.as_fd_borrowed(), util::death_ms()),
        "no exit"
    );
    check!(
        util::wait_reaped(fd.as_fd_borrowed(), util::death_ms()),
        "not reaped: fdinfo Pid {:?}",
        util::fdinfo_pid(fd.raw())
    );
    let ev = util::poll1(fd.raw(), libc::POLLIN, 0).ctx("poll")?;
    check!(
        ev & libc::POLLHUP != 0,
        "poll of a reaped child's pidfd: {ev:#x}, want POLLHUP"
    );
    for opts in [
        libc::WEXITED | libc::WNOHANG | libc::__WALL,
        libc::WEXITED | libc::WNOHANG | libc::__WCLONE,
        libc::WEXITED | libc::WNOHANG,
    ] {
        match util::waitid(libc::P_PID, s.pid as u32, opts) {
            Err(Errno::ECHILD) => {}
            r => fail!("waitid(P_PID, options {opts:#x}): {r:?}, want ECHILD"),
        }
    }
    match util::waitid(libc::P_PIDFD, fd.raw() as u32, libc::WEXITED | libc::__WALL) {
        Err(Errno::ECHILD) => {}
        r => fail!("waitid(P_PIDFD): {r:?}, want ECHILD"),
    }
    match util::exit_code(fd.as_fd_borrowed(), util::death_ms()) {
        Some(st) => check!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 9,
            "exit status {st:#x}"
        ),
        None => fail!("no exit status"),
    }
    Ok(())
}

pub fn autoreap_sends_no_sigchld(_: &Ctx) -> TestResult {
    // SAFETY: sigset operations on a local set and sigprocmask for this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let pending = || {
        // SAFETY: sigpending into a local set.
        unsafe {
            let mut p: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut p);
            libc::sigismember(&p, libc::SIGCHLD) == 1
        }
    };
    check!(!pending(), "SIGCHLD pending before the test");
    let s = Clone3::new(CLONE_PIDFD | CLONE_AUTOREAP)
        .spawn(ChildMode::Exit(0))
        .ctx("clone3 autoreap")?;
    let fd = s.pidfd.as_ref().expect("pidfd");
    check!(
        util::wait_reaped(fd.as_fd_borrowed(), util::death_ms()),
        "not reaped"
    );
    check!(!pending(), "an autoreap child's exit raised SIGCHLD");
    // The control: an ordinary child raises it.
    let s2 = Clone3::new(CLONE_PIDFD)
        .exit_signal(libc::SIGCHLD as u64)
        .spawn(ChildMode::Exit(0))
        .ctx("clone3 normal")?;
    let st = util::reap(s2.pid).ctx("reap")?;
    check!(libc::WIFEXITED(st), "status {st:#x}");
    check!(pending(), "the control child did not raise SIGCHLD");
    Ok(())
}

pub fn autoreap_blocking_wait_returns_echild(_: &Ctx) -> TestResult {
    // The only child is autoreap and exits a little later: a blocking wait for any child must
    // wake up and report ECHILD rather than hang or report it.
    let s = Clone3::new(CLONE_PIDFD | CLONE_AUTOREAP)
        .spawn_fn(|| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            0
        })
        .ctx("clone3 autoreap")?;
    let r = util::waitid(libc::P_ALL, 0, libc::WEXITED | libc::__WALL);
    check!(
        r.as_ref().err() == Some(&Errno::ECHILD),
        "blocking waitid(P_ALL, __WALL): {r:?}, want ECHILD"
    );
    let fd = s.pidfd.as_ref().expect("pidfd");
    check!(
        util::has_exited(fd.as_fd_borrowed()),
        "waitid returned before the child exited"
    );
    Ok(())
}
