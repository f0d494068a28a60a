"""Probe: does a U-Net correction of the biharmonic fill generalise to held-out photos?

Issue 13's pilots trained registry specs through `ganzoo train` and saw the
correction go to zero. This probe strips everything else away to ask why: it
trains a plain U-Net (input: the fill and the mask; output: fill + correction)
on a fixed pool of training crops of ``inpaint-photos`` with their free-form
holes and precomputed torch biharmonic fills (so the fill's cost is paid once),
under a CPU-time budget at one thread, and prints at intervals

* held-out hole PSNR (the metric of the specs: per image, uint8, mean over the
  102 held-out images at 64 px, or 38 at 128 px), overall, tiles, faces;
* on the first 512 pool items: the hole MSE on [-1, 1], its mean log and the
  per-image hole PSNR, against the fill's own numbers printed first.

    OMP_NUM_THREADS=1 python benchmarks/inpaint_correction_probe.py --loss mse --lr 5e-4 --seconds 1080
    OMP_NUM_THREADS=1 python benchmarks/inpaint_correction_probe.py --loss logmse --lr 5e-4 --seconds 300

    OMP_NUM_THREADS=1 python benchmarks/inpaint_correction_probe.py --extra-photos retina clock cell --seconds 1080
    python benchmarks/inpaint_correction_probe.py --data faces --band-limited   # the control, no training

``--data faces`` trains on LFW faces 0-79 and scores faces 80-99 only. Those
faces are 25 px crops upscaled bicubically, so they are band-limited: the
``--band-limited`` control fills them classically, without training, by the
least-squares 25 px image whose bicubic upscaling matches the known pixels
(plus a small Laplacian penalty), and shows how much a model can gain on them
by learning the upscaling alone.

``logmse`` trains on the mean over images of log(hole MSE), which is what the
mean per-image PSNR rewards (MSE over a batch weighs the textured crops most).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganzoo.metrics import psnr
from ganzoo_data import crops
from ganzoo_data.crops import build_inpaint_photos
from ganzoo_data.params import InpaintPhotosParams
from ganzoo_inpaint.fill import biharmonic_fill
from ganzoo_inpaint.masks import content_seeds, masks_from_seeds
from ganzoo_inpaint.params import FreeFormMaskParams

HELDOUT_FACES = 20  # the held-out split ends with LFW faces 80-99


def _block(i: int, o: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=dilation, dilation=dilation), nn.LeakyReLU(0.2))


class CorrectionUNet(nn.Module):
    """Three stride-2 levels, a dilated bottleneck, skip connections; returns ``fill + correction``."""

    def __init__(self, width: int = 16, channels: int = 3) -> None:
        super().__init__()
        w = width
        self.e0 = nn.Sequential(_block(channels + 1, w), _block(w, w))
        self.e1 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2), _block(2 * w, 2 * w))
        self.e2 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.LeakyReLU(0.2), _block(4 * w, 4 * w))
        self.e3 = nn.Sequential(nn.Conv2d(4 * w, 4 * w, 3, 2, 1), nn.LeakyReLU(0.2),
                                _block(4 * w, 4 * w, 2), _block(4 * w, 4 * w, 4), _block(4 * w, 4 * w))
        self.d2 = nn.Sequential(_block(8 * w, 4 * w), _block(4 * w, 4 * w))
        self.d1 = nn.Sequential(_block(6 * w, 2 * w), _block(2 * w, 2 * w))
        self.d0 = nn.Sequential(_block(3 * w, w), _block(w, w))
        self.out = nn.Conv2d(w, channels, 3, padding=1)
        nn.init.zeros_(self.out.bias)
        self.out.weight.data.mul_(0.1)  # small, not zero: a zero layer passes no gradient down

    def forward(self, fill: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        def up(x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, scale_factor=2, mode="nearest")

        x0 = self.e0(torch.cat([fill, mask], 1))  # (B, w, S, S)
        x1 = self.e1(x0)  # (B, 2w, S/2, S/2)
        x2 = self.e2(x1)  # (B, 4w, S/4, S/4)
        x3 = self.e3(x2)  # (B, 4w, S/8, S/8)
        y = self.d2(torch.cat([up(x3), x2], 1))
        y = self.d1(torch.cat([up(y), x1], 1))
        y = self.d0(torch.cat([up(y), x0], 1))  # (B, w, S, S)
        return fill + self.out(y)  # (B, C, S, S)


def _fills(x: torch.Tensor, m: torch.Tensor, iters: int) -> torch.Tensor:
    return torch.cat([biharmonic_fill(x[i : i + 32] * (1 - m[i : i + 32]), m[i : i + 32], iters) for i in range(0, len(x), 32)])


def _u8(x: torch.Tensor) -> torch.Tensor:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _hole_psnr(pred: torch.Tensor, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Per-image hole PSNR of ``pred`` composited into ``x``, as the specs score it (uint8)."""
    return psnr(_u8(torch.where(m.bool(), pred, x)), _u8(x), mask=m, reduction="none")  # (B,)


def _hole_mse(pred: torch.Tensor, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return (((pred - x) ** 2) * m).sum((1, 2, 3)) / (x.shape[1] * m.sum((1, 2, 3))).clamp(min=1)  # (B,)


def band_limited_fill(x: torch.Tensor, m: torch.Tensor, low: int, penalty: float = 1e-4) -> torch.Tensor:
    """Per image and channel, the ``low`` px image whose bicubic upscaling best matches the known pixels; its upscaling."""
    side = x.shape[-1]
    basis = torch.eye(low * low, dtype=torch.float64).view(-1, 1, low, low)
    up = F.interpolate(basis, size=(side, side), mode="bicubic", align_corners=False).view(low * low, -1).T  # (S*S, L*L)
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float64).view(1, 1, 3, 3)
    lap = F.conv2d(basis, kernel, padding=1).view(low * low, -1).T * penalty**0.5  # (L*L, L*L)
    out = torch.empty_like(x)
    for i in range(len(x)):
        known = ~m[i, 0].bool().view(-1)
        a = torch.cat([up[known], lap])
        y = torch.cat([x[i].double().view(x.shape[1], -1)[:, known].T, torch.zeros(low * low, x.shape[1], dtype=torch.float64)])
        out[i] = (up @ torch.linalg.lstsq(a, y).solution).T.reshape(x.shape[1:]).float()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--pool", type=int, default=2000, help="training crops (with holes and fills) drawn once")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=900, help="CPU seconds of training")
    ap.add_argument("--loss", choices=["mse", "logmse"], default="mse")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--extra-photos", nargs="*", default=[], metavar="NAME",
                    help="more skimage.data photos (single images) for the training pool, e.g. retina clock cell")
    ap.add_argument("--band-limited", action="store_true", help="print the band-limited least-squares control and stop")
    ap.add_argument("--data", choices=["photos", "faces"], default="photos",
                    help="faces: train on LFW faces 0-79 only, score on faces 80-99 only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.extra_photos:
        crops.TRAIN_PHOTOS = (*crops.TRAIN_PHOTOS, *args.extra_photos)
    iters = 50 if args.size <= 64 else 400  # the CG steps that match scikit-image (docs/inpainting.md)
    holes = FreeFormMaskParams(hole_range=(0.1, 0.4))
    held = build_inpaint_photos(InpaintPhotosParams(split="heldout", size=args.size))
    hx = torch.stack([held[i]["image"] for i in range(len(held))])
    if args.data == "faces":
        hx = hx[-HELDOUT_FACES:]
    hm = masks_from_seeds(holes, content_seeds(hx, 0), args.size, args.size)  # the task's evaluation holes
    hf = _fills(hx, hm, iters)
    if args.band_limited:
        pred = band_limited_fill(hx, hm, low=25)
        v, b = _hole_psnr(pred, hx, hm), _hole_psnr(hf, hx, hm)
        print(f"{len(hx)} images: biharmonic {float(b.mean()):.3f}, band-limited least squares {float(v.mean()):.3f}")
        return
    train = build_inpaint_photos(InpaintPhotosParams(split="train", size=args.size, samples=args.pool))
    slots = len(crops.TRAIN_PHOTOS) + 1  # the last slot of each rotation is a face (ganzoo_data.crops)
    items = [slots * i + slots - 1 for i in range(args.pool)] if args.data == "faces" else range(args.pool)
    train.samples = max(items) + 1
    px = torch.stack([train[i]["image"] for i in items])
    pm = masks_from_seeds(holes, list(range(1000, 1000 + args.pool)), args.size, args.size)
    pf = _fills(px, pm, iters)
    net = CorrectionUNet(args.width)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)

    def heldout(pred: torch.Tensor) -> str:
        v = _hole_psnr(pred, hx, hm)
        if args.data == "faces":
            return f"heldout faces {float(v.mean()):.3f}"
        return f"heldout {float(v.mean()):.3f} (tiles {float(v[:-HELDOUT_FACES].mean()):.3f}, faces {float(v[-HELDOUT_FACES:].mean()):.3f})"

    def pool(pred: torch.Tensor, n: int = 512) -> str:
        mse = _hole_mse(pred, px[:n], pm[:n])
        return f"pool mse {float(mse.mean()):.5f} logmse {float(mse.log().mean()):.4f} psnr {float((10 * torch.log10(4 / mse)).mean()):.3f}"

    @torch.no_grad()
    def report(tag: str) -> None:
        net.eval()
        ph = torch.cat([net(hf[i : i + 32], hm[i : i + 32]) for i in range(0, len(hx), 32)])
        pp = torch.cat([net(pf[i : i + 32], pm[i : i + 32]) for i in range(0, 512, 32)])
        net.train()
        print(f"{tag}: {heldout(ph)}; {pool(pp)}", flush=True)

    print(f"biharmonic fill: {heldout(hf)}; {pool(pf[:512])}", flush=True)
    step, start = 0, time.process_time()
    while time.process_time() - start < args.seconds:
        idx = torch.randint(args.pool, (args.batch,))
        k, flip = int(torch.randint(4, ())), bool(torch.rand(()) < 0.5)
        x, m, f = (t[idx].rot90(k, (2, 3)) for t in (px, pm, pf))  # the fill (nearly) commutes with these
        if flip:
            x, m, f = x.flip(3), m.flip(3), f.flip(3)
        mse = _hole_mse(net(f, m), x, m)
        loss = mse.mean() if args.loss == "mse" else (mse + 1e-5).log().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % args.every == 0:
            report(f"step {step} ({time.process_time() - start:.0f} CPU-s)")
    report(f"final, step {step}")


if __name__ == "__main__":
    main()
