"""The inpainting plugin: masks, compositing, partial/gated convs, the task's phases, eval, baselines, CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from click.testing import CliRunner
from ganzoo_inpaint.baselines import Biharmonic
from ganzoo_inpaint.cli import inpaint
from ganzoo_inpaint.masks import MaskError, check_mask, composite, generate_mask, hole_bounds, masks_from_seeds
from ganzoo_inpaint.nets import GatedConv2d, PartialConv2d
from ganzoo_inpaint.params import BoxMaskParams, FreeFormMaskParams, InpaintingParams
from ganzoo_inpaint.task import Inpainting, grid_triplets
from PIL import Image

from ganzoo import AdversarialRecipe, LossSet
from ganzoo.evaluation import EvalContext, data_key, evaluate
from ganzoo.metrics import l1 as l1_metric
from ganzoo.metrics import psnr as psnr_metric
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo.engine.run import Run
from tests.helpers import TINY_INPAINT_SPEC

METRICS = [{"type": m, "params": {"region": r, "n": 8}} for m in ("psnr", "l1") for r in ("full", "hole")]

# the shared tiny run, with PConv's hole weight and a second step
SPEC: dict[str, Any] = {
    **TINY_INPAINT_SPEC,
    "task": {"type": "inpainting", "params": {**TINY_INPAINT_SPEC["task"]["params"], "hole_weight": 6.0}},
    "train": {**TINY_INPAINT_SPEC["train"], "steps": 2},
}
GAN = {"generator": {"type": "gated-conv", "params": {"width": 4, "dilations": [2]}},
       "discriminator": {"type": "patch", "params": {"width": 4, "depth": 2}},
       "losses": {"adversarial": {"type": "hinge"}, "reconstruction": [{"type": "l1"}]}}


def _run(registries: Any, tmp_path: Path, **sections: Any) -> Run:
    spec = copy.deepcopy(SPEC)
    spec.update(copy.deepcopy(sections))
    return Run(validate_spec(spec, registries), registries, tmp_path / "run")


def _faces(n: int = 4, size: int = 16) -> torch.Tensor:
    from ganzoo_data.builtin import build_faces
    from ganzoo_data.params import FacesParams

    return build_faces(FacesParams(size=size, hflip=False)).images[:n]  # (n, 1, S, S)


# ---------------------------------------------------------------- masks


@pytest.mark.parametrize("params", [FreeFormMaskParams(), FreeFormMaskParams(hole_range=(0.5, 0.6)), BoxMaskParams(),
                                    BoxMaskParams(position="random", hole_range=(0.1, 0.3), aspect_range=(0.5, 2.0))],
                         ids=["free-form", "free-form-large", "box-center", "box-random"])
@pytest.mark.parametrize("size", [16, 25, 32])
def test_masks_are_binary_holes_in_their_bucket_and_deterministic(params, size):
    lo, hi = hole_bounds(params.hole_range, size, size)
    for seed in range(12):
        m = generate_mask(params, size, size, seed)
        assert m.shape == (size, size) and m.dtype == np.float32
        assert set(np.unique(m)) <= {0.0, 1.0}
        assert lo <= m.sum() <= hi, (seed, m.sum(), lo, hi)  # the bucket, rounded outward to whole pixels
        assert np.array_equal(m, generate_mask(params, size, size, seed))
    masks = masks_from_seeds(params, list(range(6)), size, size)
    assert masks.shape == (6, 1, size, size) and masks.dtype == torch.float32
    if isinstance(params, FreeFormMaskParams) or params.position == "random":
        assert len({m.numpy().tobytes() for m in masks}) > 1  # seeds matter


def test_box_center_is_the_context_encoder_quarter():
    m = generate_mask(BoxMaskParams(), 32, 32, 0)
    rows, cols = np.nonzero(m)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 23, 8, 23)


def test_bucket_that_cannot_fit_is_an_error():
    with pytest.raises(MaskError, match="no hole"):
        hole_bounds((0.1, 0.2), 1, 1)  # a hole would leave no known pixel
    with pytest.raises(ValueError, match="max_hole_fraction"):
        InpaintingParams(mask=FreeFormMaskParams(hole_range=(0.5, 0.9)))


def test_eval_masks_depend_only_on_the_image():
    images = _faces(7)
    task_a, task_b = Inpainting(InpaintingParams()), Inpainting(InpaintingParams())
    all_at_once = task_a.eval_masks(images)
    in_pieces = torch.cat([task_b.eval_masks(images[:3]), task_b.eval_masks(images[3:])])
    assert torch.equal(all_at_once, in_pieces)
    assert not torch.equal(all_at_once, Inpainting(InpaintingParams(eval_seed=1)).eval_masks(images))


# ---------------------------------------------------------------- compositing and validation


def test_composite_keeps_known_pixels_exactly():
    g = torch.Generator().manual_seed(0)
    image, pred = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1, torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    mask = masks_from_seeds(FreeFormMaskParams(), [0, 1, 2], 16, 16)
    out = composite(pred, image, mask)
    known, hole = mask.expand_as(image) == 0, mask.expand_as(image) == 1
    assert torch.equal(out[known], image[known]) and torch.equal(out[hole], pred[hole])
    assert torch.allclose(out, mask * pred + (1 - mask) * image)


def test_bad_masks_are_refused_naming_the_convention():
    image = torch.zeros(2, 1, 16, 16)
    mask = masks_from_seeds(BoxMaskParams(position="random", hole_range=(0.1, 0.2)), [0, 1], 16, 16)
    with pytest.raises(MaskError, match=r"(?s)divide by 255.*1 = hole"):
        check_mask(mask * 255, image)
    with pytest.raises(MaskError, match=r"(?s)inverted.*1 = hole"):
        check_mask(1 - mask, image)
    with pytest.raises(MaskError, match=r"shape .*1 = hole"):
        check_mask(mask[:, 0], image)
    with pytest.raises(MaskError, match="0 or 1"):
        check_mask(mask * 0.5, image)
    assert torch.equal(check_mask(mask.bool(), image), mask)


def test_bad_mask_in_a_batch_stops_training_and_eval():
    task = Inpainting(InpaintingParams())
    image = _faces(2)
    mask = masks_from_seeds(BoxMaskParams(hole_range=(0.1, 0.2)), [0, 1], 16, 16)

    class Ctx:  # just enough of a StepContext for the first batch
        nets = {"generator": torch.nn.Identity()}
        losses = type("L", (), {"adversarial": None, "adversarial_weight": 1.0, "regularizers": [], "reconstruction": []})()
        d_steps = 1

        def next_batch(self) -> dict[str, torch.Tensor]:
            return {"image": image, "mask": mask * 255}

    task.recipe = AdversarialRecipe(LossSet())  # what setup() builds from the run's losses
    with pytest.raises(MaskError, match="1 = hole"):
        task.train_step(Ctx())  # type: ignore[arg-type]
    with pytest.raises(MaskError, match="inverted"):
        task.eval_pair(lambda x, m: x, {"image": image, "mask": 1 - mask})


# ---------------------------------------------------------------- layers


def test_partial_conv_matches_a_hand_computation():
    torch.manual_seed(0)
    layer = PartialConv2d(2, 1, 3)
    with torch.no_grad():
        layer.conv.weight.copy_(torch.arange(18, dtype=torch.float32).reshape(1, 2, 3, 3) / 10 - 0.8)
        layer.bias.fill_(0.25)  # type: ignore[union-attr]
    x = torch.randn(1, 2, 5, 5)
    valid = torch.ones(1, 1, 5, 5)
    valid[0, 0, 1:4, 1:4] = 0  # a 3x3 hole in the middle
    valid[0, 0, 2, 2] = 0
    out, new_valid = layer(x, valid)

    W, b = layer.conv.weight[0].detach().numpy(), 0.25
    xp = np.pad(x[0].numpy(), ((0, 0), (1, 1), (1, 1)))  # zero padding counts as unknown
    mp = np.pad(np.repeat(valid[0].numpy(), 2, axis=0), ((0, 0), (1, 1), (1, 1)))
    for i in range(5):
        for j in range(5):
            X, M = xp[:, i : i + 3, j : j + 3], mp[:, i : i + 3, j : j + 3]
            known = M.sum()
            want = (W * X * M).sum() * (2 * 9) / known + b if known > 0 else 0.0  # W^T(X.M) sum(1)/sum(M) + b
            assert out[0, 0, i, j].item() == pytest.approx(want, rel=1e-5, abs=1e-5), (i, j)
            assert new_valid[0, 0, i, j].item() == float(known > 0)
    # The centre pixel's window is all hole: output 0 and still a hole, but only with a 1x1 hole covering the window.
    tiny = PartialConv2d(1, 1, 1)
    o, v = tiny(torch.ones(1, 1, 2, 2), torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]]))
    assert v.flatten().tolist() == [1.0, 0.0, 1.0, 1.0] and o[0, 0, 0, 1].item() == 0.0


def test_gated_conv_gates_features():
    layer = GatedConv2d(1, 1, kernel=1, activation=True)
    x = torch.linspace(-2, 2, 16).reshape(1, 1, 4, 4)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.conv.weight[0] = 1.0  # features = x
        layer.conv.bias.zero_()
        layer.conv.bias[1] = -30.0  # gate closed
        assert layer(x).abs().max() < 1e-12
        layer.conv.bias[1] = 30.0  # gate open: ELU(x)
        assert torch.allclose(layer(x), torch.nn.functional.elu(x))
        layer.conv.weight[1] = 5.0  # gate follows the input: sigmoid(5x) * ELU(x)
        layer.conv.bias[1] = 0.0
        assert torch.allclose(layer(x), torch.nn.functional.elu(x) * torch.sigmoid(5 * x))


# ---------------------------------------------------------------- baselines


def test_biharmonic_through_eval_pair_equals_skimage():
    from skimage.restoration import inpaint_biharmonic

    task, images = Inpainting(InpaintingParams()), _faces(4)
    pair = task.eval_pair(Biharmonic(), {"image": images})
    for img, mask, pred in zip(images, pair["mask"], pair["pred"]):
        direct = inpaint_biharmonic(img[0].double().numpy(), mask[0].numpy() > 0.5)  # from the unmasked image: holes are ignored
        assert torch.equal(pred[0], torch.from_numpy(direct).clamp(-1, 1).float())
    assert sum(p.numel() for p in Biharmonic().parameters()) == 0 and Biharmonic().state_dict() == {}
    Biharmonic().load_state_dict({})


def test_telea_through_eval_pair_equals_opencv():
    cv2 = pytest.importorskip("cv2")  # an optional dependency (ganzoo[inpaint]); part of the test extras
    from ganzoo_inpaint.baselines import Telea

    task, images = Inpainting(InpaintingParams()), _faces(3, size=32)
    pair = task.eval_pair(Telea(radius=3), {"image": images})
    for img, mask, pred in zip(images, pair["mask"], pair["pred"]):
        # OpenCV reads pixels just inside the hole, so unlike biharmonic it depends on what the hole holds: the
        # masked image, as every generator gets.
        src = ((img[0] * (1 - mask[0]) + 1) * 127.5).round().to(torch.uint8).numpy()
        direct = cv2.inpaint(src, (mask[0] > 0.5).to(torch.uint8).numpy(), 3, cv2.INPAINT_TELEA)
        assert np.array_equal(((pred[0] + 1) * 127.5).round().to(torch.uint8).numpy(), direct)


# ---------------------------------------------------------------- the task in runs


def test_reconstruction_only_trains_without_a_discriminator(registries, tmp_path):
    run = _run(registries, tmp_path)
    before = copy.deepcopy(run.nets["generator"].state_dict())
    run.fit()
    assert run.step == 2 and run.d_updates == 0 and "discriminator" not in run.nets
    assert any(not torch.equal(before[k], v) for k, v in run.nets["generator"].state_dict().items())
    logged = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert any("G/l1_hole" in rec and "G/l1_valid" in rec for rec in logged)  # hole 6 / valid 1: split terms


def test_gan_recipe_trains_both_networks(registries, tmp_path):
    run = _run(registries, tmp_path, **GAN)
    before = {k: copy.deepcopy(n.state_dict()) for k, n in run.nets.items()}
    run.fit()
    assert run.step == 2 and run.d_updates == 2
    for k, net in run.nets.items():
        assert any(not torch.equal(before[k][p], v) for p, v in net.state_dict().items() if v.is_floating_point()), k
    grid = Image.open(next((run.dir / "samples").glob("*.png")))
    assert grid.size[0] == grid.size[1]  # 3 triplets on 3 rows: masked | output | target
    assert grid_triplets(64) == 12 and grid_triplets(9) == 3 and grid_triplets(4) == 1


def test_losses_must_make_sense(registries, tmp_path):
    with pytest.raises(SpecError, match="discriminator: a discriminator trains only with an adversarial loss"):
        _run(registries, tmp_path, discriminator=GAN["discriminator"])
    with pytest.raises(ValueError, match="needs losses"):
        _run(registries, tmp_path, losses={})


def test_eval_pair_gives_full_and_hole_metrics(registries, tmp_path):
    run = _run(registries, tmp_path, eval={"metrics": METRICS})
    run.fit()
    values = json.loads((run.dir / "eval.json").read_text())["metrics"]
    assert set(values) == {"psnr_rgb_crop0", "psnr_rgb_crop0_hole", "l1_rgb_crop0", "l1_rgb_crop0_hole"}
    assert values["l1_rgb_crop0_hole"]["protocol"]["region"] == "hole"
    # The same numbers from the pairs directly, with the task's fixed masks.
    run.eval_generator.eval()  # as evaluate() does: batch norm on its running statistics
    ctx = EvalContext(run.task, run.eval_generator, run.dataset, data_key(run.spec.data), run.device, batch_size=3)
    pairs = list(ctx.pairs(8))
    pred, target, mask = (torch.cat([p[k] for p in pairs]) for k in ("pred", "target", "mask"))
    assert torch.equal(mask, run.task.eval_masks(run.dataset.images[:8]))
    assert values["l1_rgb_crop0_hole"]["value"] == pytest.approx(l1_metric(pred, target, mask=mask), rel=1e-9)
    assert values["psnr_rgb_crop0_hole"]["value"] == pytest.approx(psnr_metric(pred, target, mask=mask), rel=1e-9)
    assert values["l1_rgb_crop0_hole"]["value"] > values["l1_rgb_crop0"]["value"]  # errors live in the hole
    # A second evaluation (another context, another batch size) scores the same holes: the same values.
    again = evaluate(EvalContext(run.task, run.eval_generator, run.dataset, "k", run.device, batch_size=5), run.metrics)
    assert again.values["l1_rgb_crop0_hole"] == pytest.approx(values["l1_rgb_crop0_hole"]["value"], rel=1e-12)


# ---------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.plugin.registry import load_registries

    reg = load_registries()
    path = tmp_path_factory.mktemp("inpaint-cli") / "run"
    spec = copy.deepcopy(SPEC)
    spec["train"]["steps"] = 1
    Run(validate_spec(spec, reg), reg, path).fit()
    return path


def _png(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


def test_cli_inpaints_and_keeps_known_pixels(tiny_run, tmp_path):
    img = _png(tmp_path / "face.png", (np.random.default_rng(0).random((16, 16)) * 255))
    hole = np.zeros((16, 16), np.uint8)
    hole[4:10, 5:12] = 255  # white = hole
    mask = _png(tmp_path / "mask.png", hole)
    res = CliRunner().invoke(inpaint, [str(tiny_run), str(img), "--mask", str(mask), "--out", str(tmp_path / "out.png")])
    assert res.exit_code == 0, res.output
    out, src = np.asarray(Image.open(tmp_path / "out.png")), np.asarray(Image.open(img))
    assert np.array_equal(out[hole == 0], src[hole == 0]) and not np.array_equal(out[hole > 0], src[hole > 0])


@pytest.mark.parametrize("case, code, message", [
    ("size", 2, "must match"),
    ("grey", 2, "mostly grey"),
    ("inverted", 2, "inverted"),
    ("corrupt", 1, "cannot read image"),
])
def test_cli_refuses_bad_inputs(tiny_run, tmp_path, case, code, message):
    img = _png(tmp_path / "face.png", np.full((16, 16), 128))
    hole = np.zeros((16, 16), np.uint8)
    hole[4:8, 4:8] = 255
    if case == "size":
        hole = np.zeros((20, 16), np.uint8)
    elif case == "grey":  # one stray grey pixel is thresholded (tests/test_inpaint_io.py); a mostly grey mask is refused
        hole[:, 8:] = 37
    elif case == "inverted":
        hole = 255 - hole
    elif case == "corrupt":
        img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    mask = _png(tmp_path / "mask.png", hole)
    res = CliRunner().invoke(inpaint, [str(tiny_run), str(img), "--mask", str(mask)])
    assert res.exit_code == code, res.output
    assert message in res.output and "Traceback" not in res.output
    if case != "corrupt":
        assert "hole" in res.output  # the convention is named


def test_loaded_generator_samples_the_runs_images(tiny_run, tmp_path):
    """`ganzoo sample` works on an inpainting run: the task gets the run's data, built only when sampling."""
    from ganzoo import load_generator
    from ganzoo.cli import cli

    gen = load_generator(tiny_run)
    assert gen.task._dataset is None  # loading alone reads no data (`ganzoo inpaint` needs none)
    out = gen.sample(3, seed=1)
    faces = _faces(100)
    order = torch.randperm(100, generator=torch.Generator().manual_seed(1))[:3]
    mask = gen.task.eval_masks(faces[order])
    assert out.shape == (3, 1, 16, 16) and torch.equal(out[mask == 0], faces[order][mask == 0])  # known pixels kept exactly
    res = CliRunner().invoke(cli, ["sample", str(tiny_run), "--n", "4", "--out", str(tmp_path / "grid.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "grid.png").is_file()


def test_cli_command_is_registered():
    import click
    import ganzoo_inpaint

    group = click.Group()
    ganzoo_inpaint.ganzoo_register_commands(cli=group)
    assert "inpaint" in group.commands


def test_telea_without_opencv_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from ganzoo.data import DataInfo
    from ganzoo.plugin.registry import load_registries

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cv2" else real(name, *a))
    with pytest.raises(RuntimeError, match=r"telea baseline needs OpenCV: pip install 'ganzoo\[inpaint\]'"):
        load_registries().build("model", "telea", {}, DataInfo(channels=3, size=32), role="generator")


@pytest.mark.parametrize("attention", [False, True])
def test_coarse_to_fine_returns_both_stages(attention):
    from ganzoo_inpaint.nets import GatedConvGenerator

    torch.manual_seed(0)
    g = GatedConvGenerator(1, 4, (2,), two_stage=True, attention=attention).eval()
    x, m = torch.randn(2, 1, 16, 16), (torch.rand(2, 1, 16, 16) > 0.7).float()
    coarse, fine = g(x, m, stages=True)
    assert g.num_stages == 2 and coarse.shape == fine.shape == (2, 1, 16, 16)
    assert torch.equal(fine, g(x, m)) and not torch.equal(coarse, fine)
    assert GatedConvGenerator(1, 4, (2,)).num_stages == 1


@pytest.mark.parametrize("coarse_weight", [0.0, 1.0])
def test_coarse_stage_gets_the_reconstruction_loss(registries, tmp_path, coarse_weight):
    """DeepFill v2 puts the same L1 on the coarse output; coarse_weight 0 trains it only through the refined one."""
    gen = {"type": "gated-conv", "params": {"width": 4, "dilations": [2], "two_stage": True}}
    run = _run(registries, tmp_path, generator=gen,
               task={"type": "inpainting", "params": {**SPEC["task"]["params"], "coarse_weight": coarse_weight}})
    run.fit()
    logged = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    has_coarse = [any(k.startswith("G/coarse/l1") for k in rec) for rec in logged if "G/loss" in rec]
    assert has_coarse and all(has_coarse) == bool(coarse_weight) and any(has_coarse) == bool(coarse_weight)
    rec = next(r for r in logged if "G/loss" in r)
    if coarse_weight:  # total = coarse terms + refined terms (hole weight 6, valid 1, image normalisation)
        parts = [rec[f"G/{p}l1_{r}"] * w for p in ("coarse/", "") for r, w in (("hole", 6.0), ("valid", 1.0))]
        assert rec["G/loss"] == pytest.approx(sum(parts), rel=1e-5)


def test_a_loss_that_ignores_masks_is_called_once(registries, tmp_path):
    """A perceptual loss cannot be split into hole and valid terms: one unmasked call, times hole_weight."""
    losses = {"reconstruction": [{"type": "l1"}, {"type": "perceptual", "params": {"weights": "random", "layer_weights": {"relu1_1": 1.0}}}]}
    run = _run(registries, tmp_path, losses=losses)
    run.fit()
    rec = next(json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines() if "G/loss" in line)
    assert "G/perceptual" in rec and not any(k.startswith("G/perceptual_") for k in rec)
    assert "G/l1_hole" in rec and "G/l1_valid" in rec
    assert rec["G/loss"] == pytest.approx(6.0 * (rec["G/l1_hole"] + rec["G/perceptual"]) + rec["G/l1_valid"], rel=1e-5)


def test_scores_on_other_holes_are_another_protocol(registries, tmp_path):
    """Free-form and box holes give PSNRs that must never be ranked against each other."""
    from ganzoo.compare.gather import gather_run, group_variants
    from ganzoo.compare.report import compare_records

    metrics = {"metrics": [{"type": "psnr", "params": {"region": "hole", "n": 4}}]}
    dirs = []
    for name, mask in (("free", {"type": "free-form"}), ("box", {"type": "box", "hole_range": [0.25, 0.25]})):
        spec = copy.deepcopy(SPEC)
        spec.update(name=name, eval=metrics, task={"type": "inpainting", "params": {"mask": mask}}, generator={"type": "biharmonic"})
        spec["train"]["steps"] = 1
        run = Run(validate_spec(spec, registries), registries, tmp_path / name)
        run.fit()
        dirs.append(run.dir)
    protos = [json.loads((d / "eval.json").read_text())["metrics"]["psnr_rgb_crop0_hole"]["protocol"] for d in dirs]
    assert protos[0]["task"] == {"holes": FreeFormMaskParams().model_dump(mode="json"), "eval_seed": 0}
    assert protos[1]["task"]["holes"]["type"] == "box"
    cmp = compare_records(group_variants([gather_run(d) for d in dirs]))
    assert cmp.primary is None and "protocols differ in task" in cmp.columns[0].note


def test_a_run_whose_training_folder_moved_still_inpaints(registries, tmp_path):
    """Inference needs the trained network, not the training data: a moved folder only stops what reads it."""
    from ganzoo import load_generator
    from ganzoo.api import load_run_spec
    from ganzoo.cli import cli
    from ganzoo.spec.model import SpecError

    folder = tmp_path / "faces"
    folder.mkdir()
    for i, face in enumerate(_faces(4)):
        _png(folder / f"{i}.png", ((face[0].numpy() + 1) * 127.5).round())
    spec = copy.deepcopy(SPEC)
    spec["data"] = {"type": "image-folder", "params": {"root": str(folder), "size": 16, "channels": 1}}
    spec["train"]["steps"] = 1
    run = Run(validate_spec(spec, registries), registries, tmp_path / "run")
    run.fit()
    folder.rename(tmp_path / "moved")

    with pytest.raises(SpecError, match="data.params.root .*does not exist"):
        load_run_spec(run.dir, registries)  # validating the spec (train, resume) still checks the folder
    gen = load_generator(run.dir, registries=registries)
    hole = np.zeros((16, 16), np.uint8)
    hole[4:9, 4:9] = 255
    img, mask = _png(tmp_path / "x.png", np.full((16, 16), 90)), _png(tmp_path / "m.png", hole)
    res = CliRunner().invoke(inpaint, [str(run.dir), str(img), "--mask", str(mask), "--out", str(tmp_path / "o.png")])
    assert res.exit_code == 0, res.output
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gen.sample(2, seed=0)  # sampling reads the data: one clear message
    res = CliRunner().invoke(cli, ["sample", str(run.dir), "--n", "2", "--out", str(tmp_path / "g.png")])
    assert res.exit_code == 1 and "image folder" in res.output and "Traceback" not in res.output
