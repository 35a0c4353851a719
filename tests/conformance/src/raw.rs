// SPDX-License-Identifier: GPL-2.0

//! `clone3()` with full control over the argument struct: any size, a non-zero tail, `set_tid`.
//!
//! Two kinds of children:
//!
//! - [`Clone3::spawn`] creates a child that runs a few instructions of inline assembly and never
//!   touches memory: it calls `exit(code)` or loops in `pause()`. That is safe whatever the flags
//!   (`CLONE_VM` without a stack, `CLONE_THREAD`, `CLONE_SETTLS`, `CLONE_VFORK`) and in a
//!   multithreaded caller.
//! - [`Clone3::spawn_fn`] creates a fork-like child (no shared memory) that runs a Rust closure
//!   and then `_exit()`s. The caller should be single-threaded (as after `fork()`, another
//!   thread may have held the allocator's lock).

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the raw clone3() child is written for x86_64 and aarch64 only");

use std::os::fd::{FromRawFd, OwnedFd};

use crate::errno::Errno;
use crate::sys::{
    CloneArgs, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS,
    CLONE_SIGHAND, CLONE_THREAD, CLONE_VM,
};

/// What an assembly child does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildMode {
    /// `exit(code)` (the thread; the whole process if it is the only thread).
    Exit(u8),
    /// `pause()` forever, until a signal kills it.
    Pause,
    /// `close_range(3, ~0U, 0)`, then `pause()` forever: like a child that exec'd, it holds
    /// none of the parent's other files (earlier autokill pidfds in particular). Never with
    /// `CLONE_FILES`, which would close the parent's files.
    CleanPause,
}

/// A `struct clone_args` in a zeroed buffer larger than any size the kernel reads.
#[repr(C, align(8))]
pub struct ArgsBuf {
    bytes: [u8; 8192],
}

impl Default for ArgsBuf {
    fn default() -> Self {
        ArgsBuf { bytes: [0; 8192] }
    }
}

impl ArgsBuf {
    /// The `struct clone_args` at the start of the buffer.
    pub fn args_mut(&mut self) -> &mut CloneArgs {
        // SAFETY: The buffer is 8-byte aligned and larger than `CloneArgs`, a `repr(C)` struct of
        // `u64`s for which any bit pattern is valid; the borrow of `self` covers it.
        unsafe { &mut *(self.bytes.as_mut_ptr() as *mut CloneArgs) }
    }

    /// Sets one byte (for a non-zero tail beyond the known struct).
    pub fn set_byte(&mut self, offset: usize, value: u8) {
        self.bytes[offset] = value;
    }

    /// The buffer, for the kernel.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
}

/// `clone3(buf, size)`; the child (return value 0) runs `mode` without touching memory.
///
/// Returns the child's pid (or tid with `CLONE_THREAD`) or the error.
///
/// # Safety
///
/// `buf` must be readable for `min(size, 4096)` bytes (the kernel rejects larger sizes before
/// reading), and every pointer in the struct must be null or valid for the kernel to write an
/// `i32` (`pidfd`, `parent_tid`; `child_tid` in the child's memory) for as long as the child
/// exists. `set_tid` must point to `set_tid_size` readable `pid_t`s.
pub unsafe fn clone3_asm(buf: *mut u8, size: usize, mode: ChildMode) -> Result<i32, Errno> {
    let (pause, code): (u64, u64) = match mode {
        ChildMode::Exit(c) => (0, c as u64),
        ChildMode::Pause => (1, 0),
        ChildMode::CleanPause => (2, 0),
    };
    let ret: i64;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: The parent's side is a plain `clone3()` system call that clobbers rax, rcx and
    // r11 only. The child (rax == 0) only executes `exit`, `close_range` or `pause` system calls with register
    // operands and never returns into Rust code, reads or writes memory, or uses the stack, so it
    // is harmless even when it shares the caller's memory and stack (`CLONE_VM`, `CLONE_THREAD`)
    // or has a bogus TLS (`CLONE_SETTLS`). The caller vouches for the pointers in `buf`.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 3f",
            "cmp r8, 2",
            "jne 4f",
            "mov eax, 436",
            "mov edi, 3",
            "mov esi, 0xffffffff",
            "xor edx, edx",
            "syscall",
            "jmp 2f",
            "4:",
            "test r8, r8",
            "jnz 2f",
            "mov eax, 60",
            "mov rdi, r9",
            "syscall",
            "ud2",
            "2:",
            "mov eax, 34",
            "syscall",
            "jmp 2b",
            "3:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") buf,
            in("rsi") size,
            in("r8") pause,
            in("r9") code,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: As on x86_64: the parent's side is a plain `clone3()` system call (number in x8,
    // arguments in x0 and x1, the result in x0; the kernel preserves every other register). The
    // child (x0 == 0) only executes `exit`, `close_range` and `ppoll` (arm64 has no `pause`; with
    // no descriptors and no timeout it waits for a signal, as `pause` does) system calls with
    // register operands, and never returns into Rust code, reads or writes memory, or uses the
    // stack. The caller vouches for the pointers in `buf`.
    unsafe {
        core::arch::asm!(
            "svc #0",
            "cbnz x0, 3f",
            "cmp x10, #2",
            "b.ne 4f",
            "mov x8, #436",
            "mov x0, #3",
            "mov w1, #-1",
            "mov x2, xzr",
            "svc #0",
            "b 2f",
            "4:",
            "cbnz x10, 2f",
            "mov x8, #93",
            "mov x0, x11",
            "svc #0",
            "udf #0",
            "2:",
            "mov x8, #73",
            "mov x0, xzr",
            "mov x1, xzr",
            "mov x2, xzr",
            "mov x3, xzr",
            "mov x4, xzr",
            "svc #0",
            "b 2b",
            "3:",
            inlateout("x8") libc::SYS_clone3 => _,
            inlateout("x0") buf => ret,
            inlateout("x1") size => _,
            inlateout("x2") 0u64 => _,
            inlateout("x3") 0u64 => _,
            inlateout("x4") 0u64 => _,
            in("x10") pause,
            in("x11") code,
            options(nostack),
        );
    }
    if ret < 0 {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as i32)
    }
}

/// A created child.
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid (tid for `CLONE_THREAD`) in our pid namespace.
    pub pid: i32,
    /// The pidfd `clone3()` returned, with `CLONE_PIDFD`.
    pub pidfd: Option<OwnedFd>,
}

impl Spawned {
    /// The pidfd, which must exist.
    pub fn take_pidfd(&mut self) -> OwnedFd {
        self.pidfd.take().expect("no pidfd (CLONE_PIDFD not set?)")
    }
}

/// Scratch memory the kernel may write tids into, for children that outlive any stack frame.
static TID_SCRATCH: [std::sync::atomic::AtomicI32; 2] = [
    std::sync::atomic::AtomicI32::new(0),
    std::sync::atomic::AtomicI32::new(0),
];

/// The description of one `clone3()` call.
#[derive(Clone, Debug)]
pub struct Clone3 {
    /// `flags`.
    pub flags: u64,
    /// `exit_signal`.
    pub exit_signal: u64,
    /// The size passed to the kernel.
    pub size: usize,
    /// A byte to set beyond the known struct: `(offset, value)`.
    pub tail: Option<(usize, u8)>,
    /// `set_tid`.
    pub set_tid: Vec<i32>,
    /// `cgroup`.
    pub cgroup: u64,
    /// `tls`.
    pub tls: u64,
}

impl Clone3 {
    /// `flags`, exit signal 0, the full 88-byte struct.
    pub fn new(flags: u64) -> Clone3 {
        Clone3 {
            flags,
            exit_signal: 0,
            size: crate::sys::CLONE_ARGS_SIZE_VER2,
            tail: None,
            set_tid: Vec::new(),
            cgroup: 0,
            tls: 0,
        }
    }

    /// Sets the exit signal.
    pub fn exit_signal(mut self, sig: u64) -> Clone3 {
        self.exit_signal = sig;
        self
    }

    /// Sets the struct size.
    pub fn size(mut self, size: usize) -> Clone3 {
        self.size = size;
        self
    }

    /// Sets a byte beyond the known struct.
    pub fn tail(mut self, offset: usize, value: u8) -> Clone3 {
        self.tail = Some((offset, value));
        self
    }

    /// Sets `set_tid`.
    pub fn set_tid(mut self, tids: &[i32]) -> Clone3 {
        self.set_tid = tids.to_vec();
        self
    }

    fn fill(&self, buf: &mut ArgsBuf, pidfd: &mut i32) {
        let parent_tid = TID_SCRATCH[0].as_ptr() as u64;
        let child_tid = TID_SCRATCH[1].as_ptr() as u64;
        let a = buf.args_mut();
        a.flags = self.flags;
        a.exit_signal = self.exit_signal;
        a.pidfd = pidfd as *mut i32 as u64;
        a.parent_tid = parent_tid;
        a.child_tid = child_tid;
        a.tls = self.tls;
        a.cgroup = self.cgroup;
        if !self.set_tid.is_empty() {
            a.set_tid = self.set_tid.as_ptr() as u64;
            a.set_tid_size = self.set_tid.len() as u64;
        }
        if let Some((off, v)) = self.tail {
            buf.set_byte(off, v);
        }
    }

    fn finish(&self, pid: i32, pidfd: i32) -> Spawned {
        let pidfd = if self.flags & crate::sys::CLONE_PIDFD != 0 && pidfd >= 0 {
            // SAFETY: With `CLONE_PIDFD` the kernel stored a new file descriptor that nothing
            // else owns.
            Some(unsafe { OwnedFd::from_raw_fd(pidfd) })
        } else {
            None
        };
        Spawned { pid, pidfd }
    }

    /// Creates a child that runs `mode` in assembly (see [`clone3_asm`]).
    pub fn spawn(&self, mode: ChildMode) -> Result<Spawned, Errno> {
        assert!(
            !(mode == ChildMode::CleanPause && self.flags & crate::sys::CLONE_FILES != 0),
            "CleanPause with CLONE_FILES would close the caller's files"
        );
        let mut buf = ArgsBuf::default();
        let mut pidfd: i32 = -1;
        self.fill(&mut buf, &mut pidfd);
        // SAFETY: `buf` is 8 KiB; `pidfd` outlives the call (the kernel writes it in the parent
        // before returning), the tid pointers are statics, `set_tid` points into `self`.
        let pid = unsafe { clone3_asm(buf.as_mut_ptr(), self.size, mode) }?;
        Ok(self.finish(pid, pidfd))
    }

    /// Creates a fork-like child that runs `f` and `_exit()`s with its return value (101 if it
    /// panics). Flags that share memory or the thread group are refused (panic).
    pub fn spawn_fn<F: FnOnce() -> i32>(&self, f: F) -> Result<Spawned, Errno> {
        assert_eq!(
            self.flags
                & (CLONE_VM
                    | CLONE_THREAD
                    | CLONE_SIGHAND
                    | CLONE_SETTLS
                    | CLONE_CHILD_CLEARTID
                    | CLONE_CHILD_SETTID
                    | CLONE_PARENT_SETTID),
            0,
            "spawn_fn needs a fork-like clone"
        );
        let mut buf = ArgsBuf::default();
        let mut pidfd: i32 = -1;
        self.fill(&mut buf, &mut pidfd);
        // SAFETY: A fork-like clone (no shared memory, checked above): the child continues on a
        // copy of this thread; `buf` is 8 KiB and its pointers are valid (see `spawn`).
        let ret = unsafe { crate::sys::clone3_raw(buf.as_mut_ptr() as *mut CloneArgs, self.size) };
        if ret < 0 {
            return Err(Errno::last());
        }
        if ret == 0 {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: Ends the child without running destructors or atexit handlers that belong
            // to the parent's state.
            unsafe { libc::_exit(code) };
        }
        Ok(self.finish(ret as i32, pidfd))
    }
}

/// Forks (plain `fork()`), runs `f` in the child and `_exit()`s with its return value (101 if
/// it panics). Returns the child's pid.
pub fn fork_fn<F: FnOnce() -> i32>(f: F) -> Result<i32, Errno> {
    // SAFETY: `fork()`; the child runs `f` and `_exit()`s, never returning into the caller.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno::last());
    }
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: Ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}
