"""What every command module shares: argument types, the command registry, JSON output."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


class Commands:
    """The top-level subcommands and the command groups (``eval``, ``train``, ...).

    A group is created by the first module that asks for it (with its help text) and shared by the
    modules that add to it later, so ``train pss`` and ``train closure-lite`` live with their models.
    """

    def __init__(self, sub: argparse._SubParsersAction):
        self.sub = sub
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def group(self, name: str, *, dest: str | None = None, metavar: str | None = None, **parser_kwargs):
        if name not in self._groups:
            if dest is None or metavar is None:
                raise ValueError(f"command group {name!r} is first used without dest and metavar")
            parser = self.sub.add_parser(name, **parser_kwargs)
            self._groups[name] = parser.add_subparsers(dest=dest, metavar=metavar, required=True)
        return self._groups[name]


def size(text: str) -> tuple[int, int]:
    """WIDTHxHEIGHT of a page, at least 200x200."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1060x1600, got {text!r}") from None
    if w < 200 or h < 200:
        raise argparse.ArgumentTypeError(f"page size {w}x{h} is too small (minimum 200x200)")
    return w, h


def page_range(text: str) -> tuple[int, int]:
    """LOW-HIGH with 1 <= LOW <= HIGH."""
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH, e.g. 6-14, got {text!r}") from None
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"need 1 <= LOW <= HIGH, got {text!r}")
    return lo, hi


def formats(text: str) -> tuple[str, ...]:
    """A comma list of synthetic container formats."""
    from ..synth import FORMATS

    items = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in items if f not in FORMATS]
    if not items or bad:
        raise argparse.ArgumentTypeError(
            f"formats must be a comma list of {', '.join(FORMATS)}, got {text!r}"
        )
    return items


def ratios(text: str) -> tuple[float, float, float]:
    """train,validation,test shares."""
    from ..dataset_builders.comic_pages import parse_ratios

    try:
        return parse_ratios(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
