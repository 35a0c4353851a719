#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise a `make bench` run: per case the cost of one operation on each
kernel, the Rust/C ratio and the spread across boots; the calibration
checks; a static comparison of the two vmlinux images; an SVG of the ratios.

Usage: bench.py --static RESULTS_DIR RUST_VMLINUX C_VMLINUX
       bench.py RESULTS_DIR
The first writes RESULTS_DIR/static.txt (every listing) and static.json.
The second reads RESULTS_DIR/meta.json (written by bench.sh), N-rust.json
and N-c.json (what the BENCH_RUNS autokill-bench processes of boot N
printed) and static.json, prints the checks, the table and the static
comparison, and writes summary.json and ratios.svg. With only one kernel's
files (`bench.sh --check`) it prints the checks alone. In instruction mode
it exits 1 if a check fails.
"""

import bisect
import glob
import json
import os
import re
import statistics
import subprocess
import sys
from xml.sax.saxutils import escape

OBJDUMP = "llvm-objdump-19"
NM = "llvm-nm-19"
KERNELS = ("rust", "c")
# The cases a boot-to-boot spread or a ratio is judged by: +-0.1%.
LIMIT = 0.001


# ---------------------------------------------------------------- results

def load(results):
    """{kernel: [(boot, {case: [record, ...]}, {calibration: record})]}

    A boot's file holds BENCH_RUNS runs of autokill-bench, one after the
    other: a case's records in run order. The calibration of the first run
    is kept."""
    runs = {k: [] for k in KERNELS}
    for path in sorted(glob.glob(os.path.join(results, "*-*.json"))):
        m = re.match(r"(\d+)-(rust|c)\.json$", os.path.basename(path))
        if not m:
            continue
        cases, cal = {}, {}
        with open(path) as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                d = json.loads(line)
                if "case" in d:
                    cases.setdefault(d["case"], []).append(d)
                elif "calibration" in d:
                    cal.setdefault(d["calibration"], d)
        runs[m.group(2)].append((int(m.group(1)), cases, cal))
    for k in runs:
        runs[k].sort(key=lambda r: r[0])
    return runs


def trimmed_mean(ops, cut=0.2):
    """The mean of the middle 60%: what a typical operation costs, without
    the timer ticks and other interrupts that land in some of them.

    Not the middle 80%: of 2000 rejected clone3() calls every 8th costs
    about 1100 instructions more (12.5% of the calls), so a 10% cut falls
    inside that group and each interrupted call moves the mean by 0.06%;
    with 20% cut on each side the result is the same in every boot."""
    s = sorted(ops)
    k = int(len(s) * cut)
    return statistics.fmean(s[k:len(s) - k])


def stats(records):
    """One boot's value of a case: each run's trimmed mean (and median),
    then their mean over the runs.

    Over the runs, not over all operations: within one process the cost of
    an operation is steady (the first and last third of a run agree within
    about 0.03%), but it moves from one process to the next by up to 0.2%
    in fork-heavy cases. That part is the process's place in the boot, the
    same in every boot and in both kernels (the third of five costs about
    600 instructions more in accepted_clone3 and autokill_cycle, the fifth
    about 300 more in autokill_cycle): the mean over the runs weighs every
    place alike in every boot, where their median picked whichever process
    fell in the middle and moved by 150 instructions from boot to boot. In
    some boots every process runs about 900 instructions an operation
    cheaper; no statistic over one boot's processes hides that."""
    runs = [r["ops"] for r in records]
    tmeans = [trimmed_mean(ops) for ops in runs]
    medians = [statistics.median_low(ops) for ops in runs]
    return {"tmean": statistics.fmean(tmeans), "median": statistics.fmean(medians),
            "mean": statistics.fmean(statistics.fmean(ops) for ops in runs),
            "runs": tmeans, "n": sum(len(ops) for ops in runs)}


def spread(values):
    """(max - min) / median of the per-boot values."""
    m = statistics.median(values)
    return (max(values) - min(values)) / m if m else 0.0


def linear_fit(ns, counts):
    """The cost of one more step between successive n (count(n_i) -
    count(n_i-1)) / (n_i - n_i-1): (their median, the median's intercept,
    the largest relative deviation of a step cost from the median)."""
    steps = [(c1 - c0) / (n1 - n0) for n0, n1, c0, c1 in zip(ns, ns[1:], counts, counts[1:])]
    b = statistics.median(steps)
    dev = max(abs(x - b) / b for x in steps)
    return b, counts[-1] - b * ns[-1], dev


def summarise(runs, unit):
    cases = []
    for k in KERNELS:
        for _, c, _ in runs[k]:
            cases += [x for x in c if x not in cases]
    out = {}
    for case in cases:
        entry = {}
        for k in KERNELS:
            per_boot = [stats(c[case]) for _, c, _ in runs[k] if case in c]
            if not per_boot:
                continue
            entry[k] = {
                "per_boot": per_boot,
                "tmean": statistics.median(b["tmean"] for b in per_boot),
                "median": statistics.median(b["median"] for b in per_boot),
                "mean": statistics.median(b["mean"] for b in per_boot),
                "spread_tmean": spread([b["tmean"] for b in per_boot]),
                "spread_median": spread([b["median"] for b in per_boot]),
            }
        if "rust" in entry and "c" in entry:
            r, c = entry["rust"], entry["c"]
            entry["ratio"] = r["tmean"] / c["tmean"]
            entry["ratio_median"] = r["median"] / c["median"]
            entry["ratio_per_boot"] = [a["tmean"] / b["tmean"]
                                       for a, b in zip(r["per_boot"], c["per_boot"])]
        out[case] = entry
    cal = {}
    for k in KERNELS:
        for boot, _, cals in runs[k]:
            for name, d in cals.items():
                b, a, dev = linear_fit(d["n"], d["counts"])
                cal.setdefault(name, {}).setdefault(k, []).append(
                    {"boot": boot, "per_n": b, "constant": a, "deviation": dev,
                     "n": d["n"], "counts": d["counts"]})
    return out, cal


def print_checks(summary, cal, unit):
    """Prints the checks; whether they pass (instruction mode): every case
    within LIMIT across the boots of each kernel, the user loop exactly 2
    instructions an iteration, getppid() loops linear within 0.5% (the
    timer ticks that land in the longest loops count too)."""
    ok = True
    print("Checks (does the clock count instructions, linearly, and the same every boot?):")
    for k in KERNELS:
        rows = [(case, e[k]) for case, e in summary.items() if k in e]
        if not rows:
            continue
        boots = len(rows[0][1]["per_boot"])
        worst = max(rows, key=lambda r: r[1]["spread_tmean"])
        worst_med = max(rows, key=lambda r: r[1]["spread_median"])
        good = worst[1]["spread_tmean"] < LIMIT
        ok &= good
        print(f"  {k} kernel, {boots} boots: largest spread across boots "
              f"{100 * worst[1]['spread_tmean']:.4f}% ({worst[0]}, insns/op), "
              f"{100 * worst_med[1]['spread_median']:.4f}% ({worst_med[0]}, median): "
              + ("below 0.1%" if good else "NOT below 0.1%"))
    for name, what, good in (
            ("getppid_loop", "getppid() calls", lambda per, dev: dev < 0.005),
            ("insn_loop", "iterations of a 2-instruction user loop",
             lambda per, dev: all(abs(p - 2) < 1e-4 for p in per) and dev < 1e-4)):
        for k, fits in cal.get(name, {}).items():
            per = [f["per_n"] for f in fits]
            dev = max(f["deviation"] for f in fits)
            ns = fits[0]["n"]
            passed = good(per, dev)
            ok &= passed or unit != "insns"
            print(f"  {k}: {ns[0]}..{ns[-1]} {what}: {min(per):.4f}..{max(per):.4f} {unit} each "
                  f"over {len(fits)} boots; from one n to the next (x10) at most {100 * dev:.4f}% "
                  f"off" + ("" if unit != "insns" else ": linear" if passed else ": NOT linear"))
            for f in fits:
                steps = [(c1 - c0) / (n1 - n0) for n0, n1, c0, c1
                         in zip(f["n"], f["n"][1:], f["counts"], f["counts"][1:])]
                print(f"    boot {f['boot']}: n = {', '.join(map(str, f['n']))}: "
                      f"{', '.join(map(str, f['counts']))} {unit}; per step "
                      f"{', '.join(f'{x:.3f}' for x in steps)}")
    return ok


def print_table(summary, unit):
    print(f"{'case':16} {'rust ' + unit + '/op':>14} {'c ' + unit + '/op':>12} {'rust-c':>9}"
          f" {'Rust/C':>7} {'per boot min..max':>17} {'spread rust':>11} {'spread c':>9}"
          f" {'median rust':>12} {'median c':>10}")
    for case, e in summary.items():
        if "ratio" not in e:
            continue
        r, c = e["rust"], e["c"]
        pb = e["ratio_per_boot"]
        print(f"{case:16} {r['tmean']:14.1f} {c['tmean']:12.1f} {r['tmean'] - c['tmean']:+9.1f}"
              f" {e['ratio']:7.4f} {min(pb):8.4f}..{max(pb):7.4f} {100 * r['spread_tmean']:10.4f}%"
              f" {100 * c['spread_tmean']:8.4f}% {r['median']:12.1f} {c['median']:10.1f}")
    print(f"{unit}/op: the value of one boot (above), median over the boots; Rust/C: their ratio; "
          "per boot: the ratio of boot i of each kernel; spread: (max - min) / median of the "
          "per-boot values")


# --------------------------------------------------------- static analysis

class Image:
    """The functions of a vmlinux, disassembled on demand."""

    def __init__(self, vmlinux):
        self.vmlinux = vmlinux
        self.syms = {}
        starts = []
        out = subprocess.run([NM, "-S", "--defined-only", vmlinux],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 4 and f[2] in "tTW":
                addr, size = int(f[0], 16), int(f[1], 16)
                if size:
                    self.syms.setdefault(f[3], (addr, size))
                    starts.append((addr, addr + size, f[3]))
        starts.sort()
        self.ranges = starts
        self.keys = [s[0] for s in starts]
        self.code = {}
        self.loaded = set()

    def function_at(self, addr):
        i = bisect.bisect_right(self.keys, addr) - 1
        while i >= 0 and self.ranges[i][0] <= addr:
            if addr < self.ranges[i][1]:
                return self.ranges[i]
            i -= 1
        return None

    def load(self, addr):
        fn = self.function_at(addr)
        if fn is None or fn[0] in self.loaded:
            return
        self.loaded.add(fn[0])
        out = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", f"--start-address={fn[0]:#x}",
                              f"--stop-address={fn[1]:#x}", self.vmlinux],
                             capture_output=True, text=True, check=True).stdout
        insns = []
        for line in out.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+(\S.*)$", line)
            if m:
                insns.append((int(m.group(1), 16), m.group(2).strip()))
        for i, (a, text) in enumerate(insns):
            nxt = insns[i + 1][0] if i + 1 < len(insns) else fn[1]
            self.code[a] = (text, nxt, fn[2], a - fn[0])

    def insn(self, addr):
        if addr not in self.code:
            self.load(addr)
        return self.code.get(addr)


REG64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + [f"r{i}" for i in range(8, 16)]
ALIAS = {}
for _r in REG64:
    ALIAS[_r] = (_r, 8, 0)
for _x in "abcd":
    ALIAS[f"e{_x}x"] = (f"r{_x}x", 4, 0)
    ALIAS[f"{_x}x"] = (f"r{_x}x", 2, 0)
    ALIAS[f"{_x}l"] = (f"r{_x}x", 1, 0)
    ALIAS[f"{_x}h"] = (f"r{_x}x", 1, 8)
for _x in ("si", "di", "bp", "sp"):
    ALIAS[f"e{_x}"] = (f"r{_x}", 4, 0)
    ALIAS[_x] = (f"r{_x}", 2, 0)
    ALIAS[f"{_x}l"] = (f"r{_x}", 1, 0)
for _i in range(8, 16):
    ALIAS[f"r{_i}d"] = (f"r{_i}", 4, 0)
    ALIAS[f"r{_i}w"] = (f"r{_i}", 2, 0)
    ALIAS[f"r{_i}b"] = (f"r{_i}", 1, 0)

CC = {
    "e": lambda f: f["z"], "z": lambda f: f["z"], "ne": lambda f: not f["z"],
    "nz": lambda f: not f["z"], "s": lambda f: f["s"], "ns": lambda f: not f["s"],
    "b": lambda f: f["c"], "c": lambda f: f["c"], "nae": lambda f: f["c"],
    "ae": lambda f: not f["c"], "nb": lambda f: not f["c"], "nc": lambda f: not f["c"],
    "be": lambda f: f["c"] or f["z"], "na": lambda f: f["c"] or f["z"],
    "a": lambda f: not (f["c"] or f["z"]), "nbe": lambda f: not (f["c"] or f["z"]),
    "l": lambda f: f["s"] != f["o"], "nge": lambda f: f["s"] != f["o"],
    "ge": lambda f: f["s"] == f["o"], "nl": lambda f: f["s"] == f["o"],
    "le": lambda f: f["z"] or f["s"] != f["o"], "ng": lambda f: f["z"] or f["s"] != f["o"],
    "g": lambda f: not f["z"] and f["s"] == f["o"], "nle": lambda f: not f["z"] and f["s"] == f["o"],
    "o": lambda f: f["o"], "no": lambda f: not f["o"],
}
SUFFIX = {"b": 1, "w": 2, "l": 4, "q": 8}
BASES = {"mov", "lea", "and", "or", "xor", "test", "add", "sub", "cmp", "inc", "dec", "neg",
         "not", "shl", "shr", "sar", "sal", "bt"}


class Stop(Exception):
    pass


class Machine:
    """Just enough of x86-64 to follow one path through a few functions with
    concrete inputs: registers and stack are exact, every other memory byte
    (the structs the arguments point at, per-CPU data, globals) is 0 unless
    given. So a load of a flag word reads "no flag set"."""

    def __init__(self, image, regs, mem=None):
        self.img = image
        self.r = {n: 0 for n in REG64}
        self.r["rsp"] = 0x7fff_0000_0000
        self.r.update(regs)
        self.mem = dict(mem or {})
        self.f = {"z": False, "s": False, "c": False, "o": False}

    # operands
    @staticmethod
    def split(ops):
        parts, depth, cur = [], 0, ""
        for ch in ops:
            if ch == "," and depth == 0:
                parts.append(cur.strip())
                cur = ""
                continue
            depth += ch == "("
            depth -= ch == ")"
            cur += ch
        if cur.strip():
            parts.append(cur.strip())
        return parts

    def address(self, op, nxt):
        m = re.match(r"(?:%(\w+):)?(-?0x[0-9a-f]+|-?\d+)?(?:\((%\w+)?(?:,(%\w+))?(?:,(\d))?\))?$", op)
        if not m:
            raise Stop(f"operand {op}")
        seg, disp, base, index, scale = m.groups()
        a = int(disp, 0) if disp else 0
        if base == "%rip":
            a += nxt
        elif base:
            a += self.get(base[1:])
        if index:
            a += self.get(index[1:]) * int(scale or 1)
        return (seg or "", a & (2 ** 64 - 1))

    def load(self, addr, size):
        seg, a = addr
        return sum(self.mem.get((seg, a + i), 0) << (8 * i) for i in range(size))

    def store(self, addr, size, v):
        seg, a = addr
        for i in range(size):
            self.mem[(seg, a + i)] = (v >> (8 * i)) & 0xff

    def get(self, reg):
        base, size, shift = ALIAS[reg]
        return (self.r[base] >> shift) & ((1 << (8 * size)) - 1)

    def put(self, reg, v):
        base, size, shift = ALIAS[reg]
        mask = (1 << (8 * size)) - 1
        if size == 4:
            self.r[base] = v & mask
        else:
            self.r[base] = (self.r[base] & ~(mask << shift)) | ((v & mask) << shift)

    def read(self, op, size, nxt):
        if op.startswith("$"):
            return int(op[1:], 0) & ((1 << (8 * size)) - 1)
        if op.startswith("%") and ":" not in op:
            return self.get(op[1:])
        return self.load(self.address(op, nxt), size)

    def write(self, op, size, v, nxt):
        if op.startswith("%") and ":" not in op:
            self.put(op[1:], v)
        else:
            self.store(self.address(op, nxt), size, v)

    def flags(self, res, size, c=False, o=False):
        bits = 8 * size
        res &= (1 << bits) - 1
        self.f = {"z": res == 0, "s": bool(res >> (bits - 1)), "c": c, "o": o}

    def run(self, entry, stop_call=None, limit=4000):
        """Follows the path from `entry` until its return; with
        `stop_call(name)`, also stops before a call at the entry's level to
        a function it accepts. Returns [(function, offset, text)], reason."""
        path, pc, depth = [], entry, 0
        while len(path) < limit:
            ins = self.img.insn(pc)
            if ins is None:
                return path, f"no code at {pc:#x}"
            text, nxt, fn, off = ins
            parsed = text.split("#")[0].split(None, 1)
            mn = parsed[0]
            ops = self.split(parsed[1]) if len(parsed) > 1 else []
            if mn == "lock":
                mn, rest = ops[0].split(None, 1) if ops else ("", "")
                ops = self.split(rest)
            target = None
            if ops and re.match(r"0x[0-9a-f]+ <", ops[0]):
                target = int(ops[0].split()[0], 16)
            if mn.startswith("call") and stop_call and depth == 0 and target is not None:
                callee = self.img.function_at(target)
                if callee and stop_call(callee[2]):
                    return path, f"stops before the call to {callee[2]}"
            path.append((fn, off, text))
            try:
                pc = self.step(mn, ops, target, nxt)
            except Stop as e:
                return path, f"stopped: {e}"
            if mn.startswith("call"):
                depth += 1
            elif mn.startswith("ret"):
                if depth == 0:
                    eax = self.get("eax")
                    return path, f"returns {eax - (1 << 32) if eax >> 31 else eax}"
                depth -= 1
        return path, "too long"

    def step(self, mn, ops, target, nxt):
        if mn in ("endbr64", "nop") or mn.startswith("nop"):
            return nxt
        if mn in ("int3", "ud2", "hlt") or mn.startswith("rep") or any(o.startswith("*") for o in ops):
            raise Stop(mn + " " + ",".join(ops))
        if mn == "jmp":
            if target is None:
                raise Stop("indirect jump")
            return target
        if mn.startswith("j") and mn[1:] in CC:
            return target if CC[mn[1:]](self.f) else nxt
        if mn.startswith("call"):
            if target is None:
                raise Stop("indirect call")
            self.r["rsp"] -= 8
            self.store(("", self.r["rsp"]), 8, nxt)
            return target
        if mn.startswith("ret"):
            a = self.load(("", self.r["rsp"]), 8)
            self.r["rsp"] += 8
            return a
        if mn.startswith("push"):
            v = self.read(ops[0], 8, nxt)
            self.r["rsp"] -= 8
            self.store(("", self.r["rsp"]), 8, v)
            return nxt
        if mn.startswith("pop"):
            v = self.load(("", self.r["rsp"]), 8)
            self.r["rsp"] += 8
            self.write(ops[0], 8, v, nxt)
            return nxt
        if mn == "cltq":
            v = self.get("eax")
            self.r["rax"] = (v - (1 << 32) if v >> 31 else v) & (2 ** 64 - 1)
            return nxt
        m = re.match(r"mov([sz])([bwl])([wlq])$", mn)
        if m:
            s_src, s_dst = SUFFIX[m.group(2)], SUFFIX[m.group(3)]
            v = self.read(ops[0], s_src, nxt)
            if m.group(1) == "s" and v >> (8 * s_src - 1):
                v -= 1 << (8 * s_src)
            self.write(ops[1], s_dst, v & ((1 << (8 * s_dst)) - 1), nxt)
            return nxt
        if mn.startswith("set") and mn[3:] in CC:
            self.write(ops[0], 1, int(CC[mn[3:]](self.f)), nxt)
            return nxt
        if mn.startswith("cmov"):
            cc = mn[4:]
            if cc not in CC:
                cc = cc[:-1]
            size = self.size(mn, ops)
            if CC[cc](self.f):
                self.write(ops[1], size, self.read(ops[0], size, nxt), nxt)
            elif size == 4:
                self.write(ops[1], 4, self.read(ops[1], 4, nxt), nxt)
            return nxt
        base = "mov" if mn == "movabsq" else mn if mn in BASES else mn[:-1]
        if base not in BASES:
            raise Stop(f"unsupported instruction {mn}")
        if base == "lea":
            self.write(ops[1], self.size(mn, ops), self.address(ops[0], nxt)[1], nxt)
            return nxt
        size = self.size(mn, ops)
        mask = (1 << (8 * size)) - 1
        if base == "mov":
            self.write(ops[1], size, self.read(ops[0], size, nxt), nxt)
            return nxt
        if base in ("and", "or", "xor", "test"):
            a, b = self.read(ops[0], size, nxt), self.read(ops[1], size, nxt)
            res = {"and": a & b, "test": a & b, "or": a | b, "xor": a ^ b}[base]
            self.flags(res, size)
            if base != "test":
                self.write(ops[1], size, res, nxt)
            return nxt
        if base in ("add", "sub", "cmp"):
            a, b = self.read(ops[0], size, nxt), self.read(ops[1], size, nxt)
            sign = 1 << (8 * size - 1)
            if base == "add":
                res = b + a
                c, o = res > mask, bool(~(a ^ b) & (a ^ res) & sign)
            else:
                res = b - a
                c, o = a > b, bool((a ^ b) & (b ^ res) & sign)
            self.flags(res, size, c, o)
            if base != "cmp":
                self.write(ops[1], size, res & mask, nxt)
            return nxt
        if base in ("inc", "dec", "neg", "not"):
            v = self.read(ops[0], size, nxt)
            res = {"inc": v + 1, "dec": v - 1, "neg": -v, "not": ~v}[base] & mask
            if base != "not":
                c = self.f["c"] if base != "neg" else v != 0
                self.flags(res, size, c, False)
            self.write(ops[0], size, res, nxt)
            return nxt
        if base in ("shl", "shr", "sar", "sal"):
            n, dst = (self.read(ops[0], 1, nxt), ops[1]) if len(ops) == 2 else (1, ops[0])
            v = self.read(dst, size, nxt)
            if base == "sar" and v >> (8 * size - 1):
                v -= 1 << (8 * size)
            res = (v << n if base in ("shl", "sal") else v >> n) & mask
            self.flags(res, size)
            self.write(dst, size, res, nxt)
            return nxt
        if base == "bt":
            bit = self.read(ops[0], 1, nxt) % (8 * size)
            self.f["c"] = bool((self.read(ops[1], size, nxt) >> bit) & 1)
            return nxt
        raise Stop(f"unsupported instruction {mn}")

    @staticmethod
    def size(mn, ops):
        for o in reversed(ops):
            if o.startswith("%") and ":" not in o and o[1:] in ALIAS:
                return ALIAS[o[1:]][1]
        if mn[-1] in SUFFIX:
            return SUFFIX[mn[-1]]
        raise Stop(f"operand size of {mn}")


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


def static_paths(vmlinux):
    img = Image(vmlinux)
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
    lines, last = [], None
    for fn, off, text in path:
        if fn != last:
            lines.append(f"    <{fn}>:")
            last = fn
        lines.append(f"      +{off:#06x}  {text}")
    return lines


def static_report(vmlinuxes):
    """(the text for the terminal, the text for static.txt, the numbers)."""
    paths = {k: static_paths(v) for k, v in vmlinuxes.items()}
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
                t.append(f"  ({k}: {CHECK} is not a function of its own: inlined into copy_process)")
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


# ------------------------------------------------------------------ picture

def svg(summary, meta, path):
    rows = [(case, e) for case, e in summary.items() if "ratio" in e]
    vals = [x for _, e in rows for x in e["ratio_per_boot"] + [e["ratio"]]]
    lo = min(vals + [1 - 1.5 * LIMIT])
    hi = max(vals + [1 + 1.5 * LIMIT])
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    left, right, top, rowh = 170, 300, 96, 34
    width = 1020
    plot = width - left - right
    height = top + rowh * len(rows) + 60

    def x(v):
        return left + (v - lo) / (hi - lo) * plot

    unit = "instructions" if meta.get("mode") == "insns" else "ns (wall time)"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="24" font-size="16" font-weight="bold">'
           f'Rust/C per operation ({escape(unit)}), {meta.get("boots", "?")} boots per kernel</text>',
           f'<text x="{left}" y="42" fill="#555">{escape(meta.get("date", ""))}, series '
           f'{escape(meta.get("series", "?")[:12])}, '
           f'{escape(meta.get("qemu_opts", "") or "TCG wall clock")}</text>',
           f'<text x="{left}" y="58" fill="#555">dot: Rust/C of the cost per operation (median over '
           'the boots); bar and ticks: the ratio in each boot</text>']
    # The +-0.1% band and the 1.0 line.
    out.append(f'<rect x="{x(1 - LIMIT):.1f}" y="{top - 10}" width="{x(1 + LIMIT) - x(1 - LIMIT):.1f}" '
               f'height="{rowh * len(rows) + 10}" fill="#e8f4e8"/>')
    out.append(f'<line x1="{x(1):.1f}" y1="{top - 10}" x2="{x(1):.1f}" '
               f'y2="{top + rowh * len(rows)}" stroke="#333"/>')
    # Axis ticks.
    step = 10 ** round(__import__("math").log10((hi - lo) / 5))
    t = (int(lo / step) + 1) * step
    ybase = top + rowh * len(rows)
    while t < hi:
        out.append(f'<line x1="{x(t):.1f}" y1="{ybase}" x2="{x(t):.1f}" y2="{ybase + 5}" stroke="#333"/>')
        out.append(f'<text x="{x(t):.1f}" y="{ybase + 19}" text-anchor="middle">{t:.4g}</text>')
        t += step
    out.append(f'<text x="{x(1):.1f}" y="{ybase + 38}" text-anchor="middle" fill="#555">'
               'Rust/C; shaded: within 0.1% of C</text>')
    per_op = "insns" if meta.get("mode") == "insns" else "ns"
    out.append(f'<text x="{width - right + 10}" y="{top - 14}" fill="#555">Rust/C</text>')
    out.append(f'<text x="{width - right + 70}" y="{top - 14}" fill="#555">rust / c {per_op}/op (rust - c)</text>')
    for i, (case, e) in enumerate(rows):
        y = top + rowh * i + rowh / 2
        pb = e["ratio_per_boot"]
        out.append(f'<text x="{left - 10}" y="{y + 4:.1f}" text-anchor="end">{escape(case)}</text>')
        out.append(f'<line x1="{x(min(pb)):.1f}" y1="{y:.1f}" x2="{x(max(pb)):.1f}" y2="{y:.1f}" '
                   'stroke="#1f5fa8" stroke-width="3"/>')
        for v in pb:
            out.append(f'<line x1="{x(v):.1f}" y1="{y - 6:.1f}" x2="{x(v):.1f}" y2="{y + 6:.1f}" '
                       'stroke="#1f5fa8"/>')
        out.append(f'<circle cx="{x(e["ratio"]):.1f}" cy="{y:.1f}" r="4" fill="#c0392b" fill-opacity="0.8"/>')
        out.append(f'<text x="{width - right + 10}" y="{y + 4:.1f}">{e["ratio"]:.4f}</text>')
        out.append(f'<text x="{width - right + 70}" y="{y + 4:.1f}" fill="#555">'
                   f'{e["rust"]["tmean"]:.1f} / {e["c"]["tmean"]:.1f} '
                   f'({e["rust"]["tmean"] - e["c"]["tmean"]:+.1f})</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --------------------------------------------------------------------- main

class Tee:
    """Standard output, also written to a file (summary.txt)."""

    def __init__(self, path):
        self.file = open(path, "w")
        self.stdout = sys.stdout

    def write(self, text):
        self.stdout.write(text)
        self.file.write(text)

    def flush(self):
        self.stdout.flush()
        self.file.flush()


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--static":
        # While the kernels are known to be the ones booted (bench.sh holds
        # the build lock): the static comparison, kept for the summary.
        results, rust_vm, c_vm = sys.argv[2:5]
        text, full_text, static = static_report({"rust": rust_vm, "c": c_vm})
        with open(os.path.join(results, "static.txt"), "w") as f:
            f.write("\n".join(full_text) + "\n")
        with open(os.path.join(results, "static.json"), "w") as f:
            json.dump({"terminal": text, "static": static}, f, indent=1)
        return 0
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = sys.argv[1]
    with open(os.path.join(results, "meta.json")) as f:
        meta = json.load(f)
    sys.stdout = Tee(os.path.join(results, "summary.txt"))
    unit = meta.get("mode", "insns")
    runs = load(results)
    summary, cal = summarise(runs, unit)
    kernels = [k for k in KERNELS if runs[k]]
    if not kernels:
        sys.exit(f"bench.py: no results in {results}")
    boots = len(runs[kernels[0]])
    print()
    if unit == "insns":
        print(f"Guest instructions per operation (QEMU {meta.get('qemu_opts')}, one vCPU), "
              f"{boots} boots per kernel ({', '.join(kernels)}), "
              f"{meta.get('runs', 1)} benchmark process"
              f"{'es' if meta.get('runs', 1) != 1 else ''} per boot.")
        print("insns/op: mean of the middle 60% of the operations (timer ticks and other "
              "interrupts excluded) of each process, their mean over the processes of a "
              "boot; median: the middle operation of each process, their mean.")
    else:
        print(f"Wall time per operation under {meta.get('accel', '?').upper()}, "
              f"{boots} boots per kernel; on TCG only the ratios mean something.")
    print()
    ok = print_checks(summary, cal, unit)
    out = {"meta": meta, "cases": summary, "calibration": cal}
    if len(kernels) == 1:
        print()
        k = kernels[0]
        print(f"{'case':16} {k + ' ' + unit + '/op, each boot':>40} {'spread':>9} {'median, each boot':>30}")
        for case, e in summary.items():
            pb = e[k]["per_boot"]
            tmeans = " ".join(f"{b['tmean']:.1f}" for b in pb)
            medians = " ".join(str(b["median"]) for b in pb)
            print(f"{case:16} {tmeans:>40} {100 * e[k]['spread_tmean']:8.4f}% {medians:>30}")
    if len(kernels) == 2:
        print()
        print_table(summary, unit)
        static_file = os.path.join(results, "static.json")
        if os.path.exists(static_file):
            with open(static_file) as f:
                static = json.load(f)
            out["static"] = static["static"]
            print()
            print("Static comparison (llvm-objdump of each vmlinux; the path followed through calls "
                  "and tail calls with concrete inputs; full listings in static.txt):")
            print("\n".join(static["terminal"]))
        svg(summary, meta, os.path.join(results, "ratios.svg"))
    times_file = os.path.join(results, "times.json")
    if os.path.exists(times_file):
        with open(times_file) as f:
            times = json.load(f)
        out["times"] = times
        print(f"\nTime: waiting for the build lock {times.get('lock_wait_s', 0)} s, "
              f"build check and static comparison {times['build_and_static_s']} s, "
              f"{len(times['boot_s'])} boots {times['boots_s']} s "
              f"({min(times['boot_s'])}..{max(times['boot_s'])} s each)")
    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nraw numbers: {results}/*.json; summary: {results}/summary.json, summary.txt"
          + (f"; picture: {results}/ratios.svg" if len(kernels) == 2 else ""))
    return 0 if ok or meta.get("mode") != "insns" else 1


if __name__ == "__main__":
    sys.exit(main())
