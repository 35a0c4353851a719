#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fill the cover letter `git format-patch --cover-letter` wrote.

  cover-letter.py TEMPLATE COVER CACHE

TEMPLATE (c-glue/cover-letter.txt) is the subject line, a blank line and
the body, with four placeholders filled from the project's last runs in
CACHE: @STATIC@ and @BENCH@ from the newest `make bench` (bench/*/),
@TESTS@ from the last `make test` (last-test-report.txt) and @KCSAN@ from
the last `make kcsan` (last-kcsan-report.txt). A run that is missing says
so in the letter instead of a number.
"""

import glob
import os
import sys
import textwrap


def newest(pattern):
    paths = sorted(glob.glob(pattern), key=os.path.getmtime)
    return paths[-1] if paths else None


def indent(text):
    return "\n".join(("    " + line).rstrip() for line in text.rstrip().splitlines())


def section(path, what, how):
    if path is None:
        return f"({what}: no run recorded yet; `{how}` makes one.)"
    return indent(open(path).read())


def table(report):
    """The table of suites by kernel and the last line of a `make test`
    report (what comes before them names the failures and skips)."""
    lines = open(report).read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("suite ")), 0)
    return indent("\n".join(lines[start:]))


def kcsan(report):
    """What the last `make kcsan` found: its KCSAN reports, and its last
    line."""
    if not os.path.exists(report):
        return "(KCSAN: no run recorded yet; `make kcsan` makes one.)"
    lines = open(report).read().splitlines()
    found = [ln[len("kcsan: "):] for ln in lines if ln.startswith("kcsan: ")]
    fails = [ln for ln in lines if ln.startswith("FAIL")]
    text = ("Under KCSAN (a kernel with the option on and one with it off, "
            "the conformance, fuzz and stress programs and "
            "pidfd_autoreap_test running beside a loop of "
            "prctl(PR_TIMER_CREATE_RESTORE_IDS)), ")
    text += (f"{len(fails)} checks failed. " if fails else
             "no report named the series' code. ")
    text += ("Reports in other code:" if found else
             "No report was made in other code either.")
    text = textwrap.fill(text, 72)
    if found:
        text += "\n\n" + indent("\n".join(found))
    return text + "\n\n" + indent(lines[-1] if lines else "")


def main(template, cover, cache):
    subject, body = open(template).read().split("\n\n", 1)
    bench = newest(os.path.join(cache, "bench", "*", "summary.txt"))
    static = newest(os.path.join(cache, "bench", "*", "static.txt"))
    report = os.path.join(cache, "last-test-report.txt")
    body = (body.replace("@STATIC@", section(static, "static comparison", "make bench"))
            .replace("@BENCH@", section(bench, "benchmark", "make bench"))
            .replace("@KCSAN@", kcsan(os.path.join(cache, "last-kcsan-report.txt")))
            .replace("@TESTS@", table(report) if os.path.exists(report) else
                     section(None, "test results", "make test")))
    text = open(cover).read()
    for placeholder in ("*** SUBJECT HERE ***", "*** BLURB HERE ***"):
        if placeholder not in text:
            sys.exit(f"error: {cover} has no '{placeholder}'")
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", body.rstrip())
    open(cover, "w").write(text)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
