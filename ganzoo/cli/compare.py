"""``ganzoo compare``: train what a sweep is missing, then tabulate and report it."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from ganzoo.cli.common import handle_errors, registries

__all__ = ["compare"]

EPILOG = """\b
Examples:
  ganzoo compare registry/sweeps/digits-objectives.yaml --jobs 2
  ganzoo compare SWEEP --launcher slurm --launcher-set partition=gpu --dry-run
  ganzoo compare SWEEP --launcher slurm --launcher-set partition=gpu     # submit, return; the same
                                     # command later gathers, and resubmits what failed
  ganzoo compare runs/compare-digits-objectives          # re-gather a finished sweep
  ganzoo compare runs/a runs/b runs/c --out runs/cmp     # compare plain run directories
"""


def _pool_params(jobs: int, threads: int | None, launcher: str) -> dict[str, int]:
    """``--jobs`` and ``--threads`` given on the command line, as the local launcher's params."""
    ctx = click.get_current_context()
    given = {"jobs": jobs} if ctx.get_parameter_source("jobs") is not click.core.ParameterSource.DEFAULT else {}
    given.update({"threads": threads} if threads is not None else {})
    if given and launcher != "local":  # silently ignored, they would promise what the queue does not do
        what = " and ".join(f"--{k}" for k in given)
        raise click.BadParameter(f"applies to the local launcher; set the {launcher} launcher's params with --launcher-set",
                                 param_hint=what)
    return given


def _run_dirs(paths: list[Path]) -> list[Path]:
    from ganzoo.rundir import RunDir, SweepDir

    dirs: list[Path] = []
    for p in paths:
        if RunDir(p).is_run():
            dirs.append(p)
        elif SweepDir(p).is_sweep():  # a compare output directory
            dirs.extend(r.root for r in SweepDir(p).run_dirs())
        else:
            what = f"{p} is neither a run directory (no {RunDir(p).meta.name}) nor a compare output (no {SweepDir(p).runs.name}/)"
            raise click.BadParameter(what, param_hint="PATHS")
    return dirs


@click.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output directory (default: runs/compare-NAME for a sweep).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64), help="Training processes at once (local launcher).")
@click.option("--threads", type=click.IntRange(1, 1024), help="Threads per process (default: CPU count // jobs; local launcher).")
@click.option("--launcher", "launcher_name", metavar="NAME",
              help="How the runs are executed: local or slurm (`ganzoo list launchers`); default: the sweep's launcher, else local.")
@click.option("--launcher-set", "launcher_sets", multiple=True, metavar="KEY=VALUE",
              help="Set a launcher param (`ganzoo show NAME`), e.g. partition=gpu; repeatable.")
@click.option("--wait", is_flag=True, help="Wait for submitted jobs to end, then report (launchers that submit to a queue).")
@click.option("--dry-run", is_flag=True, help="Print what would be launched (the job script for slurm); start and write nothing.")
@click.option("--rank", "rank_by", metavar="METRIC", help="Metric to rank by (default: the first comparable one).")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override every variant's spec (after the sweep's set); repeatable.",
)
@click.option("--no-train", is_flag=True, help="Only gather what has finished; train nothing.")
@handle_errors
def compare(
    paths: tuple[Path, ...],
    out: Path | None,
    jobs: int,
    threads: int | None,
    rank_by: str | None,
    overrides: tuple[str, ...],
    no_train: bool,
    launcher_name: str | None,
    launcher_sets: tuple[str, ...],
    wait: bool,
    dry_run: bool,
) -> None:
    """Compare variants: a SWEEP file (train what is missing, resumably) or finished RUN directories.

    Writes results.csv (one row per run), results.json, results.md (mean ± std over
    seeds) and a self-contained report.html (curves, sample grids, spec diffs).
    Scores made under different protocols are shown but never ranked.

    Nothing is deleted: an unusable run directory is moved to OUT/set-aside/
    and retrained; a run another process is training is skipped. SIGINT and
    SIGTERM stop the training processes after their checkpoints (exit 130 or
    143); the same command then resumes them.

    A launcher that submits jobs (slurm) returns once they are submitted
    (unless --wait), keeping their ids in OUT/jobs.json; the same command later
    gathers the finished runs, reports queued, running and failed jobs with
    their log paths, and submits again only what is missing or failed.
    """
    from ganzoo.compare.execute import SweepOutcome, run_sweep
    from ganzoo.compare.gather import canonical_spec, gather_run, group_variants
    from ganzoo.compare.html import write_html
    from ganzoo.compare.launcher import JobRecord
    from ganzoo.compare.report import compare_records, markdown, write_tables
    from ganzoo.rundir import SweepDir

    outcome = SweepOutcome()
    baseline = None
    descriptions: dict[str, str] = {}
    if len(paths) == 1 and paths[0].is_file():
        from ganzoo.compare.sweep import build_launcher, expand_sweep, load_sweep
        from ganzoo.fileio import atomic_write_text
        from ganzoo.spec.model import SpecError, parse_overrides
        from ganzoo.spec.yamlio import dump_yaml

        sweep_file = paths[0]
        sweep = load_sweep(sweep_file)
        if overrides:
            sweep = sweep.model_copy(update={"set": {**sweep.set, **parse_overrides(list(overrides))}})
        reg = registries()
        runs = expand_sweep(sweep, reg, sweep_file.parent)
        launcher_params = _pool_params(jobs, threads, launcher_name or (sweep.launcher.type if sweep.launcher else "local"))
        sets = {**launcher_params, **parse_overrides(list(launcher_sets))}
        launcher = build_launcher(reg, sweep.launcher, name=launcher_name, sets=sets, source=str(sweep_file))
        out = out or SweepDir.default(sweep.name).root
        others: dict[str, Any] = {launcher.name: launcher}
        jobs_file = str(SweepDir(out).jobs)

        def job_state(job: JobRecord) -> str:  # a job another launcher submitted is asked of that launcher
            if job.launcher not in others:
                try:
                    others[job.launcher] = build_launcher(reg, None, name=job.launcher, source=jobs_file)
                except SpecError:  # its plugin is gone: the plan alone decides
                    others[job.launcher] = None
            return "unknown" if others[job.launcher] is None else str(others[job.launcher].job_state(job))

        if dry_run:
            from ganzoo.compare.execute import plan_launch

            click.echo(launcher.dry_run(plan_launch(runs, out, job_state), SweepDir(out)))
            return
        out.mkdir(parents=True, exist_ok=True)
        data = sweep.model_dump(mode="json")
        if data.get("launcher") is None:  # the copy of a sweep without the section reads as it did before launchers
            data.pop("launcher", None)
        copy = dump_yaml(data, header=f"# ganzoo compare: copy of {sweep_file}\n")
        atomic_write_text(SweepDir(out).sweep_file, copy)
        if not no_train:
            echo = lambda m: click.echo(m, err=True)  # noqa: E731 - one line
            outcome = run_sweep(runs, out, echo=echo, launcher=launcher, wait=wait, job_state=job_state)
            if outcome.jobs and not wait:
                ids = ", ".join(sorted({j.job_id.partition("_")[0] for j in outcome.jobs.values()}))
                click.echo(f"submitted {len(outcome.jobs)} job(s) ({launcher.name} {ids}); ids in {SweepDir(out).jobs}; "
                           f"run the same command to gather them when they are done (or pass --wait)", err=True)
                return
            if outcome.signal is not None:  # the user wants out: no report; the runs saved their checkpoints
                stopped = sum(1 for c in outcome.codes.values() if c == 128 + outcome.signal)
                name = signal.Signals(outcome.signal).name
                what = f"{stopped} run(s) stopped after saving a checkpoint; run the same command to continue"
                click.echo(f"interrupted by {name}: {what}", err=True)
                sys.exit(128 + outcome.signal)
        records = [gather_run(SweepDir(out).run(r.variant, r.seed).root, variant=r.variant, seed=r.seed) for r in runs]
        baseline = sweep.baseline_name()
        descriptions = {k: v.description for k, v in sweep.variants.items()}
        title = f"ganzoo compare: {sweep.name}"
    else:
        if any(p.is_file() for p in paths):
            raise click.BadParameter("give one sweep file, or run directories", param_hint="PATHS")
        if overrides:
            raise click.BadParameter("--set applies to a sweep file, not to finished runs", param_hint="--set")
        if launcher_name or launcher_sets or dry_run or wait:
            hint = "--launcher/--launcher-set/--dry-run/--wait"
            raise click.BadParameter("applies to a sweep file, which says what to train", param_hint=hint)
        given = SweepDir(paths[0])
        if len(paths) == 1 and given.sweep_file.is_file():  # a sweep's output: its own variant names and baseline
            from ganzoo.compare.sweep import load_sweep

            sweep = load_sweep(given.sweep_file)
            records = [gather_run(given.run(v, seed).root, variant=v, seed=seed) for v in sweep.variants for seed in sweep.seeds]
            baseline = sweep.baseline_name()
            descriptions = {k: v.description for k, v in sweep.variants.items()}
        else:
            reg = registries()
            records = group_variants([gather_run(d) for d in _run_dirs(list(paths))], lambda spec: canonical_spec(spec, reg))
        if out is None:
            out = paths[0] if len(paths) == 1 and given.is_sweep() else SweepDir.default().root
        title = f"ganzoo compare: {', '.join(str(p) for p in paths)}"
    for rec in records:
        if rec.status == "unreadable":
            click.echo(f"warning: {rec.error}", err=True)
    cmp = compare_records(records, baseline=baseline, rank_by=rank_by, descriptions=descriptions)
    files = write_tables(cmp, out)
    html = write_html(cmp, SweepDir(out).report, title=title)
    click.echo(markdown(cmp))
    click.echo(f"wrote {files['csv']}, {files['json']}, {files['md']}, {html}", err=True)
    if outcome.skipped or any(outcome.codes.values()) or any(r.status in ("failed", "unreadable") for r in records):
        sys.exit(1)  # the comparison is written, but incomplete
