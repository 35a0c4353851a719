// SPDX-License-Identifier: GPL-2.0

//! `--trace`: where each injected fault was, from the kernel log.

use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;

use conformance::errno::Errno;
use conformance::util::FdExt;

/// The kernel log, read from its end on (`--trace`): where each injected fault was.
pub struct Kmsg {
    fd: OwnedFd,
}

impl Kmsg {
    pub fn open() -> Result<Kmsg, String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        let fd: OwnedFd = f.into();
        // SAFETY: lseek with integer arguments.
        unsafe { libc::lseek(fd.raw(), 0, libc::SEEK_END) };
        Ok(Kmsg { fd })
    }

    /// The injected faults logged since the last call: the capability and the first frames
    /// outside the allocators and the fault injection code.
    pub fn sites(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frames = 0;
        loop {
            let mut b = [0u8; 8192];
            // SAFETY: `b` is valid for writing `b.len()` bytes.
            let r = unsafe { libc::read(self.fd.raw(), b.as_mut_ptr().cast(), b.len()) };
            if r < 0 && Errno::last() == Errno(libc::EPIPE) {
                continue; // overwritten records
            }
            if r <= 0 {
                return out;
            }
            let rec = String::from_utf8_lossy(&b[..r as usize]);
            let Some((_, text)) = rec.split_once(';') else {
                continue;
            };
            let text = text.lines().next().unwrap_or("").trim();
            if text.starts_with("FAULT_INJECTION") {
                out.push(String::new());
                frames = 0;
            } else if let Some(name) = text.strip_prefix("name ") {
                if let Some(last) = out.last_mut() {
                    *last = name.split(',').next().unwrap_or("").to_string();
                }
            } else if let Some(last) = out.last_mut() {
                let f = text.split('+').next().unwrap_or("");
                let skip = f.is_empty()
                    || f.contains(' ')
                    || f.starts_with('<')
                    || f.starts_with('?')
                    || [
                        "dump_stack",
                        "should_fail",
                        "fail_dump",
                        "kmem_cache_alloc",
                        "__kmalloc",
                        "kmalloc",
                        "alloc_pages",
                        "__alloc_",
                        "alloc_frozen",
                        "_copy_",
                        "slab_alloc",
                    ]
                    .iter()
                    .any(|w| f.starts_with(w));
                if !skip && frames < 4 && text.contains("+0x") {
                    last.push(' ');
                    last.push_str(f);
                    frames += 1;
                }
            }
        }
    }
}
