"""Parameter models of the generation tasks."""

from __future__ import annotations

from pydantic import Field

from ganzoo import Params


class UnconditionalParams(Params):
    """Parameters of the unconditional task."""

    truncation: float = Field(1.0, gt=0.0, description="Scale of sampled noise at sampling time (1 = none).")
