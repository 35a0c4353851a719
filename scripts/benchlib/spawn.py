# SPDX-License-Identifier: GPL-2.0
"""The spawn benchmark's summary (scripts/spawn-bench.sh, `make bench-spawn`):
what autokill-spawn-bench printed on the host (host.json, wall time) and in
the VM (vm.json, under QEMU -icount shift=0: guest instructions), per place
a table by parent size and library, the goal's verdict, and spawn.svg.

The goal (issue 22): autokill's default path (vfork) within GOAL x std's
spawn at every parent size, and flat in the parent's size (its spawn at the
largest parent within FLAT x its spawn at the smallest).

Everything printed and written depends only on the files read: the same
input gives the same summary.txt, summary.json and spawn.svg.
"""

import json
import math
import os
import statistics
from xml.sax.saxutils import escape

# The libraries and paths, in the order of autokill-spawn-bench's LIBS.
LIBS = ("autokill-vfork", "autokill-fork", "std", "tokio")
# Where the benchmark ran, in the order of the tables and panels.
PLACES = ("host", "vm")
# autokill-vfork's spawn over std's, at most, at every size.
GOAL = 1.1
# autokill-vfork's spawn at the largest parent over at the smallest, at most.
FLAT = 1.1
# The records' statistics summarised (their medians).
FIELDS = ("spawn_us", "reap_us", "touch_after_ms", "touch_baseline_ms")
COLORS = {"autokill-vfork": "#c0392b", "autokill-fork": "#e67e22",
          "std": "#1f5fa8", "tokio": "#27ae60"}

# Per place: its name, the unit of the "us" and "ms" fields and what they
# are.
UNITS = {
    "host": {"title": "host", "us": "µs", "ms": "ms",
             "clock": "wall time (CLOCK_MONOTONIC)"},
    "vm": {"title": "VM", "us": "kinsn", "ms": "Minsn",
           "clock": "guest instructions: under QEMU -icount shift=0 the guest's clock advances "
                    "1 ns per instruction, so a guest µs is 1000 instructions (kinsn) and a "
                    "guest ms 10^6 (Minsn), of every task the one vCPU ran meanwhile"},
}


def load(path):
    """The spawn records of one file (lines that are not a record skipped),
    or None if there is no such file."""
    if not os.path.exists(path):
        return None
    records = []
    with open(path) as f:
        for line in f:
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            if d.get("bench") == "spawn":
                records.append(d)
    return records


def median_of(records, name):
    """The median of the records' medians of one statistic (one record per
    case as spawn-bench.sh runs it; more are allowed)."""
    return statistics.median(r[name]["median"] for r in records)


def summarise(records):
    """One place's numbers: per parent size and library the medians, the
    autokill-vfork/std ratios, and the goal's verdict."""
    cases = {}
    for r in records:
        cases.setdefault(r["parent_mib"], {}).setdefault(r["lib"], []).append(r)
    rows = []
    for mib in sorted(cases):
        libs = {}
        for lib in LIBS + tuple(sorted(set(cases[mib]) - set(LIBS))):
            rs = cases[mib].get(lib)
            if not rs:
                continue
            e = {f[:f.rindex("_")]: median_of(rs, f) for f in FIELDS}
            e["spawn_min"] = min(r["spawn_us"]["min"] for r in rs)
            e["armed"] = all(r.get("armed", False) for r in rs)
            e["iterations"] = sum(r.get("iterations", 0) for r in rs)
            libs[lib] = e
        row = {"parent_mib": mib, "libs": libs}
        v, s = libs.get("autokill-vfork"), libs.get("std")
        if v and s and s["spawn"] > 0 and s["reap"] > 0:
            row["vfork_std"] = v["spawn"] / s["spawn"]
            row["vfork_std_reap"] = v["reap"] / s["reap"]
        rows.append(row)
    autokill = [r for r in records if r["lib"].startswith("autokill")]
    kernels = sorted({r.get("kernel", "") for r in records} - {""})
    return {"rows": rows, "goal": goal(rows),
            "armed": (None if not autokill else
                      "armed" if all(r.get("armed") for r in autokill) else
                      "unarmed" if not any(r.get("armed") for r in autokill) else "mixed"),
            "kernel": ", ".join(kernels),
            "iterations": sorted({r.get("iterations", 0) for r in records})}


def growth(rows, lib):
    """lib's spawn at the largest parent over at the smallest, and the
    largest over the smallest of its spawns at any size; None with fewer
    than two sizes."""
    spawns = [r["libs"][lib]["spawn"] for r in rows if lib in r["libs"]]
    if len(spawns) < 2 or min(spawns) <= 0:
        return None
    return {"largest_smallest": spawns[-1] / spawns[0], "max_min": max(spawns) / min(spawns)}


def goal(rows):
    """The verdict: within (autokill-vfork/std <= GOAL at every size with
    both; the sizes without both listed), flat (autokill-vfork's spawn at
    the largest size over at the smallest <= FLAT); None where not
    measured. Also every library's growth with the parent's size."""
    ratios = [(r["vfork_std"], r["parent_mib"]) for r in rows if "vfork_std" in r]
    out = {"limit": GOAL, "flat_limit": FLAT, "within": None, "flat": None}
    if ratios:
        worst = max(ratios)
        out["worst_ratio"], out["worst_mib"] = worst
        out["within"] = worst[0] <= GOAL
        out["sizes_without_both"] = [r["parent_mib"] for r in rows if "vfork_std" not in r]
    out["growth"] = {lib: g for lib in LIBS if (g := growth(rows, lib)) is not None}
    if "autokill-vfork" in out["growth"]:
        out["flat"] = out["growth"]["autokill-vfork"]["largest_smallest"] <= FLAT
    return out


def num(v):
    """A cost, to about four significant digits, without an exponent."""
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def size(mib):
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


def yes(v):
    return "not measured" if v is None else "yes" if v else "NO"


def print_place(place, s, meta):
    """Prints one place's tables and the goal's verdict."""
    u = UNITS[place]
    rows = s["rows"]
    libs = [lib for lib in LIBS if any(lib in r["libs"] for r in rows)]
    what = {"armed": "autokill armed (CLONE_PIDFD_AUTOKILL)",
            "unarmed": "autokill unarmed (no CLONE_PIDFD_AUTOKILL in this kernel: "
                       "spawn_unarmed(), the same clone3() without the autokill flags)",
            "mixed": "autokill armed in some cases only",
            None: "no autokill case"}[s["armed"]]
    its = "/".join(map(str, s["iterations"]))
    print(f"{u['title']}: Linux {s['kernel'] or '?'}, {what}; {its} timed spawns per case, "
          "medians")
    print(f"  {u['clock']}")
    m = meta.get(place) or {}
    if place == "vm" and m:
        print(f"  QEMU {m.get('qemu_opts', '?')}, {m.get('cpus', '?')} vCPU, "
              f"{m.get('memory', '?')}, {m.get('kernel_release', '?')} kernel "
              f"(bzImage {m.get('bzimage', '?')})")
    if place == "host" and m:
        print(f"  load average {m.get('loadavg_before', '?')} before, "
              f"{m.get('loadavg_after', '?')} after (the host's other work is in the wall time)")
    w = max([14] + [len(lib) for lib in libs])
    head = f"  {'parent':>8}" + "".join(f" {lib:>{w}}" for lib in libs)
    blocks = (("spawn", f"spawn-to-exec, {u['us']}: until spawn() returned (the child "
               "past its execve())"),
              ("reap", f"spawn-to-reap, {u['us']}: until wait() returned the exit status"))
    for key, title in blocks:
        print(f"  {title}")
        print(head + f" {'vfork/std':>9}")
        for r in rows:
            cells = "".join(f" {num(r['libs'][lib][key]) if lib in r['libs'] else '-':>{w}}"
                            for lib in libs)
            ratio = r.get("vfork_std" if key == "spawn" else "vfork_std_reap")
            print(f"  {size(r['parent_mib']):>8}{cells} "
                  f"{'-' if ratio is None else f'{ratio:.3f}':>9}")
    print(f"  heap touched again, {u['ms']}: one write to every page right after the spawn "
          "/ the same again with no spawn between")
    print(head)
    for r in rows:
        cells = ""
        for lib in libs:
            e = r["libs"].get(lib)
            cells += f" {num(e['touch_after']) + '/' + num(e['touch_baseline']) if e else '-':>{w}}"
        print(f"  {size(r['parent_mib']):>8}{cells}")
    g = s["goal"]
    if g["within"] is None:
        print(f"  goal, autokill-vfork within {GOAL}x of std at every size: not measured "
              "(no size with both)")
    else:
        missing = g["sizes_without_both"]
        print(f"  goal, autokill-vfork within {GOAL}x of std at every size: {yes(g['within'])} "
              f"(largest autokill-vfork/std {g['worst_ratio']:.3f}, at {size(g['worst_mib'])}"
              + (f"; not both measured at {', '.join(map(size, missing))}" if missing else "")
              + ")")
    grow = g["growth"]
    if g["flat"] is None:
        print("  goal, flat in the parent's size: not measured (autokill-vfork at fewer than "
              "two sizes)")
    else:
        lo, hi = size(rows[0]["parent_mib"]), size(rows[-1]["parent_mib"])
        others = "; ".join(f"{lib} {e['largest_smallest']:.3f}" for lib, e in grow.items()
                           if lib != "autokill-vfork")
        print(f"  goal, flat in the parent's size (autokill-vfork's spawn at {hi} over {lo} "
              f"at most {FLAT}): {yes(g['flat'])} "
              f"({grow['autokill-vfork']['largest_smallest']:.3f}; largest over smallest at any "
              f"size {grow['autokill-vfork']['max_min']:.3f}"
              + (f"; over std's growth {grow['autokill-vfork']['largest_smallest'] / std:.3f}"
                 if (std := grow.get("std", {}).get("largest_smallest")) else "") + ")")
        if others:
            print(f"  the others' spawn at {hi} over {lo}: {others}")


def report(results, meta=None):
    """Prints the summary of a spawn-bench.sh run in results, writes
    summary.json and spawn.svg there; the summary (None if neither file
    is there)."""
    meta = meta or {}
    places = {}
    for place in PLACES:
        records = load(os.path.join(results, place + ".json"))
        if records is not None:
            places[place] = summarise(records)
    if not places:
        return None
    print(f"Spawn of /bin/true by the parent's resident size (4 KiB pages, every page written), "
          f"autokill's vfork and fork paths against std::process::Command and "
          f"tokio::process::Command; goal: autokill-vfork within {GOAL}x of std at every size, "
          "flat in the parent's size.")
    for place in PLACES:
        print()
        if place not in places:
            print(f"{UNITS[place]['title']}: not run (no {place}.json)")
            continue
        print_place(place, places[place], meta)
    out = {"meta": meta, "goal": GOAL, "flat": FLAT, "units": UNITS, "places": places}
    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    svg(places, meta, os.path.join(results, "spawn.svg"))
    print(f"\nraw numbers: {results}/{{host,vm}}.json; summary: {results}/summary.json, "
          f"summary.txt; picture: {results}/spawn.svg")
    return out


def log_ticks(lo, hi):
    """Tick values of a log axis from lo to hi: the powers of ten, with 2
    and 5 between them where the axis spans fewer than three decades."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1, 2, 5) if b - a < 3 else (1,)
    return [m * 10 ** e for e in range(a, b + 1) for m in steps if lo <= m * 10 ** e <= hi]


def tick_label(v):
    return f"{v:g}" if 1e-3 <= v < 1e6 else f"{v:.0e}"


def svg(places, meta, path):
    """Writes spawn.svg: per place a panel of the spawn cost (median) by
    parent size, both axes logarithmic, one line per library, and the goal
    (GOAL x std) dashed."""
    pw, ph = 430, 300
    left, top, gap = 80, 104, 110
    # Wide enough for the title and the legend with one panel.
    width = max(left + len(places) * (pw + gap) - gap + 40, 900)
    height = top + ph + 70
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="sans-serif" font-size="13">'),
           '<rect width="100%" height="100%" fill="white"/>',
           (f'<text x="{left}" y="24" font-size="16" font-weight="bold">Spawn of /bin/true '
            'until spawn() returned, by the parent\'s resident size (median)</text>'),
           (f'<text x="{left}" y="42" fill="#555">{escape(meta.get("date", ""))} '
            f'{escape(meta.get("git_head", "")[:12])}; dashed: {GOAL} x std, the goal of '
            'autokill-vfork; both axes logarithmic</text>')]
    # The legend, one entry per library measured anywhere.
    shown = [lib for lib in LIBS if any(lib in r["libs"] for s in places.values()
                                        for r in s["rows"])]
    for i, lib in enumerate(shown):
        x = left + 150 * i
        out.append(f'<line x1="{x}" y1="62" x2="{x + 24}" y2="62" stroke="{COLORS[lib]}" '
                   'stroke-width="2.5"/>')
        out.append(f'<text x="{x + 30}" y="66">{escape(lib)}</text>')
    for p, (place, s) in enumerate(places.items()):
        u = UNITS[place]
        x0 = left + p * (pw + gap)
        rows = s["rows"]
        sizes = [r["parent_mib"] for r in rows]
        vals = [e["spawn"] for r in rows for e in r["libs"].values() if e["spawn"] > 0]
        if "std" in shown:
            vals += [GOAL * r["libs"]["std"]["spawn"] for r in rows if "std" in r["libs"]]
        if not vals:
            continue
        xlo, xhi = min(sizes) / 2, max(sizes) * 2
        ylo = 10 ** math.floor(math.log10(min(vals)))
        yhi = 10 ** math.ceil(math.log10(max(vals) * 1.01))

        def x(v, x0=x0, xlo=xlo, xhi=xhi):
            return x0 + math.log(v / xlo) / math.log(xhi / xlo) * pw

        def y(v, ylo=ylo, yhi=yhi):
            return top + ph - math.log(v / ylo) / math.log(yhi / ylo) * ph

        out.append(f'<g class="panel" data-place="{place}">')
        title = (f"{u['title']}: {'wall µs' if place == 'host' else 'guest kinsn (1000 insns)'}"
                 f", Linux {s['kernel'] or '?'}"
                 + ("" if s["armed"] in ("armed", None) else f", autokill {s['armed']}"))
        out.append(f'<text x="{x0}" y="{top - 14}" font-weight="bold">{escape(title)}</text>')
        out.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                   'stroke="#333"/>')
        for t in log_ticks(ylo, yhi):
            out.append(f'<line x1="{x0}" y1="{y(t):.1f}" x2="{x0 + pw}" y2="{y(t):.1f}" '
                       'stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 6}" y="{y(t) + 4:.1f}" text-anchor="end">'
                       f'{tick_label(t)}</text>')
        for mib in sizes:
            out.append(f'<line x1="{x(mib):.1f}" y1="{top}" x2="{x(mib):.1f}" y2="{top + ph}" '
                       'stroke="#ddd"/>')
            out.append(f'<text x="{x(mib):.1f}" y="{top + ph + 18}" text-anchor="middle">'
                       f'{size(mib)}</text>')
        out.append(f'<text x="{x0 + pw / 2:.1f}" y="{top + ph + 40}" text-anchor="middle" '
                   'fill="#555">parent resident size</text>')
        out.append(f'<text x="{x0 - 56}" y="{top + ph / 2:.1f}" text-anchor="middle" fill="#555" '
                   f'transform="rotate(-90 {x0 - 56} {top + ph / 2:.1f})">spawn, '
                   f'{escape(u["us"])}</text>')
        std = [(r["parent_mib"], GOAL * r["libs"]["std"]["spawn"]) for r in rows
               if "std" in r["libs"]]
        if std:
            d = " ".join(f'{"M" if i == 0 else "L"}{x(m):.1f},{y(v):.1f}'
                         for i, (m, v) in enumerate(std))
            out.append(f'<path d="{d}" fill="none" stroke="{COLORS["std"]}" '
                       'stroke-dasharray="5,4" stroke-width="1"/>')
        for lib in shown:
            pts = [(r["parent_mib"], r["libs"][lib]["spawn"]) for r in rows
                   if lib in r["libs"] and r["libs"][lib]["spawn"] > 0]
            if not pts:
                continue
            out.append(f'<polyline class="lib" data-lib="{escape(lib)}" fill="none" '
                       f'stroke="{COLORS[lib]}" stroke-width="2" points="'
                       + " ".join(f"{x(m):.1f},{y(v):.1f}" for m, v in pts) + '"/>')
            for m, v in pts:
                out.append(f'<circle cx="{x(m):.1f}" cy="{y(v):.1f}" r="3" '
                           f'fill="{COLORS[lib]}"><title>{escape(lib)}, {size(m)}: '
                           f'{num(v)} {escape(u["us"])}</title></circle>')
        g = s["goal"]
        verdict = (f"vfork/std at most {g['worst_ratio']:.3f}: "
                   f"{'within' if g['within'] else 'NOT within'} {GOAL}x"
                   if g["within"] is not None else "vfork/std: not measured")
        if g["flat"] is not None:
            verdict += (f"; {size(sizes[-1])}/{size(sizes[0])} "
                        f"{g['growth']['autokill-vfork']['largest_smallest']:.3f}")
        out.append(f'<text x="{x0}" y="{top + ph + 60}" fill="#555">{escape(verdict)}</text>')
        out.append("</g>")
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
