"""``ingest``: walk a library, extract and validate every page, write files and the manifest.

The unit of work is one container. Each finished container leaves a record in
``OUT/.ingest/books/<book_id>.json`` (written last, atomically, after its page files), so a
re-run skips it when the container's size and SHA-256 and the options are unchanged, and a
killed run redoes only the containers it had not finished. Page files are written to a temp
name and renamed, so no half-written page is ever visible.

Failures are final (corrupt, encrypted, refused) or transient (``TRANSIENT_KINDS``: a missing
tool, no space, an I/O error): a container with a transient failure leaves no record, so the next
run retries it. A container is processed under a lock of its book id, so concurrent shards or runs
never remove or rewrite each other's files; temporary files are cleaned per book, under that lock.
The reader is chosen by the container's bytes (a zip named ``.cbr`` is read as a zip), so the
same bytes always give the same result whatever their extension.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from filelock import FileLock
from tqdm.auto import tqdm

from ..dataspec import atomic_write, make_book_id, make_page_id, sha256_file
from ..dataspec.paths import expand_path
from .acbf import AcbfBook, content_sha256, has_acbf, write_ground_truth
from .base import MAX_PAGE_PIXELS, TRANSIENT_KINDS, Book, ContainerError, Limits
from .books import write_books_table
from .calibre import OPF_FILE, book_metadata, is_calibre_book, preference, read_opf
from .cb7 import Cb7Book
from .cbr import INSTALL_HINT, CbrBook, rar_tool
from .cbt import CbtBook
from .cbz import CbzBook
from .entries import printable_name, stable_reason
from .epub import EpubBook
from .folder import FolderBook, folder_images, folder_sha256
from .images import OUTPUT_FORMATS, PageImageError, process_image
from .manifest import Manifest, ManifestWriter
from .pdf import PdfBook

log = logging.getLogger(__name__)

INGEST_VERSION = 5  # bump when the rows (or ground truth) an unchanged container produces would change
CONTAINERS: dict[str, type[Book]] = {
    ".cbz": CbzBook,
    ".zip": CbzBook,
    ".cbr": CbrBook,
    ".rar": CbrBook,
    ".cb7": Cb7Book,
    ".7z": Cb7Book,
    ".cbt": CbtBook,
    ".tar": CbtBook,
    ".tgz": CbtBook,
    ".pdf": PdfBook,
    ".epub": EpubBook,
    ".acbf": AcbfBook,  # its images are beside it (or embedded)
}
STATE_DIR = ".ingest"


@dataclass(frozen=True)
class Options:
    output_format: str = "keep"
    dpi: float = 150.0
    max_pixels: int = MAX_PAGE_PIXELS
    max_entry_bytes: int = 256 << 20
    pdf_mode: str = "auto"
    entry_timeout: float = 60.0  # seconds of decoding per container entry (``Limits.entry_seconds``)

    def key(self) -> str:
        return json.dumps({"version": INGEST_VERSION, **asdict(self)}, sort_keys=True)

    def limits(self) -> Limits:
        return Limits(
            dpi=self.dpi,
            max_pixels=self.max_pixels,
            max_entry_bytes=self.max_entry_bytes,
            pdf_mode=self.pdf_mode,
            entry_seconds=self.entry_timeout,
        )


@dataclass(frozen=True)
class Task:
    path: str  # absolute
    rel: str  # relative to the library root, posix
    folder: bool = False
    opf: str | None = None  # calibre's metadata.opf of the book folder it sits in
    duplicate_of: str | None = None  # another format of the same calibre book, ingested instead


_MAGIC: tuple[tuple[bytes, type[Book]], ...] = (
    (b"PK\x03\x04", CbzBook),
    (b"PK\x05\x06", CbzBook),  # an empty zip
    (b"Rar!\x1a\x07", CbrBook),
    (b"7z\xbc\xaf\x27\x1c", Cb7Book),
    (b"%PDF-", PdfBook),
)


def container_class(path: Path) -> type[Book] | None:
    """The reader a file's name asks for (None: not a container)."""
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
        return CbtBook
    return CONTAINERS.get(path.suffix.lower())


def sniff_container(path: Path) -> type[Book] | None:
    """The reader a file's bytes ask for: zip, RAR, 7z or PDF by their signature, else the name's.

    Comic files are often misnamed (a zip saved as ``.cbr``); the bytes decide, so the same
    bytes give the same pages under any extension. An EPUB is a zip and keeps its own reader.
    """
    by_name = container_class(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return by_name
    for magic, cls in _MAGIC:
        if head.startswith(magic):
            return by_name if cls is CbzBook and by_name is EpubBook else cls
    return by_name


def _walk(folder: Path, exclude: Path | None) -> Iterable[Path]:
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d != "__MACOSX" and (exclude is None or here / d != exclude)
        )
        yield here
        for name in sorted(files):
            yield here / name


def discover(
    sources: Sequence[str | Path], root: str | Path | None = None, exclude: str | Path | None = None
) -> list[Task]:
    """Containers and image folders under ``sources``, with paths relative to ``root``.

    ``root`` defaults to the common folder of the sources (a file source counts as its folder).
    ``exclude`` (the output folder, when it lies inside a source) is never walked.
    """
    skip = expand_path(exclude).resolve() if exclude is not None else None
    paths = [expand_path(s).resolve() for s in sources]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"source not found: {path}")
    if root is None:
        root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in paths]))
    root = expand_path(root).resolve()
    tasks: dict[str, Task] = {}

    def relative(path: Path) -> str:
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            raise ValueError(
                f"{path} is not under the library root {root} (root: give a folder that holds every source)"
            ) from None
        return printable_name(rel or ".")

    def add(path: Path, folder: bool, opf: Path | None = None, duplicate_of: Path | None = None) -> None:
        rel = relative(path)
        tasks[rel] = Task(
            str(path),
            rel,
            folder,
            opf=str(opf) if opf is not None else None,
            duplicate_of=relative(duplicate_of) if duplicate_of is not None else None,
        )

    def add_calibre_book(folder: Path) -> None:
        """A calibre book folder: its best format is the book, the others its duplicates."""
        formats = sorted(
            (p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and container_class(p)),
            key=lambda p: (preference(p), p.name),
        )
        for path in formats:
            add(path, False, opf=folder / OPF_FILE, duplicate_of=None if path == formats[0] else formats[0])

    for path in paths:
        if path.is_file():
            if container_class(path) is None:
                raise ValueError(
                    f"{path}: not a supported container (cbz, cbr, cb7, cbt, pdf, epub, zip, ...)"
                )
            add(path, False)
            continue
        calibre: set[Path] = set()
        for item in _walk(path, skip):
            if item.is_dir():
                if is_calibre_book(item):  # cover.jpg is calibre's copy, not a book
                    calibre.add(item)
                    add_calibre_book(item)
                elif folder_images(item) and not has_acbf(item):  # an ACBF's images are its book
                    add(item, True)
            elif item.parent in calibre:
                continue  # added with its book folder
            elif not item.is_symlink() and container_class(item) is not None:
                add(item, False)
    return [tasks[k] for k in sorted(tasks)]


def shard_of(rel: str, num_shards: int) -> int:
    """Deterministic shard of a container: the same on every machine that sees the same library."""
    return int(hashlib.sha256(rel.encode("utf-8")).hexdigest()[:12], 16) % num_shards


def _container_identity(task: Task) -> tuple[str, int, str]:
    path = Path(task.path)
    if task.folder:
        size = sum(p.stat().st_size for p in folder_images(path))
        return folder_sha256(path), size, path.name
    return sha256_file(path), path.stat().st_size, path.stem


def _write_page(out: Path, rel: str, data: bytes) -> None:
    with atomic_write(out / rel, "wb") as handle:
        handle.write(data)


def _error(task: Task, book_id: str | None, entry: str | None, kind: str, reason: str) -> dict:
    entry = printable_name(entry) if entry is not None else None
    return {
        "source_path": task.rel,
        "entry": entry,
        "kind": kind,
        "reason": stable_reason(printable_name(reason)),
        "book_id": book_id,
    }


def _os_error(exc: OSError) -> tuple[str, str]:
    """Kind and reason of an I/O failure while reading a container or writing its pages."""
    kind = "no_space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "io_error"
    return kind, f"{type(exc).__name__}: {exc.strerror or exc}"


def _ingest_pages(book: Book, task: Task, out: Path, book_id: str, options: Options):
    """Rows and errors of every page of an open book; page files are written as they come."""
    rows, errors = [], []
    for index, raw in enumerate(book.pages()):
        row = dict.fromkeys(("path", "width", "height", "format", "bytes", "sha256", "phash", "fixes"))
        row.update(
            page_id=make_page_id(book_id, index),
            page_index=index,
            source_entry=printable_name(raw.entry),
            container_format=book.format,
            status="ok",
        )
        kind, reason = raw.error_kind, raw.error
        if kind is None:
            try:
                page = process_image(
                    raw.data,
                    image=raw.image,
                    output_format=options.output_format,
                    max_pixels=options.max_pixels,
                )
            except PageImageError as exc:
                kind, reason = exc.kind, exc.reason
        if kind is not None:
            row["status"] = kind
            errors.append(_error(task, book_id, raw.entry, kind, reason))
        else:
            rel = f"pages/{book_id}/p{index:04d}.{page.ext}"
            _write_page(out, rel, page.data)
            row.update(
                path=rel,
                width=page.width,
                height=page.height,
                format=page.format,
                bytes=len(page.data),
                sha256=hashlib.sha256(page.data).hexdigest(),
                phash=page.phash,
                fixes="; ".join(page.fixes) or None,
            )
        rows.append(row)
    return rows, errors


def _clean_book_temp_files(out: Path, book_id: str) -> None:
    """Temporary files a killed run left for this book (called under the book's lock)."""
    for folder, pattern in (
        (out / "pages" / book_id, ".*.tmp"),
        (out / STATE_DIR / "books", f".{book_id}.json.*.tmp"),
    ):
        if folder.is_dir():
            for tmp in folder.glob(pattern):
                tmp.unlink(missing_ok=True)


def _finished_record(
    record_path: Path, digest: str, size: int, options: Options, content: str | None
) -> dict | None:
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    same = (record.get("container_sha256"), record.get("container_bytes"), record.get("options"))
    truth = record.get("ground_truth")
    if truth is not None and not (record_path.parents[2] / truth).is_file():
        return None  # the ground truth file is gone: write it again
    return record if same == (digest, size, options.key()) and record.get("content") == content else None


def ingest_container(task: Task, out: Path, options: Options) -> dict:
    """Ingest one container (or reuse its finished record); returns {rows, errors, resumed, ...}.

    Runs under a lock of the book id (``OUT/.ingest/locks``), so two shards or runs that meet the
    same bytes take turns and the second reuses the first's record.
    """
    if task.duplicate_of is not None:  # another format of a calibre book: nothing is read
        reason = f"another format of the calibre book {task.duplicate_of}, which is ingested instead"
        return {
            "rows": [],
            "errors": [_error(task, None, None, "duplicate_format", reason)],
            "resumed": False,
        }
    if not task.folder and not Path(task.path).is_file():  # a FIFO or device named .cbz: never opened
        return {
            "rows": [],
            "errors": [_error(task, None, None, "not_a_file", "not a regular file")],
            "resumed": False,
        }
    try:
        digest, size, stem = _container_identity(task)
    except OSError as exc:
        kind, reason = _os_error(exc)
        return {"rows": [], "errors": [_error(task, None, None, kind, reason)], "resumed": False}
    book_id = make_book_id(stem, digest)
    locks = out / STATE_DIR / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{book_id}.lock"):
        result = _ingest_locked(task, out, options, book_id, digest, size)
    return _with_calibre_metadata(result, task) if task.opf is not None else result


def _with_calibre_metadata(result: dict, task: Task) -> dict:
    """calibre's curated metadata over the book's rows (ComicInfo fills what it lacks). Read on
    every run, never cached with the container, so an edit in calibre shows on the next ingest."""
    opf = read_opf(Path(task.opf))
    if not opf:
        return result
    fields = book_metadata(opf)
    for row in result["rows"]:
        extra = json.loads(row["book_metadata"]) if row.get("book_metadata") else {}
        extra["calibre"] = opf
        row.update(fields, book_metadata=json.dumps(extra, ensure_ascii=False, sort_keys=True))
    return result


def _ingest_locked(task: Task, out: Path, options: Options, book_id: str, digest: str, size: int) -> dict:
    record_path = out / STATE_DIR / "books" / f"{book_id}.json"
    # an ACBF's images are files beside it: the book is read again when one changes
    acbf_file = not task.folder and Path(task.path).suffix.lower() == ".acbf"
    content = content_sha256(Path(task.path)) if acbf_file else None
    record = _finished_record(record_path, digest, size, options, content)
    if record is not None:
        for item in record["rows"] + record["errors"]:
            item["source_path"] = task.rel  # the same bytes may have moved since
        return {**record, "resumed": True, "saved": True}
    _clean_book_temp_files(out, book_id)
    cls = FolderBook if task.folder else sniff_container(Path(task.path))
    rows: list[dict] = []
    errors: list[dict] = []
    meta: dict = {}
    book = acbf = None
    try:
        book = cls(Path(task.path), options.limits())
        rows, errors = _ingest_pages(book, task, out, book_id, options)
        meta, acbf = book.metadata, getattr(book, "acbf", None)
    except Exception as exc:
        if isinstance(exc, ContainerError):
            kind, reason = exc.kind, exc.reason
        elif isinstance(exc, OSError):
            kind, reason = _os_error(exc)
        else:
            log.exception("unexpected failure on %s", task.rel)
            kind, reason = "unreadable", f"{type(exc).__name__}: {exc}"
        shutil.rmtree(out / "pages" / book_id, ignore_errors=True)
        rows, errors = [], [_error(task, book_id, None, kind, reason)]
    finally:
        if book is not None:
            errors += [_error(task, book_id, s.entry, s.kind, s.reason) for s in book.skipped]
            book.close()
    book_meta = {key: meta[key] for key in ("comicinfo", "acbf") if meta.get(key)}
    base = {
        "book_id": book_id,
        "source_path": task.rel,
        "container_sha256": digest,
        "container_bytes": size,
        "series": meta.get("series"),
        "number": meta.get("number"),
        "title": meta.get("title"),
        "publisher": meta.get("publisher"),
        "year": meta.get("year"),
        "reading_direction": meta.get("reading_direction"),
        "book_metadata": json.dumps(book_meta, ensure_ascii=False, sort_keys=True) if book_meta else None,
    }
    listed = {p.image: p for p in meta.get("pages") or []}
    for row in rows:  # ComicInfo <Pages>: the i-th page image's type, with its source
        info = listed.get(row["page_index"])
        row["page_type"] = info.page_type if info is not None else None
        row["page_type_source"] = "comicinfo" if info is not None else None
        row["double_page"] = info.double_page if info is not None else None
        if info is None and acbf is not None and acbf.has_cover and row["page_index"] == 0:
            row.update(page_type="cover", page_type_source="acbf")
    rows = [{**base, **row} for row in rows]
    truth = None
    if acbf is not None and rows:  # frames and text-areas as DataSpec ground truth
        try:
            truth = write_ground_truth(out, acbf, rows, task.rel)
        except OSError as exc:
            errors.append(_error(task, book_id, None, *_os_error(exc)))
    record = {
        "book_id": book_id,
        "container_sha256": digest,
        "container_bytes": size,
        "options": options.key(),
        "content": content,
        "ground_truth": truth,
        "rows": rows,
        "errors": errors,
    }
    if any(e["kind"] in TRANSIENT_KINDS for e in errors):
        return {**record, "resumed": False}  # not cached: the next run retries this container
    try:
        with atomic_write(record_path) as handle:
            json.dump(record, handle)
    except OSError as exc:
        kind, reason = _os_error(exc)
        record["errors"] = [*errors, _error(task, book_id, None, kind, f"record not saved: {reason}")]
        return {**record, "resumed": False}
    return {**record, "resumed": False, "saved": True}


def _ingest_task(task: Task, out: Path, options: Options) -> dict:
    """``ingest_container`` for ``_run``: a container whose record was saved comes back without
    its rows (the manifest is written from the records, book by book, not from the results)."""
    result = ingest_container(task, out, options)
    saved = result.get("saved", False)
    return {
        "book_id": result.get("book_id"),
        "rows": None if saved else result["rows"],
        "pages": len(result["rows"]),
        "errors": result["errors"],
    }


def _rows_of(task: Task, result: dict, out: Path, options: Options) -> list[dict]:
    """A container's manifest rows: those ``_run`` kept, or its saved record's."""
    if result["rows"] is not None:
        return result["rows"]
    record_path = out / STATE_DIR / "books" / f"{result['book_id']}.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("options") != options.key():
        raise RuntimeError(
            f"{record_path} ({task.rel}) was rewritten by another ingest run with other options while "
            "this one ran: run this ingest again"
        )
    for row in record["rows"]:
        row["source_path"] = task.rel
    return _with_calibre_metadata(record, task)["rows"] if task.opf is not None else record["rows"]


def _run(tasks: list[Task], out: Path, options: Options, workers: int, show_progress: bool):
    bar = tqdm(total=len(tasks), desc="ingest", unit="book", disable=not show_progress)
    results: dict[str, dict] = {}
    pages = 0

    def done(task: Task, result: dict) -> None:
        nonlocal pages
        results[task.rel] = result
        pages += result["pages"]
        bar.set_postfix(pages=pages, refresh=False)
        bar.update(1)

    try:
        if workers <= 1:
            for task in tasks:
                done(task, _ingest_task(task, out, options))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(_ingest_task, t, out, options): t for t in tasks}
                for future in as_completed(futures):
                    done(futures[future], future.result())
    finally:
        bar.close()
    return [results[t.rel] for t in tasks]


def shard_stem(num_shards: int, shard_index: int) -> str:
    return f"shards/{shard_index:03d}-of-{num_shards:03d}."


def ingest(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    root: str | Path | None = None,
    workers: int = 1,
    num_shards: int = 1,
    shard_index: int = 0,
    output_format: str = "keep",
    dpi: float = 150.0,
    max_pixels: int = MAX_PAGE_PIXELS,
    max_entry_bytes: int = 256 << 20,
    pdf_mode: str = "auto",
    entry_timeout: float = 60.0,
    near_duplicate_distance: int = 4,
    show_progress: bool = True,
) -> Manifest:
    """Ingest ``sources`` (files and folders; ``~`` and ``$VAR`` are expanded) into ``out``;
    returns the manifest (of this shard when sharded; its pages are read from the file on first
    use). No comic under ``sources`` is an error. Memory does not grow with the pages but for
    the duplicate index (~150 bytes a page): results keep no rows, the manifest is written from
    the containers' records one at a time.

    With ``num_shards`` > 1 this writes ``out/shards/III-of-KKK.manifest.parquet``; run
    :func:`merge_shards` once every shard has finished to get ``out/manifest.parquet``.
    """
    if isinstance(sources, (str, os.PathLike)):  # one folder or file
        sources = [sources]
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in [0, {num_shards})")
    if pdf_mode not in ("auto", "render"):
        raise ValueError(f"unknown pdf mode {pdf_mode!r}; expected auto or render")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"unknown image format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}"
        )
    out = expand_path(out)
    found = discover(sources, root, exclude=out)
    if not found:
        raise ValueError(
            f"no comics found in {', '.join(str(expand_path(s)) for s in sources)}: expected comic files "
            f"({', '.join(sorted(CONTAINERS))}) or folders of page images"
        )
    out.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in found if shard_of(t.rel, num_shards) == shard_index]
    if any(not t.folder and container_class(Path(t.path)) is CbrBook for t in tasks) and rar_tool() is None:
        log.warning("CBR/RAR files found but no extraction tool: %s", INSTALL_HINT)
    log.info("shard %d/%d: %d containers", shard_index, num_shards, len(tasks))
    if not entry_timeout > 0:
        raise ValueError(f"entry timeout must be positive seconds, got {entry_timeout}")
    options = Options(output_format, dpi, max_pixels, max_entry_bytes, pdf_mode, entry_timeout)
    results = _run(tasks, out, options, workers, show_progress)
    stem = shard_stem(num_shards, shard_index) if num_shards > 1 else ""
    with ManifestWriter(out, stem, near_duplicate_distance) as writer:
        for task, result in zip(tasks, results, strict=True):
            writer.add(_rows_of(task, result, out, options))
        manifest = writer.finish(e for r in results for e in r["errors"])
    if num_shards == 1:  # sharded runs get theirs from merge_shards
        write_books_table(out)
    return manifest
