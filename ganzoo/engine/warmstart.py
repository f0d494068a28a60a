"""Start a network from trained weights: the ``init:`` section of a spec.

Two-stage recipes need it (ESRGAN fails from scratch and starts from its
PSNR-trained RRDB net). A source is a run directory, a ganzoo checkpoint, or a
plain weight file; it is read without unpickling code, optionally checked by
SHA-256, and matched by name and shape with an error that lists what differs.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.checkpoint import CheckpointError, load_checkpoint, load_latest
from ganzoo.rundir import RunDir
from ganzoo.spec.sections import InitSource
from ganzoo.weights import WeightsError, sha256_file

__all__ = ["InitError", "InitReport", "load_init_weights", "apply_init"]

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DDP and torch.compile prefixes in foreign files


class InitError(WeightsError):
    """An ``init`` source is missing, unreadable, or does not fit the network (exit status 1, like other weights)."""


@dataclass
class InitReport:
    """What was loaded into one network; stored in ``run.json``."""

    source: str
    file: str
    sha256: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _from_checkpoint(state: dict[str, Any], slot: str, src: InitSource, where: str) -> dict[str, torch.Tensor]:
    if slot == "generator" and src.weights == "eval" and "ema" in state:
        return state["ema"]["shadow"]
    nets = state.get("nets", {})
    if slot not in nets:
        raise InitError(f"init.{slot}.from: {where} holds no {slot} weights (it has: {sorted(nets) or 'none'})")
    return nets[slot]


def _checkpoint_file(run_dir: Path, src: InitSource, slot: str) -> Path:
    paths = RunDir(run_dir)
    if src.checkpoint == "best":
        best = paths.best_checkpoint
        if not best.is_file():
            raise InitError(f"init.{slot}.from: {run_dir} has no {best.relative_to(run_dir)} (the run had no eval.best metric); "
                            "use checkpoint: latest")
        return best
    found = load_latest(paths.checkpoints) if paths.checkpoints.is_dir() else None
    if found is None:
        raise InitError(f"init.{slot}.from: {run_dir} has no readable checkpoint in {paths.checkpoints.name}/")
    return found[0]


# What torch.save writes: a zip archive, or (legacy format) a pickle starting with its PROTO opcode.
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


def _read(path: Path, slot: str) -> Any:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    with open(path, "rb") as f:
        head = f.read(4)
    # Anything else (a text file, an image) would reach torch's unpickler, whose error
    # suggests weights_only=False: advice to run code from an untrusted file.
    if not head.startswith(_TORCH_MAGIC):
        raise InitError(f"init.{slot}.from: {path} is not a weight file (neither a PyTorch file nor .safetensors)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InitError(f"init.{slot}.from: {path} holds Python objects besides tensors and containers, which ganzoo does not "
                        "unpickle; save a plain state dict (torch.save(net.state_dict(), ...)) or a .safetensors file") from None


def _plain(obj: Any, src: InitSource, slot: str, path: Path) -> dict[str, torch.Tensor]:
    if src.key is not None:
        if not isinstance(obj, dict) or src.key not in obj:
            keys = sorted(obj) if isinstance(obj, dict) else []
            raise InitError(f"init.{slot}.key: {path} has no top-level key {src.key!r} (it has: {keys})")
        obj = obj[src.key]
    elif isinstance(obj, dict) and "nets" in obj and "step" in obj:
        return _from_checkpoint(obj, slot, src, str(path))
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
        keys = sorted(k for k in obj if isinstance(k, str))[:8] if isinstance(obj, dict) else []
        hint = f"; its top-level keys are {keys}: name the one holding the weights with init.{slot}.key" if keys else ""
        raise InitError(f"init.{slot}.from: {path} is not a state dict (a flat mapping of names to tensors){hint}")
    return obj


def load_init_weights(src: InitSource, slot: str) -> tuple[dict[str, torch.Tensor], Path, str]:
    """Resolve ``src`` for network ``slot``; returns (state dict, file read, its SHA-256).

    Raises:
        InitError: The source is missing, unreadable, fails its checksum, or holds no weights for ``slot``.
    """
    where = Path(src.from_).expanduser()
    if where.is_dir():
        run = RunDir(where)
        if slot == "generator" and src.checkpoint == "latest" and not run.checkpoints.is_dir() and run.generator.is_file():
            path = run.generator  # an exported run: only the eval weights remain
        else:
            path = _checkpoint_file(where, src, slot)
    elif where.is_file():
        path = where
    else:
        raise InitError(f"init.{slot}.from: {where} does not exist (a run directory or a weight file was expected; "
                        f"relative paths are relative to the working directory {Path.cwd()})")
    digest = sha256_file(path)
    if src.sha256 is not None and digest != src.sha256:
        raise InitError(f"init.{slot}.sha256: {path} has SHA-256 {digest}, expected {src.sha256}")
    try:
        if RunDir(path.parent.parent).is_checkpoint(path):
            state = _from_checkpoint(load_checkpoint(path), slot, src, str(path))
        else:
            state = _plain(_read(path, slot), src, slot, path)
    except InitError:  # already names the init field (InitError is a WeightsError: it goes first)
        raise
    except (CheckpointError, WeightsError) as exc:
        raise InitError(f"init.{slot}.from: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - truncated file, refused pickle, bad header
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InitError(f"init.{slot}.from: cannot read {path}: {reason}") from None
    return state, path, digest


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in _WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def apply_init(net: nn.Module, src: InitSource, slot: str) -> InitReport:
    """Load ``src`` into ``net`` (in place) and report what matched.

    With ``strict`` every name and shape must match; otherwise the matching
    tensors are copied and the rest listed. Loading nothing at all is an error
    either way, since it almost always means the wrong file.
    """
    raw, path, digest = load_init_weights(src, slot)
    state = _strip_prefixes(dict(raw))
    own = net.state_dict()
    mismatched = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if k in own and v.shape != own[k].shape]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    usable = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    # Batch-norm step counters match any network; a file matching only those matched nothing.
    useful = any(v.is_floating_point() for v in usable.values())
    if (src.strict and (missing or unexpected or mismatched)) or not useful:
        parts = [f"{len(usable)} of {len(own)} tensors match"]
        for label, items in (("shape differs", mismatched), ("missing in the file", missing), ("not in the network", unexpected)):
            if items:
                more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
                parts.append(f"{label}: {', '.join(items[:5])}{more}")
        hint = "; set strict: false to load the matching ones" if useful else ""
        raise InitError(f"init.{slot}.from: {path} does not fit the {slot}: " + "; ".join(parts) + hint)
    with torch.no_grad():
        for k, v in usable.items():
            own[k].copy_(v.to(dtype=own[k].dtype))
    return InitReport(str(src.from_), str(path), digest, len(usable), missing, unexpected, mismatched)
