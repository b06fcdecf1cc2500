"""Stage 2b (continued): dotted hook paths resolved at build time, where they can be.

A hook (``policy``, an operation's ``handler``, a property's ``encoder``/``decoder``, a
type's ``table_args``, ``on_receive`` and ``on_delete``) is written ``package.module.name``; the generated module imports
``name`` from ``package.module``.  When that module can be found, a missing ``name`` is a
located error with a did-you-mean among the module's names.

Checking must not run code a schema names (``check`` runs on schemas nobody vetted yet):
a module already imported is asked directly; any other is located without importing it
or its packages (the top-level name through ``importlib.util.find_spec``, which sees
editable installs and imports nothing for a top-level name, then in the project root,
where an application keeps its own hook modules beside ``pyproject.toml`` even when
``entanglegen`` runs from elsewhere; below it ``importlib.machinery.PathFinder``, one
level at a time) and its source is read with ``ast`` for the names its top level binds
(definitions, assignments, imports, also inside top-level ``if``/``try``/``with``).

A missing last name is an error, and so is a missing module below a package that was
found (``myhooks.wbb.send`` when ``myhooks`` has no ``wbb`` module and its
``__init__`` binds no such name): both are typos of code that exists here.  A top-level
module that cannot be found, a module that is not Python source, or one that may create
names dynamically (``from x import *``, a module ``__getattr__``, assignments to
``globals()``) is not checked: it may well exist where the generated package runs.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

from .diagnostics import Diagnostics
from .spec import Located, RegistrySpec

__all__ = ["check_hooks"]


@dataclass(frozen=True, slots=True)
class _Missing:
    """Package ``module`` exists here but has neither a module nor a name ``name``."""

    module: str
    name: str
    choices: list[str]


def _find_top(name: str, roots: Sequence[Path]) -> ModuleSpec | None:
    # Every finder (an editable install's too; finding a top-level name imports
    # nothing), then the project root.
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None and roots:
        spec = PathFinder.find_spec(name, [str(r) for r in roots])
    return spec


def _source_names(spec: ModuleSpec) -> set[str] | None:
    """The names a module's source binds at top level, or None when unknowable."""
    origin = spec.origin
    if origin is None and spec.submodule_search_locations is not None:
        return set()  # a namespace package: no __init__ to bind names
    if origin is None or not origin.endswith(".py"):
        return None
    try:
        with open(origin, "rb") as handle:
            tree = ast.parse(handle.read(), filename=origin)
    except (OSError, SyntaxError, ValueError):
        return None
    return _top_level_names(tree.body)


def _module_names(name: str, roots: Sequence[Path]) -> set[str] | _Missing | None:
    """The names module ``name`` defines, a missing part, or None when unknowable."""
    module = sys.modules.get(name)
    if module is not None:
        return set(dir(module))
    parts = name.split(".")
    spec = _find_top(parts[0], roots)
    for depth, part in enumerate(parts[1:], start=1):
        if spec is None:
            return None
        path = list(spec.submodule_search_locations or [])
        child = PathFinder.find_spec(part, path) if path else None
        if child is None:
            return _missing_part(spec, ".".join(parts[:depth]), part, path)
        spec = child
    return _source_names(spec) if spec is not None else None


def _missing_part(
    parent: ModuleSpec, parent_name: str, part: str, path: list[str]
) -> _Missing | None:
    """``part`` is no module of package ``parent``: a typo unless ``__init__`` binds it."""
    if not path:
        return None  # a plain module: ``part`` may be any attribute of it
    names = _source_names(parent)
    if names is None or part in names:
        return None
    submodules = {info.name for info in pkgutil.iter_modules(path)}
    public = sorted(n for n in names | submodules if not n.startswith("_"))
    return _Missing(parent_name, part, public)


def _top_level_names(body: list[ast.stmt]) -> set[str] | None:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            nested = [*node.body, *getattr(node, "orelse", [])]
            nested += getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                nested += handler.body
            inner = _top_level_names(nested)
            if inner is None:
                return None
            names |= inner
        if any(
            isinstance(n, ast.Name) and n.id in ("globals", "setattr")
            for n in ast.walk(node)
        ):
            return None
    return names


def _hooks(reg: RegistrySpec) -> list[tuple[str, Located]]:
    found = [(f"policy hook {name}", hook) for name, hook in reg.policy.items()]
    found += [("handler", op.handler) for op in reg.operations or () if op.handler]
    for spec in reg.types:
        for prop in spec.properties:
            for what, hook in (("encoder", prop.encoder), ("decoder", prop.decoder)):
                if hook is not None:
                    found.append((what, hook))
        for what in ("table_args", "on_receive", "on_delete"):
            if (hook := getattr(spec, what)) is not None:
                found.append((what, hook))
    return found


def check_hooks(
    regs: list[RegistrySpec], diags: Diagnostics, roots: Sequence[Path] = ()
) -> None:
    """Report hooks whose module can be read here but does not define the name.

    Args:
        regs: the validated registries.
        diags: where the located errors go.
        roots: directories searched for a top-level module the interpreter does not
            find (the project root).
    """
    known: dict[str, set[str] | _Missing | None] = {}
    for reg in regs:
        for what, hook in _hooks(reg):
            module_name, _, name = hook.value.rpartition(".")
            if module_name not in known:
                known[module_name] = _module_names(module_name, roots)
            found = known[module_name]
            if isinstance(found, _Missing):
                rest = hook.value[len(found.module) + len(found.name) + 1 :]
                _report(diags, what, hook, found, rest)
            elif found is not None and name not in found:
                public = sorted(n for n in found if not n.startswith("_"))
                _report(diags, what, hook, _Missing(module_name, name, public), "")


def _report(
    diags: Diagnostics, what: str, hook: Located, missing: _Missing, rest: str
) -> None:
    """One located error; ``rest`` is what the hook names below the missing part."""
    match = difflib.get_close_matches(missing.name, missing.choices, n=1, cutoff=0.6)
    module = missing.module
    diags.error(
        hook.loc,
        f"{what} {hook.value!r}: module {module!r} has no {missing.name!r}",
        "",
        f"did you mean {module}.{match[0]}{rest}?" if match else "",
    )
