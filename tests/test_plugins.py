"""Plugin discovery through entry points, conflicts, broken plugins, blocking, hooks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import RegistryError, collect


def install_dist(root: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """Lay out an installed distribution (dist-info + modules) in ``root``, as pip --target would."""
    # Installers normalise the directory name (PEP 427); importlib.metadata relies on it.
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = ["[ganzoo]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, src in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(src))


GOOD_PLUGIN = """
    from pydantic import Field
    from ganzoo import DatasetEntry, Params, hookimpl

    class P(Params):
        n: int = Field(4, gt=0, description="samples")

    def build(params):
        import torch
        from ganzoo import TensorImageDataset
        return TensorImageDataset(torch.zeros(params.n, 1, 16, 16))

    @hookimpl
    def ganzoo_datasets():
        return [DatasetEntry(name="{name}", build=build, params=P, description="zeros")]
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_third_party_plugin_is_discovered(site, tiny_spec):
    install_dist(site, "ganzoo-zeros", {"zeros_plugin": GOOD_PLUGIN.replace("{name}", "zeros")}, {"zeros": "zeros_plugin"})
    reg = collect(get_plugin_manager())
    entry = reg["dataset"].get("zeros")
    assert entry.plugin == "zeros"
    assert any(p.name == "zeros" and p.distribution == "ganzoo-zeros" for p in reg.report.loaded)
    # built-ins are found the same way
    assert reg["model"].get("dcgan", "generator").plugin == "ganzoo_dcgan"
    # its params are part of the spec model
    from ganzoo.spec.model import SpecError, validate_spec

    tiny_spec["data"] = {"type": "zeros", "params": {"n": 0}}
    with pytest.raises(SpecError, match=r"data.params.n \(type=zeros\)"):
        validate_spec(tiny_spec, reg)


def test_name_conflict_names_both_plugins(site):
    install_dist(site, "ganzoo-dup", {"dup_plugin": GOOD_PLUGIN.replace("{name}", "digits")}, {"dup": "dup_plugin"})
    reg = collect(get_plugin_manager())  # a conflict disables the name; it does not stop discovery
    [conflict] = reg.report.conflicts
    assert (conflict.kind, conflict.name, set(conflict.plugins)) == ("dataset", "digits", {"ganzoo_data", "dup"})
    assert "digits" not in reg["dataset"].names() and "faces" in reg["dataset"].names()
    with pytest.raises(RegistryError) as ei:
        reg["dataset"].get("digits")
    msg = str(ei.value)
    assert "'digits'" in msg and "'ganzoo_data'" in msg and "'dup'" in msg


def test_broken_import_is_reported_and_skipped(site):
    install_dist(site, "ganzoo-broken", {"broken_plugin": "import nonexistent_module_xyz\n"}, {"broken": "broken_plugin"})
    reg = collect(get_plugin_manager())
    failed = {f.name: f for f in reg.report.failed}
    assert failed["broken"].stage == "import" and "nonexistent_module_xyz" in failed["broken"].error
    assert failed["broken"].distribution == "ganzoo-broken"
    assert "digits" in reg["dataset"].names()  # the rest keep working


def test_raising_registration_hook_is_isolated(site):
    src = "from ganzoo import hookimpl\n@hookimpl\ndef ganzoo_models():\n    raise RuntimeError('boom')\n"
    install_dist(site, "ganzoo-raise", {"raise_plugin": src}, {"raiser": "raise_plugin"})
    reg = collect(get_plugin_manager())
    assert any(f.name == "raiser" and "boom" in f.error for f in reg.report.failed)
    assert reg["model"].get("dcgan", "generator")


def test_misspelt_hook_fails_loudly(site):
    src = "from ganzoo import hookimpl\n@hookimpl\ndef ganzoo_model():\n    return []\n"
    install_dist(site, "ganzoo-typo", {"typo_plugin": src}, {"typo": "typo_plugin"})
    pm = get_plugin_manager()
    fail = next(f for f in pm.ganzoo_report.failed if f.name == "typo")
    assert fail.stage == "register" and "ganzoo_model" in fail.error


def test_duplicate_entry_point_name_is_detected(site):
    install_dist(site, "ganzoo-a", {"a_plugin": GOOD_PLUGIN.replace("{name}", "aa")}, {"samename": "a_plugin"})
    install_dist(site, "ganzoo-b", {"b_plugin": GOOD_PLUGIN.replace("{name}", "bb")}, {"samename": "b_plugin"})
    pm = get_plugin_manager()
    assert any(f.stage == "entry-point" and "samename" in f.error for f in pm.ganzoo_report.failed)


def test_disable_plugins_env(monkeypatch):
    monkeypatch.setenv("GANZOO_DISABLE_PLUGINS", "ganzoo_dcgan,ganzoo_cdcgan,ganzoo_timm")
    reg = collect(get_plugin_manager())
    assert {"ganzoo_dcgan", "ganzoo_cdcgan", "ganzoo_timm"} <= set(reg.report.disabled)
    assert not {"dcgan", "cdcgan", "projection", "timm"} & set(reg["model"].names())
    assert not any(e.plugin in reg.report.disabled for e in reg.all_entries())  # the others still load


def test_trace_env_prints_failures(site, monkeypatch, capsys):
    monkeypatch.setenv("GANZOO_TRACE_PLUGINS", "1")
    install_dist(site, "ganzoo-broken2", {"broken2": "raise ImportError('nope')\n"}, {"broken2": "broken2"})
    get_plugin_manager()
    assert "broken2" in capsys.readouterr().err


def test_cli_plugins_lists_failed(site, cli_run):
    install_dist(site, "ganzoo-broken3", {"broken3": "import nonexistent_abc\n"}, {"broken3": "broken3"})
    out = cli_run("plugins").output
    assert "broken3" in out and "failed" in out and "ganzoo_dcgan" in out


def test_cli_list_and_show(cli_run):
    out = cli_run("list", "models").output
    assert "dcgan" in out and "ganzoo_dcgan" in out
    out = cli_run("show", "dcgan").output
    assert "latent_dim" in out and "spectral_norm" in out and "ganzoo_dcgan" in out
    res = cli_run("show", "dcgn")
    assert res.exit_code == 2 and "Did you mean 'dcgan'" in res.output


def test_register_commands_hook(cli_run):
    import click

    from ganzoo import hookimpl
    from ganzoo.cli import cli

    class Plugin:
        @hookimpl
        def ganzoo_register_commands(self, cli: click.Group) -> None:
            @cli.command(name="hello-test")
            def hello() -> None:
                click.echo("hello from a plugin")

    pm = get_plugin_manager(entry_points=False, extra=[("hello", Plugin())])
    pm.hook.ganzoo_register_commands(cli=cli)
    try:
        assert "hello from a plugin" in cli_run("hello-test").output
    finally:
        cli.commands.pop("hello-test", None)


def test_plugin_passed_again_explicitly_stays_registered():
    # An installed plugin also passed through extra= (a test of an installed package)
    # must neither fail nor unregister the entry-point copy.
    import ganzoo_dcgan

    from ganzoo.plugin.manager import get_plugin_manager
    from ganzoo.plugin.registry import collect

    pm = get_plugin_manager(extra=[("again", ganzoo_dcgan)])
    assert pm.is_registered(ganzoo_dcgan)
    assert not pm.ganzoo_report.failed
    assert "dcgan" in {e.name for e in collect(pm)["model"]}
