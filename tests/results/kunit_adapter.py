# SPDX-License-Identifier: GPL-2.0
"""The one place results.py meets the kernel tree's kunit_parser.

kunit_parser (tools/testing/kunit/) is the kernel's KTAP parser, the one
kunit.py uses; it is taken from the tree under test, not copied. Its module
interface is not a stable API, so everything results.py needs from it goes
through here: the line patterns, the status enum and one `parse()`.
tests/results/test_results.py runs against the parser of every kernel of
scripts/harness.py KERNELS that is in the cache.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'scripts'))
import harness  # noqa: E402


class Unavailable(Exception):
    """kunit_parser cannot be imported; the message says why."""


def kernel_trees() -> List[str]:
    """The trees to take kunit_parser from: $AUTOKILL_KUNIT_TREES (colon
    separated), else the working tree, then KSRC or the pristine source."""
    if os.environ.get('AUTOKILL_KUNIT_TREES'):
        return os.environ['AUTOKILL_KUNIT_TREES'].split(':')
    cache = harness.cache()
    trees = [os.path.join(cache, 'work', 'linux')]
    if os.environ.get('KSRC'):
        trees.append(os.environ['KSRC'])
    trees.append(os.path.join(cache, 'src', 'linux-' + (
        os.environ.get('KVER') or harness.KERNELS[0])))
    return trees


_kp = None
_tree = None


def module():
    """The kunit_parser module of the first tree that has one."""
    global _kp, _tree
    if _kp is None:
        for tree in kernel_trees():
            d = os.path.join(tree, 'tools', 'testing', 'kunit')
            if os.path.isfile(os.path.join(d, 'kunit_parser.py')):
                sys.path.insert(0, d)
                sys.dont_write_bytecode = True
                import kunit_parser
                _wrap_add_error(kunit_parser)
                _kp, _tree = kunit_parser, tree
                break
        else:
            raise Unavailable('no tools/testing/kunit/kunit_parser.py in ' +
                              ' or '.join(kernel_trees()))
    return _kp


def tree() -> str:
    """The tree kunit_parser was taken from."""
    module()
    return _tree


def _wrap_add_error(kp) -> None:
    """Keep the parser's error messages as data: Test.add_error(printer,
    message) is where every one of them is made; the printer it is given
    (ours, below) collects "TEST: message"."""
    orig = kp.Test.add_error

    def add_error(self, printer, message: str) -> None:
        if isinstance(getattr(printer, 'errors', None), list):
            printer.errors.append(f'{self.name}: {message}')
        orig(self, printer, message)
    kp.Test.add_error = add_error


def status():
    """kunit_parser.TestStatus."""
    return module().TestStatus


def is_version(line: str) -> bool:
    kp = module()
    return bool(kp.KTAP_START.match(line) or kp.TAP_START.match(line))


def is_plan(line: str) -> bool:
    return bool(module().TEST_PLAN.match(line))


def is_result(line: str) -> bool:
    return bool(module().TEST_RESULT.match(line))


@dataclass
class Parsed:
    # The top-level kunit_parser.Test (None without KTAP lines).
    main: Optional[object]
    # The parser's error messages, "TEST: message" each.
    errors: List[str]
    # The KTAP lines left after the top-level test ended (beyond its plan).
    rest: List[str]


def parse(lines: List[str]) -> Parsed:
    """Parse KTAP (or TAP) from lines of output, as kunit.py does."""
    kp = module()
    import kunit_printer

    printer = kunit_printer.Printer(print=False)
    printer.errors = []
    stream = kp.extract_tap_lines(lines)
    if not stream:
        return Parsed(None, [], [])
    main = kp.parse_test(stream, 0, [], False, printer)
    return Parsed(main, printer.errors, list(stream))
