"""Canonical page identity (DESIGN 3.1): every artifact joins on ``page_id`` and nothing else."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

_SLUG_MAX = 60
_PAGE_ID = re.compile(r"^(?P<book>[a-z0-9][a-z0-9-]*)/p(?P<index>\d{4,})$")
BOOK_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def slugify(text: str) -> str:
    """ASCII slug of a file stem: lowercase, runs of other characters become one '-'.

    Non-Latin stems (e.g. Japanese titles) may slug to nothing; they become "book" and the
    hash suffix of the book id keeps them unique.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:_SLUG_MAX].rstrip("-")
    return slug or "book"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def make_book_id(stem: str, sha256_hex: str) -> str:
    """``slug(stem)-<first 8 hex of the container's SHA-256>``."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", sha256_hex or ""):
        raise ValueError(f"book id needs a hex SHA-256 digest, got {sha256_hex!r}")
    return f"{slugify(stem)}-{sha256_hex[:8]}"


def book_id_for_file(path: str | Path) -> str:
    """Book id of a container file: its stem plus the hash of its bytes (rename-stable)."""
    path = Path(path)
    return make_book_id(path.stem, sha256_file(path))


def make_page_id(book_id: str, page_index: int) -> str:
    if page_index < 0:
        raise ValueError(f"page_index must be >= 0, got {page_index}")
    return f"{book_id}/p{page_index:04d}"


def parse_page_id(page_id: str) -> tuple[str, int]:
    """Inverse of :func:`make_page_id`; raises ValueError on anything else."""
    match = _PAGE_ID.match(page_id)
    if not match:
        raise ValueError(f"not a canonical page id: {page_id!r} (expected '<book_id>/pNNNN')")
    return match["book"], int(match["index"])
