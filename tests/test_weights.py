"""Tests of the pretrained-weights policy (ganzoo.weights): lookup order, hashing, messages, no network."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from ganzoo import weights as W
from ganzoo.weights import WeightsError, WeightSpec, load_state_dict, resolve_weights, sha256_file

HINT = "use the fd-digits metric, which needs no download"
URL = "https://example.invalid/w/tiny-0123abcd.pth"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every search location into tmp_path and make any network access fail loudly."""
    monkeypatch.delenv(W.ENV_WEIGHTS, raising=False)
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the weights policy must never touch the network")

    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)


def _write(path: Path, state: dict[str, torch.Tensor] | None = None) -> tuple[Path, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state or {"w": torch.arange(6.0).view(2, 3)}, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _spec(digest: str, **kw: object) -> WeightSpec:
    return WeightSpec(name="tiny", filename="tiny-0123abcd.pth", sha256=digest, url=URL, description="test", **kw)  # type: ignore[arg-type]


def test_explicit_file_and_directory(tmp_path: Path) -> None:
    path, digest = _write(tmp_path / "elsewhere" / "tiny-0123abcd.pth")
    assert resolve_weights(_spec(digest), path) == path
    assert resolve_weights(_spec(digest), path.parent) == path
    assert torch.equal(load_state_dict(path)["w"], torch.arange(6.0).view(2, 3))


def test_env_dirs_in_order_then_cache_then_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    assert hub.is_relative_to(tmp_path)
    _, digest = _write(hub / "tiny-0123abcd.pth")
    assert resolve_weights(_spec(digest)).parent == hub

    cache = W.cache_dir()
    assert cache == tmp_path / "cache" / "weights"
    _write(cache / "tiny-0123abcd.pth")
    assert resolve_weights(_spec(digest)).parent == cache

    second, first = tmp_path / "second", tmp_path / "first"
    _write(second / "tiny-0123abcd.pth")
    monkeypatch.setenv(W.ENV_WEIGHTS, os.pathsep.join([str(first), str(second)]))
    assert resolve_weights(_spec(digest)).parent == second
    _write(first / "tiny-0123abcd.pth")
    assert resolve_weights(_spec(digest)).parent == first


def test_alias_prefix_and_wrong_copy_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good, digest = _write(tmp_path / "b" / "other-name.pth")
    _write(tmp_path / "a" / "tiny-0123abcd.pth", {"w": torch.zeros(1)})  # same name, wrong bytes
    monkeypatch.setenv(W.ENV_WEIGHTS, os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert resolve_weights(_spec(digest, aliases=("other-name.pth",))) == good
    assert resolve_weights(_spec(digest[:8], aliases=("other-name.pth",))) == good  # torch.hub-style prefix
    with pytest.raises(ValueError, match="lowercase hex"):
        _spec("XYZ")


def test_wrong_hash_names_both_hashes(tmp_path: Path) -> None:
    path, actual = _write(tmp_path / "tiny-0123abcd.pth")
    expected = "f" * 64
    with pytest.raises(WeightsError) as info:
        resolve_weights(_spec(expected), path, offline_hint=HINT)
    msg = str(info.value)
    assert expected in msg and actual in msg and str(path) in msg
    assert isinstance(info.value, RuntimeError)


def test_missing_lists_every_place_url_env_and_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = [tmp_path / "w1", tmp_path / "w2"]
    monkeypatch.setenv(W.ENV_WEIGHTS, os.pathsep.join(map(str, dirs)))
    with pytest.raises(WeightsError) as info:
        resolve_weights(_spec("a" * 64), offline_hint=HINT)
    msg = str(info.value)
    places = [*dirs, W.cache_dir(), Path(torch.hub.get_dir()) / "checkpoints"]
    positions = [msg.index(str(d / "tiny-0123abcd.pth")) for d in places]
    assert positions == sorted(positions), "places must be listed in search order"
    for needle in ("tiny-0123abcd.pth", "a" * 64, URL, "GANZOO_WEIGHTS", HINT, "never downloads"):
        assert needle in msg


def test_explicit_path_does_not_fall_back(tmp_path: Path) -> None:
    _, digest = _write(W.cache_dir() / "tiny-0123abcd.pth")
    with pytest.raises(WeightsError, match="not found"):
        resolve_weights(_spec(digest), tmp_path / "nope.pth")


def test_hash_is_cached_per_path_mtime_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, digest = _write(tmp_path / "x.pth")
    calls = []
    real = hashlib.sha256

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(W.hashlib, "sha256", counting)
    assert sha256_file(path) == digest and sha256_file(path) == digest
    assert len(calls) == 1
    torch.save({"w": torch.ones(3)}, path)  # rewritten: new size, so hashed again
    assert sha256_file(path) != digest and len(calls) == 2


def test_load_state_dict_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="bad.pth"):
        load_state_dict(bad)
    with pytest.raises(WeightsError, match="does not exist"):
        load_state_dict(tmp_path / "missing.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(WeightsError, match="not a state dict"):
        load_state_dict(tmp_path / "list.pth")
    torch.save({"state_dict": {"a": torch.ones(1)}, "epoch": 3}, tmp_path / "wrapped.pth")
    assert list(load_state_dict(tmp_path / "wrapped.pth")) == ["a"]
