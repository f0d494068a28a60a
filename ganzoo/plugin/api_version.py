"""The plugin API version: what a plugin may rely on, and how it says what it needs.

``PLUGIN_API`` is ``"MAJOR.MINOR"``. The minor part grows when ganzoo adds to
the plugin API (a hook, a context or protocol member, a public name, an
optional attribute the engine reads), so a plugin written for 1.2 works on
1.3; the major part grows when something a plugin may use is removed or
changes meaning (a hook's arguments, a required protocol member), so a plugin
written for 1.x does not load on 2.0. docs/plugins.md ("Versions and
publishing") says the same for plugin authors.

This module imports nothing heavy: a plugin calls :func:`require_plugin_api`
first thing in its ``__init__``, before ``ganzoo list`` has built anything.
"""

from __future__ import annotations

import re

from ganzoo.errors import PluginError

__all__ = ["PLUGIN_API", "parse_api", "require_plugin_api"]

# 1.1 (this release) added: the ganzoo_launchers hook and LauncherEntry, the public modules
# ganzoo.compare.launcher and ganzoo.compare.pool, the TruncatableGenerator and MappedGenerator
# protocols, Latents' mapping/synthesis split, ganzoo.upscale (Upscaler) and ganzoo.inpaint (Inpainter), with
# their modules ganzoo.upscaling and ganzoo.inpainting_api public.
PLUGIN_API = "1.1"

_VERSION = re.compile(r"\s*(?:>=)?\s*(\d+)(?:\.(\d+))?\s*")


def parse_api(version: str | int) -> tuple[int, int]:
    """``(major, minor)`` of ``"1.2"``, ``">=1.2"``, ``"1"`` or ``1``.

    Raises:
        ValueError: ``version`` is not one of those forms (a bug in the plugin, so not a GanzooError).
    """
    match = _VERSION.fullmatch(str(version)) if not isinstance(version, bool) else None
    if match is None:
        raise ValueError(f"plugin API version {version!r} is not of the form 'MAJOR.MINOR' (e.g. '1.0' or '>=1.0')")
    return int(match.group(1)), int(match.group(2) or 0)


def require_plugin_api(minimum: str | int, plugin: str) -> None:
    """Fail unless this ganzoo provides plugin API ``minimum`` or a later minor version of the same major one.

    A plugin calls it at import, before it uses anything else of ganzoo, so
    that an incompatible ganzoo is reported as one clear line by ``ganzoo
    plugins`` (the plugin is skipped like any plugin that fails to import)
    instead of a missing name or a wrong argument later on.

    Args:
        minimum: The oldest plugin API the plugin works with: ``"1.2"`` (the same
            as ``">=1.2"``: any 1.x from 1.2 on) or an int major version.
        plugin: The plugin's distribution name (what users ``pip install``), for the message.

    Raises:
        PluginError: This ganzoo's plugin API is older than ``minimum``, or of another major version.
        ValueError: ``minimum`` is malformed.
    """
    need, have = parse_api(minimum), parse_api(PLUGIN_API)
    if need[0] == have[0] and need[1] <= have[1]:
        return
    from ganzoo import __version__

    wanted = f">={need[0]}.{need[1]}" + (f",<{need[0] + 1}" if need[0] < have[0] else "")
    if need > have:
        fix = f"upgrade ganzoo (pip install -U ganzoo), or pin {plugin} to an older release made for plugin API {PLUGIN_API}"
    else:  # written for an older major version: that API is gone
        fix = f"upgrade {plugin} to a release made for plugin API {have[0]}.x, or pin ganzoo to a release with plugin API {need[0]}.x"
    raise PluginError(f"plugin {plugin} needs ganzoo plugin API {wanted}, this ganzoo ({__version__}) provides {PLUGIN_API}; {fix}")
