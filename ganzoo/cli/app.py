"""The ``ganzoo`` command group: built-in commands, then the plugins' ones."""

from __future__ import annotations

import click

from ganzoo.cli.common import handle_errors
from ganzoo.cli.compare import compare
from ganzoo.cli.inference import eval_cmd, sample
from ganzoo.cli.inspect import list_cmd, plugins, schema, show
from ganzoo.cli.plugin import plugin
from ganzoo.cli.run import train, validate

__all__ = ["cli", "main"]


class _Group(click.Group):
    """The ``ganzoo`` group: every subcommand, a plugin's too, runs under :func:`handle_errors`."""

    def invoke(self, ctx: click.Context) -> object:
        return handle_errors(super().invoke)(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganzoo")
def cli() -> None:
    """ganzoo: a plugin-based GAN zoo. A run is one YAML spec.

    \b
    Example:
      ganzoo train registry/dcgan-digits.yaml --set train.steps=200
    """



for _command in (train, validate, list_cmd, show, schema, plugins, sample, eval_cmd, compare, plugin):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point: adds plugin commands, then runs the group."""
    try:
        from ganzoo.plugin.manager import get_plugin_manager

        get_plugin_manager().hook.ganzoo_register_commands(cli=cli)
    except Exception as exc:  # noqa: BLE001 - a plugin's command must not break the CLI
        click.echo(f"warning: a plugin failed to add commands: {exc}", err=True)
    cli(prog_name="ganzoo")
