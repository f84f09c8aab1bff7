"""CB7 / 7z via py7zr (LGPL, pure Python)."""

from __future__ import annotations

from pathlib import Path

import py7zr
import py7zr.exceptions
from py7zr.io import BytesIOFactory, Py7zBytesIO

from .base import ArchiveBook, ContainerError, EntryClock, Limits, RawPage
from .entries import Entry


class _TimedBytesIO(Py7zBytesIO):
    """py7zr's in-memory member, checking the per-entry time cap as data arrives."""

    def __init__(self, filename: str, limit: int, clock: EntryClock):
        super().__init__(filename, limit)
        self.clock = clock

    def write(self, s) -> int:
        self.clock.check()
        return super().write(s)


class _CappedFactory(BytesIOFactory):
    """py7zr's in-memory writer with a byte cap per member and the time cap per entry."""

    def __init__(self, limits: dict[str, int], clock: EntryClock):
        super().__init__(max(limits.values(), default=1))
        self.limits, self.clock = limits, clock

    def create(self, filename: str):
        self.clock.begin(filename)  # members are decoded one after another
        product = self.products[filename] = _TimedBytesIO(filename, self.limits.get(filename, 1), self.clock)
        return product


def _batches(entries: list[Entry], budget: int) -> list[list[Entry]]:
    batches: list[list[Entry]] = []
    used = 0
    for entry in entries:
        if not batches or used + entry.size > budget:
            batches.append([])
            used = 0
        batches[-1].append(entry)
        used += entry.size
    return batches


class Cb7Book(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cb7")
        try:
            self.archive = py7zr.SevenZipFile(self.path)
        except py7zr.exceptions.PasswordRequired:
            raise ContainerError("encrypted", "7z archive with encrypted headers needs a password") from None
        except (py7zr.exceptions.Bad7zFile, py7zr.exceptions.ArchiveError, OSError, EOFError) as exc:
            raise ContainerError("unreadable", f"not a readable 7z archive: {exc}") from None
        if self.archive.needs_password():
            raise ContainerError("encrypted", "7z archive is encrypted")
        self.infos = {info.filename: info for info in self.archive.list()}

    def list_entries(self) -> list[Entry]:
        entries = []
        for info in self.infos.values():
            kind = (
                "dir" if info.is_directory else ("symlink" if getattr(info, "is_symlink", False) else "file")
            )
            entries.append(Entry(info.filename, int(info.uncompressed or 0), kind))
        return entries

    def _cap(self, name: str) -> int:
        declared = int(self.infos[name].uncompressed or 0) or self.limits.max_entry_bytes
        return min(declared, self.limits.max_entry_bytes)

    def _read_many(self, names: list[str]) -> dict[str, bytes]:
        # 7z archives are usually solid: one pass over all wanted members beats one pass each.
        # Each member is held to its declared size (+1, so a lying header shows as too large).
        factory = _CappedFactory({n: self._cap(n) + 1 for n in names}, self.clock)
        self.archive.reset()
        self.archive.extract(targets=names, factory=factory)
        out = {}
        for name in names:
            product = factory.products.get(name)
            if product is not None:
                product.seek(0)
                out[name] = product.read()
        return out

    def read_entry(self, entry: Entry) -> bytes:
        held = getattr(self, "_held", {}).pop(entry.name, None)  # read ahead for an ACBF book
        if held is not None:
            return held
        data = self._read_many([entry.name])
        if entry.name not in data:
            raise ContainerError("unreadable", f"7z member {entry.name!r} could not be read")
        return data[entry.name]

    def pages(self):
        plan = self.plan()
        if plan.acbf is not None:  # the ACBF orders the pages (as in a CBZ); one pass reads them
            from .acbf import archive_pages  # lazy: ingest.acbf imports base, as base does

            wanted = [plan.acbf, *(e for e in plan.pages if e.size <= self.limits.max_entry_bytes)]
            if sum(e.size for e in wanted) <= self.limits.max_batch_bytes:
                self._held = {n: d for n, d in self._read_many([e.name for e in wanted]).items() if d}
            yield from archive_pages(self, plan.acbf, plan.pages)
            return
        wanted = [e for e in plan.pages if e.size <= self.limits.max_entry_bytes]
        batches = iter(_batches(wanted, self.limits.max_batch_bytes))  # bounded memory per pass
        data: dict[str, bytes] = {}
        current: set[str] = set()
        for entry in plan.pages:
            if entry.size > self.limits.max_entry_bytes:
                yield self.read_page(entry)  # refused by its declared size, nothing decoded
                continue
            if entry.name not in current:  # the next batch starts here (batches follow reading order)
                batch = [e.name for e in next(batches)]
                current = set(batch)
                try:
                    data = self._read_many(batch)
                except ContainerError:
                    raise
                except Exception as exc:
                    raise ContainerError("unreadable", f"7z data could not be decoded: {exc}") from None
            if entry.name not in data:
                yield self.read_page(entry)
            elif len(data[entry.name]) > self._cap(entry.name):
                yield RawPage(
                    entry.name, error_kind="too_large", error="entry inflates past its declared size"
                )
            else:
                yield RawPage(entry.name, data=data.pop(entry.name))

    def close(self) -> None:
        self.archive.close()
