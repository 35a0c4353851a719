#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The harness's facts, each defined here and read everywhere else.

Python imports this module; the shell scripts read it through one line in
scripts/lib.sh (`eval "$(harness.py shell)"`) and query a variant with
`harness.py variant NAME FIELD`. The Makefile asks it for the cache path.

    harness.py shell                 bash assignments for scripts/lib.sh
    harness.py cache                 the cache directory
    harness.py kernel                the default KVER
    harness.py variant NAME FIELD    one field of a kernel variant (FIELD
                                     shell: all, as v_FIELD=VALUE lines)
    harness.py arch NAME             an architecture, as a_FIELD=VALUE lines
    harness.py check                 the tables' own rules
    harness.py knobs                 every environment knob, documented
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from typing import Dict, Optional, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --- the toolchain -----------------------------------------------------------

# clang, lld, llvm and libclang: the kernel's C compiler and Rust's bindgen.
LLVM_VERSION = 19
# bindgen-cli, installed by cargo into the cache (scripts/setup.sh).
BINDGEN_VERSION = '0.73.0'
# virtme-ng, installed by pip into the cache's venv.
VNG_VERSION = '1.42'
# ruff, the Python linter of make test, installed by pip there too.
RUFF_VERSION = '0.17.6'
# `make min-toolchain`: the series built once with the oldest Rust
# toolchain the kernel supports (scripts/min-tool-version.sh of the tree:
# rustc 1.85.0, bindgen 0.71.1), in a chroot of MIN_TOOLCHAIN_SUITE, the
# Debian release that ships exactly those: rustc and rust-src 1.85,
# bindgen 0.71 (and clang/LLVM LLVM_VERSION). scripts/min-toolchain.sh
# checks the chroot's versions against MIN_RUSTC and MIN_BINDGEN.
MIN_TOOLCHAIN_SUITE = 'trixie'
MIN_RUSTC = '1.85'
MIN_BINDGEN = '0.71'

# --- the kernels ---------------------------------------------------------------

# The Debian kernels the series is kept applicable to (make patches checks
# git am on each); the first is the default KVER.
KERNELS = ('7.3', '7.2')
# The first release with CLONE_PIDFD_AUTOKILL.
MIN_KERNEL = (7, 1)
# The version of the series `make patches` exports (RFC): 1 is the first
# posting (no "v1" in the subjects), 2 gives [RFC PATCH v2 n/m], ...
SERIES_VERSION = 1

# --- the man pages -------------------------------------------------------------

# The base of docs/man-pages/'s clone(2) patch (`make man-pages`): man2/clone.2
# of man-pages 6.03 as Debian 12 ships it, in this package and version,
# fetched with `apt-get download` into the cache by scripts/man-pages.sh.
MANPAGES_PACKAGE = 'manpages-dev'
MANPAGES_BASE = '6.03-2'

# --- the cache -------------------------------------------------------------------

CACHE_NAME = 'pidfd-autokill-rust'


def cache() -> str:
    """$AUTOKILL_CACHE, else $XDG_CACHE_HOME (or ~/.cache)/pidfd-autokill-rust."""
    return os.environ.get('AUTOKILL_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or
        os.path.join(os.path.expanduser('~'), '.cache'), CACHE_NAME)


# --- the architectures -------------------------------------------------------

# A Debian release with a newer QEMU than this host's, for the architectures
# whose qemu_suite names it (make matrix).
NEWER_QEMU_SUITE = 'trixie'


@dataclass(frozen=True)
class Arch:
    """An architecture Rust-for-Linux supports (HAVE_RUST in its Kconfig)."""
    name: str
    # ARCH= of the kernel's make.
    karch: str
    # kunit.py's --arch (a file of tools/testing/kunit/qemu_configs/, or um).
    kunit: str
    # The QEMU system emulator kunit.py runs (None: UML, or none here),
    # and the Debian package that has it.
    qemu: Optional[str] = None
    qemu_package: Optional[str] = None
    # The image virtme-ng boots, relative to the build directory (only the
    # architectures the harness boots with virtme-ng).
    image: Optional[str] = None
    # The Rust target of the programs the guest runs.
    rust_target: Optional[str] = None
    # More kconfig than the .kunitconfig, for HAVE_RUST (arch/*/Kconfig).
    kconfig: Tuple[str, ...] = ()
    # More QEMU arguments for kunit.py (appended to its qemu_config's; of
    # two -cpu options QEMU takes the last).
    qemu_args: Tuple[str, ...] = ()
    # The prefix of GNU binutils for its target (kunit.py --cross_compile),
    # where the build needs them besides LLVM's; Debian's package of them is
    # binutils-PREFIX (without the last '-').
    cross_compile: Optional[str] = None
    # The Debian release whose QEMU runs it, in a chroot of the cache
    # (scripts/chroot.sh), where this host's is too old (None: the host's).
    qemu_suite: Optional[str] = None
    # CONFIG_WERROR builds there: every C warning of the tree is an error.
    # Where upstream C code warns, Rust's warnings (clippy's included) stay
    # errors through KRUSTFLAGS=-Dwarnings instead (and its fragment turns
    # CONFIG_WERROR off for the harness's own builds).
    c_werror: bool = True
    # Why it is built but not run here (None: it runs).
    no_run: Optional[str] = None
    # Built with ARCH=NAME (make series-build; `make test ARCH=NAME` for
    # those with an image): the kconfig/NAME.config fragment merged after
    # every variant's (the console and machine of its QEMU board; what
    # the architecture cannot have).
    fragment: Optional[str] = None
    # Booted under virtme-ng like DEFAULT_ARCH (`make test ARCH=NAME`):
    # the kernel variants booted there by default, and, for a foreign
    # architecture, virtme-ng's
    # --arch, the Debian architecture of the guest's root filesystem (a
    # Debian chroot of the host's release, scripts/rootfs.sh) and the GNU
    # triplet of the C cross compiler of the guest's programs (Debian's
    # gcc-TRIPLET and libc6-dev-DEBIAN-cross).
    variants: Tuple[str, ...] = ()
    vng: Optional[str] = None
    debian: Optional[str] = None
    triplet: Optional[str] = None


# The architectures of `make matrix`, one entry each; the harness builds
# and boots DEFAULT_ARCH. Every cross build uses clang/LLVM (LLVM=-N
# ARCH=...), no GNU cross toolchain.
ARCHES: Dict[str, Arch] = {a.name: a for a in (
    Arch('x86_64', karch='x86_64', kunit='x86_64', qemu='qemu-system-x86_64',
         qemu_package='qemu-system-x86', image='arch/x86/boot/bzImage',
         rust_target='x86_64-unknown-linux-gnu', variants=('rust', 'c', 'debug')),
    # clang warns on UML about pointer arithmetic on NULL in upstream's
    # include/asm-generic/io.h (PCI_IOBASE is NULL there).
    Arch('um', karch='um', kunit='um', c_werror=False, fragment='arch-um'),
    # Booted too: the Rust and C kernels (the debug kernel's KASAN and
    # lockdep under TCG's slower arm64 emulation would not fit a run).
    Arch('arm64', karch='arm64', kunit='arm64', qemu='qemu-system-aarch64',
         qemu_package='qemu-system-arm', rust_target='aarch64-unknown-linux-gnu',
         image='arch/arm64/boot/Image', fragment='arch-arm64', variants=('rust', 'c'),
         vng='arm64', debian='arm64', triplet='aarch64-linux-gnu'),
    # HAVE_RUST: ARMv7, little endian, no KASAN; the qemu_config's virt
    # machine is ARMv7.
    Arch('arm', karch='arm', kunit='arm', qemu='qemu-system-arm',
         qemu_package='qemu-system-arm'),
    # HAVE_RUST: riscv64 with clang only (LLVM=-N gives that).
    Arch('riscv', karch='riscv', kunit='riscv', qemu='qemu-system-riscv64',
         qemu_package='qemu-system-misc'),
    # Debian 12's QEMU 7.2 prints nothing for a LoongArch kernel booted
    # directly (kunit.py's -kernel); trixie's QEMU 10 boots it.
    Arch('loongarch', karch='loongarch', kunit='loongarch',
         qemu='qemu-system-loongarch64', qemu_package='qemu-system-misc',
         qemu_suite=NEWER_QEMU_SUITE),
    # HAVE_RUST: PPC64 little endian (and PPC32). The boot wrapper
    # (arch/powerpc/boot/wrapper) runs ${CROSS}objcopy on vmlinux.
    Arch('powerpc', karch='powerpc', kunit='powerpcle', qemu='qemu-system-ppc64',
         qemu_package='qemu-system-ppc', cross_compile='powerpc64le-linux-gnu-'),
    # HAVE_RUST: !EXPOLINE. (qemu-system-misc provides qemu-system-s390x.)
    Arch('s390', karch='s390', kunit='s390', qemu='qemu-system-s390x',
         qemu_package='qemu-system-misc', kconfig=('CONFIG_EXPOLINE=n',)),
)}
DEFAULT_ARCH = 'x86_64'
# `make series-build`: every commit built for these (the harness's own,
# the one most users are on, and UML, the first of kernel developers'
# KUnit habits).
SERIES_ARCHES = (DEFAULT_ARCH, 'arm64', 'um')

# --- the kernel variants -----------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A kernel configuration the harness builds and boots."""
    name: str
    # kconfig/NAME.config fragments, merged in this order onto tinyconfig.
    fragments: Tuple[str, ...]
    # The C implementation (the option off): the baseline of every
    # comparison.
    c: bool = False
    # The built variant whose tree this one's first build starts from.
    copy_of: Optional[str] = None
    # The make target that builds it alone (`make vm VARIANT=...` uses it).
    make_target: Optional[str] = None
    # The make target that builds, boots and tests it with the others of
    # its group, in the table's order: test (`make test`) or kcsan.
    group: str = 'test'
    # The KUnit suites that must run at boot (others are parsed too).
    kunit_suites: Tuple[str, ...] = ()
    # In-VM suites of `make test` (guest.sh GUEST_SUITES).
    suites: str = 'all'
    # autokill-stress cycles and autokill-fuzz calls (knobs:
    # STRESS_CYCLES_NAME, FUZZ_COUNT_NAME).
    stress_cycles: int = 10000
    fuzz_count: int = 100000
    # Seconds per selftest program, and for the whole VM.
    selftest_timeout: int = 1200
    vm_timeout: int = 2700
    # Upstream selftest programs not run on this kernel, with the reason
    # (reported as skipped, left out of the comparison with C).
    not_run: Dict[str, str] = field(default_factory=dict)
    # The only upstream selftest programs run (empty: all).
    selftest_only: Tuple[str, ...] = ()
    # More arguments of autokill-fault.
    fault_args: str = ''
    # Its outcome of every injected fault must be the C kernel's, line by
    # line: built with the same options as the C kernel.
    fault_compared: bool = False
    # More kernel command line when booted.
    append: str = ''
    # The slowest kernel: given a VM lane of its own when there are two.
    slow: bool = False

    @property
    def knob(self) -> str:
        return self.name.upper().replace('-', '_')


BASE = ('vm', 'selftests', 'fault', 'kunit', 'rust')
SUITES_RUST = ('clone_autokill', 'pidfs_autokill', 'rust_kernel_bug', 'rust_kernel_pid',
               'rust_kernel_task', 'rust_kernel_capability')
# On a C kernel the series' abstractions are still built and tested.
SUITES_C = ('rust_kernel_bug', 'rust_kernel_pid', 'rust_kernel_task',
            'rust_kernel_capability')

KCSAN_SUITES = 'kunit selftests conformance fuzz stress race kcsan'
KCSAN_SELFTESTS = ('pidfd/pidfd_autoreap_test',)

_DEBUG_NOT_RUN = {
    'pidfd/pidfd_test': (
        'not run on the debug kernel: its recycled-pid case forks 32768 '
        'times in a new pid namespace before it skips, which takes the '
        'debug kernel several times the whole suite\'s time on the others '
        '(docs/measurements.md); it runs on the Rust and C kernels'),
    'pidfd/pidfd_poll_test': (
        'not run on the debug kernel: its 10000 exec-while-polling rounds '
        'take many times longer there than on the Rust and C kernels, '
        'where it runs'),
}

VARIANTS: Dict[str, Variant] = {v.name: v for v in (
    Variant('rust', BASE, make_target='kernel',
            kunit_suites=SUITES_RUST, stress_cycles=20000,
            fault_compared=True),
    Variant('c', BASE + ('c',), c=True, copy_of='rust', make_target='kernel-c',
            kunit_suites=SUITES_C),
    # KASAN, lockdep, PROVE_RCU, kmemleak, ...: many times slower under
    # emulation, so fewer fuzz calls (compared with the same first calls
    # on the C kernel) and stress cycles, and not the crate's tests (the
    # kernel paths they take are the conformance suite's).
    # no5lvl: four-level paging, wherever it is booted. QEMU's CPU offers
    # LA57, and identify_cpu() clears boot_cpu_data's capabilities (LA57
    # among them) with interrupts on; an interrupt in that window has KASAN
    # take a direct-map address for a wild one ("BUG: KASAN:
    # wild-memory-access in do_raw_spin_lock" from handle_edge_irq(), seen
    # on the 7.2.12 debug kernel). Upstream code, not a path of ours.
    Variant('debug', BASE + ('debug',), make_target='kernel-debug',
            kunit_suites=SUITES_RUST + ('rust_doctests_kernel',),
            suites='kunit selftests conformance fuzz stress fault dmesg',
            stress_cycles=1000, fuzz_count=2000, selftest_timeout=1800,
            vm_timeout=3600, not_run=_DEBUG_NOT_RUN, fault_args='--kmemleak',
            append='no5lvl', slow=True),
    # make kcsan: the Rust and C kernels with KCSAN, under a data race
    # load (autokill-race beside the other programs); the kernel log read
    # for KCSAN reports instead of the dmesg suite.
    Variant('kcsan', BASE + ('kcsan',), group='kcsan', kunit_suites=SUITES_RUST,
            suites=KCSAN_SUITES, selftest_only=KCSAN_SELFTESTS,
            stress_cycles=2000, fuzz_count=5000, vm_timeout=3600),
    Variant('kcsan-c', BASE + ('kcsan', 'c'), c=True, copy_of='kcsan',
            group='kcsan', kunit_suites=SUITES_C, suites=KCSAN_SUITES,
            selftest_only=KCSAN_SELFTESTS, stress_cycles=2000,
            fuzz_count=5000, vm_timeout=3600),
)}


def group(name: str) -> Tuple[str, ...]:
    """The variants of a group, in the table's order."""
    return tuple(v for v in VARIANTS if VARIANTS[v].group == name)


TEST_VARIANTS = group('test')
# The kernel every other one of `make test` is compared with, case by case.
BASELINE = 'c'
C_VARIANTS = tuple(v for v in VARIANTS if VARIANTS[v].c)
# Every upstream program some kernel does not run, with the reason.
NOT_RUN = {p: r for v in VARIANTS.values() for p, r in v.not_run.items()}

# --- the environment knobs ---------------------------------------------------

# (name, default, what it does); a default of None is given by context (the
# doc says which). The shell scripts take each default from here, as
# D_NAME (scripts/lib.sh). Per-variant knobs are NAME_V, V the variant's
# name in capitals (RUST, C, DEBUG, KCSAN, KCSAN_C); their defaults are the
# table's. `make help` prints this list.
KNOBS = (
    ('KVER', KERNELS[0], 'the Debian kernel (' + ', '.join(KERNELS) + ')'),
    ('ARCH', DEFAULT_ARCH, 'the architecture built and booted (' +
     ', '.join(n for n, a in ARCHES.items() if a.image) + '; make series-build also ' +
     ', '.join(n for n, a in ARCHES.items() if not a.image) + ')'),
    ('KSRC', None, f'your own kernel tree ({".".join(map(str, MIN_KERNEL))} or later), only read'),
    ('AUTOKILL_CACHE', '~/.cache/' + CACHE_NAME, 'where everything built or fetched goes'),
    ('TEST_VARIANTS', None, 'make test: the kernels it builds and boots (the ARCH\'s: ' +
     '; '.join(f'{n}: {" ".join(a.variants)}' for n, a in ARCHES.items() if a.image) + ')'),
    ('STRESS_CYCLES_V', None, 'autokill-stress cycles on kernel V (the table\'s)'),
    ('FUZZ_COUNT_V', None, 'autokill-fuzz calls on kernel V (the table\'s)'),
    ('FUZZ_SEED', None, 'the fuzz seed (the time; printed, the same for every kernel)'),
    ('SELFTEST_RERUNS', '10', 'reruns of a failed upstream selftest case at most'),
    ('RACE_SECONDS', '60', 'make kcsan: seconds of autokill-race on its own'),
    ('VM_CPUS', '2', 'vCPUs per VM'),
    ('VM_MEMORY', '2G', 'memory per VM'),
    ('VM_LANES', None, 'make test: VMs at once (cores / VM_CPUS, at most 2)'),
    ('VM_TIMEOUT', '1800', 'seconds a VM may run (make test: the variant\'s vm_timeout)'),
    ('VM_APPEND', None, 'more kernel command line'),
    ('VM_QEMU_OPTS', None, 'more QEMU options'),
    ('VM_ACCEL', None, 'kvm or tcg, instead of the probe\'s answer'),
    ('KBUILD_EXTRA', None, 'more arguments of the kernel build (e.g. W=1)'),
    ('BENCH_MODE', 'insns', 'make bench: insns (QEMU icount) or wall'),
    ('BENCH_BOOTS', '5', 'make bench: boots per kernel (--check: 2)'),
    ('BENCH_RUNS', '5', 'make bench: autokill-bench runs per boot'),
    ('BENCH_SCALE', '0.4', 'make bench: multiplies every case\'s iterations'),
    ('BENCH_CHECK', None, 'make bench: 1 for only the check that the clock counts'),
    ('SPAWN_BENCH_SIZES', '1,256,1024,4096', 'make bench-spawn: the parents\' sizes, MiB'),
    ('SPAWN_BENCH_ITERATIONS', '10', 'make bench-spawn: timed spawns per size and library'),
    ('MUTANTS', None, 'make mutants: the mutants to plant (all)'),
    ('MATRIX_ARCHES', ' '.join(ARCHES), 'make matrix: the architectures'),
    ('SERIES_ARCHES', ' '.join(SERIES_ARCHES), 'make series-build: the architectures'),
    ('MUTANT_TIMEOUT', '1200', 'make mutants: seconds a mutant\'s VM may run'),
    ('OUT', None, 'make patches: the output directory (the cache\'s patches/)'),
    ('KSUITES', 'trixie-backports sid', 'make source: the Debian suites searched, in order'),
)


# --- the command line --------------------------------------------------------

def _sh(value) -> str:
    if isinstance(value, (tuple, list)):
        return '(' + ' '.join(_sh(v) for v in value) + ')'
    s = str(value)
    return "'" + s.replace("'", "'\\''") + "'"


def selected_arch() -> Arch:
    """The architecture built (and booted, if it has an image): $ARCH, else
    DEFAULT_ARCH."""
    name = os.environ.get('ARCH') or DEFAULT_ARCH
    a = ARCHES.get(name)
    if a is None:
        raise KeyError(f"ARCH={name}: not an architecture of the harness ({' '.join(ARCHES)})")
    return a


def shell() -> str:
    """Bash assignments of the facts scripts/lib.sh needs."""
    a = selected_arch()
    out = {
        'LLVM_VERSION': LLVM_VERSION,
        'BINDGEN_VERSION': BINDGEN_VERSION,
        'VNG_VERSION': VNG_VERSION,
        'RUFF_VERSION': RUFF_VERSION,
        'MIN_TOOLCHAIN_SUITE': MIN_TOOLCHAIN_SUITE,
        'MIN_RUSTC': MIN_RUSTC,
        'MIN_BINDGEN': MIN_BINDGEN,
        'KVERS': KERNELS,
        'MIN_KERNEL': '.'.join(map(str, MIN_KERNEL)),
        'SERIES_VERSION': SERIES_VERSION,
        'MANPAGES_PACKAGE': MANPAGES_PACKAGE,
        'MANPAGES_BASE': MANPAGES_BASE,
        'CACHE': cache(),
        'VARIANTS': a.variants,
        'KCSAN_VARIANTS': group('kcsan'),
        'ALL_VARIANTS': tuple(VARIANTS),
        'ARCH_NAME': a.name,
        'ARCHES_BOOTED': tuple(n for n, b in ARCHES.items() if b.image),
        'ARCH_DEFAULT': 'y' if a.name == DEFAULT_ARCH else '',
        'ARCH_KARCH': a.karch,
        'ARCH_IMAGE': a.image or '',
        'ARCH_QEMU': a.qemu or '',
        'ARCH_QEMU_PACKAGE': a.qemu_package or '',
        'ARCH_RUST_TARGET': a.rust_target or '',
        'ARCH_FRAGMENT': a.fragment or '',
        'ARCH_C_WERROR': 'y' if a.c_werror else '',
        'ARCH_VNG': a.vng or '',
        'ARCH_DEBIAN': a.debian or '',
        'ARCH_TRIPLET': a.triplet or '',
        'ARCHES': tuple(ARCHES),
    }
    out.update({'D_' + n: d for n, d, _ in KNOBS if d is not None})
    return ''.join(f'{k}={_sh(v)}\n' for k, v in out.items())


def variant_field(name: str, what: str) -> str:
    v = VARIANTS.get(name)
    if v is None:
        raise KeyError(f"unknown variant '{name}' ({' '.join(VARIANTS)})")
    if what == 'knob':
        return v.knob
    if what not in {f.name for f in fields(Variant)}:
        raise KeyError(f"unknown field '{what}' of a variant")
    value = getattr(v, what)
    if isinstance(value, bool):
        return 'y' if value else ''
    if what in ('not_run', 'selftest_only'):
        # guest.sh's COLLECTION:PROGRAM
        return ' '.join(p.replace('/', ':', 1) for p in value)
    if isinstance(value, tuple):
        return ' '.join(value)
    return '' if value is None else str(value)


def arch_shell(name: str) -> str:
    """Every field of an architecture as bash assignments, a_FIELD=VALUE."""
    a = ARCHES.get(name)
    if a is None:
        raise KeyError(f"unknown architecture '{name}' ({' '.join(ARCHES)})")
    out = ''
    for f in fields(Arch):
        v = getattr(a, f.name)
        if isinstance(v, bool):
            v = 'y' if v else ''
        out += f'a_{f.name}={_sh(" ".join(v) if isinstance(v, tuple) else v or "")}\n'
    return out


def variant_shell(name: str) -> str:
    """Every field of a variant as bash assignments, v_FIELD=VALUE."""
    return ''.join(f'v_{f.name}={_sh(variant_field(name, f.name))}\n'
                   for f in fields(Variant)) + \
        f'v_knob={_sh(VARIANTS[name].knob)}\n'


def check() -> None:
    """The table's own rules."""
    for v in VARIANTS.values():
        assert v.copy_of is None or v.copy_of in VARIANTS, v.name
        assert v.c == ('c' in v.fragments), v.name
        for f in v.fragments:
            assert os.path.isfile(os.path.join(TOP, 'kconfig', f + '.config')), f
    assert VARIANTS[BASELINE].c and VARIANTS[BASELINE].group == 'test'
    for a in ARCHES.values():
        assert (a.qemu is None) == (a.qemu_package is None), a.name
        if a.image:
            assert a.rust_target and a.qemu and a.variants, a.name
            assert all(VARIANTS[v].group == 'test' for v in a.variants), a.name
            assert BASELINE in a.variants, a.name
            assert (a.name == DEFAULT_ARCH) == (a.vng is None), a.name
            assert (a.vng is None) == (a.debian is None) == (a.triplet is None), a.name
        if a.fragment:
            assert os.path.isfile(os.path.join(TOP, 'kconfig', a.fragment + '.config')), a.name
        assert a.c_werror or a.fragment, a.name
    assert ARCHES[DEFAULT_ARCH].image
    assert all(a in ARCHES for a in SERIES_ARCHES)
    assert ARCHES[DEFAULT_ARCH].variants == TEST_VARIANTS


def knobs() -> str:
    w = max(len(k[0]) for k in KNOBS) + 2
    return ''.join(f'  {n:<{w}}{doc}' + (f' [{d}]' if d else '') + '\n'
                   for n, d, doc in KNOBS)


def main(argv) -> int:
    try:
        if argv == ['shell']:
            sys.stdout.write(shell())
        elif argv == ['cache']:
            print(cache())
        elif argv == ['kernel']:
            print(KERNELS[0])
        elif argv == ['knobs']:
            sys.stdout.write(knobs())
        elif len(argv) == 3 and argv[0] == 'variant' and argv[2] == 'shell':
            variant_field(argv[1], 'name')
            sys.stdout.write(variant_shell(argv[1]))
        elif len(argv) == 3 and argv[0] == 'variant':
            print(variant_field(argv[1], argv[2]))
        elif len(argv) == 2 and argv[0] == 'arch':
            sys.stdout.write(arch_shell(argv[1]))
        elif argv == ['check']:
            check()
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except KeyError as e:
        print(f'harness.py: {e.args[0]}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
