#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What warn_on_once!() compiled to, next to C's WARN_ON_ONCE(), in one build.

    warn_evidence.py BUILD_DIR SOURCE_TREE [C_BUILD_DIR]

Reads the object files of a kernel build (make matrix runs it on each
architecture's kunit.py build): fs/pidfs_autokill.o (the Rust hook, whose
only warning is warn_on_once!()) and fs/pidfs.o of the same build (C, with
its own WARN_ON_ONCE()s), and C_BUILD_DIR's fs/pidfs.o if given (a build with
the option off, where the C hook's WARN_ON_ONCE() is). For each it prints
the __bug_table entries (line and decoded flags) and, for the once-lite
path that C takes without __WARN_FLAGS and Rust takes where warn_flags!()
calls into C, the .data..once objects and the calls into the C warning
functions. The entry layout comes from the build's .config and the
architecture's asm/bug.h (HAVE_ARCH_BUG_FORMAT), as struct bug_entry in
include/asm-generic/bug.h has it; the objects are read as ELF directly.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from typing import Dict, List, Optional, Tuple

FLAGS = ((1, 'WARNING'), (2, 'ONCE'), (4, 'DONE'), (8, 'NO_CUT_HERE'), (16, 'ARGS'))
# The C functions a warning reaches when it does not trap: the generic
# __WARN_printf() (no __WARN_FLAGS: UML, ARM), and the kernel crate's helper
# that warn_flags!() calls on LoongArch, ARM and PowerPC.
WARN_CALLS = ('warn_slowpath_fmt', 'rust_helper_WARN_ON')


class Elf:
    """The sections, symbols and relocations of a relocatable ELF object."""

    def __init__(self, path: str):
        self.path = path
        with open(path, 'rb') as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b'\x7fELF':
            raise ValueError(f'{path}: not an ELF file')
        self.is64 = d[4] == 2
        self.endian = '<' if d[5] == 1 else '>'
        e = self.endian
        if self.is64:
            shoff, = struct.unpack_from(e + 'Q', d, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(e + 'HHH', d, 0x3a)
        else:
            shoff, = struct.unpack_from(e + 'I', d, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(e + 'HHH', d, 0x2e)
        self.sections = []
        for i in range(shnum):
            off = shoff + i * shentsize
            if self.is64:
                name, typ, flags, _, offset, size, link, info, _, entsize = struct.unpack_from(
                    e + 'IIQQQQIIQQ', d, off)
            else:
                name, typ, flags, _, offset, size, link, info, _, entsize = struct.unpack_from(
                    e + 'IIIIIIIIII', d, off)
            self.sections.append({'name_off': name, 'type': typ, 'flags': flags,
                                  'offset': offset,
                                  'size': size, 'link': link, 'info': info,
                                  'entsize': entsize})
        strtab = self.sections[shstrndx]
        for s in self.sections:
            s['name'] = self._str(strtab['offset'] + s['name_off'])

    def _str(self, off: int) -> str:
        end = self.data.index(b'\0', off)
        return self.data[off:end].decode()

    def section(self, name: str) -> Optional[dict]:
        return next((s for s in self.sections if s['name'] == name), None)

    def bytes(self, s: dict) -> bytes:
        return self.data[s['offset']:s['offset'] + s['size']]

    def symbols(self) -> List[Tuple[str, int, int]]:
        """(name, section index, value) of every symbol."""
        symtab = next((s for s in self.sections if s['type'] == 2), None)
        if symtab is None:
            return []
        names = self.sections[symtab['link']]
        out = []
        fmt = self.endian + ('IBBHQQ' if self.is64 else 'IIIBBH')
        for off in range(symtab['offset'], symtab['offset'] + symtab['size'],
                         symtab['entsize']):
            if self.is64:
                name, _, _, shndx, value, _ = struct.unpack_from(fmt, self.data, off)
            else:
                name, value, _, _, _, shndx = struct.unpack_from(fmt, self.data, off)
            out.append((self._str(names['offset'] + name), shndx, value))
        return out

    def relocated_symbols(self) -> List[str]:
        """The symbol of every relocation in the object's code (SHF_EXECINSTR) sections."""
        syms = self.symbols()
        out = []
        for s in self.sections:
            if s['type'] not in (4, 9):  # SHT_RELA, SHT_REL
                continue
            if not self.sections[s['info']]['flags'] & 0x4:
                continue
            for off in range(s['offset'], s['offset'] + s['size'], s['entsize']):
                if self.is64:
                    _, info = struct.unpack_from(self.endian + 'QQ', self.data, off)
                    index = info >> 32
                else:
                    _, info = struct.unpack_from(self.endian + 'II', self.data, off)
                    index = info >> 8
                out.append(syms[index][0])
        return out


def config(build: str) -> Dict[str, str]:
    out = {}
    with open(os.path.join(build, '.config')) as f:
        for line in f:
            m = re.match(r'(CONFIG_\w+)=(.*)', line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def layout(cfg: Dict[str, str], srcarch: str, src: str) -> Tuple[int, int, int, bool]:
    """struct bug_entry: (size, offset of line or -1, offset of flags, relative)."""
    relative = cfg.get('CONFIG_GENERIC_BUG_RELATIVE_POINTERS') == 'y'
    ptr = 4 if relative or cfg.get('CONFIG_64BIT') != 'y' else 8
    with open(os.path.join(src, 'arch', srcarch, 'include', 'asm', 'bug.h')) as f:
        fmt = re.search(r'#\s*define\s+HAVE_ARCH_BUG_FORMAT\b', f.read()) is not None
    off = ptr + (ptr if fmt else 0)
    line = -1
    if cfg.get('CONFIG_DEBUG_BUGVERBOSE') == 'y':
        off += ptr
        line = off
        off += 2
    flags = off
    size = -(-(flags + 2) // ptr) * ptr
    return size, line, flags, relative


def flag_names(flags: int) -> str:
    names = [n for bit, n in FLAGS if flags & bit]
    if flags >> 8:
        names.append(f'TAINT({flags >> 8})')
    return '|'.join(names) or '0'


def report(label: str, path: str, cfg: Dict[str, str], srcarch: str, src: str) -> List[str]:
    if not os.path.exists(path):
        return [f'{label}: {path}: missing']
    elf = Elf(path)
    out = [f'{label}: {path}']
    table = elf.section('__bug_table')
    if table is None:
        out.append('  __bug_table: none')
    else:
        size, line_off, flags_off, relative = layout(cfg, srcarch, src)
        raw = elf.bytes(table)
        if len(raw) % size:
            out.append(f'  __bug_table: {len(raw)} bytes, not a multiple of the computed entry '
                       f'size {size}: layout unknown')
        else:
            out.append(f'  __bug_table: {len(raw) // size} entries of {size} bytes'
                       f'{" (relative pointers)" if relative else ""}')
            for i in range(0, len(raw), size):
                flags, = struct.unpack_from(elf.endian + 'H', raw, i + flags_off)
                where = ''
                if line_off >= 0:
                    line, = struct.unpack_from(elf.endian + 'H', raw, i + line_off)
                    where = f'line {line}, '
                out.append(f'    {where}flags {flags:#06x} = {flag_names(flags)}')
    once = elf.section('.data..once')
    if once is None:
        out.append('  .data..once: none')
    else:
        index = elf.sections.index(once)
        names = sorted({n or '(section)' for n, shndx, _ in elf.symbols() if shndx == index})
        out.append(f'  .data..once: {once["size"]} bytes; symbols: {", ".join(names) or "none"}')
    relocs = elf.relocated_symbols()
    calls = [f'{c} x{relocs.count(c)}' for c in WARN_CALLS if c in relocs]
    out.append(f'  calls into C warnings: {", ".join(calls) or "none"}')
    return out


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    build, src = argv[0], argv[1]
    cfg = config(build)
    # The architecture's own option; two are not named after their directory.
    option = {'powerpc': 'CONFIG_PPC', 'um': 'CONFIG_UML'}
    arch = next((a for a in sorted(os.listdir(os.path.join(src, 'arch')))
                 if cfg.get(option.get(a, f'CONFIG_{a.upper()}')) == 'y'), None)
    if arch is None:
        sys.stderr.write(f'{build}: cannot tell the architecture from .config\n')
        return 1
    lines = [f'CONFIG_BUG={cfg.get("CONFIG_BUG", "n")} '
             f'GENERIC_BUG={cfg.get("CONFIG_GENERIC_BUG", "n")} '
             f'DEBUG_BUGVERBOSE={cfg.get("CONFIG_DEBUG_BUGVERBOSE", "n")} '
             f'(arch/{arch})']
    lines += report('Rust warn_on_once!()', os.path.join(build, 'fs', 'pidfs_autokill.o'),
                    cfg, arch, src)
    lines += report('C WARN_ON_ONCE(), same build', os.path.join(build, 'fs', 'pidfs.o'),
                    cfg, arch, src)
    if len(argv) == 3:
        lines += report('C WARN_ON_ONCE(), option off', os.path.join(argv[2], 'fs', 'pidfs.o'),
                        config(argv[2]), arch, src)
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
