"""The error policy: every user-facing error is a GanzooError, and the CLI prints exactly those as one message.

Anything else is a bug and must keep its traceback (exit status 1); every
bad-input case the docs promise still gets one line and no traceback.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner

import ganzoo
from ganzoo.errors import EXIT_FAILURE, EXIT_INPUT, GanzooError

from .conftest import TINY_SPEC

REPO = Path(__file__).resolve().parents[1]
PLUGIN_PACKAGES = sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "__init__.py").is_file())

# Exceptions that are deliberately not GanzooErrors.
NOT_FOR_USERS = {
    "ganzoo.testing.PluginCheckError",  # an AssertionError: a failing plugin test, reported by pytest
    "ganzoo.plugin.reference.ReferenceDrift",  # an AssertionError: docs/plugins.md's reference is out of date (a developer check)
}


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(ganzoo.__path__, "ganzoo.") if not m.name.endswith("__main__")]
    for pkg in PLUGIN_PACKAGES:
        names.append(pkg)
        names += [m.name for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, f"{pkg}.")]
    return names


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an optional third-party dependency (cv2, ...) is not installed
            if (exc.name or "").split(".")[0] in {"ganzoo", *PLUGIN_PACKAGES}:
                raise
            continue
        found += [obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name]
    return found


# ---------------------------------------------------------------- the hierarchy


def test_every_user_facing_exception_is_a_ganzoo_error():
    classes = _exception_classes()
    names = {f"{c.__module__}.{c.__qualname__}" for c in classes}
    for expected in ("ganzoo.spec.errors.SpecError", "ganzoo.plugin.registry.UnknownComponentError", "ganzoo_sr.cli.ImageReadError",
                     "ganzoo_inpaint.masks.MaskError", "ganzoo.engine.run.NonFiniteError", "ganzoo.evaluation.NoPairsError"):
        assert expected in names, f"the module walk missed {expected}"
    stray = sorted(n for c, n in ((c, f"{c.__module__}.{c.__qualname__}") for c in classes)
                   if not issubclass(c, (GanzooError, Warning)) and n not in NOT_FOR_USERS)
    assert not stray, "exceptions users may see must derive from ganzoo.GanzooError (or be allow-listed here):\n" + "\n".join(stray)
    assert all(not issubclass(c, GanzooError) for c in classes if f"{c.__module__}.{c.__qualname__}" in NOT_FOR_USERS)


def test_old_builtin_bases_and_single_classes_are_kept():
    from ganzoo.checkpoint import CheckpointError
    from ganzoo.data import EmptyDatasetError
    from ganzoo.engine.device import PrecisionError
    from ganzoo.engine.warmstart import InitError
    from ganzoo.evaluation import NoPairsError
    from ganzoo.plugin.registry import RegistryError, UnknownComponentError
    from ganzoo.rundir import RunDirError
    from ganzoo.spec.errors import SpecError
    from ganzoo.weights import WeightsError

    # one class per name: ganzoo.X, ganzoo.errors.X and the module that raises it agree
    assert (CheckpointError, RunDirError, WeightsError) == (ganzoo.CheckpointError, ganzoo.RunDirError, ganzoo.WeightsError)
    assert issubclass(SpecError, ValueError) and issubclass(EmptyDatasetError, ValueError) and issubclass(PrecisionError, ValueError)
    assert issubclass(NoPairsError, TypeError) and issubclass(UnknownComponentError, KeyError)
    assert issubclass(RegistryError, ganzoo.PluginError)
    assert issubclass(InitError, RuntimeError) and issubclass(InitError, ganzoo.WeightsError)
    # the exit statuses the docs promise: bad input 2; missing weights or unreadable data 1
    assert SpecError.exit_code == ganzoo.ConfigError.exit_code == UnknownComponentError.exit_code == EXIT_INPUT
    assert WeightsError.exit_code == InitError.exit_code == ganzoo.DataError.exit_code == EXIT_FAILURE


# ---------------------------------------------------------------- the CLI's policy, in a real process


def _ganzoo(tmp_path: Path, patch: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the console script's ``main()`` in a fresh process after ``patch`` replaced ``registries()`` of ``ganzoo validate``."""
    code = textwrap.dedent(f"""
        import sys
        import ganzoo
        import ganzoo.cli.run as run_cli

        def registries():
            {patch}

        run_cli.registries = registries
        sys.argv = ["ganzoo", *{list(args)!r}]
        from ganzoo.cli import main
        main()
    """)
    environ = {k: v for k, v in os.environ.items() if k != "GANZOO_DEBUG"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**environ, **env})


def test_a_ganzoo_error_is_one_line_with_its_exit_status(tmp_path):
    proc = _ganzoo(tmp_path, "raise ganzoo.DataError('the folder holds no images')", "validate", "spec.yaml")
    assert proc.returncode == EXIT_FAILURE, proc.stderr
    assert proc.stderr == "error: the folder holds no images\n"
    proc = _ganzoo(tmp_path, "raise ganzoo.ConfigError('generator and task disagree')", "validate", "spec.yaml")
    assert proc.returncode == EXIT_INPUT and proc.stderr == "error: generator and task disagree\n"


def test_a_bug_keeps_its_traceback_and_exits_1(tmp_path):
    proc = _ganzoo(tmp_path, "raise RuntimeError('a genuine bug')", "validate", "spec.yaml")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and proc.stderr.rstrip().endswith("RuntimeError: a genuine bug")
    proc = _ganzoo(tmp_path, "return 1 / 0", "validate", "spec.yaml")
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr
    assert "error:" not in proc.stderr  # not dressed up as a user error


def test_ganzoo_debug_shows_the_traceback_of_a_ganzoo_error(tmp_path):
    proc = _ganzoo(tmp_path, "raise ganzoo.ConfigError('generator and task disagree')", "validate", "spec.yaml", GANZOO_DEBUG="1")
    assert proc.returncode == EXIT_INPUT
    assert "Traceback" in proc.stderr and "ConfigError: generator and task disagree" in proc.stderr
    assert proc.stderr.rstrip().endswith("error: generator and task disagree")


def test_plugin_commands_get_the_same_policy(monkeypatch):
    import click

    from ganzoo.cli import cli

    @click.command(name="raise-test")
    @click.argument("kind")
    def raise_test(kind: str) -> None:
        raise ganzoo.ConfigError("a plugin refused its input") if kind == "input" else RuntimeError("a plugin bug")

    monkeypatch.setitem(cli.commands, "raise-test", raise_test)
    res = CliRunner().invoke(cli, ["raise-test", "input"])
    assert res.exit_code == EXIT_INPUT and res.output == "error: a plugin refused its input\n"
    res = CliRunner().invoke(cli, ["raise-test", "bug"])
    assert res.exit_code == 1 and isinstance(res.exception, RuntimeError) and "error:" not in res.output


# ---------------------------------------------------------------- bad input the docs promise a message for


@pytest.fixture(scope="module")
def gan_run(registries: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-step GAN run with checkpoints."""
    from ganzoo.api import train
    from ganzoo.spec.model import validate_spec

    spec = copy.deepcopy(TINY_SPEC)
    spec["train"].update(steps=2, sample_every=0, tensorboard=False)
    return train(validate_spec(spec, registries), tmp_path_factory.mktemp("gan") / "run", registries=registries)


def _no_traceback(res: Any) -> str:
    assert "Traceback" not in res.output
    return str(res.output)


def test_missing_spec_file(cli_run, tmp_path):
    res = cli_run("train", tmp_path / "nowhere.yaml", "--out", tmp_path / "run")
    assert res.exit_code == EXIT_INPUT and "cannot read spec file" in _no_traceback(res) and "nowhere.yaml" in res.output
    assert not (tmp_path / "run").exists()


def test_unknown_component_type(cli_run, write_spec, tiny_spec, gan_run):
    tiny_spec["generator"]["type"] = "dcgn"
    res = cli_run("validate", write_spec(tiny_spec))
    assert res.exit_code == EXIT_INPUT and "unknown type 'dcgn'" in _no_traceback(res) and "Did you mean 'dcgan'" in res.output
    res = cli_run("eval", gan_run, "--metrics", "fidd", "--device", "cpu")
    assert res.exit_code == EXIT_INPUT and res.output.startswith("error: unknown metric 'fidd'") and "'fid'" in _no_traceback(res)


def test_checkpoint_that_does_not_fit_on_resume(cli_run, gan_run, tmp_path):
    import shutil

    from ganzoo.checkpoint import list_checkpoints

    run = Path(shutil.copytree(gan_run, tmp_path / "run"))
    step, path = list_checkpoints(run / "checkpoints")[-1]
    torch.save({"step": step, "nets": {}}, path)  # readable, but not this run's
    res = cli_run("train", "--resume", run, "--set", "train.steps=3")
    assert res.exit_code == EXIT_INPUT and res.output.startswith("error: ") and path.name in _no_traceback(res)
    assert "does not fit this run" in res.output


def test_missing_weights_file_for_a_metric(cli_run, gan_run, tmp_path, monkeypatch):
    monkeypatch.delenv("GANZOO_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    res = cli_run("eval", gan_run, "--metrics", "fid", "--n", "8", "--device", "cpu")
    assert res.exit_code == EXIT_FAILURE and res.output.startswith("error: ") and "pt_inception" in _no_traceback(res)


def test_a_metric_without_its_required_params(cli_run, gan_run):
    res = cli_run("eval", gan_run, "--metrics", "fd-timm", "--device", "cpu")
    assert res.exit_code == EXIT_INPUT and "fd-timm" in _no_traceback(res) and "model" in res.output


def test_a_directory_that_is_not_a_run(cli_run, tmp_path):
    res = cli_run("sample", tmp_path, "--out", tmp_path / "grid.png")
    assert res.exit_code == EXIT_INPUT and "not a ganzoo run directory" in _no_traceback(res)


def test_upscale_refuses_a_file_that_is_not_an_image(registries, cli_run, tmp_path):
    from ganzoo.api import train
    from ganzoo.spec.model import validate_spec

    spec = {
        "name": "sr-tiny", "task": {"type": "super-resolution", "params": {"scale": 2}}, "seed": 0,
        "data": {"type": "digits", "params": {"size": 16, "limit": 16}},
        "generator": {"type": "srresnet", "params": {"scale": 2, "num_feat": 4, "num_block": 1}},
        "losses": {"reconstruction": [{"type": "l1"}]},
        "train": {"steps": 1, "batch_size": 4, "device": "cpu", "sample_every": 0, "checkpoint_every": 0,
                  "tensorboard": False, "progress": False},
    }
    run = train(validate_spec(spec, registries), tmp_path / "run", registries=registries)
    (tmp_path / "notes.png").write_text(yaml.safe_dump({"not": "an image"}))
    res = cli_run("upscale", run, tmp_path / "notes.png", "--out", tmp_path / "up")
    assert res.exit_code == EXIT_FAILURE and "cannot read image" in _no_traceback(res) and "notes.png" in res.output
    assert not (tmp_path / "up").exists()
