// SPDX-License-Identifier: GPL-2.0

//! The results: one [`Cell`] per mechanism and death, printed as a markdown table or as JSON
//! lines.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cases::{Death, Mechanism};

/// What became of one process after the parent's death.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fate {
    /// The pid (in the orchestrator's pid namespace).
    pub pid: i32,
    /// Its start time (`/proc/<pid>/stat` field 22), which with the pid names it for good.
    pub starttime: u64,
    /// When it was seen exited, counted from the death; `None`: it still ran at the end of the
    /// settle time.
    pub died_after: Option<Duration>,
    /// For a survivor, its state letter in `/proc/<pid>/stat` at the end of the settle time.
    pub state: Option<char>,
}

impl Fate {
    /// "dies" or "survives".
    pub fn word(&self) -> &'static str {
        if self.died_after.is_some() {
            "dies"
        } else {
            "survives"
        }
    }
}

/// The outcome of one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Measured.
    Ran {
        /// The process the mechanism spawned, running the child's script.
        child: Fate,
        /// The process the child started.
        grandchild: Fate,
        /// The parent's pid.
        parent_pid: i32,
        /// The pid of the process the mechanism's handle refers to (the child's, except for
        /// bwrap, whose outer process it is).
        spawned_pid: i32,
        /// What the mechanism reported about itself (processkit: the containment it got).
        note: String,
    },
    /// Documented as not run here, with the reason.
    NotRun(String),
    /// A harness error.
    Error(String),
}

/// One measured (or skipped) combination.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The row.
    pub mechanism: Mechanism,
    /// The column.
    pub death: Death,
    /// What happened.
    pub outcome: Outcome,
}

impl Cell {
    /// The table cell's text.
    fn text(&self) -> String {
        match &self.outcome {
            Outcome::Ran {
                child, grandchild, ..
            } => format!("{} / {}", child.word(), grandchild.word()),
            Outcome::NotRun(reason) => format!("not run: {}", one_line(reason)),
            Outcome::Error(message) => format!("ERROR: {}", one_line(message)),
        }
    }
}

/// `text` on one line, for a table cell: newlines become "; ", `|` is escaped.
fn one_line(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
        .replace('|', "\\|")
}

/// What the header says about the run.
pub struct RunInfo {
    /// `uname -r`.
    pub kernel: String,
    /// The UTC time the run started, `YYYY-MM-DD HH:MM:SS UTC`.
    pub date: String,
    /// How long a cell waits for the child and the grandchild to die.
    pub settle: Duration,
}

/// The markdown table: a header line, one row per mechanism, one column per death.
pub fn table(info: &RunInfo, mechanisms: &[Mechanism], deaths: &[Death], cells: &[Cell]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Who outlives its parent (autokill-compare): kernel {}, {}, settle time {} ms; \
         each cell: child / grandchild",
        info.kernel,
        info.date,
        info.settle.as_millis()
    );
    out.push('\n');
    out.push_str("| mechanism |");
    for death in deaths {
        let _ = write!(out, " {} |", death.label());
    }
    out.push_str("\n|---|");
    for _ in deaths {
        out.push_str("---|");
    }
    out.push('\n');
    for &mechanism in mechanisms {
        let row: Vec<&Cell> = cells.iter().filter(|c| c.mechanism == mechanism).collect();
        // What the mechanism said about itself, if every cell that ran agrees.
        let mut notes: Vec<&str> = row
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Ran { note, .. } if !note.is_empty() => Some(note.as_str()),
                _ => None,
            })
            .collect();
        notes.dedup();
        let label = match notes.as_slice() {
            [note] => format!("{} ({note})", mechanism.label()),
            _ => mechanism.label().to_string(),
        };
        let _ = write!(out, "| {label} |");
        for &death in deaths {
            let text = row
                .iter()
                .find(|c| c.death == death)
                .map_or_else(String::new, |c| c.text());
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    if deaths.contains(&Death::ThreadExit) {
        out.push_str(
            "\nIn the last column the parent process lives on and its main thread still holds the \
             handle: \"dies\" there is a child killed early (`PR_SET_PDEATHSIG` follows the thread \
             that created the child, not the process).\n",
        );
    }
    out
}

/// One JSON object (one line) per cell.
pub fn json_line(info: &RunInfo, cell: &Cell) -> String {
    let mut out = format!(
        "{{\"kernel\":{},\"date\":{},\"settle_ms\":{},\"mechanism\":{},\"death\":{}",
        quote(&info.kernel),
        quote(&info.date),
        info.settle.as_millis(),
        quote(cell.mechanism.name()),
        quote(cell.death.name())
    );
    match &cell.outcome {
        Outcome::Ran {
            child,
            grandchild,
            parent_pid,
            spawned_pid,
            note,
        } => {
            let _ = write!(
                out,
                ",\"status\":\"ran\",\"child\":\"{}\",\"grandchild\":\"{}\",\
                 \"parent_pid\":{parent_pid},\"spawned_pid\":{spawned_pid},\"note\":{}",
                child.word(),
                grandchild.word(),
                quote(note)
            );
            for (name, fate) in [("child", child), ("grandchild", grandchild)] {
                let _ = write!(
                    out,
                    ",\"{name}_pid\":{},\"{name}_starttime\":{},\"{name}_died_after_ms\":{},\
                     \"{name}_state\":{}",
                    fate.pid,
                    fate.starttime,
                    fate.died_after.map_or("null".to_string(), |d| format!(
                        "{:.1}",
                        d.as_secs_f64() * 1e3
                    )),
                    fate.state
                        .map_or("null".to_string(), |s| quote(&s.to_string()))
                );
            }
        }
        Outcome::NotRun(reason) => {
            let _ = write!(out, ",\"status\":\"not run\",\"reason\":{}", quote(reason));
        }
        Outcome::Error(message) => {
            let _ = write!(out, ",\"status\":\"error\",\"error\":{}", quote(message));
        }
    }
    out.push('}');
    out
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch (proleptic Gregorian calendar).
pub fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn cells_stay_on_one_line() {
        assert_eq!(one_line("a\n  b | c\n"), "a; b \\| c");
    }

    #[test]
    fn a_row_shows_child_then_grandchild() {
        let info = RunInfo {
            kernel: "7.3.4".into(),
            date: utc(0),
            settle: Duration::from_millis(1000),
        };
        let fate = |died: bool| Fate {
            pid: 1,
            starttime: 2,
            died_after: died.then(|| Duration::from_millis(3)),
            state: (!died).then_some('S'),
        };
        let cells = [
            Cell {
                mechanism: Mechanism::Tokio,
                death: Death::Drop,
                outcome: Outcome::Ran {
                    child: fate(true),
                    grandchild: fate(false),
                    parent_pid: 10,
                    spawned_pid: 1,
                    note: String::new(),
                },
            },
            Cell {
                mechanism: Mechanism::Tokio,
                death: Death::Abort,
                outcome: Outcome::NotRun("reason".into()),
            },
        ];
        let text = table(
            &info,
            &[Mechanism::Tokio],
            &[Death::Drop, Death::Abort],
            &cells,
        );
        assert!(
            text.contains(
                "| tokio 1.54 `kill_on_drop(true)` | dies / survives | not run: reason |"
            ),
            "{text}"
        );
        let line = json_line(&info, &cells[0]);
        assert!(
            line.contains("\"child\":\"dies\",\"grandchild\":\"survives\""),
            "{line}"
        );
        assert!(line.contains("\"child_died_after_ms\":3.0"), "{line}");
        assert!(line.contains("\"grandchild_state\":\"S\""), "{line}");
    }
}
