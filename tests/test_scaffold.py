"""``ganzoo plugin new``: the generated package installs, registers, passes its tests and trains."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tomllib  # stdlib from 3.11; ruff's isort files it as third party for the 3.10 floor

import ganzoo
from ganzoo.cli.scaffold import KINDS, ScaffoldError, new_plugin, plugin_names, render
from ganzoo.spec.model import load_spec
from ganzoo.testing import check_entry, check_plugin_loads, components_of, registries_with

ALL_KINDS = list(KINDS)
Generate = Callable[[str, list[str]], tuple[Path, ModuleType]]


def test_names() -> None:
    # The conventions of docs/plugins.md: distribution ganzoo-<name>, import package ganzoo_<name>.
    expected = {"package": "ganzoo_my_gan", "dist": "ganzoo-my-gan", "component": "my-gan"}
    assert plugin_names("my_gan") == plugin_names("ganzoo_my_gan") == plugin_names("ganzoo-my-gan") == expected
    assert plugin_names("My-GAN")["package"] == "ganzoo_my_gan"
    for bad in ("1gan", "class", "my gan", "ganzoo", "ganzoo_", ""):
        with pytest.raises(ScaffoldError):
            plugin_names(bad)


def test_refuses_a_non_empty_directory_an_unknown_kind_and_a_taken_name(tmp_path: Path, cli_run: Callable[..., Any]) -> None:
    (tmp_path / "keep.txt").write_text("x")
    result = cli_run("plugin", "new", "my_gan", "--dir", tmp_path)
    assert result.exit_code == 2 and "not empty" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert cli_run("plugin", "new", "9lives", "--dir", tmp_path / "x").exit_code == 2
    result = cli_run("plugin", "new", "my_gan", "--kind", "sampler", "--dir", tmp_path / "y")
    assert result.exit_code == 2 and "'sampler' is not one of 'model', 'loss', 'dataset', 'metric', 'task'" in result.output
    with pytest.raises(ScaffoldError, match="unknown kind"):
        render("my_gan", ["model", "sampler"])
    # `gan` would shadow the built-in ganzoo_gan plugin.
    result = cli_run("plugin", "new", "gan", "--dir", tmp_path / "z")
    assert result.exit_code == 2 and "a module named ganzoo_gan is already installed" in result.output
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


def test_kinds_default_to_model_and_keep_a_canonical_order(tmp_path: Path, cli_run: Callable[..., Any]) -> None:
    assert render("my_gan") == render("my_gan", ["model"])
    assert list(render("my_gan", ["task", "model", "task"])) == list(render("my_gan", ["model", "task"]))
    out = cli_run("plugin", "new", "cli_probe", "--kind", "loss", "--kind", "metric", "--dir", tmp_path / "p").output
    assert "package ganzoo_cli_probe" in out and "loss, metric" in out
    files = sorted(str(p.relative_to(tmp_path / "p")) for p in (tmp_path / "p").rglob("*") if p.is_file())
    assert "src/ganzoo_cli_probe/losses.py" in files and "src/ganzoo_cli_probe/scores.py" in files
    assert not any(f.endswith(("nets.py", "shapes.py", "recipe.py")) for f in files)


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Generate]:
    """Generate a plugin in ``tmp_path`` and import it from there (no install); forgotten afterwards."""
    made: list[str] = []

    def make(name: str, kinds: list[str]) -> tuple[Path, ModuleType]:
        root = new_plugin(name, tmp_path / name, kinds)
        package = plugin_names(name)["package"]
        monkeypatch.syspath_prepend(str(root / "src"))
        made.append(package)
        return root, importlib.import_module(package)

    yield make
    for package in made:
        for mod in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[mod]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_kind_generates_clean_code_whose_records_and_spec_validate(kind: str, generated: Generate) -> None:
    """Generation only, in-process: cheap checks of every kind; the end-to-end test below installs all of them at once."""
    root, module = generated(f"probe_{kind}", [kind])
    allowed = {"ganzoo", *ganzoo.PUBLIC_MODULES}
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))  # a SyntaxError names the file
        # Generated code, the task included, uses the documented API only: `ganzoo` and its public modules.
        used = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("ganzoo")}
        assert used <= allowed | {module.__name__} | {f"{module.__name__}.{p.stem}" for p in root.rglob("*.py")}, (path, used)
    if shutil.which("ruff"):
        proc = subprocess.run(["ruff", "check", "--no-cache", "."], cwd=root, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr  # with the generated pyproject's [tool.ruff]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    package = module.__name__
    assert meta["project"]["name"] == package.replace("_", "-") and "ganzoo-plugin" in meta["project"]["keywords"]
    assert meta["project"]["entry-points"]["ganzoo"] == {package: package}
    assert f'require_plugin_api("{ganzoo.PLUGIN_API}", "{meta["project"]["name"]}")' in (root / "src" / package / "__init__.py").read_text()
    reg = registries_with(module)
    check_plugin_loads(reg, module)
    entries = components_of(reg, module)
    assert {e.kind for e in entries} == {kind} and len(entries) == (2 if kind == "model" else 1)
    for entry in entries:
        check_entry(entry)
        assert entry.name == f"probe-{kind}"
    spec = load_spec(root / "specs" / f"probe-{kind}.yaml", reg)
    slot = {"model": spec.generator, "loss": spec.losses.adversarial, "dataset": spec.data, "metric": spec.eval.metrics[0],
            "task": spec.task}[kind]
    assert slot is not None and slot.type == f"probe-{kind}"


def test_a_plugin_of_every_kind_registers_in_process(generated: Generate) -> None:
    root, module = generated("probe_all", ALL_KINDS)
    reg = registries_with(module)
    check_plugin_loads(reg, module)
    assert sorted(e.kind for e in components_of(reg, module)) == ["dataset", "loss", "metric", "model", "model", "task"]
    spec = load_spec(root / "specs" / "probe-all.yaml", reg)
    assert spec.losses.adversarial is not None
    assert {spec.task.type, spec.data.type, spec.generator.type, spec.losses.adversarial.type} == {"probe-all"}


def _venv(tmp_path: Path) -> Path:
    """A fresh virtual environment that sees this interpreter's packages (ganzoo, torch) through a .pth file.

    Not ``--system-site-packages``: when the tests themselves run in a venv, that
    would expose the base interpreter's packages instead of this one's.
    """
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    dirs = [d for d in [*site.getsitepackages(), site.getusersitepackages()] if os.path.isdir(d)]
    # addsitedir also runs those directories' .pth files: editable installs (ganzoo itself) keep working.
    Path(purelib, "_parent_site.pth").write_text("".join(f"import site; site.addsitedir({d!r})\n" for d in dirs))
    return python


def test_scaffold_end_to_end_in_a_fresh_environment(tmp_path: Path) -> None:
    """One package of every kind: pip install -e, discovered by entry point, its own tests pass, its spec trains.

    One install, one run of its tests and one training run for all kinds, so the test costs about what a
    single-kind one did; the in-process tests above cover each kind on its own.
    """
    root = new_plugin("e2e_gan", tmp_path / "e2e-gan", ALL_KINDS)
    python = _venv(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1", "COLUMNS": "200"}
    env.pop("PYTHONPATH", None)

    def run(*args: str, cwd: Path = tmp_path) -> str:
        proc = subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    run("-m", "pip", "install", "-q", "--no-deps", "-e", str(root))
    shown = run("-m", "ganzoo", "show", "e2e-gan")
    for what in ("model (generator)", "model (discriminator)", "loss (adversarial)", "dataset", "metric", "task"):
        assert f"e2e-gan  {what}" in shown and "from plugin ganzoo_e2e_gan" in shown, what
    # plugin_loads, 6 components (generator, discriminator, loss, dataset, metric, task), the tiny spec
    assert "8 passed" in run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", cwd=root)
    out = tmp_path / "run"
    run("-m", "ganzoo", "train", str(root / "specs" / "e2e-gan.yaml"), "--set", "train.steps=2", "--set", "train.batch_size=8",
        "--set", "data.params.size=16", "--set", "eval.metrics=[{type: e2e-gan, params: {n: 16}}]", "--out", str(out))
    assert (out / "generator.safetensors").is_file()
    assert "e2e_gan_n16" in (out / "eval.json").read_text()  # the plugin's metric scored the plugin's task's samples
