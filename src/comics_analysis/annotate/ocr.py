"""OCR behind one interface: ``engine.read(image) -> list[TextLine]``, then lines -> text blocks.

Engines: ``rapidocr`` (default; rapidocr's own pipeline; ONNX detection + recognition models ship
inside the wheel, so it runs offline), ``rapidocr-fast`` (tuned for horizontal Western lettering,
see :class:`RapidOcrEngine`; it loses vertical text) and ``tesseract`` (the system binary through
pytesseract; languages such as ``jpn`` or ``jpn_vert`` selectable). Small pages are upscaled
before OCR so lettering reaches a size the recognisers were trained on. Lines are grouped into
balloon-level blocks; a block's kind comes from visual cues only (see :func:`classify_block`),
else it is ``unknown``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]


@dataclass
class TextLine:
    bbox: Box
    text: str
    score: float


@dataclass
class TextBlock:
    bbox: Box
    text: str
    score: float
    lines: list[TextLine] = field(default_factory=list)


def _upscale(image: Image.Image, min_height: int) -> tuple[Image.Image, float]:
    if image.height >= min_height:
        return image, 1.0
    factor = min(3.0, min_height / image.height)
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS), factor


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class RapidOcrEngine:
    """rapidocr (ONNX DB detection + CTC recognition).

    ``fast`` (engine name ``rapidocr-fast``) is tuned for horizontal comics lettering, measured on
    real pages in ``scripts/bench_annotate.py --mode ocr``: detection runs on the page squeezed to
    ``det_width`` of its width (lettering lines are wide and stacked, so the height that keeps
    stacked lines apart stays whole), recognition reads each line squeezed to ``rec_width`` of its
    width (fewer CTC steps; lettering is wide enough), and the 180-degree classifier is skipped
    (lettering is never upside down; the classifier flipped some lines). Squeezing the width splits
    vertical (manga) text columns: on OpenMantra its character recall falls from 0.89 / 0.85 to
    0.62 / 0.51, so it is not the default. ``fast=False`` (default, engine name ``rapidocr``) is
    rapidocr's own pipeline with its default settings.
    """

    def __init__(
        self,
        min_height: int = 1200,
        threads: int | None = None,
        fast: bool = False,
        det_width: float = 0.5,
        rec_width: float = 0.7,
    ):
        try:
            # lazy: the optional 'ocr' extra (onnxruntime models); cv2 comes with rapidocr
            import cv2
            from rapidocr import RapidOCR
            from rapidocr.utils.process_img import get_rotate_crop_image
        except ImportError:
            raise RuntimeError("rapidocr is not installed: pip install 'comics-analysis[ocr]'") from None

        params = {"Global.log_level": "error"}
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        if fast:
            params["Global.use_cls"] = False
            # the default upscales a page whose short side is under 736 px: the squeezed page is
            # that narrow on purpose (small pages were upscaled by min_height already)
            params["Det.limit_side_len"] = 32
            params["Rec.rec_img_shape"] = [3, 48, 160]  # pad short words to 160 px, not 320
        self._ocr = RapidOCR(params=params)
        self._cv2, self._crop = cv2, get_rotate_crop_image
        self.min_height, self.fast = min_height, fast
        self.det_width, self.rec_width = det_width, rec_width
        self.name = "rapidocr-fast" if fast else "rapidocr"
        self.version = _version("rapidocr") + (f"+fast(det {det_width:g}, rec {rec_width:g})" if fast else "")

    def read(self, image: Image.Image) -> list[TextLine]:
        scaled, factor = _upscale(image if image.mode == "RGB" else image.convert("RGB"), self.min_height)
        pixels = np.asarray(scaled)
        if self.fast:
            quads, texts, scores = self._read_fast(pixels)
        else:
            result = self._ocr(pixels)
            if result.boxes is None or result.txts is None:
                return []
            quads, texts, scores = result.boxes, result.txts, result.scores
        lines = []
        for quad, text, score in zip(quads, texts, scores):
            quad = np.asarray(quad, dtype=float) / factor
            x0, y0 = quad.min(axis=0)
            x1, y1 = quad.max(axis=0)
            if text.strip() and x1 - x0 >= 1 and y1 - y0 >= 1:
                lines.append(
                    TextLine(
                        (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), text.strip(), float(score)
                    )
                )
        return lines

    def _read_fast(self, pixels: np.ndarray) -> tuple[list[np.ndarray], list[str], list[float]]:
        cv2 = self._cv2
        height, width = pixels.shape[:2]
        narrow = max(32, round(width * self.det_width))
        squeezed = cv2.resize(pixels, (narrow, height), interpolation=cv2.INTER_AREA)
        found = self._ocr(squeezed, use_det=True, use_cls=False, use_rec=False)
        if getattr(found, "boxes", None) is None or len(found.boxes) == 0:
            return [], [], []
        quads = [np.asarray(q, dtype=np.float32) * np.float32([width / narrow, 1.0]) for q in found.boxes]
        crops = []
        for quad in quads:
            crop = self._crop(pixels, quad.copy())
            crop_width = max(4, round(crop.shape[1] * self.rec_width))
            crops.append(cv2.resize(crop, (crop_width, crop.shape[0]), interpolation=cv2.INTER_AREA))
        read = self._ocr.recognize_txt(crops)
        keep = [
            i
            for i, (text, score) in enumerate(zip(read.txts, read.scores))
            if text.strip() and score >= self._ocr.text_score
        ]
        return [quads[i] for i in keep], [read.txts[i] for i in keep], [read.scores[i] for i in keep]


class TesseractEngine:
    name = "tesseract"

    def __init__(self, lang: str = "eng", min_height: int = 1600, psm: int = 11, min_confidence: float = 50):
        try:
            import pytesseract
        except ImportError:
            raise RuntimeError("pytesseract is not installed: pip install 'comics-analysis[ocr]'") from None

        try:
            self.version = str(pytesseract.get_tesseract_version())
        except pytesseract.TesseractNotFoundError:
            raise RuntimeError(
                "tesseract is not installed: apt-get install tesseract-ocr (and tesseract-ocr-jpn "
                "for Japanese)"
            ) from None
        available = set(pytesseract.get_languages(config=""))
        missing = [code for code in lang.split("+") if code not in available]
        if missing:
            raise RuntimeError(
                f"tesseract has no language data for {missing}; installed: {sorted(available)}"
            )
        self.lang, self.min_height, self.psm, self.min_confidence = lang, min_height, psm, min_confidence
        self._tesseract = pytesseract

    def read(self, image: Image.Image) -> list[TextLine]:
        scaled, factor = _upscale(image.convert("RGB"), self.min_height)
        data = self._tesseract.image_to_data(
            scaled, lang=self.lang, config=f"--psm {self.psm}", output_type=self._tesseract.Output.DICT
        )
        grouped: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][i]) >= self.min_confidence:
                grouped.setdefault(
                    (data["block_num"][i], data["par_num"][i], data["line_num"][i]), []
                ).append(i)
        lines = []
        for indices in grouped.values():
            x0 = min(data["left"][i] for i in indices) / factor
            y0 = min(data["top"][i] for i in indices) / factor
            x1 = max(data["left"][i] + data["width"][i] for i in indices) / factor
            y1 = max(data["top"][i] + data["height"][i] for i in indices) / factor
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue  # a degenerate box (tesseract reports some rules and specks so)
            text = " ".join(data["text"][i].strip() for i in indices)
            score = float(np.mean([float(data["conf"][i]) for i in indices])) / 100.0
            lines.append(TextLine((x0, y0, x1 - x0, y1 - y0), text, score))
        return lines


ENGINES = ("rapidocr", "rapidocr-fast", "tesseract", "none")
# What an engine name reads like: bumped when the same name gives other text (resumed annotate
# runs redo books read the older way). 2: the tuned `rapidocr-fast` path exists beside `rapidocr`.
OCR_REVISION = 2


def make_engine(name: str, **kwargs):
    """An OCR engine by name (``none`` gives None)."""
    if name in ("rapidocr", "rapidocr-fast"):
        return RapidOcrEngine(fast=name == "rapidocr-fast", **kwargs)
    if name == "tesseract":
        return TesseractEngine(**kwargs)
    if name == "none":
        return None
    raise ValueError(f"unknown OCR engine {name!r}; expected one of {', '.join(ENGINES)}")


def _reading_sequence(lines: list[TextLine], vertical: bool) -> list[TextLine]:
    """Lines of one block in reading order: rows top to bottom, words left to right (vertical
    text: columns right to left, each top to bottom)."""
    axis, along = (0, 1) if vertical else (1, 0)
    rows: list[list[TextLine]] = []
    for line in sorted(
        lines, key=(lambda t: -(t.bbox[0] + t.bbox[2])) if vertical else (lambda t: t.bbox[1])
    ):
        for row in rows:
            a, b = row[0].bbox, line.bbox
            overlap = min(a[axis] + a[axis + 2], b[axis] + b[axis + 2]) - max(a[axis], b[axis])
            if overlap >= 0.5 * min(a[axis + 2], b[axis + 2]):
                row.append(line)
                break
        else:
            rows.append([line])
    return [t for row in rows for t in sorted(row, key=lambda t: t.bbox[along])]


def group_lines(
    lines: list[TextLine], vertical: bool = False, regions: Sequence[object] | None = None
) -> list[TextBlock]:
    """Lines that stack (close in the reading axis, overlapping across it) form one block.

    Horizontal text stacks top to bottom; ``vertical`` text (Japanese tategaki) right to left.
    ``regions``: per line, the closed balloon or caption region it lies in (None: none, see
    :mod:`.balloons`); only lines of the same region (or both of none) may join.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not lines:
        return []
    n = len(lines)
    edges: list[tuple[int, int]] = []
    for i in range(n):
        for j in range(i + 1, n):
            if regions is not None and regions[i] != regions[j]:
                continue
            a, b = lines[i].bbox, lines[j].bbox
            if vertical:
                a, b = (a[1], a[0], a[3], a[2]), (b[1], b[0], b[3], b[2])
            size = min(a[3], b[3])
            gap = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]))
            overlap = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
            stacked = gap <= 1.0 * size and overlap >= 0.3 * min(a[2], b[2]) and max(a[3], b[3]) <= 1.6 * size
            # words of one line that an engine reports apart (tesseract's sparse mode does)
            across = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
            side_gap = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]))
            same_line = across >= 0.6 * size and side_gap <= 0.8 * size
            if stacked or same_line:
                edges.append((i, j))
    rows, cols = zip(*edges) if edges else ((), ())
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    groups: dict[int, list[TextLine]] = {}  # in order of each group's first line, as before
    for i in range(n):
        groups.setdefault(int(component[i]), []).append(lines[i])
    blocks = []
    for members in groups.values():
        members = _reading_sequence(members, vertical)
        x0 = min(t.bbox[0] for t in members)
        y0 = min(t.bbox[1] for t in members)
        x1 = max(t.bbox[0] + t.bbox[2] for t in members)
        y1 = max(t.bbox[1] + t.bbox[3] for t in members)
        joiner = "" if vertical else " "
        blocks.append(
            TextBlock(
                (x0, y0, x1 - x0, y1 - y0),
                joiner.join(t.text for t in members),
                float(np.mean([t.score for t in members])),
                members,
            )
        )
    blocks.sort(key=lambda b: (b.bbox[1], b.bbox[0]))
    return blocks


def classify_block(
    block: TextBlock, grey: np.ndarray, panel: Box | None, median_line: float, paper: float = 255.0
) -> str:
    """dialogue / narration / sfx from visual cues, else unknown.

    - sfx: letters much taller than the page's usual lettering, not on paper (no balloon);
    - dialogue: on flat paper (a balloon), as light as the page's ``paper`` level (white, or the
      tone of yellowed paper: see :func:`.balloons.paper_level`);
    - narration: on a flat tinted box that sits against a panel edge (a caption).
    """
    x, y, w, h = (round(v) for v in block.bbox)
    height, width = grey.shape
    # sample the paper just outside the OCR box: a caption's padding is often under half a line
    pad = max(2, int(0.1 * (h / max(len(block.lines), 1))))
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(width, x + w + pad), min(height, y + h + pad)
    ring = np.concatenate([grey[y0, x0:x1], grey[y1 - 1, x0:x1], grey[y0:y1, x0], grey[y0:y1, x1 - 1]])
    if ring.size == 0:
        return "unknown"
    local = float(np.median(ring))
    flat = float(np.mean(np.abs(ring.astype(float) - local) < 12))
    line_height = float(np.median([t.bbox[3] for t in block.lines])) if block.lines else h
    if line_height >= 1.8 * median_line and not (flat > 0.8 and local > 0.78 * paper):
        return "sfx"
    if flat < 0.7 or local < 0.59 * paper:
        return "unknown"
    if local >= 0.97 * paper:
        return "dialogue"  # paper: a balloon
    if panel is not None:
        px, py, pw, ph = panel
        margin = max(0.12 * min(pw, ph), 2.5 * line_height)  # caption padding is about a line
        if min(x - px, y - py, px + pw - (x + w), py + ph - (y + h)) <= margin:
            return "narration"  # a tinted caption box against the panel's edge
    return "unknown"
