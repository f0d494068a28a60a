"""Run what a sweep is missing, and gather finished runs into comparable records.

Runs go to ``OUT/runs/VARIANT-sSEED``, one ``ganzoo train`` process each (up to
``jobs`` at once), with their resolved spec in ``OUT/specs`` and their console
output in ``OUT/logs``. A finished run with the same spec is reused, an
unfinished one is resumed, and one made from a different spec is never
overwritten. Gathering reads only files (``spec.yaml``, ``run.json``,
``metrics.jsonl``, ``eval.json``), so finished runs can be compared even after
the plugins that made them are gone.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ganzoo.compare.sweep import SweepRun
from ganzoo.errors import GanzooError
from ganzoo.rundir import RunDir, SweepDir
from ganzoo.spec.model import spec_hash, spec_to_data
from ganzoo.spec.yamlio import dump_yaml

__all__ = ["RunRecord", "CompareError", "run_sweep", "gather_run", "plan"]


class CompareError(GanzooError, RuntimeError):
    """A sweep cannot run as asked (for example a run directory made from another spec)."""


@dataclass
class RunRecord:
    """What the report needs from one run directory."""

    key: str
    variant: str
    seed: int
    run_dir: Path
    status: str  # completed | interrupted | failed | running | missing
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
    error: str = ""

    @property
    def done(self) -> bool:
        return self.status == "completed"


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else float("nan")


def gather_run(run_dir: str | Path, *, variant: str | None = None, seed: int | None = None) -> RunRecord:
    """Read one run directory into a :class:`RunRecord` (status ``missing`` if it is not a run)."""
    run_dir = Path(run_dir)
    paths = RunDir(run_dir)
    meta_path, spec_path = paths.meta, paths.spec
    if not meta_path.is_file() or not spec_path.is_file():
        return RunRecord(run_dir.name, variant or run_dir.name, seed or 0, run_dir, "missing")
    meta = json.loads(meta_path.read_text())
    spec = yaml.safe_load(spec_path.read_text()) or {}
    rec = RunRecord(
        key=run_dir.name,
        variant=variant or str(spec.get("name", run_dir.name)),
        seed=int(spec.get("seed", 0)) if seed is None else seed,
        run_dir=run_dir,
        status=str(meta.get("status", "completed" if paths.generator.is_file() else "running")),
        spec=spec,
        step=int(meta.get("step", 0)),
        d_updates=int(meta.get("d_updates", 0)),
        train_seconds=float(meta.get("train_seconds", float("nan"))),
        parameters={k: int(v) for k, v in meta.get("parameters", {}).items()},
    )
    rates: list[float] = []
    imgs: list[float] = []
    peaks: list[float] = []
    jsonl = paths.metrics
    for line in jsonl.read_text().splitlines() if jsonl.is_file() else []:
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        step = int(r.get("step", 0))
        for k, v in r.items():
            if k in ("kind", "step", "time") or not isinstance(v, (int, float)):
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
    ev = paths.eval
    if ev.is_file():
        rec.metrics = dict(json.loads(ev.read_text()).get("metrics", {}))
    grids = paths.list_sample_grids()
    rec.samples = grids[-1][1] if grids else None
    return rec


def plan(runs: list[SweepRun], out: Path) -> dict[str, str]:
    """What each run needs: ``done``, ``resume`` or ``train``.

    Raises:
        CompareError: A run directory exists but was made from a different spec.
    """
    actions: dict[str, str] = {}
    for r in runs:
        paths = SweepDir(out).run(r.variant, r.seed)
        run_dir = paths.root
        if not paths.spec.is_file():
            actions[r.key] = "train"
            continue
        header = paths.spec.read_text().splitlines()[1:2]
        if header != [f"# sha256: {spec_hash(r.spec)}"]:
            raise CompareError(
                f"{run_dir} was trained from a different spec than variant {r.variant!r} seed {r.seed} now gives; "
                "delete that directory, or give the changed variant a new name, so that no finished run is overwritten"
            )
        status = gather_run(run_dir).status
        actions[r.key] = "done" if status == "completed" else ("resume" if paths.checkpoints.is_dir() else "train")
    return actions


def _launch(r: SweepRun, action: str, out: Path, threads: int, extra_env: dict[str, str]) -> tuple[str, int]:
    sweep_dir = SweepDir(out)
    run_dir = sweep_dir.run(r.variant, r.seed).root
    spec_file = sweep_dir.spec_file(r.variant, r.seed)
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    dump_yaml(spec_to_data(r.spec), spec_file, header=f"# ganzoo compare: variant {r.variant}, seed {r.seed}\n")
    if action == "resume":
        args = ["train", "--resume", str(run_dir)]
    else:
        if run_dir.exists():
            shutil.rmtree(run_dir)  # started but never checkpointed: nothing to keep (its console log is in logs/)
        args = ["train", str(spec_file), "--out", str(run_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **extra_env}
    log = sweep_dir.log_file(r.variant, r.seed)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"$ ganzoo {' '.join(args)}\n")
        fh.flush()
        proc = subprocess.run([sys.executable, "-m", "ganzoo", *args], stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    return r.key, proc.returncode


def run_sweep(
    runs: list[SweepRun],
    out: Path,
    *,
    jobs: int = 1,
    threads: int | None = None,
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, int]:
    """Train or resume every run that is not finished; returns ``{key: exit status}`` of those launched.

    Args:
        runs: The expanded sweep.
        out: The sweep's output directory.
        jobs: Processes at once.
        threads: Intra-op threads per process (default: CPU count // jobs, at least 1).
        env: Extra environment for the training processes.
        echo: Progress lines go here.
    """
    actions = plan(runs, out)
    todo = [r for r in runs if actions[r.key] != "done"]
    for r in runs:
        if actions[r.key] == "done":
            echo(f"{r.key}: finished earlier, reused")
    if not todo:
        return {}
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    echo(f"{len(todo)} run(s) to train, {jobs} at a time, {threads} thread(s) each; logs in {SweepDir(out).logs}")
    codes: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_launch, r, actions[r.key], out, threads, env or {}) for r in todo]
        for r, fut in zip(todo, futures, strict=True):
            key, code = fut.result()
            codes[key] = code
            log = SweepDir(out).log_file(r.variant, r.seed).relative_to(out)
            echo(f"{key}: {'done' if code == 0 else f'exit {code} (see {log})'}")
    return codes


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
