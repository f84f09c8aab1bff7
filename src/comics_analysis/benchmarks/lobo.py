"""Leave-one-book-out (LOBO) selection of a detector's constants from per-page counts.

A grid run detects every dev page once per (field, value) and keeps, per page, the counts that F1
needs: (true panels, predicted panels, matches at IoU 0.5). From those, without detecting again:

- :func:`choose`: for a left-out book, each field's value by pooled F1 on the pages of every OTHER
  book, one field at a time from the defaults (coordinate-wise: not a joint search); a tie keeps
  the default, a tie between other values keeps the one nearest the default.
- :func:`agreed`: the fields that every fold moves the same way from the default.
- :func:`sensitivity`: per field and book, the F1 range over the whole grid and over the values
  near the default; :func:`brittle` lists the fields that move one book's F1 by more than a limit
  there (candidates for a constant fitted to one book).

``scripts/lobo_panels.py`` runs the grid on the classical panel detector and writes
``docs/bench/panels-lobo.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Counts = Mapping[str, tuple[int, int, int]]  # page key -> (truth, pred, tp)
Value = bool | int | float
TIE = 1e-9  # F1 differences below this are ties


def f1(counts: Iterable[tuple[int, int, int]]) -> float:
    """Pooled F1 of (truth, pred, tp) page counts (0 when nothing is true or predicted)."""
    truth = pred = tp = 0
    for t, p, m in counts:
        truth, pred, tp = truth + t, pred + p, tp + m
    return 2 * tp / (truth + pred) if truth + pred else 0.0


def grid_values(default: Value, multipliers: Iterable[float]) -> dict[float, Value]:
    """Grid of one field: multiplier -> value (default times it; ints rounded, shares (floats
    under 1) kept at most 1, values met before dropped); a boolean: its default and its negation
    (multiplier 1 and 0); a zero default: itself only."""
    if isinstance(default, bool):
        return {1.0: default, 0.0: not default}
    out: dict[float, Value] = {1.0: default}
    for m in sorted(multipliers):
        if isinstance(default, int):
            value: Value = round(default * m)
        else:
            value = round(default * m, 6)
            if default < 1:
                value = min(value, 1.0)
        if value not in out.values():
            out[m] = value
    return dict(sorted(out.items()))


def choose(
    results: Mapping[str, Mapping[Value, Counts]],
    defaults: Mapping[str, Value],
    books: Mapping[str, str],
    left_out: str,
) -> dict[str, Value]:
    """Each field's value chosen by pooled F1 over the pages whose book (``books``: page key ->
    book) is not ``left_out``; ``results[field][value]`` holds the counts of every page with that
    one field changed (the default's counts under ``defaults[field]``)."""
    chosen = {}
    for field, by_value in results.items():
        default = defaults[field]
        if default not in by_value:
            raise ValueError(f"field {field!r}: the grid has no run at its default {default!r}")
        scores = {
            value: f1(c for key, c in counts.items() if books[key] != left_out)
            for value, counts in by_value.items()
        }
        best = max(scores.values())
        if scores[default] >= best - TIE:
            chosen[field] = default
            continue
        tied = [v for v, s in scores.items() if s >= best - TIE]
        chosen[field] = min(tied, key=lambda v: (abs(float(v) - float(default)), float(v)))
    return chosen


def book_f1(counts: Counts, books: Mapping[str, str], book: str) -> float:
    """Pooled F1 of one book's pages."""
    return f1(c for key, c in counts.items() if books[key] == book)


def sensitivity(
    results: Mapping[str, Mapping[Value, Counts]],
    books: Mapping[str, str],
    near: Mapping[str, Iterable[Value]],
) -> dict[str, dict[str, dict[str, float]]]:
    """field -> book -> {"min", "max", "range"} of the book's F1 over the field's whole grid, and
    "near": the F1 range over the values ``near[field]`` (those close to the default)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    names = sorted(set(books.values()))
    for field, by_value in results.items():
        close = set(near.get(field, ()))
        out[field] = {}
        for book in names:
            scores = {value: book_f1(counts, books, book) for value, counts in by_value.items()}
            near_scores = [s for v, s in scores.items() if v in close] or [0.0]
            out[field][book] = {
                "min": min(scores.values()),
                "max": max(scores.values()),
                "range": max(scores.values()) - min(scores.values()),
                "near": max(near_scores) - min(near_scores),
            }
    return out


def brittle(sens: Mapping[str, Mapping[str, Mapping[str, float]]], limit: float = 0.02) -> list:
    """(field, book, F1 range near the default) where that range exceeds ``limit``, largest first."""
    rows = [
        (field, book, s["near"])
        for field, per_book in sens.items()
        for book, s in per_book.items()
        if s["near"] > limit
    ]
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))


def agreed(choices: Mapping[str, Mapping[str, Value]], defaults: Mapping[str, Value]) -> dict[str, list]:
    """field -> the values chosen in every fold (``choices``: left-out book -> field -> value) when
    each fold moved it away from the default in the same direction: a change that no one book
    asks for alone (the candidates for a new default, still measured on dev pages)."""
    out = {}
    for field, default in defaults.items():
        values = [c[field] for c in choices.values()]
        if isinstance(default, bool) or not values or any(v == default for v in values):
            continue
        if all(v > default for v in values) or all(v < default for v in values):
            out[field] = values
    return out


# --- report: the README panel table's column and the benchmark rows of panels-lobo.json ----------


def lobo_cells(lobo: Mapping | None, keys: Iterable[str]) -> list[str]:
    """The "F1 left out (LOBO)" cell of each panel-table row (its panels-dev.json key): the book's
    F1@0.5 with the constants chosen without it; "-" for a set never left out (synthetic pages)."""
    by_key = {b.get("key"): b for b in (lobo or {}).get("books", {}).values()}
    return [f"{by_key[k]['lobo']['f1']:.3f}" if k in by_key else "-" for k in keys]


def _n(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def lobo_rows(d: Mapping) -> list[tuple[str, str, str]]:
    """(benchmark, metric, value) rows of a panels-lobo.json result (scripts/lobo_panels.py)."""
    rows = []
    for book, b in d["books"].items():
        f, dev = b["lobo"], b["dev"]
        name = f"Panels, book left out of the constants (LOBO), classical detector: {book}"
        changed = ", ".join(f"{k}={v}" for k, v in b["changed"].items()) or "none (the defaults)"
        rows += [
            (name, "F1@0.5 left out (dev: chosen on all books)", f"{_n(f['f1'])} ({_n(dev['f1'])})"),
            (
                name,
                "P / R; AP50; exact count; order (all panels)",
                f"{_n(f['precision'])} / {_n(f['recall'])}; {_n(f['ap50'])}; {_n(f['exact_count'])}; "
                f"{_n(f.get('order_all'))}",
            ),
            (name, "values chosen without it that differ from the defaults", changed),
        ]
    agreed_run = d.get("agreed") or {}
    if agreed_run.get("changed"):
        values = ", ".join(f"{k}={v}" for k, v in agreed_run["changed"].items())
        f1s = ", ".join(f"{b} {f['f1']:.3f}" for b, f in agreed_run["books"].items())
        rows.append(
            (
                "Panels, constants every LOBO fold moves the same way, together (candidates, dev pages)",
                f"F1@0.5 per book with {values}",
                f1s,
            )
        )
    shaky = ", ".join(f"{r['field']} on {r['book']} ({r['near_range']:.3f})" for r in d.get("brittle", []))
    rows.append(
        (
            "Panels, sensitivity of the classical detector's constants (LOBO grid)",
            "brittle: one book's F1 moves by > 0.02 between x0.85 and x1.2 of the default",
            shaky or "none",
        )
    )
    return rows
