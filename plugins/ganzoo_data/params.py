"""Parameter models of the bundled datasets (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from ganzoo import Params, checks_inputs

__all__ = ["DigitsParams", "FacesParams", "ImageFolderParams", "TorchvisionParams", "DEFAULT_EXTENSIONS"]

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
    size: int = Field(64, ge=8, le=1024, description="Output side: the shorter side is resized to this, then centre-cropped.")
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

    @field_validator("root")
    @classmethod
    def _check_root(cls, v: Path, info: ValidationInfo) -> Path:
        v = v.expanduser()
        if checks_inputs(info) and not v.is_dir():
            raise ValueError(f"image folder {str(v)!r} does not exist or is not a directory")
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
