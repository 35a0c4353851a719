#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The results of `make test`: every suite's raw output parsed in one place.

The programs write their raw output to files (tests/vm/guest.sh in the VM,
scripts/test.sh on the host) and list each run in an index file `runs`,
one line per run:

    NAME FORMAT EXIT_STATUS MILLISECONDS [RERUN_OF]

NAME.log (next to the index) is the output. FORMAT says how to read it:

    ktap       KTAP 1 or TAP 13 (kselftest programs, our conformance, fuzz
               and stress programs), through the kernel tree's kunit_parser
    kunit      a kernel log with the KUnit results of the boot (one suite
               per row)
    libtest    the output of cargo test binaries
    exit       one check: passed iff the exit status is 0
    dmesg      a kernel log that must not contain a warning or splat
    kcsan      a kernel log of a KCSAN kernel: no KCSAN report may name the
               series' code, and no other splat may be there; reports in
               other code are listed, one skipped case each
    notrun     a program not run on this kernel: skipped, the log says why,
               and left out of the comparison with the C kernel
    kallsyms   the autokill symbols of /proc/kallsyms: which implementation

A missing result line, a plan mismatch, a program that stopped midway, a
timeout or a failing exit status is a failure, with its name. A failed
case of an upstream selftest is run again on its own, until it passes, a
few times at most (RERUN_OF names the first run): passing then makes it
`flaky`, failing every time a failure.

    results.py reruns DIR           what guest.sh runs again, one line each
    results.py matrix RESULTS ARCH...
                                    make matrix's table: per architecture
                                    the build, KUnit and the doctests
    results.py failed DIR KERNEL    the suites of one results directory
                                    that failed, one name each (make
                                    mutants: what killed a mutant)
    results.py report RESULTS VARIANT...
                                    the failures, the comparison of every
                                    kernel with the C kernel, the table and
                                    the last line "N passed, N failed, N
                                    skipped"; exit status 1 on a failure
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kunit_adapter as kp  # noqa: E402
from kunit_adapter import Unavailable, harness  # noqa: E402,F401

PASS, FAIL, SKIP, FLAKY = 'pass', 'fail', 'skip', 'flaky'

# The kernel variants (scripts/harness.py): the KUnit suites each must run
# at boot (others that run are parsed and counted as well; only these are a
# failure when absent), which are built with the C implementation (the
# option off), and the baseline every other kernel is compared with.
KUNIT_SUITES = {n: v.kunit_suites for n, v in harness.VARIANTS.items()}
C_KERNELS = harness.C_VARIANTS
BASELINE = harness.BASELINE

# What names the series' code in a KCSAN report: the C helpers the Rust
# code calls, the Rust symbols of the series' abstractions (mangled:
# `..6kernel3pid..`) and, on a kernel with the Rust implementation, its
# entry points and crates. On a C kernel clone_autokill_flags_check() and
# pidfs_autokill() are the upstream C code, which the series only moved
# into functions of those names.
OURS = re.compile(r'rust_helper_|kernel[0-9]+pid[0-9]|kernel[0-9]+task[0-9]|'
                  r'kernel[0-9]+capability[0-9]')
OURS_RUST = re.compile(r'clone_autokill|pidfs_autokill')
KCSAN_REPORT = re.compile(r'BUG: KCSAN: (\S+) in (.*)')

# The global functions only the Rust implementation has: the two entry
# points the C shims call. (The C kernel has a static, local `t`,
# clone_autokill_flags_check() of its own.)
RUST_SYMBOLS = ('clone_autokill_flags_check', 'pidfs_autokill')

# Upstream selftests that print their results without a plan:
# pidfd_poll_test never calls ksft_set_plan() (hence its "# Planned tests
# != run tests (0 != 1)"), and the kselftest runner judges it by its exit
# status alone. The plan is taken from here, so that its one result line
# must still be there. Any other program without a plan fails.
PLANLESS = {'pidfd/pidfd_poll_test': 1}

# Skips of upstream cases that no VM setting can avoid, with the reason.
KNOWN_SKIPS = {
    'pidfd/pidfd_test': (
        'recycled pid', 'a new pid namespace starts with pid_max = '
        'PID_MAX_LIMIT since Linux 6.14 (kernel/pid_namespace.c), so the '
        'test never gets pid 1000 again below its limit of 0x8000 and skips; '
        'no sysctl outside the namespace changes that'),
}

# Programs some kernels do not run (guest.sh SELFTEST_NOT_RUN), with the
# reason; reported as skipped there and left out of the comparison.
NOT_RUN = harness.NOT_RUN

# Suites whose cases must give the same verdict on every kernel as on the
# C kernel (by name prefix).
COMPARED = ('pidfd/', 'clone3/', 'conformance', 'fault')

# The kernels whose outcome of every injected fault (FAULT_RUN.calls) must
# be the baseline's, line by line: those built with the same options. On
# the debug kernel kmemleak, KASAN and the stack depot allocate too, so its
# fault points are others (its fault suite still runs, with --kmemleak).
FAULT_COMPARED = tuple(n for n, v in harness.VARIANTS.items()
                       if v.fault_compared)

# The run names and files both sides of the run record agree on
# (tests/vm/guest.sh writes them): upstream selftests are
# SELFTEST_PREFIX + COLLECTION/PROGRAM; a run NAME whose outcome of each
# call is compared across kernels leaves NAME + CALLS next to its log.
SELFTEST_PREFIX = 'selftests/'
CALLS = '.calls'
FUZZ_RUNS = ('fuzz-root', 'fuzz-unprivileged')
FAULT_RUN = 'fault'

# Cases only some kernels have by design, left out of the comparison of
# verdicts: the kmemleak line of the fault suite (--kmemleak, debug only).
ONE_SIDED = ('fault::kmemleak',)

SPLATS = re.compile(
    r'WARNING:|BUG:|Oops|Kernel panic|KASAN|UBSAN|possible circular locking|'
    r'suspicious RCU usage|INFO: task .* blocked|rcu_.*stall|refcount_t:|'
    r'general protection fault|kmemleak: .* new suspected')


@dataclass
class Case:
    name: str
    verdict: str
    detail: str = ''
    reruns: int = 0


@dataclass
class Suite:
    name: str
    kernel: str
    cases: List[Case] = field(default_factory=list)
    log: str = ''
    ms: int = 0
    notrun: bool = False

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.cases if c.verdict == verdict)

    def fail(self, name: str, detail: str = '') -> None:
        self.cases.append(Case(name, FAIL, detail))


# --- the formats -------------------------------------------------------------

def _leaves(test, prefix: str) -> Iterable[Tuple[str, object]]:
    for i, sub in enumerate(test.subtests, 1):
        name = sub.name or sub.skip_reason or f'#{i}'
        if sub.status == kp.status().TEST_CRASHED and not sub.name:
            name = f'#{i} (no result: the output ends before it)'
        full = f'{prefix}{name}'
        if sub.subtests:
            yield from _leaves(sub, full + '.')
        yield full, sub


def _verdict(test) -> str:
    st = kp.status()
    if test.status == st.SUCCESS:
        return PASS
    if test.status == st.SKIPPED:
        return SKIP
    return FAIL


def _detail(test) -> str:
    lines = [ln.strip() for ln in test.log if ln.strip() and
             not re.match(r'#\s+(RUN|OK|FAIL)\s', ln.strip())]
    return ' | '.join(lines[-6:])


def parse_ktap(text: str, plan: Optional[int] = None):
    """KTAP or TAP: returns (tests, problems, main). tests: (name, verdict,
    detail) of each leaf in order, nested names joined by '.'; problems:
    what the parser found wrong (missing lines, a plan mismatch, no
    output); main: kunit_parser's top-level Test (None without output).
    plan: the plan of a program that prints none (PLANLESS)."""
    lines = text.splitlines()
    problems = []
    if not any(kp.is_version(ln) for ln in lines):
        # The version line only marks where TAP starts (pidfd_open_test
        # and pidfd_poll_test print none); results and plan still count.
        head = ['TAP version 13']
        if plan is not None and not any(kp.is_plan(ln) for ln in lines):
            head.append(f'1..{plan}')
        if any(kp.is_result(ln) or kp.is_plan(ln) for ln in lines):
            lines = head + lines
    parsed = kp.parse(lines)
    main = parsed.main
    if main is None:
        return [], ['no KTAP or TAP output'], None
    if main.expected_count is None:
        problems.append('no plan (1..N): missing results cannot be told')
    numbering = [e for e in parsed.errors if ': Expected test number ' in e]
    if numbering:
        # One missing or repeated line shifts every number after it.
        problems.append(f'{len(numbering)} result line(s) out of sequence, '
                        f'first {numbering[0].replace("main: ", "", 1)}')
    for e in parsed.errors:
        if e.endswith('missing expected subtest!') or e in numbering:
            continue  # the first: the crashed placeholder cases below
        problems.append(e.replace('main: ', '', 1))
    extra = [ln for ln in parsed.rest if kp.is_result(ln) and
             not ln.startswith(' ')]
    if extra:
        problems.append(f'{len(extra)} result line(s) beyond the plan '
                        f'1..{main.expected_count}: {extra[0].strip()}')
    tests = []
    for name, t in _leaves(main, ''):
        if t.subtests:
            # A crash shows as missing lines (problems); a suite can also
            # fail on its own, after its cases (KUnit's suite_exit).
            if t.status == kp.status().FAILURE and all(
                    s.ok_status() for s in t.subtests):
                tests.append((name, FAIL, 'the suite failed: ' + _detail(t)))
            continue
        tests.append((name, _verdict(t), t.skip_reason or _detail(t)))
    return tests, problems, main


def _unique(tests):
    """Names made unique within a suite (TAP allows repeated names)."""
    seen: Dict[str, int] = {}
    for name, verdict, detail in tests:
        seen[name] = seen.get(name, 0) + 1
        yield (name if seen[name] == 1 else f'{name} [{seen[name]}]',
               verdict, detail)


def ktap_suite(suite: Suite, text: str, rc: int) -> None:
    tests, problems, _ = parse_ktap(text, PLANLESS.get(suite.name))
    for name, verdict, detail in _unique(tests):
        suite.cases.append(Case(name, verdict, detail))
    if rc == 4 and not suite.cases:
        # kselftest's skip of a whole program: "1..0 # SKIP why"
        m = re.search(r'^1\.\.0 # SKIP ?(.*)$', text, re.M)
        suite.cases.append(Case('(program)', SKIP,
                                m.group(1) if m else 'exit status 4'))
        problems = [p for p in problems if not p.endswith('0 tests run!')]
    for p in problems:
        suite.fail('(parser)', p)
    judge_exit(suite, rc, text)


def exit_status(rc: int) -> str:
    return f'exit status {rc}' + (f' (signal {rc - 128})' if rc > 128 else '')


def judge_exit(suite: Suite, rc: int, text: str) -> None:
    """A failing exit status is a failure even when every case passed."""
    if rc in (124, 137):
        suite.fail('(program)', f'timed out after {suite.ms / 1000:.0f} s; '
                   'last line: ' + (text.strip().splitlines() or [''])[-1])
    elif rc not in (0, 4) and not suite.count(FAIL):
        suite.fail('(program)', exit_status(rc))
    elif rc not in (0, 4, 1):
        for c in suite.cases:
            if c.verdict == FAIL and '(no result' in c.name:
                c.detail = exit_status(rc) + (' | ' + c.detail if c.detail
                                              else '')
                break


LIBTEST_LINE = re.compile(r'^test (.+?) \.\.\. (ok|FAILED|ignored)(?:, .*)?$')
LIBTEST_SECTION = re.compile(r'^---- (.+?) std(?:out|err) ----$')
LIBTEST_RESULT = re.compile(
    r'^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored')


def parse_libtest(text: str):
    """cargo test output of one or more test binaries: returns (tests,
    problems). A test whose output has a line "skipped: why" is skipped."""
    tests: Dict[str, List[str]] = {}
    problems = []
    planned = ran = 0
    skips: Dict[str, str] = {}
    section = None
    binaries = 0
    prefix = ''  # the test binary, when cargo says which ("Running ...")
    for line in text.splitlines():
        m = re.match(r'^\s+Running .*\((?:.*/)?([^/)]+?)(?:-[0-9a-f]{16})?\)$',
                     line) or re.match(r'^\s+Doc-tests (\S+)$', line)
        if m:
            prefix = m.group(1) + ('::' if 'Running' in line else ' doc::')
            continue
        m = re.match(r'^running (\d+) tests?$', line)
        if m:
            binaries += 1
            planned += int(m.group(1))
            section = None
            continue
        m = LIBTEST_LINE.match(line)
        if m:
            tests[prefix + m.group(1)] = [m.group(2), '']
            ran += 1
            continue
        m = LIBTEST_SECTION.match(line)
        if m:
            section = prefix + m.group(1)
            continue
        if line in ('successes:', 'failures:'):
            section = None
            continue
        m = LIBTEST_RESULT.match(line)
        if m:
            section = None
            continue
        if line.startswith(('stack backtrace:', 'note: ')):
            section = None  # the rest of a failure's output is noise
        if section and section in tests:
            if line.startswith('skipped: '):
                skips[section] = line[len('skipped: '):]
            elif tests[section][0] == 'FAILED' and line.strip() and \
                    len(tests[section][1]) < 400:
                tests[section][1] += (' | ' if tests[section][1] else '') + \
                    line.strip()
    results = sum(1 for ln in text.splitlines() if LIBTEST_RESULT.match(ln))
    if binaries == 0:
        problems.append('no "running N tests" line: no test binary ran')
    if ran != planned:
        problems.append(f'{planned} tests announced, {ran} results')
    if results != binaries:
        problems.append(f'{binaries} test binaries started, {results} '
                        'ended with "test result:" (a crash?)')
    out = []
    for name, (res, detail) in tests.items():
        if res == 'ok' and name in skips:
            out.append((name, SKIP, skips[name]))
        elif res == 'ok':
            out.append((name, PASS, ''))
        elif res == 'ignored':
            out.append((name, SKIP, 'ignored'))
        else:
            out.append((name, FAIL, detail))
    return out, problems


def libtest_suite(suite: Suite, text: str, rc: int) -> None:
    tests, problems = parse_libtest(text)
    suite.cases += [Case(*t) for t in tests]
    for p in problems:
        suite.fail('(parser)', p)
    judge_exit(suite, rc, text)


def kunit_suites(kernel: str, text: str, expected: Iterable[str],
                 ms: int, log: str) -> List[Suite]:
    """The KUnit results of a boot log: one Suite per KUnit suite."""
    tests, problems, main = parse_ktap(text)
    suites: Dict[str, Suite] = {}
    for name, verdict, detail in _unique(tests):
        top, _, case = name.partition('.')
        s = suites.setdefault(top, Suite('kunit-' + top, kernel, log=log,
                                         ms=ms))
        s.cases.append(Case(case or top, verdict, detail))
    for sub in main.subtests if main else ():
        if sub.name and sub.name not in suites:
            s = suites.setdefault(sub.name, Suite('kunit-' + sub.name, kernel,
                                                  log=log, ms=ms))
            s.cases.append(Case(sub.name, _verdict(sub), _detail(sub)))
    general = Suite('kunit', kernel, log=log, ms=ms)
    for p in problems:
        owner, _, msg = p.partition(': ')
        if p.endswith('0 tests run!') and main and main.expected_count == 0:
            continue
        if owner in suites and msg:
            suites[owner].fail('(parser)', msg)
        else:
            general.fail('(parser)', p)
    for name in expected:
        if name not in suites:
            s = suites[name] = Suite('kunit-' + name, kernel, log=log, ms=ms)
            s.fail('(suite)', 'did not run at boot')
    out = [suites[k] for k in sorted(suites)]
    return out + ([general] if general.cases else [])


def dmesg_suite(suite: Suite, text: str) -> None:
    splats = [ln for ln in text.splitlines() if SPLATS.search(ln)]
    if splats:
        suite.fail('no warnings', f'{len(splats)} lines: ' +
                   ' | '.join(splats[:5]))
    else:
        suite.cases.append(Case('no warnings', PASS))


def kcsan_suite(suite: Suite, text: str, kernel: str) -> None:
    """The KCSAN reports of a kernel log: each report runs from its `BUG:
    KCSAN:` line to the next line of `=` signs."""
    def is_ours(line: str) -> bool:
        return bool(OURS.search(line) or
                    (kernel not in C_KERNELS and OURS_RUST.search(line)))

    ours: List[str] = []
    others: Dict[str, int] = {}
    other_splats: List[str] = []
    report: List[str] = []
    for line in text.splitlines():
        m = KCSAN_REPORT.search(line)
        if m:
            report = [line]
            continue
        if report:
            if line.startswith('=' * 10):
                title = KCSAN_REPORT.search(report[0]).group(0)[5:]
                if any(is_ours(ln) for ln in report):
                    ours.append(title)
                else:
                    others[title] = others.get(title, 0) + 1
                report = []
            else:
                report.append(line)
            continue
        if SPLATS.search(line):
            other_splats.append(line)
    if report:
        ours.append('(a report cut off at the end of the log)')
    if ours:
        suite.fail('no KCSAN report in the series\' code',
                   f'{len(ours)} reports: ' + ' | '.join(ours[:5]))
    else:
        suite.cases.append(Case('no KCSAN report in the series\' code', PASS))
    if other_splats:
        suite.fail('no other warnings', f'{len(other_splats)} lines: ' +
                   ' | '.join(other_splats[:5]))
    else:
        suite.cases.append(Case('no other warnings', PASS))
    for title, n in sorted(others.items()):
        suite.cases.append(Case(title, SKIP, f'in code outside the series, '
                                f'{n} report{"s" if n > 1 else ""}'))


def kallsyms_suite(suite: Suite, text: str, kernel: str) -> None:
    want = 'c' if kernel in C_KERNELS else 'rust'
    found = [n for n in RUST_SYMBOLS
             if re.search(r'\sT %s$' % n, text, re.M)]
    have = ('rust' if len(found) == len(RUST_SYMBOLS) else
            'c' if not found else 'a mix')
    if have == want:
        suite.cases.append(Case(want, PASS))
    else:
        suite.fail(want, f'expected the {want} implementation, found {have} '
                   f'(global Rust entry points present: '
                   f'{", ".join(found) or "none"})')


# --- the runs of a results directory -----------------------------------------

@dataclass
class Run:
    name: str
    format: str
    rc: int
    ms: int
    rerun_of: str
    log: str


def read_runs(d: str) -> List[Run]:
    runs = []
    try:
        with open(os.path.join(d, 'runs')) as f:
            for line in f:
                p = line.split()
                if len(p) < 4:
                    continue
                runs.append(Run(p[0], p[1], int(p[2]), int(p[3]),
                                p[4] if len(p) > 4 else '',
                                os.path.join(d, p[0] + '.log')))
    except FileNotFoundError:
        pass
    return runs


def _read(path: str) -> str:
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def suite_name(run_name: str) -> str:
    n = run_name
    if n.startswith(SELFTEST_PREFIX):
        n = n[len(SELFTEST_PREFIX):]
    return n


def load(d: str, kernel: str) -> List[Suite]:
    """Every suite of one results directory (a kernel's, or the host's)."""
    suites: List[Suite] = []
    by_name: Dict[str, Suite] = {}
    runs = read_runs(d)
    for r in runs:
        if r.rerun_of:
            continue
        name, k = suite_name(r.name), kernel
        if '@' in name:
            name, k = name.split('@', 1)
        text = _read(r.log)
        if r.format == 'kunit':
            suites += kunit_suites(k, text, KUNIT_SUITES.get(k, ()), r.ms,
                                   r.log)
            continue
        s = Suite(name, k, log=r.log, ms=r.ms)
        if r.format == 'ktap':
            ktap_suite(s, text, r.rc)
        elif r.format == 'libtest':
            libtest_suite(s, text, r.rc)
        elif r.format == 'dmesg':
            dmesg_suite(s, text)
        elif r.format == 'kcsan':
            kcsan_suite(s, text, k)
        elif r.format == 'kallsyms':
            kallsyms_suite(s, text, k)
        elif r.format == 'notrun':
            s.notrun = True
            s.cases.append(Case('(not run)', SKIP,
                                NOT_RUN.get(name, text.strip())))
        elif r.format == 'exit':
            s.cases.append(Case(name, PASS) if r.rc == 0 else
                           Case(name, FAIL, f'exit status {r.rc}'))
        else:
            s.fail('(harness)', f'unknown format {r.format!r}')
        suites.append(s)
        by_name[r.name] = s
    for r in runs:
        if r.rerun_of:
            apply_rerun(by_name.get(r.rerun_of), r)
    return suites


def apply_rerun(suite: Optional[Suite], r: Run) -> None:
    """A failed case passed on its own: flaky; failed again: still failed.

    The known case: upstream 7.3 wakes pidfd pollers in exit_notify()
    (do_notify_parent() -> do_notify_pidfd()) before release_task() ->
    pidfs_exit() records the exit status, so a test of pidfd_autoreap_test
    that polls and then asks PIDFD_GET_INFO for PIDFD_INFO_EXIT loses that
    race when the exiting vCPU stalls in between (a busy host under TCG).
    It happens on the C kernel as often as on the Rust one and does not
    involve the code of the series."""
    if suite is None:
        return
    rerun = Suite(suite.name, suite.kernel, ms=r.ms)
    ktap_suite(rerun, _read(r.log), r.rc)
    again = {c.name: c for c in rerun.cases}
    clean = not any(c.name.startswith('(') for c in rerun.cases
                    if c.verdict == FAIL)
    for c in suite.cases:
        if c.verdict != FAIL or c.name not in again:
            continue
        c.reruns += 1
        if again[c.name].verdict == PASS and clean:
            c.verdict = FLAKY
            c.detail = (f'failed ({c.detail}), then passed on its own, '
                        f'rerun {c.reruns}')
        elif c.reruns == 1:
            c.detail += f' | failed again on its own ({r.log})'
        else:
            c.detail = re.sub(r'failed again on its own( \d+ times)?',
                              f'failed again on its own {c.reruns} times',
                              c.detail)
    # A program that passed its reruns exits 1 for the first failure only.
    if not suite.count(FAIL):
        suite.cases = [c for c in suite.cases
                       if not (c.name == '(program)' and c.verdict == FAIL and
                               c.detail.startswith('exit status'))]


def reruns(d: str) -> List[Tuple[str, str]]:
    """The failed cases of the upstream selftests in d, to run again on
    their own: (run name, option) with option '-r fixture.test' for a
    kselftest_harness program, '' (the whole program) for the others."""
    out = []
    for r in read_runs(d):
        if r.rerun_of or r.format != 'ktap' or \
                not r.name.startswith(SELFTEST_PREFIX):
            continue
        text = _read(r.log)
        s = Suite(suite_name(r.name), '')
        ktap_suite(s, text, r.rc)
        failed = [c.name for c in s.cases
                  if c.verdict == FAIL and not c.name.startswith('(')]
        harness = re.search(r'^#  RUN ', text, re.M)
        if failed and harness:
            out += [(r.name, f'-r {n}') for n in failed]
        elif failed:
            out.append((r.name, ''))
    return out


# --- comparison with the C kernel --------------------------------------------

def compare_verdicts(ref: List[Suite], other: List[Suite], kernel: str):
    """Every case of the compared suites: the verdict on `kernel` equals the
    C kernel's (flaky counts as passed). Returns (compared, mismatches)."""
    notrun = {s.name for s in ref + other if s.notrun}

    def table(suites):
        t = {}
        for s in suites:
            if s.name.startswith(COMPARED) and s.name not in notrun:
                for c in s.cases:
                    t[f'{s.name}::{c.name}'] = PASS if c.verdict == FLAKY \
                        else c.verdict
        return t
    a, b = table(ref), table(other)
    mism = []
    for k in sorted((set(a) | set(b)) - set(ONE_SIDED)):
        va, vb = a.get(k, 'absent'), b.get(k, 'absent')
        if va != vb:
            mism.append(f'{k}: c {va}, {kernel} {vb}')
    return len(set(a) | set(b)), mism


def compare_fuzz(ref_path: str, other_path: str, kernel: str):
    """The other kernel's outcome of each fuzz call equals the C kernel's
    (the other kernel may run fewer calls: the first ones are compared)."""
    if not os.path.exists(ref_path) or not os.path.exists(other_path):
        return 0, [f'missing {ref_path if not os.path.exists(ref_path) else other_path}']
    with open(ref_path) as f:
        ref = f.read().splitlines()
    with open(other_path) as f:
        oth = f.read().splitlines()
    mism = []
    if not oth:
        mism.append(f'no calls in {other_path}')
    if len(ref) < len(oth):
        mism.append(f'c ran {len(ref)} calls, {kernel} {len(oth)}')
    for a, b in zip(ref, oth, strict=False):  # the other may run fewer
        if a != b:
            mism.append(f'c: {a} | {kernel}: {b}')
    return len(oth), mism


def compare_lines(ref_path: str, other_path: str, kernel: str):
    """The other kernel's file equals the C kernel's, line by line (the
    same number of lines). Returns (lines, mismatches)."""
    n, mism = compare_fuzz(ref_path, other_path, kernel)
    if not mism and os.path.getsize(ref_path) != os.path.getsize(other_path):
        with open(ref_path) as f:
            mism.append(f'c has {len(f.read().splitlines())} lines, '
                        f'{kernel} {n}')
    return n, mism


# --- the report ---------------------------------------------------------------

def cell(s: Optional[Suite]) -> str:
    if s is None:
        return '-'
    return '/'.join(str(s.count(v)) for v in (PASS, FAIL, SKIP, FLAKY))


def report(results: str, variants: List[str], out=sys.stdout) -> int:
    suites = load(os.path.join(results, 'host'), 'host')
    per_kernel = {}
    for v in variants:
        per_kernel[v] = load(os.path.join(results, v), v)
        if not per_kernel[v]:
            s = Suite('vm', v)
            s.fail('(harness)', f'no results in {os.path.join(results, v)}')
            per_kernel[v] = [s]
        suites += per_kernel[v]
    if BASELINE in per_kernel:
        for v in variants:
            if v == BASELINE:
                continue
            n, mism = compare_verdicts(per_kernel[BASELINE], per_kernel[v], v)
            suites.append(_differ('differential-verdicts', v, n, mism,
                                  'cases'))
            for f in FUZZ_RUNS:
                a = os.path.join(results, BASELINE, f + CALLS)
                b = os.path.join(results, v, f + CALLS)
                if os.path.exists(a) or os.path.exists(b):
                    n, mism = compare_fuzz(a, b, v)
                    suites.append(_differ('differential-' + f, v, n, mism,
                                          'calls'))
            a = os.path.join(results, BASELINE, FAULT_RUN + CALLS)
            b = os.path.join(results, v, FAULT_RUN + CALLS)
            if v in FAULT_COMPARED and (os.path.exists(a) or os.path.exists(b)):
                n, mism = compare_lines(a, b, v)
                suites.append(_differ('differential-' + FAULT_RUN, v, n, mism,
                                      'fault outcomes'))

    # What failed, was flaky or skipped for a known reason.
    for s in suites:
        for c in s.cases:
            if c.verdict in (FAIL, FLAKY):
                print(f'{c.verdict.upper()}: {s.name}@{s.kernel}: {c.name}: '
                      f'{c.detail}'.rstrip(': ') +
                      (f'  [{s.log}]' if s.log else ''), file=out)
            elif c.verdict == SKIP and s.name == 'kcsan':
                print(f'kcsan: {s.kernel}: {c.name} ({c.detail})', file=out)
            elif c.verdict == SKIP and s.notrun:
                print(f'skip: {s.name}@{s.kernel}: not run: {c.detail}',
                      file=out)
            elif c.verdict == SKIP and s.name in KNOWN_SKIPS and \
                    KNOWN_SKIPS[s.name][0] in c.name + c.detail:
                print(f'skip: {s.name}@{s.kernel}: {c.name}: '
                      f'{KNOWN_SKIPS[s.name][1]}', file=out)

    kernels = ['host'] + list(variants)
    kernels += sorted({s.kernel for s in suites} - set(kernels))
    rows: List[str] = []
    cells: Dict[Tuple[str, str], Suite] = {}
    for s in suites:
        if s.name not in rows:
            rows.append(s.name)
        cells[(s.name, s.kernel)] = s
    kernels = [k for k in kernels if any(k == s.kernel for s in suites)]
    w = max([len(r) for r in rows] + [5]) + 2
    print(file=out)
    print(f'{"suite":<{w}}' + ''.join(f'{k:>16}' for k in kernels) +
          '   (passed/failed/skipped/flaky)', file=out)
    for r in rows:
        print(f'{r:<{w}}' + ''.join(f'{cell(cells.get((r, k))):>16}'
                                     for k in kernels), file=out)
    total = {v: sum(s.count(v) for s in suites)
             for v in (PASS, FAIL, SKIP, FLAKY)}
    if total[FLAKY]:
        print(f'{total[FLAKY]} flaky (failed, then passed on its own; not '
              'counted as passed)', file=out)
    print(f'{total[PASS]} passed, {total[FAIL]} failed, {total[SKIP]} skipped',
          file=out)
    return 1 if total[FAIL] else 0


def _differ(name: str, kernel: str, n: int, mism: List[str], what: str):
    s = Suite(name, kernel)
    if mism:
        s.fail(f'{len(mism)} of {n} {what} differ from the C kernel',
               ' || '.join(mism[:20]))
    else:
        s.cases.append(Case(f'{n} {what} as on the C kernel', PASS))
    return s


def timing(results: str, variants: List[str], out=sys.stdout) -> None:
    """Seconds per program run in the VM, one column per kernel."""
    runs = {v: {r.name: r for r in read_runs(os.path.join(results, v))
                if not r.rerun_of} for v in variants}
    names: List[str] = []
    for v in variants:
        names += [n for n in runs[v] if n not in names]
    w = max([len(suite_name(n)) for n in names] + [7]) + 2
    print(f'{"program":<{w}}' + ''.join(f'{v + " s":>10}' for v in variants),
          file=out)
    for n in names:
        print(f'{suite_name(n):<{w}}' + ''.join(
            f'{runs[v][n].ms / 1000:>10.1f}' if n in runs[v] else f'{"-":>10}'
            for v in variants), file=out)


DOCTESTS = 'kunit-rust_doctests_kernel'
# What kunit.py prints once the kernel it built starts (kunit.py run).
KUNIT_STARTED = 'Starting KUnit Kernel'


def matrix(results: str, arches: List[str], out=sys.stdout) -> int:
    """One row per architecture: whether it built (kunit.py went on to
    start the kernel), the KUnit suites and the doctests (passed/failed/
    skipped, every suite of the Rust debug kernel expected: a kernel that
    printed no KTAP ran none of them), the time. Exit status 1 on a
    failure."""
    expected = KUNIT_SUITES['debug']
    print(f'{"architecture":<14}{"build":>8}{"KUnit p/f/s":>14}{"doctests p/f/s":>16}'
          f'{"time":>8}', file=out)
    failed = 0
    for arch in arches:
        runs = [r for r in read_runs(os.path.join(results, arch)) if r.name == 'kunit']
        if not runs:
            print(f'{arch:<14}{"-":>8}{"(no run)":>14}', file=out)
            failed += 1
            continue
        r = runs[0]
        text = _read(r.log)
        ran = any(kp.is_version(ln) for ln in text.splitlines())
        built = ran or KUNIT_STARTED in text
        suites = kunit_suites(arch, text, expected, r.ms, r.log) if ran else []
        kunit = [s for s in suites if s.name != DOCTESTS]
        docs = [s for s in suites if s.name == DOCTESTS]

        def pfs(ss):
            return '/'.join(str(sum(s.count(v) for s in ss)) for v in (PASS, FAIL, SKIP))
        bad = not ran or any(s.count(FAIL) for s in suites)
        failed += bad
        print(f'{arch:<14}{"ok" if built else "FAILED":>8}'
              f'{pfs(kunit) if ran else "(not run)":>14}'
              f'{pfs(docs) if ran else "-":>16}{r.ms / 1000:>7.0f}s', file=out)
        for s in suites:
            for c in s.cases:
                if c.verdict == FAIL:
                    print(f'  FAIL: {arch}: {s.name}: {c.name}: {c.detail}', file=out)
        if not ran:
            tail = [ln for ln in text.splitlines() if ln.strip()][-3:]
            print(f'  {arch}: no KTAP output (log: {r.log}): ' + ' | '.join(tail), file=out)
    print(f'{len(arches) - failed} architectures passed, {failed} failed', file=out)
    return 1 if failed else 0


def main(argv: List[str]) -> int:
    if len(argv) >= 2 and argv[0] == 'reruns':
        for name, opt in reruns(argv[1]):
            print(f'{name} {opt}'.rstrip())
        return 0
    if len(argv) >= 2 and argv[0] == 'matrix':
        kp.module()
        return matrix(argv[1], argv[2:])
    if len(argv) == 3 and argv[0] == 'failed':
        kp.module()
        for s in load(argv[1], argv[2]):
            if s.count(FAIL):
                print(s.name)
        return 0
    if len(argv) >= 2 and argv[0] in ('report', 'timing'):
        try:
            kp.module()
        except Unavailable as e:
            print(f'cannot read the results: {e}', file=sys.stderr)
            return 1
        if argv[0] == 'timing':
            timing(argv[1], argv[2:])
            return 0
        return report(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
