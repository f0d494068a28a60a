"""Run-directory layout (edm/stylegan3 style) and its metadata files.

```
RUN/
  spec.yaml            fully resolved spec, hash in the header
  run.json             spec hash, data info, versions, command
  log.txt  metrics.jsonl  tb/
  samples/step_00000500.png
  checkpoints/step_00000500.pt   (last K)  best.pt
  generator.safetensors          weights for inference (EMA when enabled)
  eval.json
  .lock                          held by the training process (ganzoo.runlock)
```

:class:`RunDir` names every file and folder of that layout and :class:`SweepDir`
those of a ``ganzoo compare`` output directory; no other module spells a name.
This module imports neither torch nor pydantic, so anything may use it.
"""

from __future__ import annotations

import contextlib
import json
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import RunDirError  # defined there, re-exported here

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ganzoo.data import DataInfo

__all__ = [
    "RunDir",
    "SweepDir",
    "RunDirError",
    "new_run_dir",
    "write_spec",
    "write_meta",
    "update_meta",
    "read_meta",
    "DEFAULT_ROOT",
    "SPEC_FILE",
    "META_FILE",
]

DEFAULT_ROOT = Path("runs")  # where runs and sweeps go when no --out is given

_STEP = re.compile(r"^step_(\d{8,})\.")
_RUN_NAME = re.compile(r"^(?P<variant>.+)-s(?P<seed>\d+)$")


@dataclass(frozen=True)
class RunDir:
    """The files and folders of one run directory, each named here once.

    Naming a path creates or reads nothing; only :meth:`is_run` and the
    ``list_*`` methods look at the disk.

    Attributes:
        root: The run directory.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def spec(self) -> Path:
        """``spec.yaml``: the fully resolved spec, its SHA-256 in the header."""
        return self.root / "spec.yaml"

    @property
    def meta(self) -> Path:
        """``run.json``: spec hash, data info, parameter counts, versions, command, status."""
        return self.root / "run.json"

    @property
    def log(self) -> Path:
        """``log.txt``: the run's human-readable log."""
        return self.root / "log.txt"

    @property
    def metrics(self) -> Path:
        """``metrics.jsonl``: one JSON record per logged step or evaluation."""
        return self.root / "metrics.jsonl"

    @property
    def tensorboard(self) -> Path:
        """``tb/``: TensorBoard event files (when ``train.tensorboard`` is on)."""
        return self.root / "tb"

    @property
    def samples(self) -> Path:
        """``samples/``: the sample grids, one per :meth:`sample_grid` step."""
        return self.root / "samples"

    @property
    def checkpoints(self) -> Path:
        """``checkpoints/``: the last ``keep_checkpoints`` step checkpoints and :attr:`best_checkpoint`."""
        return self.root / "checkpoints"

    @property
    def best_checkpoint(self) -> Path:
        """``checkpoints/best.pt``: the checkpoint with the best ``eval.best`` score so far."""
        return self.checkpoints / "best.pt"

    @property
    def generator(self) -> Path:
        """``generator.safetensors``: the exported weights for inference (EMA when enabled)."""
        return self.root / "generator.safetensors"

    @property
    def eval(self) -> Path:
        """``eval.json``: the latest value and protocol of each metric."""
        return self.root / "eval.json"

    @property
    def lock(self) -> Path:
        """``.lock``: locked (``flock``) by the process training the run; its text names that process (:mod:`ganzoo.runlock`)."""
        return self.root / ".lock"

    def named(self) -> dict[str, Path]:
        """Every fixed file and folder by its attribute name (step files are in :attr:`checkpoints` and :attr:`samples`).

        Returns:
            ``{"spec": RUN/spec.yaml, ...}`` in layout order.
        """
        names = ("spec", "meta", "log", "metrics", "tensorboard", "samples", "checkpoints", "best_checkpoint", "generator", "eval", "lock")
        return {n: getattr(self, n) for n in names}

    @staticmethod
    def checkpoint_name(step: int) -> str:
        """The file name of the checkpoint written at ``step``.

        Args:
            step: Training step.

        Returns:
            ``step_XXXXXXXX.pt`` (eight digits, more past 99,999,999).
        """
        return f"step_{step:08d}.pt"

    @staticmethod
    def sample_grid_name(step: int) -> str:
        """The file name of the sample grid saved at ``step``.

        Args:
            step: Training step.

        Returns:
            ``step_XXXXXXXX.png``.
        """
        return f"step_{step:08d}.png"

    @staticmethod
    def step_of(path: str | Path) -> int | None:
        """The step in a checkpoint's or sample grid's file name.

        Args:
            path: A path or bare file name.

        Returns:
            The step, or None when the name is not a ``step_XXXXXXXX`` file.
        """
        m = _STEP.match(Path(path).name)
        return int(m.group(1)) if m else None

    def checkpoint(self, step: int) -> Path:
        """``checkpoints/step_XXXXXXXX.pt``: the checkpoint written at ``step``.

        Args:
            step: Training step.
        """
        return self.checkpoints / self.checkpoint_name(step)

    def set_aside_checkpoint(self, path: str | Path, n: int = 0) -> Path:
        """``checkpoints/step_XXXXXXXX.pt.corrupt``: where ``--resume`` moves an unreadable checkpoint.

        The name is no checkpoint's (:meth:`list_checkpoints` skips it), so the file
        is kept for inspection but never resumed from or pruned.

        Args:
            path: The unreadable checkpoint.
            n: 0 for the plain name; 1, 2, ... for the next free one when it is taken.
        """
        return self.checkpoints / (f"{Path(path).name}.corrupt" + (str(n) if n else ""))

    def sample_grid(self, step: int) -> Path:
        """``samples/step_XXXXXXXX.png``: the sample grid saved at ``step``.

        Args:
            step: Training step.
        """
        return self.samples / self.sample_grid_name(step)

    @classmethod
    def checkpoints_in(cls, directory: Path) -> list[tuple[int, Path]]:
        """The step checkpoints in any directory (:attr:`best_checkpoint` is not one).

        Args:
            directory: Usually :attr:`checkpoints`; need not exist.

        Returns:
            ``(step, path)`` pairs, oldest first.
        """
        return _step_files(Path(directory), cls.checkpoint_name)

    def list_checkpoints(self) -> list[tuple[int, Path]]:
        """This run's step checkpoints as ``(step, path)``, oldest first."""
        return self.checkpoints_in(self.checkpoints)

    def list_sample_grids(self) -> list[tuple[int, Path]]:
        """This run's sample grids as ``(step, path)``, oldest first."""
        return _step_files(self.samples, self.sample_grid_name)

    def is_checkpoint(self, path: str | Path) -> bool:
        """Whether ``path`` names one of this run's checkpoints (a step checkpoint or :attr:`best_checkpoint`).

        Args:
            path: Any path; only its name and folder are compared.
        """
        path = Path(path)
        if path.parent != self.checkpoints:
            return False
        step = self.step_of(path)
        return path == self.best_checkpoint or (step is not None and path.name == self.checkpoint_name(step))

    def is_run(self) -> bool:
        """Whether :attr:`root` holds a run (its :attr:`meta` exists)."""
        return self.meta.is_file()


def _step_files(directory: Path, name: Callable[[int], str]) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = [(step, p) for p in directory.iterdir() if (step := RunDir.step_of(p)) is not None and p.name == name(step)]
    return sorted(found)


@dataclass(frozen=True)
class SweepDir:
    """The files and folders of a ``ganzoo compare`` output directory, each named here once.

    ```
    OUT/
      sweep.yaml                 the sweep as run (its --set applied)
      runs/VARIANT-sSEED/        one run directory per (variant, seed)
      specs/VARIANT-sSEED.yaml   the resolved spec each run was started from
      logs/VARIANT-sSEED.log     each training process's console output
      set-aside/VARIANT-sSEED.STAMP   unusable run directories compare moved out of runs/
      jobs.json                  the jobs a launcher submitted, by run (job id, log paths)
      submitit/                  the submitit launcher's job scripts, pickles and job logs
      results.csv  results.json  results.md  report.html
    ```

    Attributes:
        root: The output directory.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def default(cls, sweep_name: str | None = None) -> SweepDir:
        """Where ``ganzoo compare`` writes without ``--out``.

        Args:
            sweep_name: The sweep's name; None when comparing plain run directories.

        Returns:
            ``runs/compare-NAME``, or ``runs/compare``.
        """
        return cls(DEFAULT_ROOT / (f"compare-{sweep_name}" if sweep_name else "compare"))

    @property
    def sweep_file(self) -> Path:
        """``sweep.yaml``: a copy of the sweep file, overrides applied."""
        return self.root / "sweep.yaml"

    @property
    def runs(self) -> Path:
        """``runs/``: the run directories, named by :meth:`run_name`."""
        return self.root / "runs"

    @property
    def specs(self) -> Path:
        """``specs/``: the spec file each run was started from."""
        return self.root / "specs"

    @property
    def logs(self) -> Path:
        """``logs/``: each training process's console output."""
        return self.root / "logs"

    @property
    def set_aside(self) -> Path:
        """``set-aside/``: run directories compare found unusable and moved here, by :meth:`set_aside_run`."""
        return self.root / "set-aside"

    @property
    def jobs(self) -> Path:
        """``jobs.json``: the jobs a launcher submitted for the runs, with their ids and log paths."""
        return self.root / "jobs.json"

    @property
    def submitit(self) -> Path:
        """``submitit/``: submitit's job scripts, pickles and per-job stdout/stderr (the ``slurm`` launcher)."""
        return self.root / "submitit"

    @property
    def results_csv(self) -> Path:
        """``results.csv``: one row per run."""
        return self.root / "results.csv"

    @property
    def results_json(self) -> Path:
        """``results.json``: the rows plus per-variant statistics, spec diffs and notes."""
        return self.root / "results.json"

    @property
    def results_md(self) -> Path:
        """``results.md``: the comparison table in Markdown."""
        return self.root / "results.md"

    @property
    def report(self) -> Path:
        """``report.html``: the self-contained report page."""
        return self.root / "report.html"

    def named(self) -> dict[str, Path]:
        """Every fixed file and folder by its attribute name.

        Returns:
            ``{"sweep_file": OUT/sweep.yaml, ...}``.
        """
        names = ("sweep_file", "runs", "specs", "logs", "set_aside", "jobs", "submitit",
                 "results_csv", "results_json", "results_md", "report")
        return {n: getattr(self, n) for n in names}

    @staticmethod
    def run_name(variant: str, seed: int) -> str:
        """The name of the run of ``variant`` with ``seed``, inverted by :meth:`parse_run_name`.

        Args:
            variant: Variant name (letters, digits, ``.``, ``_``, ``-``).
            seed: Non-negative seed.

        Returns:
            ``VARIANT-sSEED``.
        """
        return f"{variant}-s{seed}"

    @staticmethod
    def parse_run_name(name: str) -> tuple[str, int] | None:
        """The ``(variant, seed)`` a run name was built from by :meth:`run_name`.

        The seed is the last ``-sDIGITS``, so a variant may itself end in one.

        Args:
            name: A run directory's name.

        Returns:
            ``(variant, seed)``, or None when ``name`` has no ``-sSEED`` suffix.
        """
        m = _RUN_NAME.match(name)
        return (m["variant"], int(m["seed"])) if m else None

    def run(self, variant: str, seed: int) -> RunDir:
        """The run directory of ``variant`` with ``seed``.

        Args:
            variant: Variant name.
            seed: Seed.
        """
        return RunDir(self.runs / self.run_name(variant, seed))

    def spec_file(self, variant: str, seed: int) -> Path:
        """``specs/VARIANT-sSEED.yaml``: the spec the run of ``variant`` with ``seed`` was started from.

        Args:
            variant: Variant name.
            seed: Seed.
        """
        return self.specs / f"{self.run_name(variant, seed)}.yaml"

    def log_file(self, variant: str, seed: int) -> Path:
        """``logs/VARIANT-sSEED.log``: the console output of the run of ``variant`` with ``seed``.

        Args:
            variant: Variant name.
            seed: Seed.
        """
        return self.logs / f"{self.run_name(variant, seed)}.log"

    def set_aside_run(self, variant: str, seed: int, stamp: str) -> Path:
        """``set-aside/VARIANT-sSEED.STAMP``: where an unusable run of ``variant`` with ``seed`` is moved.

        Args:
            variant: Variant name.
            seed: Seed.
            stamp: When it was moved (e.g. ``20250101-120000``), so later moves do not collide.
        """
        return self.set_aside / f"{self.run_name(variant, seed)}.{stamp}"

    def run_dirs(self) -> list[RunDir]:
        """The runs under :attr:`runs` (directories with a ``run.json``), sorted by name."""
        if not self.runs.is_dir():
            return []
        return [r for r in (RunDir(d) for d in sorted(self.runs.iterdir())) if r.is_run()]

    def is_sweep(self) -> bool:
        """Whether :attr:`root` is a compare output directory (it has :attr:`runs`)."""
        return self.runs.is_dir()


SPEC_FILE = RunDir(Path()).spec.name
META_FILE = RunDir(Path()).meta.name


def new_run_dir(out: str | Path | None, name: str, root: str | Path = DEFAULT_ROOT) -> Path:
    """Create the run directory.

    With ``out`` given it is used as is (it must be absent, empty, or hold only
    what a start that failed before its first step left, see
    :func:`ganzoo.runstate.failed_start`, so a run is never overwritten);
    otherwise ``root/NNNNN-name`` with the next free number.
    """
    if out is not None:
        path = Path(out)
        from ganzoo.runstate import failed_start

        # An empty directory, or one holding only what a start that failed before its first step
        # left (a lock file, a log, an empty metrics.jsonl), may be (re)used; anything else may be a run.
        if path.exists() and (not path.is_dir() or not failed_start(path)):
            raise RunDirError(f"{path} already exists and is not empty; use --resume {path} to continue it, or another --out")
    else:
        base = Path(root)
        nums = [int(m.group(1)) for p in (base.iterdir() if base.is_dir() else []) if (m := re.match(r"^(\d{5})-", p.name))]
        path = base / f"{(max(nums) + 1) if nums else 0:05d}-{name}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"cannot write to run directory {path}: {exc.strerror or exc}") from None
    return path


def write_spec(spec: BaseModel, run_dir: Path) -> str:
    """Write ``spec.yaml`` with the hash in its header; return the hash.

    The file is written atomically, and only when its content changes (a resume
    with the same spec leaves it untouched).
    """
    from ganzoo.fileio import atomic_write_bytes
    from ganzoo.spec.model import spec_hash, spec_to_data
    from ganzoo.spec.yamlio import dump_yaml

    digest = spec_hash(spec)
    header = f"# ganzoo resolved spec\n# sha256: {digest}\n"
    blob = dump_yaml(spec_to_data(spec), header=header).encode("utf-8")
    path = RunDir(run_dir).spec
    try:
        same = path.read_bytes() == blob
    except OSError:
        same = False
    if not same:
        atomic_write_bytes(path, blob)
    return digest


def write_meta(run_dir: Path, *, spec_digest: str, info: DataInfo, extra: dict[str, Any] | None = None, merge: bool = False) -> None:
    """Write ``run.json`` atomically: what is needed to rebuild the generator without the data, and the spec record.

    The record is the SHA-256 of ``spec.yaml`` as it is now (write it first), which
    ``--resume`` checks the file against (:func:`ganzoo.runstate.check_spec_record`).

    Args:
        run_dir: The run directory.
        spec_digest: The resolved spec's hash (:func:`write_spec`).
        info: The data description the networks were built for.
        extra: More fields (status, parameter counts, init sources).
        merge: Keep the fields of the existing ``run.json`` these do not replace
            (a resume keeps the command line the run was started with).
    """
    import torch

    from ganzoo import __version__
    from ganzoo.fileio import atomic_write_json
    from ganzoo.runstate import SPEC_RECORD, file_sha256

    paths = RunDir(run_dir)
    old: dict[str, Any] = {}
    if merge:
        with contextlib.suppress(RunDirError):  # an unreadable run.json is replaced whole
            old = read_meta(run_dir)
    meta = {
        "spec_sha256": spec_digest,
        SPEC_RECORD: file_sha256(paths.spec),
        "data_info": asdict(info),
        "ganzoo": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": old.get("command", sys.argv),
        **(extra or {}),
    }
    atomic_write_json(paths.meta, {**old, **meta})


def update_meta(run_dir: Path, **fields: Any) -> None:
    """Merge ``fields`` into ``run.json`` atomically (the status and step a run ended with)."""
    from ganzoo.fileio import atomic_write_json

    meta: dict[str, Any] = {}
    with contextlib.suppress(RunDirError):  # a missing or unreadable run.json gets the fields alone
        meta = read_meta(run_dir)
    atomic_write_json(RunDir(run_dir).meta, {**meta, **fields})


def read_meta(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json``; a clear error when the directory is not a run or the file is unreadable."""
    path = RunDir(run_dir).meta
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a ganzoo run directory (no {path.name})")
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bytes that are not UTF-8
        raise RunDirError(f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"cannot read {path}: not a JSON object")
    return meta
