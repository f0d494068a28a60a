"""The zoo catalogue, shipped with the package: one spec per variant, and the sweeps.

In the repository the catalogue lives in ``registry/``; ``ganzoo/zoo/specs`` links
to it, and a built distribution carries its files, so ``ganzoo train
dcgan-digits`` and ``base: dcgan-digits`` in a sweep work from any directory
after a plain ``pip install``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["catalogue", "resolve_spec", "resolve_sweep", "spec_names"]


def catalogue() -> Path:
    """The folder holding the registry specs (``sweeps/`` inside it)."""
    return Path(str(resources.files("ganzoo.zoo") / "specs"))


def spec_names() -> list[str]:
    """Names of the registry specs, e.g. ``dcgan-digits``."""
    root = catalogue()
    return sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []


def _resolve(arg: str | Path, folder: Path) -> Path:
    path = Path(arg)
    if path.exists() or path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        return path  # a file the user named: errors about it name it as given
    named = folder / f"{path.name}.yaml"
    return named if named.is_file() else path


def resolve_spec(arg: str | Path) -> Path:
    """``arg`` as a file when it is one (or looks like a path); else the registry spec of that name, if there is one."""
    return _resolve(arg, catalogue())


def resolve_sweep(arg: str | Path) -> Path:
    """Like :func:`resolve_spec`, for the registry's sweep files."""
    return _resolve(arg, catalogue() / "sweeps")
