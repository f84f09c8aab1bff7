"""Synthetic books and libraries with exact DataSpec ground truth, written as CBZ or PDF.

The same seed gives byte-identical containers: every random choice comes from a numpy
Generator seeded from (library seed, book number, page number), zip entries carry a fixed
timestamp and the PDF a fixed creation date.
"""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .. import __version__
from ..dataspec import (
    Page,
    Provenance,
    atomic_write,
    book_id_for_file,
    make_page_id,
    sha256_bytes,
    slugify,
    write_jsonl,
)
from . import text as words
from .draw import age_paper
from .layout import LAYOUTS
from .pages import PAGE_KINDS, RENDERERS, balloons_across_gutters, render_story
from .realistic import real_book_pages

log = logging.getLogger(__name__)

BOOK_KINDS: tuple[str, ...] = ("issue", "anthology", "manga")
STYLES: tuple[str, ...] = ("plain", "real")  # real: synth.realistic (print, structure, page kinds)
FORMATS: tuple[str, ...] = ("cbz", "pdf")
DEFAULT_SIZE = (1060, 1600)  # US comic proportions at ~160 DPI
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_PDF_TIME = time.struct_time((2020, 1, 1, 0, 0, 0, 2, 1, 0))
PUBLISHERS = ["Acme Comics", "Lantern Press", "Blue Harbor", "Orbit House"]


@dataclass
class BookMeta:
    title: str
    series: str
    number: int
    publisher: str
    year: int
    writer: str
    artist: str
    kind: str
    direction: str

    @property
    def stem(self) -> str:
        return f"{self.series} {self.number:03d}"


@dataclass
class SynthPage:
    image: Image.Image
    record: Page
    layout: str | None = None
    gutter: str | None = None  # name in pages.GUTTERS (story pages)


@dataclass
class SynthBook:
    meta: BookMeta
    pages: list[SynthPage] = field(default_factory=list)
    seed: tuple[int, ...] = ()


def _rng(*seed: int) -> np.random.Generator:
    return np.random.default_rng([int(s) for s in seed])


def plan_book(
    rng: np.random.Generator, kind: str, story_pages: tuple[int, int] = (6, 14)
) -> list[tuple[str, bool]]:
    """The sequence of (page_type, story_start) of a book of the given kind."""
    if kind not in BOOK_KINDS:
        raise ValueError(f"unknown book kind {kind!r}; expected one of {', '.join(BOOK_KINDS)}")
    lo, hi = story_pages
    plan: list[tuple[str, bool]] = [("cover", False)]
    if kind == "anthology" or rng.random() < 0.6:
        plan.append(("credits_indicia", False))
    if kind == "anthology":
        n_stories = int(rng.integers(2, 5))
        for s in range(n_stories):
            n = max(2, int(rng.integers(max(2, lo // n_stories), max(3, hi // n_stories) + 1)))
            plan += [("story", p == 0) for p in range(n)]
            if s < n_stories - 1 and rng.random() < 0.5:
                plan.append(("advertisement", False))
    else:
        n = int(rng.integers(lo, hi + 1))
        story = [("story", p == 0) for p in range(n)]
        if kind == "issue":  # ads interrupt the story, never before its first two pages
            for _ in range(int(rng.integers(0, 3))):
                story.insert(int(rng.integers(2, len(story) + 1)), ("advertisement", False))
        plan += story
    plan += [("text_backmatter", False)] * int(rng.integers(0, 3 if kind != "manga" else 2))
    if rng.random() < 0.3:
        plan.append(("art_backmatter", False))
    plan.append(("back_cover", False))
    return plan


def make_meta(rng: np.random.Generator, kind: str, number: int) -> BookMeta:
    series = words.title(rng)
    return BookMeta(
        title=f"{series}: {words.title(rng)[4:]}",
        series=series,
        number=number,
        publisher=PUBLISHERS[int(rng.integers(len(PUBLISHERS)))],
        year=int(rng.integers(1985, 2026)),
        writer=words.name(rng),
        artist=words.name(rng),
        kind=kind,
        direction="rtl" if kind == "manga" else "ltr",
    )


def make_page(
    seed: int | Sequence[int] = 0,
    page_type: str = "story",
    layout: str | None = None,
    direction: str = "ltr",
    size: tuple[int, int] = DEFAULT_SIZE,
    story_start: bool = False,
    book_id: str = "synthetic-00000000",
    page_index: int = 0,
    meta: BookMeta | None = None,
    gutter: str | None = None,
    paper: str | None = None,
    noise: float = 0.0,
    crossing: int = 0,
) -> SynthPage:
    """One synthetic page and its ground truth. ``layout`` and ``gutter`` (story pages) are
    drawn at random unless given. ``crossing`` (story pages) draws up to that many balloons
    straddling gutters between neighbouring panels, each hiding 50-70% of its gutter.
    ``paper`` (a ``PAPERS`` name: tinted, yellowed, golden_age) and ``noise`` (scan noise, grey
    levels) age the printed page; without these options the pixels are those of the plain page,
    seed for seed."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    rng = _rng(*seeds)
    width, height = size
    meta = meta or make_meta(_rng(*seeds, 1), "issue", 1)
    if page_type == "story":
        if layout is None and story_start and rng.random() < 0.5:
            layout = "splash"
        elif layout is None:
            layout = str(rng.choice([k for k in LAYOUTS if k != "splash"]))
        title = meta.title if story_start else None
        image, truth = render_story(rng, width, height, direction, layout, title, gutter)
        if crossing:
            truth.texts.extend(balloons_across_gutters(image, truth.panels, _rng(*seeds, 3), crossing))
    elif page_type in RENDERERS:
        image, truth = RENDERERS[page_type](rng, width, height, meta.__dict__)
    else:
        raise ValueError(
            f"unknown synthetic page type {page_type!r}; expected one of {', '.join(PAGE_KINDS)}"
        )
    if paper is not None or noise != 0:
        image = age_paper(image, _rng(*seeds, 2), paper, noise)
    record = Page(
        page_id=make_page_id(book_id, page_index),
        book_id=book_id,
        page_index=page_index,
        width=width,
        height=height,
        reading_direction=direction,
        panels=truth.panels,
        texts=truth.texts,
        characters=truth.characters,
        page_type=page_type,
        story_start=story_start if page_type == "story" else False,
        provenance=Provenance(generator=f"comics_analysis.synth {__version__} seed={seeds}"),
    )
    return SynthPage(image=image, record=record, layout=truth.layout, gutter=truth.gutter)


def make_book(
    seed: int | Sequence[int] = 0,
    kind: str = "issue",
    number: int = 1,
    size: tuple[int, int] = DEFAULT_SIZE,
    story_pages: tuple[int, int] = (6, 14),
    progress: tqdm | None = None,
    style: str = "plain",
) -> SynthBook:
    """A whole book: cover, credits, stories (with ads), back matter and back cover. ``style="real"``:
    a book closer to real printed ones (:mod:`.realistic`; ``kind`` and ``story_pages`` then only
    seed the title)."""
    if style not in STYLES:
        raise ValueError(f"unknown synthetic book style {style!r}; expected one of {', '.join(STYLES)}")
    seeds = (seed,) if isinstance(seed, int) else tuple(seed)
    rng = _rng(*seeds)
    meta = make_meta(rng, kind, number)
    provisional = f"synthetic-{sha256_bytes(repr(seeds).encode())[:8]}"
    book = SynthBook(meta=meta, seed=seeds)
    if style == "real":
        for image, record, extra in real_book_pages(seeds, meta, size, provisional):
            book.pages.append(SynthPage(image=image, record=record, **extra))
            if progress is not None:
                progress.update(1)
        return book
    for index, (page_type, story_start) in enumerate(plan_book(rng, kind, story_pages)):
        book.pages.append(
            make_page(
                (*seeds, 1000 + index),
                page_type=page_type,
                direction=meta.direction,
                size=size,
                story_start=story_start,
                book_id=provisional,
                page_index=index,
                meta=meta,
            )
        )
        if progress is not None:
            progress.update(1)
    return book


def encode_image(image: Image.Image, image_format: str = "jpeg", quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, "JPEG", quality=quality)
    elif image_format == "png":
        image.save(buffer, "PNG", compress_level=6)
    else:
        raise ValueError(f"unknown image format {image_format!r}; expected jpeg or png")
    return buffer.getvalue()


def comic_info_xml(meta: BookMeta, page_count: int) -> bytes:
    """A ComicInfo.xml (the de-facto CBZ metadata file) with the manga flag set for RTL books."""
    root = ElementTree.Element("ComicInfo")
    for tag, value in (
        ("Title", meta.title),
        ("Series", meta.series),
        ("Number", str(meta.number)),
        ("Year", str(meta.year)),
        ("Writer", meta.writer),
        ("Penciller", meta.artist),
        ("Publisher", meta.publisher),
        ("PageCount", str(page_count)),
        ("LanguageISO", "en"),
        ("Manga", "YesAndRightToLeft" if meta.direction == "rtl" else "No"),
    ):
        ElementTree.SubElement(root, tag).text = value
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _finalise(
    book: SynthBook, container: Path, root: Path | None, entries: list[str | None], shas: list[str | None]
) -> list[Page]:
    book_id = book_id_for_file(container)
    source = container.relative_to(root).as_posix() if root else container.name
    pages = []
    for page, entry, sha in zip(book.pages, entries, shas):
        record = page.record.rekeyed(book_id)
        record.provenance.source_path = source
        record.provenance.source_entry = entry
        record.provenance.image_sha256 = sha
        pages.append(record)
    return pages


def write_cbz(
    book: SynthBook,
    path: str | Path,
    image_format: str = "jpeg",
    quality: int = 90,
    padded_names: bool = True,
    root: str | Path | None = None,
) -> list[Page]:
    """Write a CBZ (zip of page images + ComicInfo.xml); returns the pages keyed by its book id.

    ``padded_names=False`` writes ``page1, page2, ... page10`` so readers must sort naturally.
    """
    path = Path(path)
    ext = "jpg" if image_format == "jpeg" else "png"
    entries, shas = [], []
    with atomic_write(path, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
        info = zipfile.ZipInfo("ComicInfo.xml", date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, comic_info_xml(book.meta, len(book.pages)))
        for i, page in enumerate(book.pages):
            name = f"page{i + 1:03d}.{ext}" if padded_names else f"page{i + 1}.{ext}"
            data = encode_image(page.image, image_format, quality)
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)
            entries.append(name)
            shas.append(sha256_bytes(data))
    return _finalise(book, path, Path(root) if root else None, entries, shas)


def write_pdf(
    book: SynthBook, path: str | Path, dpi: float = 150.0, quality: int = 90, root: str | Path | None = None
) -> list[Page]:
    """Write a PDF with one JPEG image per page; returns the pages keyed by its book id."""
    path = Path(path)
    # Pillow leaves the PDF's encoder options on appended images (and prefers them over the
    # arguments of any later save), so append copies and keep the book's images untouched.
    first, *rest = [p.image if i == 0 else p.image.copy() for i, p in enumerate(book.pages)]
    with atomic_write(path, "wb") as handle:
        first.save(
            handle,
            "PDF",
            save_all=True,
            append_images=rest,
            resolution=dpi,
            quality=quality,
            title=book.meta.title,
            creationDate=_PDF_TIME,
            modDate=_PDF_TIME,
        )
    return _finalise(
        book, path, Path(root) if root else None, [None] * len(book.pages), [None] * len(book.pages)
    )


@dataclass
class BookSummary:
    file: str
    book_id: str
    title: str
    kind: str
    direction: str
    pages: int
    truth: str


def make_library(
    out: str | Path,
    books: int = 3,
    seed: int = 0,
    formats: Sequence[str] = ("cbz",),
    size: tuple[int, int] = DEFAULT_SIZE,
    story_pages: tuple[int, int] = (6, 14),
    image_format: str = "jpeg",
    show_progress: bool = True,
) -> list[BookSummary]:
    """A sample library: ``out/books/*.cbz|pdf``, ``out/truth/*.jsonl`` and ``out/library.json``.

    Book kinds cycle issue, anthology, manga (right to left); formats cycle through ``formats``.
    Truth records carry the container's real book id, so they join ingested pages by page_id.
    """
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown container format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out = Path(out)
    (out / "books").mkdir(parents=True, exist_ok=True)
    summaries: list[BookSummary] = []
    bar = tqdm(desc="synth pages", unit="page", disable=not show_progress)
    try:
        for b in range(books):
            kind = BOOK_KINDS[b % len(BOOK_KINDS)]
            book = make_book(
                (seed, b), kind=kind, number=b + 1, size=size, story_pages=story_pages, progress=bar
            )
            fmt = formats[b % len(formats)]
            container = out / "books" / f"{slugify(book.meta.stem)}.{fmt}"
            if fmt == "cbz":
                records = write_cbz(book, container, image_format=image_format, root=out)
            else:
                records = write_pdf(book, container, root=out)
            truth = out / "truth" / f"{container.stem}.jsonl"
            write_jsonl(records, truth)
            summaries.append(
                BookSummary(
                    file=container.relative_to(out).as_posix(),
                    book_id=records[0].book_id,
                    title=book.meta.title,
                    kind=kind,
                    direction=book.meta.direction,
                    pages=len(records),
                    truth=truth.relative_to(out).as_posix(),
                )
            )
            log.info("wrote %s (%d pages, %s)", container, len(records), kind)
    finally:
        bar.close()
    with atomic_write(out / "library.json") as handle:
        json.dump({"seed": seed, "books": [s.__dict__ for s in summaries]}, handle, indent=2)
        handle.write("\n")
    return summaries
