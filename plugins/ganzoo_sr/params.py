"""Parameter models of the super-resolution plugin (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ganzoo import Params, checks_inputs
from ganzoo_sr.realesrgan_params import RealESRGANParams

__all__ = [
    "HELDOUT_PHOTOS",
    "KNOWN_PHOTOS",
    "MOTORCYCLE",
    "SKLEARN_PHOTOS",
    "TRAIN_PHOTOS",
    "BicubicParams",
    "EDSRLiteParams",
    "RRDBParams",
    "SRBenchmarkParams",
    "SRPairedParams",
    "SRPhotosParams",
    "SRResNetParams",
    "SRTaskParams",
    "Scale",
    "VGGStyleParams",
]

Scale = Literal[2, 3, 4]

# scikit-image's bundled colour photos (no download). The split is fixed so that
# held-out numbers never see a training pixel; see docs/super-resolution.md.
# Grey photos are used as RGB (three equal channels): they add textures (brick,
# grass, gravel) that the few colour photos lack. ``cat`` is ``chelsea`` again; ``retina`` and
# ``colorwheel`` are mostly flat background, so they are left out.
TRAIN_PHOTOS: tuple[str, ...] = (
    "astronaut", "rocket", "immunohistochemistry", "hubble_deep_field",
    "camera", "brick", "grass", "gravel", "moon", "coins", "clock",
)
HELDOUT_PHOTOS: tuple[str, ...] = ("chelsea", "coffee")
# scikit-learn's two sample photos (JPEGs, 640x427), natural colour scenes the skimage set lacks.
SKLEARN_PHOTOS: tuple[str, ...] = ("china", "flower")
# skimage's ``stereo_motorcycle`` left view (741x500): a natural colour street scene, the only other one offline.
MOTORCYCLE = "motorcycle"
# Every name ``photos`` may list: the held-out photos (and ``cat``, which is chelsea) never.
KNOWN_PHOTOS: tuple[str, ...] = (*TRAIN_PHOTOS, *SKLEARN_PHOTOS, "cell", "retina", MOTORCYCLE)


class SRTaskParams(Params):
    """Parameters of the ``super-resolution`` task."""

    scale: Scale = Field(4, description="Upscaling factor; the generator's own scale must match.")
    lr_key: str = Field("lr", min_length=1, description="Batch key of a paired low-resolution input; absent: made from the HR image.")
    degradation: Literal["bicubic"] | RealESRGANParams = Field(
        "bicubic",
        description="How LR is made from HR when a batch has none. bicubic: torch's antialiased bicubic (MATLAB imresize's "
        "kernel, equal in the interior, differs within ~2 px of the border), clamped and rounded to 8 bits. "
        "{type: realesrgan, ...}: Real-ESRGAN's random second-order blur/resize/noise/JPEG (blind SR).",
    )
    crop: int | None = Field(None, ge=8, description="Random HR crop side for training (a multiple of scale); null: whole images.")
    augment: bool = Field(
        True, description="Random horizontal/vertical flips and 90-degree rotations of training pairs (BasicSR's hflip/rot)."
    )
    self_ensemble: bool = Field(
        False,
        description="Geometric self-ensemble at inference (EDSR+, Lim et al. 2017): the SR is the mean of the outputs for the "
        "8 flips/transpositions of the LR, each mapped back. 8x the inference cost; used by evaluation, sample and upscale, "
        "and recorded in the metric protocol.",
    )


class SRResNetParams(Params):
    """MSRResNet (BasicSR): residual blocks without batch norm, pixel-shuffle upsampling, bilinear skip."""

    scale: Scale = Field(4, description="Upscaling factor (must equal the task's scale).")
    num_feat: int = Field(16, gt=0, le=512, description="Feature channels (BasicSR's MSRResNet: 64).")
    num_block: int = Field(2, ge=1, le=64, description="Residual blocks (BasicSR's MSRResNet: 16).")


class RRDBParams(Params):
    """ESRGAN's RRDBNet: residual-in-residual dense blocks, residual scaling 0.2, nearest upsampling + conv."""

    scale: Scale = Field(4, description="Upscaling factor (must equal the task's scale).")
    num_feat: int = Field(16, gt=0, le=512, description="Feature channels (ESRGAN: 64).")
    num_block: int = Field(1, ge=1, le=64, description="RRDB blocks (ESRGAN: 23).")
    num_grow_ch: int = Field(8, gt=0, le=256, description="Growth channels of each dense block (ESRGAN: 32).")
    res_scale: float = Field(0.2, gt=0.0, le=1.0, description="Residual scaling of dense blocks and RRDBs (ESRGAN: 0.2).")


class EDSRLiteParams(Params):
    """``edsr-lite``: EDSR blocks at LR (optional RCAN channel attention), one sub-pixel conv, a bicubic skip."""

    scale: Scale = Field(4, description="Upscaling factor (must equal the task's scale).")
    num_feat: int = Field(48, gt=0, le=512, description="Feature channels.")
    num_block: int = Field(8, ge=1, le=64, description="Residual blocks.")
    attention: bool = Field(False, description="RCAN's channel attention (squeeze-excite gate) at the end of every block.")


class BicubicParams(Params):
    """The parameter-free bicubic baseline."""

    scale: Scale = Field(4, description="Upscaling factor (must equal the task's scale).")


class VGGStyleParams(Params):
    """SRGAN/ESRGAN VGG-style discriminator (BasicSR's VGGStyleDiscriminator, generalised in size)."""

    num_feat: int = Field(16, gt=0, le=512, description="Channels of the first stage; doubled per stage up to 8x (ESRGAN: 64).")
    input_size: int | None = Field(
        None, ge=8, description="HR side the dense head is built for; null: the dataset's size. Other sizes are an error."
    )


class SRPhotosParams(Params):
    """Bundled scikit-image colour photos for super-resolution (no download)."""

    split: Literal["train", "heldout"] = Field(
        "train", description="train: random crops of the training photos; heldout: the fixed grid of non-overlapping tiles of "
        "photos never trained on (chelsea, coffee)."
    )
    size: int = Field(96, ge=16, le=512, description="Crop/tile side in pixels (a multiple of 12 suits scales 2, 3 and 4 alike).")
    samples: int = Field(1000, ge=1, le=1_000_000, description="Items per epoch of the train split (each a fresh random crop).")
    photos: tuple[str, ...] = Field(
        TRAIN_PHOTOS, min_length=1,
        description="Photos the train split crops from: skimage.data names, or 'china'/'flower' (scikit-learn's sample "
        "images). The held-out photos cannot be listed.",
    )

    zoom: tuple[float, float] = Field(
        (1.0, 1.0),
        description="Scale augmentation of the train split: each crop covers size/z photo pixels, z uniform in [lo, hi], "
        "resized to size (antialiased bicubic). (1, 1): plain crops.",
    )
    dihedral: bool = Field(
        False,
        description="Train split: each crop gets one of the 8 symmetries of the square at random (flips and 90-degree "
        "rotations; BasicSR's use_hflip + use_rot). Photos have no preferred orientation at the pixel scale SR learns.",
    )

    @field_validator("zoom")
    @classmethod
    def _zoom_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not 0.1 <= lo <= hi <= 1.0:
            raise ValueError(f"zoom must be [lo, hi] with 0.1 <= lo <= hi <= 1 (photos are only ever shrunk), got {list(v)}")
        return v

    @field_validator("photos")
    @classmethod
    def _known_photos(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [n for n in v if n not in KNOWN_PHOTOS]
        if unknown:
            held = [n for n in unknown if n in (*HELDOUT_PHOTOS, "cat")]
            why = f"{held} are the held-out photos (cat is chelsea)" if held else f"unknown {unknown}"
            raise ValueError(f"{why}; choose from {list(KNOWN_PHOTOS)}")
        if len(set(v)) != len(v):
            raise ValueError("photos lists a name twice")
        return v

    @model_validator(mode="after")
    def _heldout_ignores_training_params(self) -> SRPhotosParams:
        # The held-out tiles do not depend on them; reset, so that `sr-eval --data-set split=heldout` on a run with
        # its own photos scores under the same data key (protocol) as every other run's eval.data.
        if self.split == "heldout":
            for k in ("samples", "photos", "zoom", "dihedral"):  # the params model is frozen; this is still its validation
                object.__setattr__(self, k, type(self).model_fields[k].get_default(call_default_factory=True))
        return self


class SRPairedParams(Params):
    """Paired HR and LR image folders (BasicSR's paired dataset): files matched by stem, sizes checked."""

    hr: Path = Field(..., description="Folder of high-resolution images (top level only; hidden files skipped); '~' is expanded.")
    lr: Path = Field(..., description="Folder of the low-resolution partners, one per HR image, matched by file stem.")
    scale: Literal[2, 3, 4, 8] = Field(4, description="HR side / LR side; the task's scale must match.")
    lr_suffix: str = Field(
        "", max_length=64,
        description="Suffix of LR stems: '0001.png' pairs with '0001<lr_suffix>.*'. Default '': the same stem, else "
        "'0001x<scale>' (DIV2K's naming).",
    )
    channels: Literal[1, 3] = Field(3, description="1 converts to grey (BT.601 luma), 3 to RGB (grey files are repeated).")
    crop: int | None = Field(
        None, ge=8, le=2048,
        description="HR crop side (a multiple of scale): random paired crops for training, fixed ones for evaluation; "
        "null: whole images, which must then all share one size.",
    )
    samples: int | None = Field(
        None, ge=1, le=1_000_000, description="Items per epoch (item i is pair i mod n); null: one per pair."
    )
    max_image_pixels: int | None = Field(
        89_478_485, gt=0, description="Decompression-bomb guard: images with more pixels raise an error; null disables it."
    )

    @field_validator("hr", "lr")
    @classmethod
    def _check_folder(cls, v: Path, info: ValidationInfo) -> Path:
        return _folder(v, info)

    @model_validator(mode="after")
    def _crop_fits_scale(self) -> SRPairedParams:
        if self.crop is not None and self.crop % self.scale:
            raise ValueError(f"crop {self.crop} is not a multiple of scale {self.scale}")
        return self


class SRBenchmarkParams(Params):
    """A benchmark folder of whole HR images (Set5/Set14/BSD100 style) for evaluation: LR made by bicubic or read from a folder."""

    hr: Path = Field(
        ..., description="Folder of high-resolution images of any sizes (top level only; hidden files skipped); '~' is expanded."
    )
    lr: Path | None = Field(
        None, description="Folder of LR partners matched by stem as in sr-paired (lr_suffix); null: LR made from each mod-cropped "
        "HR by the MATLAB-compatible bicubic, rounded to 8 bits.",
    )
    scale: Literal[2, 3, 4, 8] = Field(
        4, description="HR side / LR side; HR images are mod-cropped to it (BasicSR); the task's scale must match."
    )
    lr_suffix: str = Field(
        "", max_length=64, description="Suffix of LR stems, as in sr-paired (default: same stem, else '<stem>x<scale>')."
    )
    channels: Literal[1, 3] = Field(3, description="1 converts to grey (BT.601 luma), 3 to RGB (grey files are repeated).")
    max_image_pixels: int | None = Field(
        89_478_485, gt=0, description="Decompression-bomb guard: images with more pixels raise an error; null disables it."
    )

    @field_validator("hr", "lr")
    @classmethod
    def _check_folder(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _folder(v, info)


def _folder(v: Path, info: ValidationInfo) -> Path:
    """``v`` with '~' expanded; it must be a directory when the spec's inputs are checked (see :func:`ganzoo.checks_inputs`)."""
    v = v.expanduser()
    if checks_inputs(info) and not v.is_dir():
        raise ValueError(f"{info.field_name} folder {str(v)!r} does not exist or is not a directory")
    return v
