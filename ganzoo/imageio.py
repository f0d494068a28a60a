"""Reading user image files safely, and writing results without losing what was read.

Every command that takes an image file (``ganzoo upscale``, ``ganzoo inpaint``)
reads it with :func:`load_image`, which

* refuses an image over a pixel limit **before decoding it** (the size comes
  from the header, read lazily), and turns Pillow's decompression-bomb error and
  warning, truncated and corrupt files into one :class:`ImageReadError` naming
  the file;
* converts every mode Pillow opens to ``[0, 1]`` floats by its own range
  (8-bit by 255, 16-bit by 65535, float images are taken as ``[0, 1]`` and
  clipped, with a note) and keeps the file's own sample values (``native``), so
  a command can copy pixels back bit for bit;
* refuses, by name, what it cannot represent (32-bit integer images beyond
  16-bit values, non-finite floats, unknown modes).

The limit is :data:`DEFAULT_MAX_PIXELS` unless the environment variable
``GANZOO_MAX_IMAGE_PIXELS`` or a command's ``--max-pixels`` says otherwise.
Plugins reach these through :mod:`ganzoo.images`.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import EXIT_FAILURE, EXIT_INPUT, ConfigError, DataError

if TYPE_CHECKING:  # numpy and Pillow load when an image is read: `ganzoo --help` must not pay for them
    import numpy as np

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "ImageData",
    "ImageOutputError",
    "ImageReadError",
    "check_image_array",
    "check_output_dir",
    "check_output_file",
    "load_image",
    "max_pixels",
    "save_image",
    "to_pil",
]

# 40 Mpx holds an 8K UHD frame (33 Mpx) and the 24-36 Mpx photos of common cameras;
# decoded as float32 RGB it is 0.48 GB, and x4 super-resolution of it already asks
# for 7.7 GB of output. Pillow's own bomb warning only starts at 89 Mpx (error at 179).
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "GANZOO_MAX_IMAGE_PIXELS"

_PIL_LOCK = threading.Lock()  # Image.MAX_IMAGE_PIXELS is process-wide: raise it for one open at a time
_COLOUR_SPACES = {"CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV"}
_SIXTEEN = {"I;16", "I;16L", "I;16B", "I;16N"}


class ImageReadError(DataError):
    """An input image cannot be read, is over the pixel limit or has a mode ganzoo cannot represent (exit 1)."""


class ImageOutputError(DataError):
    """An output image cannot be written where asked.

    Exit status 2 when ``--out`` itself must change (under a file, a read-only
    directory, an existing file), 1 when the write fails (a full disk).
    """

    def __init__(self, message: str, exit_code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ImageData:
    """One decoded image file.

    Attributes:
        path: The file.
        mode: Pillow's mode of the file (``"I;16"``, ``"P"``, ...).
        native: (H, W, C[+1]) the file's sample values in their own dtype
            (uint8, uint16 or float32), colour channels first, then alpha when
            there is one; palette and 1-bit images are expanded to RGB(A) and L.
        max_value: What 1.0 is in ``native``: 255, 65535 or 1.0 (float images).
        channels: Colour channels, 1 (grey) or 3 (RGB); alpha is not counted.
        notes: What the reading changed (palette expanded, floats clipped, ...), for the user.
        lossless: False when ``native`` is not what the file holds (a colour space
            converted to RGB, 16-bit colour that Pillow reads as 8-bit), so the
            file cannot be written back unchanged.
    """

    path: Path
    mode: str
    native: np.ndarray
    max_value: float
    channels: int
    notes: list[str] = field(default_factory=list)
    lossless: bool = True

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.native.shape[0]), int(self.native.shape[1])

    @property
    def has_alpha(self) -> bool:
        return int(self.native.shape[2]) > self.channels

    def colour(self) -> np.ndarray:
        """(H, W, C) float32 colour in [0, 1]."""
        import numpy as np

        return np.clip(self.native[..., : self.channels].astype(np.float32) / self.max_value, 0.0, 1.0)

    def alpha(self) -> np.ndarray | None:
        """(H, W) float32 alpha in [0, 1], or None."""
        import numpy as np

        if not self.has_alpha:
            return None
        return np.clip(self.native[..., self.channels].astype(np.float32) / self.max_value, 0.0, 1.0)


def max_pixels(option: int | None = None) -> int:
    """The pixel limit: ``option`` when given, else ``$GANZOO_MAX_IMAGE_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`.

    Raises:
        ConfigError: The environment variable is not a positive integer.
    """
    if option is not None:
        return option
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_PIXELS_ENV}={os.environ[MAX_PIXELS_ENV]!r} is not a positive number of pixels (e.g. 100000000)")
    return value


def _limit_hint(limit: int) -> str:
    return f"over the pixel limit of {limit:,} (--max-pixels or {MAX_PIXELS_ENV} raise it, if you trust the file and have the memory)"


def _open(path: Path, what: str, limit: int) -> tuple[Any, bool]:
    """Open lazily, check the header's size against ``limit``, then decode; also says if it is 16-bit colour."""
    from PIL import Image, UnidentifiedImageError

    def refuse(reason: str) -> ImageReadError:
        return ImageReadError(f"cannot read {what} {path}: {reason}")

    try:
        with _PIL_LOCK, warnings.catch_warnings():
            # Pillow checks its own (larger) bomb limit inside open(); ours governs, so Pillow's must not be lower.
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max(saved or 0, limit)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                img = Image.open(path)  # reads the header only
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's limit is at least ours here, so the image is over ours too
        raise refuse(f"possible decompression bomb ({exc}); {_limit_hint(limit)}") from None
    except FileNotFoundError:
        raise refuse("no such file") from None
    except IsADirectoryError:
        raise refuse("it is a directory") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise refuse(f"{_reason(exc)} (is it a valid image file?)") from None
    width, height = img.size
    if width * height > limit:
        img.close()
        raise refuse(f"its header says {width}x{height} = {width * height:,} pixels; {_limit_hint(limit)}")
    # Pillow reads 16-bit RGB(A) PNGs as 8-bit; only the undecoded tile's raw mode tells (load() drops it).
    sixteen_colour = img.mode.startswith("RGB") and any(";16" in str(getattr(t, "args", "")) for t in img.tile or [])
    try:
        img.load()  # decode now: truncated or corrupt pixel data fails here, not halfway through a network
    except MemoryError:
        img.close()
        raise refuse(f"not enough memory to decode {width}x{height} pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        img.close()
        raise refuse(f"{_reason(exc)} (truncated or corrupt?)") from None
    return img, sixteen_colour


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def load_image(path: str | Path, *, limit: int | None = None, what: str = "image") -> ImageData:
    """Read an image file within the pixel limit; see the module docstring for what is accepted.

    Args:
        path: The file.
        limit: Most pixels (width x height) accepted; default :func:`max_pixels`.
        what: How messages name the file ("image", "mask").

    Returns:
        The decoded image: its native samples and how to scale them to [0, 1].

    Raises:
        ImageReadError: Unreadable, over the limit, or a mode that cannot be represented (exit 1).
    """
    import numpy as np

    path = Path(path)
    lim = max_pixels(limit)
    img, sixteen_colour = _open(path, what, lim)
    try:
        notes: list[str] = []
        if getattr(img, "n_frames", 1) > 1:
            notes.append(f"{path.name} has {img.n_frames} frames; only the first is used")
        mode = img.mode
        lossless = True
        if mode == "1":
            arr, top, channels = np.asarray(img.convert("L")), 255.0, 1
            notes.append(f"{path.name}: 1-bit image read as 8-bit grey (0 and 255)")
        elif mode in ("L", "LA", "RGB", "RGBA"):
            arr, top, channels = np.asarray(img), 255.0, 1 if mode[0] == "L" else 3
            if sixteen_colour:
                lossless = False
                notes.append(f"{path.name}: 16-bit colour is read as 8-bit (Pillow keeps the top 8 bits)")
        elif mode in ("La", "RGBa", "RGBX", "PA", "P"):
            keep_alpha = mode in ("La", "RGBa", "PA") or (mode == "P" and "transparency" in img.info)
            target = ("LA" if mode == "La" else "RGBA") if keep_alpha else "RGB"
            arr, top, channels = np.asarray(img.convert(target)), 255.0, 1 if target == "LA" else 3
            if mode in ("P", "PA"):
                notes.append(f"{path.name}: palette image expanded to {target}")
        elif mode in _SIXTEEN or mode == "I":
            arr, top, channels = _integer(img, path, what), 65535.0, 1
        elif mode == "F":
            arr, top, channels = _float(img, path, what, notes), 1.0, 1
        elif mode in _COLOUR_SPACES:
            arr, top, channels = np.asarray(img.convert("RGB")), 255.0, 3
            lossless = False
            notes.append(f"{path.name}: {_COLOUR_SPACES[mode]} converted to RGB without a colour profile")
        else:
            raise ImageReadError(f"cannot read {what} {path}: Pillow mode {mode!r} is not supported "
                                 "(supported: 1, L, LA, P, RGB, RGBA, CMYK, YCbCr, 16-bit grey I;16/I, float grey F)")
    finally:
        img.close()
    arr = np.ascontiguousarray(arr)
    native = arr[..., None] if arr.ndim == 2 else arr  # (H, W, C[+1])
    return ImageData(path, mode, native, top, channels, notes, lossless)


def _integer(img: Any, path: Path, what: str) -> np.ndarray:
    """16-bit grey as uint16; a 32-bit integer image only when its values fit 16 bits."""
    import numpy as np

    arr = np.asarray(img)
    if img.mode == "I" and arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 65535:
            raise ImageReadError(f"cannot read {what} {path}: 32-bit integer image with values {low}..{high}; "
                                 "ganzoo reads 8- and 16-bit images (0..65535): rescale and save it as 16-bit PNG")
    return arr.astype(np.uint16)  # also makes big-endian I;16B native


def _float(img: Any, path: Path, what: str, notes: list[str]) -> np.ndarray:
    """Float images are documented as [0, 1]: clipped there, non-finite values refused."""
    import numpy as np

    arr = np.asarray(img, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ImageReadError(f"cannot read {what} {path}: float image with NaN or infinite values")
    outside = int(((arr < 0) | (arr > 1)).sum())
    if outside:
        notes.append(f"{path.name}: float image read as [0, 1]; {outside} of {arr.size} samples outside it "
                     f"(range {float(arr.min()):.4g}..{float(arr.max()):.4g}) are clipped (a 0..255 image must be divided by 255 first)")
    return arr


# ---------------------------------------------------------------- writing


def check_output_dir(directory: str | Path) -> Path:
    """Make sure ``directory`` can be created and written, without creating it: a clean error before any compute.

    Raises:
        ImageOutputError: A parent is a file, or the first existing parent is not writable (exit 2).
    """
    directory = Path(directory)
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "is" if probe == directory else f"would be under {probe}, which is"
        raise ImageOutputError(f"cannot write to {directory}: it {where} a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ImageOutputError(f"cannot write to {directory}: {probe} is not writable (read-only directory?)")
    return directory


def check_output_file(path: str | Path, *, overwrite: bool = False) -> Path:
    """Make sure the file ``path`` can be written: its directory as :func:`check_output_dir`, and no file there unless ``overwrite``.

    Raises:
        ImageOutputError: As above, or ``path`` exists (a directory, or a file without ``overwrite``) (exit 2).
    """
    path = Path(path)
    if path.is_dir():
        raise ImageOutputError(f"cannot write {path}: it is a directory")
    if path.exists() and not overwrite:
        raise ImageOutputError(f"{path} exists; pass --overwrite to replace it")
    check_output_dir(path.parent)
    return path


def check_image_array(image: np.ndarray) -> np.ndarray:
    """``image`` if it is (H, W) or (H, W, C) with C in 1-4, of uint8, uint16 or float (in [0, 1]); else a DataError."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise DataError(f"image array has shape {image.shape}; expected (H, W) or (H, W, C) with C in 1-4")
    if image.dtype.kind not in "uf" or (image.dtype.kind == "u" and image.dtype.itemsize > 2):
        raise DataError(f"image array has dtype {image.dtype}; expected uint8, uint16 or float in [0, 1]")
    return image


def to_pil(native: np.ndarray) -> Any:
    """(H, W, C) uint8 (C = 1, 2, 3, 4: L, LA, RGB, RGBA), uint16 (C = 1: I;16) or float32 (C = 1: F) as a Pillow image."""
    import numpy as np
    from PIL import Image

    c = native.shape[2]
    if native.dtype == np.uint8 and c in (1, 2, 3, 4):
        return Image.fromarray(np.ascontiguousarray(native[..., 0]) if c == 1 else native)
    if native.dtype in (np.uint16, np.float32) and c == 1:
        return Image.fromarray(np.ascontiguousarray(native[..., 0]))
    raise ValueError(f"no Pillow mode holds {c} channels of {native.dtype}")  # a bug in the caller, not user input


def save_image(image: Any, path: str | Path, **params: Any) -> Path:
    """Save a Pillow image through a temp file and a rename, so ``path`` is never left half written.

    The format follows the suffix; ``params`` go to ``Image.save`` (``quality=``...).

    Raises:
        ImageOutputError: The write failed (a full disk, a read-only file system) (exit 1).
    """
    import secrets

    from PIL import Image

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # open(..., "xb") rather than mkstemp: the file gets the umask's permissions (mkstemp's are 0600)
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        with open(candidate, "xb") as fh:
            tmp = candidate
            image.save(fh, format=fmt, **params)
        os.replace(tmp, path)
        tmp = None
    except (OSError, ValueError, KeyError) as exc:  # ValueError/KeyError: Pillow has no writer for the suffix or mode
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _reason(exc)
        raise ImageOutputError(f"cannot write {path}: {reason}", EXIT_FAILURE) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path
