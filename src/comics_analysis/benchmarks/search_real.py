"""`eval search`: search on real pages, measured without hand labels (issue 17.4).

Four figures, each per book and overall, for every image encoder given (by default the two
Closure Lite vision towers side by side: ``lite``, EfficientNet-Lite0 with ImageNet weights,
frozen, and ``lite-vit``, the from-scratch ViT; both as raw pooled tower features, see
:mod:`.search_encoders`; ``models`` adds trained Closure Lite folders):

a. crop -> page: every indexed panel of every page (ground-truth panels where the page has
   them, else detected ones, else the whole page) is cut out, damaged (:func:`damage_crop`)
   and used as an image query. Hits are panels, mapped to their page (a page scores its best
   panel), as "where does this crop come from" searches panel vectors; recall@1 and @10 of the
   page. The same queries against page vectors are the second figure.
b. quote -> panel: every lettered line of the ground truth (ACBF text areas, OpenMantra texts),
   with OCR errors (:func:`ocr_noise`), is searched in a full-text index of the ground-truth
   panel texts (the store's SQLite FTS5 index, :mod:`comics_analysis.store.fulltext`, fuzzy
   mode). A hit is a panel whose text contains the line (several panels can); recall@1 and @10,
   and the same at page level. Lexical: no image tower is involved.
c. same-book k-NN accuracy of page vectors: the majority book of a page's 5 nearest other
   pages is its own book (ties: the larger summed similarity).
d. not-a-comic: ROC AUC of the outlier score of :mod:`comics_analysis.analysis` (mean cosine
   distance to the nearest pages of the reference: pages with 2+ detected panels, detected
   here with the classical detector, so no label is used) on the comic pages mixed with
   document pages drawn in code (:mod:`comics_analysis.synth.documents`: text-book, paper,
   scanned prose, illustrated game book); also with every page as the reference, and the
   score that puts text pages first (:func:`comics_analysis.analysis.not_a_comic_scores`:
   pages with 10+ prose lines counted from the pixels, then the outlier score against a
   reference of the pages with 2+ panels and no prose).
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .report import run_info
from .search_encoders import EvalPage, ModelEncoder, TowerEncoder
from .search_outliers import not_a_comic_auc
from .search_queries import ERROR_RATE, damage_crop, ocr_noise

log = logging.getLogger(__name__)

TOWERS = ("lite", "lite-vit")
TARGETS = {"crop_page_recall@1": 0.95, "quote_panel_recall@10": 0.95, "not_a_comic_auc": 0.95}
LENGTHS = (("3-9 characters", 10), ("10-29 characters", 30), ("30+ characters", 10**9))  # normalised
DEV_BOOKS = ("open-mantra/annotation.json", "craphound-acbf/Doctorow, Cory - Craphound-1.1.acbf")


def dev_books(data_root: str | Path) -> list[Path]:
    """The real dev books under ``data_root`` (the shared data folder)."""
    paths = [Path(data_root) / rel for rel in DEV_BOOKS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"dev books not found: {', '.join(missing)} (pass --data or page sources)")
    return paths


def dev_quote_sets(data_root: str | Path) -> dict[str, list]:
    """Extra quote sets of the dev books: OpenMantra's English translations (same boxes and
    panels as the Japanese lettering on the images; Craphound is English already)."""
    from ..dataspec.legacy import pages_from_openmantra  # lazy: dataspec readers

    path = Path(data_root) / DEV_BOOKS[0]
    return {"open-mantra en (translations)": pages_from_openmantra(path, lang="en", image_lang="ja")}


# --- pages -------------------------------------------------------------------------------------
def load_pages(
    sources: Sequence[str | Path],
    lang: str | None = None,
    limit: int | None = None,
    books: Sequence[str] | None = None,
) -> list[EvalPage]:
    """The pages of ``sources`` (anything ``open_pages`` reads); ``limit``: the first pages of
    each book only; ``books``: only these books (a book id or its start, e.g. ``balloon-dream``).
    Panels: the ground truth's, else detected (:func:`detect_missing_panels`)."""
    from ..sources import open_pages  # lazy: sources pulls in dataspec readers

    out: list[EvalPage] = []
    for path in sources:
        source = open_pages(path, lang=lang, argument="pages")
        taken: Counter[str] = Counter()
        for page in source.pages():
            if limit is not None and taken[page.book_id] >= limit:
                continue
            if books and not any(page.book_id.startswith(b) for b in books):
                continue
            taken[page.book_id] += 1
            out.append(
                EvalPage(
                    page_id=page.page_id,
                    book=page.book_id,
                    load=lambda s=source, p=page: s.load_image(p),
                    panels=[tuple(float(v) for v in p.bbox) for p in page.panels],
                    record=page,
                )
            )
    return out


def detected_panels(images: dict[str, Any]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Panels of each image found by the classical detector (no OCR)."""
    from ..annotate.detectors.classical import detect_classical  # lazy: detector imports scipy

    return {
        pid: [tuple(float(v) for v in d.bbox) for d in detect_classical(im)] for pid, im in images.items()
    }


def non_comic_pages(count: int, seed: int = 0) -> list[EvalPage]:
    from ..synth.documents import document_pages  # lazy: matplotlib for plots and equations

    pages = []
    for i, (kind, image) in enumerate(document_pages(count, seed=seed)):
        pages.append(
            EvalPage(
                page_id=f"non-comic-{kind}/p{i:04d}",
                book=f"non-comic:{kind}",
                load=lambda im=image: im,
                comic=False,
            )
        )
    return pages


# --- metrics -----------------------------------------------------------------------------------
def _recall(ranks: np.ndarray, k: int) -> float | None:
    return round(float(np.mean(ranks <= k)), 4) if len(ranks) else None


def _by_book(books: Sequence[str], values: dict[str, np.ndarray], fn) -> dict[str, dict]:
    books = np.asarray(books)
    return {b: fn({k: v[books == b] for k, v in values.items()}) for b in dict.fromkeys(books.tolist())}


def _page_ranks(sims: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1-based rank of column ``truth[i]`` in row ``i`` (ties count against the truth)."""
    true = sims[np.arange(len(sims)), truth]
    return 1 + (sims > true[:, None]).sum(axis=1)


def crop_queries(
    pages: Sequence[EvalPage], images: dict[str, Any], seed: int
) -> tuple[list, list[int], list[dict]]:
    """(damaged crops, page position, damage) for every indexed panel of every page."""
    crops, owner, damage = [], [], []
    for i, p in enumerate(pages):
        image = images[p.page_id]
        for k, box in enumerate(p.panels or [(0.0, 0.0, float(image.width), float(image.height))]):
            crop, info = damage_crop(image, box, random.Random(f"{seed}/{p.page_id}/{k}"))
            crops.append(crop)
            owner.append(i)
            damage.append(info)
    return crops, owner, damage


def crop_to_page(
    query: np.ndarray, owner: Sequence[int], page_vecs: np.ndarray, panel_vecs: Sequence[np.ndarray], books
) -> dict:
    """Recall@1/@10 of the page of each query: hits on panel vectors mapped to pages (a page
    scores its best panel), and against page vectors."""
    owner = np.asarray(owner)
    counts = np.array([len(v) for v in panel_vecs])
    panel_sims = query @ np.concatenate(panel_vecs).T
    by_page = np.maximum.reduceat(panel_sims, np.concatenate([[0], np.cumsum(counts)[:-1]]), axis=1)
    ranks = {"panel": _page_ranks(by_page, owner), "page": _page_ranks(query @ page_vecs.T, owner)}

    def summary(r: dict[str, np.ndarray]) -> dict:
        return {
            "queries": len(r["panel"]),
            "recall@1": _recall(r["panel"], 1),
            "recall@10": _recall(r["panel"], 10),
            "page_vector_recall@1": _recall(r["page"], 1),
            "page_vector_recall@10": _recall(r["page"], 10),
        }

    return {"overall": summary(ranks), "books": _by_book(np.asarray(books)[owner], ranks, summary)}


def _means(panel_vecs: Sequence[np.ndarray]) -> np.ndarray:
    """Each page's mean panel vector, unit length."""
    means = np.stack([v.mean(axis=0) for v in panel_vecs])
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def knn_book_accuracy(page_vecs: np.ndarray, books: Sequence[str], k: int = 5) -> dict:
    """Same-book k-NN accuracy, leave-self-out (module docstring)."""
    books = np.asarray(books)
    sims = page_vecs @ page_vecs.T
    np.fill_diagonal(sims, -np.inf)
    k = min(k, len(books) - 1)
    correct = np.zeros(len(books), bool)
    for i in range(len(books)):
        near = np.argsort(-sims[i])[:k]
        votes: dict[str, list[float]] = defaultdict(list)
        for j in near:
            votes[books[j]].append(float(sims[i, j]))
        best = max(votes.items(), key=lambda t: (len(t[1]), sum(t[1])))[0]
        correct[i] = best == books[i]
    shares = Counter(books.tolist())

    def summary(r: dict[str, np.ndarray]) -> dict:
        return {
            "pages": len(r["c"]),
            "accuracy": round(float(r["c"].mean()), 4) if len(r["c"]) else None,
        }

    return {
        "k": k,
        "overall": summary({"c": correct}),
        "books": _by_book(books, {"c": correct}, summary),
        "majority_baseline": round(max(shares.values()) / len(books), 4),
    }


def quote_to_panel(
    pages: Sequence[Any], seed: int = 0, k: int = 10, books: dict[str, str] | None = None
) -> dict:
    """Quote -> panel recall (module docstring) over the ground-truth texts of DataSpec ``pages``."""
    from rapidfuzz.distance import Levenshtein

    from ..store.fulltext import (  # lazy: the store layer pulls in zarr
        FulltextIndex,
        create_index,
        finish_index,
        normalise,
        write_rows,
    )

    rows: dict[tuple[str, int], list[str]] = {}
    kinds: dict[tuple[str, int], set[str]] = defaultdict(set)
    lines = []
    for page in pages:
        for t in page.texts:
            if t.text and t.text.strip():
                key = (page.page_id, int(t.panel))
                rows.setdefault(key, []).append(t.text)
                kinds[key].add(t.kind)
                lines.append((page.page_id, page.book_id, t.text))
    norm_rows = {key: normalise("\n".join(v)) for key, v in rows.items()}
    letters: dict[str, set[str]] = defaultdict(set)  # substitutes come from the line's own book
    for _p, book, text in lines:
        letters[book].update(c for c in text if not c.isspace())
    alphabet = {book: "".join(sorted(chars)) for book, chars in letters.items()}
    results = {"panel": [], "page": []}
    line_books, lengths, skipped, errors = [], [], 0, []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fulltext.sqlite"
        con = create_index(path)
        write_rows(
            con,
            (
                (pid, panel, ",".join(sorted(kinds[(pid, panel)])), "\n".join(v), 0)
                for (pid, panel), v in rows.items()
            ),
        )
        finish_index(con, {"schema": "eval"})
        con.close()
        index = FulltextIndex(path)
        for n, (pid, book, text) in enumerate(lines):
            target = normalise(text)
            if len(target) < 3:
                skipped += 1
                continue
            noisy = ocr_noise(text, random.Random(f"{seed}/{pid}/{n}"), alphabet[book])
            errors.append(Levenshtein.normalized_distance(target, normalise(noisy)))
            good = {key for key, norm in norm_rows.items() if target in norm}
            good_pages = {key[0] for key in good}
            try:
                hits = index.search(noisy, k=k)
            except ValueError:  # the noisy quote lost all but 2 letters
                hits = []
            keys = [(h.page_id, h.panel) for h in hits]
            hit_pages = list(dict.fromkeys(h.page_id for h in hits))
            results["panel"].append(next((r for r, key in enumerate(keys, 1) if key in good), k + 1))
            results["page"].append(next((r for r, p in enumerate(hit_pages, 1) if p in good_pages), k + 1))
            line_books.append((books or {}).get(book, book))
            lengths.append(next(name for name, most in LENGTHS if len(target) < most))
        index.close()
    ranks = {key: np.asarray(v) for key, v in results.items()}

    def summary(r: dict[str, np.ndarray]) -> dict:
        return {
            "queries": len(r["panel"]),
            "recall@1": _recall(r["panel"], 1),
            f"recall@{k}": _recall(r["panel"], k),
            "page_recall@1": _recall(r["page"], 1),
            f"page_recall@{k}": _recall(r["page"], k),
        }

    by_length = _by_book(lengths, ranks, summary)
    return {
        "overall": summary(ranks),
        "books": _by_book(line_books, ranks, summary),
        "by_length": {n: by_length[n] for n, _most in LENGTHS if n in by_length},
        "skipped_short_lines": skipped,
        "panels_indexed": len(rows),
        "error_rate_drawn": list(ERROR_RATE),
        "mean_char_error_rate": round(float(np.mean(errors)), 4) if errors else None,
    }


# --- the run -----------------------------------------------------------------------------------
def evaluate_search(
    sources: Sequence[str | Path],
    *,
    towers: Sequence[str] = TOWERS,
    models: Sequence[str | Path] = (),
    lang: str | None = None,
    limit: int | None = None,
    non_comic: int | None = None,
    seed: int = 0,
    k: int = 10,
    device: str = "cpu",
    extra_quote_sets: dict[str, Sequence[Any]] | None = None,
    books: Sequence[str] | None = None,
) -> dict:
    """Every figure of the module docstring on the pages of ``sources``; ``non_comic`` document
    pages (default: 30% of the comic pages, at least 4); ``extra_quote_sets``: more
    ``{name: DataSpec pages}`` for quote -> panel only (e.g. another language's texts), the pages
    among those evaluated; ``books``: only these books of the sources (e.g. the one a model did not
    train on)."""
    start = time.perf_counter()
    only_books = list(books) if books else None
    pages = load_pages(sources, lang=lang, limit=limit, books=only_books)
    if not pages:
        raise ValueError("no pages to evaluate")
    images = {p.page_id: p.load() for p in pages}
    for p in pages:  # records may describe a larger scan than the image (as the processor allows)
        image, record = images[p.page_id], p.record
        if record is not None and record.width and (record.width, record.height) != image.size:
            sx, sy = image.width / record.width, image.height / record.height
            p.panels = [(x * sx, y * sy, w * sx, h * sy) for x, y, w, h in p.panels]
    n_docs = max(4, round(0.3 * len(pages))) if non_comic is None else non_comic
    docs = non_comic_pages(n_docs, seed=seed)
    images.update({p.page_id: p.load() for p in docs})
    detected = detected_panels(images)
    for p in pages:
        if not p.panels:
            p.panels, p.panel_source = detected[p.page_id], "detector" if detected[p.page_id] else "none"
    for p in docs:
        p.panels, p.panel_source = detected[p.page_id], "detector" if detected[p.page_id] else "none"
    prep_s = time.perf_counter() - start
    books = [p.book for p in pages]
    crops, owner, damage = crop_queries(pages, images, seed)
    everything = [*pages, *docs]
    comic = np.array([p.comic for p in everything])
    counts = np.array([len(detected[p.page_id]) for p in everything])
    kinds = [p.book if not p.comic else "comic" for p in everything]
    from ..analysis import prose_lines  # lazy: scipy

    prose = np.array([prose_lines(images[p.page_id]).lines for p in everything])

    encoders: list[dict] = []
    for spec in [*(("tower", t) for t in towers), *(("model", m) for m in models)]:
        t0 = time.perf_counter()
        encoder = (
            TowerEncoder(spec[1], seed=seed, device=device)
            if spec[0] == "tower"
            else ModelEncoder(spec[1], device=device)
        )
        page_vecs, panel_vecs = encoder.pages(everything, images)
        query = encoder.images(crops)
        crop_index = getattr(encoder, "crop_panel_vecs", None) or panel_vecs  # image-only, when kept
        fused = None
        if hasattr(encoder, "fused_images"):  # a model: the crop query in the fused panel space too
            fused = crop_to_page(
                encoder.fused_images(crops), owner, page_vecs[: len(pages)], panel_vecs[: len(pages)], books
            )
        seconds = time.perf_counter() - t0
        n_images = len(everything) + sum(len(v) for v in panel_vecs) + len(crops)
        comic_vecs = page_vecs[: len(pages)]
        encoders.append(
            {
                "name": encoder.name,
                "kind": spec[0],
                "description": encoder.description,
                "dim": encoder.dim,
                "seconds": round(seconds, 1),
                "images_per_s": round(n_images / seconds, 2),
                "crop_page": crop_to_page(query, owner, comic_vecs, crop_index[: len(pages)], books),
                "crop_page_fused": fused,
                "knn_book": knn_book_accuracy(comic_vecs, books),
                "not_a_comic": not_a_comic_auc(
                    page_vecs,
                    comic,
                    counts,
                    kinds,
                    _means(panel_vecs),
                    _means(crop_index) if crop_index is not panel_vecs else None,
                    prose,
                )
                if docs
                else None,
            }
        )
        log.info("%s: %.0f s", encoder.name, seconds)
    quote_sets = {"ground truth": [p.record for p in pages if p.record is not None]}
    ids = {p.page_id for p in pages}
    quote_sets.update(
        {name: [p for p in ps if p.page_id in ids] for name, ps in (extra_quote_sets or {}).items()}
    )
    quotes = {name: quote_to_panel(ps, seed=seed, k=k) for name, ps in quote_sets.items() if ps}
    panel_sources = Counter(p.panel_source for p in pages)
    return {
        "benchmark": "search-real",
        "sources": [str(s) for s in sources],
        "only_books": only_books,
        "pages": len(pages),
        "books": dict(Counter(books)),
        "panels_indexed": int(sum(len(p.panels) or 1 for p in pages)),
        "panel_sources": dict(panel_sources),
        "non_comic_kinds": dict(Counter(p.book for p in docs)),
        "seed": seed,
        "limit": limit,
        "k": k,
        "crop_queries": len(crops),
        "damage": {
            key: [min(d[key] for d in damage), max(d[key] for d in damage)]
            for key in ("trim", "scale", "angle", "jpeg_quality")
        }
        if damage
        else {},
        "encoders": encoders,
        "quote_panel": quotes,
        "targets": TARGETS,
        "prepare_seconds": round(prep_s, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def run_search_eval(
    sources: Sequence[str | Path] | None = None, *, data_root: str | Path = "../shared/data", **kwargs: Any
) -> dict:
    """:func:`evaluate_search` with the file's run information (date, machine, commit); no
    ``sources``: the real dev books under ``data_root`` (with OpenMantra's English translations
    as a second quote set)."""
    if not sources:
        sources = dev_books(data_root)
        kwargs.setdefault("extra_quote_sets", dev_quote_sets(data_root))
    return {**run_info(), **evaluate_search(sources, **kwargs)}


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_text(payload: dict) -> str:
    """The figures as plain tables: the encoders side by side, per book and overall."""
    from ..dataspec import format_table  # lazy: dataspec is light, but keeps the module import small

    encoders = payload["encoders"]
    names = [e["name"] for e in encoders]
    books = list(payload["books"])
    out = [
        f"search on {payload['pages']} real pages of {len(books)} books ({payload['crop_queries']} crop "
        f"queries, {sum(payload['non_comic_kinds'].values())} non-comic pages drawn in code), "
        f"seed {payload['seed']}",
        *(f"  {e['description']} [{e['seconds']} s, {e['images_per_s']} images/s]" for e in encoders),
    ]
    rows = []
    for label, key, metric in (
        ("crop -> page R@1 (panel vectors)", "crop_page", "recall@1"),
        ("crop -> page R@10 (panel vectors)", "crop_page", "recall@10"),
        ("crop -> page R@1 (page vectors)", "crop_page", "page_vector_recall@1"),
        ("crop -> page R@10 (page vectors)", "crop_page", "page_vector_recall@10"),
        ("crop -> page R@1 (fused panel vectors, embed_image)", "crop_page_fused", "recall@1"),
        (f"same-book {encoders[0]['knn_book']['k'] if encoders else 5}-NN accuracy", "knn_book", "accuracy"),
    ):
        if not any(e.get(key) for e in encoders):
            continue
        for book in [*books, "overall"]:
            values = [
                (
                    (e.get(key) or {}).get("overall", {})
                    if book == "overall"
                    else (e.get(key) or {}).get("books", {}).get(book, {})
                ).get(metric)
                for e in encoders
            ]
            rows.append([label, book, *map(_fmt, values)])
    nc_encoders = [e for e in encoders if e["not_a_comic"]]
    for metric, label in (
        ("auc", "reference: 2+ detected panels"),
        ("auc_reference_all_pages", "reference: all pages"),
        ("auc_reference_comic_pages", "reference: comic pages"),
        ("auc_panel_mean_vectors", "mean panel vectors"),
        ("auc_image_panel_mean_vectors", "mean image-only panel vectors"),
        ("auc_prose", "prose lines, then outliers"),
    ):
        if nc_encoders:
            values = [_fmt((e["not_a_comic"] or {}).get(metric)) for e in encoders]
            rows.append([f"not-a-comic ROC AUC, {label}", "all", *values])
    for kind in nc_encoders[0]["not_a_comic"]["auc_by_kind"] if nc_encoders else ():
        values = [_fmt(e["not_a_comic"]["auc_by_kind"][kind]["auc"]) for e in encoders]
        rows.append(["not-a-comic ROC AUC, 2+ panels", kind, *values])
        values = [_fmt(e["not_a_comic"]["auc_by_kind"][kind].get("auc_prose")) for e in encoders]
        rows.append(["not-a-comic ROC AUC, prose lines, then outliers", kind, *values])
    out += ["", format_table(["metric", "book", *names], rows)]
    if nc_encoders:
        nc = nc_encoders[0]["not_a_comic"]
        out.append(
            f"not-a-comic: {nc['comic_pages']} comic + {nc['non_comic_pages']} non-comic pages; outlier "
            f"reference = pages with 2+ detected panels ({nc['reference_pages']}, of which "
            f"{nc['non_comic_in_reference']} non-comic)"
            + (
                f"; text pages ({nc['text_pages']['lines']}+ prose lines): {nc['text_pages']['non_comic']} "
                f"non-comic, "
                f"{nc['text_pages']['comic']} comic"
                if "text_pages" in nc
                else ""
            )
        )
    k = payload["k"]
    rows = []
    for name, q in payload["quote_panel"].items():
        for book, s in [*q["books"].items(), *q.get("by_length", {}).items(), ("overall", q["overall"])]:
            rows.append(
                [
                    name,
                    book,
                    s["queries"],
                    *(_fmt(s[m]) for m in ("recall@1", f"recall@{k}", "page_recall@1", f"page_recall@{k}")),
                ]
            )
    out += [
        "",
        "quote -> panel (full-text index, fuzzy; lexical, the same for every encoder), OCR errors at "
        + ", ".join(f"{n}: CER {_fmt(q['mean_char_error_rate'])}" for n, q in payload["quote_panel"].items()),
        format_table(["texts", "book", "queries", "R@1", f"R@{k}", "page R@1", f"page R@{k}"], rows),
    ]
    return "\n".join(out)
