"""Numeric bounds of run specs, checked at validation instead of failing mid-run.

An out-of-range number used to fail late and obscurely: a seed of 2^63 inside
torch ("Overflow when unpacking long long"), ``steps: 1e50`` at the first log
line, ``batch_size: 1e9`` as an empty ``MemoryError``, ``lr: .inf`` as a
non-finite checkpoint. The static sections use these bounds; every float in a
spec must be finite (``allow_inf_nan=False`` on :class:`ganzoo.Params` and on
component slots), and :func:`oversized_ints` catches an integer too large for
torch (a C ``int64``) anywhere else, plugin params included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field

__all__ = [
    "MAX_SEED", "MAX_STEPS", "MAX_BATCH", "MAX_D_STEPS", "MAX_WORKERS", "MAX_KEEP", "MAX_SECONDS", "INT64_MAX",
    "Steps", "oversized_ints",
]

# Seeds go to numpy (which takes < 2^32), python and torch, and derived seeds
# (seed * 1_000_003 + samples seen) must stay within torch's 64-bit range.
MAX_SEED = 2**32 - 1
# Steps and every cadence counted in steps (about 30 years at 1000 steps/s).
MAX_STEPS = 10**12
MAX_BATCH = 2**20
# d_steps * steps counts discriminator updates and must stay below 2^63.
MAX_D_STEPS = 10**6
MAX_WORKERS = 1024
MAX_KEEP = 10**6
MAX_SECONDS = 1e12
INT64_MAX = 2**63 - 1

Steps = Annotated[int, Field(ge=0, le=MAX_STEPS)]


def oversized_ints(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """Paths of the integers in plain ``data`` that do not fit a signed 64-bit integer.

    Args:
        data: Plain data (dicts, lists, scalars), e.g. a validated spec dumped to JSON mode.
        path: Key path of ``data`` itself.

    Yields:
        (key path, value) for each integer outside [-(2^63 - 1), 2^63 - 1].
    """
    if isinstance(data, dict):
        for k, v in data.items():
            yield from oversized_ints(v, (*path, k))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            yield from oversized_ints(v, (*path, i))
    elif isinstance(data, int) and not isinstance(data, bool) and abs(data) > INT64_MAX:
        yield path, data
