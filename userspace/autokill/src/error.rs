// SPDX-License-Identifier: GPL-2.0

//! The error type of [`Command::spawn`](crate::Command::spawn).

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a child process could not be spawned.
///
/// Each message says what to do about it. [`From<Error> for io::Error`](#impl-From<Error>-for-Error)
/// keeps the message and picks a matching [`io::ErrorKind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The kernel does not know `CLONE_PIDFD_AUTOKILL`: `clone3()` failed with `EINVAL` for a
    /// valid combination of flags (kernels before Linux 7.1), or with `ENOSYS` (no `clone3()` at
    /// all, or a seccomp filter, like some container runtimes install, refuses it).
    Unsupported,
    /// `clone3()` failed with `EPERM` for a child without `CLONE_NNP`
    /// ([`Command::nnp(false)`](crate::Command::nnp)): arming autokill for a child that may gain
    /// privileges needs `CAP_SYS_ADMIN`.
    PermissionDenied,
    /// The child was created but could not execute the program (`execve()` failed); the child
    /// has exited with status 127.
    Exec {
        /// The program as given to [`Command::new`](crate::Command::new).
        program: OsString,
        /// The error of the last `execve()` that decided (`ENOENT` if the program was found
        /// nowhere, `EACCES` if a candidate was not executable, ...).
        source: io::Error,
    },
    /// The child was created but could not change to the working directory set with
    /// [`Command::current_dir`](crate::Command::current_dir); it has exited with status 127.
    CurrentDir {
        /// The directory.
        dir: PathBuf,
        /// The error of `chdir()`.
        source: io::Error,
    },
    /// Any other error: preparing the arguments (a NUL byte in a string), creating pipes,
    /// `clone3()` failing for lack of resources, or setting up the child's standard I/O.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported => f.write_str(
                "cannot spawn a child with an autokill pidfd: clone3() with CLONE_PIDFD_AUTOKILL \
                 is not supported by this kernel (needs Linux 7.1+ with CLONE_PIDFD_AUTOKILL)",
            ),
            Error::PermissionDenied => f.write_str(
                "permission denied: a child without no_new_privs (CLONE_NNP off) may only be \
                 spawned with an autokill pidfd by a caller with CAP_SYS_ADMIN; keep no_new_privs \
                 on (the default) or run with CAP_SYS_ADMIN",
            ),
            Error::Exec { program, source } => {
                write!(f, "cannot execute {program:?}: {source}")
            }
            Error::CurrentDir { dir, source } => {
                write!(
                    f,
                    "cannot change the child's working directory to {dir:?}: {source}"
                )
            }
            Error::Io(source) => write!(f, "cannot spawn the child process: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unsupported | Error::PermissionDenied => None,
            Error::Exec { source, .. } | Error::CurrentDir { source, .. } | Error::Io(source) => {
                Some(source)
            }
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error)
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match error {
            Error::Io(source) => return source,
            Error::Unsupported => io::ErrorKind::Unsupported,
            Error::PermissionDenied => io::ErrorKind::PermissionDenied,
            Error::Exec { ref source, .. } | Error::CurrentDir { ref source, .. } => source.kind(),
        };
        io::Error::new(kind, error)
    }
}

impl Error {
    /// Maps a failed `clone3()` with the autokill flags to an error; `nnp` says whether
    /// `CLONE_NNP` was set.
    pub(crate) fn from_clone3(error: io::Error, nnp: bool) -> Self {
        match error.raw_os_error() {
            Some(libc::EINVAL | libc::ENOSYS) => Error::Unsupported,
            Some(libc::EPERM) if !nnp => Error::PermissionDenied,
            _ => Error::Io(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_says_what_to_do() {
        let unsupported = Error::Unsupported.to_string();
        assert!(
            unsupported.contains(
                "not supported by this kernel (needs Linux 7.1+ with CLONE_PIDFD_AUTOKILL)"
            ),
            "{unsupported}"
        );
        let denied = Error::PermissionDenied.to_string();
        for needle in ["CAP_SYS_ADMIN", "no_new_privs", "CLONE_NNP"] {
            assert!(denied.contains(needle), "{denied}");
        }
        let exec = Error::Exec {
            program: "frobnicate".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            exec.to_string(),
            format!(
                "cannot execute \"frobnicate\": {}",
                io::Error::from_raw_os_error(libc::ENOENT)
            )
        );
        let dir = Error::CurrentDir {
            dir: "/nowhere".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert!(dir
            .to_string()
            .starts_with("cannot change the child's working directory to \"/nowhere\": "));
        let io = Error::Io(io::Error::from_raw_os_error(libc::EAGAIN));
        assert!(io
            .to_string()
            .starts_with("cannot spawn the child process: "));
    }

    #[test]
    fn sources() {
        assert!(Error::Unsupported.source().is_none());
        assert!(Error::PermissionDenied.source().is_none());
        let exec = Error::Exec {
            program: "x".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        let source = exec.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(source.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn clone3_errno_mapping() {
        let e = |errno| io::Error::from_raw_os_error(errno);
        assert!(matches!(
            Error::from_clone3(e(libc::EINVAL), true),
            Error::Unsupported
        ));
        assert!(matches!(
            Error::from_clone3(e(libc::ENOSYS), false),
            Error::Unsupported
        ));
        assert!(matches!(
            Error::from_clone3(e(libc::EPERM), false),
            Error::PermissionDenied
        ));
        assert!(matches!(
            Error::from_clone3(e(libc::EPERM), true),
            Error::Io(_)
        ));
        assert!(matches!(
            Error::from_clone3(e(libc::EAGAIN), false),
            Error::Io(_)
        ));
    }

    #[test]
    fn into_io_error() {
        let kind = |e: Error| io::Error::from(e).kind();
        assert_eq!(kind(Error::Unsupported), io::ErrorKind::Unsupported);
        assert_eq!(
            kind(Error::PermissionDenied),
            io::ErrorKind::PermissionDenied
        );
        let exec = Error::Exec {
            program: "x".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(kind(exec), io::ErrorKind::NotFound);
        let raw = io::Error::from(Error::Io(io::Error::from_raw_os_error(libc::EMFILE)));
        assert_eq!(raw.raw_os_error(), Some(libc::EMFILE));
    }
}
