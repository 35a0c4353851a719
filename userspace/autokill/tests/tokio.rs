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
    if autokill::supported() {
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
        assert!(child.id() > 0);
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
        let watcher = sys::pidfd_open(child.id() as libc::pid_t, 0).unwrap();
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
