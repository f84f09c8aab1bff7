"""The Map tab's data, without Gradio: the pages of an analysis folder (``points.csv``: map
position, cluster, outlier score) joined with what the store says now (page type, book, panel
count), coloured five ways; cluster and outlier galleries; a selection of pages; CSV export.

Page types come from :attr:`.SpaceBackend.page_types_all` (the store's, else the page records'),
not from ``points.csv``, which keeps what the store held when ``analyze`` ran.
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis import read_points

if TYPE_CHECKING:
    from .backend import SpaceBackend

COLOUR_BY = ("cluster", "page_type", "book", "outlier_score", "panel_count")
MAX_MAP_POINTS = 50_000  # a larger collection is drawn as a seeded sample of this many pages
MAX_GALLERY = 60  # pages shown in a cluster / selection gallery
# categorical colours (Tableau 20, reordered: strong colours first); grey for "other"
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#dbdb8d", "#9edae5",
]  # fmt: skip
OTHER = "#c7c7c7"
VIRIDIS = [
    "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
    "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
]  # fmt: skip
SELECTION_HEADERS = ("page_id", "book", "page", "page type", "cluster", "panels", "outlier score")


@dataclass
class MapPoints:
    page_id: list[str]
    book_id: list[str]
    page_index: np.ndarray
    page_type: list[str]
    panel_count: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cluster: np.ndarray
    outlier_score: np.ndarray
    outlier: np.ndarray
    position: dict[str, int]  # page_id -> row here

    def __len__(self) -> int:
        return len(self.page_id)


def load_points(be: SpaceBackend) -> MapPoints:
    """The analysed pages that are in the store, with the store's current facts."""
    folder = be.config.analysis
    if folder is None:
        raise FileNotFoundError("no analysis folder: run `comics-analysis analyze STORE --out DIR`")
    rows = [r for r in read_points(folder) if r["page_id"] in be.store.position]
    where = [be.store.position[r["page_id"]] for r in rows]
    types = be.page_types_all
    counts = be.store.panel_mask.sum(axis=1)
    ids = [r["page_id"] for r in rows]
    return MapPoints(
        page_id=ids,
        book_id=[str(be.store.book_ids[i]) for i in where],
        page_index=np.array([int(be.store.page_index[i]) for i in where], int),
        page_type=[types[i] for i in where],
        panel_count=np.array([int(counts[i]) for i in where], int),
        x=np.array([r["x"] for r in rows], float),
        y=np.array([r["y"] for r in rows], float),
        cluster=np.array([r["cluster"] for r in rows], int),
        outlier_score=np.array([r["outlier_score"] for r in rows], float),
        outlier=np.array([r["outlier"] for r in rows], bool),
        position={pid: i for i, pid in enumerate(ids)},
    )


def _categories(values: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """A colour per value (the most frequent values first, the rest "other") and the legend."""
    ranked = [v for v, _ in Counter(values).most_common()]
    shown = ranked if len(ranked) <= len(PALETTE) else ranked[: len(PALETTE) - 1]
    colour = {v: PALETTE[i] for i, v in enumerate(shown)}
    legend = [(v or "(none)", colour[v]) for v in shown]
    if len(shown) < len(ranked):
        legend.append((f"other ({len(ranked) - len(shown)})", OTHER))
    return [colour.get(v, OTHER) for v in values], legend


def _ramp(values: np.ndarray) -> tuple[list[str], list[tuple[str, str]]]:
    """Viridis colours of numbers (low to high) and a legend of its ends and middle."""
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low or 1.0
    steps = np.clip(((values - low) / span * (len(VIRIDIS) - 1)).round().astype(int), 0, len(VIRIDIS) - 1)
    fmt = "{:.0f}" if np.all(values == np.round(values)) else "{:.2f}"
    middle = (low + high) / 2
    legend = [(fmt.format(v), VIRIDIS[k]) for v, k in ((low, 0), (middle, 4), (high, -1))]
    return [VIRIDIS[s] for s in steps], legend


def colours(points: MapPoints, by: str) -> tuple[list[str], list[tuple[str, str]], str]:
    """(colour per point, legend of (label, colour), "categorical" or "continuous")."""
    if by == "cluster":
        return (*_categories([f"cluster {c}" for c in points.cluster]), "categorical")
    if by == "page_type":
        return (*_categories(points.page_type), "categorical")
    if by == "book":
        return (*_categories(points.book_id), "categorical")
    if by == "outlier_score":
        return (*_ramp(points.outlier_score), "continuous")
    if by == "panel_count":
        return (*_ramp(points.panel_count.astype(float)), "continuous")
    raise ValueError(f"colour by one of {', '.join(COLOUR_BY)}, got {by!r}")


def map_value(points: MapPoints, by: str, seed: int = 0) -> dict[str, Any]:
    """What the map component draws: columns of the points (at most :data:`MAX_MAP_POINTS`, a
    seeded sample beyond), colours and page types as indices into short lists, and the legend.
    ``map.js`` writes each hover line from the columns, as text: ``page_id · page type · cluster
    N · P panel(s) · outlier score S`` (`` (outlier)`` when flagged)."""
    rows = np.arange(len(points))
    if len(rows) > MAX_MAP_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_MAP_POINTS, replace=False))
    colour, legend, kind = colours(points, by)
    palette = sorted(set(colour))
    colour_index = {c: i for i, c in enumerate(palette)}
    types = sorted(set(points.page_type))
    type_index = {t: i for i, t in enumerate(types)}
    return {
        "ids": [points.page_id[i] for i in rows],
        "x": [round(float(points.x[i]), 5) for i in rows],
        "y": [round(float(points.y[i]), 5) for i in rows],
        "c": [colour_index[colour[i]] for i in rows],
        "colours": palette,
        "o": [int(points.outlier[i]) for i in rows],
        "t": [type_index[points.page_type[i]] for i in rows],
        "types": types,
        "k": [int(points.cluster[i]) for i in rows],
        "n": [int(points.panel_count[i]) for i in rows],
        "s": [round(float(points.outlier_score[i]), 2) + 0.0 for i in rows],  # + 0.0: no -0.0
        "legend": [list(item) for item in legend],
        "kind": kind,
        "colour_by": by,
        "shown": len(rows),
        "pages": len(points),
    }


def cluster_rows(points: MapPoints) -> list[list[Any]]:
    """One row per cluster: cluster, pages, mean panels, page types (most frequent first), outliers."""
    rows = []
    for c in sorted(set(points.cluster.tolist())):
        members = np.flatnonzero(points.cluster == c)
        types = Counter(points.page_type[i] or "(none)" for i in members)
        rows.append(
            [
                int(c),
                len(members),
                round(float(points.panel_count[members].mean()), 2),
                ", ".join(f"{t} {n}" for t, n in types.most_common()),
                int(points.outlier[members].sum()),
            ]
        )
    return rows


CLUSTER_HEADERS = ("cluster", "pages", "mean panels", "page types", "outliers")


def cluster_choices(points: MapPoints) -> list[str]:
    return [f"cluster {r[0]} ({r[1]} pages)" for r in cluster_rows(points)] + ["outliers"]


def members(be: SpaceBackend, points: MapPoints, choice: str) -> list[str]:
    """Page ids of a gallery choice: ``cluster N ...`` (nearest the cluster's mean vector first)
    or ``outliers`` (flagged pages, highest score first; the highest scores when none is flagged)."""
    if choice.startswith("outliers"):
        order = np.argsort(-points.outlier_score, kind="stable")
        flagged = [i for i in order if points.outlier[i]]
        return [points.page_id[i] for i in (flagged or order[:12])]
    try:
        cluster = int(choice.split()[1])
    except (IndexError, ValueError):
        raise ValueError(f"unknown gallery {choice!r}: 'cluster N' or 'outliers'") from None
    rows = np.flatnonzero(points.cluster == cluster)
    if not len(rows):
        raise ValueError(f"no cluster {cluster}")
    positions = np.array([be.store.position[points.page_id[i]] for i in rows])
    vectors = be.store.page_vectors(positions)
    centre = vectors.mean(axis=0)
    order = np.argsort(-(vectors @ centre), kind="stable")
    return [points.page_id[rows[i]] for i in order]


def gallery(
    be: SpaceBackend, points: MapPoints, page_ids: list[str], height: int = 240
) -> list[tuple[Any, str]]:
    """Thumbnails with captions ``page_id [page type]`` of at most :data:`MAX_GALLERY` pages."""
    out = []
    for pid in page_ids[:MAX_GALLERY]:
        i = points.position.get(pid)
        kind = points.page_type[i] if i is not None else be.page_type_of(pid)
        out.append((be.thumbnail(be.page_image(pid), height), f"{pid} [{kind or '-'}]"))
    return out


def selection_rows(points: MapPoints, page_ids: list[str]) -> list[list[Any]]:
    rows = []
    for pid in page_ids:
        i = points.position.get(pid)
        if i is None:
            continue
        rows.append(
            [
                pid,
                points.book_id[i],
                int(points.page_index[i]),
                points.page_type[i],
                int(points.cluster[i]),
                int(points.panel_count[i]),
                round(float(points.outlier_score[i]), 3),
            ]
        )
    return rows


def write_csv(headers: list[str] | tuple[str, ...], rows: list[list[Any]], stem: str) -> Path:
    """``rows`` as a CSV file in a fresh temporary folder (Gradio serves it for download)."""
    folder = Path(tempfile.mkdtemp(prefix="comics-search-"))
    path = folder / f"{stem}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path
