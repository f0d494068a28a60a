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
@click.option("--allow-spec-change", is_flag=True, help="With --resume: allow changes beyond budget and cadence, or an edited spec.yaml.")
@click.option("--restart", is_flag=True, help="With --resume: train the directory again from step 0 with its spec, removing its outputs.")
@handle_errors
def train(
    spec: str | None, overrides: tuple[str, ...], out: str | None, resume: str | None, allow_spec_change: bool, restart: bool
) -> None:
    """Train the model described by SPEC (a file, or a registry spec's name such as dcgan-digits).

    With --resume the run continues from its latest checkpoint with its saved
    spec; SPEC may be omitted. --set (or a SPEC given with --resume) may change
    only the step budget and the logging, sampling, checkpoint and eval cadence.
    A resume that would lose work is refused (exit 2): no readable checkpoint, a
    finished run without one, a hand-edited spec.yaml. --restart trains the
    directory again from step 0 with its spec (its checkpoints, samples and
    generator are removed).

    \b
    Examples:
      ganzoo train registry/dcgan-digits.yaml --set train.steps=20 --out runs/try
      ganzoo train dcgan-digits --set train.steps=20      # the registry spec, from any directory
      ganzoo train --resume runs/try --set train.steps=40
      ganzoo train --resume runs/try --restart
    """
    from ganzoo.api import resume_spec
    from ganzoo.api import train as train_run
    from ganzoo.spec.model import load_spec
    from ganzoo.zoo import resolve_spec

    reg = registries()
    if restart and not resume:
        raise click.UsageError("--restart applies to --resume RUN_DIR (a new run starts from step 0 anyway)")
    if resume:
        if out:
            raise click.UsageError("--out and --resume exclude each other: a resumed run stays in its directory")
        run_spec = resume_spec(resume, reg, list(overrides), spec_path=spec, allow_changes=allow_spec_change)
    elif spec is None:
        raise click.UsageError("give a SPEC file, or --resume RUN_DIR")
    else:
        run_spec = load_spec(resolve_spec(spec), reg, list(overrides))
    run_dir = train_run(run_spec, out, registries=reg, resume=resume, restart=restart)
    click.echo(str(run_dir))


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value; repeatable.")
@handle_errors
def validate(spec: str, overrides: tuple[str, ...]) -> None:
    """Check SPEC (a file or a registry spec's name) against every installed component; exit 2 on errors.

    \b
    Example:
      ganzoo validate registry/dcgan-digits.yaml --set generator.params.width=32
    """
    from ganzoo.spec.model import load_spec, spec_hash
    from ganzoo.zoo import resolve_spec

    s = load_spec(resolve_spec(spec), registries(), list(overrides))
    click.echo(f"{spec}: ok (task {s.task.type}, sha256 {spec_hash(s)[:12]})")
