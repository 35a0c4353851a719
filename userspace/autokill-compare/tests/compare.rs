// SPDX-License-Identifier: GPL-2.0

//! Runs the comparison program on a few cells and checks that it tells survivors from the dead
//! and leaves nothing behind.

use std::process::Command;

/// Runs `autokill-compare --json ARGS`; returns its JSON lines (it must exit with 0).
fn compare(args: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_autokill-compare"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

/// The value of `"key":` in a JSON line (a string without its quotes, or a number).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 3;
    let rest = &line[start..];
    if let Some(string) = rest.strip_prefix('"') {
        &string[..string.find('"').unwrap()]
    } else {
        &rest[..rest.find([',', '}']).unwrap()]
    }
}

/// The line of one cell.
fn cell<'a>(lines: &'a [String], mechanism: &str, death: &str) -> &'a str {
    lines
        .iter()
        .find(|l| field(l, "mechanism") == mechanism && field(l, "death") == death)
        .unwrap_or_else(|| panic!("no cell {mechanism} / {death} in {lines:?}"))
}

/// The start time of process `pid` now, if there is one.
fn starttime(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

#[test]
fn std_children_survive_their_parents_sigkill() {
    let lines = compare(&["--mechanisms", "std", "--deaths", "sigkill"]);
    assert_eq!(lines.len(), 1);
    let line = cell(&lines, "std", "sigkill");
    assert_eq!(field(line, "status"), "ran", "{line}");
    assert_eq!(field(line, "child"), "survives", "{line}");
    assert_eq!(field(line, "grandchild"), "survives", "{line}");
    // A survivor is a real process that was still there, asleep.
    assert_eq!(field(line, "child_state"), "S", "{line}");
}

#[test]
fn tokio_kill_on_drop_kills_only_the_child() {
    let lines = compare(&["--mechanisms", "tokio", "--deaths", "drop"]);
    let line = cell(&lines, "tokio", "drop");
    assert_eq!(field(line, "child"), "dies", "{line}");
    assert_eq!(field(line, "grandchild"), "survives", "{line}");
    assert_ne!(field(line, "child_died_after_ms"), "null", "{line}");
}

#[test]
fn nothing_is_left_behind() {
    let lines = compare(&[
        "--mechanisms",
        "std,setpriv,processkit",
        "--deaths",
        "sigkill,abort,thread-exit",
    ]);
    assert_eq!(lines.len(), 9);
    for line in &lines {
        if field(line, "status") != "ran" {
            continue;
        }
        for who in ["child", "grandchild"] {
            let pid = field(line, &format!("{who}_pid"));
            let start = field(line, &format!("{who}_starttime"));
            assert_ne!(
                starttime(pid).as_deref(),
                Some(start),
                "the {who} {pid} still exists: {line}"
            );
        }
        let parent = field(line, "parent_pid");
        if field(line, "mechanism") == "processkit" {
            // The cgroups processkit made for a parent that was killed are gone too.
            for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                let Ok(dir) = std::fs::read_dir(root) else {
                    continue;
                };
                for entry in dir.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    assert!(
                        !name.starts_with(&format!("processkit-{parent}-")),
                        "{root}/{name} is left behind"
                    );
                }
            }
        }
    }
}

#[test]
fn autokill_kernel_cells_run_only_with_the_kernel_guarantee() {
    let lines = compare(&[
        "--mechanisms",
        "autokill,autokill-tree",
        "--deaths",
        "sigkill",
    ]);
    let plain = cell(&lines, "autokill", "sigkill");
    let tree = cell(&lines, "autokill-tree", "sigkill");
    if autokill::supported().kernel == Some(true) {
        assert_eq!(field(plain, "note"), "Kernel", "{plain}");
        assert_eq!(field(plain, "child"), "dies", "{plain}");
        assert_eq!(field(plain, "grandchild"), "survives", "{plain}");
        assert_eq!(field(tree, "child"), "dies", "{tree}");
        assert_eq!(field(tree, "grandchild"), "dies", "{tree}");
    } else {
        for line in [plain, tree] {
            assert_eq!(field(line, "status"), "not run", "{line}");
            assert!(
                field(line, "reason").contains("CLONE_PIDFD_AUTOKILL")
                    || field(line, "reason").contains("seccomp"),
                "{line}"
            );
        }
    }
}

#[test]
fn the_fallback_kills_the_child_when_the_parent_is_killed() {
    let lines = compare(&[
        "--mechanisms",
        "autokill-fallback,autokill-fallback-tree",
        "--deaths",
        "sigkill",
    ]);
    let plain = cell(&lines, "autokill-fallback", "sigkill");
    assert_eq!(field(plain, "note"), "ParentThreadSignal", "{plain}");
    assert_eq!(field(plain, "child"), "dies", "{plain}");
    assert_eq!(field(plain, "grandchild"), "survives", "{plain}");
    let tree = cell(&lines, "autokill-fallback-tree", "sigkill");
    if field(tree, "status") == "ran" {
        assert_eq!(field(tree, "child"), "dies", "{tree}");
        assert_eq!(field(tree, "grandchild"), "dies", "{tree}");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let status = Command::new(env!("CARGO_BIN_EXE_autokill-compare"))
        .arg("--mechanisms")
        .arg("nonsense")
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(2));
}
