"""``python -m entanglegen.typescript SCHEMA_DIR OUT_DIR [--check]``: the TypeScript
target without the main CLI (``entanglegen build --target typescript`` calls the same
:func:`entanglegen.typescript.build`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import build


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the build (exit code of :func:`build`)."""
    parser = argparse.ArgumentParser(prog="python -m entanglegen.typescript")
    parser.add_argument("schema_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    return build(args.schema_dir, args.out_dir, args.check)


if __name__ == "__main__":
    sys.exit(main())
