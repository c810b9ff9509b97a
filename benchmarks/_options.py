"""Option checks shared by the benchmark scripts (each run as ``python benchmarks/X.py``, so this
folder is on ``sys.path``): a bad option is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn


def fail(message: str) -> NoReturn:
    """One line naming the script, then exit 2."""
    print(f"{Path(sys.argv[0]).name}: {message}", file=sys.stderr)
    sys.exit(2)


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {n})")
    return n
