"""End-to-end training on the CPU: artefacts, resume, sampling, the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.api import load_generator, resume_spec, train
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo.engine.run import Run


def _train(registries, data, out: Path) -> Path:
    return train(validate_spec(data, registries), out, registries=registries)


def test_run_writes_every_artefact(registries, tiny_spec, tmp_path):
    run = _train(registries, tiny_spec, tmp_path / "run")
    for name in ("spec.yaml", "run.json", "log.txt", "metrics.jsonl", "generator.safetensors"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step_00000002.png", "step_00000004.png"]
    assert [s for s, _ in list_checkpoints(run / "checkpoints")] == [2, 4]
    assert list((run / "tb").glob("events.out.tfevents.*"))
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert {"D/loss", "G/loss", "D/D(x)", "D/D(G(z))", "steps_per_s", "d_updates"} <= set(records[-1])
    assert records[-1]["d_updates"] == 4
    header = (run / "spec.yaml").read_text().splitlines()[1]
    meta = json.loads((run / "run.json").read_text())
    assert header == f"# sha256: {meta['spec_sha256']}"
    assert meta["data_info"] == {"channels": 1, "size": 16, "num_classes": 10}
    g = sum(v.numel() for v in load_file(str(run / "generator.safetensors")).values() if v.is_floating_point())
    assert 0 < meta["parameters"]["generator"] < g  # the export also holds batch-norm running statistics
    assert meta["parameters"]["discriminator"] > 0
    assert records[-1]["peak_mem_mb"] > 10 and records[-1]["lr/generator"] == 2e-4
    state = load_checkpoint(run / "checkpoints" / "step_00000004.pt")
    assert state["step"] == 4 and state["d_updates"] == 4 and state["samples_seen"] == 4 * 8  # one real batch per D update
    weights = load_file(str(run / "generator.safetensors"))
    assert any(k.endswith("weight") for k in weights)


def test_d_steps_counts_updates_separately(registries, tiny_spec, tmp_path):
    tiny_spec["train"].update(steps=2, d_steps=3, checkpoint_every=0, sample_every=0)
    run = _train(registries, tiny_spec, tmp_path / "run")
    state = load_checkpoint(run / "checkpoints" / "step_00000002.pt")
    assert state["step"] == 2 and state["d_updates"] == 6


def test_out_dir_must_be_empty(registries, tiny_spec, tmp_path):
    from ganzoo.rundir import RunDirError

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("x")
    with pytest.raises(RunDirError, match="--resume"):
        _train(registries, tiny_spec, tmp_path / "run")
    assert (tmp_path / "run" / "keep.txt").read_text() == "x"


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(list_checkpoints(run / "checkpoints")[-1][1])
    return {**{f"G.{k}": v for k, v in state["nets"]["generator"].items()}, **{f"D.{k}": v for k, v in state["nets"]["discriminator"].items()}}


def test_resume_continues_bit_identical(registries, tiny_spec, tmp_path):
    tiny_spec["train"]["ema"] = 0.9
    tiny_spec["data"]["params"]["limit"] = 20  # several epochs in 4 steps: exercises the data position
    full = _train(registries, tiny_spec, tmp_path / "full")

    tiny_spec["train"]["steps"] = 2
    part = _train(registries, tiny_spec, tmp_path / "part")
    spec = resume_spec(part, registries, ["train.steps=4"])
    run = Run(spec, registries, part)
    assert run.resume() and run.step == 2
    run.fit()
    assert [s for s, _ in list_checkpoints(part / "checkpoints")] == [2, 4]
    a, b = _final_weights(full), _final_weights(part)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ema_a = load_file(str(full / "generator.safetensors"))
    ema_b = load_file(str(part / "generator.safetensors"))
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    steps = [json.loads(x)["step"] for x in (part / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_resume_refuses_other_changes(registries, tiny_spec, tmp_path):
    tiny_spec["train"]["steps"] = 2
    run = _train(registries, tiny_spec, tmp_path / "run")
    with pytest.raises(SpecError) as ei:
        resume_spec(run, registries, ["train.steps=5", "seed=3", "generator.params.width=4"])
    paths = {i.path for i in ei.value.issues}
    assert {"seed", "generator.params.width"} <= paths and "train.steps" not in paths
    spec = resume_spec(run, registries, ["seed=3"], allow_changes=True)
    assert spec.seed == 3


def test_cli_train_resume_and_sample(tiny_spec, write_spec, tmp_path, cli_run):
    spec = write_spec(tiny_spec)
    out = tmp_path / "run"
    res = cli_run("train", spec, "--set", "train.steps=2", "--out", out)
    assert res.exit_code == 0, res.output
    res = cli_run("train", "--resume", out, "--set", "train.steps=3")
    assert res.exit_code == 0, res.output
    assert load_checkpoint(list_checkpoints(out / "checkpoints")[-1][1])["step"] == 3
    res = cli_run("train", "--resume", out, "--set", "seed=9")
    assert res.exit_code == 2 and "seed: differs" in res.output
    res = cli_run("sample", out, "--n", "6", "--out", tmp_path / "grid.png", "--seed", "1")
    assert res.exit_code == 0 and (tmp_path / "grid.png").stat().st_size > 0
    res = cli_run("sample", out, "--n", "3", "--out", f"{tmp_path / 'each'}/")
    assert res.exit_code == 0 and len(list((tmp_path / "each").glob("*.png"))) == 3


def test_load_generator_api(registries, tiny_spec, tmp_path):
    run = _train(registries, tiny_spec, tmp_path / "run")
    gen = load_generator(run, registries=registries)
    a, b, c = gen.sample(5, seed=3), gen.sample(5, seed=3), gen.sample(5, seed=4)
    assert a.shape == (5, 1, 16, 16) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_load_generator_errors(registries, tiny_spec, tmp_path):
    from ganzoo.rundir import RunDirError

    with pytest.raises(RunDirError, match="not a ganzoo run directory"):
        load_generator(tmp_path, registries=registries)
    run = _train(registries, tiny_spec, tmp_path / "run")
    (run / "generator.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunDirError, match="cannot load"):
        load_generator(run, registries=registries)


def test_lifecycle_hooks_fire(registries, tiny_spec, tmp_path):
    from ganzoo import hookimpl
    from ganzoo.plugin.manager import get_plugin_manager
    from ganzoo.plugin.registry import collect

    calls: list[str] = []

    class Recorder:
        @hookimpl
        def ganzoo_on_train_start(self, run):  # type: ignore[no-untyped-def]
            calls.append("start")

        @hookimpl
        def ganzoo_on_step(self, run, step, logs):  # type: ignore[no-untyped-def]
            calls.append(f"step{step}")

        @hookimpl
        def ganzoo_on_checkpoint_save(self, run, state):  # type: ignore[no-untyped-def]
            state["plugins"]["recorder"] = {"saved_at": run.step}
            calls.append("save")

        @hookimpl
        def ganzoo_on_checkpoint_load(self, run, state):  # type: ignore[no-untyped-def]
            calls.append(f"load{state['plugins']['recorder']['saved_at']}")

        @hookimpl
        def ganzoo_on_train_end(self, run, status):  # type: ignore[no-untyped-def]
            calls.append(status)

    reg = collect(get_plugin_manager(extra=[("recorder", Recorder())]))
    tiny_spec["train"]["steps"] = 2
    spec = validate_spec(tiny_spec, reg)
    run_dir = train(spec, tmp_path / "run", registries=reg)
    assert calls == ["start", "step1", "step2", "save", "completed"]
    calls.clear()
    train(resume_spec(run_dir, reg, ["train.steps=3"]), registries=reg, resume=run_dir)
    assert calls[:2] == ["load2", "start"] and calls[-1] == "completed"


def test_exception_hook_and_failed_status(registries, tiny_spec, tmp_path):
    from ganzoo import hookimpl
    from ganzoo.plugin.manager import get_plugin_manager
    from ganzoo.plugin.registry import collect

    seen: list[object] = []

    class Boom:
        @hookimpl
        def ganzoo_on_step(self, run, step, logs):  # type: ignore[no-untyped-def]
            raise RuntimeError("plugin bug")

        @hookimpl
        def ganzoo_on_exception(self, run, error):  # type: ignore[no-untyped-def]
            seen.append(error)

        @hookimpl
        def ganzoo_on_train_end(self, run, status):  # type: ignore[no-untyped-def]
            seen.append(status)

    reg = collect(get_plugin_manager(extra=[("boom", Boom())]))
    with pytest.raises(RuntimeError, match="plugin bug"):
        train(validate_spec(tiny_spec, reg), tmp_path / "run", registries=reg)
    assert isinstance(seen[0], RuntimeError) and seen[1] == "failed"


def test_time_budget_stops_and_is_summed_over_resumes(registries, tiny_spec, tmp_path):
    tiny_spec["train"].update(steps=10_000, max_seconds=0.3, checkpoint_every=0, sample_every=0)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    assert run.fit() == "completed"
    assert 0 < run.step < 10_000 and run.train_seconds >= 0.3
    state = load_checkpoint(list_checkpoints(tmp_path / "checkpoints")[-1][1])
    assert state["train_seconds"] == pytest.approx(run.train_seconds)
    again = Run(resume_spec(tmp_path, registries, []), registries, tmp_path)
    again.resume()
    again.fit()
    assert again.step == run.step  # the budget was already spent: nothing more to do


def test_step_lines_every_log_every_without_a_progress_bar(registries, tiny_spec, tmp_path):
    """Off a terminal (as here: pytest captures stderr) every log interval gets a step line with rate and ETA."""
    tiny_spec["train"].update(steps=6, log_every=2, sample_every=0, checkpoint_every=0, tensorboard=False)
    Run(validate_spec(tiny_spec, registries), registries, tmp_path).fit()
    lines = [x for x in (tmp_path / "log.txt").read_text().splitlines() if "steps/s" in x]
    assert [x.split("] ")[1].split()[1] for x in lines] == ["2/6", "4/6", "6/6"]
    assert all("ETA" in x and "D/loss=" in x for x in lines)


def test_eta_over_a_day_does_not_wrap():
    from ganzoo.engine.logging import step_summary

    line = step_summary(1, 100_001, {"steps_per_s": 1.0})  # 100,000 s left: 1 day 3:46:40
    assert "ETA 1d 03:46:40" in line or "ETA 1d" in line
