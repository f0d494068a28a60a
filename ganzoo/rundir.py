"""Run-directory layout (edm/stylegan3 style) and its metadata files.

```
RUN/
  spec.yaml            fully resolved spec, hash in the header
  run.json             spec hash, data info, versions, command
  log.txt  metrics.jsonl  tb/
  samples/step_00000500.png
  checkpoints/step_00000500.pt   (last K)  best.pt
  generator.safetensors          weights for inference (EMA when enabled)
  eval.json
```
"""

from __future__ import annotations

import json
import platform
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ganzoo.data import DataInfo
from ganzoo.spec.model import spec_hash, spec_to_data
from ganzoo.spec.yamlio import dump_yaml

__all__ = ["RunDirError", "new_run_dir", "write_spec", "write_meta", "update_meta", "read_meta", "SPEC_FILE", "META_FILE"]

SPEC_FILE = "spec.yaml"
META_FILE = "run.json"


class RunDirError(RuntimeError):
    """The run directory cannot be created, written or read."""


def new_run_dir(out: str | Path | None, name: str, root: str | Path = "runs") -> Path:
    """Create the run directory.

    With ``out`` given it is used as is (it must be absent or empty, so a
    finished run is never overwritten); otherwise ``root/NNNNN-name`` with the
    next free number.
    """
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"{path} already exists and is not empty; use --resume {path} to continue it, or another --out")
    else:
        base = Path(root)
        nums = [int(m.group(1)) for p in (base.iterdir() if base.is_dir() else []) if (m := re.match(r"^(\d{5})-", p.name))]
        path = base / f"{(max(nums) + 1) if nums else 0:05d}-{name}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"cannot write to run directory {path}: {exc.strerror or exc}") from None
    return path


def write_spec(spec: BaseModel, run_dir: Path) -> str:
    """Write ``spec.yaml`` with the hash in its header; return the hash."""
    digest = spec_hash(spec)
    header = f"# ganzoo resolved spec\n# sha256: {digest}\n"
    dump_yaml(spec_to_data(spec), run_dir / SPEC_FILE, header=header)
    return digest


def write_meta(run_dir: Path, *, spec_digest: str, info: DataInfo, extra: dict[str, Any] | None = None) -> None:
    """Write ``run.json``: what is needed to rebuild the generator without the data."""
    import torch

    from ganzoo import __version__

    meta = {
        "spec_sha256": spec_digest,
        "data_info": asdict(info),
        "ganzoo": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": sys.argv,
        **(extra or {}),
    }
    (run_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def update_meta(run_dir: Path, **fields: Any) -> None:
    """Merge ``fields`` into ``run.json`` atomically (the status and step a run ended with)."""
    from ganzoo.checkpoint import atomic_write

    path = Path(run_dir) / META_FILE
    try:
        meta = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        meta = {}
    blob = (json.dumps({**meta, **fields}, indent=2) + "\n").encode()
    atomic_write(path, lambda fh: fh.write(blob))


def read_meta(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json``; a clear error when the directory is not a run."""
    path = Path(run_dir) / META_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a ganzoo run directory (no {META_FILE})")
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from None
