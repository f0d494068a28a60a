"""Evaluation: the metric contract, what a metric may ask for, and ``eval.json``.

A metric component is built from its params and asked to ``compute(ctx)``. The
context streams uint8 images (fake from the generator, real from the dataset, or
prediction/target pairs for reconstruction tasks), so no metric holds all
samples at once. Every value is stored with its protocol.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from ganzoo.data import ImageDataset, for_evaluation
from ganzoo.errors import EXIT_FAILURE, ConfigError
from ganzoo.images import to_uint8

__all__ = ["Metric", "EvalContext", "EvalResult", "evaluate", "cache_dir", "write_eval_json", "NoPairsError"]


class NoPairsError(ConfigError, TypeError):
    """The task produces no prediction/target pairs (reconstruction metrics need them)."""

    exit_code = EXIT_FAILURE  # as before the error hierarchy (tests/test_evaluation.py)


@runtime_checkable
class Metric(Protocol):
    """A metric component.

    Attributes:
        name: Protocol-encoded key (``fd_digits_n1797``, ``psnr_y_crop4``): two
            scores with the same name were made the same way.
        higher_is_better: Direction, for best-checkpoint selection and reports.
    """

    name: str
    higher_is_better: bool

    def protocol(self) -> dict[str, Any]:
        """Everything that determines the number: extractor, weight hash, resize, n, crop, channel."""
        ...

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        """The value(s), keyed by name (a metric may return several, e.g. precision and recall)."""
        ...


def cache_dir(kind: str) -> Path:
    """``$GANZOO_CACHE/<kind>`` or ``~/.cache/ganzoo/<kind>`` (created)."""
    root = Path(os.environ.get("GANZOO_CACHE", Path.home() / ".cache" / "ganzoo")).expanduser()
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class EvalContext:
    """What a metric can draw on.

    Attributes:
        task: The run's task (it knows how to sample and how to pair outputs).
        generator: The generator to evaluate (EMA weights when the run used EMA), in eval mode.
        dataset: The real data.
        data_key: Stable identity of the real data (hash of the resolved data spec),
            used to cache reference statistics.
        device: Where the generator runs.
        seed: Seed of the fake samples; the same seed gives the same samples.
        batch_size: Images per generated or loaded batch.
        extras: A memo the metrics of one evaluation share (an extractor, features), under any hashable key.
    """

    task: Any
    generator: nn.Module
    dataset: ImageDataset
    data_key: str
    device: torch.device
    seed: int = 0
    batch_size: int = 64
    extras: dict[Hashable, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every caller (periodic eval, `ganzoo eval`, plugin commands) gets the
        # augmentation-free view, so one image is scored the same way everywhere.
        self.dataset = for_evaluation(self.dataset)

    @torch.no_grad()
    def fake_batches(self, n: int) -> Iterator[torch.Tensor]:
        """``n`` generated images as uint8 (B, C, H, W) batches, reproducible for ``seed``."""
        done = 0
        while done < n:
            b = min(self.batch_size, n - done)
            images = self.task.sample(self.generator, b, seed=self.seed * 1_000_003 + done, device=self.device)
            yield to_uint8(images).cpu()  # (B, C, H, W)
            done += b

    def real_batches(self, n: int | None = None) -> Iterator[torch.Tensor]:
        """The first ``n`` real images (all when None) as uint8 batches, in dataset order."""
        total = len(self.dataset) if n is None else min(n, len(self.dataset))
        for start in range(0, total, self.batch_size):
            items = [self.dataset[i]["image"] for i in range(start, min(start + self.batch_size, total))]
            yield to_uint8(torch.stack(items))  # (B, C, H, W)

    @torch.no_grad()
    def pairs(self, n: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Prediction/target pairs for reconstruction metrics (uint8, plus ``mask`` where the task has one)."""
        pair = getattr(self.task, "eval_pair", None)
        if pair is None:
            raise NoPairsError(f"task {type(self.task).__name__} produces no prediction/target pairs; reconstruction metrics need "
                               "a super-resolution or inpainting task")
        total = len(self.dataset) if n is None else min(n, len(self.dataset))
        for items in self._groups(total):
            batch = {k: torch.stack([it[k] for it in items]).to(self.device) for k in items[0]}
            out = pair(self.generator, batch)
            yield {k: (v.cpu() if k == "mask" else to_uint8(v).cpu()) for k, v in out.items()}

    def _groups(self, total: int) -> Iterator[list[dict[str, torch.Tensor]]]:
        """The first ``total`` items in order, ``batch_size`` at a time; a new batch starts where the shapes change.

        Whole images of different sizes (an SR benchmark folder) cannot be stacked:
        they are scored in runs of equal shape, down to one image at a time.
        """
        group: list[dict[str, torch.Tensor]] = []
        for i in range(total):
            item = self.dataset[i]
            if group and (len(group) == self.batch_size or any(item[k].shape != group[0][k].shape for k in group[0])):
                yield group
                group = []
            group.append(item)
        if group:
            yield group


@dataclass
class EvalResult:
    """Values and the protocol behind each."""

    values: dict[str, float]
    protocols: dict[str, dict[str, Any]]
    seconds: float

    def to_json(self, step: int | None = None) -> dict[str, Any]:
        return {
            "step": step,
            "metrics": {k: {"value": v, "protocol": self.protocols[k]} for k, v in self.values.items()},
            "seconds": round(self.seconds, 3),
        }


def evaluate(ctx: EvalContext, metrics: list[Metric]) -> EvalResult:
    """Compute each metric; the generator is put in eval mode and restored."""
    was_training = ctx.generator.training
    ctx.generator.eval()
    values: dict[str, float] = {}
    protocols: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    protocol_of_task = getattr(ctx.task, "eval_protocol", None)
    task_proto = protocol_of_task() if callable(protocol_of_task) else {}
    try:
        for metric in metrics:
            out = metric.compute(ctx)
            # The data key: one metric name on another dataset (a held-out split) is another protocol;
            # so is one made under other task settings (other holes, another scale).
            proto = {"metric": metric.name, "higher_is_better": metric.higher_is_better, "data": ctx.data_key, **metric.protocol()}
            if task_proto:
                proto["task"] = task_proto
            for key, value in out.items():
                values[key] = float(value)
                protocols[key] = proto
    finally:
        ctx.generator.train(was_training)
    return EvalResult(values, protocols, time.perf_counter() - t0)


def data_key(data_spec: Any) -> str:
    """Hash of a data component (what reference statistics are cached under, and part of every protocol).

    Parameters left at their defaults are not hashed: a dataset that gains a new
    parameter (whose default keeps the old behaviour, as it must) keeps its key, so
    runs made before and after stay comparable and caches stay valid.
    """
    blob = json.dumps(data_spec.model_dump(mode="json", exclude_defaults=True), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def write_eval_json(run_dir: Path, result: EvalResult, step: int) -> Path:
    """Merge ``result`` into ``RUN/eval.json`` (latest value per metric name, with protocol)."""
    from ganzoo.fileio import atomic_write_bytes
    from ganzoo.rundir import RunDir

    path = RunDir(run_dir).eval
    current: Any = {}
    if path.is_file():
        try:
            current = json.loads(path.read_bytes())
        except (OSError, ValueError):  # a damaged eval.json is replaced, not a crash
            current = {}
    merged = current.get("metrics", {}) if isinstance(current, dict) else {}
    merged = merged if isinstance(merged, dict) else {}
    merged.update({k: {"value": v, "protocol": result.protocols[k], "step": step} for k, v in result.values.items()})
    blob = json.dumps({"metrics": merged}, indent=2, sort_keys=True).encode() + b"\n"
    atomic_write_bytes(path, blob)
    return path
