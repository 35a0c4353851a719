// SPDX-License-Identifier: GPL-2.0

//! `autokill-compare`: measures which processes outlive their parent, for each way of spawning
//! them.
//!
//! For every mechanism (a table row: `std`, tokio's `kill_on_drop`, process-wrap, processkit,
//! `setpriv --pdeathsig`, `bwrap --die-with-parent`, autokill with the kernel's guarantee and
//! with its fallback, each also with `kill_tree`) and every way the parent's hold
//! ends (a column: the parent is `SIGKILL`ed, it calls `abort()`, it drops the handle and lives
//! on, the thread that spawned exits while the process lives on), the orchestrator (this
//! program) starts a fresh parent process (itself, re-executed with the hidden subcommand
//! `__parent`, see [`parent`]), which spawns `sh -c` [`parent::CHILD_SCRIPT`] with that
//! mechanism: a child that starts a grandchild, both reporting their pids through a pipe. The
//! orchestrator takes a pidfd of each as soon as it reads the pid, ends the parent's hold, waits
//! up to the settle time for the two to exit (their pidfds polling readable), and records who
//! survived. Then it kills everything the cell started and reaps what is its own (it is the
//! child subreaper of every cell, so orphans come to it). At the end it checks that no process
//! it recorded runs any more and that it has no descendants left.
//!
//! Output: a markdown table (child / grandchild per cell), or JSON lines with `--json`.
//! Exit status 0 when every cell ran or is a documented "not run", 1 on a harness error or a
//! failed cleanup, 2 on a usage error.

mod cases;
mod parent;
mod procs;
mod report;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use cases::{Death, Mechanism};
use report::{Cell, Fate, Outcome, RunInfo};

const USAGE: &str = "\
usage: autokill-compare [--json] [--json-file PATH] [--settle-ms N] [--setup-ms N] [--jobs N]
                        [--mechanisms NAME,...] [--deaths NAME,...]

Measures which of a child and a grandchild outlive their parent's death, for each way of
spawning them, and prints a markdown table (or JSON lines with --json).

  --json            print one JSON object per cell instead of the table
  --json-file PATH  also write the JSON lines to PATH
  --settle-ms N     how long to wait for the child and grandchild to die after the parent's
                    death before counting them as survivors (default 1000; e.g. 10000 in a
                    TCG VM)
  --setup-ms N      how long a parent may take to start and report, and a killed process to
                    go (default 10000; e.g. 120000 in a TCG VM)
  --jobs N          cells run at once (default 4)
  --mechanisms      std, tokio, process-wrap, processkit, processkit-pdeathsig, setpriv, bwrap,
                    autokill, autokill-tree, autokill-fallback, autokill-fallback-tree
                    (default: all)
  --deaths          sigkill, abort, drop, thread-exit (default: all)";

/// The command line.
struct Options {
    json: bool,
    json_file: Option<PathBuf>,
    settle: Duration,
    setup: Duration,
    jobs: usize,
    mechanisms: Vec<Mechanism>,
    deaths: Vec<Death>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        json: false,
        json_file: None,
        settle: Duration::from_millis(1000),
        setup: Duration::from_millis(10_000),
        jobs: 4,
        mechanisms: Mechanism::ALL.to_vec(),
        deaths: Death::ALL.to_vec(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value"))
                .cloned()
        };
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{arg}: not a number: {text}"))
        };
        match arg.as_str() {
            "--json" => options.json = true,
            "--json-file" => options.json_file = Some(PathBuf::from(value()?)),
            "--settle-ms" => options.settle = Duration::from_millis(number(value()?)?),
            "--setup-ms" => options.setup = Duration::from_millis(number(value()?)?),
            "--jobs" => options.jobs = number(value()?)?.clamp(1, 64) as usize,
            "--mechanisms" => {
                options.mechanisms = value()?
                    .split(',')
                    .map(|n| Mechanism::from_name(n).ok_or_else(|| format!("no mechanism {n}")))
                    .collect::<Result<_, _>>()?;
            }
            "--deaths" => {
                options.deaths = value()?
                    .split(',')
                    .map(|n| Death::from_name(n).ok_or_else(|| format!("no death {n}")))
                    .collect::<Result<_, _>>()?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__parent") {
        parent::main(&args[1..]);
    }
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("autokill-compare: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    std::process::exit(run(&options));
}

/// A process the orchestrator must see gone at the end.
struct Tracked {
    pid: i32,
    pidfd: OwnedFd,
}

fn run(options: &Options) -> i32 {
    // Orphans of every cell (children of a dead parent, grandchildren of a dead child) become
    // this process's children, so that it can reap them and find them at the end.
    // SAFETY: Sets an attribute of this process; no memory is passed.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!(
            "autokill-compare: PR_SET_CHILD_SUBREAPER: {}",
            std::io::Error::last_os_error()
        );
        return 1;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("autokill-compare: cannot find this program: {e}");
            return 1;
        }
    };
    let info = RunInfo {
        kernel: kernel_release(),
        date: report::utc(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
        settle: options.settle,
    };
    let availability: Vec<(Mechanism, Availability)> = options
        .mechanisms
        .iter()
        .map(|&m| (m, availability(m, options.setup)))
        .collect();

    let work: Vec<(Mechanism, Death)> = options
        .mechanisms
        .iter()
        .flat_map(|&m| options.deaths.iter().map(move |&d| (m, d)))
        .collect();
    let results: Mutex<Vec<Option<Cell>>> = Mutex::new(vec![None; work.len()]);
    let tracked: Mutex<Vec<Tracked>> = Mutex::new(Vec::new());
    let cleanup_errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.min(work.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(mechanism, death)) = work.get(index) else {
                    return;
                };
                let (_, available) = availability
                    .iter()
                    .find(|(m, _)| *m == mechanism)
                    .expect("every mechanism was checked");
                let outcome = match available {
                    Availability::No(reason) => Outcome::NotRun(reason.clone()),
                    Availability::Yes(version) => {
                        let mut cell = CellRun::default();
                        let mut outcome = cell
                            .measure(&exe, mechanism, death, options)
                            .unwrap_or_else(Outcome::Error);
                        if let Outcome::Ran { note, .. } = &mut outcome {
                            if note.is_empty() {
                                note.clone_from(version);
                            }
                        }
                        let (gone, errors) = cell.clean_up(options.setup);
                        tracked.lock().unwrap().extend(gone);
                        cleanup_errors.lock().unwrap().extend(
                            errors
                                .into_iter()
                                .map(|e| format!("{} / {}: {e}", mechanism.name(), death.name())),
                        );
                        outcome
                    }
                };
                results.lock().unwrap()[index] = Some(Cell {
                    mechanism,
                    death,
                    outcome,
                });
            });
        }
    });
    let cells: Vec<Cell> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|c| c.expect("every cell ran"))
        .collect();
    let mut cleanup_errors = cleanup_errors.into_inner().unwrap();
    cleanup_errors.extend(final_check(&tracked.into_inner().unwrap(), options.setup));

    let json: Vec<String> = cells.iter().map(|c| report::json_line(&info, c)).collect();
    if let Some(path) = &options.json_file {
        if let Err(e) = std::fs::write(path, json.join("\n") + "\n") {
            eprintln!("autokill-compare: {}: {e}", path.display());
            return 1;
        }
    }
    let mut out = std::io::stdout().lock();
    let printed = if options.json {
        writeln!(out, "{}", json.join("\n"))
    } else {
        write!(
            out,
            "{}",
            report::table(&info, &options.mechanisms, &options.deaths, &cells)
        )
    };
    let _ = printed.and_then(|()| out.flush());

    let mut status = 0;
    for cell in &cells {
        if let Outcome::Error(message) = &cell.outcome {
            eprintln!(
                "autokill-compare: {} / {}: {message}",
                cell.mechanism.name(),
                cell.death.name()
            );
            status = 1;
        }
    }
    for error in &cleanup_errors {
        eprintln!("autokill-compare: cleanup: {error}");
        status = 1;
    }
    status
}

/// `uname -r`.
fn kernel_release() -> String {
    // SAFETY: All-zero is a valid `utsname`.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is valid for writes for the duration of the call.
    if unsafe { libc::uname(&mut name) } != 0 {
        return "unknown".into();
    }
    let bytes: Vec<u8> = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        // `c_char` is `i8` on x86_64 and `u8` on aarch64.
        .map(|&c| u8::from_ne_bytes(c.to_ne_bytes()))
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether a mechanism can run here.
enum Availability {
    /// Yes; the text is its version where that is not in the row label (else empty).
    Yes(String),
    /// No: the reason for "not run".
    No(String),
}

fn availability(mechanism: Mechanism, setup: Duration) -> Availability {
    match mechanism {
        Mechanism::Std
        | Mechanism::Tokio
        | Mechanism::ProcessWrap
        | Mechanism::Processkit
        | Mechanism::ProcesskitPdeathsig => Availability::Yes(String::new()),
        Mechanism::Autokill | Mechanism::AutokillTree => {
            let support = autokill::supported();
            match support.kernel {
                Some(true) if support.autokill() => Availability::Yes(String::new()),
                Some(true) => Availability::No(format!("no kernel guarantee: {support}")),
                Some(false) => Availability::No("kernel lacks CLONE_PIDFD_AUTOKILL".into()),
                None => Availability::No("a seccomp filter refuses clone3()".into()),
            }
        }
        Mechanism::AutokillFallback | Mechanism::AutokillFallbackTree => {
            Availability::Yes(String::new())
        }
        Mechanism::Setpriv => tool_availability(
            "setpriv",
            &["--pdeathsig", "KILL", "--", "true"],
            setup,
            |version| {
                // "setpriv from util-linux 2.38.1"
                version
                    .split_once(" from ")
                    .map_or(version, |(_, v)| v)
                    .to_string()
            },
        ),
        Mechanism::Bwrap => {
            let mut args = parent::BWRAP_ARGS.to_vec();
            args.push("true");
            tool_availability("bwrap", &args, setup, str::to_string)
        }
    }
}

/// Runs `tool --version` and `tool ARGS`: available if both succeed.
fn tool_availability(
    tool: &str,
    args: &[&str],
    setup: Duration,
    version: impl Fn(&str) -> String,
) -> Availability {
    let found = match run_bounded(tool, &["--version"], setup) {
        Ok((true, out)) => version(out.lines().next().unwrap_or("").trim()),
        Ok((false, out)) => return Availability::No(format!("{tool} --version: {out}")),
        Err(e) => return Availability::No(format!("{tool}: {e}")),
    };
    match run_bounded(tool, args, setup) {
        Ok((true, _)) => Availability::Yes(found),
        Ok((false, out)) => Availability::No(format!("{tool}: {}", out.trim())),
        Err(e) => Availability::No(format!("{tool}: {e}")),
    }
}

/// Runs a program to its end (killed after `limit`): whether it succeeded, and its standard
/// output and error.
fn run_bounded(program: &str, args: &[&str], limit: Duration) -> Result<(bool, String), String> {
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pidfd = procs::pidfd_open(child.id() as i32).map_err(|e| e.to_string())?;
    let start = Instant::now();
    if procs::wait_exits(&[&pidfd], start, start + limit)[0].is_none() {
        let _ = procs::pidfd_kill(&pidfd, libc::SIGKILL);
        let _ = child.wait_with_output();
        return Err(format!("timed out after {} ms", limit.as_millis()));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

/// The processes of one cell, for the measurement and the cleanup after it.
#[derive(Default)]
struct CellRun {
    parent: Option<std::process::Child>,
    /// The parent's pid, kept after `parent` has been waited for.
    parent_pid: Option<i32>,
    parent_pidfd: Option<OwnedFd>,
    /// The child, the grandchild and the process the handle refers to (pidfds taken as soon as
    /// the pids were read).
    others: Vec<Tracked>,
}

impl CellRun {
    /// Starts the parent, reads the pids, ends the parent's hold, waits, and says who survived.
    fn measure(
        &mut self,
        exe: &Path,
        mechanism: Mechanism,
        death: Death,
        options: &Options,
    ) -> Result<Outcome, String> {
        let (report_rd, report_wr) = procs::pipe().map_err(|e| format!("pipe: {e}"))?;
        // The command (and with it the orchestrator's copy of the write end) is dropped at the
        // end of the statement, so the report ends when every process of the cell is gone.
        let parent = std::process::Command::new(exe)
            .args(["__parent", mechanism.name(), death.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::from(report_wr))
            .spawn()
            .map_err(|e| format!("starting the parent: {e}"))?;
        let parent_pid = parent.id() as i32;
        self.parent = Some(parent);
        self.parent_pid = Some(parent_pid);
        // Our own unreaped child: its pid cannot be reused yet.
        self.parent_pidfd =
            Some(procs::pidfd_open(parent_pid).map_err(|e| format!("pidfd_open(parent): {e}"))?);

        let mut lines = procs::LineReader::new(report_rd);
        let deadline = Instant::now() + options.setup;
        let (mut child, mut grandchild, mut spawned) = (None, None, None);
        while child.is_none() || grandchild.is_none() || spawned.is_none() {
            let line = match lines.next_line(deadline) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    return Err(format!(
                        "the report ended before the pids came (child {child:?}, grandchild \
                         {grandchild:?}, parent {spawned:?})"
                    ))
                }
                Err(e) => {
                    return Err(format!(
                        "waiting for the pids: {e} (child {child:?}, grandchild {grandchild:?}, \
                         parent {spawned:?})"
                    ))
                }
            };
            let (kind, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            match kind {
                "c" | "g" => {
                    let pid: i32 = rest
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad report line {line:?}"))?;
                    let fate = self.track(pid)?;
                    if kind == "c" {
                        child = Some(fate);
                    } else {
                        grandchild = Some(fate);
                    }
                }
                "p" => {
                    let mut fields = rest.splitn(3, ' ');
                    let (_, Some(pid), note) = (fields.next(), fields.next(), fields.next()) else {
                        return Err(format!("bad report line {line:?}"));
                    };
                    let pid: i32 = pid
                        .parse()
                        .map_err(|_| format!("bad report line {line:?}"))?;
                    self.track(pid)?;
                    spawned = Some((pid, note.unwrap_or("").trim().to_string()));
                }
                "unavailable" => return Ok(Outcome::NotRun(rest.to_string())),
                "error" => return Err(format!("the parent: {rest}")),
                _ => return Err(format!("unexpected report line {line:?}")),
            }
        }
        let (mut child, mut grandchild) = (child.unwrap(), grandchild.unwrap());
        let (spawned_pid, note) = spawned.unwrap();

        // Both must still run before the parent's hold ends.
        for (what, fate) in [("child", &child), ("grandchild", &grandchild)] {
            if procs::exited(self.pidfd(fate.pid)) {
                return Err(format!("the {what} exited before its parent's death"));
            }
        }

        let parent_pidfd = self.parent_pidfd.as_ref().expect("set above");
        let start = Instant::now();
        if death == Death::Sigkill {
            procs::pidfd_kill(parent_pidfd, libc::SIGKILL)
                .map_err(|e| format!("SIGKILL to the parent: {e}"))?;
        } else {
            let stdin = self.parent.as_mut().and_then(|p| p.stdin.as_mut());
            stdin
                .ok_or("no stdin")?
                .write_all(b"go\n")
                .map_err(|e| format!("ordering the parent: {e}"))?;
        }
        match death {
            Death::Sigkill | Death::Abort => {
                let expected = if death == Death::Sigkill {
                    libc::SIGKILL
                } else {
                    libc::SIGABRT
                };
                if procs::wait_exits(&[parent_pidfd], start, start + options.setup)[0].is_none() {
                    return Err("the parent did not die".into());
                }
                let status = self
                    .parent
                    .take()
                    .expect("started above")
                    .wait()
                    .map_err(|e| format!("waiting for the parent: {e}"))?;
                if status.signal() != Some(expected) {
                    return Err(format!(
                        "the parent ended with {status}, not by signal {expected}"
                    ));
                }
            }
            Death::Drop | Death::ThreadExit => {
                match lines.next_line(start + options.setup) {
                    Ok(Some(line)) if line == "d" => {}
                    Ok(Some(line)) => {
                        return Err(format!("the parent reported {line:?} instead of \"d\""))
                    }
                    Ok(None) => return Err("the report ended before \"d\"".into()),
                    Err(e) => return Err(format!("waiting for \"d\": {e}")),
                }
                if procs::exited(parent_pidfd) {
                    return Err("the parent died, but should live on".into());
                }
            }
        }

        let seen = {
            let child_fd = self.pidfd(child.pid);
            let grandchild_fd = self.pidfd(grandchild.pid);
            procs::wait_exits(
                &[child_fd, grandchild_fd],
                start,
                Instant::now() + options.settle,
            )
        };
        for (fate, died_after) in [(&mut child, seen[0]), (&mut grandchild, seen[1])] {
            fate.died_after = died_after;
            if died_after.is_none() {
                fate.state = procs::stat(fate.pid).map(|s| s.state);
            }
        }
        Ok(Outcome::Ran {
            child,
            grandchild,
            parent_pid,
            spawned_pid,
            note,
        })
    }

    /// Takes a pidfd of a process the report named (still running: nothing has ended the
    /// parent's hold yet).
    fn track(&mut self, pid: i32) -> Result<Fate, String> {
        let pidfd = procs::pidfd_open(pid).map_err(|e| format!("pidfd_open({pid}): {e}"))?;
        let starttime = procs::stat(pid).map_or(0, |s| s.starttime);
        if !self.others.iter().any(|t| t.pid == pid) {
            self.others.push(Tracked { pid, pidfd });
        }
        Ok(Fate {
            pid,
            starttime,
            died_after: None,
            state: None,
        })
    }

    fn pidfd(&self, pid: i32) -> &OwnedFd {
        &self
            .others
            .iter()
            .find(|t| t.pid == pid)
            .expect("tracked")
            .pidfd
    }

    /// Kills every process of the cell, waits for them to go, reaps those that are ours, and
    /// removes the cgroups processkit left behind. Returns the processes (for the final check)
    /// and what went wrong.
    fn clean_up(mut self, setup: Duration) -> (Vec<Tracked>, Vec<String>) {
        let mut errors = Vec::new();
        // A cell that failed half-way may have processes the report never named: while the
        // parent lives, stop it (so that it forks no more) and take its descendants too.
        if let (Some(pid), Some(pidfd)) = (self.parent_pid, &self.parent_pidfd) {
            if !procs::exited(pidfd) {
                let _ = procs::pidfd_kill(pidfd, libc::SIGSTOP);
                for descendant in procs::descendants(pid) {
                    if self.others.iter().any(|t| t.pid == descendant) {
                        continue;
                    }
                    if let Ok(pidfd) = procs::pidfd_open(descendant) {
                        self.others.push(Tracked {
                            pid: descendant,
                            pidfd,
                        });
                    }
                }
            }
        }
        for t in &self.others {
            if let Err(e) = procs::pidfd_kill(&t.pidfd, libc::SIGKILL) {
                errors.push(format!("SIGKILL to {}: {e}", t.pid));
            }
        }
        let parent_pid = self.parent_pid;
        if let Some(pidfd) = &self.parent_pidfd {
            if let Err(e) = procs::pidfd_kill(pidfd, libc::SIGKILL) {
                errors.push(format!("SIGKILL to the parent: {e}"));
            }
            let start = Instant::now();
            if procs::wait_exits(&[pidfd], start, start + setup)[0].is_none() {
                errors.push("the parent survived SIGKILL".into());
            } else if let Some(mut parent) = self.parent.take() {
                drop(parent.stdin.take());
                if let Err(e) = parent.wait() {
                    errors.push(format!("waiting for the parent: {e}"));
                }
            }
        }
        let start = Instant::now();
        let fds: Vec<&OwnedFd> = self.others.iter().map(|t| &t.pidfd).collect();
        for (t, seen) in self
            .others
            .iter()
            .zip(procs::wait_exits(&fds, start, start + setup))
        {
            if seen.is_none() {
                errors.push(format!("pid {} survived SIGKILL", t.pid));
            }
            procs::reap_if_ours(&t.pidfd);
        }
        if let Some(pid) = parent_pid {
            if let Err(e) = remove_processkit_cgroups(pid, setup) {
                errors.push(format!("processkit's cgroups: {e}"));
            }
        }
        let mut gone = std::mem::take(&mut self.others);
        if let Some(pidfd) = self.parent_pidfd.take() {
            gone.push(Tracked {
                pid: parent_pid.unwrap_or(0),
                pidfd,
            });
        }
        (gone, errors)
    }
}

/// Removes the cgroup directories (`processkit-<pid>-...` and their leaves) that processkit
/// created for the parent `pid` and that its `Drop` did not remove (it never runs when the
/// parent is killed). They are empty once the cell's processes are gone.
fn remove_processkit_cgroups(pid: i32, setup: Duration) -> std::io::Result<()> {
    let Some(root) = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(Path::new)
        .find(|root| root.join("cgroup.controllers").exists())
    else {
        return Ok(());
    };
    // The parent's cgroup, which is ours: it does not move itself.
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let rel = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .unwrap_or("/")
        .trim()
        .trim_start_matches('/');
    let dir = root.join(rel);
    let prefix = format!("processkit-{pid}-");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let path = entry.path();
        for leaf in std::fs::read_dir(&path)?.flatten() {
            if leaf.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&leaf.path(), setup)?;
            }
        }
        remove_cgroup(&path, setup)?;
    }
    Ok(())
}

/// `rmdir` of an empty cgroup, retried while it is busy (`EBUSY` until the kernel is done with
/// the processes that left it), up to `setup`.
fn remove_cgroup(path: &Path, setup: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + setup;
    loop {
        match std::fs::remove_dir(path) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", path.display()),
                ))
            }
            Ok(()) => return Ok(()),
        }
    }
}

/// After every cell: reaps what is left to reap, kills any descendant still there (none
/// should be), and checks that no recorded process runs any more.
fn final_check(tracked: &[Tracked], setup: Duration) -> Vec<String> {
    let mut errors = Vec::new();
    procs::reap_all_zombies();
    let me = std::process::id() as i32;
    for pid in procs::descendants(me) {
        // A live descendant here escaped the cells' own cleanup: kill it and say so.
        if let Ok(pidfd) = procs::pidfd_open(pid) {
            let _ = procs::pidfd_kill(&pidfd, libc::SIGKILL);
            let start = Instant::now();
            let gone = procs::wait_exits(&[&pidfd], start, start + setup)[0].is_some();
            errors.push(format!(
                "descendant {pid} was still there{}",
                if gone {
                    " (killed now)"
                } else {
                    " and survived SIGKILL"
                }
            ));
        }
    }
    procs::reap_all_zombies();
    for t in tracked {
        if !procs::exited(&t.pidfd) {
            errors.push(format!("recorded pid {} still runs", t.pid));
        }
    }
    errors
}
