"""Gather run directories into comparable records; read only files, never fail on one.

Gathering reads only files (``spec.yaml``, ``run.json``, ``metrics.jsonl``,
``eval.json``), so finished runs can be compared even after the plugins that
made them are gone. A corrupt or malformed file makes its run ``unreadable``
(named in :attr:`RunRecord.error`), never an exception: the others are still
compared. Training what a sweep is missing is :mod:`ganzoo.compare.execute`.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganzoo.errors import GanzooError, RunDirError
from ganzoo.rundir import RunDir, SweepDir
from ganzoo.runlock import lock_holder
from ganzoo.spec.yamlio import load_yaml

__all__ = ["RunRecord", "CompareError", "gather_run", "canonical_spec", "group_variants", "UNREADABLE_ADVICE"]

# How to fix an unreadable run, for its message (formatted with ``run_dir``).
UNREADABLE_ADVICE = "left out; run the sweep's `ganzoo compare` again to set it aside and retrain it, or delete {run_dir}"


class CompareError(GanzooError, RuntimeError):
    """A sweep cannot run as asked (for example a run directory made from another spec)."""


@dataclass
class RunRecord:
    """What the report needs from one run directory."""

    key: str
    variant: str
    seed: int
    run_dir: Path
    status: str  # completed | interrupted | failed | running | missing | unreadable
    spec: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    d_updates: int = 0
    train_seconds: float = float("nan")
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {value, protocol, step}
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # name -> [(step, value)]
    steps_per_s: float = float("nan")
    img_per_s: float = float("nan")
    peak_mem_mb: float = float("nan")
    parameters: dict[str, int] = field(default_factory=dict)
    samples: Path | None = None
    error: str = ""  # why the run is unreadable (or who is training it)

    @property
    def done(self) -> bool:
        return self.status == "completed"


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else float("nan")


class _Unreadable(RunDirError):
    """A file of a run cannot be used; the message names it and why (caught in :func:`gather_run`)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} {why}")


_KINDS = {list: "a list", str: "a string", type(None): "null", bool: "a boolean", int: "a number", float: "a number"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _mapping(path: Path, parse: Callable[[str], Any], fmt: str) -> dict[str, Any]:
    """The top-level mapping of a run's JSON or YAML file; anything else is :class:`_Unreadable`, naming why."""
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = f"{exc.msg}, line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(exc).splitlines()[0]
        raise _Unreadable(path, f"is not valid {fmt} ({first})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if data is None and fmt == "YAML":
        return {}
    if not isinstance(data, dict):
        raise _Unreadable(path, f"holds {_kind(data)}, not a {'JSON object' if fmt == 'JSON' else 'mapping'}")
    return data


def _json_object(path: Path) -> dict[str, Any]:
    return _mapping(path, json.loads, "JSON")


def _spec_mapping(path: Path) -> dict[str, Any]:
    # The spec loader refuses duplicate keys and alias bombs, as for every spec ganzoo reads.
    return _mapping(path, load_yaml, "YAML")


def _number(record: dict[str, Any], key: str, default: float, path: Path, cast: Callable[[Any], Any] = float) -> Any:
    value = record.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unreadable(path, f"has {key} = {value!r}, not a number")
    return cast(value)


def _read_meta(rec: RunRecord, path: Path) -> None:
    meta = _json_object(path)
    rec.status = str(meta.get("status", "completed" if RunDir(rec.run_dir).generator.is_file() else "running"))
    rec.step = _number(meta, "step", 0, path, int)
    rec.d_updates = _number(meta, "d_updates", 0, path, int)
    rec.train_seconds = _number(meta, "train_seconds", float("nan"), path)
    params = meta.get("parameters", {})
    if not isinstance(params, dict):
        raise _Unreadable(path, f"has parameters = {params!r}, not a mapping")
    rec.parameters = {str(k): _number(params, k, 0, path, int) for k in params}


def _read_metrics(rec: RunRecord, path: Path) -> None:
    rates: list[float] = []
    imgs: list[float] = []
    peaks: list[float] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    for i, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill (a resumed run appends after it)
        if not isinstance(r, dict):
            raise _Unreadable(path, f"line {i} holds {_kind(r)}, not a JSON object")
        step = _number(r, "step", 0, path, int)
        for k, v in r.items():
            if k in ("kind", "step", "time") or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if k == "steps_per_s":
                rates.append(float(v))
            elif k == "real_img_per_s":
                imgs.append(float(v))
            elif k == "peak_mem_mb":
                peaks.append(float(v))
            else:
                rec.curves.setdefault(k, []).append((step, float(v)))
    # Median over log intervals: robust to the first (warm-up) and any eval-stalled interval.
    rec.steps_per_s, rec.img_per_s = _median(rates), _median(imgs)
    rec.peak_mem_mb = max(peaks) if peaks else float("nan")


def _read_eval(rec: RunRecord, path: Path) -> None:
    if not path.is_file():
        return
    metrics = _json_object(path).get("metrics", {})
    if not isinstance(metrics, dict):
        raise _Unreadable(path, f"has metrics = {_kind(metrics)}, not a mapping")
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("protocol", {}), dict):
            raise _Unreadable(path, f"has a malformed entry for {name!r} (want {{value, protocol, ...}})")
        _number(entry, "value", float("nan"), path)
    rec.metrics = dict(metrics)


def gather_run(run_dir: str | Path, *, variant: str | None = None, seed: int | None = None) -> RunRecord:
    """Read one run directory into a :class:`RunRecord`.

    Its status is ``missing`` when it is not a run (no ``spec.yaml`` or
    ``run.json``), ``running`` while another process holds its lock, and
    ``unreadable`` when one of its files is corrupt or malformed (a cut JSON
    line in ``metrics.jsonl`` is skipped, not an error): then
    :attr:`RunRecord.error` names the file, says why, and how to fix it, and
    the run is left out of the statistics. Nothing here raises for a bad file.

    Args:
        run_dir: The run directory.
        variant: Its variant (default: the spec's ``name``).
        seed: Its seed (default: the spec's ``seed``).
    """
    run_dir = Path(run_dir)
    paths = RunDir(run_dir)
    holder = lock_holder(run_dir)
    rec = RunRecord(run_dir.name, variant or run_dir.name, seed or 0, run_dir, "missing")
    if not paths.meta.is_file() or not paths.spec.is_file():
        if holder is not None:
            rec.status, rec.error = "running", f"being trained by {holder.describe()}"
        return rec
    try:
        rec.spec = _spec_mapping(paths.spec)
        if variant is None:
            rec.variant = str(rec.spec.get("name", run_dir.name))
        if seed is None:
            rec.seed = _number(rec.spec, "seed", 0, paths.spec, int)
        _read_meta(rec, paths.meta)
        _read_metrics(rec, paths.metrics)
        _read_eval(rec, paths.eval)
    except _Unreadable as exc:
        rec.status, rec.error = "unreadable", f"{exc}; {UNREADABLE_ADVICE.format(run_dir=run_dir)}"
        rec.metrics, rec.curves = {}, {}
    if holder is not None:  # files read mid-write by a live trainer are not its verdict
        rec.status, rec.error = "running", f"being trained by {holder.describe()}"
        return rec
    grids = paths.list_sample_grids()
    rec.samples = grids[-1][1] if grids else None
    return rec


def canonical_spec(spec: dict[str, Any], reg: Any) -> dict[str, Any]:
    """A run's spec with every parameter at its default left out, so that runs made
    before and after a component gained a parameter compare equal; the spec as
    written where it no longer validates (a component since uninstalled)."""
    from ganzoo.spec.model import SpecError, validate_spec

    try:
        return validate_spec(spec, reg).model_dump(mode="json", exclude_defaults=True)
    except SpecError:
        return spec


def group_variants(records: list[RunRecord], canonical: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> list[RunRecord]:
    """Label runs that differ only in seed as one variant (for comparing plain run directories).

    The label is the run directory's name without a ``-sSEED`` suffix, else the
    spec's name; two different specs that would share a label get ``#2``, ``#3``.

    Args:
        records: The gathered runs.
        canonical: Maps a spec to the form compared (see :func:`canonical_spec`);
            the spec as recorded when None.
    """
    labels: dict[str, str] = {}  # spec-without-seed key -> label
    taken: set[str] = set()
    for r in records:
        spec = canonical(r.spec) if canonical is not None else r.spec
        key = json.dumps({k: v for k, v in spec.items() if k not in ("seed", "name")}, sort_keys=True)
        if key not in labels:
            parsed = SweepDir.parse_run_name(r.run_dir.name)
            base = parsed[0] if parsed else str(r.spec.get("name", r.key))
            label, i = base, 1
            while label in taken:
                i += 1
                label = f"{base}#{i}"
            labels[key] = label
            taken.add(label)
        r.variant = labels[key]
    return records
