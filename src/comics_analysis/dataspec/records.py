"""DataSpec v1 records (DESIGN 3.2): one :class:`Page` per comic page.

Boxes are ``[x, y, w, h]`` in float pixels, top-left origin. A box that pokes out of the page
is clamped and the clamp is recorded in ``quality.flags``; a box with w or h < 1, or one that
lies wholly outside the page, is an error. Every error raised here is a :class:`DataSpecError`
naming the page and the field.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .ids import BOOK_ID_PATTERN, make_page_id

SCHEMA_VERSION = "1.0"

# Versioned page taxonomy (DESIGN 4.2); the index of a label is its class id, so only append.
PAGE_TYPES: tuple[str, ...] = (
    "cover",
    "cover_internal",
    "credits_indicia",
    "story",
    "advertisement",
    "preview",
    "text_backmatter",
    "art_backmatter",
    "back_cover",
    "other",
)
# page_number: a folio printed in the page margin (never a panel's lettering); signature: an
# artist's signature or copyright line drawn into the art (never a panel's lettering either)
TEXT_KINDS: tuple[str, ...] = ("dialogue", "narration", "sfx", "unknown", "page_number", "signature")
SOURCES: tuple[str, ...] = ("detector", "ocr", "vlm", "gt", "synthetic")

TextKind = Literal["dialogue", "narration", "sfx", "unknown", "page_number", "signature"]
Source = Literal["detector", "ocr", "vlm", "gt", "synthetic"]
Direction = Literal["ltr", "rtl"]
BBox = tuple[float, float, float, float]


class DataSpecError(ValueError):
    """A record that breaks the DataSpec contract. Names the file, page and field when known."""

    def __init__(
        self,
        reason: str,
        *,
        page_id: str | None = None,
        field: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ):
        self.reason, self.page_id, self.field, self.file, self.line = reason, page_id, field, file, line
        where = []
        if file:
            where.append(f"{file}:{line}" if line else str(file))
        if page_id:
            where.append(f"page {page_id}")
        if field:
            where.append(f"field {field}")
        super().__init__(": ".join([*where, reason]))

    def located(self, file: str | None = None, line: int | None = None) -> DataSpecError:
        return DataSpecError(self.reason, page_id=self.page_id, field=self.field, file=file, line=line)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _check_bbox(value: BBox) -> BBox:
    _x, _y, w, h = value
    if w < 1 or h < 1:
        raise ValueError(f"box {list(value)} needs w >= 1 and h >= 1")
    if any(v != v for v in value):  # NaN
        raise ValueError(f"box {list(value)} contains NaN")
    return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=False)


class Box(_Record):
    """A labelled box that is not a panel or text, e.g. a character or a face."""

    bbox: BBox
    label: str = "character"
    score: float | None = None
    source: Source = "gt"

    _bbox = field_validator("bbox")(_check_bbox)


class PanelText(_Record):
    """Lettered text of a panel, by kind. Only text printed on the page goes here."""

    dialogue: list[str] = Field(default_factory=list)
    narration: list[str] = Field(default_factory=list)
    sfx: list[str] = Field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.narration, *self.dialogue, *self.sfx]


def _check_polygon(value: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
    if value is not None:
        if len(value) < 3:
            raise ValueError(f"polygon needs 3 or more points, got {len(value)}")
        if any(v != v for point in value for v in point):
            raise ValueError("polygon contains NaN")
    return value


class Panel(_Record):
    bbox: BBox
    score: float | None = None
    source: Source = "detector"
    order: int
    text: PanelText = Field(default_factory=PanelText)
    description: str | None = None  # VLM scene description: never lettered text
    characters: list[str] = Field(default_factory=list)
    # outline of the panel, [[x, y], ...] (3+ points), when it is not its box (an ACBF frame, a
    # slanted border); optional: records written before it existed load with None
    polygon: list[tuple[float, float]] | None = None

    _bbox = field_validator("bbox")(_check_bbox)
    _polygon = field_validator("polygon")(_check_polygon)


class TextBox(_Record):
    bbox: BBox
    text: str
    kind: TextKind = "unknown"
    panel: int = -1  # index into Page.panels, -1 when outside every panel
    score: float | None = None
    source: Source = "ocr"
    # outline of the balloon or caption holding the text, [[x, y], ...] (3+ points), when known;
    # optional: records written before it existed load with None
    polygon: list[tuple[float, float]] | None = None

    _bbox = field_validator("bbox")(_check_bbox)
    _polygon = field_validator("polygon")(_check_polygon)


class Match(_Record):
    """One detector panel (index into ``Page.panels``) paired with one VLM panel (index in the
    VLM's reading order). ``iou`` when the VLM gave boxes; ``text_sim`` (0-1) when the pairing
    was checked against OCR text found in the detector panel."""

    detector: int
    vlm: int
    iou: float | None = None
    text_sim: float | None = None


class Quality(_Record):
    detector_panels: int | None = None
    vlm_panels: int | None = None
    match_kind: str | None = None
    matched: int | None = None
    mean_iou: float | None = None
    matches: list[Match] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)


class Provenance(_Record):
    source_path: str | None = None  # container, relative to the declared library root
    source_entry: str | None = None  # entry inside the container
    image_sha256: str | None = None
    detector: str | None = None
    detector_version: str | None = None
    ocr: str | None = None
    ocr_version: str | None = None
    vlm: str | None = None
    prompt_version: str | None = None
    generator: str | None = None
    created_utc: str | None = None
    page_type_source: str | None = None  # who set page_type: comicinfo, gt, vlm, pss:<model>...


class Page(_Record):
    """One comic page. Lists are in reading order; ``panels[i].order == i``."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    page_id: str
    book_id: str
    page_index: int = Field(ge=0)
    image: str | None = None  # path relative to a declared root
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    reading_direction: Direction = "ltr"
    panels: list[Panel] = Field(default_factory=list)
    texts: list[TextBox] = Field(default_factory=list)
    characters: list[Box] = Field(default_factory=list)
    page_type: str | None = None
    story_start: bool | None = None  # first page of a story (DESIGN 4.2); splash pages included
    summary: str | None = None  # VLM page summary, never mixed into lettered text
    quality: Quality = Field(default_factory=Quality)
    provenance: Provenance = Field(default_factory=Provenance)

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _to_dataspec_error(exc, data) from None

    @model_validator(mode="after")
    def _check_page(self) -> Page:
        if not BOOK_ID_PATTERN.match(self.book_id):
            _fail("book_id", f"{self.book_id!r} is not a slug ([a-z0-9-])")
        expected = make_page_id(self.book_id, self.page_index)
        if self.page_id != expected:
            _fail("page_id", f"{self.page_id!r} does not match book_id and page_index ({expected!r})")
        if self.page_type is not None and self.page_type not in PAGE_TYPES:
            _fail(
                "page_type", f"unknown page type {self.page_type!r}; expected one of {', '.join(PAGE_TYPES)}"
            )
        for i, panel in enumerate(self.panels):
            if panel.order != i:
                _fail(f"panels[{i}].order", f"is {panel.order}, but panels are stored in reading order")
        for i, text in enumerate(self.texts):
            if not -1 <= text.panel < len(self.panels):
                _fail(f"texts[{i}].panel", f"{text.panel} is not -1 or a panel index (< {len(self.panels)})")
        for name, items in (("panels", self.panels), ("texts", self.texts), ("characters", self.characters)):
            for i, item in enumerate(items):
                item.bbox = self._clamp(item.bbox, f"{name}[{i}].bbox")
        for name, items in (("panels", self.panels), ("texts", self.texts)):
            for i, item in enumerate(items):
                if item.polygon is not None:
                    item.polygon = self._clamp_points(item.polygon, f"{name}[{i}].polygon")
        return self

    def _clamp_points(self, points: list[tuple[float, float]], field: str) -> list[tuple[float, float]]:
        inside = [
            (min(max(x, 0.0), float(self.width)), min(max(y, 0.0), float(self.height))) for x, y in points
        ]
        if inside != [tuple(p) for p in points]:
            flag = f"clamped:{field}"
            if flag not in self.quality.flags:
                self.quality.flags.append(flag)
        return inside

    def _clamp(self, bbox: BBox, field: str) -> BBox:
        x, y, w, h = bbox
        if x >= 0 and y >= 0 and x + w <= self.width and y + h <= self.height:
            return bbox
        x0, y0 = max(x, 0.0), max(y, 0.0)
        x1, y1 = min(x + w, float(self.width)), min(y + h, float(self.height))
        if x1 - x0 < 1 or y1 - y0 < 1:
            _fail(field, f"box {list(bbox)} lies outside the {self.width}x{self.height} page")
        flag = f"clamped:{field}"
        if flag not in self.quality.flags:
            self.quality.flags.append(flag)
        return (x0, y0, x1 - x0, y1 - y0)

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Page:
        if not isinstance(data, dict):
            raise DataSpecError(f"a page record must be a JSON object, got {type(data).__name__}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Page:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataSpecError(f"invalid JSON: {exc}") from None
        return cls.from_dict(data)

    # --- conveniences --------------------------------------------------------------------
    def panel_texts(self, index: int) -> list[str]:
        """Lettered text of panel ``index`` in reading order of its text boxes."""
        return [t.text for t in self.texts if t.panel == index]

    def rekeyed(self, book_id: str, page_index: int | None = None) -> Page:
        """The same page under another book id (e.g. once its container's hash is known)."""
        index = self.page_index if page_index is None else page_index
        data = self.to_dict()
        data.update(book_id=book_id, page_index=index, page_id=make_page_id(book_id, index))
        return Page.from_dict(data)


def _fail(field: str, reason: str) -> None:
    raise PydanticCustomError("dataspec", "{field}: {reason}", {"field": field, "reason": reason})


def _to_dataspec_error(exc: ValidationError, data: dict[str, Any]) -> DataSpecError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    ctx = first.get("ctx") or {}
    if first["type"] == "dataspec":
        field, reason = ctx["field"], ctx["reason"]
    else:
        field, reason = _field_path(first["loc"]), first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            reason = "required field is missing"
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more error(s))"
    page_id = data.get("page_id") if isinstance(data.get("page_id"), str) else None
    return DataSpecError(reason, page_id=page_id, field=field)
