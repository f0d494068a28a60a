"""Parameter models of the bundled datasets (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ganzoo import Params, checks_inputs

__all__ = ["DigitsParams", "FacesParams", "ImageFolderParams", "InpaintPhotosParams", "TorchvisionParams", "DEFAULT_EXTENSIONS"]

DEFAULT_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


Split = Literal["all", "train", "heldout"]
_SPLIT = "all, or a fixed 80/20 split by index (train: the first 80 %, heldout: the rest) for held-out evaluation (eval.data)."


class DigitsParams(Params):
    """Parameters of the ``digits`` dataset (scikit-learn's 8x8 handwritten digits)."""

    split: Split = Field("all", description=_SPLIT)

    size: int = Field(32, ge=8, le=128, description="Output side in pixels; the 8x8 digits are resized bilinearly.")
    limit: int | None = Field(None, gt=0, description="Keep at most this many samples (in dataset order), after the class filter.")
    classes: tuple[int, ...] | None = Field(
        None, min_length=1, description="Digits (0-9) to keep; labels keep their original values and num_classes stays 10."
    )

    @field_validator("classes")
    @classmethod
    def _check_classes(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is None:
            return v
        bad = [c for c in v if not 0 <= c <= 9]
        if bad:
            raise ValueError(f"classes must be digits 0-9, got {bad}")
        return tuple(sorted(set(v)))


class FacesParams(Params):
    """Parameters of the ``faces`` dataset (the 100 face crops of scikit-image's LFW subset)."""

    size: int = Field(32, ge=8, le=128, description="Output side in pixels; the 25x25 crops are resized bilinearly.")
    hflip: bool = Field(True, description="Randomly mirror images horizontally (augmentation).")
    split: Split = Field("all", description=_SPLIT)


class ImageFolderParams(Params):
    """Parameters of the ``image-folder`` dataset (any directory of image files)."""

    root: Path = Field(..., description="Directory holding the images; '~' is expanded and it must exist.")
    size: int = Field(
        64, ge=8, le=1024,
        description="Output side: the shorter side is resized to this, then centre-cropped. With crop: the largest shorter "
        "side kept (larger images are downscaled to it; smaller ones keep their resolution, down to crop).",
    )
    crop: int | None = Field(
        None, ge=8, le=1024,
        description="Random crops of this side instead of one centre crop: each image's shorter side is brought into "
        "[crop, size] (down to size, or up to crop), and every item is a fresh random crop (seeded by the run; the "
        "evaluation view seeds crop i by i). Null: centre crops at size.",
    )
    samples: int | None = Field(
        None, gt=0, description="With crop: items per epoch, item i a crop of image i mod n (default: one per image)."
    )
    masks: Path | None = Field(
        None,
        description="With crop: a folder of mask images (white = hole) paired with the images by file-name stem; each is "
        "resized with its image (area, mid-grey threshold) and cropped and mirrored with it, and items carry it as 'mask' "
        "(1 = hole; the inpainting task uses a batch's own masks). An image without a mask is an error.",
    )
    channels: Literal[1, 3] = Field(3, description="1 converts to grayscale (L), 3 to RGB.")
    recursive: bool = Field(True, description="Also collect images in subdirectories (hidden ones are skipped).")
    extensions: tuple[str, ...] = Field(
        DEFAULT_EXTENSIONS, min_length=1, description="File suffixes to collect, case-insensitive ('.png' or 'png')."
    )
    on_error: Literal["skip", "error"] = Field(
        "skip", description="What to do with unreadable files: skip and count them, or raise naming the file."
    )
    max_image_pixels: int | None = Field(
        89_478_485, gt=0, description="Decompression-bomb guard: images with more pixels raise an error; null disables it."
    )
    hflip: bool = Field(False, description="Randomly mirror images horizontally (augmentation).")
    preload: bool = Field(True, description="Decode every image up front into memory; false decodes on access.")

    @model_validator(mode="after")
    def _crop_fits(self) -> ImageFolderParams:
        if self.crop is not None and self.crop > self.size:
            raise ValueError(f"crop {self.crop} exceeds size {self.size} (the largest shorter side kept)")
        if self.samples is not None and self.crop is None:
            raise ValueError("samples needs crop: without random crops every image is one fixed item")
        if self.masks is not None and self.crop is None:
            raise ValueError("masks needs crop (e.g. crop: size, for whole images with their shorter side at size)")
        return self

    @field_validator("root")
    @classmethod
    def _check_root(cls, v: Path, info: ValidationInfo) -> Path:
        v = v.expanduser()
        if checks_inputs(info) and not v.is_dir():
            raise ValueError(f"image folder {str(v)!r} does not exist or is not a directory")
        return v

    @field_validator("masks")
    @classmethod
    def _check_masks(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is None:
            return v
        v = v.expanduser()
        if checks_inputs(info) and not v.is_dir():
            raise ValueError(f"mask folder {str(v)!r} does not exist or is not a directory")
        return v

    @field_validator("extensions")
    @classmethod
    def _normalise_extensions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for ext in v:
            ext = ext.strip().lower()
            if not ext.strip("."):
                raise ValueError(f"empty extension in {v!r}")
            out.append(ext if ext.startswith(".") else "." + ext)
        return tuple(sorted(set(out)))


class InpaintPhotosParams(Params):
    """Parameters of ``inpaint-photos``: bundled photos (and faces) as random training crops or fixed held-out tiles."""

    split: Literal["train", "heldout"] = Field(
        "train",
        description="train: random crops of 12 photos (10 scikit-image, china and flower) and LFW faces 0-79; heldout: a "
        "fixed centred grid of tiles of chelsea and coffee and faces 80-99, never in train.",
    )
    size: int = Field(64, ge=16, le=256, description="Crop (and tile) side in pixels.")
    channels: Literal[1, 3] = Field(3, description="3: RGB; 1: ITU-R 601 luma.")
    samples: int = Field(2048, gt=0, description="Train split: items (random crops) per epoch.")
    hflip: bool = Field(True, description="Train split: mirror each crop with probability 1/2 (never when scored).")
    faces: bool = Field(
        True,
        description="Include the LFW faces (25 px, upscaled bicubically to size, so blurry): in train all 80 share one slot "
        "of the photo rotation (1/13 of the crops); in heldout faces 80-99 follow the tiles.",
    )


class TorchvisionParams(Params):
    """Parameters of the ``torchvision`` dataset wrapper."""

    name: Literal["mnist", "fashion-mnist", "cifar10", "celeba"] = Field(..., description="Which torchvision dataset.")
    root: Path = Field(Path("~/.cache/ganzoo/datasets"), description="Directory the dataset lives in (or is downloaded to).")
    split: Literal["train", "test"] = Field("train", description="Which split to load.")
    size: int = Field(32, ge=8, le=512, description="Output side: the shorter side is resized to this, then centre-cropped.")
    download: bool = Field(True, description="Download the files when they are not under root yet.")

    @field_validator("root")
    @classmethod
    def _expand_root(cls, v: Path) -> Path:
        return v.expanduser()
