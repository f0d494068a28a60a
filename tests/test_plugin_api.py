"""ganzoo.PLUGIN_API and require_plugin_api: a plugin states the API it needs, a mismatch is a reported plugin failure."""

from __future__ import annotations

import pytest

import ganzoo
from ganzoo.plugin import api_version
from ganzoo.plugin.api_version import parse_api
from ganzoo.plugin.manager import get_plugin_manager
from tests.test_plugins import install_dist


def test_the_api_version_is_major_minor_and_public() -> None:
    assert ganzoo.PLUGIN_API == "1.1" and parse_api(ganzoo.PLUGIN_API) == (1, 1)
    assert "PLUGIN_API" in ganzoo.__all__ and "require_plugin_api" in ganzoo.__all__


@pytest.mark.parametrize("minimum", ["1.0", ">=1.0", " >= 1.0 ", "1", 1])
def test_a_satisfied_requirement_passes(minimum: str | int) -> None:
    ganzoo.require_plugin_api(minimum, "ganzoo-fine")  # raises on a mismatch


def test_a_newer_api_is_required_with_a_clear_message() -> None:
    with pytest.raises(ganzoo.PluginError) as ei:
        ganzoo.require_plugin_api("2", "ganzoo-my-gan")
    msg = str(ei.value)
    assert msg.startswith("plugin ganzoo-my-gan needs ganzoo plugin API >=2.0, this ganzoo")
    assert "provides 1.1; upgrade ganzoo" in msg and "pin ganzoo-my-gan to an older release" in msg
    with pytest.raises(ganzoo.PluginError, match=r"needs ganzoo plugin API >=1\.7"):  # a later minor version is needed too
        ganzoo.require_plugin_api("1.7", "ganzoo-my-gan")


def test_an_older_major_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 1.x plugin on a ganzoo whose API 2.0 removed or changed what 1.x had: it must not load half-working.
    monkeypatch.setattr(api_version, "PLUGIN_API", "2.1")
    with pytest.raises(ganzoo.PluginError, match=r"needs ganzoo plugin API >=1\.0,<2, .* provides 2\.1; upgrade ganzoo-old to a release"):
        api_version.require_plugin_api("1.0", "ganzoo-old")
    api_version.require_plugin_api("2.1", "ganzoo-new")


@pytest.mark.parametrize("bad", ["one", "1.x", "<2", "", True])
def test_a_malformed_requirement_is_a_bug_in_the_plugin(bad: object) -> None:
    with pytest.raises(ValueError, match=r"not of the form 'MAJOR\.MINOR'") as ei:
        ganzoo.require_plugin_api(bad, "ganzoo-typo")  # type: ignore[arg-type]
    assert not isinstance(ei.value, ganzoo.GanzooError)


FUTURE_PLUGIN = """
    from ganzoo import hookimpl, require_plugin_api

    require_plugin_api(">=2", "ganzoo-future")

    @hookimpl
    def ganzoo_models():
        return []
"""


def test_a_plugin_needing_a_newer_api_is_reported_as_failed(tmp_path, monkeypatch, cli_run) -> None:  # type: ignore[no-untyped-def]
    """No manager change: the PluginError at import is isolated and reported like any import failure."""
    monkeypatch.syspath_prepend(str(tmp_path))
    install_dist(tmp_path, "ganzoo-future", {"ganzoo_future": FUTURE_PLUGIN}, {"ganzoo_future": "ganzoo_future"})
    report = get_plugin_manager().ganzoo_report
    (failure,) = [f for f in report.failed if f.name == "ganzoo_future"]
    assert failure.stage == "import" and failure.distribution == "ganzoo-future"
    assert failure.error.startswith("PluginError: plugin ganzoo-future needs ganzoo plugin API >=2.0")
    assert "ganzoo_dcgan" in {p.name for p in report.loaded}  # everything else keeps working
    monkeypatch.setenv("COLUMNS", "400")  # one table row per plugin, the message unfolded
    out = cli_run("plugins").output
    (row,) = [line for line in out.splitlines() if "ganzoo_future" in line]
    assert "failed (import)" in row and "needs ganzoo plugin API >=2.0, this ganzoo" in row and "upgrade ganzoo" in row
