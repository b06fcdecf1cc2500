"""entanglegen: YAML registry schemas to typed Python packages on the entanglement runtime.

The generator is one module per stage (see docs/architecture.md): :mod:`.loader` →
:mod:`.schema` / :mod:`.resolve` → :mod:`.ir` → :mod:`.render` → :mod:`.formatting` →
:mod:`.writer`, driven by :func:`entanglegen.build.build` and the CLI in :mod:`.cli`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
