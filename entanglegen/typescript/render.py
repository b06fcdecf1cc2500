"""Render the TypeScript IR with the Jinja2 templates of ``templates/typescript/``.

Same environment rules as the Python target (StrictUndefined, logic-free templates that
only loop and interpolate).  Every package gets the same client runtime files (errors,
codecs, model, client) and its own enums, types, registry and index.
"""

from __future__ import annotations

from importlib import resources

import jinja2

from .model import PackageTS

__all__ = ["PACKAGE_FILES", "make_environment", "render_package"]

# Output path inside the package directory → template under templates/typescript/.
PACKAGE_FILES = (
    ("package.json", "package.json.jinja"),
    ("README.md", "README.md.jinja"),
    ("tsconfig.json", "tsconfig.json.jinja"),
    ("src/errors.ts", "errors.ts.jinja"),
    ("src/codecs.ts", "codecs.ts.jinja"),
    ("src/model.ts", "model.ts.jinja"),
    ("src/events.ts", "events.ts.jinja"),
    ("src/queue.ts", "queue.ts.jinja"),
    ("src/resync.ts", "resync.ts.jinja"),
    ("src/transitions.ts", "transitions.ts.jinja"),
    ("src/client.ts", "client.ts.jinja"),
    ("src/enums.ts", "enums.ts.jinja"),
    ("src/types.ts", "types.ts.jinja"),
    ("src/registry.ts", "registry.ts.jinja"),
    ("src/index.ts", "index.ts.jinja"),
)


def _package_source(name: str) -> str | None:
    node = resources.files("entanglegen.templates").joinpath("typescript", name)
    try:
        return node.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def make_environment() -> jinja2.Environment:
    """The Jinja2 environment over the packaged TypeScript templates."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_package_source),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_package(env: jinja2.Environment, pkg: PackageTS) -> dict[str, bytes]:
    """Every file of one npm package, by path relative to the output directory."""
    out: dict[str, bytes] = {}
    for path, template in PACKAGE_FILES:
        text = env.get_template(template).render(pkg=pkg)
        out[f"{pkg.directory}/{path}"] = text.encode("utf-8")
    return out
