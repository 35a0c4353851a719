// SPDX-License-Identifier: GPL-2.0

//! `--kmemleak`: the scans around the run and the unreferenced objects attributable to it.

use std::time::Duration;

pub const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";
/// `MSECS_MIN_AGE` of mm/kmemleak.c, plus a margin.
pub const KMEMLEAK_WAIT: Duration = Duration::from_millis(6000);

pub fn kmemleak_write(cmd: &str) -> Result<(), String> {
    std::fs::write(KMEMLEAK, cmd).map_err(|e| format!("echo {cmd} > {KMEMLEAK}: {e}"))
}

/// Words in a kmemleak backtrace that make an object ours: pidfs, fork, signals, files, pids
/// and the unix sockets that carried pidfds.
const LEAK_WORDS: &[&str] = &[
    "pidfs",
    "pidfd",
    "copy_process",
    "kernel_clone",
    "clone3",
    "dup_task_struct",
    "alloc_pid",
    "copy_signal",
    "copy_sighand",
    "send_signal",
    "sigqueue",
    "copy_creds",
    "prepare_creds",
    "dup_fd",
    "alloc_file",
    "alloc_empty_file",
    "path_from_stashed",
    "get_unused_fd",
    "scm_",
    "unix_",
    "dup_mm",
    "vm_area_dup",
];

/// The kmemleak report: the objects attributable to the run (in full) and the others (first
/// line only).
pub fn kmemleak_report(comm: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let text = std::fs::read_to_string(KMEMLEAK).map_err(|e| format!("{KMEMLEAK}: {e}"))?;
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("unreferenced object") || blocks.is_empty() {
            blocks.push(String::new());
        }
        let b = blocks.last_mut().expect("block");
        b.push_str(line);
        b.push('\n');
    }
    let mut ours = Vec::new();
    let mut others = Vec::new();
    for b in blocks.into_iter().filter(|b| b.starts_with("unreferenced")) {
        let by_us = b.contains(&format!("comm \"{comm}\""));
        let trace = b.split_once("backtrace").map_or("", |(_, t)| t);
        if by_us || LEAK_WORDS.iter().any(|w| trace.contains(w)) {
            ours.push(b);
        } else {
            others.push(b.lines().take(2).collect::<Vec<_>>().join(" "));
        }
    }
    Ok((ours, others))
}
