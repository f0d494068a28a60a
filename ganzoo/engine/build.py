"""Build a spec's networks and losses from the registries (shared by training and inference)."""

from __future__ import annotations

from torch import nn

from ganzoo.data import DataInfo
from ganzoo.losses import LossSet
from ganzoo.plugin.registry import Registries
from ganzoo.spec.model import RunSpecBase

__all__ = ["build_networks", "build_losses", "unwrap_model"]


def build_networks(spec: RunSpecBase, reg: Registries, info: DataInfo, slots: tuple[str, ...]) -> dict[str, nn.Module]:
    """Build the task's networks from their spec slots."""
    nets = {}
    for slot in slots:
        comp = getattr(spec, slot, None)
        if comp is not None:
            nets[slot] = reg.build("model", comp.type, comp.params, info, role=slot)
    return nets


def build_losses(spec: RunSpecBase, reg: Registries) -> LossSet:
    """Build the loss components of a spec."""
    losses = spec.losses
    out = LossSet()
    if losses.adversarial is not None:
        out.adversarial = reg.build("loss", losses.adversarial.type, losses.adversarial.params)
        out.adversarial_weight = losses.adversarial.weight
    out.regularizers = [(c.type, reg.build("loss", c.type, c.params), c.weight) for c in losses.regularizers]
    out.reconstruction = [(c.type, reg.build("loss", c.type, c.params), c.weight) for c in losses.reconstruction]
    return out


def unwrap_model(net: nn.Module) -> nn.Module:
    """The plain module inside ``torch.compile`` and DDP wrappers."""
    net = getattr(net, "_orig_mod", net)  # torch.compile
    return getattr(net, "module", net)  # DDP
