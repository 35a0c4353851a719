# SPDX-License-Identifier: GPL-2.0
"""The static comparison of the two vmlinux images: the paths of the pidfs
release of a pidfd that is not armed, of the validation of the clone flags
and of copy_process() up to its first other call, followed with concrete
inputs, and their report (static.txt, static.json)."""

from . import KERNELS
from .path import Image, Machine

# Inputs of the paths the static comparison follows.
SIGCHLD = 17
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_VFORK, CLONE_THREAD = 0x1000, 0x4000, 0x10000
CLONE_SYSVSEM, CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = \
    0x40000, 0x80000, 0x100000, 0x200000
CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD_AUTOKILL = 1 << 34, 1 << 35, 1 << 36
VALIDATION_INPUTS = [
    # name, clone_flags, exit_signal, whether copy_process() reaches the
    # validation before any call; the first is printed in full.
    ("fork()", 0, SIGCHLD, True),
    ("clone3(CLONE_PIDFD)", CLONE_PIDFD, SIGCHLD, True),
    ("posix_spawn (CLONE_VM|CLONE_VFORK)", CLONE_VM | CLONE_VFORK, SIGCHLD, True),
    ("pthread_create", CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
     | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, 0, False),
    ("rejected: AUTOREAP|NNP|PIDFD_AUTOKILL without PIDFD",
     CLONE_AUTOREAP | CLONE_NNP | CLONE_PIDFD_AUTOKILL, 0, True),
]
WINDOW_INPUTS = [v for v in VALIDATION_INPUTS if v[3]]
FILE, INODE, ARGS = 0x1000_0000, 0x2000_0000, 0x3000_0000
# struct kernel_clone_args (include/linux/sched/task.h): flags at 0, the
# int exit_signal after four pointers.
ARGS_EXIT_SIGNAL = 0x28
CHECK = "clone_autokill_flags_check"


def static_paths(img):
    """The paths the comparison follows in one Image: {"release": (path,
    why), "validation": [(name, (path, why))], "copy_process": [(name,
    (path, why))], "inlined": whether CHECK is not a function of its own}."""
    res = {}
    if "pidfs_file_release" in img.syms:
        # release(inode, file) of a file without PIDFD_AUTOKILL: its f_flags
        # read as 0.
        m = Machine(img, {"rdi": INODE, "rsi": FILE})
        res["release"] = m.run(img.syms["pidfs_file_release"][0])
    res["validation"] = []
    res["copy_process"] = []
    for name, flags, sig, window in VALIDATION_INPUTS:
        if CHECK in img.syms:
            m = Machine(img, {"rdi": flags, "rsi": sig})
            res["validation"].append((name, m.run(img.syms[CHECK][0])))
        if "copy_process" in img.syms and window:
            # copy_process(NULL, 0, NUMA_NO_NODE, args) from its entry to
            # its first call after the validation (or, with the validation
            # inlined, to its first call).
            mem = {}
            for i in range(8):
                mem[("", ARGS + i)] = (flags >> (8 * i)) & 0xff
            for i in range(4):
                mem[("", ARGS + ARGS_EXIT_SIGNAL + i)] = (sig >> (8 * i)) & 0xff
            m = Machine(img, {"rdi": 0, "rsi": 0, "rdx": 2 ** 64 - 1, "rcx": ARGS}, mem)
            res["copy_process"].append((name, m.run(img.syms["copy_process"][0],
                                                    stop_call=lambda f: f != CHECK)))
    res["inlined"] = CHECK not in img.syms
    return res


def listing(path):
    """The lines of a path for a listing: each function named once where
    the path enters it, then its instructions by their offset in it."""
    lines, last = [], None
    for fn, off, text in path:
        if fn != last:
            lines.append(f"    <{fn}>:")
            last = fn
        lines.append(f"      +{off:#06x}  {text}")
    return lines


def static_report(vmlinuxes, image=Image):
    """(the text for the terminal, the text for static.txt, the numbers) of
    {kernel: vmlinux}; image(vmlinux) reads one (a test gives its own)."""
    paths = {k: static_paths(image(v)) for k, v in vmlinuxes.items()}
    text, full_text = [], []

    def both(title, get, full=True, terminal=True):
        for t in (text, full_text):
            t.append(title)
        for k in KERNELS:
            got = get(paths[k])
            if got is None:
                for t in (text, full_text):
                    t.append(f"  {k:4}: (not found)")
                continue
            path, why = got
            fns = []
            for fn, _, _ in path:
                if fn not in fns:
                    fns.append(fn)
            line = f"  {k:4}: {len(path)} instructions ({' -> '.join(fns)}; {why})"
            for t in (text, full_text):
                t.append(line)
            if full:
                full_text.extend(listing(path))
                if terminal:
                    text.extend(listing(path))

    both("pidfs release of a pidfd without PIDFD_AUTOKILL (the not-armed path):",
         lambda p: p.get("release"))
    for i, (name, _, _, _) in enumerate(VALIDATION_INPUTS):
        both(f"{CHECK}(), {name}:",
             lambda p, i=i: p["validation"][i][1] if p["validation"] else None,
             terminal=i == 0)
    for k in KERNELS:
        if paths[k]["inlined"]:
            for t in (text, full_text):
                t.append(f"  ({k}: {CHECK} is not a function of its own: "
                         "inlined into copy_process)")
    for i, (name, _, _, _) in enumerate(WINDOW_INPUTS):
        both(f"copy_process() from its entry to its first other call, {name}:",
             lambda p, i=i: p["copy_process"][i][1] if p["copy_process"] else None,
             terminal=False)
    static = {k: {
        "release": [f"{fn}+{off:#x}: {t}" for fn, off, t in paths[k]["release"][0]]
        if "release" in paths[k] else None,
        "validation": {n: [f"{fn}+{off:#x}: {t}" for fn, off, t in p[0]]
                       for n, p in paths[k]["validation"]},
        "copy_process": {n: len(p[0]) for n, p in paths[k]["copy_process"]},
        "validation_inlined": paths[k]["inlined"],
    } for k in KERNELS}
    return text, full_text, static
