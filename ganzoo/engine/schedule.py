"""Learning-rate schedules as pure functions of the step counter.

The rate of step ``s`` (0-based: the update that makes ``s + 1`` generator
steps) is ``lr * lr_factor(schedule, s, total)``. Nothing is stored: a resumed
run recomputes the same rate from its step counter, so resume stays exact and
no scheduler state can go stale. Discriminator updates use the factor of the
generator step they belong to (one step is one generator update).
"""

from __future__ import annotations

import bisect
import math

from ganzoo.spec.sections import ConstantLR, CosineLR, LRSchedule, MultiStepLR

__all__ = ["lr_factor"]


def lr_factor(schedule: LRSchedule, step: int, total_steps: int) -> float:
    """The multiplier of the base learning rate at 0-based ``step``.

    Args:
        schedule: The validated schedule of one optimiser.
        step: Generator updates completed before this one.
        total_steps: ``train.steps``; the default cosine period.
    """
    warm = min(1.0, (step + 1) / schedule.warmup) if schedule.warmup else 1.0
    if isinstance(schedule, ConstantLR):
        return warm
    if isinstance(schedule, MultiStepLR):
        drops = bisect.bisect_right(schedule.milestones, step)  # milestone m: steps >= m use the lower rate
        return warm * schedule.gamma**drops
    if isinstance(schedule, CosineLR):
        period = (schedule.period or total_steps) - schedule.warmup
        if period <= 0:
            return warm
        t = min(max(step - schedule.warmup, 0), period) / period
        return warm * (schedule.min_factor + (1 - schedule.min_factor) * 0.5 * (1 + math.cos(math.pi * t)))
    raise TypeError(f"unknown schedule {type(schedule).__name__}")
