"""CBT / TAR, plain or compressed (gzip, bzip2, xz).

A compressed tar has no index: listing it reads the whole stream, and reading members out of
stream order re-reads it from the start each time (a reverse-ordered .tar.gz costed 10x). So the
stream is inflated through a counter that refuses it past ``stream_budget``, and the pages of a
book that fits in ``max_batch_bytes`` are read in one pass in stream order, then yielded in
reading order. Skipping a member's data is a forward seek, which Python's decompressors run to
the end in one call: a seek past the budget is refused before any of it is inflated (a 65 KB
.tar.bz2 declaring 36 GB is refused at once, not after minutes of CPU), and shorter seeks are
inflated chunk by chunk under the per-entry time cap (``EntryClock``).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
from collections.abc import Iterator
from pathlib import Path

from .base import ArchiveBook, ContainerError, EntryClock, Limits, RawPage, stream_budget
from .entries import Entry

_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


class _Budgeted:
    """A read-only file over a decompressing stream that refuses to inflate past ``budget``."""

    def __init__(self, stream, budget: int, clock: EntryClock):
        self.stream, self.budget, self.clock = stream, budget, clock

    def _refuse(self, position: int) -> None:
        if position > self.budget:
            raise ContainerError("zip_bomb", f"compressed tar inflates past {self.budget} bytes")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.budget + 1 - self.stream.tell()
        parts = []
        while size > 0:  # in chunks, so that the time cap is checked while inflating
            part = self.stream.read(min(size, EntryClock.CHUNK))
            if not part:
                break
            parts.append(part)
            size -= len(part)
            self._refuse(self.stream.tell())
            self.clock.check()
        return b"".join(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        here = self.stream.tell()
        target = {0: offset, 1: here + offset}.get(whence)
        if target is None:  # from the end: the whole stream must be inflated anyway
            position = self.stream.seek(offset, whence)
            self._refuse(position)
            return position
        self._refuse(target)  # before inflating anything
        if target < here:
            self.stream.seek(0)  # a rewind: inflated again from the start, below
            here = 0
        while here < target:
            step = self.stream.seek(min(target - here, EntryClock.CHUNK), 1)
            if step == here:  # the end of the stream
                break
            here = step
            self.clock.check()
        return here

    def tell(self) -> int:
        return self.stream.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.stream.close()


def _open_stream(path: Path, limits: Limits, clock: EntryClock):
    with open(path, "rb") as handle:
        head = handle.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return _Budgeted(opener(path, "rb"), stream_budget(path, limits), clock)
    return None


class CbtBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cbt")
        self.stream = None
        try:
            self.stream = _open_stream(self.path, self.limits, self.clock)
            if self.stream is None:
                self.archive = tarfile.open(self.path, "r:")  # noqa: SIM115 - closed by close()
            else:
                self.archive = tarfile.open(fileobj=self.stream, mode="r:")  # noqa: SIM115
            self.members: dict[str, tarfile.TarInfo] = {}
            # listing a compressed tar inflates every member: each one's data is skipped under
            # the time cap, named after it (the next member's header is read past it)
            for member in self.archive:  # a name stored twice keeps both members
                self.clock.begin(member.name)
                key, n = member.name, 1
                while key in self.members:
                    n += 1
                    key = f"{member.name}#{n}"
                self.members[key] = member
            self.clock.begin(None)
        except ContainerError:
            self.close()
            raise
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError) as exc:
            self.close()
            raise ContainerError("unreadable", f"not a readable tar archive: {exc}") from None

    def list_entries(self) -> list[Entry]:
        entries = []
        for key, member in self.members.items():
            if member.isdir():
                kind = "dir"
            elif member.issym() or member.islnk():
                kind = "symlink"
            elif member.isfile():
                kind = "file"
            else:
                kind = "other"
            entries.append(Entry(member.name, member.size, kind, key=None if key == member.name else key))
        return entries

    def read_entry(self, entry: Entry) -> bytes:
        handle = self.archive.extractfile(self.members[entry.handle])
        if handle is None:
            raise ContainerError("unreadable", f"tar member {entry.name!r} has no data")
        with handle:
            return self.clock.read(handle, self.limits.max_entry_bytes + 1)

    def pages(self) -> Iterator[RawPage]:
        plan = self.plan()
        if plan.acbf is not None:  # the ACBF orders the pages, as in a CBZ
            from .acbf import archive_pages  # lazy: ingest.acbf imports base, as base does

            yield from archive_pages(self, plan.acbf, plan.pages)
            return
        wanted = sum(min(e.size, self.limits.max_entry_bytes) for e in plan.pages)
        if self.stream is None or wanted > self.limits.max_batch_bytes:
            # a plain tar seeks for free; a compressed book too large to hold is read page by page
            for entry in plan.pages:
                yield self.read_page(entry)
            return
        by_offset = sorted(plan.pages, key=lambda e: self.members[e.handle].offset_data)
        ready = {e.handle: self.read_page(e) for e in by_offset}  # one forward pass
        for entry in plan.pages:
            yield ready.pop(entry.handle)

    def close(self) -> None:
        archive = getattr(self, "archive", None)
        if archive is not None:
            archive.close()
        if self.stream is not None:
            self.stream.close()
