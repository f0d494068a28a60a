"""A self-contained HTML page of a comparison: table, curves, sample grids, spec diffs.

No scripts, fonts or files from elsewhere: plots are inline SVG and sample grids
are embedded PNGs, so the page can be mailed or attached to an issue as is.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from ganzoo.compare.report import Comparison, fmt, table
from ganzoo.fileio import atomic_write_text

__all__ = ["svg_plot", "write_html"]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}
.grids{display:flex;flex-wrap:wrap;gap:16px}.grids figure{margin:0}.grids img{image-rendering:pixelated;width:256px}
code{background:#f4f4f4;padding:1px 3px}.note{color:#a33}
"""


def svg_plot(
    series: Mapping[str, Sequence[tuple[float, float]]], colors: dict[str, str], title: str, *, width: int = 420, height: int = 240
) -> str:
    """Line plot of ``{label: [(x, y), ...]}`` as an inline SVG string (linear axes, min/max ticks)."""
    pts = [(x, y) for s in series.values() for x, y in s if math.isfinite(y)]
    if not pts:
        return ""
    x0, x1 = min(0.0, min(p[0] for p in pts)), max(p[0] for p in pts)  # steps: the axis starts at 0
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    left, right, top, bottom = 56, 10, 22, 28
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">',
           f'<text x="{left}" y="14" font-weight="bold">{html.escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
           f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{fmt(y1, 3)}</text>',
           f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">{fmt(y0, 3)}</text>',
           f'<text x="{left}" y="{height - 10}">{fmt(x0, 6)}</text>',
           f'<text x="{left + pw}" y="{height - 10}" text-anchor="end">{fmt(x1, 6)} steps</text>']
    for label, s in series.items():
        good = [(x, y) for x, y in s if math.isfinite(y)]
        if not good:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in good)
        color = colors.get(label, "#000")
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}">'
                   f'<title>{html.escape(label)}</title></polyline>')
        if len(good) == 1:
            out.append(f'<circle cx="{sx(good[0][0]):.1f}" cy="{sy(good[0][1]):.1f}" r="3" fill="{color}"/>')
    out.append("</svg>")
    return "".join(out)


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _table(cmp: Comparison) -> str:
    head, rows = table(cmp)
    body = []
    for cells in rows:
        label = cells[0] + (" (baseline)" if cells[0] == cmp.baseline else "")
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in [label, *cells[1:]]) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(body) + "</table>"


def write_html(cmp: Comparison, path: Path, *, title: str) -> Path:
    """Write the report page; returns its path."""
    colors = {row.variant: _PALETTE[i % len(_PALETTE)] for i, row in enumerate(cmp.rows)}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", _table(cmp)]
    if cmp.primary:
        parts.append(f"<p>Ranked by <code>{html.escape(cmp.primary)}</code>; mean ± sample std over seeds.</p>")
    parts.extend(f"<p class='note'>{html.escape(n)}</p>" for n in cmp.notes)

    curve_names: list[str] = [c.name for c in cmp.columns]
    for name in ("G/loss", "D/loss", "D/D(x)", "D/D(G(z))"):
        if any(name in r.curves for row in cmp.rows for r in row.runs) and name not in curve_names:
            curve_names.append(name)
    plots = []
    for name in curve_names:
        series = {f"{r.variant} s{r.seed}": r.curves.get(name, []) for row in cmp.rows for r in row.runs}
        run_colors = {f"{r.variant} s{r.seed}": colors[r.variant] for row in cmp.rows for r in row.runs}
        svg = svg_plot(series, run_colors, name)
        if svg:
            plots.append(svg)
    if plots:
        legend = " ".join(f"<span style='color:{c}'>&#9632; {html.escape(v)}</span>" for v, c in colors.items())
        parts.append(f"<h2>Curves</h2><p>{legend} (one line per seed)</p><div class='plots'>{''.join(plots)}</div>")

    grids = []
    for row in cmp.rows:
        rec = next((r for r in row.done if r.samples is not None), None)
        if rec is not None and rec.samples is not None:
            grids.append(f"<figure><img src='{_png_data_uri(rec.samples)}' alt='{html.escape(row.variant)}'>"
                         f"<figcaption>{html.escape(row.variant)} (seed {rec.seed}, {html.escape(rec.samples.stem)})</figcaption></figure>")
    if grids:
        parts.append(f"<h2>Samples</h2><div class='grids'>{''.join(grids)}</div>")

    parts.append("<h2>Spec differences from the baseline</h2>")
    for row in cmp.rows:
        if row.variant == cmp.baseline:
            continue
        items = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(repr(a))}</td><td>{html.escape(repr(b))}</td></tr>"
                        for k, (a, b) in row.diff.items())
        if not items:
            items = f"<tr><td colspan='3'>{'identical' if any(r.spec for r in row.runs) else 'no readable run'}</td></tr>"
        parts.append(f"<h3>{html.escape(row.variant)}</h3><p>{html.escape(row.description)}</p>"
                     f"<table><tr><th>path</th><th>{html.escape(cmp.baseline)}</th><th>{html.escape(row.variant)}</th></tr>{items}</table>")

    parts.append("<h2>Runs</h2><table><tr><th>run</th><th>status</th><th>step</th><th>img/s</th><th>directory</th></tr>")
    for row in cmp.rows:
        for r in row.runs:
            parts.append(f"<tr><td>{html.escape(r.key)}</td><td>{html.escape(r.status)}</td><td>{r.step}</td>"
                         f"<td>{fmt(r.img_per_s, 3)}</td><td><code>{html.escape(str(r.run_dir))}</code></td></tr>")
    parts.append("</table></body></html>")
    atomic_write_text(path, "".join(parts))
    return path

