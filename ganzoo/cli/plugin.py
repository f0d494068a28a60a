"""``ganzoo plugin new``: scaffold a plugin package."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.cli.common import handle_errors
from ganzoo.cli.scaffold import KINDS  # string templates only: cheap at start-up

__all__ = ["plugin"]


@click.group()
def plugin() -> None:
    """Write plugins (`ganzoo plugins` lists the installed ones)."""


_EXAMPLES = """\b
Examples:
  ganzoo plugin new my_gan && cd ganzoo-my-gan && python -m pip install -e '.[test]' && python -m pytest
  ganzoo plugin new my_gan --kind model --kind loss --kind dataset --kind metric --kind task"""


@plugin.command(name="new", epilog=_EXAMPLES)
@click.argument("name")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(list(KINDS)),
              help="Component kind to include (repeatable; default: model).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), help="Where to write it (default: ./ganzoo-NAME).")
@handle_errors
def new(name: str, kinds: tuple[str, ...], directory: Path | None) -> None:
    """Write a plugin package ganzoo_NAME with components of each --kind, their params, tests and a spec.

    It registers through a `ganzoo` entry point exactly as the built-in plugins do,
    states the plugin API it needs at import, and its tests use ganzoo.testing
    (loading, params, a 2-step run per component, a tiny spec).
    """
    from ganzoo.cli.scaffold import ScaffoldError, new_plugin, plugin_names

    try:
        root = new_plugin(name, directory, kinds or ("model",))
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from None
    names = plugin_names(name)
    click.echo(f"wrote {root}/ (package {names['package']}, components {names['component']!r}: {', '.join(kinds or ('model',))})")
    click.echo("next:")
    click.echo(f"  cd {root} && python -m pip install -e '.[test]'")
    click.echo(f"  ganzoo show {names['component']}")
    click.echo("  python -m pytest")
    click.echo(f"  ganzoo train specs/{names['component']}.yaml --out runs/{names['component']}")
