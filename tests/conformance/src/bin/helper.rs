// SPDX-License-Identifier: GPL-2.0

//! `autokill-helper NOTIFY_FD [FD]`: exec'd by the conformance cases and the stress test.
//!
//! Writes one line to `NOTIFY_FD`: `ruid euid no_new_privs flags`, where `flags` is
//! `fcntl(FD, F_GETFL)` of the inherited `FD` (-1 if it is not open or not given), closes
//! `NOTIFY_FD` and then waits in `pause()` until it is killed, holding `FD`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(notify) = args.get(1).and_then(|a| a.parse::<i32>().ok()) else {
        eprintln!("usage: autokill-helper NOTIFY_FD [FD]");
        std::process::exit(2);
    };
    let flags = match args.get(2).and_then(|a| a.parse::<i32>().ok()) {
        // SAFETY: fcntl with integer arguments.
        Some(fd) => unsafe { libc::fcntl(fd, libc::F_GETFL) },
        None => -1,
    };
    // SAFETY: Plain system calls with integer arguments.
    let (ruid, euid, nnp) = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
        )
    };
    let line = format!("{ruid} {euid} {nnp} {flags}\n");
    // SAFETY: Writes the bytes of `line` to the inherited fd, then closes it.
    unsafe {
        libc::write(notify, line.as_ptr().cast(), line.len());
        libc::close(notify);
    }
    loop {
        // SAFETY: pause has no arguments.
        unsafe { libc::pause() };
    }
}
