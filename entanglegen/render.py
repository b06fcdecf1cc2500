"""Stage 4: render the IR through the Jinja2 templates.

The environment is strict (an undefined name fails the build instead of printing
nothing) and never autoescapes (the output is Python, and every value it prints was made
safe by the IR).  Templates come from the package ``entanglegen.templates``; a
``--templates DIR`` is searched first, so a directory may override single templates.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import jinja2

from .ir import RegistryIR

__all__ = ["RenderError", "make_environment", "render_registry", "template_sources"]


class RenderError(Exception):
    """A template failed to render (names the template)."""


def _package_source(name: str) -> tuple[str, str | None, Callable[[], bool]] | None:
    node = resources.files("entanglegen.templates")
    for part in name.split("/"):
        node = node.joinpath(part)
    if not node.is_file():
        return None
    return node.read_text("utf-8"), None, lambda: True


def make_environment(templates_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FunctionLoader(_package_source))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_sources(env: jinja2.Environment, ir: RegistryIR) -> list[str]:
    """The text of every template a registry uses (for the build fingerprint)."""
    names = {f.template for f in ir.files} | {t.template for t in ir.types}
    loader = env.loader
    assert loader is not None
    return [loader.get_source(env, name)[0] for name in sorted(names)]


def render_registry(
    env: jinja2.Environment, ir: RegistryIR
) -> dict[str, tuple[str, str]]:
    """Render one registry: output path → (template name, unformatted source)."""
    out: dict[str, tuple[str, str]] = {}
    for file in ir.files:
        try:
            text = env.get_template(file.template).render(r=ir, t=file.type)
        except jinja2.TemplateError as exc:
            where = getattr(exc, "filename", None) or file.template
            line = getattr(exc, "lineno", None)
            where += f":{line}" if line else ""
            raise RenderError(f"template {where}: {type(exc).__name__}: {exc}") from exc
        out[file.path] = (file.template, text)
    return out
