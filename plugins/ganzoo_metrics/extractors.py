"""Feature extractors for distribution metrics: uint8 images in, float64 features out.

Every extractor states what it is (:meth:`FeatureExtractor.protocol`): network,
weight-file SHA-256, resize. A metric records that next to its value, so a score
computed with other weights, another resize or a random network cannot be
mistaken for a comparable one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.errors import ConfigError
from ganzoo.weights import WeightsError, WeightSpec, load_state_dict, resolve_weights, search_dirs, sha256_file

__all__ = ["RANDOM_INIT", "FeatureExtractor", "InceptionFeatures", "TimmFeatures", "to_rgb"]

RANDOM_INIT = "random-init"


def to_rgb(images: Tensor) -> Tensor:
    """Validate uint8 ``(B, C, H, W)`` images with C in {1, 3}; repeat gray to 3 channels."""
    if images.dtype != torch.uint8:
        raise ValueError(f"feature extractors take uint8 images (0..255), got {images.dtype}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"feature extractors take (B, 1, H, W) or (B, 3, H, W) images, got {tuple(images.shape)}")
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class FeatureExtractor(ABC):
    """Maps uint8 ``(B, C, H, W)`` images to float64 ``(B, feature_dim)`` features on the CPU.

    Gray images are repeated to RGB. Subclasses set the attributes and implement
    :meth:`extract`.

    Attributes:
        name: Extractor identifier (``"inception-v3-fid"``, ``"timm:resnet50"``).
        feature_dim: ``D``.
        weights_sha256: SHA-256 of the weight file, or ``None`` when the network
            is randomly initialised (or trained by ganzoo and identified otherwise).
        resize: How images are brought to the network's input size (for the record).
        random_init: True when the network has no pretrained weights.
    """

    name: str
    feature_dim: int
    weights_sha256: str | None = None
    resize: str = ""
    random_init: bool = False

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)

    @abstractmethod
    def extract(self, images: Tensor) -> Tensor:
        """uint8 RGB ``(B, 3, H, W)`` on :attr:`device` -> float ``(B, feature_dim)``."""

    def __call__(self, images: Tensor) -> Tensor:
        rgb = to_rgb(images).to(self.device)
        with torch.inference_mode():
            feats = self.extract(rgb)  # (B, D)
        return feats.to("cpu", torch.float64)

    def protocol(self) -> dict[str, Any]:
        """What a metric must record for its value to be reproducible."""
        return {
            "extractor": self.name,
            "feature_dim": self.feature_dim,
            "weights": RANDOM_INIT if self.random_init else self.weights_sha256,
            "resize": self.resize,
        }


class InceptionFeatures(FeatureExtractor):
    """The FID Inception-v3 (TF 2015-12-05 graph), the network of published FID/KID/IS.

    Args:
        weights: Explicit weight file; otherwise found under the weights policy.
        output: ``"2048"`` (pool3, for FID/KID/PR) or ``"logits_unbiased"`` (for IS).
        device: Where the network runs.
        allow_random: Skip the weights and use a random network (tests only; the
            protocol then says ``random-init``).
        offline_hint: Alternative named in the error when the file is missing.
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        output: str = "2048",
        device: str | torch.device = "cpu",
        allow_random: bool = False,
        offline_hint: str | None = None,
    ) -> None:
        from ganzoo_metrics.inception import OFFLINE_HINT, FIDInceptionV3, load_inception

        super().__init__(device)
        if output not in ("2048", "logits_unbiased"):
            raise ValueError(f"output must be '2048' or 'logits_unbiased', got {output!r}")
        self.output = output
        self.name = "inception-v3-fid"
        self.feature_dim = 2048 if output == "2048" else 1008
        self.resize = "TF1 bilinear (align_corners=False, no half-pixel offset) to 299x299, then (x - 128) / 128"
        if allow_random and weights is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.net = FIDInceptionV3().to(self.device)
            self.random_init = True
        else:
            self.net, self.weights_sha256 = load_inception(weights, device=self.device, offline_hint=offline_hint or OFFLINE_HINT)

    def features(self, images: Tensor) -> dict[str, Tensor]:
        """Both outputs in one pass (FID and IS together), float64 on the CPU."""
        rgb = to_rgb(images).to(self.device)
        with torch.inference_mode():
            out = self.net(rgb)
        return {k: v.to("cpu", torch.float64) for k, v in out.items()}

    def extract(self, images: Tensor) -> Tensor:
        return self.net(images)[self.output]  # (B, D)


class TimmFeatures(FeatureExtractor):
    """Pooled pre-classifier features of any timm backbone.

    ``timm.create_model(model_name, pretrained=False, num_classes=0)``; pretrained
    weights come only from a local file (never from the hub). Images are scaled
    to [0, 1], resized (bicubic, antialiased) to ``image_size`` and normalised with
    the model's own mean/std.

    Args:
        model_name: timm model name.
        weights_path: Local weight file (``.pth``/``.bin``/``.safetensors``). A bare
            file name is looked up in the weights directories (``$GANZOO_WEIGHTS``, cache).
        pretrained_sha256: Expected SHA-256 of the file; verified when given, and the
            file's actual hash is recorded either way.
        image_size: Square input resolution.
        allow_random: Permit running without weights (tests only); the protocol then
            says ``random-init`` so the value is never mistaken for a real score.
        device: Where the network runs.

    Raises:
        WeightsError: No weights were given and ``allow_random`` is false, or the file
            is missing, has the wrong hash, or does not fit the model.
    """

    def __init__(
        self,
        model_name: str,
        weights_path: str | Path | None = None,
        pretrained_sha256: str | None = None,
        image_size: int = 224,
        *,
        allow_random: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        import timm
        from timm.data import resolve_data_config

        super().__init__(device)
        self.name = f"timm:{model_name}"
        self.image_size = image_size
        if weights_path is None and not allow_random:
            raise WeightsError(
                f"TimmFeatures({model_name!r}) needs pretrained weights from a local file: pass weights_path "
                "(a path, or a file name found in $GANZOO_WEIGHTS or the ganzoo cache, see docs/weights.md). "
                "ganzoo never downloads weights. allow_random=True runs a randomly initialised network, "
                f"whose scores are recorded as '{RANDOM_INIT}' and are not comparable with anything."
            )
        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream alone
            torch.manual_seed(0)  # so that a random network is at least the same one every time
            self.model: nn.Module = timm.create_model(model_name, pretrained=False, num_classes=0)
        cfg = resolve_data_config({}, model=self.model)
        pretrained_cfg: dict[str, Any] = getattr(self.model, "pretrained_cfg", {})
        if pretrained_cfg.get("fixed_input_size") and tuple(cfg["input_size"][1:]) != (image_size, image_size):
            side = f"{cfg['input_size'][1]}x{cfg['input_size'][2]}"
            raise ConfigError(f"timm model {model_name!r} only takes {side} inputs; set image_size to match")
        if weights_path is not None:
            self.weights_sha256 = self._load(weights_path, pretrained_sha256)
        else:
            self.random_init = True
        self.model.requires_grad_(False).eval().to(self.device)
        # head_hidden_size: models with a conv head (MobileNetV3) pool to more than num_features.
        dim: Any = getattr(self.model, "head_hidden_size", None) or self.model.num_features
        self.feature_dim = int(dim)
        self.mean = torch.tensor(cfg["mean"], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(cfg["std"], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.resize = (
            f"bicubic antialiased to {image_size}x{image_size}, then (x/255 - mean) / std "
            f"with mean={tuple(cfg['mean'])}, std={tuple(cfg['std'])}"
        )

    def _load(self, weights_path: str | Path, sha256: str | None) -> str:
        p = Path(weights_path).expanduser()
        # A bare name that is not a file here is looked up in the weights directories.
        bare = not p.exists() and p.parent == Path(".")
        hint = f"pass allow_random=True (recorded as '{RANDOM_INIT}') or use another metric"
        if sha256 is not None:
            spec = WeightSpec(name=self.name, filename=p.name, sha256=sha256.lower(),
                              url="the model's release page (its timm pretrained_cfg / Hugging Face card)")
            p = resolve_weights(spec, None if bare else p, offline_hint=hint)
        elif bare:
            places = [d / p.name for d, _ in search_dirs()]
            found = next((c for c in places if c.is_file()), None)
            if found is None:
                raise WeightsError(f"timm weight file {p.name} not found; searched: {', '.join(map(str, places))}; {hint}")
            p = found
        elif not p.is_file():
            raise WeightsError(f"timm weight file {p} does not exist; {hint}")
        self._load_state(load_state_dict(p), p)
        return sha256_file(p)  # recorded whether or not an expected hash was given

    def _load_state(self, state: dict[str, Tensor], path: Path) -> None:
        try:
            missing, unexpected = self.model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches raise even when strict=False
            raise WeightsError(f"{path} does not fit timm model {self.name[5:]!r}: {str(exc).splitlines()[-1].strip()}") from None
        # Only the classifier may be left over: the model was built with num_classes=0.
        pretrained_cfg: dict[str, Any] = getattr(self.model, "pretrained_cfg", {})
        classifier = pretrained_cfg.get("classifier") or ()
        heads = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        unexpected = [k for k in unexpected if not any(k.startswith(h + ".") for h in heads)]
        if missing or unexpected:
            raise WeightsError(
                f"{path} does not fit timm model {self.name[5:]!r}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
            )

    def extract(self, images: Tensor) -> Tensor:
        x = images.float() / 255  # (B, 3, H, W) in [0, 1]
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
        return self.model((x - self.mean) / self.std)  # (B, D)

