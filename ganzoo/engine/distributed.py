"""DDP through torchrun: process-group set-up from the environment, and small collectives.

ganzoo has no distributed engine of its own. Under ``torchrun`` (which sets
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``) the training loop wraps each network in
``DistributedDataParallel``; gloo on the CPU, nccl on CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ganzoo.engine.device import DeviceError

__all__ = [
    "DistInfo", "init_from_env", "broadcast_object", "all_true", "all_true_each", "barrier", "shutdown", "rank_rows", "sync_buffers",
]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def rank_rows(full: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's rows of a draw made for the global batch: every ``world_size``-th row from ``rank`` on.

    The sampler shards data the same way (``ResumableSampler``), so row ``i`` of
    rank ``r`` is row ``i * world_size + r`` of the global batch, in the data and
    in every draw: a per-image draw stays with the image a single process gave it to.
    """
    return full[rank::world_size]


def init_from_env(device_type: str = "auto") -> DistInfo:
    """Join the torchrun job described by the environment (a no-op outside torchrun).

    Args:
        device_type: The spec's ``train.device``; CUDA runs use nccl and bind
            each process to ``cuda:LOCAL_RANK``, everything else uses gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = (torch.cuda.is_available() and device_type in ("auto", "cuda")) or device_type.startswith("cuda")
    if use_cuda and local >= torch.cuda.device_count():
        # torch's own message here ("invalid device ordinal") names neither torchrun nor the fix.
        raise DeviceError(
            f"torchrun started local rank {local} but this machine has {torch.cuda.device_count()} CUDA device(s); "
            f"use --nproc_per_node {max(1, torch.cuda.device_count())} or fewer, or train.device: cpu"
        )
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, local_rank=local, world_size=world)


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_true(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True only if ``flag`` holds on every rank (so all ranks skip an update together)."""
    return all_true_each((flag,), info, device)[0]


def all_true_each(flags: tuple[bool, ...], info: DistInfo, device: torch.device) -> tuple[bool, ...]:
    """:func:`all_true` for several flags in one collective."""
    if not info.enabled:
        return flags
    t = torch.tensor([1 if f else 0 for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return tuple(bool(v) for v in t.tolist())


def sync_buffers(modules: Iterable[nn.Module], info: DistInfo) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics, spectral-norm vectors).

    DDP's own ``broadcast_buffers`` copies them in place at every forward. A GAN's
    D phase runs D twice (reals, fakes) before one backward, and the second copy
    changes a buffer the first forward saved for backward: torch 2.11 then
    refuses the backward ("modified by an inplace operation"). ganzoo wraps with
    ``broadcast_buffers=False`` and calls this once per step instead, when no
    graph is alive.
    """
    if not info.enabled:
        return
    for module in modules:
        for buf in module.buffers():
            dist.broadcast(buf, src=0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
