# SPDX-License-Identifier: GPL-2.0
"""Follows the path of one call through the functions of a vmlinux with
concrete inputs, from its llvm-objdump listing: an interpreter of the few
x86-64 instructions such paths are made of."""

import bisect
import re
import subprocess

# scripts/harness.py, on the path as benchlib's neighbour: the LLVM tools
# of the one version the harness installs and builds with.
import harness

OBJDUMP = f"llvm-objdump-{harness.LLVM_VERSION}"
NM = f"llvm-nm-{harness.LLVM_VERSION}"


class Image:
    """The functions of a vmlinux, disassembled on demand.

    What it reads of the vmlinux comes from two methods, symbols() and
    disassemble(), so that a test can give it recorded listings instead."""

    def __init__(self, vmlinux):
        self.vmlinux = vmlinux
        self.syms = {}
        starts = []
        for line in self.symbols().splitlines():
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

    def symbols(self):
        """llvm-nm's list of the defined symbols, with their sizes."""
        return subprocess.run([NM, "-S", "--defined-only", self.vmlinux],
                              capture_output=True, text=True, check=True).stdout

    def disassemble(self, start, stop):
        """llvm-objdump's listing of the code from start to stop."""
        return subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", f"--start-address={start:#x}",
                               f"--stop-address={stop:#x}", self.vmlinux],
                              capture_output=True, text=True, check=True).stdout

    def function_at(self, addr):
        """(start, end, name) of the function that holds addr, or None."""
        i = bisect.bisect_right(self.keys, addr) - 1
        while i >= 0 and self.ranges[i][0] <= addr:
            if addr < self.ranges[i][1]:
                return self.ranges[i]
            i -= 1
        return None

    def load(self, addr):
        """Disassembles the function that holds addr, once."""
        fn = self.function_at(addr)
        if fn is None or fn[0] in self.loaded:
            return
        self.loaded.add(fn[0])
        insns = []
        for line in self.disassemble(fn[0], fn[1]).splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+(\S.*)$", line)
            if m:
                insns.append((int(m.group(1), 16), m.group(2).strip()))
        for i, (a, text) in enumerate(insns):
            nxt = insns[i + 1][0] if i + 1 < len(insns) else fn[1]
            self.code[a] = (text, nxt, fn[2], a - fn[0])

    def insn(self, addr):
        """(text, address of the next instruction, function, offset in it)
        of the instruction at addr, or None."""
        if addr not in self.code:
            self.load(addr)
        return self.code.get(addr)


# The 64-bit registers, and for each name of one or a part of one: (the
# register, the size in bytes, the shift of the part within it).
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

# The condition codes of jcc, setcc and cmovcc, over the flags.
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
    "g": lambda f: not f["z"] and f["s"] == f["o"],
    "nle": lambda f: not f["z"] and f["s"] == f["o"],
    "o": lambda f: f["o"], "no": lambda f: not f["o"],
}
# The operand size of an AT&T suffix, in bytes; the plain instructions the
# interpreter knows, by their mnemonic without that suffix.
SUFFIX = {"b": 1, "w": 2, "l": 4, "q": 8}
BASES = {"mov", "lea", "and", "or", "xor", "test", "add", "sub", "cmp", "inc", "dec", "neg",
         "not", "shl", "shr", "sar", "sal", "bt"}


class Stop(Exception):
    """Where the interpreter cannot follow the path further."""


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
        m = re.match(r"(?:%(\w+):)?(-?0x[0-9a-f]+|-?\d+)?"
                     r"(?:\((%\w+)?(?:,(%\w+))?(?:,(\d))?\))?$", op)
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
        if (mn in ("int3", "ud2", "hlt") or mn.startswith("rep")
                or any(o.startswith("*") for o in ops)):
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
