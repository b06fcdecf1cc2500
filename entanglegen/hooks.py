"""Stage 2b (continued): dotted hook paths resolved at build time, where they can be.

A hook (``policy``, an operation's ``handler``, a property's ``encoder``/``decoder``, a
type's ``table_args``, ``on_receive`` and ``on_delete``) is written ``package.module.name``; the generated module imports
``name`` from ``package.module``.  When that module can be found, a missing ``name`` is a
located error with a did-you-mean among the module's names.

Checking must not run code a schema names (``check`` runs on schemas nobody vetted yet):
a module already imported is asked directly; any other is located on ``sys.path`` without
importing it or its packages (the top-level name through ``importlib.util.find_spec``,
which sees editable installs and imports nothing for a top-level name; below it
``importlib.machinery.PathFinder``, one level at a time) and
its source is read with ``ast`` for the names its top level binds (definitions,
assignments, imports, also inside top-level ``if``/``try``/``with``).  A module that cannot
be found, is not Python source, or may create names dynamically (``from x import *``, a
module ``__getattr__``, assignments to ``globals()``) is not checked: it may well exist
where the generated package runs.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import sys
from importlib.machinery import PathFinder

from .diagnostics import Diagnostics
from .spec import Located, RegistrySpec

__all__ = ["check_hooks"]


def _module_names(name: str) -> set[str] | None:
    """The names module ``name`` defines, or None when that cannot be known here."""
    module = sys.modules.get(name)
    if module is not None:
        return set(dir(module))
    path: list[str] | None = None
    spec = None
    for i, part in enumerate(name.split(".")):
        # The top level through every finder (an editable install's finder too; finding
        # a top-level name imports nothing), the rest on the package's own path.
        spec = (
            importlib.util.find_spec(part)
            if i == 0
            else PathFinder.find_spec(part, path)
        )
        if spec is None:
            return None
        path = list(spec.submodule_search_locations or [])
    origin = spec.origin if spec is not None else None
    if origin is None or not origin.endswith(".py"):
        return None
    try:
        with open(origin, "rb") as handle:
            tree = ast.parse(handle.read(), filename=origin)
    except (OSError, SyntaxError, ValueError):
        return None
    return _top_level_names(tree.body)


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


def check_hooks(regs: list[RegistrySpec], diags: Diagnostics) -> None:
    """Report hooks whose module can be read here but does not define the name."""
    known: dict[str, set[str] | None] = {}
    for reg in regs:
        for what, hook in _hooks(reg):
            module_name, _, name = hook.value.rpartition(".")
            if module_name not in known:
                known[module_name] = _module_names(module_name)
            names = known[module_name]
            if names is None or name in names:
                continue
            public = sorted(n for n in names if not n.startswith("_"))
            match = difflib.get_close_matches(name, public, n=1, cutoff=0.6)
            diags.error(
                hook.loc,
                f"{what} {hook.value!r}: module {module_name!r} has no {name!r}",
                "",
                f"did you mean {module_name}.{match[0]}?" if match else "",
            )
