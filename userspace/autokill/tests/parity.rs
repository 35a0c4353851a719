// SPDX-License-Identifier: GPL-2.0

//! Parity with `std::process`: errors that keep their `errno` through `io::Error`, and
//! commands converted from `std` that behave as `std` runs them. On a kernel where the crate
//! cannot spawn, each test prints one line starting with `skipped:` and returns; with
//! `AUTOKILL_REQUIRE_SUPPORT=1` that is a failure instead.

use std::io;

use autokill::{Command, Error};

/// On a kernel where this crate cannot spawn at all: prints the skip line and returns `true`.
fn skip_unless_spawning_works() -> bool {
    match Command::new("true").status() {
        Err(Error::Unsupported | Error::Seccomp) => {
            assert!(
                std::env::var_os("AUTOKILL_REQUIRE_SUPPORT").is_none_or(|v| v == "0"),
                "AUTOKILL_REQUIRE_SUPPORT is set, but this kernel cannot spawn"
            );
            println!("skipped: host kernel lacks CLONE_PIDFD_AUTOKILL (needs Linux 7.1+)");
            true
        }
        result => {
            assert!(result.unwrap().success());
            false
        }
    }
}

/// What `?` in a function returning `io::Result` makes of a spawn error.
fn spawn_io(cmd: &mut Command) -> io::Result<autokill::Child> {
    Ok(cmd.spawn()?)
}

#[test]
fn exec_failures_keep_their_errno_through_io_error() {
    if skip_unless_spawning_works() {
        return;
    }
    let missing = Command::new("/nonexistent/program").spawn().unwrap_err();
    assert!(
        matches!(&missing, Error::Exec { program, source }
            if program == "/nonexistent/program" && source.raw_os_error() == Some(libc::ENOENT)),
        "{missing:?}"
    );
    let error = io::Error::from(missing);
    assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(error.kind(), io::ErrorKind::NotFound);

    // Through `?`, as std's own spawn errors: the bare errno.
    let error = spawn_io(&mut Command::new("/dev/null")).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EACCES), "{error:?}");
    let error =
        spawn_io(Command::new("no-such-program-anywhere").env("PATH", "/nonexistent")).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{error:?}");
    // std agrees on the errno.
    let std_error = std::process::Command::new("/dev/null").spawn().unwrap_err();
    assert_eq!(std_error.raw_os_error(), Some(libc::EACCES));

    let error = spawn_io(Command::new("true").current_dir("/nonexistent/dir")).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{error:?}");
}

#[test]
fn a_command_from_std_runs_as_std_runs_it() {
    if skip_unless_spawning_works() {
        return;
    }
    let build = || {
        let mut cmd = std::process::Command::new("sh");
        cmd.args([
            "-c",
            "echo \"$0|$1|${KEEP-unset}|${GONE-unset}|$(pwd)\"",
            "zero",
            "one",
        ])
        .env("KEEP", "kept")
        .env("GONE", "set")
        .env_remove("GONE")
        .current_dir("/");
        cmd
    };
    let std_output = build().output().unwrap();
    assert_eq!(std_output.stdout, b"zero|one|kept|unset|/\n");
    let output = Command::from(build()).output().unwrap();
    assert_eq!(output.stdout, std_output.stdout);
    assert_eq!(output.status, std_output.status);
    let output = Command::from(&build()).output().unwrap();
    assert_eq!(output.stdout, std_output.stdout);
}
