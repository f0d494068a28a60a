"""What one component kind adds to a scaffolded plugin: files, a hook, spec slots, test lines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    """The templates of one component kind (``string.Template`` text: ``$package``, ``$component``, ...).

    Attributes:
        name: ``model``, ``loss``, ``dataset``, ``metric`` or ``task``.
        hook: The registration hook (``ganzoo_models``).
        entry: The record class the hook returns (``ModelEntry``).
        module: The registration module under ``src/$package`` (params and builders,
            no torch at import) and the list it defines: ``("models", "MODELS")``.
        files: Paths under the package root -> file templates.
        summary: What the kind adds, for descriptions (``a generator and a discriminator``).
        spec: Spec lines this kind fills, by slot (``generator``, ``losses.adversarial``, ...), as YAML flow text.
        tiny: Sections of ``ganzoo.testing.TINY_SPEC`` the plugin's tiny run replaces, as Python literal text.
        checks: Lines appended to the generated ``test_spec_trains`` (``run_dir`` is the trained run).
        imports: Imports those lines need.
        readme: Markdown bullet lines for the generated README.
    """

    name: str
    hook: str
    entry: str
    module: tuple[str, str]
    files: dict[str, str]
    summary: str
    spec: dict[str, str]
    tiny: dict[str, str]
    readme: str
    checks: tuple[str, ...] = ()
    imports: tuple[str, ...] = field(default=())
