"""``annotate``: ingested pages -> DataSpec v1 records (panels in reading order).

One JSON Lines file per book in ``OUT/dataspec/<book_id>.jsonl``, written atomically once the
book is done, so a re-run skips finished books and a killed run redoes only the book it was on;
then ``OUT/dataspec.parquet`` with every page (DataSpec ``datasets`` features). ``OUT/books.parquet``
is the books table (title, series, credits, ... with their source; :mod:`~.dataspec.books`).
Image paths in the records are relative to the ingest folder (the declared root), which is
recorded in ``OUT/images-root.txt`` as a path relative to ``OUT`` (:func:`recorded_images_root`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import lru_cache, partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .. import __version__
from ..dataspec import Page, Provenance, assign_panel, atomic_write, read_jsonl, write_jsonl, write_parquet
from ..dataspec.io import resolve_image
from ..engine import EngineOptions, require_ray, run_units
from ..ingest.base import MAX_PAGE_PIXELS
from ..ingest.books import write_books_table
from .align import AlignConfig, merge_vlm
from .balloons import UNITS_REVISION, find_regions, is_page_number, is_signature, line_regions, unit_order
from .books import ShardBooks, read_book
from .detectors import get_detector
from .errors import failed_pages, page_errors, write_errors
from .ocr import ENGINES, OCR_REVISION, TextBlock, TextLine, classify_block, group_lines, make_engine
from .quality import page_flags
from .reading_order import reading_order
from .vlm.importers import VlmFolder, vlm_folder

log = logging.getLogger(__name__)

IMAGES_ROOT_FILE = "images-root.txt"  # not .json: read_pages(OUT) must see only page records
MIN_SIDE = 32  # pixels: a smaller page image is not a page (a spacer, a broken export)
MAX_ASPECT = 8.0  # a longer strip (webtoon) is not analysed as one page


@dataclass(frozen=True)
class AnnotateOptions:
    detector: str = "classical"
    direction: str = "auto"  # auto: ComicInfo's manga flag from the manifest, else ltr
    ocr: str = "rapidocr"  # rapidocr | rapidocr-reference | tesseract | none
    ocr_lang: str | None = None  # tesseract languages, e.g. "eng", "jpn", "jpn_vert"
    ocr_threads: int | None = None  # per worker; speed only, not part of the resume key
    vlm: str | None = None  # folder of VLM readings to merge (``comics-analysis vlm`` output, v1, v2, v0.3)
    vlm_min_iou: float = 0.5
    vlm_fingerprint: str | None = None  # readings in the folder: more readings redo the books

    def key(self) -> str:
        settings = asdict(self)
        settings.pop("ocr_threads")
        revisions = {"ocr_revision": OCR_REVISION, "units_revision": UNITS_REVISION}
        return json.dumps({"version": __version__, **revisions, **settings}, sort_keys=True)


@lru_cache(maxsize=4)
def ocr_engine(name: str, lang: str | None = None, threads: int | None = None):
    """One engine per process and setting (models load once, not once per page)."""
    if name == "tesseract":
        return make_engine(name, lang=lang or "eng")
    return make_engine(name, threads=threads)


def read_text(image: Image.Image, engine, panels: list[tuple], direction: str) -> list[dict]:
    """OCR text units of a page as DataSpec text boxes (see :func:`page_texts`)."""
    return page_texts(image, engine.read(image), panels, direction)


def page_texts(image: Image.Image, lines: list[TextLine], panels: list[tuple], direction: str) -> list[dict]:
    """OCR lines of a page -> balloon-level DataSpec text boxes: page numbers apart (kind
    ``page_number``, no panel), signatures and copyright lines in the art apart (kind
    ``signature``, in their panel, never its lettering); the other lines grouped by distance,
    never across two closed balloon or caption regions of the image (:mod:`.balloons`); panel by
    area, kind by visual cues; in reading order (panels, then rows of units in ``direction``)."""
    if not lines:
        return []
    vertical = sum(t.bbox[3] > 1.5 * t.bbox[2] for t in lines) > len(lines) / 2
    median_line = float(np.median([t.bbox[2] if vertical else t.bbox[3] for t in lines]))
    grey = np.asarray(image.convert("L"))
    boxes = [t.bbox for t in lines]
    regions = find_regions(grey, boxes, median_line)
    ids = line_regions(regions, boxes, panels, [assign_panel(b, panels) for b in boxes], vertical)
    folio = [
        region is None and is_page_number(t.bbox, t.text, panels, image.width, image.height, median_line)
        for t, region in zip(lines, ids)
    ]
    texts = [
        _text_box(TextBlock(t.bbox, t.text, t.score, [t]), "page_number", -1)
        for t, f in zip(lines, folio)
        if f
    ]
    signed = [
        not f and region is None and is_signature(t.bbox, t.text, boxes, median_line)
        for t, f, region in zip(lines, folio, ids)
    ]
    texts += [
        _text_box(TextBlock(t.bbox, t.text, t.score, [t]), "signature", assign_panel(t.bbox, panels))
        for t, s in zip(lines, signed)
        if s
    ]
    rest = [i for i, (f, s) in enumerate(zip(folio, signed)) if not (f or s)]
    blocks = group_lines([lines[i] for i in rest], vertical=vertical, regions=[ids[i] for i in rest])
    region_of = {id(lines[i]): ids[i] for i in rest}
    units_in = Counter(region_of[id(b.lines[0])][0] for b in blocks if region_of[id(b.lines[0])] is not None)
    tones = regions.tones(grey, list(units_in))
    for block in blocks:
        panel = assign_panel(block.bbox, panels)
        region = region_of[id(block.lines[0])]
        tone = tones.get(region[0]) if region is not None else None
        frame = panels[panel] if panel >= 0 else None
        kind = classify_block(block, grey, frame, median_line, regions.paper, tone)
        texts.append(_text_box(block, kind, panel))
        if region is not None and units_in[region[0]] == 1:  # the region's outline is this unit's
            texts[-1]["polygon"] = regions.outline(region[0])
    order = unit_order([tuple(t["bbox"]) for t in texts], [t["panel"] for t in texts], len(panels), direction)
    return [texts[i] for i in order]


def _text_box(block: TextBlock, kind: str, panel: int) -> dict:
    return {
        "bbox": list(block.bbox),
        "text": block.text,
        "kind": kind,
        "panel": panel,
        "score": round(block.score, 4),
        "source": "ocr",
    }


def annotate_page(image: Image.Image, row: dict, options: AnnotateOptions) -> Page:
    """One DataSpec page from an image and its manifest row."""
    direction = options.direction
    if direction == "auto":
        direction = row.get("reading_direction") or "ltr"
    flags = []
    detector = get_detector(options.detector)
    detections = detector(image, source=f"{row['source_path']}/{row['source_entry']}")
    answered = detections is not None
    if not answered:  # a detector that looks pages up (coco:FILE) has none for this one
        detections, flags = [], [f"detector:{getattr(detector, 'missing', 'no answer for this page')}"]
    order = reading_order([d.bbox for d in detections], direction)
    panels = [
        {
            "bbox": list(detections[i].bbox),
            "score": detections[i].score,
            "source": "detector",
            "order": k,
            "text": {"dialogue": [], "narration": [], "sfx": []},
        }
        for k, i in enumerate(order)
    ]
    texts, engine = [], None
    if options.ocr != "none":
        engine = ocr_engine(options.ocr, options.ocr_lang, options.ocr_threads)
        texts = read_text(image, engine, [tuple(p["bbox"]) for p in panels], direction)
        for text in texts:
            if text["panel"] >= 0 and text["kind"] in ("dialogue", "narration", "sfx"):
                panels[text["panel"]]["text"][text["kind"]].append(text["text"])
    if answered:
        flags += page_flags(image, [p["bbox"] for p in panels], texts)
    page = Page(
        page_id=row["page_id"],
        book_id=row["book_id"],
        page_index=row["page_index"],
        image=row["path"],
        width=image.width,
        height=image.height,
        reading_direction=direction,
        panels=panels,
        texts=texts,
        page_type=row.get("page_type"),  # from ComicInfo <Pages> when the book has them
        quality={"detector_panels": len(panels), "flags": flags},
        provenance=_provenance(row, options, engine),
    )
    return merge_reading(page, row, options) if options.vlm else page


def _provenance(row: dict, options: AnnotateOptions, engine) -> Provenance:
    """Where a page record came from: the ingested image, the detector and the OCR engine (if any)."""
    return Provenance(
        source_path=row["source_path"],
        source_entry=row["source_entry"],
        image_sha256=row["sha256"],
        detector=options.detector,
        detector_version=__version__,
        ocr=engine.name if engine else None,
        ocr_version=engine.version if engine else None,
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        page_type_source=row.get("page_type_source"),
    )


def image_problem(width: int, height: int) -> str | None:
    """Why a page image cannot be annotated as a page (a flag), or None when it can."""
    if min(width, height) < MIN_SIDE:
        return f"image:too_small ({width}x{height} px; a page has at least {MIN_SIDE} px a side)"
    if width * height > MAX_PAGE_PIXELS:
        return f"image:too_large ({width}x{height} px; the pixel cap is {MAX_PAGE_PIXELS:,}, as in ingest)"
    if max(width, height) > MAX_ASPECT * min(width, height):
        limit = f"a page is at most {MAX_ASPECT:g} times longer than wide"
        return f"image:too_elongated ({width}x{height} px; {limit})"
    return None


def failed_page(row: dict, flag: str, options: AnnotateOptions, width: int = 0, height: int = 0) -> Page:
    """The record of a page that could not be annotated: no panels, the reason in its flags (so
    the run goes on and the page stays visible, joined on its page id like every other)."""
    log.warning("%s: %s", row["page_id"], flag)
    width = width or row.get("width") or 1
    height = height or row.get("height") or 1
    direction = options.direction if options.direction != "auto" else row.get("reading_direction") or "ltr"
    return Page(
        page_id=row["page_id"],
        book_id=row["book_id"],
        page_index=row["page_index"],
        image=row["path"],
        width=width,
        height=height,
        reading_direction=direction,
        page_type=row.get("page_type"),
        quality={"detector_panels": 0, "flags": [flag]},
        provenance=_provenance(row, options, None),
    )


def merge_reading(page: Page, row: dict, options: AnnotateOptions) -> Page:
    """``page`` with its VLM reading from ``options.vlm`` aligned in; a page without a usable
    reading is kept as detected, flagged, and belongs to no VLM subset."""

    reading = vlm_folder(options.vlm).find(row["page_id"], row.get("source_path"), row.get("source_entry"))
    if reading is None:
        flag = "vlm:no reading for this page"
    else:
        vlm_page, error = reading.page(page.width, page.height)
        if vlm_page is not None:
            return merge_vlm(
                page,
                vlm_page,
                name=reading.model or f"import:{reading.schema}",
                prompt_version=reading.prompt_version,
                config=AlignConfig(min_iou=options.vlm_min_iou),
            )
        flag = f"vlm:unusable reading ({error})"
    data = page.to_dict()
    data["quality"]["flags"].append(flag)
    return Page.from_dict(data)


def _book_key(rows: list[dict], options: AnnotateOptions) -> str:
    """The options and what the manifest says of the book's pages (image bytes, page types,
    direction): a re-ingested book whose pages or ComicInfo changed is annotated again."""
    seen = sorted(
        (r["page_id"], r.get("sha256"), r.get("page_type"), r.get("reading_direction")) for r in rows
    )
    return f"{options.key()}|{hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:16]}"


def annotate_book(rows: list[dict], root: str, out: str, options: AnnotateOptions) -> tuple[str, int, bool]:
    """Annotate one book's pages (or reuse a finished file); returns (book_id, pages, reused)."""
    book_id = rows[0]["book_id"]
    target = Path(out) / "dataspec" / f"{book_id}.jsonl"
    done = Path(out) / "dataspec" / f".{book_id}.done"
    key = _book_key(rows, options)
    if target.is_file() and done.is_file() and done.read_text() == key:
        return book_id, len(rows), True
    for stale in (*target.parent.glob(f".{target.name}.*.tmp"), *target.parent.glob(f".{done.name}.*.tmp")):
        stale.unlink(missing_ok=True)  # left by a killed run of this book (books never share a shard)
    pages = []
    transient = False
    for row in sorted(rows, key=lambda r: r["page_index"]):
        try:
            with Image.open(resolve_image(root, row["path"], row.get("page_id"))) as image:
                problem = image_problem(image.width, image.height)  # known before decoding
                size = image.size
                image = None if problem else image.convert("RGB")
        except Image.DecompressionBombError as exc:
            pages.append(failed_page(row, f"image:too_large ({exc})", options))
            continue
        except (FileNotFoundError, PermissionError, TimeoutError) as exc:  # may pass: not final
            transient = True
            pages.append(failed_page(row, f"image:unavailable ({type(exc).__name__}: {exc})", options))
            continue
        except (OSError, ValueError) as exc:  # DataSpecError too
            pages.append(failed_page(row, f"image:unreadable ({type(exc).__name__}: {exc})", options))
            continue
        if image is None:
            pages.append(failed_page(row, problem, options, *size))
            continue
        pages.append(annotate_page(image, row, options))
    write_jsonl(pages, target)
    if transient:  # a missing or locked image file: the book is not marked done, a re-run redoes it
        done.unlink(missing_ok=True)
        log.warning("%s: some page images were unavailable; run annotate again to retry them", book_id)
        return book_id, len(pages), False
    with atomic_write(done) as handle:
        handle.write(key)
    return book_id, len(pages), False


def annotate(
    ingest_dir: str | Path,
    out: str | Path,
    *,
    detector: str = "classical",
    direction: str = "auto",
    ocr: str = "rapidocr",
    ocr_lang: str | None = None,
    vlm: str | Path | None = None,
    vlm_min_iou: float = 0.5,
    workers: int = 1,
    num_shards: int = 1,
    shard_index: int = 0,
    show_progress: bool = True,
    engine: EngineOptions | None = None,
) -> list[Path]:
    """Annotate every ok page of an ingest run; returns the DataSpec files of this shard.

    ``engine`` (default local: this process, or ``workers`` processes) may run the books on Ray
    (:mod:`comics_analysis.engine`): the same files, written whole by one worker per book. Pages
    that could not be annotated are listed in ``OUT/errors.parquet`` (per shard
    ``errors-I-of-K.parquet``) with the reason; when a whole book failed (its worker died more
    often than the engine retries) the run ends with a RuntimeError after writing that table, and
    the same command resumes it."""

    if engine is not None and engine.is_ray:
        require_ray()  # before any work: names the extra to install
    # a bad spec, COCO file, checkpoint or label map fails here, naming it, not in a worker
    get_detector(detector)
    if direction not in ("auto", "ltr", "rtl"):
        raise ValueError(f"direction must be auto, ltr or rtl, got {direction!r}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in [0, {num_shards})")
    if ocr not in ENGINES:
        raise ValueError(f"unknown OCR engine {ocr!r}; expected one of {', '.join(ENGINES)}")
    if ocr != "none":
        ocr_engine(ocr, ocr_lang)  # fail now, with the engine's own message, not in a worker
    fingerprint = None
    if vlm is not None:
        readings = VlmFolder(vlm)  # a missing folder fails here, naming it
        fingerprint = f"{len(readings)} readings"
        log.info("%s: %d VLM readings", vlm, len(readings))
    # onnxruntime takes every core by default: with several workers that oversubscribes the CPU
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    options = AnnotateOptions(
        detector=detector,
        direction=direction,
        ocr=ocr,
        ocr_lang=ocr_lang,
        ocr_threads=threads,
        vlm=str(Path(vlm).resolve()) if vlm is not None else None,
        vlm_min_iou=vlm_min_iou,
        vlm_fingerprint=fingerprint,
    )
    books = ShardBooks(ingest_dir, num_shards, shard_index)  # read book by book
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / IMAGES_ROOT_FILE) as handle:
        handle.write(Path(os.path.relpath(Path(ingest_dir).resolve(), out.resolve())).as_posix() + "\n")
    write_books_table(ingest_dir, out)  # the books table beside the pages (dataspec.books)
    bar = tqdm(total=sum(books.counts.values()), desc="annotate", unit="page", disable=not show_progress)
    args = ((rows, str(ingest_dir), str(out), options) for rows in books)
    failed: dict[str, str] = {}
    failed_rows: dict[str, list[dict]] = {}
    try:
        if engine is not None and engine.is_ray:  # units: where each book's rows are, not the rows
            options = replace(options, ocr_threads=max(1, int(engine.cpus_per_worker)))
            units = engine_units(books, ingest_dir, out, options)
            spans = {key: unit[0] for key, unit in units}

            def done(outcome):
                bar.update(books.counts[outcome.key])
                if not outcome.ok:
                    failed[outcome.key] = outcome.error
                    failed_rows[outcome.key] = read_book(spans[outcome.key])
                    # its worker is gone and nobody else writes the book: drop a half-written file
                    for tmp in (out / "dataspec").glob(f".{glob.escape(outcome.key)}.jsonl.*.tmp"):
                        tmp.unlink(missing_ok=True)

            run_units(units, partial(_worker_setup, options), _annotate_unit, engine, on_done=done)
        elif workers <= 1:
            for a in args:
                bar.update(annotate_book(*a)[1])
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                pending: set = set()
                for a in args:  # a few books in flight, not the whole library
                    pending.add(pool.submit(annotate_book, *a))
                    if len(pending) >= 2 * workers:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            bar.update(future.result()[1])
                for future in as_completed(pending):
                    bar.update(future.result()[1])
    finally:
        bar.close()
    files = [out / "dataspec" / f"{b}.jsonl" for b in books.counts if b not in failed]
    # one Parquet file per shard, with the DataSpec features, for datasets / pandas / DuckDB users;
    # streamed book by book (memory does not grow with the pages), noting the pages that failed
    suffix = "" if num_shards == 1 else f"-{shard_index:03d}-of-{num_shards:03d}"
    errors: list[dict] = []

    def pages():
        for f in files:
            for page in read_jsonl(f):
                errors.extend(page_errors(page))
                yield page

    write_parquet(pages(), out / f"dataspec{suffix}.parquet")
    for book_id, reason in sorted(failed.items()):
        errors.extend(failed_pages(failed_rows[book_id], reason))
    write_errors(errors, out / f"errors{suffix}.parquet")
    if failed:
        raise RuntimeError(
            f"{len(failed)} book(s) failed ({', '.join(sorted(failed)[:3])}{', ...' * (len(failed) > 3)}); "
            f"their pages are in {out / f'errors{suffix}.parquet'}; run the same command again to retry them"
        )
    return files


def _worker_setup(options: AnnotateOptions) -> None:
    """Once per engine worker: the detector and the OCR engine load here, not per book."""
    get_detector(options.detector)
    if options.ocr != "none":
        ocr_engine(options.ocr, options.ocr_lang, options.ocr_threads)


def engine_units(
    books: ShardBooks, ingest_dir: str | Path, out: str | Path, options: AnnotateOptions
) -> list[tuple[str, tuple]]:
    """The engine's units: ``(book_id, (span, ingest folder, out, options))`` per book, the span
    saying where the book's rows are in the manifest (the worker reads them: :func:`read_book`)."""
    return [(span.book_id, (span, str(ingest_dir), str(out), options)) for span in books.spans()]


def _annotate_unit(_state, args: tuple) -> tuple[str, int, bool]:
    """One book on an engine worker: its rows read from the manifest, then :func:`annotate_book`."""
    span, *rest = args
    return annotate_book(read_book(span), *rest)


def recorded_images_root(folder: str | Path) -> Path | None:
    """The ingest folder an annotate output's image paths are relative to, as ``annotate``
    recorded it (``OUT/images-root.txt``; also found from ``OUT/dataspec``); None if absent."""
    folder = Path(folder)
    for base in [folder, *([folder.parent] if folder.name == "dataspec" else [])]:
        record = base / IMAGES_ROOT_FILE
        if record.is_file():
            return (base / record.read_text(encoding="utf-8").strip()).resolve()
    return None


def annotation_files(folder: str | Path) -> list[Path]:
    """The JSON Lines files of an annotate output folder (or a folder of them), in row order."""
    folder = Path(folder)
    if (folder / "dataspec").is_dir():
        return sorted((folder / "dataspec").glob("*.jsonl"))
    return sorted(folder.glob("*.jsonl"))


def read_annotations(folder: str | Path) -> list[Page]:
    """Every page of an annotate output folder (or a folder of JSON Lines files)."""
    return [page for f in annotation_files(folder) for page in read_jsonl(f)]
