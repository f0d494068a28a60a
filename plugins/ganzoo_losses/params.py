"""Parameter models of the built-in losses."""

from __future__ import annotations

from pydantic import Field

from ganzoo import Params


class NonSaturatingParams(Params):
    """Parameters of the non-saturating loss."""

    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="One-sided label smoothing: real targets become 1 - s.")
