// SPDX-License-Identifier: GPL-2.0

//! The error type of [`Command::spawn`](crate::Command::spawn).

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a child process could not be spawned.
///
/// Each message says what failed and what to do about it; the underlying [`io::Error`], where
/// there is one, is the [`source`](std::error::Error::source), not part of the message (print
/// the chain to see both). [`From<Error> for io::Error`](#impl-From<Error>-for-Error) gives the
/// underlying [`io::Error`] itself, with its `errno`, where there is one, else one that keeps
/// the message with a matching [`io::ErrorKind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The kernel does not know `CLONE_PIDFD_AUTOKILL`: `clone3()` failed with `EINVAL` for a
    /// valid combination of flags (kernels before Linux 7.1), or with `ENOSYS` while no seccomp
    /// filter is installed (a kernel without `clone3()`, before Linux 5.3).
    Unsupported,
    /// `clone3()` failed with `ENOSYS` while this process runs under a seccomp filter: the
    /// filter (as container runtimes install, to make the C library fall back to `clone()`)
    /// refuses `clone3()`, whatever the kernel supports. Allow `clone3()` in the filter (the
    /// container's seccomp profile).
    Seccomp,
    /// `clone3()` failed with `EPERM` for a child without `CLONE_NNP`
    /// ([`Command::no_new_privs(false)`](crate::Command::no_new_privs)): arming autokill for a
    /// child that may gain privileges needs `CAP_SYS_ADMIN`.
    PermissionDenied,
    /// The pid namespace (and user namespace) of [`Command::kill_tree`](crate::Command::kill_tree)
    /// could not be created: `clone3()` refused `CLONE_NEWPID` or `CLONE_NEWUSER` (no
    /// `CONFIG_PID_NS` or `CONFIG_USER_NS`, user namespaces disabled for unprivileged users, the
    /// namespace limits of `/proc/sys/user`, nesting deeper than 32), or the child could not
    /// write its uid and gid maps.
    Namespace {
        /// The error of `clone3()` or of writing `/proc/self/{setgroups,uid_map,gid_map}`.
        source: io::Error,
    },
    /// `clone3()` could not create the child in the cgroup given with
    /// [`Command::cgroup`](crate::Command::cgroup) (`CLONE_INTO_CGROUP`): not a cgroup2
    /// directory (`EBADF`), no write access to its `cgroup.procs` or the common ancestor's
    /// (`EACCES`, `EPERM`), outside this process's cgroup namespace (`ENOENT`), a cgroup that
    /// cannot take processes (`EBUSY`, `EOPNOTSUPP`) or was removed (`ENODEV`).
    Cgroup {
        /// The error of `clone3()`.
        source: io::Error,
    },
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
    /// The command [requires](crate::Command::require) a stronger [`Guarantee`](crate::Guarantee)
    /// than this system gives: `CLONE_PIDFD_AUTOKILL` is missing or refused (`reason`:
    /// [`Error::Unsupported`] for a kernel before 7.1, [`Error::Seccomp`] for a seccomp filter
    /// that refuses `clone3()`, [`Error::PermissionDenied`] for
    /// [`no_new_privs(false)`](crate::Command::no_new_privs) without `CAP_SYS_ADMIN`), and the
    /// fallback gives only `available`. No child was created.
    GuaranteeUnavailable {
        /// What [`Command::require`](crate::Command::require) asked for.
        required: crate::Guarantee,
        /// The best this spawn could have had: the fallback's level
        /// ([`ParentThreadSignal`](crate::Guarantee::ParentThreadSignal), or
        /// [`DropOnly`](crate::Guarantee::DropOnly) without `no_new_privs`).
        available: crate::Guarantee,
        /// Why the kernel's guarantee was not available (also the
        /// [`source`](std::error::Error::source)).
        reason: Box<Error>,
    },
    /// Any other error: preparing the arguments (a NUL byte in a string), creating pipes,
    /// `clone3()` failing for lack of resources, setting up the child's standard I/O, its
    /// user, groups or process group, or a [`pre_exec`](crate::Command::pre_exec) closure
    /// failing.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported => f.write_str(
                "cannot spawn a child with an autokill pidfd: clone3() with CLONE_PIDFD_AUTOKILL \
                 is not supported by this kernel (needs Linux 7.1+ with CLONE_PIDFD_AUTOKILL)",
            ),
            Error::Seccomp => f.write_str(
                "cannot spawn a child with an autokill pidfd: a seccomp filter refuses clone3() \
                 (ENOSYS); allow clone3 in the seccomp profile (of the container)",
            ),
            Error::PermissionDenied => f.write_str(
                "permission denied: a child without no_new_privs (CLONE_NNP off) may only be \
                 spawned with an autokill pidfd by a caller with CAP_SYS_ADMIN; keep no_new_privs \
                 on (the default) or run with CAP_SYS_ADMIN",
            ),
            Error::Namespace { .. } => f.write_str(
                "cannot create the pid namespace that kills the whole process tree: needs \
                 CAP_SYS_ADMIN or unprivileged user namespaces (CONFIG_PID_NS, CONFIG_USER_NS)",
            ),
            Error::Cgroup { .. } => f.write_str(
                "cannot create the child in the given cgroup: it must be a cgroup2 directory \
                 that can take processes and whose cgroup.procs this process may write",
            ),
            Error::Exec { program, .. } => write!(f, "cannot execute {program:?}"),
            Error::CurrentDir { dir, .. } => {
                write!(f, "cannot change the child's working directory to {dir:?}")
            }
            Error::Io(_) => f.write_str("cannot spawn the child process"),
            Error::GuaranteeUnavailable {
                required,
                available,
                ..
            } => write!(
                f,
                "the command requires the guarantee {required:?}, but only {available:?} is available here ({available})"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unsupported | Error::Seccomp | Error::PermissionDenied => None,
            Error::GuaranteeUnavailable { reason, .. } => Some(&**reason),
            Error::Namespace { source }
            | Error::Cgroup { source }
            | Error::Exec { source, .. }
            | Error::CurrentDir { source, .. }
            | Error::Io(source) => Some(source),
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error)
    }
}

/// A variant with an underlying [`io::Error`] ([`Error::Io`], [`Error::Exec`],
/// [`Error::CurrentDir`], [`Error::Namespace`], [`Error::Cgroup`]) becomes that error unchanged, so that
/// [`raw_os_error()`](io::Error::raw_os_error) still has the `errno` (as with
/// [`std::process::Command`], whose exec failures are the bare `errno`; the program or
/// directory is then not part of the message, keep the [`Error`] to show it). The others become
/// an [`io::Error`] of the matching [`io::ErrorKind`] with the error as the inner error.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match error {
            Error::Io(source)
            | Error::Namespace { source }
            | Error::Cgroup { source }
            | Error::Exec { source, .. }
            | Error::CurrentDir { source, .. } => return source,
            Error::Unsupported | Error::Seccomp | Error::GuaranteeUnavailable { .. } => {
                io::ErrorKind::Unsupported
            }
            Error::PermissionDenied => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, error)
    }
}

/// What was asked of `clone3()`, to tell its errors apart.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CloneContext {
    /// `CLONE_NNP` was set.
    pub(crate) nnp: bool,
    /// `CLONE_NEWPID` (and maybe `CLONE_NEWUSER`) was set.
    pub(crate) namespaces: bool,
    /// `CLONE_INTO_CGROUP` was set.
    pub(crate) cgroup: bool,
    /// The caller runs under a seccomp filter (`PR_GET_SECCOMP` said 2).
    pub(crate) seccomp_filter: bool,
    /// Whether the kernel supports autokill without namespaces, if known (a failure with
    /// namespaces asks [`crate::supported`]).
    pub(crate) autokill_supported: Option<bool>,
}

impl Error {
    /// Maps a failed `clone3()` with the autokill flags to an error.
    pub(crate) fn from_clone3(error: io::Error, context: CloneContext) -> Self {
        match error.raw_os_error() {
            Some(libc::ENOSYS) if context.seccomp_filter => Error::Seccomp,
            Some(libc::ENOSYS) => Error::Unsupported,
            Some(libc::EINVAL)
                if context.namespaces && context.autokill_supported == Some(true) =>
            {
                Error::Namespace { source: error }
            }
            Some(libc::EINVAL) => Error::Unsupported,
            Some(libc::EPERM) if !context.nnp => Error::PermissionDenied,
            Some(libc::EPERM | libc::ENOSPC | libc::EUSERS) if context.namespaces => {
                Error::Namespace { source: error }
            }
            // `cgroup_css_set_fork()` (kernel/cgroup/cgroup.c) and what it calls.
            Some(
                libc::EBADF
                | libc::EACCES
                | libc::EPERM
                | libc::ENOENT
                | libc::EBUSY
                | libc::EOPNOTSUPP
                | libc::ENODEV,
            ) if context.cgroup => Error::Cgroup { source: error },
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
        // The source's message is not repeated: source() returns it.
        assert_eq!(exec.to_string(), "cannot execute \"frobnicate\"");
        let dir = Error::CurrentDir {
            dir: "/nowhere".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            dir.to_string(),
            "cannot change the child's working directory to \"/nowhere\""
        );
        let io = Error::Io(io::Error::from_raw_os_error(libc::EAGAIN));
        assert_eq!(io.to_string(), "cannot spawn the child process");
        assert!(Error::Seccomp
            .to_string()
            .contains("seccomp filter refuses clone3()"));
        let ns = Error::Namespace {
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(ns.to_string().contains("user namespaces"));
    }

    #[test]
    fn sources() {
        assert!(Error::Unsupported.source().is_none());
        assert!(Error::Seccomp.source().is_none());
        assert!(Error::PermissionDenied.source().is_none());
        let ns = Error::Namespace {
            source: io::Error::from_raw_os_error(libc::ENOSPC),
        };
        let source = ns.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(source.raw_os_error(), Some(libc::ENOSPC));
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
        let plain = CloneContext {
            nnp: true,
            ..CloneContext::default()
        };
        let without_nnp = CloneContext::default();
        let seccomp = CloneContext {
            seccomp_filter: true,
            ..plain
        };
        let tree = |supported| CloneContext {
            namespaces: true,
            autokill_supported: supported,
            ..plain
        };
        let map = |errno, context| Error::from_clone3(e(errno), context);
        assert!(matches!(map(libc::EINVAL, plain), Error::Unsupported));
        assert!(matches!(map(libc::ENOSYS, without_nnp), Error::Unsupported));
        assert!(matches!(map(libc::ENOSYS, seccomp), Error::Seccomp));
        // A seccomp filter's EINVAL or EPERM cannot be told from the kernel's.
        assert!(matches!(map(libc::EINVAL, seccomp), Error::Unsupported));
        assert!(matches!(
            map(libc::EPERM, without_nnp),
            Error::PermissionDenied
        ));
        assert!(matches!(map(libc::EPERM, plain), Error::Io(_)));
        assert!(matches!(map(libc::EAGAIN, without_nnp), Error::Io(_)));
        // With namespaces: EINVAL is theirs only if autokill alone works.
        assert!(matches!(
            map(libc::EINVAL, tree(Some(true))),
            Error::Namespace { .. }
        ));
        assert!(matches!(
            map(libc::EINVAL, tree(Some(false))),
            Error::Unsupported
        ));
        for errno in [libc::EPERM, libc::ENOSPC, libc::EUSERS] {
            assert!(matches!(map(errno, tree(None)), Error::Namespace { .. }));
        }
        assert!(matches!(map(libc::ENOMEM, tree(None)), Error::Io(_)));
        // With a cgroup: what cgroup_css_set_fork() returns is the cgroup's, EPERM included
        // unless NNP is off or namespaces are asked for too; ENOMEM stays Io.
        let cgroup = CloneContext {
            cgroup: true,
            ..plain
        };
        for errno in [
            libc::EBADF,
            libc::EACCES,
            libc::EPERM,
            libc::ENOENT,
            libc::EBUSY,
            libc::EOPNOTSUPP,
            libc::ENODEV,
        ] {
            assert!(
                matches!(map(errno, cgroup), Error::Cgroup { .. }),
                "{errno}"
            );
        }
        assert!(matches!(map(libc::ENOMEM, cgroup), Error::Io(_)));
        assert!(matches!(
            map(
                libc::EPERM,
                CloneContext {
                    nnp: false,
                    ..cgroup
                }
            ),
            Error::PermissionDenied
        ));
        assert!(matches!(map(libc::EINVAL, cgroup), Error::Unsupported));
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
        // Without an errno: the message is the inner error.
        let unsupported = io::Error::from(Error::Seccomp);
        assert_eq!(unsupported.raw_os_error(), None);
        assert!(unsupported
            .to_string()
            .contains("seccomp filter refuses clone3()"));
    }

    #[test]
    fn into_io_error_keeps_the_errno() {
        let errno = |e: Error| {
            let error = io::Error::from(e);
            (error.raw_os_error(), error.kind())
        };
        let e = |errno| io::Error::from_raw_os_error(errno);
        assert_eq!(
            errno(Error::Exec {
                program: "x".into(),
                source: e(libc::EACCES),
            }),
            (Some(libc::EACCES), io::ErrorKind::PermissionDenied)
        );
        assert_eq!(
            errno(Error::CurrentDir {
                dir: "/nowhere".into(),
                source: e(libc::ENOENT),
            }),
            (Some(libc::ENOENT), io::ErrorKind::NotFound)
        );
        assert_eq!(
            errno(Error::Namespace {
                source: e(libc::ENOSPC),
            }),
            (Some(libc::ENOSPC), e(libc::ENOSPC).kind())
        );
        assert_eq!(
            errno(Error::Cgroup {
                source: e(libc::EBUSY),
            }),
            (Some(libc::EBUSY), e(libc::EBUSY).kind())
        );
        assert_eq!(
            errno(Error::Io(e(libc::EAGAIN))),
            (Some(libc::EAGAIN), io::ErrorKind::WouldBlock)
        );
    }
}
