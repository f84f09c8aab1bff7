"""ComicsPAP (Comics: Pick-A-Panel; VLR-CVC/ComicsPAP, arXiv 2503.08561): protocols and metrics.

Five skills; each sample has context panels, a slot ``index`` among them, options, and the
right option ``solution_index`` (hidden on ``test``). Metric: accuracy per skill; the total is
the sample-weighted mean over skills; the random baseline is the mean of 1 / len(options).

Two protocols:

- **VLM** (the authors' single-image protocol, as in llabres/ComicsPAP ``data_utils.py`` and
  ``evaluate.py``): :func:`render_single_image` draws the sample as one picture, the skill's
  prompt (:data:`PROMPTS`) + ``"context: <previous_panel_caption>"`` goes with it through our
  OpenAI-compatible :class:`~comics_analysis.annotate.vlm.VlmClient`, and
  :func:`parse_answer` reads the option number.
- **embedding** (ours): a Closure Lite model scores each option by the similarity between the
  context (page embedding of the context panels laid out as a strip, plus the caption's text
  embedding when there is one) and the option's panel embedding when it is inserted into the
  strip at ``index`` (contextualised by its neighbours). Without context panels
  (caption_relevance) the option is embedded alone (``embed_image``).

Results are written in the authors' layout: ``results_<skill>.json`` (a list; on labelled splits
its first entry is ``{"sample_id": "summary", "accuracy", "total_samples"}``, then one entry per
sample) and ``overall_results.json`` (``overall_accuracy``, ``total_samples``,
``skill_results``), plus our ``random_baseline`` and ``protocol`` keys.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..annotate.vlm import VlmClient, VlmConfig, VlmError
from ..dataspec import format_table
from ..inference.closure_lite import load_closure_lite
from ..metrics.comicspap import overall_results, skill_results
from .report import run_info

log = logging.getLogger(__name__)

SKILLS = ("sequence_filling", "char_coherence", "visual_closure", "text_closure", "caption_relevance")

# The authors' rendering constants (data_utils.py, SingleImagePickAPanel).
MAX_SIZE = 500  # longest side of each panel after resizing (only larger panels shrink)
MARGIN = 10  # horizontal gap between panels in a row
LABEL_SPACE = 20  # height of the "Context" / "Options" label rows
LABEL_FONT_SIZE = 20
NUMBER_FONT_SIZE = 24
MASK_GREY = (200, 200, 200)
NUMBER_PADDING = 2

# The prompts their evaluate.py sends with single images (the collators select the
# "train_single_image" set at evaluation time too), followed by "context: <caption>".
_TWO_ROWS = (
    "Pick A Panel Task: In the image you have two rows of comic panels. The top row is the context and "
    "the bottom row is the options. The context row has a missing panel marked with a question mark. "
    "Choose the option that best fits the missing panel. You must return your final answer as a number "
    "with 'answer: <your answer here>'\n\n"
)
_ONE_ROW = (
    "Pick A Panel Task: In the image you have a row of comic panels. From the options pick the panel "
    "that best follows the context caption. You must return your final answer as a number with "
    "'answer: <your answer here>'\n\n"
)
PROMPTS = {skill: (_ONE_ROW if skill == "caption_relevance" else _TWO_ROWS) for skill in SKILLS}
PROMPT_VERSION = "comicspap-single-image-1"

_ANSWER = re.compile(r"answer:\s*(\d+)")
_INTEGER = re.compile(r"\d+")


def parse_answer(text: str | None) -> int:
    """The option number in a model's answer: ``answer: N`` (case-insensitive), else the first
    integer anywhere, else -1."""
    if not text:
        return -1
    match = _ANSWER.search(text.lower())
    if match:
        return int(match.group(1))
    match = _INTEGER.search(text)
    return int(match.group(0)) if match else -1


def user_prompt(skill: str, previous_panel_caption: str | None) -> str:
    """The text sent with the rendered image: the skill's prompt, then ``context: <caption>``
    (a null caption reads ``None``, as in the authors' f-string)."""
    if skill not in PROMPTS:
        raise ValueError(f"unknown ComicsPAP skill {skill!r}; expected one of {', '.join(SKILLS)}")
    return PROMPTS[skill] + f"context: {previous_panel_caption}"


# --- rendering ---------------------------------------------------------------------------------
def default_font_path() -> str:
    """DejaVu Sans from matplotlib's wheel (the authors used Arial, which we cannot ship)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the ComicsPAP renderer needs a TrueType font: pass font_path or install matplotlib"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"font {path} not found; pass font_path")
    return str(path)


@dataclass
class Rendering:
    """A rendered sample and where things are on it (boxes are (left, top, right, bottom))."""

    image: Image.Image
    panel_size: tuple[int, int]
    context_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # incl. the "?" panel
    mask_box: tuple[int, int, int, int] | None = None
    option_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    context_label_y: int | None = None
    options_label_y: int = 0


def shrink(image: Image.Image, max_size: int = MAX_SIZE) -> Image.Image:
    """Aspect-kept resize so the longest side is at most ``max_size`` (sizes truncated to int)."""
    if max(image.size) > max_size:
        ratio = max_size / max(image.size)
        return image.resize(tuple(int(d * ratio) for d in image.size), Image.Resampling.LANCZOS)
    return image


def mask_panel(width: int, height: int, font_path: str) -> Image.Image:
    """A grey panel with a black "?" of 0.8 x its height, centred by its bounding box size."""
    panel = Image.new("RGB", (width, height), MASK_GREY)
    draw = ImageDraw.Draw(panel)
    font = ImageFont.truetype(font_path, max(1, int(height * 0.8)))
    left, top, right, bottom = draw.textbbox((0, 0), "?", font=font)
    draw.text(((width - (right - left)) // 2, (height - (bottom - top)) // 2), "?", fill="black", font=font)
    return panel


def render_single_image(
    context: Sequence[Image.Image],
    options: Sequence[Image.Image],
    index: int,
    font_path: str | None = None,
    max_size: int = MAX_SIZE,
    margin: int = MARGIN,
    label_space: int = LABEL_SPACE,
) -> Rendering:
    """One picture of a sample: "Context" label, the context row with a grey "?" panel at
    ``index``, "Options" label, the options row with each option's number (0-based) at its
    bottom right on a white patch. Every panel is first shrunk to ``max_size``, then all are
    resized to the median width and median height. Rows are centred; without context (caption
    relevance) only the options row is drawn."""
    if not options:
        raise ValueError("a ComicsPAP sample needs at least one option")
    font_path = font_path or default_font_path()
    context = [shrink(im.convert("RGB"), max_size) for im in context]
    options = [shrink(im.convert("RGB"), max_size) for im in options]
    panels = context + options
    width = int(np.median([im.width for im in panels]))
    height = int(np.median([im.height for im in panels]))
    context = [im.resize((width, height)) for im in context]
    options = [im.resize((width, height)) for im in options]
    mask_at = None
    if context:
        if not 0 <= index <= len(context):
            raise ValueError(f"index {index} is outside 0..{len(context)}")
        context.insert(index, mask_panel(width, height, font_path))
        mask_at = index

    def row_width(n: int) -> int:
        return width * n + margin * (n - 1)

    canvas_w = max(row_width(len(context)), row_width(len(options))) if context else row_width(len(options))
    canvas_h = (height + label_space) * (2 if context else 1)
    canvas = Image.new("RGB", (canvas_w, canvas_h), "white")
    draw = ImageDraw.Draw(canvas)
    label_font = ImageFont.truetype(font_path, LABEL_FONT_SIZE)
    number_font = ImageFont.truetype(font_path, NUMBER_FONT_SIZE)
    out = Rendering(canvas, (width, height))

    def label(text: str, y: int) -> None:
        left, _, right, _ = draw.textbbox((0, 0), text, font=label_font)
        draw.text(((canvas_w - (right - left)) // 2, y), text, fill="black", font=label_font)

    def paste_row(row: Sequence[Image.Image], y: int) -> list[tuple[int, int, int, int]]:
        x = (canvas_w - row_width(len(row))) // 2
        boxes = []
        for panel in row:
            canvas.paste(panel, (x, y))
            boxes.append((x, y, x + width, y + height))
            x += width + margin
        return boxes

    y = 0
    if context:
        out.context_label_y = y
        label("Context", y)
        y += label_space
        out.context_boxes = paste_row(context, y)
        out.mask_box = out.context_boxes[mask_at]
        y += height
    out.options_label_y = y
    label("Options", y)
    y += label_space
    out.option_boxes = paste_row(options, y)
    for number, (_, _, right, bottom) in enumerate(out.option_boxes):
        left_, top_, right_, bottom_ = draw.textbbox((0, 0), str(number), font=number_font)
        tx = right - (right_ - left_) - NUMBER_PADDING
        ty = bottom - (bottom_ - top_) - NUMBER_PADDING
        draw.rectangle(
            [
                (tx - NUMBER_PADDING, ty - NUMBER_PADDING),
                (tx + (right_ - left_) + NUMBER_PADDING, ty + (bottom_ - top_) + NUMBER_PADDING),
            ],
            fill="white",
        )
        draw.text((tx, ty), str(number), fill="black", font=number_font)
    return out


# --- results files ---------------------------------------------------------------------------
def write_results(out_dir: str | Path, per_skill: dict[str, list[dict]], overall: dict) -> list[Path]:
    """results_<skill>.json per skill and overall_results.json in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for skill, entries in per_skill.items():
        path = out_dir / f"results_{skill}.json"
        path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    path = out_dir / "overall_results.json"
    path.write_text(json.dumps(overall, indent=2) + "\n", encoding="utf-8")
    return [*written, path]


# --- protocols ---------------------------------------------------------------------------------
Predictor = Callable[[Sequence[dict], str], tuple[list[int], list[str | None]]]


def vlm_predictor(client, font_path: str | None = None, concurrency: int = 4) -> Predictor:
    """Predictions by a VLM (a :class:`~comics_analysis.annotate.vlm.VlmClient`) through the
    single-image rendering. Failed requests (retries exhausted) count as -1, with the error kept."""

    def predict(samples: Sequence[dict], skill: str) -> tuple[list[int], list[str | None]]:
        async def one(sample, gate):
            image = render_single_image(
                sample["context"], sample["options"], sample["index"], font_path
            ).image
            async with gate:
                try:
                    answer = await client.ask(image, user_prompt(skill, sample["previous_panel_caption"]))
                except VlmError as exc:
                    log.warning("%s %s: %s", skill, sample["sample_id"], exc)
                    return -1, f"ERROR: {exc}"
            return parse_answer(answer.text), answer.text

        async def run():
            gate = asyncio.Semaphore(concurrency)
            return await asyncio.gather(*(one(s, gate) for s in samples))

        pairs = asyncio.run(run())
        return [p for p, _ in pairs], [t for _, t in pairs]

    return predict


def strip_page(panels: Sequence[Image.Image], height: int = 256, gap: int = 16):
    """Panels laid out left to right at one height as (image, page record) for the processor."""
    sized = [p.convert("RGB").resize((max(1, round(p.width * height / p.height)), height)) for p in panels]
    width = sum(p.width for p in sized) + gap * (len(sized) + 1)
    canvas = Image.new("RGB", (width, height + 2 * gap), "white")
    boxes, x = [], gap
    for panel in sized:
        canvas.paste(panel, (x, gap))
        boxes.append([float(x), float(gap), float(panel.width), float(height)])
        x += panel.width + gap
    record = {
        "width": canvas.width,
        "height": canvas.height,
        "reading_direction": "ltr",
        "panels": [{"bbox": box, "text": {}} for box in boxes],
    }
    return canvas, record


def embedding_predictor(model, processor) -> Predictor:
    """Predictions by a Closure Lite model (see the module docstring)."""
    import torch

    def scores(sample: dict) -> np.ndarray:
        context, options, index = list(sample["context"]), list(sample["options"]), sample["index"]
        caption = (sample.get("previous_panel_caption") or "").strip()
        with torch.no_grad():
            parts = []
            if context:
                image, record = strip_page(context)
                parts.append(model.embed_pages(**processor([image], [record]))[0])
            if caption:
                parts.append(model.embed_text(**processor.text_queries([caption]))[0])
            if not parts:
                raise ValueError(f"sample {sample['sample_id']}: neither context panels nor a caption")
            query = torch.nn.functional.normalize(torch.stack(parts).float().mean(0), dim=-1)
            if context:
                strips = [strip_page([*context[:index], option, *context[index:]]) for option in options]
                batch = processor([s[0] for s in strips], [s[1] for s in strips])
                batch.pop("order", None)
                out = model(**batch, return_loss=False)
                vectors = out.panel_embeddings[:, index]
            else:
                vectors = model.embed_image(**processor.image_queries(options))
        return (vectors.float() @ query).cpu().numpy()

    def predict(samples: Sequence[dict], skill: str) -> tuple[list[int], list[str | None]]:
        predictions, texts = [], []
        for sample in samples:
            s = scores(sample)
            predictions.append(int(np.argmax(s)))
            texts.append(json.dumps([round(float(v), 5) for v in s]))
        return predictions, texts

    return predict


def evaluate_skills(
    samples_by_skill: dict[str, Sequence[dict]], predictor: Predictor, protocol: str
) -> tuple[dict[str, list[dict]], dict]:
    """(results per skill, overall results) of ``predictor`` on samples grouped by skill."""
    per_skill, counts = {}, {}
    for skill, samples in samples_by_skill.items():
        predictions, texts = predictor(samples, skill)
        per_skill[skill] = skill_results(skill, samples, predictions, texts)
        counts[skill] = [len(s["options"]) for s in samples]
    overall = overall_results(per_skill, counts)
    overall["protocol"] = protocol
    return per_skill, overall


# --- one run: samples, predictor, results files, summary ---------------------------------------
@dataclass
class ComicsPapRun:
    """What :func:`run_comicspap` evaluated and wrote."""

    split: str
    per_skill: dict[str, list[dict]]
    overall: dict
    out: Path
    written: list[Path]

    def table(self) -> str:
        """Accuracy and random baseline (%) per skill and in total."""

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{100 * value:.1f}"

        rows = [
            [skill, r["num_examples"], pct(r.get("accuracy")), pct(r["random_baseline"])]
            for skill, r in self.overall["skill_results"].items()
        ]
        total = self.overall
        rows.append(
            ["total", total["total_samples"], pct(total["overall_accuracy"]), pct(total["random_baseline"])]
        )
        return format_table(["skill", "samples", "accuracy %", "random %"], rows)

    def summary_text(self) -> str:
        """The table and where the results files went."""
        return f"{self.table()}\nwrote {len(self.written)} files to {self.out}"

    def payload(self) -> dict:
        """The summary for the benchmark report (with date, machine, commit)."""
        return {"benchmark": "comicspap", "split": self.split, **run_info(), "overall": self.overall}


def load_samples(
    data_dir: str | Path | None, split: str, skills: Sequence[str] | None = None, limit: int | None = None
) -> dict[str, list[dict]]:
    """The samples of ``skills`` (default all five) on ``split``, the first ``limit`` per skill."""
    # lazy: the builder imports `datasets`
    from ..dataset_builders.comicspap import load_comicspap

    samples = {}
    for skill in skills or SKILLS:
        ds = load_comicspap(skill, data_dir=data_dir, split=split)
        if limit:
            ds = ds.select(range(min(limit, ds.num_rows)))
        samples[skill] = list(ds)
    return samples


def make_predictor(
    protocol: str,
    *,
    model: str | Path | None = None,
    vlm_model: str | None = None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    max_side: int = 4096,
    max_tokens: int = 512,
    timeout: float = 120.0,
    concurrency: int = 4,
    cache_dir: str | Path | None = None,
    font_path: str | None = None,
) -> tuple[Predictor, str]:
    """(predictor, protocol name) of the ``"vlm"`` protocol (``vlm_model`` at ``base_url``) or the
    ``"embedding"`` protocol (the Closure Lite model folder ``model``)."""
    if protocol == "vlm":
        if not (vlm_model and base_url):
            raise ValueError('protocol="vlm" needs vlm_model and base_url')
        config = VlmConfig(
            model=vlm_model,
            base_url=base_url,
            api_key_env=api_key_env,
            max_side=max_side,
            max_tokens=max_tokens,
            timeout=timeout,
            json_mode=False,
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
        predictor = vlm_predictor(VlmClient(config), font_path=font_path, concurrency=concurrency)
        return predictor, f"vlm:{vlm_model} ({PROMPT_VERSION})"
    if protocol == "embedding":
        if model is None:
            raise ValueError('protocol="embedding" needs model (a Closure Lite model folder)')
        loaded = load_closure_lite(model)
        return embedding_predictor(
            loaded.model, loaded.processor
        ), f"embedding:closure-lite:{Path(model).name}"
    raise ValueError(f'unknown protocol {protocol!r}; expected "vlm" or "embedding"')


def run_comicspap(
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    split: str = "val",
    skills: Sequence[str] | None = None,
    protocol: str = "vlm",
    limit: int | None = None,
    cache_dir: str | Path | None = None,
    **predictor_options,
) -> ComicsPapRun:
    """Evaluate one protocol on ComicsPAP and write the authors' results files to ``out``.

    ``predictor_options`` go to :func:`make_predictor` (``model``, ``vlm_model``, ``base_url``,
    ...); the VLM answer cache defaults to ``out/cache``."""
    out = Path(out)
    predictor, name = make_predictor(protocol, cache_dir=cache_dir or out / "cache", **predictor_options)
    samples = load_samples(data_dir, split, skills, limit)
    per_skill, overall = evaluate_skills(samples, predictor, name)
    written = write_results(out, per_skill, overall)
    return ComicsPapRun(split=split, per_skill=per_skill, overall=overall, out=out, written=written)
