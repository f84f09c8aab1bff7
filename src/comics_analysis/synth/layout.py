"""Panel layouts for synthetic story pages, returned in reading order with exact rectangles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAYOUTS: tuple[str, ...] = (
    "grid",  # uniform rows x columns
    "rows",  # 1-3 panels per row, uneven widths
    "irregular",  # uneven widths and gutters that change from gap to gap
    "wide",  # full-width "widescreen" strips
    "splash",  # one panel, inside the margins or bleeding off the page
    "inset",  # a small panel drawn on top of a larger one
    "nested",  # a tall panel beside a stack (needs an X-Y cut to order)
    "borderless",  # no frame lines: panels end where their art ends
    "bleed",  # the first row runs off the top and sides of the page
)


@dataclass(frozen=True)
class PanelSpec:
    x: int
    y: int
    w: int
    h: int
    bordered: bool = True
    inset_of: int | None = None  # reading-order index of the panel it sits on

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


def _split(
    rng: np.random.Generator, start: int, length: int, gutters: list[int], jitter: float
) -> list[tuple[int, int]]:
    """Cut [start, start+length) into len(gutters)+1 parts separated by the given gutters."""
    n = len(gutters) + 1
    avail = length - sum(gutters)
    weights = 1.0 + rng.uniform(-jitter, jitter, n)
    sizes = np.floor(avail * weights / weights.sum()).astype(int)
    sizes[-1] = avail - sizes[:-1].sum()
    parts, pos = [], start
    for i, size in enumerate(sizes):
        parts.append((pos, int(size)))
        pos += int(size) + (gutters[i] if i < n - 1 else 0)
    return parts


def _gutters(rng: np.random.Generator, n: int, base: int, irregular: bool) -> list[int]:
    if not irregular:
        return [base] * n
    return [int(v) for v in rng.integers(max(4, base // 2), base * 2 + 1, size=n)]


def _row_order(cells: list[PanelSpec], direction: str) -> list[PanelSpec]:
    return sorted(cells, key=lambda p: -p.x) if direction == "rtl" else sorted(cells, key=lambda p: p.x)


def _rows(
    rng: np.random.Generator,
    box: tuple[int, int, int, int],
    gutter: int,
    direction: str,
    *,
    n_rows: int,
    cols: list[int],
    jitter: float,
    irregular: bool,
    bordered: bool = True,
) -> list[PanelSpec]:
    x0, y0, w, h = box
    panels: list[PanelSpec] = []
    rows = _split(rng, y0, h, _gutters(rng, n_rows - 1, gutter, irregular), jitter)
    for (ry, rh), n_cols in zip(rows, cols):
        cells = _split(rng, x0, w, _gutters(rng, n_cols - 1, gutter, irregular), jitter)
        row = [PanelSpec(cx, ry, cw, rh, bordered) for cx, cw in cells]
        panels.extend(_row_order(row, direction))
    return panels


def make_layout(
    kind: str, rng: np.random.Generator, width: int, height: int, direction: str = "ltr"
) -> list[PanelSpec]:
    """Panels of one page in reading order (rows top to bottom; in a row by ``direction``)."""
    if kind not in LAYOUTS:
        raise ValueError(f"unknown layout {kind!r}; expected one of {', '.join(LAYOUTS)}")
    margin = int(width * rng.uniform(0.04, 0.06))
    gutter = max(6, int(width * rng.uniform(0.012, 0.025)))
    inner = (margin, margin, width - 2 * margin, height - 2 * margin)
    n_rows = int(rng.integers(2, 5))

    if kind == "grid":
        n_cols = int(rng.integers(2, 4))
        return _rows(
            rng, inner, gutter, direction, n_rows=n_rows, cols=[n_cols] * n_rows, jitter=0, irregular=False
        )
    if kind in ("rows", "irregular", "borderless"):
        cols = [int(c) for c in rng.integers(1, 4, size=n_rows)]
        return _rows(
            rng,
            inner,
            gutter,
            direction,
            n_rows=n_rows,
            cols=cols,
            jitter=0.5 if kind == "irregular" else 0.3,
            irregular=kind == "irregular",
            bordered=kind != "borderless",
        )
    if kind == "wide":
        n = int(rng.integers(3, 6))
        return _rows(rng, inner, gutter, direction, n_rows=n, cols=[1] * n, jitter=0.25, irregular=False)
    if kind == "splash":
        if rng.random() < 0.5:
            return [PanelSpec(0, 0, width, height, bordered=False)]
        return [PanelSpec(*inner)]
    if kind == "bleed":
        top_h = int(inner[3] * rng.uniform(0.3, 0.45))
        first = PanelSpec(0, 0, width, margin + top_h, bordered=False)
        rest_box = (margin, margin + top_h + gutter, inner[2], inner[3] - top_h - gutter)
        n = int(rng.integers(1, 4))
        cols = [int(c) for c in rng.integers(1, 4, size=n)]
        return [
            first,
            *_rows(rng, rest_box, gutter, direction, n_rows=n, cols=cols, jitter=0.3, irregular=False),
        ]
    if kind == "inset":
        base = _rows(
            rng,
            inner,
            gutter,
            direction,
            n_rows=min(n_rows, 3),
            cols=[1, 2, 2][: min(n_rows, 3)],
            jitter=0.2,
            irregular=False,
        )
        host_index = max(range(len(base)), key=lambda i: base[i].w * base[i].h)
        host = base[host_index]
        iw, ih = int(host.w * rng.uniform(0.28, 0.38)), int(host.h * rng.uniform(0.3, 0.42))
        pad = max(12, gutter)
        right = rng.random() < 0.5
        bottom = rng.random() < 0.5
        ix = host.x + host.w - iw - pad if right else host.x + pad
        iy = host.y + host.h - ih - pad if bottom else host.y + pad
        inset = PanelSpec(ix, iy, iw, ih, bordered=True, inset_of=host_index)
        return [*base[: host_index + 1], inset, *base[host_index + 1 :]]
    # nested: a tall panel beside a stack, optionally under a full-width strip
    panels: list[PanelSpec] = []
    x0, y0, w, h = inner
    if rng.random() < 0.5:
        strip_h = int(h * rng.uniform(0.22, 0.3))
        panels.append(PanelSpec(x0, y0, w, strip_h))
        y0, h = y0 + strip_h + gutter, h - strip_h - gutter
    tall_w = int((w - gutter) * rng.uniform(0.4, 0.55))
    stack_w = w - gutter - tall_w
    tall_first_x = x0 if direction == "ltr" else x0 + w - tall_w
    stack_x = x0 + tall_w + gutter if direction == "ltr" else x0
    panels.append(PanelSpec(tall_first_x, y0, tall_w, h))
    n_stack = int(rng.integers(2, 4))
    for sy, sh in _split(rng, y0, h, [gutter] * (n_stack - 1), 0.3):
        panels.append(PanelSpec(stack_x, sy, stack_w, sh))
    return panels
