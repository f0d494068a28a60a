"""A discriminator on any timm backbone: ``timm.create_model(name, num_classes=0)`` -> pooled features -> linear -> logit.

Pretrained weights come only from a local file, optionally checked against a
SHA-256 and always loaded with ``torch.load(weights_only=True)``, so a file
carrying a pickled code payload is refused and nothing is downloaded.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ganzoo import ConfigError, DataInfo, WeightsError
from ganzoo.weights import sha256_file

__all__ = ["TimmDiscriminator", "TimmWeightsError", "TimmWeightsMissingError", "read_weights"]


class TimmWeightsError(WeightsError, ValueError):
    """The weights file has another SHA-256, is not a state dict, or does not fit the model (a ``ValueError`` too, as before)."""


class TimmWeightsMissingError(TimmWeightsError, FileNotFoundError):
    """The weights file does not exist."""

_WRAPPER_KEYS = ("state_dict", "model", "state_dict_ema")  # common checkpoint layouts around a state dict


def read_weights(path: Path, sha256: str | None = None) -> dict[str, Tensor]:
    """Read a local state dict, checking its SHA-256 first when given.

    Args:
        path: The weights file (``torch.save`` of a state dict, possibly under ``state_dict``/``model``).
        sha256: Expected hex digest, or None to skip the check.

    Returns:
        The state dict, on the CPU.

    Raises:
        TimmWeightsMissingError: The file does not exist (a ``FileNotFoundError``).
        TimmWeightsError: The digest differs, or the file is not a state dict of tensors (a ``ValueError``).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise TimmWeightsMissingError(f"timm discriminator weights file {path} does not exist (weights are only read from local files)")
    if sha256 is not None:
        digest = sha256_file(path)
        if digest != sha256.lower():
            raise TimmWeightsError(
                f"timm discriminator weights file {path} has sha256 {digest}, expected {sha256.lower()}; refusing to load it"
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TimmWeightsError(
            f"cannot load timm discriminator weights file {path} (torch.load, weights_only=True): {type(exc).__name__}: {first}"
        ) from None
    for key in _WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise TimmWeightsError(f"timm discriminator weights file {path} does not hold a state dict of tensors")
    return state


def _channel_stats(mean: tuple[float, ...], std: tuple[float, ...], channels: int) -> tuple[Tensor, Tensor]:
    """Per-channel normalisation stats as (1, C, 1, 1); a grayscale input takes the mean over the RGB values.

    The averaged stats match how ``adapt_input_conv`` sums the RGB stem filters for one channel.
    """
    m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
    if channels != m.numel():
        m, s = m.mean().repeat(channels), s.mean().repeat(channels)
    return m.view(1, -1, 1, 1), s.view(1, -1, 1, 1)


def _unknown_model(name: str) -> ConfigError:
    import timm

    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return ConfigError(f"unknown timm model {name!r}.{hint} See timm.list_models().")


class TimmDiscriminator(nn.Module):
    """A timm backbone with a linear head to one logit; random init unless ``weights`` is given.

    Args:
        info: Input channels and size; the backbone must accept (C, size, size).
        model: timm architecture name.
        weights: Local state dict of the backbone (timm layout; its classifier is
            dropped and a 3-channel stem is adapted to ``info.channels``) or of a
            whole ``TimmDiscriminator`` of the same architecture.
        sha256: Expected SHA-256 of ``weights``.
        spectral_norm: Spectral normalisation on every Conv2d and Linear, applied after loading.
        normalize: ``imagenet`` maps [-1, 1] images to the backbone's pretrained
            mean/std (what pretrained weights expect), ``none`` feeds them as they
            are, ``auto`` is ``imagenet`` when ``weights`` holds backbone weights
            (not a whole discriminator saved by ganzoo, which saw raw images).

    Raises:
        ConfigError: Unknown model, or a size the model refuses (a ``ValueError``).
        TimmWeightsError: Unusable weights; :class:`TimmWeightsMissingError` when ``weights`` does not exist.
    """

    mean: Tensor  # buffers, (1, C, 1, 1)
    std: Tensor

    def __init__(
        self,
        info: DataInfo,
        *,
        model: str = "resnet10t",
        weights: Path | None = None,
        sha256: str | None = None,
        spectral_norm: bool = False,
        normalize: str = "auto",
    ) -> None:
        super().__init__()
        import timm

        if not timm.is_model(model):
            raise _unknown_model(model)
        self.model_name = model
        self.backbone = timm.create_model(model, pretrained=False, num_classes=0, in_chans=info.channels)
        state = read_weights(weights, sha256) if weights is not None else None
        # Backbone weights (ImageNet) expect ImageNet statistics; a whole discriminator saved from ganzoo was trained on raw [-1, 1].
        backbone_weights = state is not None and not any(k.startswith(("backbone.", "head.")) for k in state)
        self.normalize = normalize == "imagenet" or (normalize == "auto" and backbone_weights)
        cfg = getattr(self.backbone, "pretrained_cfg", {}) or {}
        mean, std = _channel_stats(cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225)), info.channels)
        self.register_buffer("mean", mean, persistent=False)  # (1, C, 1, 1)
        self.register_buffer("std", std, persistent=False)  # (1, C, 1, 1)
        features = self._probe(info)
        self.head = nn.Linear(features, 1)
        # A state dict saved from a spectrally normalised model stores parametrised weights: wrap first, then load.
        sn_first = spectral_norm and state is not None and any(".parametrizations." in k for k in state)
        if sn_first:
            self._spectral_norm()
        if state is not None and weights is not None:  # (state is read from weights)
            self._load(state, Path(weights), info.channels)
        if spectral_norm and not sn_first:
            self._spectral_norm()

    def _probe(self, info: DataInfo) -> int:
        """Run a dummy batch to check the input size; return the pooled feature size."""
        was_training = self.backbone.training
        self.backbone.eval()  # BatchNorm in train mode refuses a 1x1 map of a tiny batch
        try:
            with torch.no_grad():
                out = self.backbone(self._prepare(torch.zeros(2, info.channels, info.size, info.size)))
        except Exception as exc:  # noqa: BLE001 - shape errors come as RuntimeError, AssertionError, ValueError...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"timm model {self.model_name!r} does not accept {info.channels}x{info.size}x{info.size} images ({first}); "
                "pick a convolutional model that handles small inputs, such as 'resnet10t'"
            ) from None
        finally:
            self.backbone.train(was_training)
        if out.ndim != 2:
            raise ConfigError(
                f"timm model {self.model_name!r} returns features of shape {tuple(out.shape)} with num_classes=0, expected (B, F)"
            )
        return int(out.shape[1])

    def _prepare(self, x: Tensor) -> Tensor:
        if not self.normalize:
            return x
        return ((x + 1) / 2 - self.mean) / self.std  # (B, C, H, W): [-1, 1] -> ImageNet statistics

    def _spectral_norm(self) -> None:
        for m in list(self.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                _spectral_norm(m)

    def _load(self, state: dict[str, Tensor], path: Path, channels: int) -> None:
        whole = any(k.startswith(("backbone.", "head.")) for k in state)
        target: nn.Module = self if whole else self.backbone
        if not whole:
            state = dict(state)
            cfg = getattr(self.backbone, "pretrained_cfg", {}) or {}
            classifiers = cfg.get("classifier") or ()
            for prefix in (classifiers,) if isinstance(classifiers, str) else classifiers:
                state = {k: v for k, v in state.items() if not k.startswith(prefix + ".")}  # num_classes=0 has no classifier
            stems = cfg.get("first_conv") or ()
            for stem in (stems,) if isinstance(stems, str) else stems:
                key = f"{stem}.weight"
                if key in state and state[key].ndim == 4 and state[key].shape[1] != channels:
                    from timm.models import adapt_input_conv

                    state[key] = adapt_input_conv(channels, state[key])  # e.g. RGB ImageNet weights for grayscale data
        try:
            missing, unexpected = target.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            detail = " ".join(str(exc).split())[:400]
            raise TimmWeightsError(
                f"timm discriminator weights file {path} does not fit timm model {self.model_name!r}: {detail}"
            ) from None
        if missing or unexpected:
            raise TimmWeightsError(
                f"timm discriminator weights file {path} does not fit timm model {self.model_name!r} with {channels} channel(s): "
                f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}"
            )

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Score images.

        Args:
            x: (B, C, H, W) images in [-1, 1].
            y: Class labels; ignored (accepted for a uniform call).

        Returns:
            (B,) logits; higher means "real".
        """
        features = self.backbone(self._prepare(x))  # (B, F), pooled
        return self.head(features).squeeze(1)  # (B,)
