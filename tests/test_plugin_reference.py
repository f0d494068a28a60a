"""The hook and protocol reference in docs/plugins.md is generated from the code and cannot drift from it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Protocol

import pytest

from ganzoo.plugin import reference
from ganzoo.plugin.hookspecs import SPEC_CLASSES
from ganzoo.plugin.manager import HOOK_NAMES
from ganzoo.plugin.reference import PROTOCOLS, ReferenceDrift, members

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "plugins.md"


def _block() -> str:
    text = DOC.read_text()
    return text[text.index(reference.BEGIN) : text.index(reference.END)]


def test_the_docs_hold_the_reference_the_code_generates() -> None:
    assert reference.sync(DOC, check=True), "docs/plugins.md is stale: run `python -m ganzoo.plugin.reference`"


def test_every_hook_appears_with_exactly_its_arguments() -> None:
    block = _block()
    for spec in SPEC_CLASSES:
        for name, fn in vars(spec).items():
            if name.startswith("ganzoo_"):
                args = ", ".join(list(inspect.signature(fn).parameters)[1:])
                assert f"#### `{name}({args})`" in block, name
    documented = set(re.findall(r"^#### `(ganzoo_\w+)\(", block, re.M))
    assert documented == set(HOOK_NAMES)
    # Hand-written prose elsewhere on the page may name hooks; each must be a real one.
    hook_like = r"\b(ganzoo_(?:on_\w+|register_commands|models?|loss(?:es)?|datasets?|metrics?|tasks?))\b"
    mentioned = set(re.findall(hook_like, DOC.read_text()))
    assert mentioned - set(HOOK_NAMES) <= {"ganzoo_model"}, "only the misspelling example may name a hook that does not exist"


def test_every_protocol_member_appears_in_its_section() -> None:
    block = _block()
    for public, path in PROTOCOLS:
        start = block.index(f"### `{public}`")
        section = block[start : block.find("\n### ", start + 1)]
        rows = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
        expected = {name for name, *_ in members(reference._load(path))}
        assert rows == expected, public
    for member in ("needs_real_logits", "grad_scale", "region_aware", "samples_real_data", "eval_pair", "for_evaluation",
                   "higher_is_better", "latent_dim", "num_classes", "attach_data", "eval_protocol"):
        assert f"`{member}" in block or f"{member}=" in block, member


def test_optional_members_are_read_by_the_code() -> None:
    """A duck-typed member the docs promise must be looked up somewhere, or the docs describe a dead attribute."""
    sources = "\n".join(p.read_text() for d in ("ganzoo", "plugins") for p in (REPO / d).rglob("*.py"))
    for _, path in PROTOCOLS:
        for name, _, required, _ in members(reference._load(path)):
            if required.startswith("optional (read"):
                assert re.search(rf"""(getattr|_int_attr)\([^)]*["']{name}["']""", sources), name


def test_an_undocumented_member_or_argument_is_refused() -> None:
    class Undocumented(Protocol):
        """A protocol.

        Attributes:
            known: Documented.
        """

        known: int
        secret: int

    with pytest.raises(ReferenceDrift, match=r"Undocumented\.secret has no entry"):
        members(Undocumented)

    class Stale(Protocol):
        """A protocol.

        Attributes:
            gone: Was removed from the class.
        """

    with pytest.raises(ReferenceDrift, match=r"documents \['gone'\]"):
        members(Stale)


def test_a_hook_whose_docstring_misses_an_argument_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeSpecs:
        """Fake hooks."""

        def ganzoo_on_thing(self, run: object, extra: int) -> None:
            """Called sometimes.

            Args:
                run: The run.

            Example:
                pass
            """

    monkeypatch.setattr("ganzoo.plugin.hookspecs.SPEC_CLASSES", (FakeSpecs,))
    with pytest.raises(ReferenceDrift, match=r"ganzoo_on_thing: the docstring's Args: \['run'\] differ from the arguments"):
        reference.render()


def test_sync_rewrites_a_stale_block(tmp_path: Path) -> None:
    doc = tmp_path / "plugins.md"
    doc.write_text(f"# Title\n\n{reference.BEGIN}\nold text\n{reference.END}\n\n## After\n")
    assert reference.main(["--check", str(doc)]) == 1 and "old text" in doc.read_text()
    assert reference.main([str(doc)]) == 0
    text = doc.read_text()
    assert "old text" not in text and "#### `ganzoo_on_step(run, step, logs)`" in text and text.endswith("\n## After\n")
    assert reference.main(["--check", str(doc)]) == 0
