"""What every ``ganzoo`` command shares: the error policy, the console, the registries."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from ganzoo.errors import EXIT_INPUT, GanzooError

__all__ = ["DEBUG_META", "EXIT_SPEC", "console", "debug_enabled", "fail", "handle_errors", "registries", "report_error", "warn"]

EXIT_SPEC = EXIT_INPUT  # a bad spec or bad arguments, like click's usage errors
DEBUG_META = "ganzoo.debug"  # set in click's shared context meta by ``ganzoo --debug``


def debug_enabled() -> bool:
    """``ganzoo --debug`` or ``GANZOO_DEBUG=1``: print the traceback of every error, GanzooErrors included."""
    ctx = click.get_current_context(silent=True)
    return bool(os.environ.get("GANZOO_DEBUG")) or bool(ctx is not None and ctx.meta.get(DEBUG_META))


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr."""
    click.echo(f"warning: {message}", err=True)


def console() -> Any:
    from rich.console import Console

    return Console(stderr=False, soft_wrap=False)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The CLI's error policy around a command.

    A :class:`ganzoo.GanzooError` (bad input, or an expected failure such as
    missing weights) becomes one message and its ``exit_code``; a spec error
    prints its whole report, an interrupted run its one line and 128 + the
    signal number. click's usage errors pass through (exit 2), Ctrl-C exits 130.
    Anything else is a bug in ganzoo or a plugin: it is not caught, so Python
    prints its traceback and exits 1. ``GANZOO_DEBUG=1`` prints the traceback of
    a GanzooError too, as does ``ganzoo --debug``.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise  # usage errors: click prints them and exits 2
        except GanzooError as exc:
            report_error(exc)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def report_error(exc: GanzooError) -> None:
    """Print a GanzooError as the CLI does: ``error: MESSAGE`` (spec reports and interruptions as they are)."""
    from ganzoo.spec.errors import SpecError

    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    run = sys.modules.get("ganzoo.engine.run")  # only a run raises RunInterrupted: no torch import just to check
    if isinstance(exc, SpecError) or (run is not None and isinstance(exc, run.RunInterrupted)):
        click.echo(str(exc), err=True)
    else:
        click.echo(f"error: {exc}", err=True)


def registries() -> Any:
    """The installed components; a name that several plugins register is disabled with a warning."""
    from ganzoo.plugin.registry import load_registries

    reg = load_registries()
    for conflict in reg.report.conflicts:
        warn(conflict.describe())
    return reg
