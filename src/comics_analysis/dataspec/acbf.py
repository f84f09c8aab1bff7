"""ACBF (Advanced Comic Book Format, XML) books as DataSpec ground truth.

An ACBF book names its pages' images (``<coverpage><image href>`` first, then each
``<body><page><image href>``), their panels as ``<frame points="x,y x,y ...">`` polygons in reading
order, and the lettering as ``<text-layer lang=...><text-area points=... type=...><p>...</p>``.
:func:`pages_from_acbf` turns that into DataSpec pages:

- page order: the cover page (index 0) then the body pages in file order;
- image: the ``href`` relative to ``image_root`` (default: the ACBF file's folder); width and
  height come from the image file's header (the ACBF does not store them);
- panels: the bounding box of each frame polygon (the polygon kept as ``polygon``), in the ACBF
  order (the reading order);
- texts: one TextBox per text-area of the chosen language (default: the main language, the one
  lettered in the images, :func:`main_language`; the bounding box of its polygon, the
  polygon kept as ``polygon``; its
  paragraphs joined by a space; inline markup such as ``<emphasis>`` kept as plain text, the labels
  of ``<a>`` reference links dropped), kind from
  the area's type (:data:`KIND_OF_TYPE`; an area without a type is speech, the ACBF default), the
  panel that holds most of its area (:func:`~.geometry.assign_panel`, -1 when none holds half of it);
- book_id: the ACBF file's stem and SHA-256 (DESIGN 3.1: the ACBF file is the container).

The XML is parsed with ``defusedxml`` (no entity expansion, no external resources). Images embedded in
the ACBF (``href="#id"``) and images inside other archives are not read here: the error says so
(``ingest`` reads both: an ACBF book, or a CBZ with an ``.acbf`` inside, becomes pages, book
metadata and this ground truth, :mod:`comics_analysis.ingest.acbf`). :func:`acbf_page` builds
one page from its element and the image's size, for readers that have the image elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from defusedxml import ElementTree as SafeET
from PIL import Image

from .geometry import assign_panel
from .ids import book_id_for_file, make_page_id
from .io import resolve_image
from .records import DataSpecError, Page, Panel, Provenance, TextBox

log = logging.getLogger(__name__)

NAMESPACES = ("http://www.acbf.info/xml/acbf/1.1", "http://www.fictionbook-lib.org/xml/acbf/1.0")

# ACBF 1.1 text-area types (speech is the default), plus names other tools write.
KIND_OF_TYPE = {
    "speech": "dialogue",
    "thought": "dialogue",
    "formal": "dialogue",
    "code": "dialogue",  # a voice in a distinct (e.g. machine) lettering
    "audio": "sfx",
    "sound": "sfx",
    "sfx": "sfx",
    "commentary": "narration",
    "narration": "narration",
    "caption": "narration",
    "heading": "narration",
}


def text_kind(area_type: str | None) -> str:
    """DataSpec kind of an ACBF text-area type: dialogue, narration, sfx, or unknown (letter, sign, ...)."""
    return KIND_OF_TYPE.get((area_type or "speech").strip().lower(), "unknown")


def parse_polygon(points: str | None, where: str) -> list[tuple[float, float]]:
    """``"x,y x,y ..."`` -> ``[(x, y), ...]``; ``where`` names the element in errors."""
    if not points or not points.strip():
        raise ValueError(f"{where}: the points attribute is missing or empty")
    polygon = []
    for pair in points.split():
        try:
            x, y = (float(v) for v in pair.split(","))
        except ValueError:
            raise ValueError(f"{where}: point {pair!r} is not 'x,y' (points={points!r})") from None
        if x != x or y != y:
            raise ValueError(f"{where}: point {pair!r} is not a number")
        polygon.append((x, y))
    return polygon


def polygon_box(polygon: list[tuple[float, float]], where: str, points: str = "") -> tuple:
    """The bounding box [x, y, w, h] of a polygon (w, h >= 1, else an error naming ``where``)."""
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    if box[2] < 1 or box[3] < 1:
        raise ValueError(f"{where}: polygon {points or polygon!r} is narrower or lower than 1 pixel")
    return box


def parse_points(points: str | None, where: str) -> tuple[float, float, float, float]:
    """``"x,y x,y ..."`` -> the polygon's bounding box [x, y, w, h]; ``where`` names the element."""
    return polygon_box(parse_polygon(points, where), where, points or "")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element, name: str) -> list:
    return [child for child in element if isinstance(child.tag, str) and _local(child.tag) == name]


def _child(element, name: str):
    found = _children(element, name)
    return found[0] if found else None


def _lettering(element) -> str:
    """Text of an element and its inline markup, without the labels of ``<a>`` links (reference marks
    such as ``[*]`` that point to notes outside the page)."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and _local(child.tag) != "a":
            parts.append(_lettering(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _area_text(area) -> str:
    paragraphs = [" ".join(_lettering(p).split()) for p in _children(area, "p")]
    return " ".join(p for p in paragraphs if p)


def acbf_languages(root) -> list[str]:
    """Languages of the text layers, in order of first appearance (``<languages>``, then pages)."""
    langs: list[str] = []
    for element in root.iter():
        if isinstance(element.tag, str) and _local(element.tag) == "text-layer":
            lang = element.get("lang")
            if lang and lang not in langs:
                langs.append(lang)
    return langs


def main_language(root) -> str | None:
    """The language lettered in the page images: the ``<languages><text-layer show="false">``
    (ACBF marks the original layer, drawn in the images, as not to be shown), else the first
    language the file declares; None when it has no text layer."""
    for element in root.iter():
        if isinstance(element.tag, str) and _local(element.tag) == "languages":
            for layer in _children(element, "text-layer"):
                if layer.get("lang") and (layer.get("show") or "").strip().lower() in ("false", "0"):
                    return layer.get("lang")
    langs = acbf_languages(root)
    return langs[0] if langs else None


def _check_root(root, source: str):
    if _local(root.tag) != "ACBF":
        raise DataSpecError(f"root element is <{_local(root.tag)}>, expected <ACBF>", file=source)
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace not in NAMESPACES:
        raise DataSpecError(
            f"unknown ACBF namespace {namespace!r} (expected one of {', '.join(NAMESPACES)})", file=source
        )
    return root


def read_acbf(path: str | Path):
    """The parsed root element of an ACBF file (errors name the file)."""
    path = Path(path)
    try:
        root = SafeET.parse(str(path)).getroot()
    except OSError as exc:
        raise DataSpecError(f"cannot read ACBF file: {exc}", file=str(path)) from None
    except Exception as exc:  # ParseError and defusedxml's refusals (entities, DTDs)
        raise DataSpecError(f"not a well-formed, safe ACBF XML document: {exc}", file=str(path)) from None
    return _check_root(root, str(path))


def parse_acbf(data: bytes, source: str):
    """The root element of an ACBF document given as bytes (an ``.acbf`` inside an archive);
    the same safety and checks as :func:`read_acbf`, errors naming ``source``."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # ParseError and defusedxml's refusals (entities, DTDs)
        raise DataSpecError(f"not a well-formed, safe ACBF XML document: {exc}", file=source) from None
    return _check_root(root, source)


def page_elements(root) -> list[tuple[str, object]]:
    """``(where, element)`` of each page in reading order: the cover page, then the body pages."""
    meta = _child(root, "meta-data")
    info = _child(meta, "book-info") if meta is not None else None
    cover = _child(info, "coverpage") if info is not None else None
    body = _child(root, "body")
    elements = []
    if cover is not None:
        elements.append(("meta-data/book-info/coverpage", cover))
    if body is not None:
        elements += [(f"body/page[{i + 1}]", page) for i, page in enumerate(_children(body, "page"))]
    return elements


def image_href(element) -> str | None:
    """The ``href`` (or ``xlink:href``) of a page element's ``<image>``; None when it has none."""
    image = _child(element, "image")
    if image is None:
        return None
    href = image.get("href")
    if href is None:
        href = next((v for k, v in image.attrib.items() if k.endswith("href")), None)
    return href or None


def choose_language(root, lang: str | None, source: str) -> str | None:
    """``lang`` when the file has it (else an error), or the book's main language
    (:func:`main_language`)."""
    langs = acbf_languages(root)
    if lang is not None and lang not in langs:
        raise DataSpecError(
            f"no text layer in language {lang!r}; the file has {', '.join(langs) or 'none'}",
            file=source,
            field="text-layer@lang",
        )
    return lang if lang is not None else main_language(root)


def pages_from_acbf(
    path: str | Path, image_root: str | Path | None = None, lang: str | None = None
) -> list[Page]:
    """DataSpec pages of an ACBF book (module docstring). ``lang`` picks the text layer (default: the
    main language, :func:`main_language`); a language the file does not have is an error."""
    path = Path(path)
    root_element = read_acbf(path)
    image_root = Path(image_root) if image_root is not None else path.parent
    chosen = choose_language(root_element, lang, str(path))
    elements = page_elements(root_element)
    if not elements:
        raise DataSpecError("no coverpage and no body/page elements", file=str(path))
    book_id = book_id_for_file(path)
    return [
        _page(element, where, index, book_id, image_root, chosen, path)
        for index, (where, element) in enumerate(elements)
    ]


def _page(element, where: str, index: int, book_id: str, image_root: Path, lang, path: Path) -> Page:
    page_id = make_page_id(book_id, index)

    def fail(reason: str, field: str) -> DataSpecError:
        return DataSpecError(reason, file=str(path), page_id=page_id, field=field)

    href = image_href(element)
    if not href:
        raise fail("no <image href=...>", f"{where}/image")
    if href.startswith("#") or ":" in href.split("/", 1)[0]:
        raise fail(
            f"image {href!r} is embedded or inside an archive; only image files are read", f"{where}/image"
        )
    try:
        image_path = resolve_image(image_root, href)
    except DataSpecError:
        raise fail(
            f"image {href!r} leads outside the book's folder; refused", f"{where}/image@href"
        ) from None
    try:
        with Image.open(image_path) as img:
            width, height = img.size
    except FileNotFoundError:
        raise fail(f"image not found: {image_path}", f"{where}/image@href") from None
    except OSError as exc:
        raise fail(f"cannot read image {image_path}: {exc}", f"{where}/image@href") from None
    provenance = Provenance(source_path=image_root.resolve().name or None, source_entry=href)
    image = PurePosixPath(href).as_posix()
    return acbf_page(element, where, index, book_id, (width, height), image, lang, str(path), provenance)


def acbf_page(
    element,
    where: str,
    index: int,
    book_id: str,
    size: tuple[int, int],
    image: str | None,
    lang: str | None,
    source: str,
    provenance: Provenance | None = None,
    strict: bool = True,
) -> Page:
    """The DataSpec page of one ACBF page element (module docstring), its image ``size`` (width,
    height) known. ``strict=False`` skips a malformed frame or text-area with a warning naming
    ``source`` and the element, instead of failing the page."""
    page_id = make_page_id(book_id, index)
    panels: list[Panel] = []
    texts: list[TextBox] = []

    def parsed(item, item_where: str):
        try:
            polygon = parse_polygon(item.get("points"), item_where)
            return polygon, polygon_box(polygon, item_where, item.get("points") or "")
        except ValueError as exc:  # a malformed or degenerate polygon; the message names the element
            if strict:
                raise DataSpecError(str(exc), file=source, page_id=page_id, field="points") from None
            log.warning("%s: %s; skipped", source, exc)
            return None

    for i, frame in enumerate(_children(element, "frame")):
        got = parsed(frame, f"{where}/frame[{i + 1}]")
        if got is not None:
            polygon = got[0] if len(got[0]) >= 3 else None
            panels.append(Panel(bbox=got[1], polygon=polygon, score=1.0, source="gt", order=len(panels)))
    layers = [layer for layer in _children(element, "text-layer") if layer.get("lang") == lang]
    for layer_index, layer in enumerate(layers):
        for i, area in enumerate(_children(layer, "text-area")):
            got = parsed(area, f"{where}/text-layer[@lang={lang}][{layer_index + 1}]/text-area[{i + 1}]")
            if got is None:
                continue
            polygon, box = got
            texts.append(
                TextBox(
                    bbox=box,
                    polygon=polygon if len(polygon) >= 3 else None,
                    text=_area_text(area),
                    kind=text_kind(area.get("type")),
                    panel=assign_panel(box, [p.bbox for p in panels]),
                    source="gt",
                )
            )
    for text in texts:
        if text.panel >= 0 and text.text and text.kind in ("dialogue", "narration", "sfx"):
            getattr(panels[text.panel].text, text.kind).append(text.text)
    try:
        return Page(
            page_id=page_id,
            book_id=book_id,
            page_index=index,
            image=image,
            width=size[0],
            height=size[1],
            reading_direction="ltr",
            panels=panels,
            texts=texts,
            provenance=provenance or Provenance(),
        )
    except DataSpecError as exc:
        raise exc.located(source) from None
