# SPDX-License-Identifier: GPL-2.0
"""A unittest runner that prints KTAP, one result line per test as it
comes, so that make test's results parser counts Python tests like any
other suite (tests/results/test_results.py, tests/bench/test_bench.py).
"""

import sys
import traceback
import unittest


class Ktap(unittest.TestResult):
    """Prints each result as KTAP as it comes."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.n = 0

    def name(self, test):
        return f'{type(test).__name__}.{test._testMethodName}'

    def result(self, test, ok, directive=''):
        self.n += 1
        print(f'{"ok" if ok else "not ok"} {self.n} {self.name(test)}{directive}',
              file=self.out, flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.result(test, True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.result(test, True, f' # SKIP {reason}')

    def _fail(self, test, err):
        for line in ''.join(traceback.format_exception(*err)).splitlines():
            print(f'# {line}', file=self.out)
        self.result(test, False)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)


def run(module, comment: str = '') -> int:
    """Run every test of module; KTAP on stdout; the exit status."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    print('KTAP version 1')
    if comment:
        print(f'# {comment}')
    print(f'1..{suite.countTestCases()}')
    result = Ktap(sys.stdout)
    suite.run(result)
    passed = (result.testsRun - len(result.failures) - len(result.errors) -
              len(result.skipped))
    print(f'# passed {passed} failed {len(result.failures) + len(result.errors)} '
          f'skipped {len(result.skipped)}')
    return 0 if result.wasSuccessful() else 1
