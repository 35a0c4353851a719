#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise a `make bench` run: per case the cost of one operation on each
kernel, the Rust/C ratio and the spread across boots; the calibration
checks; a static comparison of the two vmlinux images; an SVG of the ratios.

Usage: bench.py --static RESULTS_DIR RUST_VMLINUX C_VMLINUX
       bench.py --spawn RESULTS_DIR
       bench.py RESULTS_DIR
The first writes RESULTS_DIR/static.txt (every listing) and static.json.
The second reads RESULTS_DIR/meta.json (written by bench.sh), N-rust.json
and N-c.json (what the BENCH_RUNS autokill-bench processes of boot N
printed) and static.json, prints the checks, the table and the static
comparison, and writes summary.json and ratios.svg. With only one kernel's
files (`bench.sh --check`) it prints the checks alone. In instruction mode
it exits 1 if a check fails.
--spawn summarises a run of spawn-bench.sh (`make bench-spawn`,
scripts/benchlib/spawn.py): RESULTS_DIR/host.json and vm.json (either may
be missing) and meta.json if there; it prints the tables and the goal's
verdict and writes summary.txt, summary.json and spawn.svg.
"""

import contextlib
import json
import os
import sys

# The package benchlib (one module a job) and harness.py live next to this
# file, wherever bench.py is started from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import KERNELS, spawn
from benchlib.static import static_report
from benchlib.stats import load, print_checks, print_table, summarise
from benchlib.svg import svg


class Tee:
    """Standard output, also written to a file (summary.txt)."""

    def __init__(self, file):
        self.file = file
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
    if len(sys.argv) == 3 and sys.argv[1] == "--spawn":
        return spawn_summary(sys.argv[2])
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = sys.argv[1]
    with open(os.path.join(results, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(results, "summary.txt"), "w") as f, contextlib.redirect_stdout(Tee(f)):
        return summary_report(results, meta)


def spawn_summary(results):
    """The summary of a spawn-bench.sh run, also in summary.txt."""
    if not any(os.path.exists(os.path.join(results, p + ".json")) for p in spawn.PLACES):
        sys.exit(f"bench.py: no host.json or vm.json in {results}")
    meta = {}
    meta_file = os.path.join(results, "meta.json")
    if os.path.exists(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
    with open(os.path.join(results, "summary.txt"), "w") as f, contextlib.redirect_stdout(Tee(f)):
        spawn.report(results, meta)
    return 0


def summary_report(results, meta):
    """Prints the summary of a run, writes summary.json and ratios.svg;
    whether the checks pass, as main() returns it."""
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
        print(f"{'case':16} {k + ' ' + unit + '/op, each boot':>40} {'spread':>9} "
              f"{'median, each boot':>30}")
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
            print("Static comparison (llvm-objdump of each vmlinux; the path followed through "
                  "calls and tail calls with concrete inputs; full listings in static.txt):")
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
