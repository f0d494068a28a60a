"""Super-resolution: the ``super-resolution`` task, SRResNet/RRDB/bicubic generators, the VGG-style D,
the ``sr-photos`` and ``sr-paired`` datasets and the ``ganzoo upscale`` / ``ganzoo sr-eval`` commands.

Hook implementations only; networks, data and torch are imported when a component is built.
See docs/super-resolution.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ganzoo import DatasetEntry, ModelEntry, TaskEntry, hookimpl
from ganzoo_sr.params import (
    BicubicParams,
    EDSRLiteParams,
    RRDBParams,
    SRBenchmarkParams,
    SRPairedParams,
    SRPhotosParams,
    SRResNetParams,
    SRTaskParams,
    VGGStyleParams,
)
from ganzoo_sr.realesrgan_params import UNetDParams

if TYPE_CHECKING:  # pragma: no cover
    import click
    from torch import nn

    from ganzoo import DataInfo

TASK = "super-resolution"


def _srresnet(params: SRResNetParams, info: DataInfo) -> nn.Module:
    from ganzoo_sr.nets import MSRResNet

    return MSRResNet(info.channels, params.scale, params.num_feat, params.num_block)


def _edsr_lite(params: EDSRLiteParams, info: DataInfo) -> nn.Module:
    from ganzoo_sr.lite import EDSRLite

    return EDSRLite(info.channels, params.scale, params.num_feat, params.num_block, params.attention)


def _rrdb(params: RRDBParams, info: DataInfo) -> nn.Module:
    from ganzoo_sr.nets import RRDBNet

    return RRDBNet(info.channels, params.scale, params.num_feat, params.num_block, params.num_grow_ch, params.res_scale)


def _bicubic(params: BicubicParams, info: DataInfo) -> nn.Module:
    from ganzoo_sr.nets import Bicubic

    return Bicubic(params.scale)


def _vgg_style(params: VGGStyleParams, info: DataInfo) -> nn.Module:
    from ganzoo_sr.nets import VGGStyleDiscriminator

    return VGGStyleDiscriminator(info.channels, params.num_feat, params.input_size or info.size)


def _unet_d(params: UNetDParams, info: DataInfo) -> nn.Module:
    from ganzoo_sr.unet_d import UNetDiscriminatorSN

    return UNetDiscriminatorSN(info.channels, params.num_feat, params.skip_connection)


def _task(params: SRTaskParams) -> Any:
    from ganzoo_sr.task import SuperResolution

    return SuperResolution(params)


def _sr_photos(params: SRPhotosParams) -> Any:
    from ganzoo_sr.data import build_sr_photos

    return build_sr_photos(params)


def _sr_paired(params: SRPairedParams) -> Any:
    from ganzoo_sr.paired import build_sr_paired

    return build_sr_paired(params)


def _sr_benchmark(params: SRBenchmarkParams) -> Any:
    from ganzoo_sr.benchmark import build_sr_benchmark

    return build_sr_benchmark(params)


@hookimpl
def ganzoo_tasks() -> Iterable[TaskEntry]:
    return [
        TaskEntry(
            name=TASK,
            build=_task,
            params=SRTaskParams,
            requires=("losses.reconstruction",),  # the discriminator is optional: without one the task is PSNR-oriented
            description="Single-image super-resolution: LR (paired or bicubic-degraded HR) -> HR; G-only (PSNR) or with D (SRGAN/ESRGAN).",
        )
    ]


@hookimpl
def ganzoo_models() -> Iterable[ModelEntry]:
    sr = (TASK,)
    return [
        ModelEntry(name="srresnet", role="generator", tasks=sr, build=_srresnet, params=SRResNetParams,
                   description="MSRResNet (BasicSR): no-BN residual blocks, pixel-shuffle upsampling, bilinear skip."),
        ModelEntry(name="rrdb", role="generator", tasks=sr, build=_rrdb, params=RRDBParams,
                   description="ESRGAN RRDBNet: residual-in-residual dense blocks (residual scaling 0.2), nearest+conv upsampling."),
        ModelEntry(name="edsr-lite", role="generator", tasks=sr, build=_edsr_lite, params=EDSRLiteParams,
                   description="CPU-sized PSNR net: EDSR blocks at LR (optional channel attention), one sub-pixel conv, bicubic skip."),
        ModelEntry(name="bicubic", role="generator", tasks=sr, build=_bicubic, params=BicubicParams,
                   description="Parameter-free bicubic upsampling (MATLAB kernel): the baseline, evaluated by the same code."),
        # A plain image D, (B, C, S, S) -> (B,), for any task that calls D(x) (SR, unconditional GANs), as dcgan and timm.
        ModelEntry(name="vgg-style", role="discriminator", build=_vgg_style, params=VGGStyleParams,
                   description="SRGAN/ESRGAN VGG-style discriminator: conv/BN/LeakyReLU stages and a dense head at a fixed input size."),
        # Per-pixel logits (B, 1, H, W) at any size; the adversarial losses average over them.
        ModelEntry(name="unet-sn", role="discriminator", build=_unet_d, params=UNetDParams,
                   description="Real-ESRGAN's U-Net discriminator with spectral norm: 3 down, 3 up with skips, per-pixel logits."),
    ]


@hookimpl
def ganzoo_datasets() -> Iterable[DatasetEntry]:
    return [
        DatasetEntry(name="sr-photos", build=_sr_photos, params=SRPhotosParams,
                     description="scikit-image's bundled photos: random HR crops (train) or fixed tiles of held-out photos (no download)."),
        DatasetEntry(name="sr-paired", build=_sr_paired, params=SRPairedParams,
                     description="Your own HR and LR folders, matched by file stem (DIV2K's 0001x4 too), sizes checked; paired crops."),
        DatasetEntry(name="sr-benchmark", build=_sr_benchmark, params=SRBenchmarkParams,
                     description="A benchmark folder of whole HR images (Set5/Set14/BSD100 style): bicubic or given LR, any sizes."),
    ]


@hookimpl
def ganzoo_register_commands(cli: click.Group) -> None:
    from ganzoo_sr.cli import sr_eval, upscale

    cli.add_command(upscale)
    cli.add_command(sr_eval)
