"""The error every data source raises, and how its messages name files.

The bottom of :mod:`ganzoo.data`: every other module of the package imports it, it imports none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

__all__ = ["DataError", "few_paths"]


class DataError(ValueError):
    """The data is missing, unreadable or does not fit the config; the message says what to do."""


def few_paths(paths, root: Optional[Path] = None, n: int = 3) -> str:
    """``a.png, b.png, c.png (+4 more)``, relative to ``root`` when possible."""
    def show(p):
        try:
            return str(Path(p).relative_to(root)) if root else str(p)
        except ValueError:
            return str(p)
    paths = list(paths)
    text = ", ".join(show(p) for p in paths[:n])
    return text + (f" (+{len(paths) - n} more)" if len(paths) > n else "")
