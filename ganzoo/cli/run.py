"""``ganzoo train`` and ``ganzoo validate``."""

from __future__ import annotations

import click

from ganzoo.cli.common import handle_errors, registries

__all__ = ["train", "validate"]


@click.command()
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
    from ganzoo.api import resume_spec
    from ganzoo.api import train as train_run
    from ganzoo.spec.model import load_spec

    reg = registries()
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


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value; repeatable.")
@handle_errors
def validate(spec: str, overrides: tuple[str, ...]) -> None:
    """Check SPEC against every installed component; exit 2 on errors.

    \b
    Example:
      ganzoo validate registry/dcgan-digits.yaml --set generator.params.width=32
    """
    from ganzoo.spec.model import load_spec, spec_hash

    s = load_spec(spec, registries(), list(overrides))
    click.echo(f"{spec}: ok (task {s.task.type}, sha256 {spec_hash(s)[:12]})")
