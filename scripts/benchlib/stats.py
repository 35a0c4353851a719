# SPDX-License-Identifier: GPL-2.0
"""The benchmark's numbers: what the autokill-bench processes printed in each
boot (N-rust.json, N-c.json), per case and kernel the value of each boot and
their spread, the Rust/C ratio, and the checks that the clock counts
instructions, linearly and the same in every boot."""

import glob
import json
import os
import re
import statistics

from . import KERNELS, LIMIT


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
    for boots in runs.values():
        boots.sort(key=lambda r: r[0])
    return runs


def trimmed_mean(ops, cut=0.2):
    """The mean of the middle 60%: what a typical operation costs, without
    the timer ticks and other interrupts that land in some of them.

    Not the middle 80%: in some cases (rejected clone3() calls) a regular
    share of the calls, more than a tenth of them, is interrupted and costs
    far more, so a 10% cut falls inside that group and each interrupted call
    it keeps moves the mean; with a 20% cut on each side the result is the
    same in every boot."""
    s = sorted(ops)
    k = int(len(s) * cut)
    return statistics.fmean(s[k:len(s) - k])


def stats(records):
    """One boot's value of a case: each run's trimmed mean (and median),
    then their mean over the runs.

    Over the runs, not over all operations: within one process the cost of
    an operation is steady (the first and last third of a run agree
    closely), but in fork-heavy cases it moves from one process to the next
    by more than the spread a case is judged by. That part is the process's
    place in the boot, the same in every boot and in both kernels (in
    accepted_clone3 and autokill_cycle some places cost more than the
    others): the mean over the runs weighs every place alike in every boot,
    where their median picked whichever process fell in the middle and
    moved from boot to boot. In some boots every process runs each
    operation cheaper by the same amount; no statistic over one boot's
    processes hides that."""
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
    steps = [(c1 - c0) / (n1 - n0)
             for n0, n1, c0, c1 in zip(ns, ns[1:], counts, counts[1:], strict=False)]
    b = statistics.median(steps)
    dev = max(abs(x - b) / b for x in steps)
    return b, counts[-1] - b * ns[-1], dev


def summarise(runs, unit):
    """(per case: each kernel's per-boot values, their median and spread,
    the Rust/C ratio; per calibration and kernel: each boot's linear fit)."""
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
                                       for a, b in zip(r["per_boot"], c["per_boot"],
                                                       strict=False)]
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
                         in zip(f["n"], f["n"][1:], f["counts"], f["counts"][1:], strict=False)]
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

