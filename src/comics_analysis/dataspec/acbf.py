"""ACBF (Advanced Comic Book Format, XML) books as DataSpec ground truth.

An ACBF book names its pages' images (``<coverpage><image href>`` first, then each
``<body><page><image href>``), their panels as ``<frame points="x,y x,y ...">`` polygons in reading
order, and the lettering as ``<text-layer lang=...><text-area points=... type=...><p>...</p>``.
:func:`pages_from_acbf` turns that into DataSpec pages:

- page order: the cover page (index 0) then the body pages in file order;
- image: the ``href`` relative to ``image_root`` (default: the ACBF file's folder); width and
  height come from the image file's header (the ACBF does not store them);
- panels: the bounding box of each frame polygon, in the ACBF order (the reading order);
- texts: one TextBox per text-area of the chosen language (the bounding box of its polygon; its
  paragraphs joined by a space; inline markup such as ``<emphasis>`` kept as plain text, the labels
  of ``<a>`` reference links dropped), kind from
  the area's type (:data:`KIND_OF_TYPE`; an area without a type is speech, the ACBF default), the
  panel that holds most of its area (:func:`~.geometry.assign_panel`, -1 when none holds half of it);
- book_id: the ACBF file's stem and SHA-256 (DESIGN 3.1: the ACBF file is the container).

The XML is parsed with ``defusedxml`` (no entity expansion, no external resources). Images embedded in
the ACBF (``href="#id"``) and images inside other archives are not read: the error says so.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from defusedxml import ElementTree as SafeET
from PIL import Image

from .geometry import assign_panel
from .ids import book_id_for_file, make_page_id
from .io import resolve_image
from .records import DataSpecError, Page, Panel, Provenance, TextBox

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


def parse_points(points: str | None, where: str) -> tuple[float, float, float, float]:
    """``"x,y x,y ..."`` -> the polygon's bounding box [x, y, w, h]; ``where`` names the element."""
    if not points or not points.strip():
        raise ValueError(f"{where}: the points attribute is missing or empty")
    xs, ys = [], []
    for pair in points.split():
        try:
            x, y = (float(v) for v in pair.split(","))
        except ValueError:
            raise ValueError(f"{where}: point {pair!r} is not 'x,y' (points={points!r})") from None
        xs.append(x)
        ys.append(y)
    box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    if box[2] < 1 or box[3] < 1:
        raise ValueError(f"{where}: polygon {points!r} is narrower or lower than 1 pixel")
    return box


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


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


def read_acbf(path: str | Path):
    """The parsed root element of an ACBF file (errors name the file)."""
    path = Path(path)
    try:
        root = SafeET.parse(str(path)).getroot()
    except OSError as exc:
        raise DataSpecError(f"cannot read ACBF file: {exc}", file=str(path)) from None
    except Exception as exc:  # ParseError and defusedxml's refusals (entities, DTDs)
        raise DataSpecError(f"not a well-formed, safe ACBF XML document: {exc}", file=str(path)) from None
    if _local(root.tag) != "ACBF":
        raise DataSpecError(f"root element is <{_local(root.tag)}>, expected <ACBF>", file=str(path))
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace not in NAMESPACES:
        raise DataSpecError(
            f"unknown ACBF namespace {namespace!r} (expected one of {', '.join(NAMESPACES)})", file=str(path)
        )
    return root


def pages_from_acbf(
    path: str | Path, image_root: str | Path | None = None, lang: str | None = None
) -> list[Page]:
    """DataSpec pages of an ACBF book (module docstring). ``lang`` picks the text layer (default: the
    first language the file declares); a language the file does not have is an error."""
    path = Path(path)
    root_element = read_acbf(path)
    image_root = Path(image_root) if image_root is not None else path.parent
    langs = acbf_languages(root_element)
    chosen = lang if lang is not None else (langs[0] if langs else None)
    if lang is not None and lang not in langs:
        raise DataSpecError(
            f"no text layer in language {lang!r}; the file has {', '.join(langs) or 'none'}",
            file=str(path),
            field="text-layer@lang",
        )
    meta = _child(root_element, "meta-data")
    info = _child(meta, "book-info") if meta is not None else None
    cover = _child(info, "coverpage") if info is not None else None
    body = _child(root_element, "body")
    elements = []
    if cover is not None:
        elements.append(("meta-data/book-info/coverpage", cover))
    if body is not None:
        elements += [(f"body/page[{i + 1}]", page) for i, page in enumerate(_children(body, "page"))]
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

    image = _child(element, "image")
    href = image.get("href") if image is not None else None
    if href is None:  # also xlink:href
        href = next(
            (v for k, v in (image.attrib.items() if image is not None else []) if k.endswith("href")), None
        )
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
    try:
        panels = [
            Panel(
                bbox=parse_points(frame.get("points"), f"{where}/frame[{i + 1}]"),
                score=1.0,
                source="gt",
                order=i,
            )
            for i, frame in enumerate(_children(element, "frame"))
        ]
        texts = []
        layers = [layer for layer in _children(element, "text-layer") if layer.get("lang") == lang]
        for layer_index, layer in enumerate(layers):
            for i, area in enumerate(_children(layer, "text-area")):
                area_where = f"{where}/text-layer[@lang={lang}][{layer_index + 1}]/text-area[{i + 1}]"
                box = parse_points(area.get("points"), area_where)
                kind = text_kind(area.get("type"))
                texts.append(
                    TextBox(
                        bbox=box,
                        text=_area_text(area),
                        kind=kind,
                        panel=assign_panel(box, [p.bbox for p in panels]),
                        source="gt",
                    )
                )
    except ValueError as exc:  # a malformed or degenerate polygon; the message names the element
        raise fail(str(exc), "points") from None
    for text in texts:
        if text.panel >= 0 and text.text and text.kind in ("dialogue", "narration", "sfx"):
            getattr(panels[text.panel].text, text.kind).append(text.text)
    try:
        return Page(
            page_id=page_id,
            book_id=book_id,
            page_index=index,
            image=PurePosixPath(href).as_posix(),
            width=width,
            height=height,
            reading_direction="ltr",
            panels=panels,
            texts=texts,
            provenance=Provenance(source_path=image_root.resolve().name or None, source_entry=href),
        )
    except DataSpecError as exc:
        raise exc.located(str(path)) from None
