"""``ganzoo plugin new``: the generated package installs, registers, passes its tests and trains."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ganzoo.cli.scaffold import ScaffoldError, new_plugin, plugin_names
from ganzoo.spec.model import load_spec
from ganzoo.testing import registries_with


def test_names():
    assert plugin_names("ganzoo_my_gan") == {"package": "ganzoo_my_gan", "dist": "ganzoo-my-gan", "component": "my-gan"}
    assert plugin_names("My-GAN")["package"] == "my_gan"
    for bad in ("1gan", "class", "my gan", "ganzoo", ""):
        with pytest.raises(ScaffoldError):
            plugin_names(bad)


def test_refuses_a_non_empty_directory(tmp_path, cli_run):
    (tmp_path / "keep.txt").write_text("x")
    result = cli_run("plugin", "new", "my_gan", "--dir", tmp_path)
    assert result.exit_code == 2 and "not empty" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert cli_run("plugin", "new", "9lives", "--dir", tmp_path / "x").exit_code == 2


def test_generated_package_registers_and_its_spec_validates(tmp_path, monkeypatch):
    root = new_plugin("scaffold_probe", tmp_path / "pkg")
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["ganzoo"] == {"scaffold_probe": "scaffold_probe"}
    monkeypatch.syspath_prepend(str(root / "src"))
    import scaffold_probe

    reg = registries_with(scaffold_probe)
    spec = load_spec(root / "specs" / "scaffold-probe-digits.yaml", reg)
    assert spec.generator.type == "scaffold-probe" and spec.discriminator.type == "scaffold-probe"  # type: ignore[attr-defined]


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


def test_scaffold_end_to_end_in_a_fresh_environment(tmp_path):
    """pip install -e, discovered by entry point, its own tests pass, its spec trains."""
    root = new_plugin("e2e_gan", tmp_path / "e2e-gan")
    python = _venv(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)

    def run(*args: str, cwd: Path = tmp_path) -> str:
        proc = subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    run("-m", "pip", "install", "-q", "--no-deps", "-e", str(root))
    assert "e2e-gan" in run("-m", "ganzoo", "list", "model", "e2e-gan")
    assert "4 passed" in run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
    out = tmp_path / "run"
    run("-m", "ganzoo", "train", str(root / "specs" / "e2e-gan-digits.yaml"), "--set", "train.steps=2", "--set", "eval.metrics=[]",
        "--set", "train.batch_size=8", "--out", str(out))
    assert (out / "generator.safetensors").is_file()
