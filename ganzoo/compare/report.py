"""Aggregate run records into a comparison: mean ± std over seeds, protocol checks, spec diffs.

A metric name encodes its protocol, and every stored score carries the full
protocol record (extractor, weight hash, n, resize, ...). Two runs whose records
differ for one metric name are not comparable on it: the report shows their
values but refuses to rank by them, and says which protocol fields differ.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.compare.gather import RunRecord
from ganzoo.errors import ConfigError
from ganzoo.fileio import atomic_write_text
from ganzoo.rundir import SweepDir
from ganzoo.spec.model import flatten

__all__ = ["MetricColumn", "VariantRow", "Comparison", "compare_records", "table", "markdown", "write_tables"]

_RUN_FIELDS = ("step", "d_updates", "train_seconds", "steps_per_s", "img_per_s", "peak_mem_mb")
_IGNORED_IN_DIFF = ("name", "seed")


@dataclass
class MetricColumn:
    """One metric across the comparison."""

    name: str
    higher_is_better: bool | None
    comparable: bool
    note: str = ""


@dataclass
class VariantRow:
    """One variant: its runs (one per seed) and their statistics."""

    variant: str
    runs: list[RunRecord]
    description: str = ""
    stats: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # metric -> (mean, std, n)
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # spec path -> (baseline, this)

    @property
    def done(self) -> list[RunRecord]:
        return [r for r in self.runs if r.done]

    def mean(self, attr: str) -> float:
        vals = [float(getattr(r, attr)) for r in self.done if math.isfinite(float(getattr(r, attr)))]
        return statistics.fmean(vals) if vals else float("nan")


@dataclass
class Comparison:
    """Everything the tables and the HTML report show."""

    rows: list[VariantRow]
    columns: list[MetricColumn]
    baseline: str
    primary: str | None
    notes: list[str] = field(default_factory=list)

    def row(self, variant: str) -> VariantRow:
        return next(r for r in self.rows if r.variant == variant)


def _protocol_differences(protos: list[dict[str, Any]]) -> list[str]:
    keys = sorted({k for p in protos for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True) for p in protos}) > 1]


def _columns(records: list[RunRecord]) -> list[MetricColumn]:
    names: list[str] = []
    for r in records:
        names.extend(n for n in r.metrics if n not in names)
    cols = []
    for name in names:
        protos = [r.metrics[name].get("protocol", {}) for r in records if r.done and name in r.metrics]
        differing = _protocol_differences(protos)
        hib = protos[0].get("higher_is_better") if protos else None
        note = (f"protocols differ in {', '.join(differing)}: not ranked; re-score every run under one protocol with "
                "`ganzoo eval RUN --metrics TYPE` (TYPE from `ganzoo list metrics`), then compare again" if differing else "")
        cols.append(MetricColumn(name, hib if isinstance(hib, bool) else None, not differing, note))
    return cols


def _first_spec(row: VariantRow) -> dict[str, Any] | None:
    # the first run that has one: a missing or unreadable run has no spec to diff
    return next((r.spec for r in row.runs if r.spec), None)


def compare_records(
    records: list[RunRecord], *, baseline: str | None = None, rank_by: str | None = None, descriptions: dict[str, str] | None = None
) -> Comparison:
    """Group runs by variant and compute mean ± std (sample std over seeds) per metric.

    Args:
        records: Every run, finished or not (unfinished ones are listed, not averaged).
        baseline: Variant the others are compared with (default: the first).
        rank_by: Metric to rank by (default: the first comparable metric).
        descriptions: One line per variant for the report.

    Raises:
        ValueError: ``rank_by`` is not a metric of these runs, or not comparable across them.
    """
    order: list[str] = []
    for r in records:
        if r.variant not in order:
            order.append(r.variant)
    rows = [VariantRow(v, [r for r in records if r.variant == v], (descriptions or {}).get(v, "")) for v in order]
    columns = _columns(records)
    for row in rows:
        for col in columns:
            vals = [float(r.metrics[col.name]["value"]) for r in row.done if col.name in r.metrics]
            vals = [v for v in vals if math.isfinite(v)]
            if vals:
                std = statistics.stdev(vals) if len(vals) > 1 else float("nan")
                row.stats[col.name] = (statistics.fmean(vals), std, len(vals))
    base = baseline or (order[0] if order else "")
    base_row = next((r for r in rows if r.variant == base), None)
    base_spec = _first_spec(base_row) if base_row is not None else None
    if base_spec is not None:
        ref = flatten({k: v for k, v in base_spec.items() if k not in _IGNORED_IN_DIFF})
        for row in rows:
            spec = _first_spec(row)
            if spec is not None:
                own = flatten({k: v for k, v in spec.items() if k not in _IGNORED_IN_DIFF})
                row.diff = {k: (ref.get(k), own.get(k)) for k in sorted(set(ref) | set(own)) if ref.get(k) != own.get(k)}
    ranked = [c for c in columns if c.comparable and c.higher_is_better is not None]
    if rank_by is not None:
        chosen = next((c for c in columns if c.name == rank_by), None)
        if chosen is None:
            raise ConfigError(f"no metric {rank_by!r} in these runs (they have: {', '.join(c.name for c in columns) or 'none'})")
        if not chosen.comparable:
            raise ConfigError(f"cannot rank by {rank_by}: {chosen.note}")
        primary: str | None = rank_by
    else:
        primary = ranked[0].name if ranked else None
    notes = [f"{c.name}: {c.note}" for c in columns if c.note]
    notes.extend(r.error for r in records if r.status == "unreadable")
    unfinished = [r.key for r in records if not r.done and r.status != "unreadable"]
    if unfinished:
        notes.append(f"not finished (left out of the statistics): {', '.join(unfinished)}")
    if primary is not None:
        col = next(c for c in columns if c.name == primary)
        sign = -1.0 if col.higher_is_better else 1.0
        rows.sort(key=lambda r: sign * r.stats[primary][0] if primary in r.stats else math.inf)
    return Comparison(rows, columns, base, primary, notes)


def fmt(value: float, digits: int = 4) -> str:
    """A number for a table; '—' for missing."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}"


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else (f"{n / 1e3:.1f}k" if n >= 1e3 else str(n))


def fmt_stat(stat: tuple[float, float, int] | None) -> str:
    if stat is None:
        return "—"
    mean, std, n = stat
    return fmt(mean) if n < 2 else f"{fmt(mean)} ± {fmt(std, 2)}"


def _vs_baseline(cmp: Comparison, row: VariantRow) -> str:
    base = cmp.row(cmp.baseline) if any(r.variant == cmp.baseline for r in cmp.rows) else None
    if cmp.primary is None or base is None or cmp.primary not in row.stats or cmp.primary not in base.stats:
        return "—"
    ref = base.stats[cmp.primary][0]
    return f"{row.stats[cmp.primary][0] / ref:.2f}x" if ref else "—"


def table(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the per-variant table (shared by Markdown and HTML)."""
    metric_cols = [c.name + ("" if c.comparable else " (not comparable)") for c in cmp.columns]
    head = ["variant", "runs", *metric_cols, f"vs {cmp.baseline}", "steps", "img/s", "peak MB", "params G / D"]
    rows = []
    for row in cmp.rows:
        params = row.runs[0].parameters if row.runs else {}
        rows.append([
            row.variant,
            f"{len(row.done)}/{len(row.runs)}",
            *[fmt_stat(row.stats.get(c.name)) for c in cmp.columns],
            _vs_baseline(cmp, row),
            fmt(row.mean("step"), 6),
            fmt(row.mean("img_per_s"), 3),
            fmt(max((r.peak_mem_mb for r in row.done), default=float("nan")), 4),
            " / ".join(_count(params[k]) for k in ("generator", "discriminator") if k in params) or "—",
        ])
    return head, rows


def markdown(cmp: Comparison) -> str:
    """The comparison as a Markdown table plus notes."""
    head, rows = table(cmp)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for cells in rows:
        name = f"**{cells[0]}**" if cells[0] == cmp.baseline else cells[0]
        lines.append("| " + " | ".join([name, *cells[1:]]) + " |")
    if cmp.primary:
        col = next(c for c in cmp.columns if c.name == cmp.primary)
        better = "higher" if col.higher_is_better else "lower"
        lines.append(f"\nRanked by {cmp.primary} ({better} is better); mean ± sample std over seeds.")
    lines.extend(f"- {n}" for n in cmp.notes)
    return "\n".join(lines) + "\n"


def write_tables(cmp: Comparison, out: Path) -> dict[str, Path]:
    """Write ``results.csv`` (one row per run), ``results.json`` and ``results.md`` into ``out`` (see :class:`~ganzoo.rundir.SweepDir`)."""
    files = SweepDir(out)
    out.mkdir(parents=True, exist_ok=True)
    metric_names = [c.name for c in cmp.columns]
    runs = [r for row in cmp.rows for r in row.runs]
    csv_path = files.results_csv
    with io.StringIO(newline="") as fh:  # rows go to memory first: results files are written whole (ganzoo.fileio)
        w = csv.writer(fh)
        w.writerow(["variant", "seed", "status", *_RUN_FIELDS, "params_generator", "params_discriminator", *metric_names, "run_dir"])
        for r in runs:
            values = [r.metrics.get(m, {}).get("value", "") for m in metric_names]
            w.writerow([r.variant, r.seed, r.status, *[getattr(r, f) for f in _RUN_FIELDS], r.parameters.get("generator", ""),
                        r.parameters.get("discriminator", ""), *values, str(r.run_dir)])
        atomic_write_text(csv_path, fh.getvalue())
    payload = {
        "baseline": cmp.baseline,
        "primary": cmp.primary,
        "notes": cmp.notes,
        "metrics": [c.__dict__ for c in cmp.columns],
        "variants": [
            {
                "variant": row.variant,
                "description": row.description,
                "stats": {k: {"mean": m, "std": s, "n": n} for k, (m, s, n) in row.stats.items()},
                "spec_diff": {k: {"baseline": a, "variant": b} for k, (a, b) in row.diff.items()},
                "runs": [
                    {"key": r.key, "seed": r.seed, "status": r.status, "run_dir": str(r.run_dir), "parameters": r.parameters,
                     **{f: getattr(r, f) for f in _RUN_FIELDS}, "metrics": r.metrics}
                    for r in row.runs
                ],
            }
            for row in cmp.rows
        ],
    }
    json_path = files.results_json
    # NaN is not JSON; null is what readers expect for "not measured".
    atomic_write_text(json_path, json.dumps(_nan_to_none(payload), indent=2) + "\n")
    md_path = files.results_md
    atomic_write_text(md_path, markdown(cmp))
    return {"csv": csv_path, "json": json_path, "md": md_path}


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj
