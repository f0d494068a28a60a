"""Property-based fuzzing of the spec loader: no input may produce an unhandled exception."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganzoo.plugin.registry import load_registries
from ganzoo.spec.model import SpecError, apply_overrides, parse_spec_text, validate_spec
from tests.conftest import TINY_SPEC

REG = load_registries()

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["dcgan", "digits", "unconditional", "non-saturating", "fp16", "auto", "-1", "1e-4"]),
)
keys = st.one_of(st.text(max_size=10), st.sampled_from(["type", "params", "train", "steps", "width", "data", "generator", "losses", "eval"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=20)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, prefix + (k,))
    return out


def _check(data: Any) -> None:
    try:
        validate_spec(data, REG)
    except SpecError as exc:
        assert exc.issues and str(exc)  # a message, never a crash


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(values)
def test_arbitrary_data(data):
    _check(data)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_valid_spec(data):
    spec = copy.deepcopy(TINY_SPEC)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(spec)[1:]))
        node = spec
        for part in path[:-1]:
            node = node[part]
        if data.draw(st.booleans()):
            node[path[-1]] = data.draw(values)
        else:
            node[data.draw(keys)] = data.draw(values)
    _check(spec)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=80))
def test_arbitrary_yaml_text(text):
    try:
        data = parse_spec_text(text)
    except SpecError:
        return
    _check(data)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.text(max_size=30), max_size=4))
def test_arbitrary_overrides(overrides):
    try:
        data = apply_overrides(TINY_SPEC, overrides)
    except SpecError:
        return
    _check(data)
