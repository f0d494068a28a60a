"""Shared fixtures: one registry per session, tiny specs, a CLI runner."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo.plugin.registry import Registries, load_registries

REPO = Path(__file__).resolve().parents[1]

# Small enough that a training step takes milliseconds on a CPU.
TINY_SPEC: dict[str, Any] = {
    "name": "tiny",
    "task": "unconditional",
    "seed": 0,
    "data": {"type": "digits", "params": {"size": 16, "limit": 64}},
    "generator": {"type": "dcgan", "params": {"latent_dim": 8, "width": 8}},
    "discriminator": {"type": "dcgan", "params": {"width": 8}},
    "losses": {"adversarial": {"type": "non-saturating"}},
    "train": {
        "steps": 4,
        "batch_size": 8,
        "device": "cpu",
        "log_every": 1,
        "sample_every": 2,
        "checkpoint_every": 2,
        "sample_grid": 4,
        "progress": False,
    },
}


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    # Two cores: keep intra-op threads from oversubscribing when pytest-xdist or subprocesses run.
    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Classifiers and reference statistics are cached; tests must not touch ~/.cache.
    import os

    os.environ["GANZOO_CACHE"] = str(tmp_path_factory.mktemp("ganzoo-cache"))


@pytest.fixture(scope="session")
def registries() -> Registries:
    return load_registries()


@pytest.fixture
def tiny_spec() -> dict[str, Any]:
    return copy.deepcopy(TINY_SPEC)


@pytest.fixture
def write_spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a spec dict (or raw text) to a YAML file and return its path."""
    import yaml

    def _write(data: dict[str, Any] | str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return _write


@pytest.fixture
def cli_run():  # type: ignore[no-untyped-def]
    """Invoke the ganzoo CLI in-process; returns the click Result."""
    from click.testing import CliRunner

    from ganzoo.cli import cli

    from ganzoo.plugin.manager import get_plugin_manager

    get_plugin_manager().hook.ganzoo_register_commands(cli=cli)  # as `ganzoo` does: plugin commands (upscale, inpaint)

    def _run(*args: str) -> Any:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return _run
