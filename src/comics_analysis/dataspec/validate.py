"""Check DataSpec files: every page of every file read and validated, file by file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .io import image_escapes, read_pages
from .records import DataSpecError, Page
from .stats import page_summary_text


@dataclass
class FileCheck:
    """One file (or folder) checked: its pages, or why it could not be read."""

    path: Path
    pages: list[Page] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        """``ok PATH: N pages (M with clamped boxes)`` or ``INVALID <reason>``."""
        if not self.ok:
            return f"INVALID {self.error}"
        clamped = sum(any(f.startswith("clamped:") for f in p.quality.flags) for p in self.pages)
        return f"ok {self.path}: {len(self.pages)} pages ({clamped} with clamped boxes)"


@dataclass
class Validation:
    """The checks of :func:`validate_files`, in the order of the paths."""

    files: list[FileCheck]

    @property
    def failed(self) -> int:
        return sum(not f.ok for f in self.files)

    @property
    def pages(self) -> list[Page]:
        return [p for f in self.files for p in f.pages]

    def summary_text(self) -> str:
        """Counts per page type over the valid pages (:func:`page_summary_text`)."""
        return page_summary_text(self.pages)


def validate_files(paths: Iterable[str | Path]) -> Validation:
    """Read and validate each of ``paths`` (.json / .jsonl files or folders of them); a file that
    fails is recorded with its error, and the others are still checked."""
    checks = []
    for path in paths:
        try:
            pages = read_pages(path)
            for page in pages:
                if page.image is not None and image_escapes(page.image):
                    raise DataSpecError(
                        f"image path {page.image!r} is absolute or leads outside its images root",
                        file=str(path),
                        page_id=page.page_id,
                        field="image",
                    )
            checks.append(FileCheck(Path(path), pages))
        except (DataSpecError, OSError) as exc:
            checks.append(FileCheck(Path(path), error=str(exc)))
    return Validation(checks)
