"""`ganzoo sample --class K` on conditional runs, and its refusal on unconditional ones."""

from __future__ import annotations

import torch

from ganzoo.api import load_generator


def test_sample_class_cli(tiny_spec, write_spec, tmp_path, cli_run):
    tiny_spec.update(task="conditional")
    tiny_spec["generator"] = {"type": "cdcgan", "params": {"latent_dim": 8, "embed_dim": 4, "width": 8}}
    tiny_spec["discriminator"] = {"type": "projection", "params": {"width": 8}}
    tiny_spec["train"]["steps"] = 2
    out = tmp_path / "run"
    assert cli_run("train", write_spec(tiny_spec), "--out", out).exit_code == 0
    res = cli_run("sample", out, "--class", "3", "--n", "4", "--out", tmp_path / "threes.png")
    assert res.exit_code == 0 and (tmp_path / "threes.png").is_file()
    gen = load_generator(out)
    a, b = gen.sample(4, seed=1, labels=3), gen.sample(4, seed=1, labels=5)
    assert a.shape == (4, 1, 16, 16) and not torch.equal(a, b)
    res = cli_run("sample", out, "--class", "12", "--n", "4", "--out", tmp_path / "x.png")
    assert res.exit_code == 2 and "out of range" in res.output  # a bad --class is a usage error, like --class on an unconditional run


def test_sample_class_refused_for_unconditional(tiny_spec, write_spec, tmp_path, cli_run):
    tiny_spec["train"]["steps"] = 1
    out = tmp_path / "run"
    assert cli_run("train", write_spec(tiny_spec), "--out", out).exit_code == 0
    res = cli_run("sample", out, "--class", "3", "--out", tmp_path / "x.png")
    assert res.exit_code == 2 and "conditional" in res.output
