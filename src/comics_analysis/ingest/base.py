"""What every container reader provides: ordered raw pages, book metadata and recorded skips.

Readers never extract to disk: entries are read into memory (bounded by ``Limits``), and
output file names are made by the pipeline, never taken from the archive. That is what keeps
``..``, absolute paths and symlinks inside an archive from writing anywhere.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .entries import Entry, PagePlan, Skipped, parse_comic_info, plan_pages

# One page image's pixel cap, the same in ingest and annotate: Pillow's own decompression-bomb
# limit (about 9,460 px square; a 600-dpi scan of a tabloid page is 67 M px).
MAX_PAGE_PIXELS = Image.MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class Limits:
    max_entry_bytes: int = 256 << 20  # one page image
    max_total_bytes: int = 16 << 30  # declared uncompressed size of one container
    max_ratio: float = 500.0  # uncompressed / compressed of one entry or container (bomb guard)
    min_bomb_bytes: int = 64 << 20  # below this much uncompressed data, no ratio is a bomb
    max_batch_bytes: int = 1 << 30  # pages decoded together from a solid or compressed stream
    max_pixels: int = MAX_PAGE_PIXELS  # decompression bomb guard for one image
    entry_seconds: float = 60.0  # wall-clock cap on decoding one entry (``time_cap``, final)
    dpi: float = 150.0  # PDF rendering resolution
    pdf_mode: str = "auto"  # auto: a page that is one image yields that image; render: always rasterise


# Failure kinds that may pass on a re-run (a tool installed, space freed, a disk back): never
# cached, retried by the next run, and the run exits non-zero while any remain. Every other kind
# (corrupt, encrypted, refused by a limit) is a final outcome of the container's bytes.
TRANSIENT_KINDS = frozenset({"missing_tool", "no_space", "io_error", "timeout"})


class ContainerError(Exception):
    """The whole container cannot be read (kind: encrypted, empty, unreadable, missing_tool, zip_bomb)."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class EntryClock:
    """The wall-clock cap on decoding one entry, checked between chunks of decoded data.

    ``begin(name)`` starts an entry's time; ``check()`` raises a final ``time_cap`` error naming
    it once the entry took longer than ``seconds``. The cap is an outcome of the bytes and the
    option (part of the cache key), so it is not retried; readers decode in chunks of at most
    ``CHUNK`` bytes so that a check comes soon after the cap has passed.
    """

    CHUNK = 1 << 20

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.entry: str | None = None
        self.started = 0.0

    def begin(self, entry: str | None) -> None:
        self.entry, self.started = entry, time.monotonic()

    def expired(self) -> bool:
        return self.entry is not None and time.monotonic() - self.started > self.seconds

    def check(self, doing: str = "decoding") -> None:
        if self.expired():
            cap = f"the cap of {self.seconds:g} s per entry"
            raise ContainerError("time_cap", f"{doing} {self.entry!r} took longer than {cap}")

    def read(self, handle, limit: int) -> bytes:
        """Up to ``limit`` bytes of ``handle`` in chunks, checking the cap between them."""
        parts, got = [], 0
        while got < limit:
            part = handle.read(min(self.CHUNK, limit - got))
            if not part:
                break
            parts.append(part)
            got += len(part)
            self.check()
        return b"".join(parts)


@dataclass
class RawPage:
    entry: str  # entry name in the container (PDF: "page N", 1-based)
    data: bytes | None = None  # encoded image bytes
    image: Image.Image | None = None  # a rendered page (PDF)
    error_kind: str | None = None
    error: str | None = None


def stream_budget(path: Path, limits: Limits) -> int:
    """Bytes a compressed stream of the container at ``path`` may inflate to before it is a bomb."""
    on_disk = path.stat().st_size
    return min(limits.max_total_bytes, max(limits.min_bomb_bytes, int(limits.max_ratio * on_disk)))


@dataclass
class Book(ABC):
    path: Path
    limits: Limits = field(default_factory=Limits)
    format: str = "unknown"
    metadata: dict[str, object] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    clock: EntryClock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = EntryClock(self.limits.entry_seconds)

    @abstractmethod
    def pages(self) -> Iterator[RawPage]:
        """Raw pages in reading order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ArchiveBook(Book):
    """A container whose pages are image entries: list, filter, natural sort, read each."""

    @abstractmethod
    def list_entries(self) -> list[Entry]: ...

    @abstractmethod
    def read_entry(self, entry: Entry) -> bytes:
        """Bytes of one entry; at most ``limits.max_entry_bytes + 1`` of them."""

    def compression_ratio(self, entry: Entry) -> float | None:
        return None

    def plan(self) -> PagePlan:
        entries = self.list_entries()
        total = sum(e.size for e in entries if e.kind == "file")
        if total > self.limits.max_total_bytes:
            raise ContainerError("zip_bomb", f"declared uncompressed size {total} bytes exceeds the limit")
        on_disk = self.path.stat().st_size if self.path.is_file() else 0
        if on_disk and total > self.limits.min_bomb_bytes and total > self.limits.max_ratio * on_disk:
            raise ContainerError(
                "zip_bomb",
                f"declares {total} uncompressed bytes from {on_disk} on disk ({total / on_disk:.0f}:1)",
            )
        plan = plan_pages(entries)
        self.skipped.extend(plan.skipped)
        if plan.comic_info is not None and plan.comic_info.size < (1 << 20):
            self.clock.begin(plan.comic_info.name)
            self.metadata = parse_comic_info(
                self.read_entry(plan.comic_info), source=f"{self.path.name}: {plan.comic_info.name}"
            )
        if not plan.pages and plan.acbf is None:  # an ACBF may embed every image
            encrypted = [s for s in plan.skipped if s.kind == "encrypted_entry"]
            if encrypted:
                raise ContainerError("encrypted", f"all {len(encrypted)} page entries are encrypted")
            raise ContainerError("empty", "no page images in the container")
        return plan

    def pages(self) -> Iterator[RawPage]:
        plan = self.plan()
        if plan.acbf is not None:  # the ACBF orders the pages and may embed some
            from .acbf import archive_pages  # lazy: ingest.acbf imports this module

            yield from archive_pages(self, plan.acbf, plan.pages)
            return
        for entry in plan.pages:
            yield self.read_page(entry)

    def read_page(self, entry: Entry) -> RawPage:
        limit = self.limits.max_entry_bytes
        if entry.size > limit:
            return RawPage(
                entry.name, error_kind="too_large", error=f"entry is {entry.size} bytes (limit {limit})"
            )
        ratio = self.compression_ratio(entry)
        if ratio is not None and ratio > self.limits.max_ratio and entry.size > (8 << 20):
            return RawPage(entry.name, error_kind="zip_bomb", error=f"compression ratio {ratio:.0f}:1")
        self.clock.begin(entry.name)
        try:
            data = self.read_entry(entry)
        except ContainerError as exc:
            if exc.kind != "time_cap":
                raise
            return RawPage(entry.name, error_kind=exc.kind, error=exc.reason)
        except Exception as exc:
            return RawPage(entry.name, error_kind="unreadable_entry", error=f"{type(exc).__name__}: {exc}")
        if len(data) > limit:
            return RawPage(entry.name, error_kind="too_large", error=f"entry inflates past {limit} bytes")
        return RawPage(entry.name, data=data)
