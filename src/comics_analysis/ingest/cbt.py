"""CBT / TAR, plain or compressed (gzip, bzip2, xz).

A compressed tar has no index: listing it reads the whole stream, and reading members out of
stream order re-reads it from the start each time (a reverse-ordered .tar.gz costed 10x). So the
stream is inflated through a counter that refuses it past ``stream_budget`` (a 65 KB .tar.bz2
bomb is refused after 64 MB, not after a minute of CPU), and the pages of a book that fits in
``max_batch_bytes`` are read in one pass in stream order, then yielded in reading order.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
from collections.abc import Iterator
from pathlib import Path

from .base import ArchiveBook, ContainerError, Limits, RawPage, stream_budget
from .entries import Entry

_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


class _Budgeted:
    """A read-only file over a decompressing stream that refuses to inflate past ``budget``."""

    def __init__(self, stream, budget: int, name: str):
        self.stream, self.budget, self.name = stream, budget, name

    def _check(self) -> None:
        if self.stream.tell() > self.budget:
            raise ContainerError("zip_bomb", f"compressed tar inflates past {self.budget} bytes")

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size is not None and size >= 0 else self.budget + 1)
        self._check()
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self.stream.seek(offset, whence)
        self._check()
        return position

    def tell(self) -> int:
        return self.stream.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.stream.close()


def _open_stream(path: Path, limits: Limits):
    with open(path, "rb") as handle:
        head = handle.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return _Budgeted(opener(path, "rb"), stream_budget(path, limits), path.name)
    return None


class CbtBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cbt")
        self.stream = None
        try:
            self.stream = _open_stream(self.path, self.limits)
            if self.stream is None:
                self.archive = tarfile.open(self.path, "r:")  # noqa: SIM115 - closed by close()
            else:
                self.archive = tarfile.open(fileobj=self.stream, mode="r:")  # noqa: SIM115
            self.members: dict[str, tarfile.TarInfo] = {}
            for member in self.archive.getmembers():  # a name stored twice keeps both members
                key, n = member.name, 1
                while key in self.members:
                    n += 1
                    key = f"{member.name}#{n}"
                self.members[key] = member
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
            return handle.read(self.limits.max_entry_bytes + 1)

    def pages(self) -> Iterator[RawPage]:
        plan = self.plan()
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
