// SPDX-License-Identifier: GPL-2.0

//! The fault injection interface: the debugfs knobs that choose which kind of fault point
//! `fail-nth` counts (failslab, fail_page_alloc, fail_usercopy), and
//! `/proc/thread-self/fail-nth` itself.

use std::os::fd::OwnedFd;

use conformance::errno::Errno;
use conformance::util::FdExt;

pub const DEBUGFS: &str = "/sys/kernel/debug";

/// A kind of fault point, selected with the debugfs knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Slab,
    Page,
    Usercopy,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Slab, Kind::Page, Kind::Usercopy];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Slab => "slab",
            Kind::Page => "page",
            Kind::Usercopy => "usercopy",
        }
    }

    /// The debugfs directory of the capability.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Slab => "failslab",
            Kind::Page => "fail_page_alloc",
            Kind::Usercopy => "fail_usercopy",
        }
    }
}

/// The debugfs knobs we change, with their original values.
#[derive(Default)]
pub struct Knobs {
    saved: Vec<(String, String)>,
}

impl Knobs {
    fn set(&mut self, rel: &str, value: &str) -> Result<(), String> {
        let path = format!("{DEBUGFS}/{rel}");
        if !self.saved.iter().any(|(p, _)| *p == path) {
            let old = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            self.saved.push((path.clone(), old.trim().to_string()));
        }
        std::fs::write(&path, value).map_err(|e| format!("writing {value} to {path}: {e}"))
    }

    /// Makes `fail-nth` count the fault points of `kind` (and the usercopy ones, which cannot
    /// be turned off without the stack trace filter).
    pub fn select(&mut self, kind: Kind, verbose: &str) -> Result<(), String> {
        let slab = kind == Kind::Slab;
        let page = kind == Kind::Page;
        if have(Kind::Slab) {
            self.set("failslab/ignore-gfp-wait", if slab { "N" } else { "Y" })?;
            // With no cache marked (/sys/kernel/slab/*/failslab), the filter passes nothing.
            self.set("failslab/cache-filter", if slab { "N" } else { "Y" })?;
        }
        if have(Kind::Page) {
            self.set(
                "fail_page_alloc/ignore-gfp-wait",
                if page { "N" } else { "Y" },
            )?;
            self.set(
                "fail_page_alloc/ignore-gfp-highmem",
                if page { "N" } else { "Y" },
            )?;
            // Above MAX_PAGE_ORDER: no page allocation passes.
            self.set("fail_page_alloc/min-order", if page { "0" } else { "100" })?;
        }
        for k in Kind::ALL {
            if have(k) {
                self.set(&format!("{}/verbose", k.dir()), verbose)?;
            }
        }
        Ok(())
    }

    pub fn restore(&mut self) {
        for (p, v) in self.saved.drain(..).rev() {
            if let Err(e) = std::fs::write(&p, &v) {
                eprintln!("autokill-fault: restoring {p} to {v}: {e}");
            }
        }
    }
}

/// Whether the kernel has the fault capability of `kind` (its debugfs directory).
pub fn have(kind: Kind) -> bool {
    std::path::Path::new(&format!("{DEBUGFS}/{}", kind.dir())).is_dir()
}

/// The result of one armed call.
pub struct Armed<T> {
    pub value: T,
    /// `fail-nth` read back 0: the n-th fault point failed.
    pub injected: bool,
    /// Fault points the call went through (n when injected).
    pub consumed: u32,
}

/// The number in a `fail-nth` text.
pub fn parse_u32(text: &[u8]) -> u32 {
    text.iter()
        .filter(|c| c.is_ascii_digit())
        .fold(0u32, |v, &c| {
            v.wrapping_mul(10).wrapping_add((c - b'0') as u32)
        })
}

/// `/proc/thread-self/fail-nth`, opened once: opening it while a fault is armed would consume
/// fault points.
pub struct FailNth {
    pub fd: OwnedFd,
}

impl FailNth {
    pub fn open() -> Result<FailNth, String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map_err(|e| format!("/proc/thread-self/fail-nth: {e}"))?;
        Ok(FailNth { fd: f.into() })
    }

    pub fn write(&self, text: &[u8]) -> Result<(), Errno> {
        // SAFETY: `text` is valid for reading `text.len()` bytes.
        let r = unsafe { libc::pwrite(self.fd.raw(), text.as_ptr().cast(), text.len(), 0) };
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// The value: the read has a usercopy fault point of its own, and reports the value from
    /// before it.
    fn read(&self) -> Result<u32, Errno> {
        let mut b = [0u8; 16];
        // SAFETY: `b` is valid for writing `b.len()` bytes.
        let r = unsafe { libc::pread(self.fd.raw(), b.as_mut_ptr().cast(), b.len(), 0) };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(parse_u32(&b[..r as usize]))
    }

    pub fn disarm(&self) -> Result<(), String> {
        // The write's copy from user is a fault point while fail-nth is not 0: it may fail
        // once, setting it to 0 all the same.
        for _ in 0..4 {
            let _ = self.write(b"0");
            if self.read() == Ok(0) {
                return Ok(());
            }
        }
        Err("fail-nth does not go back to 0".into())
    }

    /// Runs `call` with the n-th fault point armed.
    pub fn run<T>(&self, n: u32, call: impl FnOnce() -> T) -> Result<Armed<T>, String> {
        let text = n.to_string();
        self.write(text.as_bytes())
            .map_err(|e| format!("writing {n} to fail-nth: {e}"))?;
        let value = call();
        let left = match self.read() {
            Ok(v) => v,
            // The read's own copy to user was the last fault point: 1 was left.
            Err(e) if e.0 == libc::EFAULT => 1,
            Err(e) => {
                self.disarm()?;
                return Err(format!("reading fail-nth: {e}"));
            }
        };
        self.disarm()?;
        Ok(Armed {
            value,
            injected: left == 0,
            consumed: n.saturating_sub(left),
        })
    }
}

/// Mounts debugfs if it is not mounted.
pub fn debugfs() -> Result<(), String> {
    if std::path::Path::new(&format!("{DEBUGFS}/fail_page_alloc")).exists()
        || std::path::Path::new(&format!("{DEBUGFS}/failslab")).exists()
    {
        return Ok(());
    }
    // SAFETY: mount with C strings.
    let r = unsafe {
        libc::mount(
            c"debugfs".as_ptr(),
            c"/sys/kernel/debug".as_ptr(),
            c"debugfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 && Errno::last() != Errno(libc::EBUSY) {
        return Err(format!("mount debugfs: {}", Errno::last()));
    }
    Ok(())
}

/// Slab caches marked for failslab's cache filter (there must be none: the filter turns
/// failslab off).
pub fn failslab_caches() -> Vec<String> {
    let Ok(d) = std::fs::read_dir("/sys/kernel/slab") else {
        return Vec::new();
    };
    d.flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("failslab")).is_ok_and(|v| v.trim() == "1")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}
