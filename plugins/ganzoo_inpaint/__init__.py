"""Inpainting: the ``inpainting`` task, gated-conv / partial-conv / context-encoder / fill-unet generators,
the SN-PatchGAN discriminator, classical baselines, the ``inpaint-buckets`` metric and ``ganzoo inpaint``.

Hook implementations only; networks, masks and torch are imported when built.
Masks are float, 1 = hole, (B, 1, H, W) (docs/inpainting.md).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

from ganzoo import MetricEntry, ModelEntry, PluginError, TaskEntry, hookimpl
from ganzoo_inpaint.params import (
    BiharmonicParams,
    BucketMetricParams,
    ContextEncoderParams,
    FillUNetParams,
    GatedConvParams,
    InpaintingParams,
    PartialConvParams,
    PatchDiscParams,
    PyramidParams,
    TeleaParams,
)

_TASKS = ("inpainting",)


def _task(params: InpaintingParams) -> Any:
    from ganzoo_inpaint.task import Inpainting

    return Inpainting(params)


def _gated(params: GatedConvParams, info: Any) -> Any:
    from ganzoo_inpaint.nets import GatedConvGenerator

    return GatedConvGenerator(
        info.channels, params.width, tuple(params.dilations), params.two_stage, params.attention, params.attention_rate,
        params.start, params.fill_iters, params.fill, params.start_scale,
    )


def _pconv(params: PartialConvParams, info: Any) -> Any:
    from ganzoo_inpaint.nets import PartialConvUNet

    return PartialConvUNet(info.channels, params.width, params.depth, params.batch_norm, params.start, params.fill_iters, params.fill,
                           params.start_scale)


def _context_encoder(params: ContextEncoderParams, info: Any) -> Any:
    from ganzoo_inpaint.nets import ContextEncoder

    return ContextEncoder(info.channels, info.size, params.width, params.bottleneck, params.start, params.fill_iters, params.fill,
                          params.start_scale)


def _fill_unet(params: FillUNetParams, info: Any) -> Any:
    from ganzoo_inpaint.unet import FillUNet

    return FillUNet(info.channels, params.width, params.depth, tuple(params.dilations), params.fill, params.fill_iters,
                    params.start_scale)


def _patch(params: PatchDiscParams, info: Any) -> Any:
    from ganzoo_inpaint.nets import PatchDiscriminator

    return PatchDiscriminator(info.channels, params.width, params.depth, params.mask_channel, params.spectral_norm)


def _biharmonic(params: BiharmonicParams, info: Any) -> Any:
    from ganzoo_inpaint.baselines import Biharmonic

    return Biharmonic(params.solver)


def _pyramid(params: PyramidParams, info: Any) -> Any:
    from ganzoo_inpaint.baselines import Pyramid

    return Pyramid(params.iters, params.biharmonic_iters)


def _telea(params: TeleaParams, info: Any) -> Any:
    # Registered everywhere (the schema and catalogue must not depend on the machine);
    # OpenCV is an optional dependency, asked for when a spec actually uses telea.
    if importlib.util.find_spec("cv2") is None:
        raise PluginError("the telea baseline needs OpenCV: pip install 'ganzoo[inpaint]' (or opencv-python-headless)")
    from ganzoo_inpaint.baselines import Telea

    return Telea(params.radius)


@hookimpl
def ganzoo_tasks() -> Iterable[TaskEntry]:
    return [
        TaskEntry(
            name="inpainting",
            build=_task,
            params=InpaintingParams,
            requires=(),  # reconstruction-only or adversarial: checked when the run is set up
            description="Fill holes (mask 1 = hole; free-form, box or mask-folder masks made on the fly) "
            "with reconstruction and optional adversarial losses.",
        )
    ]


@hookimpl
def ganzoo_models() -> Iterable[ModelEntry]:
    return [
        ModelEntry(name="gated-conv", role="generator", tasks=_TASKS, build=_gated, params=GatedConvParams,
                   description="DeepFill v2 gated-conv generator (dilated bottleneck, optional coarse-to-fine with contextual attention)."),
        ModelEntry(name="partial-conv", role="generator", tasks=_TASKS, build=_pconv, params=PartialConvParams,
                   description="PConv U-Net (Liu et al. 2018): partial convolutions with mask update and re-normalisation."),
        ModelEntry(name="context-encoder", role="generator", tasks=_TASKS, build=_context_encoder, params=ContextEncoderParams,
                   description="Context encoder (Pathak et al. 2016): conv encoder, channel-wise FC, up-conv decoder; fixed input size."),
        ModelEntry(name="fill-unet", role="generator", tasks=_TASKS, build=_fill_unet, params=FillUNetParams,
                   description="Plain conv U-Net correcting a classical fill (biharmonic by default); starts as the fill."),
        ModelEntry(name="patch", role="discriminator", tasks=_TASKS, build=_patch, params=PatchDiscParams,
                   description="SN-PatchGAN (DeepFill v2): spectral-norm 5x5 stride-2 convs on image + mask, logits per patch."),
        ModelEntry(name="biharmonic", role="generator", tasks=_TASKS, build=_biharmonic, params=BiharmonicParams,
                   description="Baseline: scikit-image biharmonic inpainting; no trainable parameters."),
        ModelEntry(name="pyramid", role="generator", tasks=_TASKS, build=_pyramid, params=PyramidParams,
                   description="Baseline: push-pull pyramid fill + harmonic (Jacobi) smoothing, batched torch; no trainable parameters."),
        ModelEntry(name="telea", role="generator", tasks=_TASKS, build=_telea, params=TeleaParams,
                   description="Baseline: OpenCV Telea fast-marching inpainting; no trainable parameters (needs ganzoo[inpaint])."),
    ]


def _buckets(params: BucketMetricParams) -> Any:
    from ganzoo_inpaint.buckets import BucketMetric

    return BucketMetric(params)


@hookimpl
def ganzoo_metrics() -> Iterable[MetricEntry]:
    return [
        MetricEntry(name="inpaint-buckets", build=_buckets, params=BucketMetricParams,
                    description="Hole PSNR or L1 per hole-area bucket (0-10%, ..., 50-60%) on fixed masks (PConv/LaMa protocol)."),
    ]


@hookimpl
def ganzoo_register_commands(cli: Any) -> None:
    from ganzoo_inpaint.cli import inpaint

    cli.add_command(inpaint)
