"""Reading and writing DataSpec pages: one JSON object per page, JSON Lines for many.

Writes go to a temporary file in the target folder and are renamed into place, so a crash or
a bad record never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .records import DataSpecError, Page


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", owner: bool = False):
    """Open a temp file beside ``path``; rename it over ``path`` only if the block succeeds.

    ``owner``: the temp name carries this process's id (``.NAME.pidN.XXXX.tmp``), so that
    :func:`remove_orphans` can tell a killed writer's leftovers from another's file in flight."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.pid{os.getpid()}." if owner else f".{path.name}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_OWNED_TMP = re.compile(r"^\..+\.pid(\d+)\.[^.]+\.tmp$")


def remove_orphans(folder: str | Path) -> int:
    """Remove the temp files under ``folder`` written with ``atomic_write(owner=True)`` by
    processes that no longer run on this machine; returns how many."""
    removed = 0
    for tmp in Path(folder).rglob(".*.tmp"):
        match = _OWNED_TMP.match(tmp.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
            removed += 1
        except PermissionError:
            pass  # alive, another user's
    return removed


def image_escapes(image: str) -> bool:
    """Whether a record's image path is absolute or climbs out of the folder it is relative to."""
    normal = posixpath.normpath(image.replace("\\", "/"))
    return Path(image).is_absolute() or normal == ".." or normal.startswith("../")


def resolve_image(root: str | Path, image: str, page_id: str | None = None) -> Path:
    """``root / image``, refused (naming the page and field) unless it stays inside ``root``:
    paths come from data (third-party DataSpec, legacy files, manifests), never trusted to
    name a file elsewhere on the machine. Symlinks are followed before the check."""
    base = Path(root).resolve()
    path = (base / image).resolve()
    if image_escapes(image) or not path.is_relative_to(base):
        raise DataSpecError(
            f"image path {image!r} leads outside the images root {base}; refused",
            page_id=page_id,
            field="image",
        )
    return path


def write_json(page: Page, path: str | Path) -> None:
    with atomic_write(path) as handle:
        handle.write(page.to_json(indent=2))
        handle.write("\n")


def read_json(path: str | Path) -> Page:
    path = Path(path)
    try:
        return Page.from_json(path.read_text(encoding="utf-8"))
    except DataSpecError as exc:
        raise exc.located(str(path)) from None


def write_jsonl(pages: Iterable[Page], path: str | Path) -> int:
    """Write pages as JSON Lines; returns the count. Nothing is replaced if any page fails."""
    count = 0
    with atomic_write(path) as handle:
        for page in pages:
            if not isinstance(page, Page):
                raise DataSpecError(f"record {count} is a {type(page).__name__}, not a Page", file=str(path))
            handle.write(page.to_json())
            handle.write("\n")
            count += 1
    return count


def iter_jsonl(path: str | Path) -> Iterator[Page]:
    """Yield pages from a JSON Lines file; an invalid line raises naming the file and line."""
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield Page.from_json(line)
            except DataSpecError as exc:
                raise exc.located(str(path), number) from None


def read_jsonl(path: str | Path) -> list[Page]:
    return list(iter_jsonl(path))


def read_pages(path: str | Path) -> list[Page]:
    """Pages from a .json file, a .jsonl file, or a folder of them (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in {".json", ".jsonl"} and p.is_file())
        return [page for f in files for page in read_pages(f)]
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".json":
        return [read_json(path)]
    raise DataSpecError("expected a .json or .jsonl file or a folder of them", file=str(path))


def dumps_compact(page: Page) -> str:
    """Canonical one-line form (sorted keys) used for hashing and determinism checks."""
    return json.dumps(page.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_page_types(
    folder: str | Path, types: Mapping[str, tuple[str, bool]], source: str | None = None
) -> int:
    """Set ``page_type`` and ``story_start`` of the DataSpec records under ``folder`` whose page_id is
    in ``types`` (``{page_id: (page_type, story_start)}``), and ``provenance.page_type_source`` to
    ``source``; files without such a page are left untouched. Returns the number of records updated."""
    updated = 0
    files = sorted(f for f in Path(folder).rglob("*") if f.suffix in {".json", ".jsonl"} and f.is_file())
    for file in files:
        pages = read_pages(file)
        hit = False
        for page in pages:
            if page.page_id in types:
                page.page_type, page.story_start = types[page.page_id]
                page.provenance.page_type_source = source
                updated += 1
                hit = True
        if hit and file.suffix == ".jsonl":
            write_jsonl(pages, file)
        elif hit:
            write_json(pages[0], file)
    return updated
