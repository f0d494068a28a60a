"""Inference from any checkpoint: `--checkpoint latest|best|PATH` on unfinished and interrupted runs."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from ganzoo import RunDir, RunDirError, hookimpl, load_generator
from ganzoo.cli import cli
from ganzoo.engine.run import Run, RunInterrupted
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect
from ganzoo.spec.model import validate_spec


class _InterruptAtStep2:
    """Sends the run SIGINT's handler at step 2, as Ctrl-C would: the loop checkpoints and stops."""

    @hookimpl
    def ganzoo_on_step(self, run: Any, step: int, logs: dict[str, float]) -> None:
        if step == 2:
            run._on_signal(signal.SIGINT, None)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import TINY_SPEC

    reg: Registries = collect(get_plugin_manager(extra=[("interrupt", _InterruptAtStep2())]))
    spec = {**TINY_SPEC, "train": {**TINY_SPEC["train"], "steps": 6, "checkpoint_every": 0, "sample_every": 0, "tensorboard": False,
                                   "ema": 0.9}}
    out = tmp_path_factory.mktemp("interrupted")
    with pytest.raises(RunInterrupted):
        Run(validate_spec(spec, reg), reg, out).fit()
    return out


def test_an_interrupted_run_has_no_export_but_samples_from_its_checkpoint(interrupted: Path, tmp_path: Path) -> None:
    paths = RunDir(interrupted)
    assert not paths.generator.exists() and paths.list_checkpoints()[-1][0] == 2  # stopped after step 2
    with pytest.raises(RunDirError, match="--checkpoint latest"):
        load_generator(interrupted)
    gen = load_generator(interrupted, checkpoint="latest")
    assert gen.step == 2 and gen.source == paths.checkpoint(2)
    state = torch.load(paths.checkpoint(2), weights_only=True)
    for k, v in gen.module.state_dict().items():  # the EMA weights, as the export would hold
        assert torch.equal(v, state["ema"]["shadow"][k]), k
    result = CliRunner().invoke(cli, ["sample", str(interrupted), "--checkpoint", "latest", "--n", "4", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.png").stat().st_size > 0


def test_a_checkpoint_path_and_missing_best_are_clear(interrupted: Path, tmp_path: Path) -> None:
    paths = RunDir(interrupted)
    gen = load_generator(interrupted, checkpoint=str(paths.checkpoint(2)))
    assert gen.step == 2
    result = CliRunner().invoke(cli, ["sample", str(interrupted), "--checkpoint", "best", "--out", str(tmp_path / "b.png")])
    assert result.exit_code == 2 and "best.pt does not exist" in result.output and "Traceback" not in result.output
