"""``ganzoo list``, ``show``, ``schema`` and ``plugins``: what is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ganzoo.cli.common import EXIT_SPEC, console, fail, handle_errors, registries, warn

__all__ = ["list_cmd", "plugins", "schema", "show"]


@click.command(name="list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False, default="*")
@click.option("--json", "as_json", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write every component with its params schema as JSON to this file ('-': stdout).")
@handle_errors
def list_cmd(kind: str | None, pattern: str, as_json: str | None) -> None:
    """List registered components, optionally of one KIND (models, losses, datasets, metrics, tasks, launchers).

    \b
    Examples:
      ganzoo list
      ganzoo list models 'dc*'
      ganzoo list --json registry/components.json      # the committed catalogue
    """
    from rich.table import Table

    from ganzoo.api import component_catalog, list_components

    reg = registries()
    if as_json is not None:
        catalog = component_catalog(reg)
        keep = {(e.kind, e.name) for e in list_components(kind, pattern, registries=reg)}
        catalog["components"] = [c for c in catalog["components"] if (c["kind"], c["name"]) in keep]
        text = json.dumps(catalog, indent=2) + "\n"
        if as_json == "-":
            click.echo(text, nl=False)
        else:
            Path(as_json).write_text(text)
        return
    entries = sorted(list_components(kind, pattern, registries=reg), key=lambda e: (e.kind, e.name))
    rows = [(e.kind, e.name, getattr(e, "role", None) or getattr(e, "loss_kind", None) or "", e.plugin, e.description) for e in entries]
    out = console()
    # Names are what users type: never cut them. A table needs room for the widest name, kind,
    # role and plugin plus some description; narrower (or piped) output gets one plain line each.
    fixed = sum(max([len(r[i]) for r in rows] + [len(h)]) for i, h in enumerate(("kind", "name", "role", "plugin"))) + 13
    if not out.is_terminal or out.width < fixed + 20:
        for k, name, role, plugin, description in rows:
            click.echo("  ".join(x for x in (k, name, f"({role})" if role else "", f"[{plugin}]", description) if x))
        return
    table = Table(title=f"ganzoo components{f' ({kind})' if kind else ''}")
    for col in ("kind", "name", "role", "plugin"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)


@click.command()
@click.argument("name")
@click.option("--kind", help="Component kind, when NAME is ambiguous.")
@handle_errors
def show(name: str, kind: str | None) -> None:
    """Show a component's parameters with types, defaults and descriptions.

    \b
    Example:
      ganzoo show dcgan
    """
    from rich.table import Table

    from ganzoo.plugin.registry import suggest

    reg = registries()
    matches = [e for e in reg.all_entries() if e.name == name and (kind is None or e.kind == kind.rstrip("s"))]
    if not matches:
        # A name two plugins register is disabled; a plugin that failed to load may be the one that has it.
        kinds = [k for k in reg.by_kind if kind is None or k == kind.rstrip("s")] or list(reg.by_kind)
        conflicted = [k for k in kinds if reg[k].conflict(name)]
        why = reg[(conflicted or kinds)[0]].why_missing(name)
        near = "" if conflicted else suggest(name, sorted({e.name for e in reg.all_entries()}))
        fail(f"no component named {name!r}{why}.{near}", EXIT_SPEC)
    out = console()
    for e in matches:
        role = getattr(e, "role", None) or getattr(e, "loss_kind", None)
        out.print(f"[bold]{e.name}[/bold]  {e.kind}{f' ({role})' if role else ''}  from plugin [cyan]{e.plugin}[/cyan]")
        if e.description:
            out.print(f"  {e.description}")
        table = Table(show_header=True)
        for col in ("param", "type", "default", "description"):
            table.add_column(col, overflow="fold")
        for fname, field in e.params.model_fields.items():
            default = "(required)" if field.is_required() else repr(field.get_default(call_default_factory=True))
            table.add_row(fname, _type_name(field.annotation), default, field.description or "")
        out.print(table if e.params.model_fields else "  (no parameters)")


def _type_name(ann: Any) -> str:
    return getattr(ann, "__name__", None) or str(ann).replace("typing.", "")


@click.command()
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@handle_errors
def schema(out: str | None) -> None:
    """Print the JSON Schema of run specs, covering every installed component.

    \b
    Example:
      ganzoo schema --out registry/ganzoo.schema.json
    """
    from ganzoo.spec.model import json_schema

    text = json.dumps(json_schema(registries()), indent=2, sort_keys=True) + "\n"
    if out:
        Path(out).write_text(text)
    else:
        click.echo(text, nl=False)


@click.command()
@handle_errors
def plugins() -> None:
    """List loaded, failed and disabled plugins, and component names that plugins register twice.

    \b
    Example:
      GANZOO_DISABLE_PLUGINS=ganzoo_dcgan ganzoo plugins
    """
    from rich.table import Table

    from ganzoo.plugin.manager import get_plugin_manager
    from ganzoo.plugin.registry import collect

    pm = get_plugin_manager()
    reg = collect(pm)
    report = reg.report
    for conflict in report.conflicts:
        warn(conflict.describe())
    counts: dict[str, int] = {}
    for e in reg.all_entries():
        counts[e.plugin] = counts.get(e.plugin, 0) + 1
    table = Table(title="ganzoo plugins")
    for col in ("plugin", "status", "distribution", "components / error"):
        table.add_column(col, overflow="fold")
    for p in report.loaded:
        failed = [f for f in report.failed if f.name == p.name]
        conflicts = [c for c in report.conflicts if p.name in c.plugins]
        status = "[red]partly failed[/red]" if failed else "[yellow]conflict[/yellow]" if conflicts else "[green]loaded[/green]"
        detail = f"{counts.get(p.name, 0)} components" + "".join(f"; {f.error}" for f in failed)
        detail += "".join(f"; conflict: {c.describe()}" for c in conflicts)
        table.add_row(p.name, status, f"{p.distribution} {p.version}", detail)
    loaded_names = {p.name for p in report.loaded}
    for f in report.failed:
        if f.name not in loaded_names:
            table.add_row(f.name, f"[red]failed ({f.stage})[/red]", f.distribution, f.error)
    for name in report.disabled:
        table.add_row(name, "[yellow]disabled[/yellow]", "", "GANZOO_DISABLE_PLUGINS")
    console().print(table)
