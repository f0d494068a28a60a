"""What every ``ganzoo`` command shares: the error policy, the console, the registries."""

from __future__ import annotations

import os
import sys
from functools import wraps
from typing import Any, Callable

import click

__all__ = ["EXIT_SPEC", "console", "fail", "handle_errors", "registries"]

EXIT_SPEC = 2  # a bad spec or bad arguments, like click's usage errors


def console() -> Any:
    from rich.console import Console

    return Console(stderr=False, soft_wrap=False)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one message and an exit status (set GANZOO_DEBUG=1 for tracebacks)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ganzoo.plugin.registry import RegistryError
        from ganzoo.spec.model import SpecError

        if os.environ.get("GANZOO_DEBUG"):
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise  # usage errors: click prints them and exits 2
        except SpecError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_SPEC)
        except RegistryError as exc:
            fail(str(exc), EXIT_SPEC)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the CLI's promise: a message, not a traceback
            from ganzoo.engine.run import RunInterrupted

            if isinstance(exc, RunInterrupted):
                click.echo(str(exc), err=True)
                sys.exit(128 + exc.signum)
            known = _known_errors()
            if isinstance(exc, known):
                fail(str(exc))
            fail(f"{type(exc).__name__}: {exc} (set GANZOO_DEBUG=1 for the traceback)")

    return wrapper


def _known_errors() -> tuple[type[BaseException], ...]:
    from ganzoo.checkpoint import CheckpointError
    from ganzoo.data import EmptyDatasetError
    from ganzoo.engine.device import PrecisionError
    from ganzoo.engine.run import NonFiniteError
    from ganzoo.evaluation import NoPairsError
    from ganzoo.rundir import RunDirError
    from ganzoo.weights import WeightsError

    return (WeightsError, NoPairsError, CheckpointError, EmptyDatasetError, RunDirError, PrecisionError, NonFiniteError, FileNotFoundError, RuntimeError, ValueError)


def registries() -> Any:
    from ganzoo.plugin.registry import load_registries

    return load_registries()
