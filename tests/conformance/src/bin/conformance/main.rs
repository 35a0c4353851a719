// SPDX-License-Identifier: GPL-2.0

//! `autokill-conformance [--list | --describe] [--timeout SECS] [NAME...]`
//!
//! Conformance cases for `clone3()` `CLONE_AUTOREAP`, `CLONE_NNP` and `CLONE_PIDFD_AUTOKILL`
//! (Linux 7.1+), beyond the kernel's own `pidfd_autoreap_test`. Each case runs in its own
//! forked process (and process group) with a timeout. Output: KTAP (version 1, with a plan),
//! one result per case, named `module::case`; the reason of a failure on the line before it:
//!
//! ```text
//! KTAP version 1
//! 1..N
//! ok 1 abi::size_below_ver0_einval
//! # abi::size_above_page_e2big: reason
//! not ok 2 abi::size_above_page_e2big
//! ok 3 abi::matrix_root # SKIP reason
//! # passed P failed F skipped S
//! ```
//!
//! `NAME...` selects the cases whose names contain any of the given substrings. On a kernel
//! without the flags every case that needs them is skipped. Exit status 0 iff nothing failed.

mod abi;
mod children;
mod common;
mod nnp;
mod ptrace;
mod release;
mod scm;
mod threads;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Instant;

use conformance::creds;
use conformance::util;
use conformance::verdict::{decode, encode, TestResult, Verdict};

use common::Ctx;

/// One case.
struct Case {
    name: &'static str,
    desc: &'static str,
    /// Needs the new flags (skipped on older kernels).
    feature: bool,
    /// Needs root (CAP_SYS_ADMIN, changing credentials, namespaces, ptrace of others).
    root: bool,
    run: fn(&Ctx) -> TestResult,
}

macro_rules! case {
    ($f:path, $feature:expr, $root:expr, $desc:expr) => {
        Case {
            name: stringify!($f),
            desc: $desc,
            feature: $feature,
            root: $root,
            run: $f,
        }
    };
}

fn cases() -> Vec<Case> {
    let v = vec![
        // ABI (generic clone3 behaviour: these run on any kernel).
        case!(abi::size_below_ver0_einval, false, false,
            "struct sizes 0..63 (below CLONE_ARGS_SIZE_VER0) give EINVAL, with or without the new flags"),
        case!(abi::size_above_page_e2big, false, false,
            "struct sizes above PAGE_SIZE give E2BIG"),
        case!(abi::nonzero_tail_e2big, false, false,
            "a bigger struct with a non-zero byte beyond the known 88 gives E2BIG"),
        case!(abi::unknown_high_bits_einval, false, false,
            "each flag bit 38..63 gives EINVAL, alone and with the autokill flags"),
        case!(abi::parent_from_normal_process_ok, false, false,
            "CLONE_PARENT from an ordinary process works: the child's parent is the caller's parent"),
        // ABI with the new flags.
        case!(abi::size_ver0_autokill, true, false,
            "a 64-byte (VER0) struct arms autokill: O_TRUNC on the pidfd, killed on close"),
        case!(abi::size_ver1_autokill, true, false,
            "an 80-byte (VER1) struct arms autokill"),
        case!(abi::size_ver2_autokill, true, false,
            "an 88-byte (VER2) struct arms autokill"),
        case!(abi::size_page_zero_tail_autokill, true, false,
            "96- and 4096-byte structs with a zero tail arm autokill"),
        case!(abi::legacy_clone_ignores_new_flags, true, false,
            "legacy clone() cannot express the new flags: upper bits ignored, ordinary waitable child without NNP"),
        // Validation.
        case!(abi::matrix_root, true, true,
            "all 128 combinations of AUTOREAP/NNP/AUTOKILL/PIDFD/PARENT/THREAD x exit_signal 0/SIGCHLD match the rules as root; successful children autoreap iff AUTOREAP"),
        case!(abi::matrix_unprivileged, true, true,
            "the same matrix as a real unprivileged user (uid 65534, no capabilities): EPERM only where due"),
        case!(abi::matrix_autoreap_caller, true, true,
            "the same matrix from an autoreap caller (CLONE_PARENT refused)"),
        case!(abi::matrix_autoreap_caller_unprivileged, true, true,
            "the same matrix from an unprivileged autoreap caller"),
        case!(abi::autoreap_rejects_every_exit_signal, true, false,
            "AUTOREAP (alone or with autokill) with any exit_signal 1..64 gives EINVAL; 65, 255, 256, 1<<32 too; 0 works"),
        case!(abi::unpriv_autokill_without_nnp_eperm, true, true,
            "unprivileged AUTOKILL|PIDFD|AUTOREAP without NNP gives EPERM (sizes 88 and 64)"),
        case!(abi::unpriv_autokill_with_nnp_killed, true, true,
            "unprivileged AUTOKILL with NNP works: child runs as 65534 with no_new_privs, killed and reaped on close"),
        case!(abi::unpriv_order_exit_signal_before_eperm, true, true,
            "unprivileged AUTOKILL without NNP and exit_signal SIGCHLD/SIGKILL/64: EINVAL, not EPERM"),
        case!(abi::unpriv_order_parent_before_eperm, true, true,
            "unprivileged AUTOKILL without NNP plus CLONE_PARENT: EINVAL, not EPERM"),
        case!(abi::unpriv_order_thread_before_eperm, true, true,
            "unprivileged AUTOKILL without NNP plus THREAD (with or without AUTOREAP): EINVAL, not EPERM"),
        case!(abi::unpriv_order_missing_pidfd_or_autoreap_before_eperm, true, true,
            "unprivileged AUTOKILL without PIDFD or without AUTOREAP: EINVAL, not EPERM"),
        case!(abi::unpriv_order_abi_errors_before_eperm, true, true,
            "unprivileged would-be-EPERM calls with size 63, non-zero tail, size > page, bit 40, exit_signal 65, DETACHED, SIGHAND without VM: the ABI error wins"),
        case!(abi::unpriv_order_autoreap_before_namespace_eperm, true, true,
            "unprivileged: AUTOREAP rule EINVAL precedes the NEWPID EPERM; NNP does not allow NEWPID (EPERM)"),
        case!(abi::cap_root_without_cap_sys_admin_eperm, true, true,
            "uid 0 without CAP_SYS_ADMIN gets EPERM without NNP and succeeds with NNP (capability, not uid)"),
        case!(abi::cap_nobody_with_cap_sys_admin_ok, true, true,
            "uid 65534 holding CAP_SYS_ADMIN may arm autokill without NNP; the child has no NNP"),
        case!(abi::cap_checked_in_callers_userns, true, true,
            "unprivileged AUTOKILL|NEWUSER without NNP is EPERM (capability checked in the caller's user ns); with NNP it works"),
        case!(abi::autokill_without_nnp_in_own_userns, true, true,
            "an unprivileged user that unshared a user namespace has CAP_SYS_ADMIN there and may arm autokill without NNP"),
        case!(abi::nnp_alone_gives_waitable_child, true, false,
            "NNP without AUTOREAP (exit_signal SIGCHLD): child has no_new_privs, parent does not, plain waitpid works, pidfd not autokill"),
        case!(abi::nnp_inherited_by_descendants, true, false,
            "a grandchild forked by a CLONE_NNP child has no_new_privs"),
        case!(abi::parent_from_autoreap_process_einval, true, true,
            "CLONE_PARENT from an autoreap process is EINVAL (also with NNP/PIDFD); its ordinary forked child may use it; plain clone3 works"),
        case!(abi::parent_from_autoreap_process_thread_einval, true, false,
            "CLONE_PARENT from a second thread of an autoreap process is EINVAL (per process, not per thread)"),
        case!(abi::autoreap_not_waitable_even_with_wall, true, false,
            "an exited autoreap child: POLLHUP, fdinfo Pid -1, waitid ECHILD with __WALL/__WCLONE/none and P_PIDFD, exit status 9 via PIDFD_GET_INFO"),
        case!(abi::autoreap_sends_no_sigchld, true, false,
            "an autoreap child's exit raises no SIGCHLD in the parent (an ordinary child's does)"),
        case!(abi::autoreap_blocking_wait_returns_echild, true, false,
            "a blocking waitid(P_ALL, __WALL) with only an autoreap child returns ECHILD once it exits"),
        // Which files are autokill files.
        case!(release::fdflags_o_trunc_visible, true, false,
            "F_GETFL and fdinfo flags show O_TRUNC on the autokill pidfd only (not pidfd_open, not PIDFD|AUTOREAP, not NNP)"),
        case!(release::fdflags_setfl_cannot_clear, true, false,
            "F_SETFL cannot clear O_TRUNC (O_NONBLOCK does change); the pidfd still kills on close"),
        case!(release::fdflags_setfl_cannot_set, true, false,
            "F_SETFL cannot set O_TRUNC on a clone pidfd or a pidfd_open() fd; closing them does not kill"),
        case!(release::pidfd_open_never_autokill, true, false,
            "pidfd_open(O_TRUNC) is EINVAL; fds from pidfd_open with 0/NONBLOCK/THREAD are not autokill and closing them does not kill"),
        case!(release::open_by_handle_never_autokill, true, true,
            "name_to_handle_at on the autokill pidfd + open_by_handle_at: same inode, never O_TRUNC, O_TRUNC is EINVAL, closing does not kill"),
        case!(release::proc_fd_reopen_never_autokill, true, false,
            "reopening /proc/self/fd/N (even with O_TRUNC) never yields an autokill file"),
        // Dropping references.
        case!(release::dup_keeps_alive_until_last_close, true, false,
            "dup copies keep the child alive; the last close kills"),
        case!(release::dup2_over_last_ref_kills, true, false,
            "dup2() of another file over the last reference kills"),
        case!(release::dup3_cloexec_copy_keeps_alive, true, false,
            "a dup3(O_CLOEXEC) copy keeps it alive; dup3(fd, fd) is EINVAL and drops nothing"),
        case!(release::fcntl_dupfd_keeps_alive, true, false,
            "F_DUPFD/F_DUPFD_CLOEXEC copies keep it alive until closed"),
        case!(release::close_range_partial_and_full, true, false,
            "close_range() over some copies keeps it alive, CLOSE_RANGE_CLOEXEC does nothing yet, over all copies kills"),
        case!(release::exec_holder_without_cloexec_keeps_fd, true, false,
            "a forked holder clears FD_CLOEXEC and execs: the new image holds the autokill fd (O_TRUNC) and keeps the child alive until it dies"),
        case!(release::exec_holder_with_cloexec_kills, true, false,
            "a holder whose only copy is FD_CLOEXEC execs: the exec drops the last reference and kills"),
        case!(release::close_range_cloexec_then_exec_kills, true, false,
            "close_range(CLOSE_RANGE_CLOEXEC) then exec drops the last reference"),
        case!(release::pidfd_getfd_copy_keeps_alive, true, false,
            "a pidfd_getfd() copy taken from a holder keeps the child alive after the holder dies"),
        case!(release::fork_holder_child_copy_keeps_alive, true, false,
            "the fork()ed child's copy keeps it alive after the parent closes; its death kills"),
        case!(release::fork_holder_parent_copy_keeps_alive, true, false,
            "the parent's copy keeps it alive after the forked child closed and exited"),
        case!(release::holder_sigkilled_kills_child, true, false,
            "SIGKILL of the holding process kills the child"),
        case!(release::holder_exit_kills_all_its_children, true, false,
            "a holder exiting normally kills all three of its autokill children"),
        case!(release::epoll_registration_holds_no_ref, true, false,
            "an epoll registration holds no reference: closing the last fd kills; epoll then reports nothing"),
        case!(release::epoll_wait_in_progress_holds_no_ref, true, false,
            "a thread blocked in epoll_wait() on the fd holds no reference: the close kills"),
        case!(release::poll_in_progress_delays_release, true, false,
            "a thread blocked in poll() on the fd holds a reference: the close does not kill until poll() returns"),
        case!(release::io_uring_registered_file_holds_ref, true, false,
            "an io_uring registered file table holds a reference until IORING_UNREGISTER_FILES"),
        case!(release::io_uring_ring_close_releases_ref, true, false,
            "closing the io_uring ring releases its registered reference (asynchronous teardown) and kills"),
        // SCM_RIGHTS.
        case!(scm::received_keeps_alive, true, false,
            "an fd received over SCM_RIGHTS keeps the child alive after the sender closes; the receiver's close kills"),
        case!(scm::in_flight_keeps_alive, true, false,
            "an fd in flight (sent, not received) keeps the child alive; receiving and closing it kills"),
        case!(scm::in_flight_purged_on_socket_close, true, false,
            "closing the socket with the fd queued (in flight) purges it and kills"),
        case!(scm::in_flight_gc_cycle_purged, true, false,
            "an fd in flight inside a unix socket reference cycle is freed by the unix GC after close: kills"),
        case!(scm::unprivileged_receiver_close_kills, true, true,
            "a receiver running as uid 65534 (kill(2) of the root child: EPERM) closes the last reference: the root child is killed"),
        // Threads.
        case!(threads::holder_thread_close_kills, true, false,
            "a second thread of the holder closes the last reference: killed"),
        case!(threads::spawning_thread_exit_keeps_child, true, false,
            "the thread that created the child exits: the child stays (not PDEATHSIG semantics), reparented within the group; close kills"),
        case!(threads::concurrent_close_of_dups, true, false,
            "8 threads close 8 copies at once, 10 rounds: exactly killed each round, all closes succeed"),
        case!(threads::concurrent_spawn_close_threads, true, false,
            "4 threads spawn and close autokill children concurrently, 20 rounds each: all killed and reaped"),
        case!(threads::close_races_child_exit, true, false,
            "closing right as the child exits on its own (30 rounds): no error, exit 3 or SIGKILL, always reaped"),
        // The child side.
        case!(children::child_exited_before_close_noop, true, false,
            "a child that exited (status 7) and was reaped before the close: close succeeds, nothing else is killed"),
        case!(children::pid_reuse_after_exit_not_killed, true, true,
            "a new process given the old child's pid (set_tid) survives the close of the stale autokill pidfd"),
        case!(children::leader_exited_group_killed, true, false,
            "the child's leader thread exited (zombie), another thread lives: closing kills the whole group"),
        case!(children::exec_from_non_leader_thread_killed, true, false,
            "the child execs from a non-leader thread: same pid/tgid, NNP kept, still killed on close"),
        case!(children::multithreaded_child_all_threads_killed, true, false,
            "a 5-thread child is killed entirely"),
        case!(children::child_ignoring_blocking_signals_killed, true, false,
            "a child ignoring and blocking all signals is killed"),
        case!(children::stopped_child_killed, true, false,
            "a SIGSTOPped child is killed"),
        case!(children::only_thread_group_killed_not_descendants, true, false,
            "only the thread group dies: the child's own child (new session) survives"),
        case!(children::newpid_init_killed, true, true,
            "an autokill child that is init (pid 1) of a new pid namespace is killed"),
        case!(children::newpid_descendants_die_with_init, true, true,
            "the processes inside that pid namespace die with their init"),
        case!(children::newpid_init_killed_by_holder_inside_ns, true, true,
            "the last reference closed by a process inside the namespace (whose kill(1, SIGKILL) is ignored) still kills init"),
        case!(children::nested_chain_kills_transitively, true, false,
            "A autokill-spawns B autokill-spawns C: closing A's pidfd kills A, then B, then C"),
        case!(children::nested_chain_middle_kill_spares_top, true, false,
            "killing B kills C but not A"),
        case!(children::nested_chain_unprivileged, true, true,
            "the nested chain as uid 65534 with NNP"),
        case!(children::vfork_autokill_exec, true, false,
            "AUTOKILL|CLONE_VFORK: the child execs, the parent resumes with an autokill pidfd that kills on close"),
        case!(children::clone_files_shared_table, true, false,
            "AUTOKILL|CLONE_FILES: the pidfd sits in the shared table; closing it kills"),
        case!(children::clone_files_child_closes_own_pidfd, true, false,
            "AUTOKILL|CLONE_FILES: the child closes its own autokill pidfd through the shared table and is killed"),
        // ptrace.
        case!(ptrace::seize_interrupt_detach_autoreaps, true, false,
            "PTRACE_SEIZE/INTERRUPT of an autoreap child: the tracer sees the stop; after DETACH the child still autoreaps"),
        case!(ptrace::parent_tracer_reaps_exit, true, false,
            "a traced autoreap child's exit is reported to its tracer-parent (zombie kept until waited), then released"),
        case!(ptrace::foreign_tracer_holds_zombie_then_autoreap, true, true,
            "a foreign tracer sees the exit and holds the zombie; when it reaps, the child autoreaps (parent gets ECHILD)"),
        case!(ptrace::tracer_exit_releases_zombie, true, true,
            "a foreign tracer exits without reaping: the autoreap zombie is released, not left behind"),
        case!(ptrace::stopped_autokill_child_killed, true, false,
            "an autokill child in a ptrace stop is killed on close; the tracer reaps SIGKILL"),
        // NNP and setuid.
        case!(nnp::nnp_blocks_setuid_root_autokill_still_kills, true, true,
            "unprivileged AUTOKILL|NNP child execs a setuid-root copy of the helper: euid stays 65534; close still kills"),
        case!(nnp::no_nnp_setuid_gains_root_still_killed, true, true,
            "root arms autokill without NNP; the child drops to 65534 and execs the setuid-root helper: euid 0; close still kills"),
    ];
    v
}

fn usage() -> ! {
    eprintln!("usage: autokill-conformance [--list | --describe] [--timeout SECS] [NAME...]");
    std::process::exit(2);
}

/// Runs one case in a forked process (own process group) and returns its result.
fn run_case(case: &Case, ctx: &Ctx, timeout_s: u64) -> TestResult {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let (r, w) = util::pipe();
    // SAFETY: fork(); the child runs the case and _exit()s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Verdict::Fail(format!(
            "fork: {}",
            conformance::errno::Errno::last()
        )));
    }
    if pid == 0 {
        drop(r);
        // SAFETY: setpgid on ourselves.
        unsafe { libc::setpgid(0, 0) };
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.run)(ctx)))
            .unwrap_or_else(|e| {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(Verdict::Fail(format!("panic: {msg}")))
            });
        let _ = util::write_all(w.as_raw_fd(), &encode(&res));
        // SAFETY: Ends the case process.
        unsafe { libc::_exit(0) };
    }
    drop(w);
    // SAFETY: setpgid of our child (also done by the child; whichever comes first).
    unsafe { libc::setpgid(pid, pid) };
    let start = Instant::now();
    // Until the case process exits: processes it left behind may hold the pipe open.
    let read = match util::pidfd_open(pid, 0) {
        Ok(p) => util::read_from_process(r.as_raw_fd(), p.as_raw_fd(), (timeout_s * 1000) as i32),
        Err(_) => util::read_to_end(r.as_raw_fd(), (timeout_s * 1000) as i32),
    };
    let res = match read {
        Ok(bytes) => decode(&bytes, "case process"),
        Err(_) => Err(Verdict::Fail(format!(
            "timed out after {timeout_s} s (case killed)"
        ))),
    };
    // Whatever the case left in its process group goes; the leader is still unreaped, so the
    // group id cannot have been reused.
    // SAFETY: kill of our own child's process group.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = util::reap(pid);
    // We are a subreaper: reap what the case orphaned.
    common::reap_all(50);
    if start.elapsed().as_secs() > timeout_s {
        eprintln!("# {} took {:?}", case.name, start.elapsed());
    }
    res
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut names = Vec::new();
    let mut list = false;
    let mut describe = false;
    let mut timeout_s: u64 = std::env::var("AUTOKILL_CASE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => list = true,
            "--describe" => describe = true,
            "--timeout" => {
                timeout_s = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "-h" | "--help" => usage(),
            s if s.starts_with('-') => usage(),
            s => names.push(s.to_string()),
        }
    }
    let all = cases();
    let selected: Vec<&Case> = all
        .iter()
        .filter(|c| names.is_empty() || names.iter().any(|n| c.name.contains(n.as_str())))
        .collect();
    if list || describe {
        let mut out = std::io::stdout().lock();
        for c in &selected {
            let r = if describe {
                writeln!(out, "{}\t{}", c.name, c.desc)
            } else {
                writeln!(out, "{}", c.name)
            };
            if r.is_err() {
                break;
            }
        }
        return;
    }
    if selected.is_empty() {
        eprintln!("no case matches {names:?}");
        std::process::exit(2);
    }
    println!("KTAP version 1");
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let feature = match util::kernel_has_autokill() {
        Ok(f) => f,
        Err(e) => {
            println!("# probing CLONE_PIDFD_AUTOKILL failed: {e}; treating it as absent");
            false
        }
    };
    // The test VMs' kernels all have the feature: there, a failed probe is a failure of every
    // case that needs it, not a reason to skip them.
    let require = std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_some_and(|v| v == "1");
    let root = creds::is_root();
    let helper = util::helper_path();
    println!(
        "# autokill-conformance: kernel {}, CLONE_PIDFD_AUTOKILL {}, {}, {} cases",
        util::kernel_release(),
        if feature { "present" } else { "absent" },
        if root { "root" } else { "not root" },
        selected.len()
    );
    if !std::path::Path::new(&helper).exists() {
        println!("# warning: {helper} is missing; cases that exec it will fail");
    }
    println!("1..{}", selected.len());
    let ctx = Ctx { helper };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (i, c) in selected.iter().enumerate() {
        let n = i + 1;
        let res = if c.feature && !feature && require {
            Err(Verdict::Fail(
                "kernel lacks CLONE_PIDFD_AUTOKILL, with AUTOKILL_REQUIRE_SUPPORT=1".into(),
            ))
        } else if c.feature && !feature {
            Err(Verdict::Skip("kernel lacks CLONE_PIDFD_AUTOKILL".into()))
        } else if c.root && !root {
            Err(Verdict::Skip("needs root".into()))
        } else {
            run_case(c, &ctx, timeout_s)
        };
        match res {
            Ok(()) => {
                passed += 1;
                println!("ok {n} {}", c.name);
            }
            Err(Verdict::Skip(r)) => {
                skipped += 1;
                println!("ok {n} {} # SKIP {}", c.name, one_line(&r));
            }
            Err(Verdict::Fail(r)) => {
                failed += 1;
                println!("# {}: {}", c.name, one_line(&r));
                println!("not ok {n} {}", c.name);
            }
        }
        let _ = std::io::stdout().flush();
    }
    println!("# passed {passed} failed {failed} skipped {skipped}");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}
