"""The files every scaffolded plugin has, whatever its kinds: project metadata, README, hooks, tests, a spec."""

from __future__ import annotations

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$component: a ganzoo plugin ($summary)"
readme = "README.md"
requires-python = ">=3.10"
# The distribution floor; the package also states the plugin API it needs at import (src/$package/__init__.py).
dependencies = ["ganzoo>=$ganzoo_version"]
# "ganzoo-plugin" is how users find plugins on PyPI (there is no registered ganzoo trove classifier yet).
keywords = ["ganzoo", "ganzoo-plugin", "gan", "pytorch"]
classifiers = [
    "Programming Language :: Python :: 3",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
]

[project.optional-dependencies]
test = ["pytest>=7"]

# The one line that makes ganzoo find the plugin: no file names, no imports to edit.
[project.entry-points.ganzoo]
$package = "$package"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 120

[tool.ruff.lint]
select = ["E", "W", "F", "I", "B", "UP", "SIM", "RUF"]
'''

README = '''\
# $dist

A ganzoo plugin: $summary, all named `$component`.

```bash
python -m pip install -e ".[test]"  # registers the plugin (entry point in pyproject.toml)
ganzoo show $component  # its components and their parameters
python -m pytest  # the checks ganzoo runs on its built-ins
ganzoo train specs/$component.yaml --out runs/$component
```

Needs ganzoo plugin API $plugin_api or a later 1.x (checked at import: on another ganzoo,
`ganzoo plugins` says what to upgrade).

- `src/$package/__init__.py`: the hooks and the plugin API check; each hook imports one registration module.
$kind_lines
- `tests/`: `ganzoo.testing` smoke-tests every component and trains a tiny spec.
- `specs/$component.yaml`: a spec that trains the plugin's components together.

Before publishing: say here what each component is (paper, defaults, expected scores with their
`ganzoo eval` protocol), where any pretrained weights come from (URL, SHA-256, licence), and how to cite.
'''

INIT_HEAD = '''\
"""$package: a ganzoo plugin.

$summary_wrapped

Only the hooks live here. Each imports a registration module that holds parameter models and builders
only: torch and the implementations are imported when a component is built, so `ganzoo list` stays fast
and a broken file cannot break other plugins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ganzoo import hookimpl, require_plugin_api

if TYPE_CHECKING:
    from ganzoo import $entries

# First: on a ganzoo whose plugin API this package was not written for, importing it raises a PluginError
# that says what to upgrade, and `ganzoo plugins` lists the plugin as failed instead of half-working.
require_plugin_api("$plugin_api", "$dist")

__all__ = [$hooks]
'''

HOOK = '''

@hookimpl
def $hook() -> Iterable[$entry]:
    from $package.$module import $constant

    return $constant
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

$imports

# The tiny run of test_spec_trains: these sections replace those of ganzoo.testing.TINY_SPEC.
TINY = {
$tiny
}


def test_plugin_loads(ganzoo_registries):
    check_plugin_loads(ganzoo_registries, $package)


# One test per component, with ids such as $ids
@each_component($package)
def test_component(ganzoo_component, ganzoo_registries, tmp_path):
    check_entry(ganzoo_component)
    smoke_component(ganzoo_registries, ganzoo_component, tmp_path)


def test_spec_trains($fixtures):
$checks
'''

SPEC = '''\
# yaml-language-server: $$schema=ganzoo.schema.json
# (editor completion: `ganzoo schema --out specs/ganzoo.schema.json` once the plugin is installed)
# The plugin's components (the built-ins where it has none) trained together: minutes on a laptop CPU.
#   ganzoo train specs/$component.yaml --out runs/$component
name: $component
task: $task
seed: 0
data: $data
generator: $generator
discriminator: $discriminator
losses:
  adversarial: $adversarial
optim:
  generator: {lr: 2.0e-4, betas: [0.5, 0.999]}
  discriminator: {lr: 2.0e-4, betas: [0.5, 0.999]}
train: {steps: 1500, batch_size: 64, log_every: 25, sample_every: 250, checkpoint_every: 500}
eval:
  metrics: [$metric]
'''

# The built-ins a spec uses where the plugin brings no component of that kind.
SPEC_DEFAULTS = {
    "task": "unconditional",
    "data": "{type: digits, params: {size: 32}}",
    "generator": "{type: dcgan, params: {latent_dim: 64, width: 32}}",
    "discriminator": "{type: dcgan, params: {width: 32}}",
    "losses.adversarial": "{type: non-saturating}",
    "eval.metrics": "{type: fd-domain, params: {n: 2000}}",
}
