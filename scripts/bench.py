#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise a `make bench` run: Rust/C ratios per case and a static
comparison of the two vmlinux images.

Usage: bench.py RESULTS_DIR RUST_VMLINUX C_VMLINUX ACCEL
RESULTS_DIR holds N-rust.json and N-c.json (one JSON object per line and
case, as autokill-bench prints). Writes RESULTS_DIR/summary.json.
"""

import glob
import json
import os
import re
import statistics
import subprocess
import sys

OBJDUMP = "llvm-objdump-19"


def load(results):
    runs = {"rust": [], "c": []}
    for path in sorted(glob.glob(os.path.join(results, "*-*.json"))):
        m = re.match(r"(\d+)-(rust|c)\.json$", os.path.basename(path))
        if not m:
            continue
        cases = {}
        for line in open(path):
            if line.startswith("{"):
                d = json.loads(line)
                cases[d["case"]] = d
        runs[m.group(2)].append((int(m.group(1)), cases))
    return runs


def disasm(vmlinux, symbol):
    out = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn",
                          f"--disassemble-symbols={symbol}", vmlinux],
                         capture_output=True, text=True).stdout
    insns = []
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S.*)$", line)
        if m and not m.group(2).startswith("int3"):
            insns.append((int(m.group(1), 16), m.group(2).strip()))
    return insns


def fast_path(insns):
    """The instructions a release of a file without PIDFD_AUTOKILL executes:
    from the entry, following jumps, where the first conditional branch after
    the test of the flag (O_TRUNC, bit 1 of the second byte of f_flags) goes
    the way of "flag clear"; ends at the first return."""
    at = {addr: (i, text) for i, (addr, text) in enumerate(insns)}
    path, i, tested = [], 0, False
    while 0 <= i < len(insns) and len(path) < 64:
        text = insns[i][1]
        path.append(text)
        op = text.split()[0]
        if op.startswith("ret"):
            break
        target = re.search(r"\s0x([0-9a-f]+)\s<", text)
        if op.startswith("test") and "0x29(%rsi)" in text:
            tested = True
        elif op.startswith("j") and tested and op != "jmp":
            tested = False
            taken = op in ("je", "jz")  # jump taken when the flag is clear
            if taken and target:
                i = at[int(target.group(1), 16)][0]
                continue
        elif op == "jmp" and target and int(target.group(1), 16) in at:
            i = at[int(target.group(1), 16)][0]
            continue
        i += 1
    return path


def main():
    results, rust_vm, c_vm, accel = sys.argv[1:5]
    runs = load(results)
    cases = list(runs["rust"][0][1].keys()) if runs["rust"] else []
    summary = {"accelerator": accel, "boots": len(runs["rust"]), "cases": {}}
    print()
    print(f"Rust/C, {len(runs['rust'])} boots each, alternating; accelerator: {accel.upper()}")
    if accel == "tcg":
        print("(TCG emulation: absolute times are not native times; the ratios are the result)")
    print()
    print(f"{'case':18} {'rust ns/op':>11} {'c ns/op':>11} {'ratio':>7}  {'ratio per boot (min..max)':>26}")
    for case in cases:
        r = [c[case]["median_ns"] for _, c in runs["rust"]]
        c = [c[case]["median_ns"] for _, c in runs["c"]]
        per_boot = [a / b for a, b in zip(r, c)]
        # The medians of all samples of all boots of each kernel.
        rm = statistics.median(x for _, c in runs["rust"] for x in c[case]["samples"])
        cm = statistics.median(x for _, c in runs["c"] for x in c[case]["samples"])
        ratio = rm / cm
        summary["cases"][case] = {"rust_median_ns": rm, "c_median_ns": cm,
                                  "ratio": ratio, "ratio_per_boot": per_boot,
                                  "rust_per_boot": r, "c_per_boot": c}
        print(f"{case:18} {rm:11.1f} {cm:11.1f} {ratio:7.3f}  "
              f"{min(per_boot):12.3f} .. {max(per_boot):.3f}")

    print()
    print("Static comparison (llvm-objdump of each vmlinux):")
    static = {}
    for name, vm in (("rust", rust_vm), ("c", c_vm)):
        rel = disasm(vm, "pidfs_file_release")
        chk = disasm(vm, "clone_autokill_flags_check")
        cp = disasm(vm, "copy_process")
        size = lambda i: (i[-1][0] - i[0][0] + 1) if i else 0
        static[name] = {
            "pidfs_file_release_insns": len(rel),
            "pidfs_file_release_fast_path": fast_path(rel),
            "clone_autokill_flags_check_insns": len(chk),
            "copy_process_insns": len(cp),
            "copy_process_bytes": size(cp),
        }
    for name in ("rust", "c"):
        s = static[name]
        print(f"  {name:4}: pidfs_file_release {s['pidfs_file_release_insns']} insns, "
              f"not-armed path {len(s['pidfs_file_release_fast_path'])}; "
              f"clone_autokill_flags_check {s['clone_autokill_flags_check_insns']} insns; "
              f"copy_process {s['copy_process_insns']} insns")
    for name in ("rust", "c"):
        print(f"  {name} release, not-armed path: "
              + " ; ".join(static[name]["pidfs_file_release_fast_path"]))
    summary["static"] = static
    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nraw numbers: {results}/*.json, summary: {results}/summary.json")


if __name__ == "__main__":
    main()
