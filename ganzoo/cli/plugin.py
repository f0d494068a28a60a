"""``ganzoo plugin new``: scaffold a plugin package."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.cli.common import handle_errors

__all__ = ["plugin"]


@click.group()
def plugin() -> None:
    """Write plugins (`ganzoo plugins` lists the installed ones)."""


@plugin.command(name="new", epilog="\b\nExample:\n  ganzoo plugin new my_gan && cd my-gan && python -m pip install -e '.[test]' && python -m pytest")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), help="Where to write it (default: ./DIST-NAME).")
@handle_errors
def new(name: str, directory: Path | None) -> None:
    """Write a plugin package NAME: a generator and a discriminator, their params, tests and a spec.

    It registers through a `ganzoo` entry point exactly as the built-in plugins do,
    and its tests use ganzoo.testing (loading, params, a 2-step run per component,
    a tiny spec).
    """
    from ganzoo.cli.scaffold import ScaffoldError, new_plugin, plugin_names

    try:
        root = new_plugin(name, directory)
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from None
    names = plugin_names(name)
    click.echo(f"wrote {root}/ (package {names['package']}, component {names['component']!r})")
    click.echo("next:")
    click.echo(f"  cd {root} && python -m pip install -e '.[test]'")
    click.echo(f"  ganzoo list model {names['component']}")
    click.echo("  python -m pytest")
    click.echo(f"  ganzoo train specs/{names['component']}-digits.yaml --out runs/{names['component']}-digits")
