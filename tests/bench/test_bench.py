#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of scripts/bench.py's parts (scripts/benchlib/): the x86-64 path
interpreter on llvm-objdump listings recorded from the rust and the c
kernel (testdata/), and the statistics on a tiny made-up run.

    python3 -B tests/bench/test_bench.py
    python3 -B tests/bench/test_bench.py --record RUST_VMLINUX C_VMLINUX

The second records testdata/ anew from two built kernels, with the llvm-nm
and llvm-objdump commands bench.py runs: for each kernel the nm lines of
the functions the paths use (symbols.nm) and the listing of each function
the paths run through (FUNCTION.objdump), nothing else. The expected paths
below are those of the kernels the listings come from: a new recording
needs them compared with what `bench.py --static` prints for its kernels.
"""

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))

from benchlib import KERNELS, LIMIT, stats
from benchlib.path import Image, Machine
from benchlib.static import (
    CHECK,
    VALIDATION_INPUTS,
    WINDOW_INPUTS,
    static_paths,
    static_report,
)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")

# The paths the recorded kernels take: (instructions, how the path ends).
RELEASE = {"rust": (5, "returns 0"), "c": (5, "returns 0")}
# The offsets in pidfs_file_release of the not-armed path: the test of the
# file's flag, and its branch straight to the return.
RELEASE_PATH = {
    "rust": [0x0, 0x4, 0x8, 0x16, 0x18],
    "c": [0x0, 0x4, 0x8, 0x55, 0x57],
}
ACCEPTED = "returns 0"
REJECTED = "returns -22"
STOPS = "stops before the call to _raw_spin_lock_irq"
# CHECK() for each of VALIDATION_INPUTS, in their order.
VALIDATION = {
    "rust": [(6, ACCEPTED)] * 4 + [(32, REJECTED)],
    "c": [(14, ACCEPTED)] * 4 + [(26, REJECTED)],
}
# copy_process() up to its first other call, for each of WINDOW_INPUTS.
WINDOW = {
    "rust": [(59, STOPS)] * 3 + [(91, REJECTED)],
    "c": [(67, STOPS)] * 3 + [(85, REJECTED)],
}
REJECTED_INPUT = "rejected: AUTOREAP|NNP|PIDFD_AUTOKILL without PIDFD"
# Of static.txt as `bench.py --static` wrote it for the recorded kernels.
STATIC_TXT_SHA256 = "8ebba9efb0011ef499d1cf2159be415a815eb925655e16e63926e5d5ff0ca5f1"


def read(*path):
    with open(os.path.join(*path)) as f:
        return f.read()


class Recorded(Image):
    """The Image of a recorded kernel, testdata/KERNEL/. A function that was
    not recorded has no code. edit {(function, offset): (old, new)} replaces
    old with new in the instruction at that offset, to see that the paths
    follow the listing."""

    def __init__(self, kernel, edit=None):
        self.dir = os.path.join(DATA, kernel)
        self.edit = edit or {}
        super().__init__(kernel)

    def symbols(self):
        return read(self.dir, "symbols.nm")

    def disassemble(self, start, stop):
        name = self.function_at(start)[2]
        try:
            text = read(self.dir, name + ".objdump")
        except FileNotFoundError:
            return ""
        lines = text.splitlines(keepends=True)
        for (fn, off), (old, new) in self.edit.items():
            if fn != name:
                continue
            at = [i for i, line in enumerate(lines) if line.startswith(f"{start + off:x}:")]
            if len(at) != 1 or old not in lines[at[0]]:
                raise ValueError(f"no {old!r} at {fn}+{off:#x}")
            lines[at[0]] = lines[at[0]].replace(old, new, 1)
        return "".join(lines)


class Listing(Image):
    """An Image of one made-up function, f, from its listing."""

    def __init__(self, listing, start=0x1000):
        self.listing = listing
        self.start = start
        super().__init__("f")

    def symbols(self):
        return f"{self.start:016x} {0x100:016x} T f\n"

    def disassemble(self, start, stop):
        return self.listing


def counts(path_why):
    """(instructions, how it ends) of what Machine.run() returned."""
    path, why = path_why
    return len(path), why


class RecordedPaths(unittest.TestCase):
    """The paths the static comparison follows, on the recorded listings."""

    def check_release(self, k, img):
        path, why = static_paths(img)["release"]
        self.assertEqual((len(path), why), RELEASE[k])
        self.assertEqual([(fn, off) for fn, off, _ in path],
                         [("pidfs_file_release", off) for off in RELEASE_PATH[k]])

    def check_validation(self, k, img):
        res = static_paths(img)["validation"]
        self.assertEqual([n for n, _ in res], [v[0] for v in VALIDATION_INPUTS])
        self.assertEqual([counts(p) for _, p in res], VALIDATION[k])
        for _, (path, _) in res:
            self.assertEqual({fn for fn, _, _ in path}, {CHECK})

    def test_release_not_armed(self):
        for k in RELEASE:
            with self.subTest(kernel=k):
                self.check_release(k, Recorded(k))
        # Its flag test reads the file's f_flags, 0: no PIDFD_AUTOKILL.
        path, _ = static_paths(Recorded("rust"))["release"]
        self.assertEqual(path[1][2], "testb\t$0x2, 0x29(%rsi)")
        self.assertTrue(path[2][2].startswith("je\t"))

    def test_validation(self):
        for k in VALIDATION:
            with self.subTest(kernel=k):
                self.check_validation(k, Recorded(k))

    def test_copy_process_window(self):
        for k, window in WINDOW.items():
            with self.subTest(kernel=k):
                res = static_paths(Recorded(k))
                self.assertFalse(res["inlined"])
                self.assertEqual([n for n, _ in res["copy_process"]],
                                 [v[0] for v in WINDOW_INPUTS])
                self.assertEqual([counts(p) for _, p in res["copy_process"]], window)
                # Into the validation and back, then to the next call.
                for _, (path, _) in res["copy_process"]:
                    entered = [fn for i, (fn, _, _) in enumerate(path)
                               if i == 0 or path[i - 1][0] != fn]
                    self.assertEqual(entered, ["copy_process", CHECK, "copy_process"])

    def test_report(self):
        text, full_text, static = static_report({"rust": "rust", "c": "c"}, image=Recorded)
        self.assertEqual(text[0], "pidfs release of a pidfd without PIDFD_AUTOKILL "
                                  "(the not-armed path):")
        self.assertEqual(text[1], f"  rust: {RELEASE['rust'][0]} instructions "
                                  f"(pidfs_file_release; {RELEASE['rust'][1]})")
        i = text.index(f"{CHECK}(), {REJECTED_INPUT}:")
        for k, line in zip(KERNELS, text[i + 1:i + 3], strict=True):
            n, why = VALIDATION[k][-1]
            self.assertEqual(line, f"  {k:4}: {n} instructions ({CHECK}; {why})")
        # static.txt has every listing: a header and a summary line per
        # kernel and path, a function line where the path enters one.
        paths = 1 + len(VALIDATION_INPUTS) + len(WINDOW_INPUTS)
        insns = sum(n for k in KERNELS
                    for n, _ in [RELEASE[k], *VALIDATION[k], *WINDOW[k]])
        entries = 2 * (1 + len(VALIDATION_INPUTS) + 3 * len(WINDOW_INPUTS))
        self.assertEqual(len(full_text), paths * 3 + insns + entries)
        self.assertEqual(hashlib.sha256(("\n".join(full_text) + "\n").encode()).hexdigest(),
                         STATIC_TXT_SHA256)
        # static.json's part, kept in summary.json.
        for k in KERNELS:
            self.assertEqual(len(static[k]["release"]), RELEASE[k][0])
            self.assertEqual(static[k]["copy_process"],
                             {v[0]: n for v, (n, _) in zip(WINDOW_INPUTS, WINDOW[k],
                                                           strict=True)})
            self.assertFalse(static[k]["validation_inlined"])

    def test_edited_listing_changes_the_path(self):
        # The branch of the release's flag test turned around: the path goes
        # on into the armed branch, to the call of pidfs_autokill() (not
        # recorded), and the check of the path fails.
        edit = {("pidfs_file_release", 0x8): ("je\t", "jne\t")}
        path, why = static_paths(Recorded("rust", edit))["release"]
        self.assertTrue(path[-1][2].endswith("<pidfs_autokill>"))
        self.assertNotEqual((len(path), why), RELEASE["rust"])
        with self.assertRaises(AssertionError):
            self.check_release("rust", Recorded("rust", edit))
        # PIDFD_AUTOKILL (bit 36) tested as bit 32: the rejected flags pass.
        edit = {(CHECK, 0x6e): ("$0x24", "$0x20")}
        res = static_paths(Recorded("rust", edit))["validation"]
        self.assertEqual(res[-1][0], REJECTED_INPUT)
        self.assertEqual(res[-1][1][1], ACCEPTED)
        self.assertNotEqual(len(res[-1][1][0]), VALIDATION["rust"][-1][0])
        with self.assertRaises(AssertionError):
            self.check_validation("rust", Recorded("rust", edit))
        # Another error code: the same instructions, another result.
        edit = {(CHECK, 0x96): ("$0xffffffea", "$0xfffffff2")}
        res = static_paths(Recorded("rust", edit))["validation"]
        self.assertEqual(counts(res[-1][1]), (32, "returns -14"))
        # An edit that does not match its line is refused.
        with self.assertRaises(ValueError):
            static_paths(Recorded("rust", {(CHECK, 0x96): ("$0x24", "$0x20")}))


class Interpreter(unittest.TestCase):
    """A few instructions on made-up listings: f, one instruction every 4
    bytes from 0x1000."""

    def run_f(self, body, **regs):
        lines = [f"{0x1000 + 4 * i:x}:      \t{text}" for i, text in enumerate(body)]
        return Machine(Listing("\n".join(lines) + "\n"), regs).run(0x1000)

    def returns(self, body, **regs):
        return self.run_f(body, **regs)[1]

    def test_signed_compare_and_cmov(self):
        body = ["movl\t$0x1, %eax",
                "cmpl\t$0x5, %edi",
                "jl\t0x1010 <f+0x10>",
                "xorl\t%eax, %eax",
                "movl\t$0xffffffff, %ecx",
                "cmovll\t%ecx, %eax",
                "retq"]
        self.assertEqual(counts(self.run_f(body, rdi=2 ** 32 - 3)), (6, "returns -1"))
        # INT_MIN - 5 overflows: less all the same.
        self.assertEqual(self.returns(body, rdi=2 ** 31), "returns -1")
        self.assertEqual(counts(self.run_f(body, rdi=5)), (7, "returns 0"))
        self.assertEqual(counts(self.run_f(body, rdi=7)), (7, "returns 0"))

    def test_unsigned_compare(self):
        body = ["xorl\t%eax, %eax",
                "cmpl\t%esi, %edi",
                "jb\t0x1010 <f+0x10>",
                "movl\t$0x1, %eax",
                "retq"]
        self.assertEqual(self.returns(body, rdi=4, rsi=5), "returns 0")
        self.assertEqual(self.returns(body, rdi=5, rsi=5), "returns 1")
        self.assertEqual(self.returns(body, rdi=2 ** 32 - 1, rsi=1), "returns 1")

    def test_overflow(self):
        body = ["movl\t%edi, %eax",
                "addl\t$0x1, %eax",
                "jo\t0x1010 <f+0x10>",
                "xorl\t%eax, %eax",
                "retq"]
        self.assertEqual(self.returns(body, rdi=2 ** 31 - 1), f"returns {-2 ** 31}")
        self.assertEqual(self.returns(body, rdi=1), "returns 0")

    def test_rip_relative(self):
        # Relative to the next instruction.
        self.assertEqual(self.returns(["leaq\t0x10(%rip), %rax", "retq"]),
                         f"returns {0x1004 + 0x10}")

    def test_partial_registers(self):
        # A 32-bit write clears the upper half, narrower ones keep the rest.
        self.assertEqual(self.returns(["movq\t$-0x1, %rax",
                                       "movl\t$0x1, %eax",
                                       "shrq\t$0x20, %rax",
                                       "retq"]), "returns 0")
        self.assertEqual(self.returns(["movl\t$0xffffffff, %eax",
                                       "movw\t$0x1, %ax",
                                       "retq"]), f"returns {0xffff0001 - 2 ** 32}")
        self.assertEqual(self.returns(["xorl\t%eax, %eax",
                                       "movb\t$0x2, %ah",
                                       "movb\t$0x3, %al",
                                       "retq"]), f"returns {0x203}")

    def test_shifts(self):
        for mn, edi, ret in (("shll", 3, 48), ("shrl", 0x30, 3), ("sarl", 2 ** 32 - 32, -2)):
            body = ["movl\t%edi, %eax", f"{mn}\t$0x4, %eax", "retq"]
            self.assertEqual(self.returns(body, rdi=edi), f"returns {ret}")

    def test_stack_call_and_sign_extension(self):
        body = ["pushq\t%rdi",
                "movsbl\t(%rsp), %eax",
                "popq\t%rcx",
                "retq"]
        self.assertEqual(self.returns(body, rdi=0x80), "returns -128")
        self.assertEqual(self.returns(body, rdi=0x7f), "returns 127")
        body = ["pushq\t%rdi",
                "pushq\t%rsi",
                "popq\t%rax",
                "popq\t%rcx",
                "subl\t%ecx, %eax",
                "retq"]
        self.assertEqual(self.returns(body, rdi=2, rsi=7), "returns 5")
        # A call returns to the instruction after it; the path goes on.
        body = ["callq\t0x100c <f+0xc>",
                "addl\t$0x1, %eax",
                "retq",
                "movl\t$0x29, %eax",
                "retq"]
        path, why = self.run_f(body)
        self.assertEqual(why, "returns 42")
        self.assertEqual([off for _, off, _ in path], [0x0, 0xc, 0x10, 0x4, 0x8])

    def test_stops(self):
        self.assertEqual(self.returns(["callq\t*%rax"]), "stopped: callq *%rax")
        self.assertEqual(self.returns(["cpuid"]), "stopped: unsupported instruction cpuid")
        self.assertEqual(self.returns(["jmp\t0x1000 <f>"]), "too long")
        self.assertEqual(self.returns(["jmp\t0x2000 <g>"]), "no code at 0x2000")


class Statistics(unittest.TestCase):
    """The statistics on a tiny made-up run."""

    def test_trimmed_mean(self):
        self.assertEqual(stats.trimmed_mean(range(1, 11)), 5.5)
        # 20% off each end: of ten, the third to the eighth.
        self.assertEqual(stats.trimmed_mean([7, 1, 1, 1, 1, 2, 3, 4, 5, 6]), 16 / 6)
        # The interrupted operations at either end do not count.
        self.assertEqual(stats.trimmed_mean([10] * 8 + [1000, 5000]), 10)
        self.assertEqual(stats.trimmed_mean([1, 10, 10, 10, 10, 10, 10, 10, 10, 1000]), 10)

    def test_stats(self):
        # The mean over the runs, not their median.
        s = stats.stats([{"ops": [10, 10, 10, 10, 99]}, {"ops": [20, 20, 20, 20, 20]},
                         {"ops": [63, 60, 99, 58, 60]}])
        self.assertEqual(s["runs"], [10, 20, 61])
        self.assertEqual(s["tmean"], 91 / 3)
        self.assertEqual(s["median"], 90 / 3)
        self.assertAlmostEqual(s["mean"], (139 / 5 + 20 + 340 / 5) / 3)
        self.assertEqual(s["n"], 15)

    def test_spread(self):
        self.assertAlmostEqual(stats.spread([99, 100, 101]), 0.02)
        self.assertEqual(stats.spread([0, 0]), 0.0)

    def test_linear_fit(self):
        self.assertEqual(stats.linear_fit([1, 10, 100], [7, 25, 205]), (2, 5, 0))
        b, a, dev = stats.linear_fit([1, 10, 100, 1000], [7, 25, 205, 2205])
        self.assertEqual((b, a), (2, 205))
        self.assertAlmostEqual(dev, 0.1111111, places=6)

    def results(self, d, rust_boot2=1.0):
        """Two boots of each kernel, two runs a boot, one case: c's middle
        operation costs 100, its trimmed mean 101; rust's 101 and 102, the
        cost times rust_boot2 in its second boot."""
        for boot in (1, 2):
            for k, cost in (("rust", 101 * (rust_boot2 if boot == 2 else 1)), ("c", 100)):
                with open(os.path.join(d, f"{boot}-{k}.json"), "w") as f:
                    f.write("autokill-bench: not a record\n")
                    for _ in range(2):
                        ops = [cost] * 5 + [cost + 2] * 4 + [10 * cost]
                        f.write(json.dumps({"case": "pidfd_close", "ops": ops}) + "\n")
                        f.write(json.dumps({"calibration": "insn_loop", "n": [1, 10, 100],
                                            "counts": [6, 24, 204]}) + "\n")
        with open(os.path.join(d, "3-rust.env"), "w") as f:
            f.write("{not a result}\n")

    def test_summary(self):
        with tempfile.TemporaryDirectory() as d:
            self.results(d)
            runs = stats.load(d)
            self.assertEqual([b for b, _, _ in runs["rust"]], [1, 2])
            self.assertEqual(len(runs["c"][0][1]["pidfd_close"]), 2)
            summary, cal = stats.summarise(runs, "insns")
        e = summary["pidfd_close"]
        self.assertEqual((e["rust"]["tmean"], e["c"]["tmean"]), (102, 101))
        self.assertEqual((e["rust"]["median"], e["c"]["median"]), (101, 100))
        self.assertEqual(e["ratio"], 102 / 101)
        self.assertEqual(e["ratio_median"], 101 / 100)
        self.assertEqual(e["ratio_per_boot"], [102 / 101, 102 / 101])
        self.assertEqual(e["rust"]["spread_tmean"], 0)
        self.assertEqual([f["per_n"] for f in cal["insn_loop"]["c"]], [2, 2])
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertTrue(stats.print_checks(summary, cal, "insns"))
            stats.print_table(summary, "insns")
        self.assertIn("pidfd_close", out.getvalue())
        self.assertIn(" 1.0099 ", out.getvalue())

    def test_spread_check_fails(self):
        # One rust boot about twice the limit off the other: the check fails.
        with tempfile.TemporaryDirectory() as d:
            self.results(d, rust_boot2=1 + 2 * LIMIT)
            summary, cal = stats.summarise(stats.load(d), "insns")
        spread = summary["pidfd_close"]["rust"]["spread_tmean"]
        self.assertGreater(spread, 1.9 * LIMIT)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertFalse(stats.print_checks(summary, cal, "insns"))
        self.assertIn(f"rust kernel, 2 boots: largest spread across boots {100 * spread:.4f}% "
                      "(pidfd_close, insns/op)", out.getvalue())
        self.assertIn("NOT below 0.1%", out.getvalue())


def record(kernel, vmlinux):
    """Records testdata/KERNEL/ from a built vmlinux: what static_paths()
    reads of it."""
    used, listings = set(), {}

    class Recording(Image):
        def function_at(self, addr):
            fn = super().function_at(addr)
            if fn:
                used.add(fn[2])
            return fn

        def disassemble(self, start, stop):
            text = super().disassemble(start, stop)
            # The listing names the file it read: not where it was.
            listings[self.function_at(start)[2]] = text.replace(vmlinux + ":", "vmlinux:", 1)
            return text

    img = Recording(vmlinux)
    static_paths(img)
    d = os.path.join(DATA, kernel)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "symbols.nm"), "w") as f:
        f.writelines(line + "\n" for line in img.symbols().splitlines()
                     if line.split()[-1] in used)
    for name, text in listings.items():
        with open(os.path.join(d, name + ".objdump"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:
        if len(sys.argv) != 4:
            sys.exit(__doc__)
        record("rust", sys.argv[2])
        record("c", sys.argv[3])
        sys.exit(0)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import ktap_unittest

    sys.exit(ktap_unittest.run(sys.modules[__name__]))
