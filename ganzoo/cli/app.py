"""The ``ganzoo`` command group: built-in commands, then the plugins' ones."""

from __future__ import annotations

from typing import Any

import click

from ganzoo.cli.common import DEBUG_META, handle_errors, warn
from ganzoo.cli.compare import compare
from ganzoo.cli.inference import eval_cmd, sample
from ganzoo.cli.inspect import list_cmd, plugins, schema, show
from ganzoo.cli.plugin import plugin
from ganzoo.cli.run import train, validate

__all__ = ["cli", "main", "register_plugin_commands"]


class _Group(click.Group):
    """The ``ganzoo`` group: every subcommand, a plugin's too, runs under :func:`handle_errors`."""

    def invoke(self, ctx: click.Context) -> object:
        return handle_errors(super().invoke)(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganzoo")
@click.option("--debug", is_flag=True, help="Print the traceback of every error, the original one behind a plugin's "
              "failure included (as GANZOO_DEBUG=1 does).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """ganzoo: a plugin-based GAN zoo. A run is one YAML spec.

    \b
    Example:
      ganzoo train registry/dcgan-digits.yaml --set train.steps=200
    """
    ctx.meta[DEBUG_META] = debug  # meta is shared with the subcommand's context, where errors are reported


for _command in (train, validate, list_cmd, show, schema, plugins, sample, eval_cmd, compare, plugin):
    cli.add_command(_command)


def register_plugin_commands(group: click.Group, pm: Any = None) -> list[str]:
    """Call each plugin's ``ganzoo_register_commands`` in isolation.

    pluggy would call every implementation in one hook call, so one raising
    plugin would cost every plugin its commands. Here a plugin that raises
    (``sys.exit`` included; Ctrl-C still stops) loses only its own commands:
    whatever it added before raising is taken back.

    Args:
        group: The command group to add to (``ganzoo``'s ``cli``).
        pm: A plugin manager; default: a fresh one discovering the installed plugins.

    Returns:
        One message per plugin that failed, naming it and the error.
    """
    from ganzoo.plugin.manager import get_plugin_manager

    pm = pm if pm is not None else get_plugin_manager()
    problems = []
    for impl in pm.hook.ganzoo_register_commands.get_hookimpls():
        before = dict(group.commands)
        try:
            impl.function(*[{"cli": group}[arg] for arg in impl.argnames])
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - one plugin's commands must not take the others (or the CLI) down
            group.commands = before
            problems.append(f"plugin {impl.plugin_name!r} failed to add its commands ({type(exc).__name__}: {exc}); "
                            "they are unavailable")
    return problems


def main() -> None:
    """Console-script entry point: adds plugin commands, then runs the group."""
    try:
        problems = register_plugin_commands(cli)
    except Exception as exc:  # noqa: BLE001 - a bug in discovery itself must not hide the built-in commands
        problems = [f"plugin commands could not be added: {type(exc).__name__}: {exc}"]
    for problem in problems:
        warn(problem)
    cli(prog_name="ganzoo")
