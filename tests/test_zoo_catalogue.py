"""The registry specs ship with the package and can be named by their registry name."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.zoo import catalogue, resolve_spec, resolve_sweep, spec_names

REPO = Path(__file__).resolve().parents[1]


def test_the_catalogue_is_the_registry_folder() -> None:
    assert catalogue().resolve() == (REPO / "registry").resolve()
    assert set(spec_names()) == {p.stem for p in (REPO / "registry").glob("*.yaml")}
    assert "dcgan-digits" in spec_names()


def test_names_resolve_and_paths_stay_paths(tmp_path: Path) -> None:
    assert resolve_spec("dcgan-digits").resolve() == (REPO / "registry" / "dcgan-digits.yaml").resolve()
    assert resolve_sweep("digits-objectives").name == "digits-objectives.yaml"
    assert resolve_spec("nope") == Path("nope")  # not a registry name: left for the file error to name
    assert resolve_spec("dir/dcgan-digits") == Path("dir/dcgan-digits")
    own = tmp_path / "dcgan-digits"
    own.write_text("name: mine\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert resolve_spec("dcgan-digits") == Path("dcgan-digits")  # a file in the working directory wins
    finally:
        os.chdir(cwd)


def test_validate_a_registry_name_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "dcgan-digits", "--set", "train.steps=20"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("dcgan-digits: ok") or "dcgan-digits" in result.output


def test_a_built_wheel_carries_the_catalogue(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO), "-w", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("ganzoo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in spec_names():
        assert f"ganzoo/zoo/specs/{spec}.yaml" in names, spec
    assert "ganzoo/zoo/specs/sweeps/digits-objectives.yaml" in names


def test_a_sweep_can_name_its_base_by_registry_name(tmp_path: Path) -> None:
    from ganzoo.compare.sweep import expand_sweep, load_sweep
    from ganzoo.plugin.registry import load_registries

    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: s\nbase: dcgan-digits\nseeds: [0]\nvariants:\n  vanilla: {}\n  lsgan: {spec: lsgan}\n")
    runs = expand_sweep(load_sweep(sweep), load_registries(), tmp_path)
    assert [r.spec.losses.adversarial.type for r in runs] == ["non-saturating", "least-squares"]


def test_list_never_cuts_a_name_when_piped() -> None:
    result = CliRunner().invoke(cli, ["list", "losses"])
    assert result.exit_code == 0
    names = [line.split()[1] for line in result.output.splitlines() if line.startswith("loss ")]
    assert "relativistic-average" in names and "gradient-penalty" in names
