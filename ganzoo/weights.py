"""Pretrained-weights policy: find a local file, verify its SHA-256, never download.

Evaluation networks (the FID Inception, LPIPS backbones) need published weight
files. ganzoo never fetches them: a score computed with a silently substituted
or half-downloaded file is worse than no score. A file is looked up, in order:

1. the explicit ``path`` a caller passes (a file, or a directory holding it);
2. every directory in ``$GANZOO_WEIGHTS`` (``os.pathsep``-separated);
3. the ganzoo cache, ``$GANZOO_CACHE/weights`` (default ``~/.cache/ganzoo/weights``);
4. torch.hub's checkpoint directory (``torch.hub.get_dir()/checkpoints``), where
   pytorch-fid, torch-fidelity and torchvision leave their downloads;
5. any extra candidate files the caller knows about (e.g. a pip package's data).

The first file whose SHA-256 matches wins. Without a match, :class:`WeightsError`
lists everything that was tried and how to get the file on a machine with a network.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import WeightsError  # defined there, re-exported here

__all__ = [
    "ENV_CACHE",
    "ENV_WEIGHTS",
    "WeightSpec",
    "WeightsError",
    "cache_dir",
    "load_state_dict",
    "resolve_weights",
    "search_dirs",
    "sha256_file",
]

ENV_WEIGHTS = "GANZOO_WEIGHTS"
ENV_CACHE = "GANZOO_CACHE"

_HEX = re.compile(r"^[0-9a-f]{8,64}$")
_CHUNK = 1 << 20

# (resolved path, mtime_ns, size) -> hex digest. A 100 MB file takes ~0.3 s to
# hash; metrics build extractors repeatedly, so each file is hashed once per process.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


@dataclass(frozen=True)
class WeightSpec:
    """A published weight file that ganzoo knows how to verify.

    Attributes:
        name: Short identifier (``"pt_inception-2015-12-05"``).
        filename: The name the file is published under.
        sha256: Lowercase hex SHA-256 of the file. Normally all 64 digits; a prefix
            (at least 8 digits, as in torch.hub file names) is accepted and then
            only the prefix is compared.
        url: Where a person with a network can download it (only shown in messages).
        description: One line on what the file is.
        aliases: Other names the same bytes are known under (checked after ``filename``).
    """

    name: str
    filename: str
    sha256: str
    url: str
    description: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _HEX.match(self.sha256):
            raise ValueError(f"WeightSpec {self.name!r}: sha256 must be 8-64 lowercase hex digits, got {self.sha256!r}")

    @property
    def filenames(self) -> tuple[str, ...]:
        """``filename`` followed by the aliases."""
        return (self.filename, *self.aliases)

    @property
    def full_hash(self) -> bool:
        """Whether ``sha256`` is the complete digest rather than a prefix."""
        return len(self.sha256) == 64

    def matches(self, digest: str) -> bool:
        """Whether a file's full hex digest is this spec's hash (or starts with its prefix)."""
        return digest.lower().startswith(self.sha256)


def cache_dir() -> Path:
    """ganzoo's weights cache: ``$GANZOO_CACHE/weights``, default ``~/.cache/ganzoo/weights``."""
    root = os.environ.get(ENV_CACHE)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "ganzoo") / "weights"


def _hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def search_dirs() -> list[tuple[Path, str]]:
    """The directories searched for weight files, in order, each with where it came from."""
    dirs: list[tuple[Path, str]] = []
    for entry in os.environ.get(ENV_WEIGHTS, "").split(os.pathsep):
        if entry.strip():
            dirs.append((Path(entry.strip()).expanduser(), f"${ENV_WEIGHTS}"))
    cache_origin = f"${ENV_CACHE}/weights" if os.environ.get(ENV_CACHE) else "ganzoo cache"
    dirs.append((cache_dir(), cache_origin))
    dirs.append((_hub_checkpoints(), "torch.hub checkpoints"))
    return dirs


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB chunks and memoised per (path, mtime, size)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_mtime_ns, st.st_size)
    with _HASH_LOCK:
        cached = _HASH_CACHE.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    with _HASH_LOCK:
        _HASH_CACHE[key] = digest
    return digest


def _check(candidate: Path, spec: WeightSpec) -> tuple[bool, str]:
    """``(ok, note)`` for one candidate file; the note goes into the error message."""
    if not candidate.is_file():
        return False, "not found"
    try:
        digest = sha256_file(candidate)
    except OSError as exc:
        return False, f"unreadable ({exc.strerror or exc})"
    if spec.matches(digest):
        return True, "ok"
    return False, f"SHA-256 mismatch: actual {digest}"


def _candidates(spec: WeightSpec, path: str | Path | None, extra: Sequence[str | Path]) -> list[tuple[Path, str]]:
    if path is not None:
        p = Path(path).expanduser()
        # An explicit path is what the caller asked for: never fall back to another file.
        if p.is_dir():
            return [(p / name, "explicit path") for name in spec.filenames]
        return [(p, "explicit path")]
    found = [(d / name, origin) for d, origin in search_dirs() for name in spec.filenames]
    found += [(Path(c), "installed package") for c in extra]
    return found


def resolve_weights(
    spec: WeightSpec,
    path: str | Path | None = None,
    *,
    offline_hint: str = "",
    extra_candidates: Sequence[str | Path] = (),
) -> Path:
    """Find a local copy of ``spec`` whose SHA-256 matches; never download.

    Args:
        spec: The file to find.
        path: An explicit file (or directory holding it). When given, only it is tried.
        offline_hint: What the user can do without the file (named in the error).
        extra_candidates: Further file paths tried last (e.g. data shipped in a pip package).

    Returns:
        The path of the verified file.

    Raises:
        WeightsError: No candidate exists with the expected hash.
    """
    tried: list[str] = []
    for candidate, origin in _candidates(spec, path, extra_candidates):
        ok, note = _check(candidate, spec)
        if ok:
            return candidate
        tried.append(f"  {len(tried) + 1}. {candidate} ({origin}): {note}")
    raise WeightsError(_missing_message(spec, tried, offline_hint))


def _missing_message(spec: WeightSpec, tried: list[str], offline_hint: str) -> str:
    which = "SHA-256" if spec.full_hash else "SHA-256 prefix"
    lines = [
        f"no verified copy of the {spec.name} weights: file {spec.filename}"
        + (f" (also accepted as {', '.join(spec.aliases)})" if spec.aliases else "")
        + f", expected {which} {spec.sha256}.",
        "Searched, in order:",
        *tried,
        "ganzoo never downloads weights. On a machine with a network, download",
        f"  {spec.url}",
        f"check it with `sha256sum {spec.filename}`, and copy it to {cache_dir()}",
        f"or to a directory listed in ${ENV_WEIGHTS} (several directories: separate them with {os.pathsep!r}),",
        "or pass its path explicitly.",
    ]
    if offline_hint:
        lines.append(f"Offline alternative: {offline_hint}")
    return "\n".join(lines)


def _unwrap(obj: Any) -> Any:
    # Training checkpoints often nest the weights; published files are flat.
    for key in ("state_dict", "model", "params"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict) and not any(torch.is_tensor(v) for v in obj.values()):
            return obj[key]
    return obj


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a flat ``{name: tensor}`` dict on the CPU, refusing pickled code.

    ``.safetensors`` files are read with safetensors; everything else with
    ``torch.load(..., weights_only=True)``. A wrapping ``{"state_dict": ...}`` is unwrapped.

    Raises:
        WeightsError: The file is missing, unreadable, or not a dict of tensors.
    """
    p = Path(path)
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(p), device="cpu")
        else:
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"weight file {p} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle refused, header error, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"cannot load weight file {p}: {reason}") from None
    obj = _unwrap(obj)
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
        raise WeightsError(f"weight file {p} is not a state dict (a flat mapping of names to tensors)")
    return obj
