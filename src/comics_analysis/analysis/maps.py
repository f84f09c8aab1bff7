"""Analysis of an embedding store: a 2-D map, clusters, plots, a cluster report and outliers.

:func:`analyze_store` reads the page vectors of a store (finished rows) and writes into ``out``:

- ``points.csv``: page_id, book_id, page_index, page_type, panel_count, has_text, prose_lines
  (-1: the store has none), x, y, cluster, outlier_distance, outlier_score, outlier (one row per
  page, store order);
- ``map_cluster.png``, ``map_panel_count.png``, ``map_page_type.png``: the map coloured three
  ways (outliers ringed in red);
- ``clusters.json`` and ``clusters.md``: per cluster its size, mean panel count, text share
  (pages with lettered text), page-type counts and example page_ids (those nearest its centre);
- ``outliers.json``: every page's score, the flagged pages first;
- ``analysis.json``: the settings and the store it was made from.

Map: UMAP (umap-learn, imported here only) with cosine distance, or PCA. Clusters: k-means on
the unit page vectors (scikit-learn). Outliers, "pages unlike the collection's comics": the
reference is the collection's multi-panel pages (two or more detected panels: comics by their
structure, found without any labels; all pages when fewer than 10% of them have two panels).
A page's score is its mean cosine distance to its ``k`` nearest reference pages (``k`` = 5% of
the reference, at least 10; a page never counts as its own neighbour), as a robust z-score
against the reference pages (median and MAD); pages above ``outlier_threshold`` (default 3) are
flagged. Scoring against the reference, not against all pages, matters: prose pages, credits
or a block of scans resemble EACH OTHER closely (with a trained Closure Lite model, text pages
are each other's nearest neighbours at cosine ~0.94 while story pages are spread out), so a
plain nearest-neighbour density score ranks them as the most typical pages of all.
scripts/eval_store_synthetic.py measures the flag against ground-truth page types.
Text pages first: a store embedded with its prose line counts (``embed`` keeps them per page, the
``prose_lines`` array) is scored by :func:`~.prose.not_a_comic_outliers`: pages with 10+ lines
of body text rank above every other page, and the reference excludes them; an older store
without the counts gets the image outlier score alone (logged).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import median_abs_deviation

from ..dataspec import markdown_table
from ..store.reader import EmbeddingStore

log = logging.getLogger(__name__)

POINTS_FILE = "points.csv"
PLOTS = {"cluster": "map_cluster.png", "panel_count": "map_panel_count.png", "page_type": "map_page_type.png"}
MAX_EXAMPLES = 5


@dataclass
class ClusterInfo:
    cluster: int
    size: int
    mean_panel_count: float
    text_share: float
    page_types: dict[str, int]
    examples: list[str]
    outliers: int


@dataclass
class AnalysisResult:
    out: Path
    pages: int
    method: str
    clusters: list[ClusterInfo]
    outliers: list[dict[str, Any]]  # flagged pages, highest score first
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def summary_text(self) -> str:
        lines = [
            f"{self.pages} pages -> {len(self.clusters)} clusters ({self.method} map) in "
            f"{self.seconds:.1f} s; {len(self.outliers)} outlier page(s) flagged; outputs in {self.out}"
        ]
        for c in self.clusters:
            types = ", ".join(f"{k} {v}" for k, v in sorted(c.page_types.items(), key=lambda kv: -kv[1]))
            lines.append(
                f"  cluster {c.cluster}: {c.size} pages, {c.mean_panel_count:.1f} panels/page, "
                f"text on {100 * c.text_share:.0f}%, types: {types or '-'}"
            )
        for o in self.outliers[:10]:
            lines.append(f"  outlier {o['page_id']} [{o['page_type'] or '-'}] score {o['outlier_score']:.2f}")
        return "\n".join(lines)


def default_clusters(n: int) -> int:
    """k of k-means when not given: about sqrt(n / 2), between 2 and 12 (and below n)."""
    return max(1, min(n - 1, 12, max(2, round(math.sqrt(n / 2)))))


def outlier_scores(
    vectors: np.ndarray,
    k: int | None = None,
    reference: np.ndarray | None = None,
    max_reference: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(raw score, robust z) per row of unit vectors: mean cosine distance to the ``k`` nearest
    rows of ``reference`` (a bool mask; default all rows), never counting a row as its own
    neighbour; ``k`` defaults to 5% of the reference (at least 10, at most its size - 1);
    z = (score - median) / (1.4826 MAD), median and MAD over the reference rows. A reference
    larger than ``max_reference`` is replaced by a seeded sample of that size (``k`` is then 5%
    of the sample: the same share of the collection), which bounds the cost at 10^6 pages."""
    v = np.asarray(vectors, np.float32)
    n = len(v)
    ref = np.ones(n, bool) if reference is None else np.asarray(reference, bool)
    if ref.shape != (n,):
        raise ValueError(f"reference mask has shape {ref.shape}, expected ({n},)")
    ref_rows = np.flatnonzero(ref)
    if max_reference is not None and len(ref_rows) > max_reference:  # a seeded sample stands for it
        ref_rows = np.sort(np.random.default_rng(seed).choice(ref_rows, max_reference, replace=False))
    m = len(ref_rows)
    if n < 3 or m < 2:
        return np.zeros(n), np.zeros(n)
    if k is None:
        k = max(10, math.ceil(0.05 * m))
    k = max(1, min(k, m - 1))
    column = np.full(n, -1)
    column[ref_rows] = np.arange(m)  # where a reference row sits among the columns
    refs = v[ref_rows]
    raw = np.empty(n, np.float64)
    block = max(1, 2_000_000 // max(m, 1))  # a block of rows x all reference rows at a time
    for start in range(0, n, block):
        sims = v[start : start + block] @ refs.T
        own = column[start : start + block]
        hit = np.flatnonzero(own >= 0)
        sims[hit, own[hit]] = -np.inf  # not its own neighbour
        top = np.partition(sims, m - k, axis=1)[:, m - k :]
        raw[start : start + block] = 1.0 - top.mean(axis=1)
    return raw, robust_z(raw, ref)


def robust_z(raw: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(raw - median) / (1.4826 MAD), median and MAD over the ``reference`` rows (a bool mask)."""
    median = float(np.median(raw[reference]))  # over every reference row, sampled or not
    mad = float(median_abs_deviation(raw[reference])) * 1.4826  # the usual normal-consistency constant
    scale = mad if mad > 1e-12 else (float(raw[reference].std()) or 1.0)
    return (raw - median) / scale


def comic_reference(panel_count: np.ndarray, min_panels: int = 2, min_share: float = 0.1) -> np.ndarray:
    """The reference mask of the outlier score: pages with ``min_panels`` or more detected
    panels, or every page when fewer than ``min_share`` of them (or fewer than 10) have that many."""
    panel_count = np.asarray(panel_count)
    multi = panel_count >= min_panels
    if multi.sum() < max(10, min_share * len(panel_count)):
        return np.ones(len(panel_count), bool)
    return multi


def _fit_rows(n: int, max_fit: int | None, seed: int) -> np.ndarray | None:
    """Rows a model is fitted on when ``n`` exceeds ``max_fit`` (a seeded sample), else None."""
    if max_fit is None or n <= max_fit:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, max_fit, replace=False))


def embed_2d(
    vectors: np.ndarray,
    method: str = "umap",
    neighbors: int = 15,
    seed: int = 0,
    max_fit: int | None = None,
) -> np.ndarray:
    """[n, 2] map of unit vectors: UMAP (cosine) or PCA. Tiny inputs (n < 4) fall back to PCA.
    With more than ``max_fit`` rows the map is fitted on a seeded sample of ``max_fit`` and the
    other rows are placed with the fitted model (UMAP ``transform``, PCA projection)."""
    n = len(vectors)
    if method not in ("umap", "pca"):
        raise ValueError(f"map method must be umap or pca, got {method!r}")
    if n == 0:
        return np.zeros((0, 2), np.float32)
    fit = _fit_rows(n, max_fit, seed)
    sample = vectors if fit is None else vectors[fit]
    m = len(sample)
    if method == "umap" and m >= 4:
        import umap  # umap-learn: heavy (numba), so only imported here

        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=max(2, min(neighbors, m - 1)),
            metric="cosine",
            random_state=seed,
            n_jobs=1,  # a fixed random_state is only reproducible single-threaded
            init="spectral" if m > 10 else "random",
        )
        placed = reducer.fit_transform(sample)
        if fit is None:
            return np.asarray(placed, np.float32)
        out = np.empty((n, 2), np.float32)
        rest = np.setdiff1d(np.arange(n), fit)
        out[fit] = placed
        for start in range(0, len(rest), 100_000):  # bounded memory per transform call
            chunk = rest[start : start + 100_000]
            out[chunk] = reducer.transform(vectors[chunk])
        return out
    if n == 1:
        return np.zeros((1, 2), np.float32)
    mean = sample.mean(axis=0, keepdims=True)
    _, _s, vt = np.linalg.svd(sample - mean, full_matrices=False)
    axes = vt[:2]
    coords = np.concatenate([(vectors[i : i + 100_000] - mean) @ axes.T for i in range(0, n, 100_000)])
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords.astype(np.float32)


def cluster_pages(
    vectors: np.ndarray, clusters: int, seed: int = 0, max_fit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(labels [n], centres [k, D]) of k-means on the page vectors; labels ordered by size.
    With more than ``max_fit`` rows k-means is fitted on a seeded sample and every row is
    assigned to its nearest centre."""
    from sklearn.cluster import KMeans

    n = len(vectors)
    clusters = max(1, min(clusters, n))
    fit = _fit_rows(n, max_fit, seed)
    km = KMeans(n_clusters=clusters, n_init=10, random_state=seed).fit(
        vectors if fit is None else vectors[fit]
    )
    labels = km.labels_ if fit is None else km.predict(vectors)
    centres = km.cluster_centers_
    order = np.argsort(-np.bincount(labels, minlength=clusters), kind="stable")  # 0 = largest
    remap = np.empty(clusters, np.int64)
    remap[order] = np.arange(clusters)
    return remap[labels], centres[order]


def _plot(
    path: Path, xy: np.ndarray, values, kind: str, title: str, outliers: np.ndarray, label: str
) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    try:
        if kind == "categorical":
            names = sorted(set(values), key=lambda v: (str(v) == "", str(v)))
            cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
            for i, name in enumerate(names):
                sel = np.array([v == name for v in values])
                ax.scatter(xy[sel, 0], xy[sel, 1], s=14, color=cmap(i % cmap.N), label=str(name) or "(none)")
        else:
            sc = ax.scatter(xy[:, 0], xy[:, 1], s=14, c=np.asarray(values, float), cmap="viridis")
            fig.colorbar(sc, ax=ax, label=label)
        if outliers.any():
            ax.scatter(
                xy[outliers, 0],
                xy[outliers, 1],
                s=80,
                facecolors="none",
                edgecolors="red",
                linewidths=1.2,
                label="outlier",
            )
        if kind == "categorical" or outliers.any():
            ax.legend(title=label if kind == "categorical" else None, fontsize=8, loc="best", markerscale=1.2)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _cluster_markdown(
    result_clusters: list[ClusterInfo], outliers: list[dict], store: str, method: str
) -> str:
    lines = [
        f"# Clusters of `{store}`",
        "",
        f"k-means on the unit page vectors; map: {method}. Examples are the pages nearest each centre.",
        "",
    ]
    rows = []
    for c in result_clusters:
        types = ", ".join(f"{k} {v}" for k, v in sorted(c.page_types.items(), key=lambda kv: -kv[1]))
        examples = "<br>".join(f"`{e}`" for e in c.examples)
        rows.append(
            [
                c.cluster,
                c.size,
                f"{c.mean_panel_count:.2f}",
                f"{c.text_share:.2f}",
                types or "-",
                c.outliers,
                examples,
            ]
        )
    headers = ["cluster", "pages", "mean panels", "text share", "page types", "outliers", "examples"]
    lines += [markdown_table(headers, rows), "", f"## Outliers ({len(outliers)} flagged)", ""]
    if outliers:
        rows = [
            [f"`{o['page_id']}`", o["page_type"] or "-", o["panel_count"], f"{o['outlier_score']:.2f}"]
            for o in outliers
        ]
        lines.append(markdown_table(["page_id", "page type", "panels", "score (robust z)"], rows))
    else:
        lines.append("none above the threshold")
    return "\n".join(lines) + "\n"


def analyze_store(
    store: str | Path | EmbeddingStore,
    out: str | Path,
    *,
    clusters: int | None = None,
    neighbors: int = 15,
    seed: int = 0,
    outlier_threshold: float = 3.0,
    outlier_k: int | None = None,
    outlier_reference: str = "multi-panel",
    method: str = "umap",
    plots: bool = True,
    max_fit: int | None = 50_000,
) -> AnalysisResult:
    """Map, cluster and score the pages of ``store``; write the files listed in the module doc.
    ``outlier_reference``: "multi-panel" (see the module doc) or "all" (every page). ``max_fit``:
    above this many pages the map, k-means and the outlier reference use a seeded sample of that
    size (every page is still placed, clustered and scored); None: always all pages."""
    import time

    start = time.perf_counter()
    st = store if isinstance(store, EmbeddingStore) else EmbeddingStore(store)
    n = len(st)
    if n < 2:
        raise ValueError(f"{st.path}: {n} finished page(s); analysis needs at least 2")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    vectors = st.page_vectors()
    panel_count = st.panel_mask.sum(axis=1).astype(int)
    has_text = st.page_has_text
    page_types = [t or "" for t in st.page_types]
    k = clusters if clusters is not None else default_clusters(n)
    labels, centres = cluster_pages(vectors, k, seed, max_fit)
    log.info("%d pages in %d clusters; computing the %s map", n, len(centres), method)
    xy = embed_2d(vectors, method, neighbors, seed, max_fit)
    if outlier_reference not in ("multi-panel", "all"):
        raise ValueError(f"outlier_reference must be multi-panel or all, got {outlier_reference!r}")
    prose = st.prose_lines
    if prose is None:
        log.info(
            "%s keeps no prose line counts (embedded before stores kept them): outliers by the image "
            "outlier score alone; embed again into a new folder to rank text pages first",
            st.path,
        )
        reference = comic_reference(panel_count) if outlier_reference == "multi-panel" else np.ones(n, bool)
        raw, z = outlier_scores(vectors, outlier_k, reference, max_fit, seed)
    else:
        from .prose import not_a_comic_outliers  # lazy: prose imports this module

        prose = np.maximum(prose, 0)  # -1: not measured
        raw, z, reference = not_a_comic_outliers(
            vectors, panel_count, prose, outlier_k, outlier_reference, max_fit, seed
        )
    flagged = z > outlier_threshold

    infos: list[ClusterInfo] = []
    for c in range(len(centres)):
        members = np.flatnonzero(labels == c)
        dist = np.linalg.norm(vectors[members] - centres[c], axis=1)
        examples = [str(st.page_ids[i]) for i in members[np.argsort(dist, kind="stable")[:MAX_EXAMPLES]]]
        infos.append(
            ClusterInfo(
                cluster=c,
                size=len(members),
                mean_panel_count=float(panel_count[members].mean()),
                text_share=float(has_text[members].mean()),
                page_types=dict(Counter(page_types[i] or "(none)" for i in members)),
                examples=examples,
                outliers=int(flagged[members].sum()),
            )
        )

    def row(i: int) -> dict[str, Any]:  # one page's row of points.csv and outliers.json
        return {
            "page_id": str(st.page_ids[i]),
            "book_id": str(st.book_ids[i]),
            "page_index": int(st.page_index[i]),
            "page_type": page_types[i],
            "panel_count": int(panel_count[i]),
            "has_text": bool(has_text[i]),
            "prose_lines": int(prose[i]) if prose is not None else -1,
            "x": float(xy[i, 0]),
            "y": float(xy[i, 1]),
            "cluster": int(labels[i]),
            "outlier_distance": float(raw[i]),
            "outlier_score": float(z[i]),
            "outlier": bool(flagged[i]),
        }

    # written row by row: no list of every page's row (~1 KB a page as dicts, and the JSON text)
    files = {"points": out / POINTS_FILE}
    with (out / POINTS_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row(0)))
        writer.writeheader()
        for i in range(n):
            writer.writerow(row(i))
    ranked = sorted(range(n), key=lambda i: -float(z[i]))  # by score, ties in store order
    outliers = [row(i) for i in ranked if flagged[i]]
    files["outliers"] = out / "outliers.json"
    head = {
        "threshold": outlier_threshold,
        "reference": outlier_reference,
        "reference_pages": int(reference.sum()),
        "flagged": outliers,
        "all": [],
    }
    text = json.dumps(head, indent=2)
    with files["outliers"].open("w", encoding="utf-8") as handle:  # as json.dumps(..., indent=2)
        handle.write(text[: text.rindex("[]")] + "[")
        for k, i in enumerate(ranked):
            item = json.dumps(row(i), indent=2).replace("\n", "\n    ")
            handle.write(("," if k else "") + "\n    " + item)
        handle.write("\n  ]\n}\n")
    files["clusters"] = out / "clusters.json"
    files["clusters"].write_text(json.dumps([asdict(c) for c in infos], indent=2) + "\n")
    files["clusters_md"] = out / "clusters.md"
    files["clusters_md"].write_text(_cluster_markdown(infos, outliers, st.path.name, method))
    if plots:
        title = f"{st.path.name}: {n} pages ({method})"
        _plot(out / PLOTS["cluster"], xy, labels.tolist(), "categorical", title, flagged, "cluster")
        _plot(out / PLOTS["panel_count"], xy, panel_count, "continuous", title, flagged, "panels")
        _plot(out / PLOTS["page_type"], xy, page_types, "categorical", title, flagged, "page type")
        files.update({f"map_{name}": out / fname for name, fname in PLOTS.items()})
    seconds = time.perf_counter() - start
    settings = {
        "store": str(st.path),
        "model_id": st.attrs.get("model_id"),
        "config_hash": st.attrs.get("config_hash"),
        "pages": n,
        "clusters": len(infos),
        "method": method,
        "neighbors": neighbors,
        "seed": seed,
        "outlier_threshold": outlier_threshold,
        "outlier_k": outlier_k,
        "outlier_reference": outlier_reference,
        "outlier_reference_pages": int(reference.sum()),
        "outlier_score": "prose lines, then image outliers" if prose is not None else "image outliers",
        "max_fit": max_fit,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
    }
    files["analysis"] = out / "analysis.json"
    files["analysis"].write_text(json.dumps(settings, indent=2) + "\n")
    return AnalysisResult(out, n, method, infos, outliers, files, seconds)


def read_points(folder: str | Path) -> list[dict[str, Any]]:
    """The rows of an analysis folder's ``points.csv`` (numbers and flags parsed)."""
    path = Path(folder) / POINTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no {POINTS_FILE} (run `comics-analysis analyze` first)")
    out = []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key in ("page_index", "panel_count", "cluster", "prose_lines"):
                if key in row:  # prose_lines: not in an analysis made before it
                    row[key] = int(row[key])
            for key in ("x", "y", "outlier_distance", "outlier_score"):
                row[key] = float(row[key])
            for key in ("has_text", "outlier"):
                row[key] = row[key] == "True"
            out.append(row)
    return out
