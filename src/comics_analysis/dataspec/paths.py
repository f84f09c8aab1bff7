"""Finding a page by path when two tools name it from different roots."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


def expand_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` / ``~user`` and ``$VAR`` / ``${VAR}`` expanded, as a shell would (an
    unset variable stays as written, so the error that follows names it)."""
    return Path(os.path.expandvars(os.path.expanduser(os.fspath(path))))


class TailIndex(Generic[T]):
    """Items found by the longest unambiguous tail of a '/'-separated path.

    ``images/balloon_dream/ja/000.jpg`` and ``balloon_dream/ja/000.jpg`` share the tail
    ``balloon_dream/ja/000.jpg``; a tail that names two items is ambiguous and skipped.
    """

    def __init__(self) -> None:
        self._tails: dict[str, list[tuple[str, T]]] = {}

    def add(self, path: str, item: T) -> None:
        path = path.replace("\\", "/")
        parts = path.split("/")
        for k in range(1, len(parts) + 1):
            self._tails.setdefault("/".join(parts[-k:]), []).append((path, item))

    def find(self, path: str, min_parts: Callable[[str], int] = lambda stored: 2) -> T | None:
        """The item whose path shares the longest tail with ``path``, using at least
        ``min_parts(stored_path)`` components; None when absent or ambiguous."""
        parts = path.replace("\\", "/").split("/")
        for k in range(len(parts), 0, -1):
            hits = self._tails.get("/".join(parts[-k:]), [])
            if len(hits) == 1 and k >= min_parts(hits[0][0]):
                return hits[0][1]
        return None
