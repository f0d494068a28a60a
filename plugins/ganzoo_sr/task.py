"""The ``super-resolution`` task: PSNR-oriented (G only) or SRGAN/ESRGAN (D and G phases).

Batch contract: ``image`` is the HR target (B, C, H, W) in [-1, 1]; an optional
``lr`` (the task's ``lr_key``) is a paired LR input (B, C, H/s, W/s). Without
it the task makes LR from HR by its degradation, so any image dataset works.

Phases per step:

* no discriminator: ``G`` only, the weighted sum of the reconstruction losses
  (SRResNet, RRDB-PSNR). ``d_updates`` stays 0.
* discriminator + adversarial loss (SRGAN/ESRGAN): ``D`` (x ``d_steps``, each on
  a fresh batch) with the adversarial D loss on HR (real) vs SR (fake), plus D
  regularisers; then ``G`` = reconstruction losses + weight x adversarial G loss,
  given the real logits when the loss needs them (relativistic average). The
  adversarial weight scales the G term only (ESRGAN's lambda; BasicSR's GANLoss
  leaves the D loss unweighted), unlike the unconditional task, whose D loss is
  the whole objective anyway.

Degradations: ``bicubic`` (the classical protocol) or ``realesrgan`` (blind SR,
:mod:`ganzoo_sr.realesrgan`). The random degradation of a training batch draws
its seed from the step context (``ctx.randint``), i.e. from the run's RNG
stream that checkpoints save, so a resumed run makes the same LR. Evaluation,
preview and sample inputs use a fixed generator (``eval_seed``): every
evaluation sees the same LR. With its ``usm_target`` (the default, as
published) the reconstruction losses compare SR with the unsharp-masked HR,
while D still sees the plain HR.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganzoo import AdversarialRecipe, ConfigError, CriticInputs, DataInfo, RunContext, RunSpec, StepContext, Task
from ganzoo.upscaling import DEFAULT_TILE_PAD
from ganzoo_sr.degradation import bicubic_down, bicubic_up, mod_crop

__all__ = ["PREVIEW_INPUTS", "SuperResolution", "heldout_crops"]

PREVIEW_INPUTS = 3  # triplets in the sample grid: 3 x 3 = one (bicubic | SR | HR) triplet per row


def _heldout_photos() -> tuple[Tensor, ...]:
    from ganzoo_sr.data import load_photo
    from ganzoo_sr.params import HELDOUT_PHOTOS

    return tuple(load_photo(n) for n in HELDOUT_PHOTOS)


def heldout_crops(n: int, size: int, seed: int, channels: int = 3) -> Tensor:
    """``n`` seeded random ``size`` crops of the bundled held-out photos, (n, channels, size, size) in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    photos, out = _heldout_photos(), []
    for _ in range(n):
        p = photos[int(torch.randint(len(photos), (), generator=g))]
        if min(p.shape[1:]) < size:  # only for sizes beyond the photos' 300 px
            p = torch.nn.functional.interpolate(p[None], scale_factor=size / min(p.shape[1:]) + 1e-6, mode="bicubic", antialias=True)[0]
        top = int(torch.randint(p.shape[1] - size + 1, (), generator=g))
        left = int(torch.randint(p.shape[2] - size + 1, (), generator=g))
        out.append(p[:, top : top + size, left : left + size])
    x = torch.stack(out).clamp(-1, 1)  # (n, 3, S, S)
    if channels == 1:  # BT.601 luma, for generators built for grey data
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x


class SuperResolution(Task):
    """LR -> HR. See the module docstring for the phases and the batch contract."""

    slots = ("generator", "discriminator")

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.scale: int = params.scale
        self._preview: tuple[Tensor, Tensor | None] | None = None

    # ---------------------------------------------------------------- setup and pairs

    def configure(self, spec: RunSpec, info: DataInfo) -> None:
        """Check the generator's declared scale; remember the HR size and channels it is built for (for :meth:`sample`)."""
        super().configure(spec, info)
        g_scale = getattr(spec.component_params("generator"), "scale", None)  # SR generators declare it in their params
        if isinstance(g_scale, int) and g_scale != self.scale:
            raise ConfigError(f"generator.params.scale is {g_scale} but task.params.scale is {self.scale}; set both to the same factor")

    def setup(self, run: RunContext) -> None:
        self.recipe = AdversarialRecipe(run.losses, task="the super-resolution task")
        if run.trains("generator") and not run.losses.reconstruction and not self.recipe.trains_discriminator:
            raise ConfigError("nothing to train: give losses.reconstruction (e.g. l1) or a discriminator with an adversarial loss")
        # Fixed validation inputs for the sample grid, drawn without touching the training RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(run.spec.seed + 1_000_003)
            items = [run.dataset[i] for i in range(min(PREVIEW_INPUTS, len(run.dataset)))]
        hr = torch.stack([it["image"] for it in items])
        lr = torch.stack([it[self.params.lr_key] for it in items]) if self.params.lr_key in items[0] else None
        self._preview = (hr, lr)

    def degrade(self, hr: Tensor, seed: int | None = None) -> Tensor:
        """LR of (B, C, H, W) HR in [-1, 1] (sides multiples of the scale) by the task's degradation, 8-bit levels.

        ``seed`` seeds the random (Real-ESRGAN) degradation; None: its fixed ``eval_seed``.
        """
        deg = self.params.degradation
        if isinstance(deg, str):
            return bicubic_down(hr, self.scale)
        from ganzoo_sr.realesrgan import degrade

        g = torch.Generator(device=hr.device).manual_seed(deg.eval_seed if seed is None else seed)
        # float32 and no graph whatever the caller's context: under bf16 autocast the blur and the JPEG's DCT
        # would otherwise run coarser than the 8-bit levels they produce
        with torch.no_grad(), torch.autocast(hr.device.type, enabled=False):
            return degrade((hr.float() + 1.0) / 2.0, self.scale, deg, g) * 2.0 - 1.0  # (B, C, H/s, W/s)

    def pair(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``(lr, hr)`` of a batch as evaluated: HR mod-cropped to the scale, LR paired or made by the degradation."""
        s, hr, lr = self.scale, batch["image"], batch.get(self.params.lr_key)
        if lr is None:
            hr = mod_crop(hr, s)  # (B, C, H', W'), multiples of s
            return self.degrade(hr), hr  # (B, C, H'/s, W'/s)
        h, w = lr.shape[-2:]
        # HR may exceed LR x s only by what a mod-crop removes (< s): more means LR made at another scale
        if lr.shape[:2] != hr.shape[:2] or not (0 <= hr.shape[-2] - h * s < s and 0 <= hr.shape[-1] - w * s < s):
            raise ConfigError(f"paired batch: {self.params.lr_key!r} {tuple(lr.shape)} does not fit image {tuple(hr.shape)} at scale {s} "
                              "(is the dataset's scale the task's?)")
        return lr, hr[..., : h * s, : w * s]

    def _train_pair(self, batch: dict[str, Tensor], ctx: StepContext) -> tuple[Tensor, Tensor, Tensor]:
        """A training pair: random crop and flips/rotations (per sample, from ``ctx``'s global draws), then LR.

        Returns ``(lr, hr, target)``: the target of the reconstruction losses is ``hr`` itself, except for the
        Real-ESRGAN degradation with ``usm_target``, where it is the unsharp-masked HR (D still sees ``hr``).
        """
        s, crop, hr = self.scale, self.params.crop, batch["image"]
        lr = batch.get(self.params.lr_key)
        if lr is not None:
            lr, hr = self.pair(batch)
        else:
            hr = mod_crop(hr, s)
        b = hr.shape[0]
        if crop is not None:
            if crop % s or crop > min(hr.shape[-2:]):
                side = min(hr.shape[-2:])
                raise ConfigError(f"task.params.crop {crop} must be a multiple of the scale {s} and at most the image side {side}")
            c = crop // s
            tops = ctx.randint(hr.shape[-2] // s - c + 1, b).tolist()  # offsets on the LR grid, so paired crops align
            lefts = ctx.randint(hr.shape[-1] // s - c + 1, b).tolist()
            offsets = list(enumerate(zip(tops, lefts, strict=True)))
            hr = torch.stack([hr[i, :, t * s : (t + c) * s, x * s : (x + c) * s] for i, (t, x) in offsets])
            if lr is not None:
                lr = torch.stack([lr[i, :, t : t + c, x : x + c] for i, (t, x) in offsets])
        if self.params.augment:
            flags = ctx.randint(8, b)  # bit 0: hflip, bit 1: vflip, bit 2: transpose (a 90-degree rotation with the flips)
            hr = _augment(hr, flags)
            lr = _augment(lr, flags) if lr is not None else None
        if lr is None:
            # One seed per rank from the run's RNG stream: resume replays it (not ctx.randn: a seed is one draw).
            seed = None if isinstance(self.params.degradation, str) else int(ctx.randint(2**62, 1)[0])
            lr = self.degrade(hr, seed)
        deg = self.params.degradation
        if isinstance(deg, str) or not deg.usm_target:
            return lr, hr, hr
        from ganzoo_sr.realesrgan import usm_sharpen

        with torch.no_grad(), torch.autocast(hr.device.type, enabled=False):
            target = usm_sharpen((hr.float() + 1.0) / 2.0) * 2.0 - 1.0  # (B, C, H, W)
        return lr, hr, target.to(hr.dtype)

    # ---------------------------------------------------------------- training

    def train_step(self, ctx: StepContext) -> None:
        G, D = ctx.nets["generator"], ctx.nets.get("discriminator")
        if not ctx.trains("generator"):
            return  # a parameter-free baseline (bicubic): nothing to update

        def critic_inputs(pair: tuple[Tensor, Tensor, Tensor]) -> CriticInputs:
            assert D is not None  # validation: an adversarial loss comes with a discriminator
            return CriticInputs(real=pair[1], fake=lambda: G(pair[0]), critic=D)

        lr, hr, target = self.recipe.discriminator_phase(ctx, lambda: self._train_pair(ctx.next_batch(), ctx), critic_inputs)

        def objective(terms: dict[str, Tensor]) -> Tensor:
            sr = G(lr)  # (B, C, H, W): a fresh graph through G
            loss = sr.new_zeros((), dtype=torch.float32)
            for name, rec, weight in ctx.losses.reconstruction:
                value = rec(sr, target)  # hr, or its unsharp-masked version (Real-ESRGAN)
                loss, terms[name] = loss + weight * value, value.detach()
            if D is not None and self.recipe.trains_discriminator:  # relativistic losses compare with D(hr), D frozen here
                loss = loss + self.recipe.adversarial_term(terms, D(sr), lambda: D(hr))
            return loss

        self.recipe.generator_phase(ctx, objective)

    # ---------------------------------------------------------------- inference

    @torch.no_grad()
    def upscale(
        self, generator: nn.Module, lr: Tensor, *, device: torch.device | str = "cpu", tile: int | None = None,
        tile_pad: int = DEFAULT_TILE_PAD,
    ) -> Tensor:
        """SR of (B, C, h, w) LR in [-1, 1], clamped; with ``tile``, in LR tiles of that side plus ``tile_pad`` context.

        Memory without tiling grows with the image area times the generator's width
        (a 64-feature network holds several (B, 64, sh, sw) float maps); tiles of
        ``tile`` LR pixels bound it, and the padding hides the seams.
        """
        s = self.scale
        if tile is None:
            return self.infer(generator, lr.to(device)).float().clamp(-1, 1).cpu()  # (B, C, sh, sw)
        b, c, h, w = lr.shape
        out = torch.empty(b, c, h * s, w * s)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                t0, l0 = max(top - tile_pad, 0), max(left - tile_pad, 0)
                t1, l1 = min(top + tile + tile_pad, h), min(left + tile + tile_pad, w)
                sr = self.infer(generator, lr[..., t0:t1, l0:l1].to(device)).float().clamp(-1, 1).cpu()  # (B, C, (t1-t0)s, (l1-l0)s)
                bottom, right = min(top + tile, h), min(left + tile, w)
                inner = sr[..., (top - t0) * s : (bottom - t0) * s, (left - l0) * s : (right - l0) * s]  # the tile without its padding
                out[..., top * s : bottom * s, left * s : right * s] = inner
        return out

    def infer(self, generator: nn.Module, lr: Tensor) -> Tensor:
        """SR of (B, C, h, w) LR at inference: the generator's output, or its self-ensemble mean when ``self_ensemble``."""
        if not self.params.self_ensemble:
            return generator(lr)  # (B, C, sh, sw)
        total = None
        for k in range(8):  # bit 0: flip W, bit 1: flip H, bit 2: transpose; undone in reverse order
            x = lr.flip(-1) if k & 1 else lr
            x = x.flip(-2) if k & 2 else x
            x = x.transpose(-1, -2) if k & 4 else x
            y = generator(x).float()  # (B, C, s*w, s*h) when transposed
            y = y.transpose(-1, -2) if k & 4 else y
            y = y.flip(-2) if k & 2 else y
            y = y.flip(-1) if k & 1 else y
            total = y if total is None else total + y
        assert total is not None
        return total / 8  # (B, C, sh, sw)

    def eval_protocol(self) -> dict[str, Any]:
        """Scale and degradation (and the self-ensemble, when on): PSNR at x2 and at x4 are different protocols."""
        deg = self.params.degradation
        protocol = {"scale": self.params.scale, "degradation": deg if isinstance(deg, str) else deg.model_dump(mode="json")}
        return {**protocol, "self_ensemble": True} if self.params.self_ensemble else protocol

    @torch.no_grad()
    def eval_pair(self, generator: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"pred": SR, "target": HR}`` in [-1, 1] for the reconstruction metrics (no augmentation, whole images)."""
        lr, hr = self.pair(batch)
        sr = self.infer(generator, lr).float().clamp(-1, 1)  # (B, C, H, W)
        if sr.shape != hr.shape:
            raise ConfigError(
                f"the generator maps LR {tuple(lr.shape)} to {tuple(sr.shape)}, expected {tuple(hr.shape)}: is its scale {self.scale}?"
            )
        return {"pred": sr, "target": hr.float()}

    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, lr: Tensor | None = None, **kwargs: Any) -> Tensor:
        """SR of ``lr`` when given; otherwise of ``n`` seeded random crops of the bundled held-out photos.

        The crops have the HR side and channels of the data the generator was
        trained on (from :meth:`configure`).
        """
        if lr is None:
            if self.info is None:
                raise ConfigError("sample() without lr needs the task configured with the run's data (ganzoo.load_generator does it)")
            hr = mod_crop(heldout_crops(n, self.info.size, seed, self.info.channels), self.scale)
            lr = self.degrade(hr)  # (n, C, S/s, S/s)
        return torch.cat([self.upscale(generator, chunk, device=device) for chunk in lr.split(64)])

    def preview(self, run: RunContext, n: int) -> Tensor:
        """Three fixed validation inputs as rows of (bicubic-upsampled LR | SR | HR)."""
        assert self._preview is not None, "setup() picks the preview inputs"
        hr, lr = self._preview
        lr, hr = self.pair({"image": hr, **({self.params.lr_key: lr} if lr is not None else {})})
        sr = self.upscale(run.eval_generator, lr, device=run.device)
        rows = [torch.stack([bicubic_up(lr[i : i + 1], self.scale)[0], sr[i], hr[i]]) for i in range(len(hr))]
        return torch.cat(rows)  # (3k, C, H, W): with k = 3 the near-square grid puts one triplet per row


def _augment(x: Tensor, flags: Tensor) -> Tensor:
    """Per-sample flips and transposition of (B, C, H, W) by the bits of ``flags`` (B,)."""
    view = (-1, 1, 1, 1)
    x = torch.where((flags & 1).bool().view(view), x.flip(-1), x)
    x = torch.where((flags & 2).bool().view(view), x.flip(-2), x)
    if x.shape[-1] == x.shape[-2]:  # a transpose keeps the shape only for square crops
        x = torch.where((flags & 4).bool().view(view), x.transpose(-1, -2), x)
    return x

