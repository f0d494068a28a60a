"""``ganzoo plugin new``: a plugin package that installs, registers, tests and trains as generated.

The package registers a generator and a discriminator through a ``ganzoo`` entry
point, exactly as the built-in plugins do, and its tests use
:mod:`ganzoo.testing`. ``tests/test_scaffold.py`` installs a generated package
in a fresh virtual environment and runs its tests and a spec, so the scaffold
cannot rot unnoticed.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from ganzoo.errors import GanzooError

__all__ = ["ScaffoldError", "plugin_names", "new_plugin"]


class ScaffoldError(GanzooError, ValueError):
    """The plugin name or target directory is unusable."""


PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$component: a ganzoo plugin (generator and discriminator)"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["ganzoo>=$ganzoo_version"]

[project.optional-dependencies]
test = ["pytest>=7"]

# The one line that makes ganzoo find the plugin: no file names, no imports to edit.
[project.entry-points.ganzoo]
$package = "$package"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

INIT = '''\
"""$component: a generator and a discriminator for ganzoo.

Only hook implementations and parameter models live here: torch and the
networks are imported when a network is built, so ``ganzoo list`` stays fast
and a broken network file cannot break other plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ganzoo import ModelEntry, hookimpl

from $package.params import DiscriminatorParams, GeneratorParams

if TYPE_CHECKING:
    from torch import nn

    from ganzoo import DataInfo

__all__ = ["ganzoo_models"]


def build_generator(params: GeneratorParams, info: DataInfo) -> nn.Module:
    """The generator for ``info.channels`` x ``info.size`` images."""
    from $package.nets import Generator

    return Generator(info.channels, info.size, latent_dim=params.latent_dim, width=params.width)


def build_discriminator(params: DiscriminatorParams, info: DataInfo) -> nn.Module:
    """The discriminator for ``info.channels`` x ``info.size`` images."""
    from $package.nets import Discriminator

    return Discriminator(info.channels, info.size, width=params.width)


@hookimpl
def ganzoo_models() -> Iterable[ModelEntry]:
    # One name for both roles: specs say generator: {type: $component} and discriminator: {type: $component}.
    return [
        ModelEntry(name="$component", role="generator", build=build_generator, params=GeneratorParams,
                   description="$component generator: noise -> 4x4 features -> upsampling convolutions -> tanh."),
        ModelEntry(name="$component", role="discriminator", build=build_discriminator, params=DiscriminatorParams,
                   description="$component discriminator: strided convolutions -> one logit."),
    ]
'''

PARAMS = '''\
"""Parameter models: what a spec may set, validated before anything is built."""

from __future__ import annotations

from pydantic import Field

from ganzoo import Params


class GeneratorParams(Params):
    """Parameters of the $component generator."""

    latent_dim: int = Field(64, gt=0, le=4096, description="Dimension of the latent vector z.")
    width: int = Field(32, gt=0, le=1024, description="Channels of the last hidden layer (doubling towards the input).")


class DiscriminatorParams(Params):
    """Parameters of the $component discriminator."""

    width: int = Field(32, gt=0, le=1024, description="Channels of the first layer (doubling with depth).")
'''

NETS = '''\
"""The networks. Images are float in [-1, 1], shaped (B, C, H, W)."""

from __future__ import annotations

import torch
from torch import nn


def _depth(size: int) -> int:
    if size < 8 or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= 8, got {size}")
    return size.bit_length() - 3  # 4x4 -> size: one upsampling per doubling


class Generator(nn.Module):
    """z (B, Z) -> images (B, C, S, S) in [-1, 1]."""

    def __init__(self, channels: int, size: int, *, latent_dim: int, width: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim  # the unconditional task reads it to draw z
        n = _depth(size)
        ch = [width * 2 ** (n - i) for i in range(n + 1)]  # widest at 4x4
        self.stem = nn.Linear(latent_dim, ch[0] * 16)
        self.ch0 = ch[0]
        blocks: list[nn.Module] = []
        for i in range(n):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(ch[i], ch[i + 1], 3, padding=1), nn.BatchNorm2d(ch[i + 1]), nn.ReLU()]
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(ch[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(-1, self.ch0, 4, 4)  # (B, ch0, 4, 4)
        h = self.blocks(h)  # (B, width, S, S)
        return torch.tanh(self.to_image(h))  # (B, C, S, S)


class Discriminator(nn.Module):
    """Images (B, C, S, S) -> logits (B,). No sigmoid: the losses work on logits."""

    def __init__(self, channels: int, size: int, *, width: int) -> None:
        super().__init__()
        n = _depth(size)
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(n):
            c_out = width * 2**i
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, width * 2^(n-1), 4, 4)
        return self.head(h.flatten(1)).squeeze(1)  # (B,)
'''

CONFTEST = '''\
import pytest
import torch

import $package

pytest_plugins = ["ganzoo.testing"]  # the ganzoo_* fixtures


@pytest.fixture(scope="session")
def ganzoo_plugins():
    # Registered in addition to the installed plugins; harmless once `pip install -e .` did it.
    return [$package]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # small tensors: threads cost more than they give
'''

TESTS = '''\
"""The checks ganzoo runs on its own built-ins, on this plugin."""

import $package
from ganzoo.testing import check_entry, check_plugin_loads, each_component, smoke_component


def test_plugin_loads(ganzoo_registries):
    check_plugin_loads(ganzoo_registries, $package)


@each_component($package)  # one test per component: [generator:$component], [discriminator:$component]
def test_component(ganzoo_component, ganzoo_registries, tmp_path):
    check_entry(ganzoo_component)
    smoke_component(ganzoo_registries, ganzoo_component, tmp_path)


def test_spec_trains(ganzoo_train_tiny):
    ganzoo_train_tiny(
        {"generator": {"type": "$component"}, "discriminator": {"type": "$component"}},
        overrides=["generator.params.width=8", "discriminator.params.width=8"],
    )
'''

SPEC = '''\
# yaml-language-server: $$schema=ganzoo.schema.json
# (editor completion: `ganzoo schema --out specs/ganzoo.schema.json` once the plugin is installed)
# $component on the bundled handwritten digits: a few minutes on a laptop CPU.
#   ganzoo train specs/$component-digits.yaml --out runs/$component-digits
name: $component-digits
task: unconditional
seed: 0
data: {type: digits, params: {size: 32}}
generator: {type: $component, params: {latent_dim: 64, width: 32}}
discriminator: {type: $component, params: {width: 32}}
losses:
  adversarial: {type: non-saturating}
optim:
  generator: {lr: 2.0e-4, betas: [0.5, 0.999]}
  discriminator: {lr: 2.0e-4, betas: [0.5, 0.999]}
train: {steps: 1500, batch_size: 64, log_every: 25, sample_every: 250, checkpoint_every: 500}
eval:
  metrics: [{type: fd-domain, params: {n: 2000}}]
'''

README = '''\
# $dist

A ganzoo plugin: the `$component` generator and discriminator.

```bash
python -m pip install -e ".[test]"              # registers the plugin (entry point in pyproject.toml)
ganzoo list model $component                     # it is there
python -m pytest                                 # the checks ganzoo runs on its built-ins
ganzoo train specs/$component-digits.yaml --out runs/$component-digits
```

- `src/$package/__init__.py`: the `ganzoo_models` hook; add `ganzoo_losses`,
  `ganzoo_datasets`, `ganzoo_metrics` or `ganzoo_tasks` the same way.
- `src/$package/params.py`: what a spec may set (unknown keys are errors; describe every field).
- `src/$package/nets.py`: the networks (images in [-1, 1]; discriminators return logits).
- `tests/`: `ganzoo.testing` smoke-tests every component and trains a tiny spec.
'''

FILES: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "src/$package/__init__.py": INIT,
    "src/$package/params.py": PARAMS,
    "src/$package/nets.py": NETS,
    "tests/conftest.py": CONFTEST,
    "tests/test_$package.py": TESTS,
    "specs/$component-digits.yaml": SPEC,
}


def plugin_names(name: str) -> dict[str, str]:
    """Package, distribution and component names for ``name`` (``my_gan`` or ``my-gan``).

    Raises:
        ScaffoldError: ``name`` cannot be a Python package name.
    """
    package = name.strip().replace("-", "_").lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", package) or keyword.iskeyword(package) or package in ("ganzoo", "test", "tests"):
        raise ScaffoldError(f"{name!r} cannot name a plugin package: use letters, digits, '_' or '-', starting with a letter (e.g. my_gan)")
    component = re.sub(r"^ganzoo_", "", package).replace("_", "-")
    dist = package.replace("_", "-")
    return {"package": package, "dist": dist, "component": component}


def new_plugin(name: str, directory: str | Path | None = None) -> Path:
    """Write a plugin package for ``name``; returns its directory (default ``./DIST``).

    Raises:
        ScaffoldError: Bad name, or the directory exists and is not empty.
    """
    from ganzoo import __version__

    names = plugin_names(name)
    root = Path(directory) if directory is not None else Path(names["dist"])
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} exists and is not empty; choose another directory (nothing was written)")
    values = {**names, "ganzoo_version": __version__}
    for rel, text in FILES.items():
        path = root / Template(rel).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values))
    return root
