"""The ``inpainting`` task: fill holes in any image dataset, with or without a discriminator.

A step draws (or validates) masks, then:

* with a discriminator: ``d_steps`` D updates, real images vs composited
  fakes (the mask goes along when the D takes it, as SN-PatchGAN does), D
  regularisers as in the unconditional task; then
* one G update: adversarial loss on the composited output (if any) plus the
  reconstruction losses on the raw prediction, split into hole and valid
  regions weighted by the task's ``hole_weight`` / ``valid_weight``.

Without a discriminator only the reconstruction losses train G (d_updates stays 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo import (
    AdversarialRecipe,
    ConfigError,
    CriticInputs,
    DataInfo,
    RunContext,
    RunSpec,
    StepContext,
    Task,
    for_evaluation,
    unwrap_model,
)
from ganzoo_inpaint.masks import check_mask, composite, content_seeds, hole_bounds, masked_input, masks_from_seeds, show_holes
from ganzoo_inpaint.params import FolderMaskParams, InpaintingParams
from ganzoo_inpaint.resize import fill_any_size

__all__ = ["Inpainting", "cut_tiles", "grid_triplets"]

_SEED_HIGH = 2**31 - 1


def grid_triplets(n: int) -> int:
    """Triplets (masked | output | target) that fill a near-square grid of at most ``n`` images row-aligned.

    The core tiles ``N`` images ``ceil(sqrt(N))`` per row; with ``N = (3k)^2 / ...`` a
    multiple-of-3 row width keeps each triplet on one row.
    """
    side = 3 * int((n**0.5) // 3)
    return side * side // 3 if side else max(1, n // 3)


def cut_tiles(x: Tensor, side: int, top: int = 0, left: int = 0) -> Tensor:
    """(B, C, H, W) -> (B * r * c, C, side, side): the r x c grid of whole tiles from (top, left), image by image."""
    b, c, h, w = x.shape
    rows, cols = (h - top) // side, (w - left) // side
    x = x[..., top : top + rows * side, left : left + cols * side]  # (B, C, r * side, c * side)
    tiles = x.reshape(b, c, rows, side, cols, side).permute(0, 2, 4, 1, 3, 5)  # (B, r, c, C, side, side)
    return tiles.reshape(b * rows * cols, c, side, side)


class Inpainting(Task):
    """Hole filling. Batches need ``image``; an optional ``mask`` (B, 1, H, W), 1 = hole, is validated and used.

    Generators are called ``G(masked, mask)`` with the holes of ``masked`` set to
    0 and return a raw prediction; outputs are always composited with the known pixels.
    """

    slots = ("generator", "discriminator")
    samples_real_data = True

    def __init__(self, params: InpaintingParams) -> None:
        super().__init__(params)
        self.params: InpaintingParams = params
        self._dataset: Any = None
        self._data_source: Callable[[], Any] | None = None

    # ---------------------------------------------------------------- setup and masks

    def configure(self, spec: RunSpec, info: DataInfo) -> None:
        """Read how many stages the generator returns from its params (``num_stages``, 1 when not declared)."""
        super().configure(spec, info)
        self.generator_stages = int(getattr(spec.component_params("generator"), "num_stages", 1))

    def setup(self, run: RunContext) -> None:
        self.recipe = AdversarialRecipe(run.losses, task="inpainting")
        if not run.losses.reconstruction and not self.recipe.trains_discriminator and run.trains("generator"):
            raise ConfigError(
                "inpainting needs losses: losses.reconstruction (e.g. [{type: l1}]) and/or a discriminator with losses.adversarial"
            )
        hole_bounds(self.params.mask.hole_range, run.info.size, run.info.size)  # fail now if the bucket cannot fit the image
        for side in self.params.train_crops:
            if side > run.info.size:
                raise ConfigError(f"task.params.train_crops: side {side} exceeds the data's size {run.info.size}")
            hole_bounds(self.params.mask.hole_range, side, side)
        if isinstance(self.params.mask, FolderMaskParams):  # fail now if the folder has no usable mask
            masks_from_seeds(self.params.mask, [0], run.info.size, run.info.size)
        self._dataset = for_evaluation(run.dataset)  # samples show images as evaluation scores them

    def train_masks(self, image: Tensor, ctx: StepContext) -> Tensor:
        """(B, 1, H, W) masks for a training batch, seeded from the run's RNG (checkpointed, DDP-sliced)."""
        seeds = ctx.randint(_SEED_HIGH, image.shape[0]).tolist()
        return masks_from_seeds(self.params.mask, seeds, image.shape[-2], image.shape[-1], image.device)

    def eval_masks(self, image: Tensor) -> Tensor:
        """(B, 1, H, W) evaluation masks: a function of ``eval_seed`` and each image's content only."""
        seeds = content_seeds(image, self.params.eval_seed)
        return masks_from_seeds(self.params.mask, seeds, image.shape[-2], image.shape[-1], image.device)

    def eval_protocol(self) -> dict[str, Any]:
        """The evaluation holes (mask generator and ``eval_seed``): scores on other holes are another protocol."""
        return {"holes": self.params.mask.model_dump(mode="json"), "eval_seed": self.params.eval_seed}

    def train_tiles(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """``train_crops``: the batch cut into ``s x s`` tiles for a side ``s`` drawn this step (unchanged when none is set)."""
        crops = self.params.train_crops
        if not crops:
            return batch
        side = crops[int(ctx.randint(len(crops), 1)[0])]
        top, left = (int(ctx.randint(n % side + 1, 1)[0]) for n in batch["image"].shape[-2:])  # the grid's offset
        return {key: cut_tiles(x, side, top, left) if key in ("image", "mask") else x for key, x in batch.items()}

    def batch_masks(self, batch: dict[str, Tensor], make: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
        """The batch's image and its mask: the given one, validated, or a fresh one from ``make``."""
        image = batch["image"]  # (B, C, H, W)
        if "mask" in batch:
            return image, check_mask(batch["mask"], image, self.params.max_hole_fraction)
        return image, make(image)

    # ---------------------------------------------------------------- losses

    @staticmethod
    def score(D: nn.Module, image: Tensor, mask: Tensor) -> Tensor:
        """Logits of images; the mask is passed to discriminators that take it (SN-PatchGAN)."""
        if getattr(unwrap_model(D), "takes_mask", False):
            return D(image, mask)
        return D(image)

    def reconstruction(self, entries: list[tuple[str, Any, float]], pred: Tensor, target: Tensor, mask: Tensor,
                       terms: dict[str, Tensor]) -> Tensor | float:
        """Sum over entries of ``weight * (hole_weight * L_hole + valid_weight * L_valid)`` on the raw prediction.

        With equal weights and ``image`` normalisation this is exactly the loss
        over the whole image, so such losses (and any without a ``mask`` argument)
        are called once, unmasked.
        """
        p = self.params
        total: Tensor | float = 0.0
        for i, (name, loss, weight) in enumerate(entries):
            key = name if sum(n == name for n, _, _ in entries) == 1 else f"{name}{i}"
            region_aware = getattr(loss, "region_aware", True)  # optional attribute, see ganzoo.ReconstructionLoss
            if not region_aware or (p.hole_weight == p.valid_weight and p.loss_normalization == "image"):
                value = loss(pred, target)
                terms[key] = value.detach()
                total = total + weight * p.hole_weight * value
                continue
            hole = loss(pred, target, mask)
            valid = loss(pred, target, 1.0 - mask)
            if p.loss_normalization == "image":  # a masked mean times the region's share = sum over region / all pixels
                hole, valid = hole * mask.mean(), valid * (1.0 - mask).mean()
            terms[f"{key}_hole"], terms[f"{key}_valid"] = hole.detach(), valid.detach()
            total = total + weight * (p.hole_weight * hole + p.valid_weight * valid)
        return total

    # ---------------------------------------------------------------- the recipe

    def train_step(self, ctx: StepContext) -> None:
        G, D = ctx.nets["generator"], ctx.nets.get("discriminator")

        def draw() -> tuple[Tensor, Tensor]:
            batch = self.train_tiles(ctx.next_batch(), ctx)
            return self.batch_masks(batch, lambda x: self.train_masks(x, ctx))  # (B, C, H, W), (B, 1, H, W)

        def critic_inputs(sample: tuple[Tensor, Tensor]) -> CriticInputs:
            assert D is not None  # validation: an adversarial loss comes with a discriminator
            image, mask = sample
            return CriticInputs(real=image, fake=lambda: composite(G(masked_input(image, mask), mask), image, mask),
                                critic=lambda x: self.score(D, x, mask))

        image, mask = self.recipe.discriminator_phase(ctx, draw, critic_inputs)
        if ctx.trains("generator"):  # a baseline has nothing to update (a D above still learns against it)
            self.recipe.generator_phase(ctx, lambda terms: self.generator_objective(ctx, image, mask, terms))

    def generator_objective(self, ctx: StepContext, image: Tensor, mask: Tensor, terms: dict[str, Tensor]) -> Tensor:
        """Reconstruction losses on the raw prediction (and a coarse stage's), plus the adversarial term on the composite."""
        G, D, recon = ctx.nets["generator"], ctx.nets.get("discriminator"), ctx.losses.reconstruction
        loss: Tensor | float = 0.0
        stages = self.params.coarse_weight > 0 and bool(recon) and self.generator_stages > 1
        if stages:  # DeepFill v2: the same reconstruction losses on the coarse output
            *early, pred = G(masked_input(image, mask), mask, stages=True)  # (B, C, H, W) each, raw
            for i, out in enumerate(early):
                stage_terms: dict[str, Tensor] = {}
                loss = loss + self.params.coarse_weight * self.reconstruction(recon, out, image, mask, stage_terms)
                prefix = "coarse" if len(early) == 1 else f"stage{i}"
                terms.update({f"{prefix}/{k}": v for k, v in stage_terms.items()})
        else:
            pred = G(masked_input(image, mask), mask)  # (B, C, H, W) raw, a fresh graph
        loss = loss + self.reconstruction(recon, pred, image, mask, terms)
        if D is not None and self.recipe.trains_discriminator:  # G is judged on what it delivers: its pixels in the hole only
            fake_logits = self.score(D, composite(pred, image, mask), mask)
            loss = loss + self.recipe.adversarial_term(terms, fake_logits, lambda: self.score(D, image, mask))
        assert isinstance(loss, Tensor)
        return loss

    # ---------------------------------------------------------------- outputs

    @torch.no_grad()
    def inpaint(self, generator: nn.Module, image: Tensor, mask: Tensor) -> Tensor:
        """Fill the holes of ``image`` (B, C, H, W) under ``mask`` (B, 1, H, W), 1 = hole; known pixels kept exactly."""
        mask = check_mask(mask, image, self.params.max_hole_fraction)
        pred = generator(masked_input(image, mask), mask)  # (B, C, H, W)
        return composite(pred.float(), image, mask)

    @torch.no_grad()
    def inpaint_any_size(self, generator: nn.Module, image: Tensor, mask: Tensor, *, max_side: int) -> Tensor:
        """Fill one image of any size (ganzoo.inpainting_api.Inpainter); known pixels kept exactly.

        ``image`` (1, C, H, W) in [-1, 1], ``mask`` (1, 1, H, W), 1 = hole. See
        :func:`ganzoo_inpaint.resize.fill_any_size`: reflection padding to the network's
        multiple, and above ``max_side`` a downscaled fill upsampled into the holes.
        """
        check_mask(mask, image, self.params.max_hole_fraction)
        return fill_any_size(lambda x, m: self.inpaint(generator, x, m), unwrap_model(generator), image, mask, max_side)

    def eval_pair(self, generator: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Composited prediction, target and mask; masks are the batch's own or the deterministic eval masks."""
        image, mask = self.batch_masks(batch, self.eval_masks)
        pred = generator(masked_input(image, mask), mask)  # (B, C, H, W)
        return {"pred": composite(pred.float(), image, mask), "target": image, "mask": mask}

    def attach_data(self, data: Callable[[], Any]) -> None:
        """Outside a run (``ganzoo sample``), sample from the run's evaluation images, built on first use."""
        self._data_source = data

    def _images(self, n: int, seed: int, images: Tensor | None) -> Tensor:
        if images is not None:
            return images[:n]
        if self._dataset is None and self._data_source is not None:
            self._dataset = self._data_source()
        if self._dataset is None:
            raise ConfigError("the inpainting task fills holes in real images: pass images=..., or use "
                             "`ganzoo inpaint RUN IMG --mask MASK` to inpaint a file")
        order = torch.randperm(len(self._dataset), generator=torch.Generator().manual_seed(seed))
        idx = order.repeat(-(-n // len(order)))[:n].tolist()
        with torch.random.fork_rng(devices=[]):  # an augmenting dataset must not draw from the training RNG
            return torch.stack([self._dataset[i]["image"] for i in idx])

    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, images: Tensor | None = None,
               **kwargs: Any) -> Tensor:
        """``n`` inpainted images: dataset images picked by ``seed`` (or ``images``), with their evaluation masks."""
        out = []
        for chunk in self._images(n, seed, images).split(64):
            chunk = chunk.to(device)
            out.append(self.inpaint(generator, chunk, self.eval_masks(chunk)).float().cpu())
        return torch.cat(out)

    def preview(self, run: RunContext, n: int) -> Tensor:
        """Row-aligned triplets masked input (holes white) | output | target, on the first dataset images."""
        k = min(grid_triplets(n), len(self._dataset))  # the evaluation view of run.dataset (setup)
        with torch.random.fork_rng(devices=[]):  # a duck-typed dataset may still draw from the training RNG
            items = [self._dataset[i] for i in range(k)]
        batch = {key: torch.stack([item[key] for item in items]).to(run.device) for key in ("image", "mask") if key in items[0]}
        image = batch["image"]  # (k, C, H, W)
        pair = self.eval_pair(run.eval_generator, batch)
        trip = torch.stack([show_holes(image, pair["mask"]), pair["pred"].to(image.dtype), image], dim=1)  # (k, 3, C, H, W)
        return trip.flatten(0, 1).float()  # (3k, C, H, W)
