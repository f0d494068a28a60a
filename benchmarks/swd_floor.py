"""What SWD reads on the bundled faces: its floor at 100 images, and known distortions of them.

    python benchmarks/swd_floor.py

Prints SWD x1e3 per pyramid level (32 px, 16 px) of the 100 training faces
against: themselves with every second face mirrored (near the floor: the
distribution training with hflip sees, other patches), the
100 non-face patches of LFW's subset, the faces blurred once, and the faces with
Gaussian noise, and at half the contrast; with the default normalisation (by the
real set) and with ProGAN's (each set by its own). docs/metrics.md quotes it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from skimage.data import lfw_subset

from ganzoo.api import load_registries
from ganzoo.data import for_evaluation
from ganzoo.metrics.swd import pyr_down, pyr_up, pyramid_descriptors, pyramid_levels, sliced_wasserstein_distance
from ganzoo_data.builtin import resize_square

NORMS: tuple[Literal["real", "each"], ...] = ("real", "each")


def swd(a: torch.Tensor, b: torch.Tensor, normalize: Literal["real", "each"]) -> list[float]:
    """SWD per level of two [-1, 1] image sets, as the metric scores them (uint8, 128 patches, seed 0)."""
    def u8(x: torch.Tensor) -> torch.Tensor:
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)

    levels = pyramid_levels(a.shape[-1])
    g = torch.Generator().manual_seed(0)
    da = pyramid_descriptors(u8(a), levels, per_image=128, size=7, generator=g)
    db = pyramid_descriptors(u8(b), levels, per_image=128, size=7, generator=g)
    dist = sliced_wasserstein_distance(da, db, directions=512, seed=0, normalize=normalize)
    return [round(v, 1) for v in dist]


def main() -> None:
    ds = for_evaluation(load_registries().build("dataset", "faces", {"size": 32}))  # no random flips: fixed images
    faces = torch.stack([ds[i]["image"] for i in range(len(ds))])  # (100, 1, 32, 32) in [-1, 1]
    other = torch.from_numpy(np.asarray(lfw_subset()[100:], dtype=np.float32))[:, None] * 2 - 1
    other = resize_square(other, 32)
    noise = 0.1 * torch.randn(faces.shape, generator=torch.Generator().manual_seed(1))
    rows = {
        "every second face mirrored (as hflip trains)": torch.where((torch.arange(len(faces)) % 2 == 1).view(-1, 1, 1, 1),
                                                                   faces.flip(-1), faces),
        "LFW non-faces": other,
        "blurred once": pyr_up(pyr_down(faces.double())).float(),
        "noise sigma 0.05 (0-1 scale)": faces + noise,
        "contrast x0.5": faces * 0.5,
    }
    print("| faces against | normalize | SWD 32 px | SWD 16 px | mean |")
    print("| --- | --- | --- | --- | --- |")
    for name, x in rows.items():
        for norm in NORMS:
            d = swd(faces, x, norm)
            print(f"| {name} | {norm} | {d[0]} | {d[1]} | {sum(d) / len(d):.1f} |")


if __name__ == "__main__":
    main()
