"""Safe Python source for values that come from a schema.

Nothing from YAML is pasted into generated code as text: values become literals through
``repr`` (plus the few cases ``repr`` gets wrong, like ``inf``), docstrings are escaped so
no quote or backslash can end them early, and comments never carry schema text.
"""

from __future__ import annotations

import math
import re
import sys
import textwrap
from datetime import date, datetime

__all__ = ["docstring", "import_block", "py_literal", "safe_comment_text", "sort_all"]

_UNPRINTABLE = re.compile(r"[^\n\t\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]")


def py_literal(value: object) -> str:
    """Python source that evaluates to ``value`` (plain YAML values only)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, datetime):
        raise TypeError("datetime literals are not supported")
    if isinstance(value, date):
        return f"datetime.date({value.year}, {value.month}, {value.day})"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if value is None or isinstance(value, str | int | float | bool):
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


def docstring(text: str, indent: int = 4) -> str:
    """A triple-quoted docstring literal for ``text`` that cannot be broken out of.

    Paragraphs are wrapped to fit 88 columns at ``indent``; continuation lines carry the
    indentation so the literal reads well where it is placed.
    """
    text = text.strip()
    if _UNPRINTABLE.search(text):
        # Control characters would survive in a triple-quoted string; repr escapes them.
        return repr(text)
    text = text.replace("\\", "\\\\")
    if '"""' in text or text.endswith('"'):
        text = text.replace('"', '\\"')
    width = max(40, 88 - indent - 6)
    paragraphs = [
        textwrap.fill(p, width=width, break_long_words=False, break_on_hyphens=False)
        for p in re.split(r"\n\s*\n", text)
    ]
    body = "\n\n".join(paragraphs).replace("\n", "\n" + " " * indent)
    body = re.sub(r"\n +\n", "\n\n", body)
    if "\n" in body:
        return f'"""{body}\n{" " * indent}"""'
    return f'"""{body}"""'


# What a header comment may show as is: no ":" or "=" (so "coding:"/"coding=" can never
# form a PEP 263 encoding declaration on lines 1-2), no "%" (the escape character), and
# nothing outside printable ASCII (no line break of any kind, no surrogates).
_COMMENT_SAFE = re.compile(r"[^A-Za-z0-9 ._/+@~,()\[\]-]")


def safe_comment_text(text: str) -> str:
    """Text for the generated header comment (line 1 of every module).

    Any character outside a small printable ASCII set is percent-encoded as its UTF-8
    bytes (a lone surrogate of a non-UTF-8 file name as ``surrogateescape`` bytes), so the
    line cannot end early, hold a coding declaration or fail to encode.  Plain paths
    (``schemas/shop.yaml``) are unchanged.
    """
    return _COMMENT_SAFE.sub(_percent, text)


def _percent(match: re.Match[str]) -> str:
    char = match.group()
    try:
        data = char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name decoding would produce
        data = char.encode("utf-8", "surrogatepass")
    return "".join(f"%{byte:02X}" for byte in data)


def _import_group(module: str, first_party: frozenset[str]) -> int:
    if module == "__future__":
        return 0
    if module.startswith("."):
        return 4
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return 1
    return 3 if top in first_party else 2


def import_block(lines: set[str], first_party: frozenset[str]) -> tuple[str, ...]:
    """Import statements grouped and ordered the way isort (ruff ``I``) expects.

    ``lines`` holds ``import x`` / ``import x as y`` / ``from m import a`` statements;
    ``from`` imports of one module are merged.  Groups are separated by an empty string.
    """
    plain: set[tuple[str, str]] = set()
    froms: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, _, names = line[5:].partition(" import ")
            froms.setdefault(module, set()).update(n.strip() for n in names.split(","))
        else:
            plain.add((line[7:].split(" ")[0], line))
    grouped: dict[int, list[tuple[int, str, str]]] = {}
    for module, line in plain:
        grouped.setdefault(_import_group(module, first_party), []).append(
            (0, module, line)
        )
    for module, members in froms.items():
        entries = grouped.setdefault(_import_group(module, first_party), [])
        # ruff's isort keeps "import a as b" members in statements of their own.
        combined = sorted((n for n in members if " as " not in n), key=_isort_name_key)
        if combined:
            entries.append((1, module, f"from {module} import {', '.join(combined)}"))
        for name in sorted((n for n in members if " as " in n), key=_isort_name_key):
            entries.append((1, f"{module} {name}", f"from {module} import {name}"))
    out: list[str] = []
    for key in sorted(grouped):
        if out:
            out.append("")
        section = sorted(grouped[key], key=lambda e: (e[0], e[1].lower()))
        out.extend(line for _, _, line in section)
    return tuple(out)


def _isort_name_key(name: str) -> tuple[int, str]:
    # isort's force-sort-within-sections off, order-by-type on: CONSTANTS, Classes, names.
    base = name.split(" as ")[0]
    if base.isupper() and len(base) > 1:
        return (0, base)
    if base[:1].isupper():
        return (1, base)
    return (2, base.lower())


def sort_all(names: list[str]) -> list[str]:
    """``__all__`` in the order ruff's RUF022 wants (isort-style)."""
    return sorted(set(names), key=_isort_name_key)
