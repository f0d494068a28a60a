"""The ``ganzoo`` command line (click): one module per command group, errors as one message."""

from __future__ import annotations

from ganzoo.cli.app import cli, main

__all__ = ["cli", "main"]
