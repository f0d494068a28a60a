"""The ``ganzoo`` command line (click). Errors print one message, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import click

EXIT_SPEC = 2  # a bad spec or bad arguments, like click's usage errors


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False, soft_wrap=False)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one message and an exit status (set GANZOO_DEBUG=1 for tracebacks)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ganzoo.registry import RegistryError
        from ganzoo.spec import SpecError

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
            _fail(str(exc), EXIT_SPEC)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the CLI's promise: a message, not a traceback
            from ganzoo.train import RunInterrupted

            if isinstance(exc, RunInterrupted):
                click.echo(str(exc), err=True)
                sys.exit(128 + exc.signum)
            known = _known_errors()
            if isinstance(exc, known):
                _fail(str(exc))
            _fail(f"{type(exc).__name__}: {exc} (set GANZOO_DEBUG=1 for the traceback)")

    return wrapper


def _known_errors() -> tuple[type[BaseException], ...]:
    from ganzoo.checkpoint import CheckpointError
    from ganzoo.data import EmptyDatasetError
    from ganzoo.rundir import RunDirError
    from ganzoo.runtime import PrecisionError
    from ganzoo.evaluation import NoPairsError
    from ganzoo.train import NonFiniteError
    from ganzoo.weights import WeightsError

    return (WeightsError, NoPairsError, CheckpointError, EmptyDatasetError, RunDirError, PrecisionError, NonFiniteError, FileNotFoundError, RuntimeError, ValueError)


def _registries() -> Any:
    from ganzoo.registry import load_registries

    return load_registries()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganzoo")
def cli() -> None:
    """ganzoo: a plugin-based GAN zoo. A run is one YAML spec.

    \b
    Example:
      ganzoo train registry/dcgan-digits.yaml --set train.steps=200
    """


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (dotted path); repeatable.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/NNNNN-NAME).")
@click.option("--resume", type=click.Path(file_okay=False, exists=True), help="Continue this run directory from its latest checkpoint.")
@click.option("--allow-spec-change", is_flag=True, help="With --resume: allow changes beyond budget and cadence.")
@handle_errors
def train(spec: str | None, overrides: tuple[str, ...], out: str | None, resume: str | None, allow_spec_change: bool) -> None:
    """Train the model described by SPEC.

    With --resume the run continues from its latest checkpoint with its saved
    spec; SPEC may be omitted. --set (or a SPEC given with --resume) may change
    only the step budget and the logging, sampling, checkpoint and eval cadence.

    \b
    Examples:
      ganzoo train registry/dcgan-digits.yaml --set train.steps=20 --out runs/try
      ganzoo train --resume runs/try --set train.steps=40
    """
    from ganzoo.api import resume_spec, train as train_run
    from ganzoo.spec import load_spec

    reg = _registries()
    if resume:
        if out:
            raise click.UsageError("--out and --resume exclude each other: a resumed run stays in its directory")
        run_spec = resume_spec(resume, reg, list(overrides), spec_path=spec, allow_changes=allow_spec_change)
    elif spec is None:
        raise click.UsageError("give a SPEC file, or --resume RUN_DIR")
    else:
        run_spec = load_spec(spec, reg, list(overrides))
    run_dir = train_run(run_spec, out, registries=reg, resume=resume)
    click.echo(str(run_dir))


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value; repeatable.")
@handle_errors
def validate(spec: str, overrides: tuple[str, ...]) -> None:
    """Check SPEC against every installed component; exit 2 on errors.

    \b
    Example:
      ganzoo validate registry/dcgan-digits.yaml --set generator.params.width=32
    """
    from ganzoo.spec import load_spec, spec_hash

    s = load_spec(spec, _registries(), list(overrides))
    click.echo(f"{spec}: ok (task {s.task.type}, sha256 {spec_hash(s)[:12]})")  # type: ignore[attr-defined]


@cli.command(name="list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False, default="*")
@click.option("--json", "as_json", type=click.Path(dir_okay=False, allow_dash=True), help="Write every component with its params schema as JSON to this file ('-': stdout).")
@handle_errors
def list_cmd(kind: str | None, pattern: str, as_json: str | None) -> None:
    """List registered components, optionally of one KIND (models, losses, datasets, metrics, tasks).

    \b
    Examples:
      ganzoo list
      ganzoo list models 'dc*'
      ganzoo list --json registry/components.json      # the committed catalogue
    """
    from rich.table import Table

    from ganzoo.api import component_catalog, list_components

    reg = _registries()
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
    entries = list_components(kind, pattern, registries=reg)
    table = Table(title=f"ganzoo components{f' ({kind})' if kind else ''}")
    for col in ("kind", "name", "role", "plugin", "description"):
        table.add_column(col, overflow="fold")
    for e in sorted(entries, key=lambda e: (e.kind, e.name)):
        role = getattr(e, "role", None) or getattr(e, "loss_kind", None) or ""
        table.add_row(e.kind, e.name, role, e.plugin, e.description)
    _console().print(table)


@cli.command()
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

    from ganzoo.registry import suggest

    reg = _registries()
    matches = [e for e in reg.all_entries() if e.name == name and (kind is None or e.kind == kind.rstrip("s"))]
    if not matches:
        _fail(f"no component named {name!r}.{suggest(name, sorted({e.name for e in reg.all_entries()}))}", EXIT_SPEC)
    console = _console()
    for e in matches:
        role = getattr(e, "role", None) or getattr(e, "loss_kind", None)
        console.print(f"[bold]{e.name}[/bold]  {e.kind}{f' ({role})' if role else ''}  from plugin [cyan]{e.plugin}[/cyan]")
        if e.description:
            console.print(f"  {e.description}")
        table = Table(show_header=True)
        for col in ("param", "type", "default", "description"):
            table.add_column(col, overflow="fold")
        for fname, field in e.params.model_fields.items():
            default = "(required)" if field.is_required() else repr(field.get_default(call_default_factory=True))
            table.add_row(fname, _type_name(field.annotation), default, field.description or "")
        console.print(table if e.params.model_fields else "  (no parameters)")


def _type_name(ann: Any) -> str:
    return getattr(ann, "__name__", None) or str(ann).replace("typing.", "")


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@handle_errors
def schema(out: str | None) -> None:
    """Print the JSON Schema of run specs, covering every installed component.

    \b
    Example:
      ganzoo schema --out registry/ganzoo.schema.json
    """
    from ganzoo.spec import json_schema

    text = json.dumps(json_schema(_registries()), indent=2, sort_keys=True) + "\n"
    if out:
        Path(out).write_text(text)
    else:
        click.echo(text, nl=False)


@cli.command()
@handle_errors
def plugins() -> None:
    """List loaded, failed and disabled plugins.

    \b
    Example:
      GANZOO_DISABLE_PLUGINS=ganzoo_dcgan ganzoo plugins
    """
    from rich.table import Table

    from ganzoo.plugins import get_plugin_manager
    from ganzoo.registry import collect

    pm = get_plugin_manager()
    reg = collect(pm)
    report = reg.report
    counts: dict[str, int] = {}
    for e in reg.all_entries():
        counts[e.plugin] = counts.get(e.plugin, 0) + 1
    table = Table(title="ganzoo plugins")
    for col in ("plugin", "status", "distribution", "components / error"):
        table.add_column(col, overflow="fold")
    for p in report.loaded:
        failed = [f for f in report.failed if f.name == p.name]
        status = "[red]partly failed[/red]" if failed else "[green]loaded[/green]"
        detail = f"{counts.get(p.name, 0)} components" + "".join(f"; {f.error}" for f in failed)
        table.add_row(p.name, status, f"{p.distribution} {p.version}", detail)
    loaded_names = {p.name for p in report.loaded}
    for f in report.failed:
        if f.name not in loaded_names:
            table.add_row(f.name, f"[red]failed ({f.stage})[/red]", f.distribution, f.error)
    for name in report.disabled:
        table.add_row(name, "[yellow]disabled[/yellow]", "", "GANZOO_DISABLE_PLUGINS")
    _console().print(table)


@cli.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--n", "n", default=64, show_default=True, type=click.IntRange(1, 100_000), help="Number of samples.")
@click.option("--out", required=True, type=click.Path(), help="A .png file for a grid, or a directory (ending in /) for one PNG per sample.")
@click.option("--seed", default=0, show_default=True, type=int, help="Noise seed; the same seed gives the same images.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--class", "label", type=int, default=None, help="Class to sample (conditional runs); default: every class in turn.")
@handle_errors
def sample(run: str, n: int, out: str, seed: int, device: str, label: int | None) -> None:
    """Sample a trained RUN's generator (EMA weights when the run used EMA).

    \b
    Examples:
      ganzoo sample runs/00000-dcgan-digits --n 64 --out grid.png
      ganzoo sample runs/00000-dcgan-digits --n 16 --out samples/
      ganzoo sample runs/00001-cdcgan-digits --class 3 --n 16 --out threes.png
    """
    from ganzoo.api import load_generator
    from ganzoo.images import save_grid, save_images

    gen = load_generator(run, device=device)
    import inspect

    if label is not None and "labels" not in inspect.signature(gen.task.sample).parameters:
        raise click.UsageError(f"--class needs a conditional run; {run} was trained with task {gen.spec.task.type!r}")  # type: ignore[attr-defined]
    images = gen.sample(n, seed=seed, **({"labels": label} if label is not None else {}))
    target = Path(out)
    if out.endswith(("/", os.sep)) or target.is_dir():
        paths = save_images(images, target)
        click.echo(f"wrote {len(paths)} images to {target}")
    else:
        save_grid(images, target)
        click.echo(f"wrote a grid of {n} to {target}")


@cli.command(name="eval")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--metrics", "names", multiple=True, metavar="NAME", help="Metric to compute (repeatable); default: the spec's eval.metrics.")
@click.option("--n", "n", type=click.IntRange(2, None), help="Override the sample count of every metric that has one.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated samples.")
@handle_errors
def eval_cmd(run: str, names: tuple[str, ...], n: int | None, device: str, seed: int) -> None:
    """Evaluate a trained RUN and write RUN/eval.json (values with their protocols).

    \b
    Examples:
      ganzoo eval runs/00000-dcgan-digits --metrics fd-domain
      ganzoo eval runs/00000-dcgan-digits --metrics fid --n 10000
    """
    from rich.table import Table

    from ganzoo.api import load_generator
    from ganzoo.evaluation import EvalContext, data_key, evaluate, write_eval_json

    reg = _registries()
    gen = load_generator(run, device=device, registries=reg)
    comps = [(m.type, m.params.model_dump()) for m in gen.spec.eval.metrics] if not names else [(nm, {}) for nm in names]  # type: ignore[attr-defined]
    if not comps:
        raise click.UsageError("the run's spec has no eval.metrics; name some with --metrics (see: ganzoo list metrics)")
    metrics = []
    for name, params in comps:
        entry = reg["metric"].get(name)
        if n is not None and "n" in entry.params.model_fields:
            params = {**params, "n": n}
        metrics.append(reg.build("metric", name, params))
    data_spec = gen.spec.eval.data or gen.spec.data  # type: ignore[attr-defined]
    dataset = reg.build("dataset", data_spec.type, data_spec.params)
    ctx = EvalContext(gen.task, gen.module, dataset, data_key(data_spec), gen.device, seed=seed)
    result = evaluate(ctx, metrics)
    step = int(read_step(Path(run)))
    path = write_eval_json(Path(run), result, step)
    table = Table(title=f"{run} (step {step})")
    for col in ("metric", "value", "protocol"):
        table.add_column(col, overflow="fold")
    for key, value in result.values.items():
        proto = ", ".join(f"{k}={v}" for k, v in result.protocols[key].items() if k not in ("metric", "higher_is_better"))
        table.add_row(key, f"{value:.5g}", proto)
    _console().print(table)
    click.echo(f"wrote {path}")


def read_step(run_dir: Path) -> int:
    """The training step of a run's exported generator."""
    from safetensors import safe_open

    with safe_open(str(run_dir / "generator.safetensors"), framework="pt") as fh:
        return int((fh.metadata() or {}).get("step", -1))


def _add_builtin_commands() -> None:
    # In their own modules to keep this one small; they import helpers defined above.
    from ganzoo.cli_compare import compare
    from ganzoo.cli_plugin import plugin

    cli.add_command(compare)
    cli.add_command(plugin)


_add_builtin_commands()


def main() -> None:
    """Console-script entry point: adds plugin commands, then runs the group."""
    try:
        from ganzoo.plugins import get_plugin_manager

        get_plugin_manager().hook.ganzoo_register_commands(cli=cli)
    except Exception as exc:  # noqa: BLE001 - a plugin's command must not break the CLI
        click.echo(f"warning: a plugin failed to add commands: {exc}", err=True)
    cli(prog_name="ganzoo")
