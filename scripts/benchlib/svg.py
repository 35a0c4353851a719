# SPDX-License-Identifier: GPL-2.0
"""The picture of the ratios (ratios.svg): per case the Rust/C ratio and its
value in each boot, against the +-LIMIT band around 1."""

import math
from xml.sax.saxutils import escape

from . import LIMIT


def svg(summary, meta, path):
    """Writes the picture of summary's ratios to path; meta (meta.json)
    gives its title."""
    rows = [(case, e) for case, e in summary.items() if "ratio" in e]
    vals = [x for _, e in rows for x in e["ratio_per_boot"] + [e["ratio"]]]
    lo = min(vals + [1 - 1.5 * LIMIT])
    hi = max(vals + [1 + 1.5 * LIMIT])
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    left, right, top, rowh = 170, 300, 96, 34
    width = 1020
    plot = width - left - right
    height = top + rowh * len(rows) + 60

    def x(v):
        return left + (v - lo) / (hi - lo) * plot

    unit = "instructions" if meta.get("mode") == "insns" else "ns (wall time)"
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="13">'),
           '<rect width="100%" height="100%" fill="white"/>',
           (f'<text x="{left}" y="24" font-size="16" font-weight="bold">'
            f'Rust/C per operation ({escape(unit)}), {meta.get("boots", "?")} boots per kernel'
            '</text>'),
           (f'<text x="{left}" y="42" fill="#555">{escape(meta.get("date", ""))}, series '
            f'{escape(meta.get("series", "?")[:12])}, '
            f'{escape(meta.get("qemu_opts", "") or "TCG wall clock")}</text>'),
           (f'<text x="{left}" y="58" fill="#555">dot: Rust/C of the cost per operation '
            '(median over the boots); bar and ticks: the ratio in each boot</text>')]
    # The +-0.1% band and the 1.0 line.
    out.append(f'<rect x="{x(1 - LIMIT):.1f}" y="{top - 10}" '
               f'width="{x(1 + LIMIT) - x(1 - LIMIT):.1f}" '
               f'height="{rowh * len(rows) + 10}" fill="#e8f4e8"/>')
    out.append(f'<line x1="{x(1):.1f}" y1="{top - 10}" x2="{x(1):.1f}" '
               f'y2="{top + rowh * len(rows)}" stroke="#333"/>')
    # Axis ticks.
    step = 10 ** round(math.log10((hi - lo) / 5))
    t = (int(lo / step) + 1) * step
    ybase = top + rowh * len(rows)
    while t < hi:
        out.append(f'<line x1="{x(t):.1f}" y1="{ybase}" x2="{x(t):.1f}" y2="{ybase + 5}" '
                   'stroke="#333"/>')
        out.append(f'<text x="{x(t):.1f}" y="{ybase + 19}" text-anchor="middle">{t:.4g}</text>')
        t += step
    out.append(f'<text x="{x(1):.1f}" y="{ybase + 38}" text-anchor="middle" fill="#555">'
               'Rust/C; shaded: within 0.1% of C</text>')
    per_op = "insns" if meta.get("mode") == "insns" else "ns"
    out.append(f'<text x="{width - right + 10}" y="{top - 14}" fill="#555">Rust/C</text>')
    out.append(f'<text x="{width - right + 70}" y="{top - 14}" fill="#555">'
               f'rust / c {per_op}/op (rust - c)</text>')
    for i, (case, e) in enumerate(rows):
        y = top + rowh * i + rowh / 2
        pb = e["ratio_per_boot"]
        out.append(f'<text x="{left - 10}" y="{y + 4:.1f}" text-anchor="end">{escape(case)}</text>')
        out.append(f'<line x1="{x(min(pb)):.1f}" y1="{y:.1f}" x2="{x(max(pb)):.1f}" y2="{y:.1f}" '
                   'stroke="#1f5fa8" stroke-width="3"/>')
        for v in pb:
            out.append(f'<line x1="{x(v):.1f}" y1="{y - 6:.1f}" x2="{x(v):.1f}" y2="{y + 6:.1f}" '
                       'stroke="#1f5fa8"/>')
        out.append(f'<circle cx="{x(e["ratio"]):.1f}" cy="{y:.1f}" r="4" fill="#c0392b" '
                   'fill-opacity="0.8"/>')
        out.append(f'<text x="{width - right + 10}" y="{y + 4:.1f}">{e["ratio"]:.4f}</text>')
        out.append(f'<text x="{width - right + 70}" y="{y + 4:.1f}" fill="#555">'
                   f'{e["rust"]["tmean"]:.1f} / {e["c"]["tmean"]:.1f} '
                   f'({e["rust"]["tmean"] - e["c"]["tmean"]:+.1f})</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
