#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of results.py on recorded logs (testdata/): all pass, a failure, a
skip, a crash midway, a plan mismatch, a missing line, a rerun, and the
report of a whole results directory.

Prints KTAP (one result per test), which results.py itself reads in `make
test`. Without a kernel tree to take kunit_parser from, the tests that need
it print "skipped: <why>" and are skipped.
"""

import io
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import results as R  # noqa: E402

sys.path.insert(0, os.path.dirname(HERE))
import ktap_unittest  # noqa: E402

DATA = os.path.join(HERE, 'testdata')


def data(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def ktap(name, text, rc=0):
    s = R.Suite(name, 'rust')
    R.ktap_suite(s, text, rc)
    return s


def verdicts(s):
    return [(c.name, c.verdict) for c in s.cases]


def problems(s):
    return [c.detail for c in s.cases if c.name == '(parser)']


class WithParser(unittest.TestCase):
    def setUp(self):
        try:
            R.kp.module()
        except R.Unavailable as e:
            self.skipTest(str(e))


class Kselftest(WithParser):
    def test_all_pass(self):
        s = ktap('pidfd/pidfd_autoreap_test', data('kselftest-pass.log'))
        self.assertEqual((s.count(R.PASS), s.count(R.FAIL)), (19, 0))
        self.assertEqual(s.cases[7].name, 'global.autoreap_multithreaded')

    def test_failure(self):
        s = ktap('pidfd/pidfd_autoreap_test', data('kselftest-fail.log'), 1)
        failed = [c for c in s.cases if c.verdict == R.FAIL]
        self.assertEqual([c.name for c in failed],
                         ['global.autoreap_basic',
                          'global.autoreap_multithreaded',
                          'global.nnp_sets_no_new_privs',
                          'global.autoreap_no_new_privs_unset'])
        self.assertEqual(s.count(R.PASS), 15)
        # The harness's assertion message is the detail.
        self.assertIn('pidfd_autoreap_test.c:183:autoreap_basic:Expected',
                      failed[0].detail)

    def test_skip(self):
        s = ktap('pidfd/pidfd_test', data('kselftest-skip.log'))
        self.assertEqual([s.count(v) for v in (R.PASS, R.FAIL, R.SKIP)],
                         [7, 0, 1])
        skip = [c for c in s.cases if c.verdict == R.SKIP][0]
        self.assertIn('recycled pid', skip.name)
        # The same name twice in one program stays two cases.
        self.assertTrue(s.cases[1].name.endswith(' [2]'))

    def test_skipped_program(self):
        s = ktap('pidfd/x', 'TAP version 13\n1..0 # SKIP no pidfd support\n', 4)
        self.assertEqual(verdicts(s), [('(program)', R.SKIP)])
        self.assertEqual(s.cases[0].detail, 'no pidfd support')

    def test_crash_midway(self):
        s = ktap('pidfd/pidfd_autoreap_test', data('kselftest-crash.log'), 139)
        self.assertEqual((s.count(R.PASS), s.count(R.FAIL)), (7, 12))
        missing = [c for c in s.cases if c.verdict == R.FAIL]
        self.assertTrue(missing[0].name.startswith('#8 (no result'))
        self.assertIn('signal 11', missing[0].detail)

    def test_plan_mismatch(self):
        s = ktap('pidfd/pidfd_autoreap_test', data('kselftest-plan-mismatch.log'))
        self.assertEqual(s.count(R.PASS), 18)
        self.assertEqual(len(problems(s)), 1)
        self.assertIn('beyond the plan 1..18', problems(s)[0])

    def test_missing_line(self):
        s = ktap('pidfd/pidfd_autoreap_test', data('kselftest-missing-line.log'))
        self.assertEqual(s.count(R.PASS), 18)
        self.assertEqual(s.count(R.FAIL), 2)
        self.assertIn('out of sequence, first global.autoreap_signaled: '
                      'Expected test number 5 but found 6', problems(s)[0])

    def test_no_header_and_no_plan(self):
        # pidfd_open_test prints a plan but no "TAP version" line.
        s = ktap('pidfd/pidfd_open_test', data('kselftest-no-header.log'))
        self.assertEqual((s.count(R.PASS), s.count(R.FAIL)), (4, 0))
        # pidfd_poll_test prints neither; its plan comes from PLANLESS.
        s = ktap('pidfd/pidfd_poll_test', data('kselftest-no-plan.log'))
        self.assertEqual(verdicts(s), [('pidfd poll test: pass', R.PASS)])
        s = ktap('pidfd/pidfd_poll_test', '# running pidfd poll test\n', 1)
        self.assertEqual(s.count(R.PASS), 0)
        self.assertGreater(s.count(R.FAIL), 0)
        # Anyone else must print a plan.
        s = ktap('pidfd/other', data('kselftest-no-plan.log'))
        self.assertIn('no plan', problems(s)[0])

    def test_exit_status(self):
        text = data('kselftest-pass.log')
        s = ktap('pidfd/pidfd_autoreap_test', text, 1)
        self.assertEqual([c.detail for c in s.cases if c.verdict == R.FAIL],
                         ['exit status 1'])
        s = ktap('pidfd/pidfd_autoreap_test', text, 124)
        self.assertIn('timed out', s.cases[-1].detail)
        s = ktap('pidfd/pidfd_autoreap_test', 'Segmentation fault\n', 139)
        self.assertEqual(s.count(R.PASS), 0)
        self.assertGreater(s.count(R.FAIL), 0)


class Ours(WithParser):
    def test_conformance(self):
        s = ktap('conformance', data('conformance-host.log'))
        self.assertEqual(len(s.cases), 92)
        self.assertEqual(s.cases[0].name, 'abi::size_below_ver0_einval')
        self.assertEqual(s.count(R.FAIL), 0)

    def test_conformance_failure_reason(self):
        text = data('conformance-host.log').replace(
            'ok 2 abi::size_above_page_e2big',
            '# abi::size_above_page_e2big: size 4097 gave 0\n'
            'not ok 2 abi::size_above_page_e2big')
        s = ktap('conformance', text, 1)
        self.assertEqual([(c.name, c.detail) for c in s.cases
                          if c.verdict == R.FAIL],
                         [('abi::size_above_page_e2big',
                           '# abi::size_above_page_e2big: size 4097 gave 0')])

    def test_stress_and_fuzz(self):
        s = ktap('stress', data('stress-host.log'))
        self.assertEqual([c.name for c in s.cases],
                         ['cycles', 'no_zombies', 'slab'])
        s = ktap('fuzz-root', data('fuzz-host.log'))
        self.assertEqual(verdicts(s), [('calls', R.PASS)])
        # A fuzzer that died before its summary.
        s = ktap('fuzz-root', 'KTAP version 1\n1..1\n', 134)
        self.assertEqual(s.count(R.FAIL), 1)


class Kunit(WithParser):
    def suites(self, log, kernel='rust'):
        return {s.name: s for s in R.kunit_suites(
            kernel, data(log), R.KUNIT_SUITES[kernel], 0, log)}

    def test_boot(self):
        s = self.suites('kunit-boot-rust.log')
        self.assertEqual(R.cell(s['kunit-clone_autokill']), '6/0/0/0')
        self.assertEqual(R.cell(s['kunit-rust_kernel_pid']), '3/0/0/0')
        self.assertNotIn('kunit', s)  # no general problem
        self.assertEqual(sum(x.count(R.FAIL) for x in s.values()), 0)

    def test_expected_suite_missing(self):
        s = self.suites('kunit-boot-c.log', 'rust')
        self.assertEqual(verdicts(s['kunit-clone_autokill']),
                         [('(suite)', R.FAIL)])
        s = self.suites('kunit-boot-c.log', 'c')
        self.assertEqual(sum(x.count(R.FAIL) for x in s.values()), 0)

    def test_missing_result_line(self):
        s = self.suites('kunit-missing-result.log')
        self.assertEqual(problems(s['kunit-rust_kernel_pid']),
                         ['missing subtest result line!'])
        self.assertEqual(s['kunit-rust_kernel_task'].count(R.FAIL), 0)

    def test_suite_fails_after_its_cases(self):
        text = data('kunit-boot-rust.log').replace('ok 6 rust_kernel_pid',
                                                   'not ok 6 rust_kernel_pid')
        s = {x.name: x for x in R.kunit_suites('rust', text, (), 0, '')}
        self.assertEqual(R.cell(s['kunit-rust_kernel_pid']), '3/1/0/0')

    def test_crash(self):
        s = self.suites('kunit-crash.log')
        c = s['kunit-clone_autokill']
        self.assertEqual((c.count(R.PASS), c.count(R.FAIL) > 0), (2, True))
        # Every suite after the crash is missing.
        self.assertEqual(verdicts(s['kunit-rust_kernel_task']),
                         [('(suite)', R.FAIL)])


class Libtest(unittest.TestCase):
    def test_pass_and_names(self):
        t, p = R.parse_libtest(data('libtest-pass.log'))
        self.assertEqual(p, [])
        self.assertEqual(t, [
            ('clone_autokill_rules::tests::mainline_examples', R.PASS, ''),
            ('clone_autokill_rules::tests::rules_equal_the_c_implementation',
             R.PASS, '')])

    def test_failures_and_skips(self):
        t, p = R.parse_libtest(data('libtest-host.log'))
        self.assertEqual(p, [])
        v = {n: (r, d) for n, r, d in t}
        self.assertEqual(len(t), 38)
        self.assertEqual(sum(r == R.FAIL for r, _ in v.values()), 3)
        self.assertEqual(v['autokill::child::tests::wait_try_wait_and_kill'],
                         (R.SKIP, 'host kernel lacks CLONE_PIDFD_AUTOKILL '
                          '(needs Linux 7.1+)'))
        r, d = v['autokill::sys::tests::pidfd_of_a_reaped_child_has_its_status']
        self.assertEqual(r, R.FAIL)
        self.assertIn('sys.rs:589:9', d)
        self.assertNotIn('backtrace', d)

    def test_crash_midway(self):
        text = data('libtest-pass.log')
        cut = text[:text.index('test tests::rules_equal')]
        t, p = R.parse_libtest(cut)
        self.assertEqual(len(t), 1)
        self.assertTrue(any('2 tests announced, 1 results' in x for x in p))
        self.assertTrue(any('ended with "test result:"' in x for x in p))

    def test_nothing(self):
        s = R.Suite('host-cargo', 'host')
        R.libtest_suite(s, 'error: could not compile `autokill`\n', 101)
        self.assertEqual([c.detail for c in s.cases],
                         ['no "running N tests" line: no test binary ran'])


class ResultsDir(WithParser):
    """A whole results directory: reruns, the report, the comparison."""

    def setUp(self):
        super().setUp()
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def put(self, kernel, name, fmt, rc, text, rerun_of=''):
        d = os.path.join(self.d, kernel)
        os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
        with open(os.path.join(d, name + '.log'), 'w') as f:
            f.write(text)
        with open(os.path.join(d, 'runs'), 'a') as f:
            f.write(f'{name} {fmt} {rc} 1500 {rerun_of}\n')

    FAILED = ('autoreap_basic', 'autoreap_multithreaded',
              'nnp_sets_no_new_privs', 'autoreap_no_new_privs_unset')

    def rerun(self, kernel, case, passed, i=1):
        """A recorded rerun of one case, passed or failed (as that case)."""
        log, was = (('kselftest-rerun-pass.log', 'autoreap_no_new_privs_unset')
                    if passed else
                    ('kselftest-rerun-fail.log', 'autoreap_multithreaded'))
        name = 'selftests/pidfd/pidfd_autoreap_test'
        self.put(kernel, f'{name}.rerun{i}.global.{case}', 'ktap',
                 0 if passed else 1, data(log).replace(was, case), name)

    def one(self, kernel, reruns=None):
        """pidfd_autoreap_test: passing, or failing (kselftest-fail.log)
        with the given reruns (True: passed) of each failed case."""
        name = 'selftests/pidfd/pidfd_autoreap_test'
        self.put(kernel, name, 'ktap', 1 if reruns else 0,
                 data('kselftest-fail.log') if reruns else
                 data('kselftest-pass.log'))
        for case in self.FAILED if reruns else ():
            for i, passed in enumerate(reruns, 1):
                self.rerun(kernel, case, passed, i)

    def test_reruns(self):
        self.one('rust', [True])
        self.put('rust', 'selftests/pidfd/pidfd_test', 'ktap', 0,
                 data('kselftest-skip.log').replace('ok 3 ', 'not ok 3 '))
        self.assertEqual(R.reruns(os.path.join(self.d, 'rust')), [
            ('selftests/pidfd/pidfd_autoreap_test', '-r global.' + c)
            for c in self.FAILED] + [('selftests/pidfd/pidfd_test', '')])

    def load(self):
        return R.load(os.path.join(self.d, 'rust'), 'rust')[0]

    def test_rerun_passes_flaky(self):
        self.one('rust', [True])
        s = self.load()
        self.assertEqual(R.cell(s), '15/0/0/4')
        self.assertIn('then passed on its own, rerun 1', s.cases[4].detail)

    def test_rerun_passes_the_third_time(self):
        self.one('rust', [False, False, True])
        s = self.load()
        self.assertEqual(R.cell(s), '15/0/0/4')
        self.assertIn('then passed on its own, rerun 3', s.cases[4].detail)

    def test_rerun_fails_every_time(self):
        self.one('rust', [False] * 3)
        s = self.load()
        self.assertEqual(R.cell(s), '15/4/0/0')
        self.assertIn('failed again on its own 3 times', s.cases[4].detail)
        # The exit status 1 of the first run is one of these failures.
        self.assertEqual([c.name for c in s.cases if c.verdict == R.FAIL],
                         ['global.' + c for c in self.FAILED])

    def report(self, variants):
        out = io.StringIO()
        rc = R.report(self.d, variants, out)
        return rc, out.getvalue()

    def test_report(self):
        self.put('host', 'host-cargo', 'libtest', 0, data('libtest-pass.log'))
        self.put('host', 'build@rust', 'exit', 0, '')
        self.put('host', 'build@c', 'exit', 0, '')
        for k in ('rust', 'c'):
            self.put(k, 'kunit', 'kunit', 0, data(f'kunit-boot-{k}.log'))
            self.one(k, [True] if k == 'rust' else None)
            self.put(k, 'conformance', 'ktap', 0, data('conformance-host.log'))
            self.put(k, 'fuzz-root', 'ktap', 0, data('fuzz-host.log'))
            with open(os.path.join(self.d, k, 'fuzz-root.calls'), 'w') as f:
                f.write('0 0x0 0 88 root -> errno:EINVAL\n')
        rc, out = self.report(['rust', 'c'])
        lines = out.splitlines()
        self.assertEqual(rc, 0, out)
        self.assertEqual(lines[-1], '82 passed, 0 failed, 174 skipped')
        self.assertIn('4 flaky', lines[-2])
        row = [ln for ln in lines if ln.startswith('pidfd/pidfd_autoreap_test ')][0]
        self.assertEqual(row.split()[1:], ['-', '15/0/0/4', '19/0/0/0'])
        row = [ln for ln in lines if ln.startswith('build ')][0]
        self.assertEqual(row.split()[1:], ['-', '1/0/0/0', '1/0/0/0'])
        self.assertTrue(any(ln.startswith('FLAKY: pidfd/pidfd_autoreap_test@rust: '
                                         'global.autoreap_basic') for ln in lines))
        self.assertTrue(any(ln.startswith('differential-verdicts ') for ln in lines))

    def test_report_mismatch(self):
        for k in ('rust', 'c'):
            text = data('conformance-host.log')
            if k == 'rust':
                text = text.replace('ok 5 abi::parent_from_normal_process_ok',
                                    'not ok 5 abi::parent_from_normal_process_ok')
            self.put(k, 'conformance', 'ktap', 0, text)
        rc, out = self.report(['rust', 'c'])
        self.assertEqual(rc, 1)
        self.assertIn('conformance::abi::parent_from_normal_process_ok: '
                      'c pass, rust fail', out)
        self.assertEqual(out.splitlines()[-1], '9 passed, 2 failed, 174 skipped')

    FAULT = ('KTAP version 1\n1..1\nok 1 - clone3_nnp\n'
             '# passed 1 failed 0 skipped 0\n')

    def fault(self, k, calls):
        self.put(k, 'fault', 'ktap', 0, self.FAULT)
        with open(os.path.join(self.d, k, 'fault.calls'), 'w') as f:
            f.write(calls)

    def test_fault_outcomes_compared(self):
        same = ('clone3_nnp slab 1 injected errno:ENOMEM\n'
                'clone3_nnp slab 2 clean child:killed consumed:1\n')
        for k in ('rust', 'c', 'debug'):
            self.fault(k, same if k != 'debug' else 'other points\n')
        rc, out = self.report(['rust', 'c', 'debug'])
        self.assertEqual(rc, 0, out)
        row = [ln for ln in out.splitlines() if ln.startswith('differential-fault ')]
        # Columns rust, c, debug: the debug kernel's fault points are its
        # own, not compared.
        self.assertEqual(row[0].split()[1:], ['1/0/0/0', '-', '-'])

    def test_kmemleak_only_on_debug(self):
        self.fault('c', 'a\n')
        self.fault('debug', 'b\n')
        self.put('debug', 'fault', 'ktap', 0, self.FAULT.replace(
            '1..1', '1..2') + 'ok 2 - kmemleak\n')
        rc, out = self.report(['c', 'debug'])
        self.assertEqual(rc, 0, out)
        row = [ln for ln in out.splitlines() if ln.startswith('differential-verdicts ')]
        self.assertEqual(row[0].split()[1:], ['-', '1/0/0/0'])

    def test_suite_missing_on_one_kernel(self):
        self.fault('c', 'a\n')
        rc, out = self.report(['c', 'debug'])
        self.assertEqual(rc, 1)
        self.assertIn('fault::clone3_nnp: c pass, debug absent', out)

    def test_fault_outcome_differs(self):
        self.fault('c', 'clone3_nnp slab 1 injected errno:ENOMEM\n')
        self.fault('rust', 'clone3_nnp slab 1 injected errno:EINVAL\n')
        rc, out = self.report(['rust', 'c'])
        self.assertEqual(rc, 1)
        self.assertIn('c: clone3_nnp slab 1 injected errno:ENOMEM | '
                      'rust: clone3_nnp slab 1 injected errno:EINVAL', out)

    def test_fault_outcome_missing_lines(self):
        self.fault('c', 'a\nb\n')
        self.fault('rust', 'a\n')
        rc, out = self.report(['rust', 'c'])
        self.assertEqual(rc, 1)
        self.assertIn('c has 2 lines, rust 1', out)

    def test_not_run(self):
        for k in ('rust', 'c'):
            self.put(k, 'selftests/pidfd/pidfd_test', 'ktap', 0,
                     data('kselftest-pass.log'))
        self.put('debug', 'selftests/pidfd/pidfd_test', 'notrun', 0,
                 'SELFTEST_NOT_RUN')
        rc, out = self.report(['rust', 'c', 'debug'])
        self.assertEqual(rc, 0, out)
        self.assertIn('skip: pidfd/pidfd_test@debug: not run: not run on the '
                      'debug kernel', out)
        row = [ln for ln in out.splitlines() if ln.startswith('pidfd/pidfd_test ')][0]
        self.assertEqual(row.split()[-1], '0/0/1/0')

    def test_no_results(self):
        rc, out = self.report(['debug'])
        self.assertEqual(rc, 1)
        self.assertIn('no results in', out)

    def test_kcsan(self):
        log = (
            'booting\n'
            '==================================================================\n'
            'BUG: KCSAN: data-race in copy_process / posixtimer_create_prctl\n'
            '\n'
            'write to 0xffff888003e3b0aa of 1 bytes by task 93 on cpu 1:\n'
            ' posixtimer_create_prctl+0x4a/0x80\n'
            '\n'
            'read to 0xffff888003e3b0aa of 1 bytes by task 92 on cpu 0:\n'
            ' copy_process+0x1c3/0x2a40\n'
            '==================================================================\n'
            'BUG: KCSAN: data-race in copy_process / posixtimer_create_prctl\n'
            ' copy_process+0x1c3/0x2a40\n'
            '==================================================================\n')
        s = R.Suite('kcsan', 'kcsan-c')
        R.kcsan_suite(s, log, 'kcsan-c')
        self.assertEqual((s.count(R.PASS), s.count(R.FAIL), s.count(R.SKIP)), (2, 0, 1))
        self.assertIn('2 reports', s.cases[-1].detail)
        ours = log.replace('copy_process+0x1c3', 'rust_helper_signal_autoreap+0x3')
        s = R.Suite('kcsan', 'kcsan')
        R.kcsan_suite(s, ours + 'WARNING: CPU: 0 PID: 1 at fs/pidfs.c:12\n', 'kcsan')
        self.assertEqual((s.count(R.PASS), s.count(R.FAIL), s.count(R.SKIP)), (0, 2, 0))
        # The C implementation's function is upstream code on a C kernel, ours on a Rust one.
        moved = log.replace('copy_process+0x1c3', 'clone_autokill_flags_check+0x55')
        for kernel, verdicts in (('kcsan-c', (2, 0, 1)), ('kcsan', (1, 1, 0))):
            s = R.Suite('kcsan', kernel)
            R.kcsan_suite(s, moved, kernel)
            self.assertEqual((s.count(R.PASS), s.count(R.FAIL), s.count(R.SKIP)), verdicts)

    def test_kallsyms_and_dmesg(self):
        for k, syms in (('rust', 'ffffffff81234560 T clone_autokill_flags_check\n'
                                 'ffffffff81234570 T pidfs_autokill\n'),
                        ('c', 'ffffffff81060da0 t clone_autokill_flags_check\n')):
            with open(os.path.join(self.d, k + '.log'), 'w') as f:
                f.write(syms)
            s = R.Suite('implementation', k)
            R.kallsyms_suite(s, syms, k)
            self.assertEqual(s.count(R.PASS), 1)
            s = R.Suite('implementation', k)
            R.kallsyms_suite(s, syms, 'rust' if k == 'c' else 'c')
            self.assertEqual(s.count(R.FAIL), 1)
        s = R.Suite('dmesg-clean', 'rust')
        R.dmesg_suite(s, data('kunit-boot-rust.log'))
        self.assertEqual(s.count(R.PASS), 1)
        s = R.Suite('dmesg-clean', 'rust')
        R.dmesg_suite(s, data('kunit-crash.log'))
        self.assertIn('BUG: kernel NULL pointer', s.cases[0].detail)


class Matrix(WithParser):
    """make matrix's table: built or not, KUnit and doctests counted apart,
    a suite that did not run is a failure."""

    def setUp(self):
        super().setUp()
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def put(self, arch, text, rc=0):
        os.makedirs(os.path.join(self.d, arch))
        with open(os.path.join(self.d, arch, 'kunit.log'), 'w') as f:
            f.write(text)
        with open(os.path.join(self.d, arch, 'runs'), 'w') as f:
            f.write(f'kunit kunit {rc} 60000\n')

    def table(self, *arches):
        out = io.StringIO()
        rc = R.matrix(self.d, list(arches), out)
        return rc, out.getvalue().splitlines()

    def test_rows(self):
        self.put('um', data('kunit-boot-rust.log'))
        self.put('arm64', 'make: *** [Makefile] Error 2\n', rc=1)
        self.put('loongarch', '[21:40:18] Starting KUnit Kernel (1/1)...\n'
                 "qemu-system-loongarch64: unable to find CPU model 'max'\n")
        rc, lines = self.table('um', 'arm64', 'loongarch', 's390')
        self.assertEqual(rc, 1)
        um = next(ln for ln in lines if ln.startswith('um '))
        # Every expected suite but the doctests ran (a boot log of the
        # Rust kernel, which has none): the doctests are one failure.
        self.assertEqual(um.split()[1:4], ['ok', '19/0/0', '0/1/0'])
        self.assertTrue(any(ln.startswith('arm64 ') and ' FAILED ' in ln for ln in lines))
        self.assertTrue(any('no KTAP output' in ln and 'Error 2' in ln for ln in lines))
        self.assertTrue(any(ln.startswith('s390 ') and '(no run)' in ln for ln in lines))
        # Built, but its emulator did not start it: built ok, not run, failed.
        la = next(ln for ln in lines if ln.startswith('loongarch '))
        self.assertEqual(la.split()[1:4], ['ok', '(not', 'run)'])
        self.assertTrue(any('CPU model' in ln for ln in lines))
        self.assertEqual(lines[-1], '0 architectures passed, 4 failed')


class RecordContract(WithParser):
    """The writer (record.sh, which guest.sh, test.sh and make mutants
    source) and the reader (results.py) of the run record agree."""

    def setUp(self):
        super().setUp()
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def record(self, script):
        import subprocess
        subprocess.run(['bash', '-c', f'. {HERE}/record.sh && record_init "$1" && ' + script,
                        'bash', self.d, DATA], check=True)

    def test_written_and_read(self):
        self.record('record_run selftests/pidfd/pidfd_autoreap_test ktap 60 "$2" '
                    'cat kselftest-fail.log; '
                    'RERUN_OF=selftests/pidfd/pidfd_autoreap_test record_run '
                    'selftests/pidfd/pidfd_autoreap_test.rerun1 ktap 0 "$2" '
                    'cat kselftest-pass.log; '
                    'record_run kunit kunit 60 "$2" cat kunit-boot-rust.log; '
                    'record_note selftests/pidfd/pidfd_poll_test notrun 0 why; '
                    'record_run conformance ktap 60 / sh -c "exit 3"; true')
        runs = R.read_runs(self.d)
        self.assertEqual([(r.name, r.format, r.rc, r.rerun_of) for r in runs], [
            ('selftests/pidfd/pidfd_autoreap_test', 'ktap', 0, ''),
            ('selftests/pidfd/pidfd_autoreap_test.rerun1', 'ktap', 0,
             'selftests/pidfd/pidfd_autoreap_test'),
            ('kunit', 'kunit', 0, ''),
            ('selftests/pidfd/pidfd_poll_test', 'notrun', 0, ''),
            ('conformance', 'ktap', 3, '')])
        self.assertTrue(all(os.path.isfile(r.log) for r in runs))
        out = io.StringIO()
        sys.stdout, old = out, sys.stdout
        try:
            R.main(['failed', self.d, 'rust'])
        finally:
            sys.stdout = old
        # The selftest's failures all passed on their own (flaky); the
        # conformance suite printed nothing and exited 3.
        self.assertEqual(out.getvalue().split(), ['conformance'])


def main():
    try:
        R.kp.module()
        head = f'kunit_parser of {R.kp.tree()}'
    except R.Unavailable as e:
        head = f'skipped: {e}'
    return ktap_unittest.run(sys.modules[__name__], head)


if __name__ == '__main__':
    sys.exit(main())
