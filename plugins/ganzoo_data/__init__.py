"""Bundled datasets: ``digits``, ``faces``, ``image-folder``, ``inpaint-photos`` and ``torchvision``.

Only hook implementations live here; the loaders (and torch) are imported when a
dataset is built, so listing components stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import DatasetEntry, hookimpl
from ganzoo_data.params import DigitsParams, FacesParams, ImageFolderParams, InpaintPhotosParams, TorchvisionParams

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo import ImageDataset

__all__ = ["ganzoo_datasets"]


def _digits(params: DigitsParams) -> ImageDataset:
    from ganzoo_data.builtin import build_digits

    return build_digits(params)


def _faces(params: FacesParams) -> ImageDataset:
    from ganzoo_data.builtin import build_faces

    return build_faces(params)


def _image_folder(params: ImageFolderParams) -> ImageDataset:
    from ganzoo_data.folder import build_image_folder

    return build_image_folder(params)


def _inpaint_photos(params: InpaintPhotosParams) -> ImageDataset:
    from ganzoo_data.crops import build_inpaint_photos

    return build_inpaint_photos(params)


def _torchvision(params: TorchvisionParams) -> ImageDataset:
    from ganzoo_data.tv import build_torchvision

    return build_torchvision(params)


@hookimpl
def ganzoo_datasets() -> list[DatasetEntry]:
    """Register the bundled datasets."""
    return [
        DatasetEntry(
            name="digits",
            build=_digits,
            params=DigitsParams,
            description="scikit-learn handwritten digits: 1,797 labelled 8x8 grayscale images, 10 classes (no download)",
        ),
        DatasetEntry(
            name="faces",
            build=_faces,
            params=FacesParams,
            description="scikit-image LFW subset: 100 unlabelled 25x25 grayscale face crops (no download)",
        ),
        DatasetEntry(
            name="image-folder",
            build=_image_folder,
            params=ImageFolderParams,
            description="every image file under a directory, resized and centre-cropped (or random crops), unlabelled",
        ),
        DatasetEntry(
            name="inpaint-photos",
            build=_inpaint_photos,
            params=InpaintPhotosParams,
            description="bundled scikit-image/scikit-learn photos and LFW faces: random training crops, held-out tiles (no download)",
        ),
        DatasetEntry(
            name="torchvision",
            build=_torchvision,
            params=TorchvisionParams,
            description="MNIST, Fashion-MNIST, CIFAR-10 or CelebA via torchvision (downloads when allowed)",
        ),
    ]
