"""The ``image-folder`` dataset: every image file under a directory.

Untrusted folders hold corrupt, truncated and mislabelled files, so each file is
decoded defensively: unreadable ones are skipped and counted (or reported by
name), and oversized ones are refused before their pixels are decoded.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ganzoo import DataError, DataInfo, EmptyDatasetError, ImageDataset, TensorImageDataset
from ganzoo_data.crops import RandomCrops
from ganzoo_data.params import ImageFolderParams

__all__ = [
    "build_image_folder",
    "list_images",
    "decode_image",
    "ImageTooLargeError",
    "ImageFolderMissingError",
    "ImageFolderDataset",
    "LazyImageFolderDataset",
]

log = logging.getLogger(__name__)

_PIL_LIMIT_LOCK = threading.Lock()


class ImageTooLargeError(DataError):
    """An image exceeds the decompression-bomb pixel limit."""


class ImageFolderMissingError(DataError, FileNotFoundError):
    """The image folder is gone (a finished run's spec read back after the folder moved)."""


@contextmanager
def _own_pixel_limit() -> Iterator[None]:
    # PIL applies its process-global MAX_IMAGE_PIXELS inside Image.open (warning above it,
    # error at twice it). We enforce the per-dataset limit ourselves, so lift the global one
    # only for the duration of one open/decode and always restore it.
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_checked(path: Path, max_pixels: int | None) -> Image.Image:
    """Open an image (header only) and refuse it if it has too many pixels."""
    im = Image.open(path)
    w, h = im.size
    if max_pixels is not None and w * h > max_pixels:
        im.close()
        raise ImageTooLargeError(
            f"image {path} is {w}x{h} = {w * h:,} pixels, above max_image_pixels={max_pixels:,} "
            "(decompression-bomb guard); raise max_image_pixels if the file is trusted"
        )
    return im


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    """Convert to ``L`` or ``RGB``, scaling 16-bit data and flattening transparency onto white."""
    if im.mode == "I" or im.mode.startswith("I;16"):
        # Pillow clips wide integers to 0..255 when converting to L; rescale the 16-bit range instead.
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(arr / 65535.0 * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.has_transparency_data:
        # Fully transparent pixels often hold arbitrary colour; composite so they read as background.
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im.convert(mode)


def _decode(path: Path, channels: int, max_pixels: int | None) -> Image.Image:
    with _own_pixel_limit(), _open_checked(path, max_pixels) as im:
        im.load()  # truncated or corrupt pixel data fails here, not at open
        img = ImageOps.exif_transpose(im)  # camera photos store their rotation in EXIF
        return _to_mode(img, "L" if channels == 1 else "RGB")


def _chw(img: Image.Image) -> torch.Tensor:
    arr = np.array(img, dtype=np.uint8)  # a writable copy: torch warns on read-only PIL buffers
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (C, H, W)
    return torch.from_numpy(np.ascontiguousarray(arr))


def decode_for_crops(path: Path, *, crop: int, size: int, channels: int, max_pixels: int | None) -> torch.Tensor:
    """Decode one image whole, its shorter side brought into [crop, size] (bicubic): (C, H, W) uint8, for random crops.

    Raises:
        ImageTooLargeError: The image exceeds ``max_pixels``.
        Exception: Whatever PIL raises for an unreadable or truncated file.
    """
    img = _decode(path, channels, max_pixels)
    short = min(img.size)
    target = size if short > size else crop if short < crop else short
    if target != short:
        w, h = img.size
        img = img.resize((max(target, round(w * target / short)), max(target, round(h * target / short))), Image.Resampling.BICUBIC)
    return _chw(img)


def decode_image(path: Path, *, size: int, channels: int, max_pixels: int | None) -> torch.Tensor:
    """Decode one image file, resize its shorter side to ``size`` and centre-crop.

    Args:
        path: Image file.
        size: Output side.
        channels: 1 (grayscale) or 3 (RGB).
        max_pixels: Refuse images with more pixels than this (None: no limit).

    Returns:
        (C, size, size) uint8 tensor.

    Raises:
        ImageTooLargeError: The image exceeds ``max_pixels``.
        Exception: Whatever PIL raises for an unreadable or truncated file.
    """
    img = _decode(path, channels, max_pixels)
    # fit = centre-crop to the target aspect, then resize: the same as shorter-side resize + centre crop.
    return _chw(ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC))


def _check_header(path: Path, max_pixels: int | None) -> None:
    with _own_pixel_limit(), _open_checked(path, max_pixels):
        pass


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    msg = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return msg if len(msg) <= 200 else msg[:197] + "..."


def _to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float().div_(127.5).sub_(1.0)  # uint8 0..255 -> [-1, 1]


def list_images(root: Path, extensions: tuple[str, ...], recursive: bool) -> list[Path]:
    """List image files under ``root`` in a deterministic order.

    Hidden files and directories (names starting with ``.``, e.g. macOS ``._x.jpg``
    resource forks or ``.ipynb_checkpoints``) are ignored; symlinked directories are not followed.

    Args:
        root: Directory to search.
        extensions: Lowercase suffixes with a leading dot.
        recursive: Descend into subdirectories.

    Returns:
        Files sorted by their path relative to ``root``.
    """
    exts = {e.lower() for e in extensions}

    def wanted(name: str) -> bool:
        return not name.startswith(".") and os.path.splitext(name)[1].lower() in exts

    found: list[Path] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            found.extend(Path(dirpath) / f for f in filenames if wanted(f))
    else:
        found = [p for p in root.iterdir() if p.is_file() and wanted(p.name)]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


class ImageFolderDataset(TensorImageDataset):
    """A preloaded image folder.

    Attributes:
        files: The images kept, in dataset order.
        skipped: ``(path, reason)`` for every file that could not be read.
    """

    def __init__(self, images: torch.Tensor, *, files: list[Path], skipped: list[tuple[str, str]], hflip: bool = False) -> None:
        super().__init__(images, hflip=hflip)
        self.files = files
        self.skipped = skipped


class LazyImageFolderDataset(ImageDataset):
    """An image folder decoded on access; files were only header-checked up front.

    Attributes:
        files: The images kept, in dataset order.
        skipped: ``(path, reason)`` for every file whose header could not be read.
    """

    def __init__(
        self,
        files: list[Path],
        *,
        size: int,
        channels: int,
        max_pixels: int | None,
        skipped: list[tuple[str, str]],
        hflip: bool = False,
    ) -> None:
        if not files:
            raise EmptyDatasetError("the dataset has no images")
        self.files = files
        self.skipped = skipped
        self.size, self.channels, self.max_pixels, self.hflip = size, channels, max_pixels, hflip
        self.info = DataInfo(channels=channels, size=size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        path = self.files[index]
        try:
            raw = decode_image(path, size=self.size, channels=self.channels, max_pixels=self.max_pixels)
        except (ImageTooLargeError, MemoryError):
            raise
        except Exception as err:  # PIL raises many types on bad data
            # A header that parsed can still hide truncated pixel data; a map-style
            # dataset cannot drop the index now, so name the file.
            raise DataError(f"cannot decode image {path}: {_reason(err)} (use preload: true to skip such files up front)") from err
        img = _to_float(raw)  # (C, S, S)
        if self.hflip and bool(torch.rand(()) < 0.5):
            img = img.flip(-1)
        return {"image": img}

    def for_evaluation(self) -> LazyImageFolderDataset:
        """A view without the random flip."""
        if not self.hflip:
            return self
        view = copy.copy(self)
        view.hflip = False
        return view


def mask_partners(files: list[Path], root: Path, extensions: tuple[str, ...]) -> list[Path]:
    """The mask file of each image, matched by file-name stem in ``root`` (recursive).

    Raises:
        DataError: An image has no mask, or two masks share a stem.
    """
    by_stem: dict[str, Path] = {}
    for path in list_images(root, extensions, True):
        if path.stem in by_stem:
            raise DataError(f"masks {by_stem[path.stem]} and {path} share the name {path.stem!r}; masks are matched to images by name")
        by_stem[path.stem] = path
    missing = [f.name for f in files if f.stem not in by_stem]
    if missing:
        raise DataError(f"{len(missing)} of {len(files)} images have no mask of the same name in {root}: "
                        f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    return [by_stem[f.stem] for f in files]


def _with_mask(image: torch.Tensor, mask_path: Path, max_pixels: int | None) -> torch.Tensor:
    """(C + 1, H, W) uint8: the image and its mask resized to it (area, then mid-grey threshold: 255 = hole)."""
    with _own_pixel_limit(), _open_checked(mask_path, max_pixels) as im:
        grey = im.convert("L").resize((image.shape[-1], image.shape[-2]), Image.Resampling.BOX)
    hole = torch.from_numpy((np.asarray(grey) >= 128).astype(np.uint8) * 255)[None]
    return torch.cat([image, hole])


def _random_crops(params: ImageFolderParams, files: list[Path], decoded: list[torch.Tensor],
                  skipped: list[tuple[str, str]]) -> RandomCrops:
    """Random crops of the kept files (ganzoo_data.crops): preloaded whole images, or decoded on access; masks paired by name."""
    crop, n = int(params.crop or 0), len(files)
    masks = mask_partners(files, params.masks, params.extensions) if params.masks is not None else None

    def decode(i: int) -> torch.Tensor:
        path = files[i % n]
        try:
            image = decode_for_crops(path, crop=crop, size=params.size, channels=params.channels, max_pixels=params.max_image_pixels)
            return image if masks is None else _with_mask(image, masks[i % n], params.max_image_pixels)
        except (ImageTooLargeError, MemoryError):
            raise
        except Exception as err:  # PIL raises many types on bad data
            raise DataError(f"cannot decode image {path}: {_reason(err)} (use preload: true to skip such files up front)") from err

    if params.preload and masks is not None:
        decoded = [_with_mask(img, m, params.max_image_pixels) for img, m in zip(decoded, masks, strict=True)]
    source = (lambda i: decoded[i % n]) if params.preload else decode
    data = RandomCrops(source, crop=crop, samples=params.samples or n, channels=params.channels, hflip=params.hflip,
                       with_mask=masks is not None)
    data.files, data.skipped = files, skipped  # as the other image-folder datasets
    return data


def build_image_folder(params: ImageFolderParams) -> ImageFolderDataset | LazyImageFolderDataset | RandomCrops:
    """Build an unlabelled dataset from the image files under ``params.root``.

    Args:
        params: Folder, output geometry, error policy and loading mode.

    Returns:
        A preloaded :class:`ImageFolderDataset` or a :class:`LazyImageFolderDataset`.

    Raises:
        ImageFolderMissingError: ``root`` is not a folder (a ``FileNotFoundError``).
        EmptyDatasetError: No (readable) image files were found.
        DataError: A file is unreadable and ``on_error="error"``, or an image exceeds
            ``max_image_pixels`` (:class:`ImageTooLargeError`, whatever ``on_error``).
    """
    root = Path(params.root)
    if not root.is_dir():  # the spec checked it, unless it was a finished run's spec read back (checks_inputs)
        raise ImageFolderMissingError(f"image folder {str(root)!r} does not exist or is not a directory")
    files = list_images(root, params.extensions, params.recursive)
    where = f"{root} ({'recursive' if params.recursive else 'top level only'}, extensions {', '.join(params.extensions)})"
    if not files:
        raise EmptyDatasetError(f"no image files found under {where}")

    kept: list[Path] = []
    decoded: list[torch.Tensor] = []
    skipped: list[tuple[str, str]] = []
    for path in files:
        try:
            if params.preload and params.crop is not None:
                decoded.append(decode_for_crops(path, crop=params.crop, size=params.size, channels=params.channels,
                                                max_pixels=params.max_image_pixels))
            elif params.preload:
                decoded.append(decode_image(path, size=params.size, channels=params.channels, max_pixels=params.max_image_pixels))
            else:
                _check_header(path, params.max_image_pixels)
        except (ImageTooLargeError, MemoryError):
            raise
        except Exception as err:  # PIL raises many types on bad data
            if params.on_error == "error":
                raise DataError(f"cannot read image {path}: {_reason(err)} (set on_error: skip to skip such files)") from err
            skipped.append((str(path), _reason(err)))
            continue
        kept.append(path)

    if skipped:
        first, why = skipped[0]
        log.warning(
            "image-folder %s: skipped %d of %d files that could not be read (first: %s: %s)", root, len(skipped), len(files), first, why
        )
    if not kept:
        first, why = skipped[0]
        raise EmptyDatasetError(f"none of the {len(files)} image files under {where} could be read (first: {first}: {why})")
    if params.crop is not None:
        return _random_crops(params, kept, decoded, skipped)
    if not params.preload:
        return LazyImageFolderDataset(
            kept, size=params.size, channels=params.channels, max_pixels=params.max_image_pixels, skipped=skipped, hflip=params.hflip
        )
    # Stack as uint8 and convert once: a quarter of the float peak while collecting.
    return ImageFolderDataset(_to_float(torch.stack(decoded)), files=kept, skipped=skipped, hflip=params.hflip)
