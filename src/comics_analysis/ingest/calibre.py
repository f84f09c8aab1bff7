"""calibre libraries: a book folder (``metadata.opf`` + ``cover.jpg`` + one file per format) is
one book.

- ``cover.jpg`` is calibre's copy of the cover, not a book (it used to become a one-page book
  whose page was then flagged as the real cover's duplicate);
- of the formats of one book (``Issue 3.cbz`` and ``Issue 3.pdf``) one is ingested, by
  :data:`FORMAT_PREFERENCE` (image archives keep the original page images; PDF and EPUB may be
  re-rendered); the others are reported as ``duplicate_format`` naming the chosen one;
- ``metadata.opf`` (OPF 2, read with defusedxml) gives title, series, series index, authors,
  publisher, date, tags and languages; they win over the ComicInfo inside the file (calibre is
  where the user curates), and ComicInfo fills what the OPF lacks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OPF_FILE = "metadata.opf"
FORMAT_PREFERENCE = (".cbz", ".zip", ".cbr", ".rar", ".cb7", ".7z", ".cbt", ".tar", ".epub", ".pdf")
_DC = "{http://purl.org/dc/elements/1.1/}"


def is_calibre_book(folder: Path) -> bool:
    return (folder / OPF_FILE).is_file()


def preference(path: Path) -> int:
    name = path.name.lower()
    for rank, ext in enumerate(FORMAT_PREFERENCE):
        if name.endswith(ext):
            return rank
    return len(FORMAT_PREFERENCE)


def read_opf(path: Path) -> dict[str, Any]:
    """calibre's metadata of one book; {} (with a warning naming the file) when unreadable."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(path.read_bytes())
    except Exception as exc:
        log.warning("%s: not read (%s: %s)", path, type(exc).__name__, exc)
        return {}
    metadata = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "metadata"), None)
    if metadata is None:
        return {}

    def texts(name: str) -> list[str]:
        return [el.text.strip() for el in metadata.iter(f"{_DC}{name}") if el.text and el.text.strip()]

    metas = {}
    for el in metadata.iter():
        if el.tag.rsplit("}", 1)[-1] == "meta" and el.get("name") and el.get("content") is not None:
            metas[el.get("name")] = el.get("content")
    out: dict[str, Any] = {
        "title": next(iter(texts("title")), None),
        "authors": texts("creator"),
        "publisher": next(iter(texts("publisher")), None),
        "tags": texts("subject"),
        "languages": texts("language"),
        "date": next(iter(texts("date")), None),
        "series": metas.get("calibre:series"),
        "series_index": metas.get("calibre:series_index"),
    }
    return {k: v for k, v in out.items() if v not in (None, [], "")}


def book_metadata(opf: dict[str, Any]) -> dict[str, Any]:
    """The manifest's book fields from calibre's metadata (missing ones absent)."""
    out: dict[str, Any] = {}
    if opf.get("title"):
        out["title"] = opf["title"]
    if opf.get("series"):
        out["series"] = opf["series"]
    index = opf.get("series_index")
    if index not in (None, ""):
        try:
            number = float(index)
            out["number"] = str(int(number)) if number.is_integer() else str(number)
        except ValueError:
            out["number"] = str(index)
    if opf.get("publisher"):
        out["publisher"] = opf["publisher"]
    date = str(opf.get("date") or "")
    if len(date) >= 4 and date[:4].isdigit() and 1 <= int(date[:4]) <= 9999 and not date.startswith("0101"):
        out["year"] = int(date[:4])
    return out
