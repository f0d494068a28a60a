"""Parameter models of the inpainting task and networks (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ganzoo import Params, checks_inputs

__all__ = [
    "BUCKETS",
    "BiharmonicParams",
    "BoxMaskParams",
    "BucketMetricParams",
    "FolderMaskParams",
    "ContextEncoderParams",
    "FillUNetParams",
    "FreeFormMaskParams",
    "GatedConvParams",
    "InpaintingParams",
    "MaskParams",
    "PartialConvParams",
    "PatchDiscParams",
    "PyramidParams",
    "TeleaParams",
]


def _start_field(refine: bool = False) -> Any:
    """The ``start`` field; ``refine`` documents the gated-conv-only option too."""
    return Field(
        "none",
        description="'none': the published architecture. 'fill': start from a classical fill of the holes (push-pull pyramid "
        "+ fill_iters harmonic Jacobi steps, ganzoo_inpaint.fill) and predict a correction added to it; the output layer "
        "is zero-initialised, so a fresh network returns exactly the fill."
        + (" 'refine': as 'fill', and the network's input holds the fill in the holes (rather than zeros), so it sees what "
           "it corrects." if refine else ""),
    )


def _fill_iters_field() -> Any:
    return Field(
        40, ge=0, le=10000,
        description="With start: fill, iterations of the classical fill: Jacobi (harmonic) steps smoothing the push-pull fill "
        "(fill: pyramid), or conjugate-gradient steps towards the biharmonic fill after it (fill: biharmonic; 50 match "
        "scikit-image's at 64 px).",
    )


def _start_scale_field() -> Any:
    return Field(
        0.0, ge=0.0, le=1.0,
        description="With start: fill/refine, the output layer's initial weights times this. 0: a fresh network returns "
        "exactly the fill, but the layers below the output get no gradient until it has grown (measured: at 64 px it never "
        "did); e.g. 0.1 trains every layer from the first step.",
    )


FillKind = Literal["pyramid", "biharmonic", "biharmonic-exact"]


def _fill_field(default: str = "pyramid") -> Any:
    return Field(
        default,
        description="With start: fill/refine, the classical fill started from (ganzoo_inpaint.fill.classical_fill): 'pyramid' "
        "(push-pull + harmonic Jacobi), 'biharmonic' (that, then fill_iters CG steps on the biharmonic equation; scores higher, "
        "costs more) or 'biharmonic-exact' (the same equation solved by a sparse LU per image on the CPU; fill_iters unused; "
        "at 128 px about 12x faster than the 400 CG steps it takes to converge there).",
    )


def _check_range(value: tuple[float, float], name: str, low: float, high: float) -> tuple[float, float]:
    lo, hi = value
    if not (low < lo <= hi < high):
        raise ValueError(f"{name} must satisfy {low} < min <= max < {high}, got [{lo}, {hi}]")
    return value


def _check_dilations(value: tuple[int, ...]) -> tuple[int, ...]:
    if any(d < 1 for d in value):
        raise ValueError("dilation rates must be >= 1")
    return value


class FreeFormMaskParams(Params):
    """DeepFill v2's random brush strokes (Yu et al. 2019), scaled to the image side.

    A target area is drawn uniformly from ``hole_range`` and strokes are added
    until the hole reaches it; a stroke that would overshoot the bucket is
    redrawn, and a hole still too small after 48 draws grows pixel by pixel
    around itself, so every mask lands in the bucket.
    """

    type: Literal["free-form"] = Field("free-form", description="Mask generator: DeepFill v2-style random strokes.")
    hole_range: tuple[float, float] = Field(
        (0.1, 0.4), description="Bucket of the hole's area as a fraction of the image [min, max] (PConv's test buckets: 0.1-0.2, ...)."
    )
    max_vertices: int = Field(12, ge=2, le=64, description="Most vertices of one stroke (DeepFill v2: 4-12).")
    min_width: float = Field(12 / 256, gt=0.0, le=0.5, description="Thinnest brush as a fraction of the side (DeepFill v2: 12 px at 256).")
    max_width: float = Field(40 / 256, gt=0.0, le=0.5, description="Widest brush as a fraction of the side (DeepFill v2: 40 px at 256).")

    @field_validator("hole_range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, "hole_range", 0.0, 1.0)

    @model_validator(mode="after")
    def _widths(self) -> FreeFormMaskParams:
        if self.min_width > self.max_width:
            raise ValueError(f"min_width {self.min_width} exceeds max_width {self.max_width}")
        return self


class BoxMaskParams(Params):
    """One rectangular hole (Pathak et al.'s context encoder: the centre quarter; or at a random place)."""

    type: Literal["box"] = Field("box", description="Mask generator: one rectangle.")
    position: Literal["center", "random"] = Field("center", description="Centre the box (context encoder) or place it uniformly.")
    hole_range: tuple[float, float] = Field(
        (0.25, 0.25), description="Bucket of the box's area as a fraction of the image [min, max]; 0.25 is a centred half-side square."
    )
    aspect_range: tuple[float, float] = Field((1.0, 1.0), description="Range of the box's height/width ratio [min, max]; 1 = square.")

    @field_validator("hole_range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, "hole_range", 0.0, 1.0)

    @field_validator("aspect_range")
    @classmethod
    def _aspect(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, "aspect_range", 0.0, 100.0)


def _mask_root(v: Path, info: ValidationInfo) -> Path:
    v = v.expanduser()
    if checks_inputs(info) and not v.is_dir():
        raise ValueError(f"mask folder {str(v)!r} does not exist or is not a directory")
    return v


class FolderMaskParams(Params):
    """Masks read from a folder of mask images (e.g. the irregular-mask sets papers evaluate on), white = hole.

    Each file is resized to the image (``resize``) and thresholded at mid-grey;
    files whose hole fraction falls outside ``hole_range`` are left out. An image
    gets the file a seed picks: the run's RNG in training, the image's content
    and ``eval_seed`` in evaluation (random pairing, reproducible). To pair masks
    with images by file name, give ``image-folder`` its ``masks`` folder instead.
    """

    type: Literal["folder"] = Field("folder", description="Masks from a folder of mask images.")
    root: Path = Field(..., description="Folder of mask images (white = hole; subfolders included, hidden files skipped).")
    invert: bool = Field(False, description="The files mark known pixels white (1 = known, PConv's convention): invert them.")
    resize: Literal["area", "nearest"] = Field(
        "area", description="How a file is resized to the image: area averaging then mid-grey threshold, or nearest neighbour."
    )
    hole_range: tuple[float, float] = Field(
        (0.01, 0.6), description="Keep only files whose hole, at the image's size, covers this fraction of it [min, max]."
    )

    @field_validator("root")
    @classmethod
    def _root(cls, v: Path, info: ValidationInfo) -> Path:
        return _mask_root(v, info)

    @field_validator("hole_range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, "hole_range", 0.0, 1.0)


MaskParams = Annotated[FreeFormMaskParams | BoxMaskParams | FolderMaskParams, Field(discriminator="type")]

# The PConv/LaMa evaluation buckets of hole area: 0-10 %, 10-20 %, ..., 50-60 %.
BUCKETS: tuple[tuple[float, float], ...] = tuple((i / 10, (i + 1) / 10) for i in range(6))


class BucketMetricParams(Params):
    """Hole PSNR or hole L1 per hole-area bucket, on fixed evaluation masks (the PConv/LaMa protocol)."""

    stat: Literal["psnr", "l1"] = Field("psnr", description="Hole PSNR (dB, higher is better) or hole L1 on [0, 1] (lower is better).")
    buckets: tuple[tuple[float, float], ...] = Field(
        BUCKETS, min_length=1, description="Hole-area buckets [min, max] as fractions of the image; names read b0-10, b10-20, ..."
    )
    seed: int = Field(0, ge=0, description="Seed of the fixed masks: mask i of a bucket is a function of (seed, bucket, i, size).")
    root: Path | None = Field(
        None, description="Take the masks from this folder (white = hole), binned by their hole area at the image size, "
        "instead of generating free-form strokes in each bucket.",
    )
    n: int | None = Field(None, gt=0, description="Score the first n images (all when null) in every bucket.")

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, v: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        for lo, hi in v:
            if not 0.0 <= lo < hi < 1.0:
                raise ValueError(f"bucket [{lo}, {hi}] must satisfy 0 <= min < max < 1")
        return v

    @field_validator("root")
    @classmethod
    def _root(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _mask_root(v, info)


class InpaintingParams(Params):
    """Parameters of the inpainting task (masks are float, 1 = hole, (B, 1, H, W))."""

    mask: MaskParams = Field(default_factory=FreeFormMaskParams, description="How holes are drawn when a batch carries no 'mask'.")
    eval_seed: int = Field(
        0,
        ge=0,
        description="Seed of the evaluation masks; each image's hole is derived from it and the image's content, "
        "so every model is scored on the same holes.",
    )
    hole_weight: float = Field(1.0, ge=0.0, description="Weight of each reconstruction loss over the hole (PConv: 6).")
    valid_weight: float = Field(1.0, ge=0.0, description="Weight of each reconstruction loss over the known pixels (PConv: 1).")
    coarse_weight: float = Field(
        1.0, ge=0.0,
        description="For a coarse-to-fine generator (gated-conv two_stage): the reconstruction losses are also applied to "
        "the coarse output, times this (DeepFill v2: 1, the same L1 on both stages); 0 trains the coarse stage only "
        "through the refined one.",
    )
    loss_normalization: Literal["image", "region"] = Field(
        "image",
        description="'image': a region's loss is summed over it and divided by all pixels, as PConv's L_hole/L_valid "
        "(equal weights = plain full-image loss); 'region': averaged over the region's own pixels, "
        "so a small hole weighs as much as a large one.",
    )
    train_crops: tuple[int, ...] = Field(
        (),
        max_length=8,
        description="Multi-scale training: each step draws one side s from this list (the run's RNG) and cuts every "
        "training image into the non-overlapping s x s tiles of a grid at a random offset, so a step sees about the same "
        "pixels at any side; holes are drawn at s. Each side must be at most the data's size. Empty: train at the data's size.",
    )
    max_hole_fraction: float = Field(
        0.75,
        gt=0.0,
        lt=1.0,
        description="A given mask covering more of an image than this is refused as probably inverted (1 = known); this catches "
        "inverted masks of holes under 1 - max_hole_fraction. PConv's largest test bucket is 50-60%.",
    )

    @field_validator("train_crops")
    @classmethod
    def _crop_sides(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(side < 8 for side in v):
            raise ValueError(f"train_crops sides must be at least 8 px, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _bucket_fits(self) -> InpaintingParams:
        if self.mask.hole_range[1] > self.max_hole_fraction:
            raise ValueError(f"mask.hole_range max {self.mask.hole_range[1]} exceeds max_hole_fraction {self.max_hole_fraction}")
        return self


class GatedConvParams(Params):
    """DeepFill v2-style gated-convolution generator, optionally coarse-to-fine with contextual attention."""

    width: int = Field(
        16, gt=0, le=512, description="Channels of the first layer; the bottleneck has 4x (DeepFill v2: 48 at 256 px, x2 for gates)."
    )
    dilations: tuple[int, ...] = Field(
        (2, 4, 8), min_length=0, max_length=8, description="Dilation rates of the bottleneck's gated convs (DeepFill v2: 2, 4, 8, 16)."
    )
    two_stage: bool = Field(
        False,
        description="Add DeepFill's refinement network on the coarse result (coarse-to-fine); the task's reconstruction "
        "losses also apply to the coarse output, weighted by task.params.coarse_weight.",
    )
    attention: bool = Field(
        False,
        description="Give the refinement network DeepFill's contextual-attention branch, which rebuilds hole features from the "
        "known features they most resemble (Yu et al. 2018); needs two_stage: true.",
    )
    attention_rate: Literal[1, 2] = Field(
        1,
        description="Contextual attention matches 3x3 patches on the 1/4-resolution features pooled by this factor and pastes "
        "full-resolution patches back (4x4 at stride 2 for 2, as DeepFill at 256 px; 3x3 for 1, which keeps all 8x8 feature "
        "locations of a 32 px image). 2 pads inputs to multiples of 8.",
    )
    start: Literal["none", "fill", "refine"] = _start_field(refine=True)
    fill_iters: int = _fill_iters_field()
    fill: FillKind = _fill_field()
    start_scale: float = _start_scale_field()

    @property
    def num_stages(self) -> int:
        """Stages whose outputs the generator returns with ``stages=True`` (what the inpainting task reads)."""
        return 2 if self.two_stage else 1

    @field_validator("dilations")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        return _check_dilations(v)

    @model_validator(mode="after")
    def _attention_needs_refinement(self) -> GatedConvParams:
        if self.attention and not self.two_stage:
            raise ValueError("attention: true needs two_stage: true (contextual attention is a branch of the refinement network)")
        return self


class PartialConvParams(Params):
    """PConv U-Net (Liu et al. 2018) with mask updating and re-normalisation."""

    width: int = Field(16, gt=0, le=512, description="Channels of the first encoder layer (PConv: 64); doubled per level up to 8x.")
    depth: int = Field(4, ge=1, le=8, description="Encoder levels, each halving the side (PConv: 8 at 512 px).")
    batch_norm: bool = Field(
        True, description="Batch norm after every partial conv but the first encoder and last decoder layer, as in the paper."
    )
    start: Literal["none", "fill"] = _start_field()
    fill_iters: int = _fill_iters_field()
    fill: FillKind = _fill_field()
    start_scale: float = _start_scale_field()


class ContextEncoderParams(Params):
    """Context encoder (Pathak et al. 2016): conv encoder, channel-wise fully connected bottleneck, up-conv decoder."""

    width: int = Field(16, gt=0, le=512, description="Channels of the first encoder layer (Pathak: 64); doubled per level.")
    bottleneck: int = Field(
        4, ge=2, le=16, description="Side of the bottleneck feature map (Pathak: 4); the input side is a power-of-two multiple of it."
    )
    start: Literal["none", "fill"] = _start_field()
    fill_iters: int = _fill_iters_field()
    fill: FillKind = _fill_field()
    start_scale: float = _start_scale_field()


class FillUNetParams(Params):
    """A plain conv U-Net that corrects a classical fill (ganzoo's own; the issue-13 recipe, docs/inpainting.md).

    Its input is the fill and the mask, its output ``fill + correction``; the
    output layer starts at ``start_scale`` times its random draw, so a fresh
    network returns nearly the fill and every layer gets a gradient from step 1.
    No normalisation layers: the correction's statistics differ between small and
    large holes, and batch statistics would couple a sample to its batch mates.
    """

    width: int = Field(16, gt=0, le=512, description="Channels of the full-resolution level; doubled per level up to 4x.")
    depth: int = Field(3, ge=1, le=6, description="Stride-2 levels (the input side is padded to a multiple of 2**depth).")
    dilations: tuple[int, ...] = Field(
        (2, 4), max_length=8, description="Dilation rates of the extra 3x3 convs at the coarsest level (a wider view of the hole)."
    )
    fill: FillKind = _fill_field("biharmonic-exact")
    fill_iters: int = _fill_iters_field()
    start_scale: float = Field(
        0.1, ge=0.0, le=1.0,
        description="The output layer's initial weights times this: 0 returns exactly the fill but trains no layer below the "
        "output until it grows; 0.1 (measured at 64 px) trains them all from the first step.",
    )

    @field_validator("dilations")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        return _check_dilations(v)


class PatchDiscParams(Params):
    """SN-PatchGAN discriminator (DeepFill v2): 5x5 stride-2 spectral-norm convs, logits per patch and channel."""

    width: int = Field(16, gt=0, le=512, description="Channels of the first layer (DeepFill v2: 64); doubled up to 4x.")
    depth: int = Field(4, ge=1, le=8, description="Stride-2 layers (DeepFill v2: 6 at 256 px).")
    mask_channel: bool = Field(
        True, description="Take the mask as an extra input channel (DeepFill v2 does), so D knows where the hole was."
    )
    spectral_norm: bool = Field(True, description="Spectral normalisation on every conv (the 'SN' of SN-PatchGAN).")


class BiharmonicParams(Params):
    """The biharmonic inpainting baseline: scikit-image's, or ganzoo's own solve of the same equation."""

    solver: Literal["scikit-image", "sparse-lu"] = Field(
        "scikit-image",
        description="'scikit-image': skimage.restoration.inpaint_biharmonic. 'sparse-lu': ganzoo_inpaint.fill.biharmonic_exact "
        "(the fill that fill-unet's fill: biharmonic-exact starts from; the torch CG's equation, replicate border, "
        "about 30 ms per 128 px RGB image).",
    )


class PyramidParams(Params):
    """The push-pull pyramid + harmonic (Jacobi) fill baseline, in torch (ganzoo_inpaint.fill.pyramid_fill)."""

    iters: int = Field(40, ge=0, le=10000, description="Jacobi (harmonic) iterations smoothing the push-pull fill.")
    biharmonic_iters: int = Field(
        0, ge=0, le=10000,
        description="Then conjugate-gradient steps towards the biharmonic fill (ganzoo_inpaint.fill.biharmonic_smooth): the "
        "torch biharmonic fill that start: fill generators with fill: biharmonic start from (50 match scikit-image's at 64 px).",
    )


class TeleaParams(Params):
    """OpenCV's Telea fast-marching inpainting baseline."""

    radius: int = Field(3, ge=1, le=64, description="Neighbourhood radius in pixels (cv2.inpaint's inpaintRadius).")
