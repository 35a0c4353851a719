// SPDX-License-Identifier: GPL-2.0

//! Converting a [`std::process::Command`] into a [`Command`]: everything `std` lets us read.

use crate::Command;

/// Copies what [`std::process::Command`] lets us read: the program
/// ([`get_program`](std::process::Command::get_program)), the arguments
/// ([`get_args`](std::process::Command::get_args)), the environment variables set and removed
/// ([`get_envs`](std::process::Command::get_envs)) and the working directory
/// ([`get_current_dir`](std::process::Command::get_current_dir)). The result has this crate's
/// defaults for everything else: `no_new_privs` on, no [`kill_tree`](Command::kill_tree).
///
/// `std` has no getter for the rest, so it is **lost**; set it again on the result:
///
/// - [`env_clear`](std::process::Command::env_clear): `std` has no stable way to tell whether
///   it was called (`get_env_clear()` is unstable). A cleared `std` command becomes one that
///   starts from this process's environment with the variables set since the clear; call
///   [`Command::env_clear`] and set them again if the environment must stay clean (for
///   example to keep secrets out of the child).
/// - The standard input, output and error: `std::process::Stdio` is opaque (see [`Stdio`]).
/// - What `std::os::unix::process::CommandExt` sets: `arg0`, `uid`, `gid`, `groups`,
///   `process_group` and `pre_exec` closures.
///
/// It works by reference too, so that a command kept elsewhere can be converted, for example
/// a `tokio::process::Command` through its `as_std()`.
///
/// [`Stdio`]: crate::Stdio
///
/// # Examples
///
/// ```no_run
/// let mut std_cmd = std::process::Command::new("sh");
/// std_cmd.args(["-c", "echo $GREETING"]).env("GREETING", "hi").current_dir("/tmp");
/// let output = autokill::Command::from(std_cmd).output()?;
/// assert_eq!(output.stdout, b"hi\n");
/// # Ok::<(), autokill::Error>(())
/// ```
impl From<&std::process::Command> for Command {
    fn from(std_cmd: &std::process::Command) -> Self {
        let mut cmd = Command::new(std_cmd.get_program());
        cmd.args(std_cmd.get_args());
        for (key, value) in std_cmd.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = std_cmd.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// Copies what `std` lets us read, as the conversion from `&std::process::Command` does.
/// What `std` keeps to itself (`env_clear`, standard I/O, `arg0`, credentials, process group,
/// `pre_exec` closures) is lost and dropped with the `std` command.
impl From<std::process::Command> for Command {
    fn from(std_cmd: std::process::Command) -> Self {
        Command::from(&std_cmd)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::Path;

    use crate::Command;

    /// The readable parts of a `std` command and of ours, for comparison.
    fn std_parts(cmd: &std::process::Command) -> Parts<'_> {
        (
            cmd.get_program(),
            cmd.get_args().collect(),
            cmd.get_envs().collect(),
            cmd.get_current_dir(),
        )
    }

    type Parts<'a> = (
        &'a OsStr,
        Vec<&'a OsStr>,
        Vec<(&'a OsStr, Option<&'a OsStr>)>,
        Option<&'a Path>,
    );

    fn our_parts(cmd: &Command) -> Parts<'_> {
        (
            cmd.get_program(),
            cmd.get_args().collect(),
            cmd.get_envs().collect(),
            cmd.get_current_dir(),
        )
    }

    #[test]
    fn carries_program_args_envs_and_dir() {
        let mut std_cmd = std::process::Command::new("/bin/prog");
        std_cmd
            .arg("one")
            .args(["two", "", "with space"])
            .env("B", "2")
            .env("A", "1")
            .env_remove("HOME")
            .env("A", "again")
            .current_dir("/tmp");
        let cmd = Command::from(&std_cmd);
        assert_eq!(our_parts(&cmd), std_parts(&std_cmd));
        assert_eq!(
            our_parts(&cmd),
            (
                OsStr::new("/bin/prog"),
                ["one", "two", "", "with space"].map(OsStr::new).to_vec(),
                vec![
                    (OsStr::new("A"), Some(OsStr::new("again"))),
                    (OsStr::new("B"), Some(OsStr::new("2"))),
                    (OsStr::new("HOME"), None),
                ],
                Some(Path::new("/tmp")),
            )
        );
        // This crate's defaults for what std has no notion of.
        assert!(cmd.get_no_new_privs());
        assert!(!cmd.get_kill_tree());
        // By value, the same.
        let owned = Command::from(std_cmd);
        assert_eq!(our_parts(&owned), our_parts(&cmd));
    }

    #[test]
    fn a_bare_command_stays_bare() {
        let cmd = Command::from(std::process::Command::new("ls"));
        assert_eq!(our_parts(&cmd), (OsStr::new("ls"), vec![], vec![], None));
    }

    #[test]
    fn non_utf8_survives() {
        use std::os::unix::ffi::OsStrExt;
        let odd = OsStr::from_bytes(b"\xff\xfe");
        let mut std_cmd = std::process::Command::new(odd);
        std_cmd.arg(odd).env(odd, odd).current_dir(odd);
        let cmd = Command::from(&std_cmd);
        assert_eq!(our_parts(&cmd), std_parts(&std_cmd));
    }

    #[test]
    fn env_clear_is_not_carried() {
        // std does not tell (get_env_clear() is unstable): only what was set after the clear
        // arrives. This documents the loss; if std ever shows it, this test must change.
        let mut std_cmd = std::process::Command::new("env");
        std_cmd.env("DROPPED", "x").env_clear().env("KEPT", "y");
        let cmd = Command::from(&std_cmd);
        assert_eq!(
            cmd.get_envs().collect::<Vec<_>>(),
            [(OsStr::new("KEPT"), Some(OsStr::new("y")))]
        );
    }
}
