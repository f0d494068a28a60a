"""Learning-rate schedules and ``init`` (starting a network from trained weights)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ganzoo.api import resume_spec
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.engine.schedule import lr_factor
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo.spec.sections import ConstantLR, CosineLR, MultiStepLR
from ganzoo.engine.run import Run
from ganzoo.engine.warmstart import InitError

from tests.helpers import assert_same_nets, split_and_resume, train_dir, train_records


# ------------------------------------------------------------------ schedules


def test_lr_factor_formulas():
    assert [lr_factor(ConstantLR(), s, 10) for s in (0, 9)] == [1.0, 1.0]
    assert [lr_factor(ConstantLR(warmup=4), s, 10) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    ms = MultiStepLR(type="multistep", milestones=[3, 5], gamma=0.1)
    # Step index s is the (s+1)-th update; from milestone m on the rate is lower.
    assert [round(lr_factor(ms, s, 10), 12) for s in range(7)] == [1, 1, 1, 0.1, 0.1, 0.01, 0.01]
    cos = CosineLR(type="cosine", min_factor=0.2)
    assert lr_factor(cos, 0, 100) == pytest.approx(1.0)
    assert lr_factor(cos, 50, 100) == pytest.approx(0.2 + 0.8 * 0.5)
    assert lr_factor(cos, 100, 100) == pytest.approx(0.2)
    assert lr_factor(cos, 500, 100) == pytest.approx(0.2)  # past the period it stays at the floor
    warm = CosineLR(type="cosine", warmup=10, period=110)
    assert lr_factor(warm, 4, 999) == pytest.approx(0.5)
    assert lr_factor(warm, 60, 999) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


@pytest.mark.parametrize(
    ("schedule", "path"),
    [
        ({"type": "multistep", "milestones": [5, 3]}, "optim.generator.schedule.milestones"),
        ({"type": "multistep", "milestones": []}, "optim.generator.schedule.milestones"),
        ({"type": "cosine", "min_factor": 2}, "optim.generator.schedule.min_factor"),
        ({"type": "linear"}, "optim.generator.schedule"),
    ],
)
def test_bad_schedule_is_a_path_qualified_error(registries, tiny_spec, schedule, path):
    tiny_spec["optim"] = {"generator": {"schedule": schedule}}
    with pytest.raises(SpecError) as err:
        validate_spec(tiny_spec, registries)
    assert any(i.path.startswith(path) for i in err.value.issues), err.value.format()


def test_schedule_sets_the_rate_of_each_network(registries, tiny_spec, tmp_path):
    tiny_spec["optim"] = {
        "generator": {"lr": 1e-3, "schedule": {"type": "multistep", "milestones": [2], "gamma": 0.5}},
        "discriminator": {"lr": 4e-4, "schedule": {"type": "constant", "warmup": 2}},
    }
    run = train_dir(registries, tiny_spec, tmp_path / "run")
    recs = train_records(run)
    assert [r["lr/generator"] for r in recs] == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4])
    assert [r["lr/discriminator"] for r in recs] == pytest.approx([2e-4, 4e-4, 4e-4, 4e-4])


def test_cosine_schedule_resumes_bit_identical(registries, tiny_spec, tmp_path):
    tiny_spec["optim"] = {"generator": {"schedule": {"type": "cosine", "period": 4, "warmup": 1}}}
    full, part = split_and_resume(registries, tiny_spec, tmp_path)
    assert_same_nets(full, part)
    assert [r["lr/generator"] for r in train_records(part)] == [r["lr/generator"] for r in train_records(full)]


# ------------------------------------------------------------------ init


@pytest.fixture
def source_run(registries, tiny_spec, tmp_path) -> Path:
    tiny_spec["train"]["ema"] = 0.5
    return train_dir(registries, tiny_spec, tmp_path / "source")


def _fresh(registries, data, out: Path, **kw) -> Run:
    return Run(validate_spec(data, registries), registries, out, **kw)


def _equal(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    own = net.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[k], state[k].to(own[k].dtype)) for k in own)


def test_init_from_a_run_takes_eval_or_raw_weights(registries, tiny_spec, tmp_path, source_run):
    last = load_checkpoint(list_checkpoints(source_run / "checkpoints")[-1][1])
    tiny_spec["init"] = {"generator": {"from": str(source_run)}, "discriminator": {"from": str(source_run)}}
    run = _fresh(registries, tiny_spec, tmp_path / "a")
    assert _equal(run.nets["generator"], last["ema"]["shadow"])  # eval weights: the EMA
    assert _equal(run.nets["discriminator"], last["nets"]["discriminator"])
    assert _equal(run.ema.shadow, last["ema"]["shadow"])  # the source fixture turned EMA on for both runs
    assert run.init_report["generator"]["sha256"] and run.init_report["generator"]["loaded"] > 0

    tiny_spec["init"] = {"generator": {"from": str(source_run), "weights": "raw"}}
    raw = _fresh(registries, tiny_spec, tmp_path / "b")
    assert _equal(raw.nets["generator"], last["nets"]["generator"])
    assert not _equal(raw.nets["generator"], last["ema"]["shadow"])


def test_init_starts_the_ema_from_the_loaded_weights(registries, tiny_spec, tmp_path, source_run):
    tiny_spec["train"]["ema"] = 0.9
    tiny_spec["init"] = {"generator": {"from": str(source_run / "generator.safetensors")}}
    run = _fresh(registries, tiny_spec, tmp_path / "run")
    exported = load_file(str(source_run / "generator.safetensors"))
    assert _equal(run.nets["generator"], exported) and _equal(run.ema.shadow, exported)


def test_init_from_foreign_files(registries, tiny_spec, tmp_path, source_run):
    sd = load_file(str(source_run / "generator.safetensors"))
    wrapped = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in sd.items()}, wrapped)  # saved from a DDP-wrapped net
    nested = tmp_path / "basicsr.pth"
    torch.save({"params_ema": sd, "params": sd}, nested)  # BasicSR's release layout
    for src in ({"from": str(wrapped)}, {"from": str(nested), "key": "params_ema"}):
        tiny_spec["init"] = {"generator": src}
        assert _equal(_fresh(registries, tiny_spec, tmp_path / "r").nets["generator"], sd)
    tiny_spec["init"] = {"generator": {"from": str(nested)}}
    with pytest.raises(InitError, match=r"init.generator.key"):
        _fresh(registries, tiny_spec, tmp_path / "r")


def test_init_errors_are_clear(registries, tiny_spec, tmp_path, source_run):
    tiny_spec["init"] = {"generator": {"from": str(tmp_path / "nowhere")}}
    with pytest.raises(InitError, match=r"init.generator.from: .*nowhere does not exist"):
        _fresh(registries, tiny_spec, tmp_path / "r")

    tiny_spec["init"] = {"generator": {"from": str(source_run), "sha256": "0" * 64}}
    with pytest.raises(InitError, match=r"init.generator.sha256: .* expected 0{64}"):
        _fresh(registries, tiny_spec, tmp_path / "r")

    tiny_spec["init"] = {"generator": {"from": str(source_run), "checkpoint": "best"}}
    with pytest.raises(InitError, match="no checkpoints/best.pt"):
        _fresh(registries, tiny_spec, tmp_path / "r")

    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes((source_run / "generator.safetensors").read_bytes()[:100])
    tiny_spec["init"] = {"generator": {"from": str(bad)}}
    with pytest.raises(InitError, match="cannot read"):
        _fresh(registries, tiny_spec, tmp_path / "r")

    unrelated = tmp_path / "unrelated.pt"
    torch.save({"encoder.weight": torch.zeros(3), "num_batches_tracked": torch.tensor(0)}, unrelated)
    tiny_spec["init"] = {"generator": {"from": str(unrelated), "strict": False}}
    with pytest.raises(InitError, match=r"0 of 14 tensors match.*missing in the file: net\.0\.weight.*not in the network: encoder"):
        _fresh(registries, tiny_spec, tmp_path / "r")

    tiny_spec["generator"]["params"]["width"] = 16
    tiny_spec["init"] = {"generator": {"from": str(source_run)}}
    with pytest.raises(InitError, match=r"does not fit the generator: 3 of 14 .*shape differs: net\.0\.weight \(8, 16, 4, 4\) vs \(8, 32, 4, 4\)"):
        _fresh(registries, tiny_spec, tmp_path / "r")


def test_init_not_strict_loads_what_fits(registries, tiny_spec, tmp_path, source_run):
    tiny_spec["generator"]["params"]["latent_dim"] = 12  # only the input projection changes shape
    tiny_spec["init"] = {"generator": {"from": str(source_run)}}
    with pytest.raises(InitError, match="shape differs.*set strict: false"):
        _fresh(registries, tiny_spec, tmp_path / "r")
    tiny_spec["init"]["generator"]["strict"] = False
    run = _fresh(registries, tiny_spec, tmp_path / "r")
    report = run.init_report["generator"]
    assert report["loaded"] > 0 and len(report["mismatched"]) >= 1
    sd = load_file(str(source_run / "generator.safetensors"))
    own = run.nets["generator"].state_dict()
    assert all(torch.equal(own[k], sd[k]) for k in own if own[k].shape == sd[k].shape)


def test_cli_reports_a_missing_init_source_without_traceback(cli_run, write_spec, tiny_spec, tmp_path):
    tiny_spec["init"] = {"generator": {"from": str(tmp_path / "psnr-run")}}
    result = cli_run("train", write_spec(tiny_spec), "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "init.generator.from" in result.output and "Traceback" not in result.output


def test_init_is_recorded_and_not_needed_on_resume(registries, tiny_spec, tmp_path, source_run):
    tiny_spec["init"] = {"generator": {"from": str(source_run)}}
    tiny_spec["train"]["steps"] = 2
    run_dir = train_dir(registries, tiny_spec, tmp_path / "run")
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["init"]["generator"]["source"] == str(source_run)
    shutil.rmtree(source_run)  # the two-stage source may be gone by the time stage two resumes
    run = Run(resume_spec(run_dir, registries, ["train.steps=3"]), registries, run_dir, resuming=True)
    assert run.resume()
    run.fit()
    assert json.loads((run_dir / "run.json").read_text())["init"] == meta["init"]


def test_exported_run_without_checkpoints_still_initialises(registries, tiny_spec, tmp_path, source_run):
    shutil.rmtree(source_run / "checkpoints")
    tiny_spec["init"] = {"generator": {"from": str(source_run)}}
    run = _fresh(registries, tiny_spec, tmp_path / "r")
    assert _equal(run.nets["generator"], load_file(str(source_run / "generator.safetensors")))
    save_file({}, str(tmp_path / "empty.safetensors"))
    tiny_spec["init"] = {"generator": {"from": str(tmp_path / "empty.safetensors")}}
    with pytest.raises(InitError, match="not a state dict"):
        _fresh(registries, tiny_spec, tmp_path / "r2")
