"""Device selection, seeding, RNG state capture and precision contexts."""

from __future__ import annotations

import contextlib
import random
import sys
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from ganzoo.errors import ConfigError

__all__ = [
    "select_device", "seed_everything", "rng_state", "set_rng_state", "autocast", "check_precision", "peak_memory_mb",
    "DeviceError", "PrecisionError",
]


class PrecisionError(ConfigError):
    """The requested precision cannot run on the chosen device."""


class DeviceError(ConfigError, RuntimeError):
    """The requested device does not exist on this machine (a ``RuntimeError`` too, as before)."""


def select_device(name: str = "auto") -> torch.device:
    """Resolve ``auto`` to cuda > mps > cpu; check an explicit device exists."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"train.device is {name!r} but CUDA is not available; use device: auto or cpu")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(f"train.device is {name!r} but MPS is not available; use device: auto or cpu")
    return dev


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every RNG state as checkpoint-safe values (tensors, ints, lists)."""
    py_version, py_state, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=True)
    if not isinstance(np_state, tuple):  # the global RandomState is always MT19937, whose legacy state is a tuple
        raise TypeError(f"unexpected numpy RNG state {type(np_state).__name__}")
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse combinations that would silently do the wrong thing."""
    if precision == "fp16" and device.type == "cpu":
        raise PrecisionError("train.precision fp16 needs a GPU; on the CPU use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("this GPU does not support bf16; use fp16 or fp32")


def autocast(precision: str, device: torch.device) -> AbstractContextManager[Any]:
    """Autocast context for the precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far in MiB: the CUDA allocator's peak on a GPU, the process's max RSS elsewhere.

    The two are not comparable with each other (RSS includes the interpreter and
    libraries), so reports keep the device next to the number.
    """
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux
