"""Spec loading and validation: types, unknown keys and components, overrides, YAML, schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ganzoo.spec.model import SpecError, apply_overrides, json_schema, load_spec, spec_hash, validate_spec
from ganzoo.spec.yamlio import load_yaml
from tests.conftest import REPO


def _errors(exc: SpecError) -> dict[str, str]:
    return {i.path: i.message for i in exc.issues}


def test_valid_spec_resolves_defaults(registries, tiny_spec):
    spec = validate_spec(tiny_spec, registries)
    assert spec.task.type == "unconditional"
    assert spec.generator.params.latent_dim == 8
    assert spec.discriminator.params.spectral_norm is False  # default filled in
    assert spec.optim.generator.betas == (0.5, 0.999)


def test_wrong_type_is_path_qualified(registries, tiny_spec):
    tiny_spec["generator"]["params"]["width"] = -1
    with pytest.raises(SpecError) as ei:
        validate_spec(tiny_spec, registries)
    errs = _errors(ei.value)
    assert "generator.params.width (type=dcgan)" in errs
    assert "greater than 0" in errs["generator.params.width (type=dcgan)"]


def test_wrong_scalar_type(registries, tiny_spec):
    tiny_spec["train"]["steps"] = "many"
    with pytest.raises(SpecError) as ei:
        validate_spec(tiny_spec, registries)
    assert "integer" in _errors(ei.value)["train.steps"]


def test_unknown_key_suggests(registries, tiny_spec):
    tiny_spec["train"]["stpes"] = 3
    tiny_spec["generator"]["params"]["widht"] = 3
    with pytest.raises(SpecError) as ei:
        validate_spec(tiny_spec, registries)
    errs = _errors(ei.value)
    assert "Did you mean 'steps'" in errs["train.stpes"]
    assert "Did you mean 'width'" in errs["generator.params.widht (type=dcgan)"]


def test_unknown_component_suggests(registries, tiny_spec):
    tiny_spec["data"]["type"] = "digts"
    tiny_spec["generator"]["type"] = "dcgn"
    with pytest.raises(SpecError) as ei:
        validate_spec(tiny_spec, registries)
    errs = _errors(ei.value)
    assert "unknown type 'digts'" in errs["data.type"] and "Did you mean 'digits'" in errs["data.type"]
    assert "Did you mean 'dcgan'" in errs["generator.type"]


def test_task_requirements(registries, tiny_spec):
    del tiny_spec["discriminator"]
    with pytest.raises(SpecError) as ei:
        validate_spec(tiny_spec, registries)
    assert "required by task 'unconditional'" in _errors(ei.value)["discriminator"]


def test_top_level_must_be_mapping(registries):
    with pytest.raises(SpecError, match="mapping"):
        validate_spec([1, 2], registries)


def test_overrides_apply_and_validate(registries, tiny_spec, write_spec):
    path = write_spec(tiny_spec)
    spec = load_spec(path, registries, ["train.steps=7", "optim.generator.lr=1e-3", "generator.params.width=4"])
    assert spec.train.steps == 7
    assert spec.optim.generator.lr == pytest.approx(1e-3)  # YAML 1.1 would read 1e-3 as a string
    assert spec.generator.params.width == 4
    with pytest.raises(SpecError) as ei:
        load_spec(path, registries, ["train.steps=-3"])
    assert "train.steps" in _errors(ei.value)


@pytest.mark.parametrize(
    "override, fragment",
    [("train.steps", "expected KEY=VALUE"), ("=3", "expected KEY=VALUE"), ("name.x=1", "name is a str, not a mapping"), ("train.steps=[1", "not valid YAML")],
)
def test_bad_override(tiny_spec, override, fragment):
    with pytest.raises(SpecError) as ei:
        apply_overrides(tiny_spec, [override])
    assert fragment in str(ei.value)


def test_override_into_list(tiny_spec):
    tiny_spec["x"] = [{"a": 1}]
    out = apply_overrides(tiny_spec, ["x.0.a=2"])
    assert out["x"][0]["a"] == 2 and tiny_spec["x"][0]["a"] == 1  # input left untouched


def test_yaml_floats_and_safety():
    assert load_yaml("a: 1e-4\nb: 3E5\nc: 1.5\nd: 10") == {"a": 1e-4, "b": 3e5, "c": 1.5, "d": 10}
    import yaml

    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['echo pwned']")


def test_malformed_yaml_has_line(registries, write_spec):
    path = write_spec("name: x\ntrain: {steps: [1\n")
    with pytest.raises(SpecError) as ei:
        load_spec(path, registries)
    assert ei.value.issues[0].line is not None and "malformed YAML" in ei.value.issues[0].message


def test_error_lines_point_into_file(registries, write_spec):
    text = (REPO / "registry" / "dcgan-digits.yaml").read_text().replace("width: 32}", "width: -1}", 1)
    path = write_spec(text)
    with pytest.raises(SpecError) as ei:
        load_spec(path, registries)
    issue = ei.value.issues[0]
    assert issue.path.startswith("generator.params.width")
    assert "width: -1" in text.splitlines()[issue.line - 1]


def test_spec_hash_is_stable_and_sensitive(registries, tiny_spec):
    a, b = validate_spec(tiny_spec, registries), validate_spec(dict(tiny_spec), registries)
    assert spec_hash(a) == spec_hash(b)
    tiny_spec["seed"] = 1
    assert spec_hash(validate_spec(tiny_spec, registries)) != spec_hash(a)


def test_schema_covers_plugin_params(registries):
    schema = json.dumps(json_schema(registries))
    for fragment in ('"dcgan"', "latent_dim", "spectral_norm", '"digits"', '"non-saturating"'):
        assert fragment in schema


def test_committed_schema_is_current(registries):
    """registry/ganzoo.schema.json is generated; regenerate with `ganzoo schema --out registry/ganzoo.schema.json`."""
    committed = json.loads((REPO / "registry" / "ganzoo.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema(registries))), "schema drifted: regenerate it"


def test_committed_catalogue_is_current(registries):
    """registry/components.json is generated; regenerate with `ganzoo list --json registry/components.json`."""
    from ganzoo.api import component_catalog

    committed = json.loads((REPO / "registry" / "components.json").read_text())
    assert committed == json.loads(json.dumps(component_catalog(registries))), "catalogue drifted: regenerate it"


@pytest.mark.parametrize("spec_file", sorted((REPO / "registry").glob("*.yaml")), ids=lambda p: p.stem)
def test_registry_specs_validate(registries, spec_file):
    spec = load_spec(spec_file, registries)
    assert spec.name == spec_file.stem


def test_cli_validate_exit_2_without_traceback(tmp_path):
    """The real console script: bad width -> exit 2, message names the path, no traceback."""
    spec = tmp_path / "bad.yaml"
    spec.write_text((REPO / "registry" / "dcgan-digits.yaml").read_text().replace("type: dcgan\n  params: {latent_dim", "type: dcgn\n  params: {latent_dim"))
    proc = subprocess.run(
        [sys.executable, "-m", "ganzoo", "validate", str(spec), "--set", "generator.params.width=-1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "generator.type: unknown type 'dcgn'. Did you mean 'dcgan'" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "ganzoo", "validate", str(REPO / "registry" / "dcgan-digits.yaml"), "--set", "generator.params.width=-1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "generator.params.width (type=dcgan): Input should be greater than 0" in proc.stderr
    assert "Traceback" not in proc.stderr
