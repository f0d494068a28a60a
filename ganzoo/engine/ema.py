"""Exponential moving average of generator weights, with warm-up."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * weights`` after each update.

    During the first ``warmup`` updates the decay ramps linearly from 0 to
    ``decay`` so the average is not dominated by the random initialisation.
    Buffers (batch-norm statistics) are copied, not averaged.

    Args:
        model: The live network (unwrapped from DDP/compile).
        decay: Target decay in [0, 1).
        warmup: Updates over which the decay ramps up.
    """

    def __init__(self, model: nn.Module, decay: float, warmup: int = 0) -> None:
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        if self.warmup <= 0:
            return self.decay
        return self.decay * min(1.0, self.updates / self.warmup)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for s, p in zip(self.shadow.parameters(), model.parameters(), strict=True):
            s.lerp_(p.detach().to(s.dtype), 1.0 - d)
        for sb, b in zip(self.shadow.buffers(), model.buffers(), strict=True):
            sb.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": self.shadow.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.shadow.load_state_dict(state["shadow"])
        self.updates = int(state["updates"])
