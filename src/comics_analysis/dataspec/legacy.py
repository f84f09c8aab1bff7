"""Converters from earlier formats into DataSpec v1 pages.

- DataSpec v0.3 of the earlier research code: ``{page_image_path, panels: [{panel_coords:
  [x, y, w, h], text: {dialogue, narration, sfx}, order_index?}]}``, one file per page.
- OpenMantra ``annotation.json``: books of pages with ``frame`` (panels) and ``text`` boxes in
  reading order (right to left). Its README calls the text boxes speech bubbles, so their kind
  is ``dialogue``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from PIL import Image

from .geometry import assign_panel
from .ids import make_book_id, make_page_id, sha256_bytes
from .io import resolve_image
from .records import DataSpecError, Page, Panel, PanelText, Provenance, Quality, TextBox


def _image_size(path: Path, *, page_id: str, field: str) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise DataSpecError(f"image not found: {path}", page_id=page_id, field=field) from None
    except OSError as exc:
        raise DataSpecError(f"cannot read image {path}: {exc}", page_id=page_id, field=field) from None


def _relative_image_path(raw: str, image_root: Path | None, page_id: str) -> str:
    windows = PureWindowsPath(raw)
    posix = PurePosixPath(raw.replace("\\", "/"))
    if not (posix.is_absolute() or windows.drive):
        return posix.as_posix()
    if image_root is not None:
        try:
            return Path(raw).resolve().relative_to(image_root.resolve()).as_posix()
        except ValueError:
            pass
    raise DataSpecError(
        f"absolute path {raw!r} is not under image_root; pass image_root= the folder it is relative to",
        page_id=page_id,
        field="page_image_path",
    )


def page_from_legacy_v03(
    record: dict[str, Any],
    *,
    book_id: str,
    page_index: int,
    image_root: str | Path | None = None,
    size: tuple[int, int] | None = None,
    panel_source: str = "detector",
) -> Page:
    """Convert one v0.3 record. The page size comes from ``size`` or from the image file."""
    page_id = make_page_id(book_id, page_index)
    root = Path(image_root) if image_root is not None else None
    raw_path = record.get("page_image_path")
    if not isinstance(raw_path, str) or not raw_path:
        raise DataSpecError("required field is missing", page_id=page_id, field="page_image_path")
    image = _relative_image_path(raw_path, root, page_id)
    if size is None:
        if root is None:
            raise DataSpecError(
                "v0.3 records carry no page size: pass size=(w, h) or image_root",
                page_id=page_id,
                field="size",
            )
        size = _image_size(resolve_image(root, image, page_id), page_id=page_id, field="page_image_path")
    raw_panels = record.get("panels")
    if not isinstance(raw_panels, list):
        raise DataSpecError("required list is missing", page_id=page_id, field="panels")

    def sort_key(item: tuple[int, dict[str, Any]]) -> tuple[int, int]:
        i, panel = item
        order = panel.get("order_index")
        return (order if isinstance(order, int) else i, i)

    panels = []
    for new_index, (i, raw) in enumerate(sorted(enumerate(raw_panels), key=sort_key)):
        coords = raw.get("panel_coords") if isinstance(raw, dict) else None
        if not (isinstance(coords, (list, tuple)) and len(coords) == 4):
            raise DataSpecError("expected [x, y, w, h]", page_id=page_id, field=f"panels[{i}].panel_coords")
        text = raw.get("text") or {}
        panels.append(
            {
                "bbox": [float(v) for v in coords],
                "source": panel_source,
                "order": new_index,
                "text": {
                    k: [str(s) for s in text.get(k, []) if str(s).strip()] for k in PanelText.model_fields
                },
            }
        )
    return Page(
        page_id=page_id,
        book_id=book_id,
        page_index=page_index,
        image=image,
        width=size[0],
        height=size[1],
        panels=panels,
        quality=Quality(flags=["legacy:v0.3"]),
        provenance=Provenance(source_path=image),
    )


def load_legacy_v03(path: str | Path, **kwargs: Any) -> Page:
    """Read one v0.3 JSON file; errors name the file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return page_from_legacy_v03(record, **kwargs)
    except json.JSONDecodeError as exc:
        raise DataSpecError(f"invalid JSON: {exc}", file=str(path)) from None
    except DataSpecError as exc:
        raise exc.located(str(path)) from None


def pages_from_openmantra(
    annotation: str | Path,
    *,
    lang: str = "ja",
    image_lang: str | None = None,
    image_root: str | Path | None = None,
) -> list[Page]:
    """All pages of an OpenMantra ``annotation.json``. Image paths stay relative to its folder.

    ``lang`` picks the text (ja, en, zh); ``image_lang`` the page images (default: ``lang``).
    Only the Japanese images are lettered in the language of the original.

    Page sizes are read from the images (the annotation has none). The book id is the title's
    slug plus the hash of that book's annotation (there is no container file to hash).
    """
    annotation = Path(annotation)
    root = Path(image_root) if image_root is not None else annotation.parent
    try:
        books = json.loads(annotation.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataSpecError(f"cannot read OpenMantra annotation: {exc}", file=str(annotation)) from None
    pages: list[Page] = []
    for b, book in enumerate(books):
        title = book.get("book_title")
        if not isinstance(title, str):
            raise DataSpecError("required field is missing", field=f"[{b}].book_title", file=str(annotation))
        canonical = json.dumps(book, sort_keys=True, ensure_ascii=False).encode("utf-8")
        book_id = make_book_id(title, sha256_bytes(canonical))
        for index, raw in enumerate(book.get("pages", [])):
            page_id = make_page_id(book_id, index)
            try:
                image = raw["image_paths"][image_lang or lang]
            except (KeyError, TypeError):
                raise DataSpecError(
                    f"no image for language {image_lang or lang!r}",
                    page_id=page_id,
                    field="image_paths",
                    file=str(annotation),
                ) from None
            width, height = _image_size(
                resolve_image(root, image, page_id), page_id=page_id, field="image_paths"
            )
            panels = [
                Panel(bbox=(f["x"], f["y"], f["w"], f["h"]), source="gt", score=1.0, order=i)
                for i, f in enumerate(raw.get("frame", []))
            ]
            texts = []
            for t in raw.get("text", []):
                box = (float(t["x"]), float(t["y"]), float(t["w"]), float(t["h"]))
                content = t.get(f"text_{lang}") or ""
                texts.append(
                    TextBox(
                        bbox=box,
                        text=content,
                        kind="dialogue",
                        panel=assign_panel(box, [p.bbox for p in panels]),
                        source="gt",
                    )
                )
            for text in texts:
                if text.panel >= 0 and text.text:
                    panels[text.panel].text.dialogue.append(text.text)
            try:
                pages.append(
                    Page(
                        page_id=page_id,
                        book_id=book_id,
                        page_index=index,
                        image=image,
                        width=width,
                        height=height,
                        reading_direction="rtl",
                        panels=panels,
                        texts=texts,
                        provenance=Provenance(
                            source_path=str(PurePosixPath(image).parent), source_entry=image
                        ),
                    )
                )
            except DataSpecError as exc:
                raise exc.located(str(annotation)) from None
    return pages
