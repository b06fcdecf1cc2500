"""Stage 2b (continued): dotted hook paths resolved at build time, where they can be.

A hook (``policy``, an operation's ``handler``, a property's ``encoder``/``decoder``) is
written ``package.module.name``; the generated module imports ``name`` from
``package.module``.  When that module can be found on the generator's ``sys.path`` it is
imported (the generated package imports it anyway) and a missing ``name`` is a located
error with a did-you-mean among the module's public names.  A module that cannot be
found, or that fails to import, is not checked here: it may well exist where the
generated package runs (the generator does not run with the application's path).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from types import ModuleType

from .diagnostics import Diagnostics
from .spec import Located, RegistrySpec

__all__ = ["check_hooks"]

_UNAVAILABLE = object()


class _Modules:
    def __init__(self) -> None:
        self.cache: dict[str, ModuleType | object] = {}

    def get(self, name: str) -> ModuleType | None:
        if name not in self.cache:
            self.cache[name] = self._load(name)
        module = self.cache[name]
        return module if isinstance(module, ModuleType) else None

    @staticmethod
    def _load(name: str) -> ModuleType | object:
        try:
            if importlib.util.find_spec(name) is None:
                return _UNAVAILABLE
            return importlib.import_module(name)
        except Exception:  # any failure: not checkable here
            return _UNAVAILABLE


def _hooks(reg: RegistrySpec) -> list[tuple[str, Located]]:
    found = [(f"policy hook {name}", hook) for name, hook in reg.policy.items()]
    found += [("handler", op.handler) for op in reg.operations or () if op.handler]
    for spec in reg.types:
        for prop in spec.properties:
            for what, hook in (("encoder", prop.encoder), ("decoder", prop.decoder)):
                if hook is not None:
                    found.append((what, hook))
    return found


def check_hooks(regs: list[RegistrySpec], diags: Diagnostics) -> None:
    """Report hooks whose module imports here but lacks the named function."""
    modules = _Modules()
    for reg in regs:
        for what, hook in _hooks(reg):
            module_name, _, name = hook.value.rpartition(".")
            module = modules.get(module_name)
            if module is None or hasattr(module, name):
                continue
            public = [n for n in dir(module) if not n.startswith("_")]
            match = difflib.get_close_matches(name, public, n=1, cutoff=0.6)
            diags.error(
                hook.loc,
                f"{what} {hook.value!r}: module {module_name!r} has no {name!r}",
                "",
                f"did you mean {module_name}.{match[0]}?" if match else "",
            )
