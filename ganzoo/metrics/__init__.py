"""Pure functional metric math: reconstruction metrics, distribution metrics, streaming stats.

Everything here works on tensors that are already in memory (images or extracted
features); feature extractors and dataset plumbing live in the metrics plugin.
"""

from ganzoo.metrics.generation import (
    SmallSampleWarning,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_from_moments,
    inception_score,
    kernel_inception_distance,
    kid_subset_indices,
    polynomial_mmd2_unbiased,
    precision_recall,
)
from ganzoo.metrics.reconstruction import l1, ms_ssim, psnr, rgb_to_y, ssim
from ganzoo.metrics.stats import StreamingMoments

__all__ = [
    "SmallSampleWarning",
    "StreamingMoments",
    "frechet_distance",
    "frechet_distance_from_features",
    "frechet_distance_from_moments",
    "inception_score",
    "kernel_inception_distance",
    "kid_subset_indices",
    "l1",
    "ms_ssim",
    "polynomial_mmd2_unbiased",
    "precision_recall",
    "psnr",
    "rgb_to_y",
    "ssim",
]
