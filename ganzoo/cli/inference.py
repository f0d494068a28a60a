"""``ganzoo sample`` and ``ganzoo eval``: use a trained run."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from ganzoo.cli.common import console, handle_errors, registries
from ganzoo.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.api import LoadedGenerator

__all__ = ["eval_cmd", "sample"]


@click.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--n", "n", default=64, show_default=True, type=click.IntRange(1, 100_000), help="Number of samples.")
@click.option("--out", required=True, type=click.Path(),
              help="A .png file for a grid, or a directory (ending in /) for one PNG per sample.")
@click.option("--seed", default=0, show_default=True, type=int, help="Noise seed; the same seed gives the same images.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--class", "label", type=int, default=None, help="Class to sample (conditional runs); default: every class in turn.")
@click.option("--checkpoint", default=None, metavar="latest|best|PATH",
              help="Use a checkpoint instead of the finished run's export: works on unfinished and interrupted runs.")
@click.option("--truncation", "psi", type=float, default=None, metavar="PSI",
              help="Truncation psi: pull each sample's w towards the average w (1 = none, 0 = the average image); "
                   "only for generators that support it (StyleGAN2).")
@handle_errors
def sample(run: str, n: int, out: str, seed: int, device: str, label: int | None, checkpoint: str | None,
           psi: float | None) -> None:
    """Sample a trained RUN's generator (EMA weights when the run used EMA).

    \b
    Examples:
      ganzoo sample runs/00000-dcgan-digits --n 64 --out grid.png
      ganzoo sample runs/00000-dcgan-digits --n 16 --out samples/
      ganzoo sample runs/00001-cdcgan-digits --class 3 --n 16 --out threes.png
      ganzoo sample runs/interrupted --checkpoint latest --out grid.png
      ganzoo sample runs/00002-stylegan2-digits --truncation 0.7 --out grid.png
    """
    from ganzoo.api import load_generator
    from ganzoo.images import save_grid, save_images

    gen = load_generator(run, device=device, checkpoint=checkpoint)
    import inspect

    if label is not None and "labels" not in inspect.signature(gen.task.sample).parameters:
        raise click.UsageError(f"--class needs a conditional run; {run} was trained with task {gen.spec.task.type!r}")
    classes = gen.info.num_classes
    if label is not None and classes and not 0 <= label < classes:
        raise click.BadParameter(f"class {label} is out of range: valid classes are 0..{classes - 1}", param_hint="--class")
    if psi is not None:
        _set_truncation(gen, psi)
    images = gen.sample(n, seed=seed, **({"labels": label} if label is not None else {}))
    target = Path(out)
    try:
        if out.endswith(("/", os.sep)) or target.is_dir():
            paths = save_images(images, target)
            click.echo(f"wrote {len(paths)} images to {target}")
        else:
            save_grid(images, target)
            click.echo(f"wrote a grid of {n} to {target}")
    except OSError as exc:  # an unwritable --out
        raise click.FileError(str(target), hint=exc.strerror or str(exc)) from None


def _set_truncation(gen: LoadedGenerator, psi: float) -> None:
    """Set ``truncation_psi`` on a :class:`ganzoo.TruncatableGenerator`; refuse other generators."""
    from ganzoo.engine.build import unwrap_model
    from ganzoo.task import TruncatableGenerator, conforms

    if not math.isfinite(psi):
        raise click.BadParameter(f"psi must be a finite number, got {psi}", param_hint="--truncation")
    module = unwrap_model(gen.module)
    if not conforms(module, TruncatableGenerator):
        slot = getattr(gen.spec, "generator", None)
        name = getattr(slot, "type", type(module).__name__)
        raise ConfigError(
            f"--truncation needs a generator with a truncation psi (ganzoo.TruncatableGenerator, such as stylegan2); "
            f"this run's generator {name!r} has none"
        )
    cast(TruncatableGenerator, module).truncation_psi = psi


@click.command(name="eval")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--metrics", "names", multiple=True, metavar="NAME", help="Metric to compute (repeatable); default: the spec's eval.metrics.")
@click.option("--n", "n", type=click.IntRange(2, None), help="Override the sample count of every metric that has one.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated samples.")
@click.option("--checkpoint", default=None, metavar="latest|best|PATH",
              help="Use a checkpoint instead of the finished run's export: works on unfinished and interrupted runs.")
@handle_errors
def eval_cmd(run: str, names: tuple[str, ...], n: int | None, device: str, seed: int, checkpoint: str | None) -> None:
    """Evaluate a trained RUN and write RUN/eval.json (values with their protocols).

    \b
    Examples:
      ganzoo eval runs/00000-dcgan-digits --metrics fd-domain
      ganzoo eval runs/00000-dcgan-digits --metrics fid --n 10000
    """
    from pydantic import ValidationError
    from rich.table import Table

    from ganzoo.api import load_generator
    from ganzoo.evaluation import EvalContext, data_key, evaluate, write_eval_json

    reg = registries()
    gen = load_generator(run, device=device, registries=reg, checkpoint=checkpoint)
    comps = [(m.type, m.params.model_dump()) for m in gen.spec.eval.metrics] if not names else [(nm, {}) for nm in names]
    if not comps:
        raise click.UsageError("the run's spec has no eval.metrics; name some with --metrics (see: ganzoo list metrics)")
    metrics = []
    for name, params in comps:
        entry = reg["metric"].get(name)
        if n is not None and "n" in entry.params.model_fields:
            params = {**params, "n": n}
        try:
            checked = entry.params.model_validate(params)
        except ValidationError as exc:  # e.g. --metrics fd-timm, whose `model` has no default
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors(include_url=False))
            message = f"metric {name!r} cannot run with these params ({problems}); put it in the run's eval.metrics"
            raise click.BadParameter(message, param_hint="--metrics") from None
        metrics.append(reg.build("metric", name, checked))
    data_spec = gen.spec.eval.data or gen.spec.data
    dataset = reg.build("dataset", data_spec.type, data_spec.params)
    ctx = EvalContext(gen.task, gen.module, dataset, data_key(data_spec), gen.device, seed=seed)
    result = evaluate(ctx, metrics)
    step = gen.step
    path = write_eval_json(Path(run), result, step)
    table = Table(title=f"{run} (step {step})")
    for col in ("metric", "value", "protocol"):
        table.add_column(col, overflow="fold")
    for key, value in result.values.items():
        proto = ", ".join(f"{k}={v}" for k, v in result.protocols[key].items() if k not in ("metric", "higher_is_better"))
        table.add_row(key, f"{value:.5g}", proto)
    console().print(table)
    click.echo(f"wrote {path}")
