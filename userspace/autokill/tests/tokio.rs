// SPDX-License-Identifier: GPL-2.0

//! Tests of the `tokio` feature against the real `CLONE_PIDFD_AUTOKILL` (Linux 7.1+, in the VM).
//! On a kernel without it each test prints one line starting with `skipped:` and returns; with
//! `AUTOKILL_REQUIRE_SUPPORT=1` that is a failure instead.
//!
//! `cargo test -p autokill` builds this file with the feature: the crate's dev-dependency on
//! itself turns it on.

#![cfg(feature = "tokio")]

use std::future::Future;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::task::Poll;
use std::time::{Duration, Instant};

use autokill::tokio::CommandExt;
use autokill::{sys, Command, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// How long a killed process may take to disappear (the VM may run under TCG emulation).
const DEATH_TIMEOUT: Duration = Duration::from_secs(30);

/// On a kernel without `CLONE_PIDFD_AUTOKILL`: prints the skip line and returns `true`.
fn skip_without_autokill() -> bool {
    if autokill::supported().autokill() {
        return false;
    }
    assert!(
        std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
        "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel lacks CLONE_PIDFD_AUTOKILL"
    );
    println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
    true
}

/// Runs `test` on a current-thread runtime with I/O and time, unless the kernel lacks autokill.
fn run<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    if skip_without_autokill() {
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(DEATH_TIMEOUT * 2, test()).await })
        .expect("the test timed out");
}

#[test]
fn wait_reports_exit_codes_and_signals() {
    run(|| async {
        let mut child = Command::new("sh")
            .args(["-c", "exit 5"])
            .spawn_async()
            .unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(5));
        assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(5));
        let mut child = Command::new("sleep").arg("100").spawn_async().unwrap();
        assert!(child.id().unwrap() > 0);
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().await.unwrap();
        assert_eq!(
            child.try_wait().unwrap().unwrap().signal(),
            Some(libc::SIGKILL)
        );
        assert!(Command::new("true").status_async().await.unwrap().success());
    });
}

#[test]
fn wait_is_cancellation_safe() {
    run(|| async {
        let mut child = Command::new("sleep").arg("100").spawn_async().unwrap();
        let started = Instant::now();
        let waited = tokio::time::timeout(Duration::from_millis(200), child.wait()).await;
        assert!(waited.is_err(), "the sleep exited: {waited:?}");
        assert!(started.elapsed() >= Duration::from_millis(200));
        // The child still runs; a new wait() after the cancelled one gets its status.
        assert_eq!(child.try_wait().unwrap(), None);
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn many_waits_at_once_on_one_thread() {
    run(|| async {
        // Twenty children exiting in an order unrelated to the spawning, all awaited by one
        // thread: the reactor, not a blocked thread per child.
        let children: Vec<_> = (0..20)
            .map(|i| {
                Command::new("sh")
                    .args(["-c", &format!("sleep 0.{}; exit {i}", (20 - i) % 10)])
                    .spawn_async()
                    .unwrap()
            })
            .collect();
        let waits = children
            .into_iter()
            .map(|mut child| async move { child.wait().await.unwrap().code() });
        let mut codes = Vec::new();
        for wait in waits.map(tokio::spawn).collect::<Vec<_>>() {
            codes.push(wait.await.unwrap());
        }
        assert_eq!(codes, (0..20).map(Some).collect::<Vec<_>>());
    });
}

#[test]
fn output_and_pipes() {
    run(|| async {
        let out = Command::new("sh")
            .args(["-c", "head -c 300000 /dev/zero >&2; echo done"])
            .output_async()
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.len()),
            (&b"done\n"[..], 300_000)
        );

        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn_async()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"through tokio\n").await.unwrap();
        drop(stdin);
        let mut text = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .await
            .unwrap();
        assert_eq!(text, "through tokio\n");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn dropping_the_async_child_kills_it() {
    run(|| async {
        let child = Command::new("sleep").arg("100").spawn_async().unwrap();
        let watcher = sys::pidfd_open(child.id().unwrap() as libc::pid_t, 0).unwrap();
        drop(child);
        assert!(sys::pidfd_wait_reaped(watcher.as_fd(), Some(DEATH_TIMEOUT)).unwrap());

        // A dropped output future kills its child too. The child reports its pid on its
        // standard error, set to a pipe of ours (output_async() captures only the streams the
        // command leaves unset), then sleeps.
        let (read, write) = sys::pipe().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo $$ >&2; exec sleep 100"])
            .stderr(Stdio::from(write));
        // Boxed, so that dropping it drops the future itself.
        let mut output = Box::pin(cmd.output_async());
        let mut line = String::new();
        let mut report = Box::pin(async {
            let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
            BufReader::new(receiver).read_line(&mut line).await
        });
        // Polls the output future, which spawns the child on its first poll, until the child
        // has reported.
        std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = output.as_mut().poll(cx) {
                panic!("output_async() completed: {result:?}");
            }
            report.as_mut().poll(cx)
        })
        .await
        .unwrap();
        drop(report);
        let pid = line.trim().parse().expect("the child reports its pid");
        let watcher = sys::pidfd_open(pid, 0).unwrap();
        assert!(
            !sys::pidfd_wait_reaped(watcher.as_fd(), Some(Duration::from_millis(100))).unwrap(),
            "the child of output_async() died before the future was dropped"
        );
        // Cancelled while pending, as by a timeout or a select: the child dies with the future.
        drop(output);
        assert!(sys::pidfd_wait_reaped(watcher.as_fd(), Some(DEATH_TIMEOUT)).unwrap());
    });
}

/// Whether this crate can spawn here at all (also below the kernel guarantee, on the
/// fallback); if not, prints the skip line.
fn spawns() -> bool {
    match Command::new("true").status() {
        Err(autokill::Error::Unsupported | autokill::Error::Seccomp) => {
            assert!(
                std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
                "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel cannot spawn"
            );
            println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
            false
        }
        result => {
            assert!(result.unwrap().success());
            true
        }
    }
}

/// Runs `test` like [`run`], but wherever this crate can spawn at all (also below the kernel
/// guarantee, on the fallback), not only with `CLONE_PIDFD_AUTOKILL`.
fn run_if_spawns<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    if !spawns() {
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(DEATH_TIMEOUT * 2, test()).await })
        .expect("the test timed out");
}

/// A child of the tokio wrapper that ignores `SIGTERM`, returned once it has set that up.
async fn ignoring_sigterm() -> autokill::tokio::Child {
    let mut child = autokill::tokio::Command::new("sh")
        .args(["-c", "trap '' TERM; echo ready; exec sleep 100"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    assert_eq!(line, "ready\n");
    child
}

#[test]
fn id_is_none_once_the_status_is_collected() {
    run_if_spawns(|| async {
        let mut child = autokill::tokio::Command::new("true").spawn().unwrap();
        let pid = child.id().expect("running or not yet waited for");
        assert!(pid > 0);
        assert!(child.wait().await.unwrap().success());
        assert_eq!(child.id(), None);

        let mut child = autokill::tokio::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        assert!(child.id().is_some());
        child.kill().await.unwrap();
        assert_eq!(child.id(), None);
    });
}

#[test]
fn terminate_awaits_sigterm_then_kills() {
    run_if_spawns(|| async {
        // Obeys SIGTERM: returns well before the grace ends.
        let mut child = autokill::tokio::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = child.terminate(DEATH_TIMEOUT).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}");
        assert!(started.elapsed() < DEATH_TIMEOUT);
        assert_eq!(child.terminate(DEATH_TIMEOUT).await.unwrap(), status);

        // Ignores it: the grace passes, then SIGKILL.
        let mut child = ignoring_sigterm().await;
        let grace = Duration::from_millis(300);
        let started = Instant::now();
        let status = child.terminate(grace).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        assert!(started.elapsed() >= grace, "{:?}", started.elapsed());

        // A zero grace kills at once.
        let mut child = ignoring_sigterm().await;
        let status = child.terminate(Duration::ZERO).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");

        // Already exited: its own status.
        let mut child = autokill::tokio::Command::new("sh")
            .args(["-c", "exit 6"])
            .spawn()
            .unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(6));
        assert_eq!(
            child.terminate(DEATH_TIMEOUT).await.unwrap().code(),
            Some(6)
        );
    });
}

#[test]
fn terminate_needs_no_time_driver() {
    if !spawns() {
        return;
    }
    // The grace is a timerfd on the reactor: a runtime without the time driver works.
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
        .block_on(async {
            let mut child = ignoring_sigterm().await;
            let status = child.terminate(Duration::from_millis(100)).await.unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        });
}

#[test]
fn the_raw_pidfd_of_an_async_child_keeps_it_alive_until_closed() {
    run(|| async {
        let child = autokill::tokio::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let watcher = sys::pidfd_open(child.id().unwrap() as libc::pid_t, 0).unwrap();
        let pidfd = std::os::fd::OwnedFd::from(child);
        assert!(
            !sys::pidfd_wait_reaped(watcher.as_fd(), Some(Duration::from_millis(200))).unwrap(),
            "the child died when the Child was given up"
        );
        // Deregistered from the reactor: a new AsyncFd can take it (registering a descriptor
        // twice with the same epoll would fail with EEXIST).
        // SAFETY: The `OwnedFd` keeps the descriptor open and the same until it is dropped,
        // which happens only with the `AsyncFd` or after `into_inner()`.
        let again = unsafe { tokio::io::unix::AsyncFd::register(pidfd) }.unwrap();
        let raw = std::os::fd::IntoRawFd::into_raw_fd(again.into_inner());
        assert!(!sys::pidfd_wait_reaped(watcher.as_fd(), Some(Duration::ZERO)).unwrap());
        // SAFETY: `raw` is the pidfd handed over above; nothing else owns it.
        drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) });
        assert!(
            sys::pidfd_wait_reaped(watcher.as_fd(), Some(DEATH_TIMEOUT)).unwrap(),
            "closing the pidfd did not kill the child"
        );
    });
}

#[test]
fn the_tokio_command_sets_what_it_says() {
    run_if_spawns(|| async {
        let out = autokill::tokio::Command::new("sh")
            .args([
                "-c",
                "echo \"$A ${B-unset} $(pwd)\"; cat; echo err >&2; exit 3",
            ])
            .env("A", "a")
            .env("B", "b")
            .env_remove("B")
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"a unset /\n");
        assert_eq!(out.stderr, b"err\n");

        let out = autokill::tokio::Command::new("/usr/bin/env")
            .env("KEPT", "1")
            .env_clear()
            .env("ONLY", "2")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"ONLY=2\n");

        let status = autokill::tokio::Command::new("sh")
            .args(["-c", "exit 4"])
            .status()
            .await
            .unwrap();
        assert_eq!(status.code(), Some(4));

        // The underlying command, and conversions in both directions.
        let mut cmd = autokill::tokio::Command::from(Command::new("sh"));
        cmd.args(["-c", "ulimit -n"]);
        cmd.as_autokill_mut().rlimit(libc::RLIMIT_NOFILE, 64, 64);
        assert_eq!(cmd.as_autokill().get_program(), "sh");
        assert_eq!(cmd.output().await.unwrap().stdout, b"64\n");
        let mut std_cmd = std::process::Command::new("sh");
        std_cmd.args(["-c", "echo $X"]).env("X", "from std");
        let mut cmd = autokill::tokio::Command::from(std_cmd);
        assert_eq!(cmd.output().await.unwrap().stdout, b"from std\n");
        assert_eq!(cmd.into_autokill().get_program(), "sh");

        // Piped streams are tokio pipes.
        let mut child = autokill::tokio::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"through the wrapper\n")
            .await
            .unwrap();
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(output.stdout, b"through the wrapper\n");
    });
}

#[test]
fn the_tokio_command_fails_with_the_errno_like_tokio() {
    run_if_spawns(|| async {
        let error = autokill::tokio::Command::new("/nonexistent/program")
            .spawn()
            .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{error:?}");
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        // The same for output() and status(), and for a missing working directory.
        let error = autokill::tokio::Command::new("/bin/sh")
            .arg("-c")
            .arg("true")
            .current_dir("/nonexistent/dir")
            .output()
            .await
            .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{error:?}");
        let error = autokill::tokio::Command::new("/dev/null")
            .status()
            .await
            .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EACCES), "{error:?}");
    });
}

#[test]
fn the_tokio_command_reports_a_missing_guarantee_as_unsupported() {
    // Where the kernel guarantee is missing, the io::Error wraps autokill::Error.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut cmd = autokill::tokio::Command::new("true");
    cmd.as_autokill_mut().require(autokill::Guarantee::Kernel);
    match cmd.spawn() {
        Ok(mut child) => {
            assert!(autokill::supported().autokill());
            assert!(runtime.block_on(child.wait()).unwrap().success());
        }
        Err(error) => {
            assert!(!autokill::supported().autokill(), "{error:?}");
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported, "{error:?}");
            let inner = error
                .get_ref()
                .and_then(|e| e.downcast_ref::<autokill::Error>());
            assert!(
                matches!(
                    inner,
                    Some(autokill::Error::GuaranteeUnavailable {
                        required: autokill::Guarantee::Kernel,
                        ..
                    })
                ),
                "{error:?}"
            );
        }
    }
}

#[test]
fn a_fallback_async_child_given_up_is_the_callers_to_kill_and_reap() {
    run_if_spawns(|| async {
        let mut cmd = autokill::tokio::Command::new("sleep");
        cmd.arg("100").as_autokill_mut().kernel_autokill(false);
        let child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        let pidfd = std::os::fd::OwnedFd::from(child);
        assert_eq!(
            sys::poll(
                pidfd.as_fd(),
                libc::POLLIN,
                Some(Duration::from_millis(200))
            )
            .unwrap(),
            0,
            "the child exited when the Child was given up"
        );
        sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL).unwrap();
        let info = sys::waitid(
            libc::P_PIDFD,
            std::os::fd::AsRawFd::as_raw_fd(&pidfd) as libc::id_t,
            libc::WEXITED | libc::__WALL,
        )
        .unwrap();
        assert_eq!((info.code, info.status), (libc::CLD_KILLED, libc::SIGKILL));
        assert_eq!(info.pid as u32, pid);
    });
}
