"""OCR behind one interface: ``engine.read(image) -> list[TextLine]``, then lines -> text blocks.

Engines: ``rapidocr`` (default; rapidocr's ONNX detection + recognition models, which ship
inside the wheel so it runs offline, driven line by line, see :class:`RapidOcrEngine`),
``rapidocr-reference`` (rapidocr's own pipeline with its defaults: the speed and recall baseline)
and ``tesseract`` (the system binary through pytesseract; languages such as ``jpn`` or
``jpn_vert`` selectable). Small pages are upscaled before OCR so lettering reaches a size the
recognisers were trained on. Lines are grouped into
balloon-level blocks; a block's kind comes from visual cues only (see :func:`classify_block`),
else it is ``unknown``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


def _quiet_session(session, cfg):
    """The same onnxruntime model and settings with idle threads that sleep instead of spinning:
    spinning threads take the cores from the other worker processes (and from other programs) on
    a small machine; per page about 1.3x faster with 2 cores shared."""
    from onnxruntime import InferenceSession
    from rapidocr.inference_engine.base import FileInfo

    fields = ("engine_type", "ocr_version", "task_type", "lang_type", "model_type")
    info = session.get_model_url(FileInfo(**{k: cfg[k] for k in fields}))
    path = Path(cfg.model_root_dir) / Path(info["model_dir"]).name
    options = session._init_sess_opts(cfg.engine_cfg)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = session.session.get_providers()  # rapidocr's, with their options
    given = session.session.get_provider_options()
    return InferenceSession(
        str(path), sess_options=options, providers=providers, provider_options=[given[p] for p in providers]
    )


class RapidOcrEngine:
    """rapidocr's ONNX models (DB text detection + CTC recognition), run two ways.

    ``reference=False`` (engine name ``rapidocr``, the default) drives the models directly, measured
    on real Western (Craphound) and Japanese vertical (OpenMantra) pages by
    ``scripts/bench_annotate.py --mode ocr``:

    - detection runs on the page scaled by ``det_scale`` on *both* axes (a page under
      ``min_height`` is first scaled up to it, so lettering reaches the size the detector was
      trained on). Both axes: squeezing only the width keeps stacked horizontal lines apart but
      merges vertical (tategaki) columns, which lost a third of OpenMantra's characters;
    - a box whose short side is over ``thick`` x the page's median line (lines that merged at
      that scale: lettering small for its page) is detected again inside itself at
      ``refine_scale``; the resolution follows the lettering where it is small, and the rest of
      the page is not read twice. Below ``det_scale`` 0.75 so many of Craphound's lines merge
      that the median line is itself merged and its word recall falls (at 0.65 and 0.6), so 0.75
      is the default;
    - recognition reads only the found lines, cut from the page at its own resolution; a tall
      line (height >= 1.5 x width, a vertical column) is turned a quarter turn so the horizontal
      recogniser reads it, as rapidocr does; a horizontal line's width is squeezed to
      ``rec_squeeze`` (fewer CTC steps; Latin lettering stays readable; at 0.55 it does not); the
      square CJK glyphs of vertical columns are not squeezed;
    - lines are batched by width (sorted, each batch padded to its widest line, at most
      ``rec_batch`` lines and ``bucket`` x the narrowest width) instead of rapidocr's fixed
      batches of 6 padded to 320 px; line images are resized linearly, as rapidocr does (cubic
      upscaling of the ~20 px Western lines lost 3% of Craphound's words);
    - the 180-degree classifier is skipped: lettering is never upside down, and the classifier
      flipped some correct lines;
    - onnxruntime keeps its memory arena between pages (rapidocr turns it off; about 1.25x
      faster per page on 2 cores, about 1.5 GB peak resident memory for a process), and its idle
      threads sleep instead of spinning (see :func:`_quiet_session`).

    ``column_squeeze`` (default 1.0: off) squeezes vertical columns as ``rec_squeeze`` does
    horizontal lines; at 0.8 it was about 5% faster on OpenMantra for 0.002 less character recall.

    ``reference=True`` (engine name ``rapidocr-reference``) is rapidocr's own pipeline with its
    default settings, kept as the baseline the benchmark measures against.
    """

    def __init__(
        self,
        min_height: int = 1200,
        threads: int | None = None,
        reference: bool = False,
        det_scale: float = 0.75,
        refine_scale: float | None = 1.0,
        thick: float = 1.6,
        rec_squeeze: float = 0.7,
        column_squeeze: float = 1.0,
        rec_batch: int = 16,
        bucket: float = 1.15,
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
        if not reference:
            # reuse the buffers of the last page (rapidocr frees and maps them afresh on every run:
            # about 1.25x slower per page on 2 cores)
            params["EngineConfig.onnxruntime.enable_cpu_mem_arena"] = True
        self._ocr = RapidOCR(params=params)
        self._cv2, self._crop = cv2, get_rotate_crop_image
        self.min_height, self.reference = min_height, reference
        self.det_scale, self.refine_scale, self.thick = det_scale, refine_scale, thick
        self.rec_squeeze, self.column_squeeze = rec_squeeze, column_squeeze
        self.rec_batch, self.bucket = rec_batch, bucket
        if reference:
            self.name, self.version = "rapidocr-reference", _version("rapidocr")
        else:
            self._det = self._ocr._load_det_model()
            self._rec = self._ocr._load_rec_model()
            for model, cfg in ((self._det, self._ocr.cfg.Det), (self._rec, self._ocr.cfg.Rec)):
                model.session.session = _quiet_session(model.session, cfg)
            self._rec_input = self._rec.session.session.get_inputs()[0].name
            self._rec_height = int(self._rec.rec_image_shape[1])
            self.name = "rapidocr"
            self.version = _version("rapidocr") + f"+lines(det {det_scale:g}, rec {rec_squeeze:g})"

    def read(self, image: Image.Image) -> list[TextLine]:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        if self.reference:
            scaled, factor = _upscale(rgb, self.min_height)
            result = self._ocr(np.asarray(scaled))
            if result.boxes is None or result.txts is None:
                return []
            quads, texts, scores = result.boxes, result.txts, result.scores
        else:
            quads, texts, scores = self._read_lines(np.asarray(rgb))
            factor = 1.0
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

    def _find(self, pixels: np.ndarray, scale: float) -> np.ndarray:
        """Text quadrilaterals (N x 4 x 2, in ``pixels``' own coordinates), the detector run on
        ``pixels`` scaled by ``scale``."""
        cv2 = self._cv2
        height, width = pixels.shape[:2]
        size = (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        # the detector's normalisation (mean = std = 0.5), in float32 (rapidocr's runs in float64)
        tensor = (small.astype(np.float32) * np.float32(2 / 255) - np.float32(1)).transpose(2, 0, 1)[None]
        prob = self._det.session(np.ascontiguousarray(tensor))
        boxes, _ = self._det.postprocess_op(prob, (height, width))  # mapped back to pixels' size
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2)

    def detect(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Text line quadrilaterals (4 x 2, page pixels): the page scaled by ``det_scale``, then
        each box much thicker than the page's median line (lines that merged at that scale: small
        lettering) again at ``refine_scale``, only inside that box."""
        height, width = pixels.shape[:2]
        grow = min(3.0, max(1.0, self.min_height / height))  # small pages: lettering to a usual size
        quads = list(self._find(pixels, self.det_scale * grow))
        if self.refine_scale and len(quads) >= 3:
            sides = [min(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[0] - q[3])) for q in quads]
            line = float(np.median(sides))
            kept = [q for q, side in zip(quads, sides) if side <= self.thick * line]
            spans = [(q.min(axis=0), q.max(axis=0)) for q in kept]
            for quad, side in zip(quads, sides):
                if side <= self.thick * line:
                    continue
                pad = round(0.5 * line)
                x0, y0 = np.maximum(np.floor(quad.min(axis=0)).astype(int) - pad, 0)
                x1, y1 = np.minimum(np.ceil(quad.max(axis=0)).astype(int) + pad, (width, height))
                inner = self._find(pixels[y0:y1, x0:x1], self.refine_scale * grow) + np.float32([x0, y0])
                found = False
                for sub in inner:
                    centre = sub.mean(axis=0)
                    if not ((centre >= quad.min(axis=0)).all() and (centre <= quad.max(axis=0)).all()):
                        continue  # a neighbour's line cut by the region's edge
                    if any((centre >= lo).all() and (centre <= hi).all() for lo, hi in spans):
                        continue  # a line found already (at the page scale, or in an overlapping box)
                    kept.append(sub)
                    spans.append((sub.min(axis=0), sub.max(axis=0)))
                    found = True
                if not found:
                    kept.append(quad)
            quads = kept
        if not quads:
            return []
        return list(self._det.sorted_boxes(np.stack(quads)))

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Text and score of each line image (upright, horizontal), batched by width."""
        cv2, tall = self._cv2, self._rec_height
        widths = [max(8, int(np.ceil(tall * c.shape[1] / c.shape[0]))) for c in crops]
        order = sorted(range(len(crops)), key=widths.__getitem__)
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        start = 0
        while start < len(order):
            stop = start + 1
            while (
                stop < len(order)
                and stop - start < self.rec_batch
                and widths[order[stop]] <= widths[order[start]] * self.bucket + 8
            ):
                stop += 1
            group = order[start:stop]
            batch = np.zeros((len(group), 3, tall, widths[group[-1]]), dtype=np.float32)
            for k, i in enumerate(group):
                line = cv2.resize(crops[i], (widths[i], tall), interpolation=cv2.INTER_LINEAR)  # as rapidocr
                batch[k, :, :, : widths[i]] = line.transpose(2, 0, 1) * np.float32(2 / 255) - np.float32(1)
            preds = self._rec.session(batch)
            read, _ = self._rec.postprocess_op(
                preds,
                False,
                wh_ratio_list=[widths[i] / tall for i in group],
                max_wh_ratio=widths[group[-1]] / tall,
            )
            for i, (text, score) in zip(group, read):
                out[i] = (text, float(score))
            start = stop
        return out

    def _read_lines(self, pixels: np.ndarray) -> tuple[list[np.ndarray], list[str], list[float]]:
        quads = self.detect(pixels)
        if not quads:
            return [], [], []
        cv2, crops = self._cv2, []
        for quad in quads:
            crop = self._crop(pixels, quad.copy())
            across = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
            squeeze = self.rec_squeeze if crop.shape[1] == across else self.column_squeeze  # not turned
            if squeeze != 1.0:
                narrow = max(4, round(crop.shape[1] * squeeze))
                crop = cv2.resize(crop, (narrow, crop.shape[0]), interpolation=cv2.INTER_AREA)
            crops.append(crop)  # a tall line (height >= 1.5 x width) was turned a quarter turn
        read = self.recognize(crops)
        keep = [i for i, (text, score) in enumerate(read) if text.strip() and score >= self._ocr.text_score]
        return [quads[i] for i in keep], [read[i][0] for i in keep], [read[i][1] for i in keep]


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


ENGINES = ("rapidocr", "rapidocr-reference", "tesseract", "none")
# What an engine name reads like: bumped when the same name gives other text (resumed annotate
# runs redo books read the older way). 2: the tuned `rapidocr-fast` path exists beside `rapidocr`.
# 3: `rapidocr` is the line-level path (detection on the scaled page, width-batched recognition);
# rapidocr's own pipeline is `rapidocr-reference`; `rapidocr-fast` is gone.
OCR_REVISION = 3


def make_engine(name: str, **kwargs):
    """An OCR engine by name (``none`` gives None)."""
    if name in ("rapidocr", "rapidocr-reference"):
        return RapidOcrEngine(reference=name == "rapidocr-reference", **kwargs)
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


# Vertical (tategaki) lettering is top-aligned: the columns of one balloon start within this many
# column widths of each other (OpenMantra, both books: never more than 0.26 in 808 pairs of
# neighbouring columns of one balloon; 47 of 53 pairs from two touching balloons differ by more
# than 0.3), so two columns starting further apart belong to two balloons.
TOP_ALIGNED = 0.5


def writing(box) -> int:
    """1: a clearly horizontal line (1.5 times as wide as tall), -1: clearly vertical, 0: either."""
    if box[2] >= 1.5 * box[3]:
        return 1
    return -1 if box[3] >= 1.5 * box[2] else 0


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
            if writing(a) * writing(b) < 0:  # a horizontal line never joins a vertical one
                continue
            if vertical:
                a, b = (a[1], a[0], a[3], a[2]), (b[1], b[0], b[3], b[2])
            size = min(a[3], b[3])
            gap = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]))
            overlap = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
            stacked = gap <= 1.0 * size and overlap >= 0.3 * min(a[2], b[2]) and max(a[3], b[3]) <= 1.6 * size
            if vertical and abs(a[0] - b[0]) > TOP_ALIGNED * size:
                stacked = False  # the columns of one balloon start at one height: two balloons side by side
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


REGION_PAPER = 0.93  # a closed region this close to the paper level is paper (a balloon)


def classify_block(
    block: TextBlock,
    grey: np.ndarray,
    panel: Box | None,
    median_line: float,
    paper: float = 255.0,
    tone: float | None = None,
) -> str:
    """dialogue / narration / sfx from visual cues, else unknown.

    - sfx: letters much taller than the page's usual lettering, not on paper (no balloon);
    - dialogue: on flat paper (a balloon), as light as the page's ``paper`` level (white, or the
      tone of yellowed paper: see :func:`.balloons.paper_level`);
    - narration: on a flat tinted box (a caption): any closed tinted region holding the block
      (captions float inside panels as often as they sit against an edge), or, read from the
      ring around the block, a tinted ground that sits against a panel edge.

    The ground under the lettering is ``tone`` when given (the median grey of the closed balloon
    or caption region holding the block: flat by construction), else a thin ring of pixels just
    outside the block's box (which crosses the outline of a balloon lettered close to its edge).
    A closed region counts as paper within ``REGION_PAPER`` of the paper level (compressed white
    balloons measure 0.96-0.98 of it; the lightest printed tint, a 10% screen, 0.90).
    """
    x, y, w, h = (round(v) for v in block.bbox)
    height, width = grey.shape
    # the lettering's size: a line's height, a vertical column's width (its height is its length)
    sizes = [t.bbox[2] if writing(t.bbox) < 0 else t.bbox[3] for t in block.lines]
    line_height = float(np.median(sizes)) if sizes else min(w, h)
    # sample the paper just outside the OCR box: a caption's padding is often under half a line
    pad = max(2, int(0.1 * line_height))
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(width, x + w + pad), min(height, y + h + pad)
    ring = np.concatenate([grey[y0, x0:x1], grey[y1 - 1, x0:x1], grey[y0:y1, x0], grey[y0:y1, x1 - 1]])
    if tone is not None:
        local, flat = float(tone), 1.0
    elif ring.size == 0:
        return "unknown"
    else:
        local = float(np.median(ring))
        flat = float(np.mean(np.abs(ring.astype(float) - local) < 12))
    if line_height >= 1.8 * median_line and not (flat > 0.8 and local > 0.78 * paper):
        return "sfx"
    if flat < 0.7 or local < 0.59 * paper:
        return "unknown"
    if tone is not None:  # a closed region: paper is a balloon, a tint a caption box
        return "dialogue" if local >= REGION_PAPER * paper else "narration"
    if local >= 0.97 * paper:
        return "dialogue"  # paper: a balloon
    if panel is not None:
        px, py, pw, ph = panel
        margin = max(0.12 * min(pw, ph), 2.5 * line_height)  # caption padding is about a line
        if min(x - px, y - py, px + pw - (x + w), py + ph - (y + h)) <= margin:
            return "narration"  # a tinted caption box against the panel's edge
    return "unknown"
