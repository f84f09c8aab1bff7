"""COMICS text cloze (Iyyer et al., CVPR 2017), zero-shot text protocol.

Each row gives the lettered text of three context panels and three candidate texts for the next
panel. Zero-shot: embed the context and each candidate with a text encoder and pick the
candidate whose (L2-normalised) embedding is closest to the context's (cosine). No training on
the folds. Context modes:

- ``all`` (default): the text boxes of the three context panels, in order, joined by spaces;
- ``last``: the boxes of the last context panel only (the panel right before the answer).

A context with no text at all is embedded as the empty string (the encoder decides; it counts
as a normal row, never dropped). Accuracy comes with a percentile bootstrap 95% interval over
rows (fixed seed). Encoders: any Hugging Face text model by name or folder (mean pooling over
tokens, as sentence-transformers does for MiniLM; ``"minilm"`` is the offline all-MiniLM-L6-v2
package), or the text tower of a Closure Lite model folder (``embed_text``: the query path
into the panel space). Both come from :mod:`comics_analysis.inference` (``TextEncoder``,
``closure_lite_text_encoder``).

Published numbers on the same folds (trained models, from the COMICS paper and ComicVT5) are
in :data:`PUBLISHED` for the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..dataspec import format_table
from ..inference.closure_lite import closure_lite_text_encoder
from ..inference.text import TextEncoder
from ..metrics.intervals import accuracy_with_interval
from .report import run_info

log = logging.getLogger(__name__)

CHANCE = 1 / 3
CONTEXT_MODES = ("all", "last")
# Accuracy (%) of published systems on the test folds: (system, easy, hard, source).
PUBLISHED = (
    ("text-only (NC-text, trained)", 63.4, 52.9, "Iyyer et al. 2017, Table 3"),
    ("image+text (NC-image+text, trained)", 68.6, 61.0, "Iyyer et al. 2017, Table 3"),
    ("ComicVT5", 79.1, 71.3, "Vivoli et al. 2022 (ComicVT5)"),
    ("random", 33.3, 33.3, "1 / 3 candidates"),
)


def context_text(context_texts: Sequence[Sequence[str]], mode: str = "all") -> str:
    """The context of one row as one string (boxes joined by spaces, panels in order)."""
    if mode not in CONTEXT_MODES:
        raise ValueError(f"unknown context mode {mode!r}; expected one of {CONTEXT_MODES}")
    panels = list(context_texts) if mode == "all" else list(context_texts)[-1:]
    return " ".join(box.strip() for panel in panels for box in panel if box.strip())


# --- encoders --------------------------------------------------------------------------------
Encoder = Callable[[Sequence[str]], np.ndarray]  # texts -> [N, D] L2-normalised float32


def hf_text_encoder(name_or_path: str = "minilm", batch_size: int = 64, max_length: int = 128) -> Encoder:
    """The protocol's settings of the mean-pooled HF text encoder
    (:class:`comics_analysis.inference.text.TextEncoder`; ``"minilm"``: the offline
    all-MiniLM-L6-v2 package, weights checked by SHA-256): at most ``max_length`` tokens, and
    an empty context is encoded as the empty string (module docstring)."""
    return TextEncoder(
        name_or_path, batch_size=batch_size, max_length=max_length, encode_empty=True, progress=True
    )


def memoised(encoder: Encoder) -> Encoder:
    """``encoder`` with a text -> vector memory, so several protocols over the same rows (e.g. the
    context modes) encode each distinct text once."""
    memory: dict[str, np.ndarray] = {}

    def encode(texts: Sequence[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in memory))
        if new:
            memory.update(zip(new, encoder(new)))
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack([memory[t] for t in texts])

    return encode


def encode_unique(encoder: Encoder, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """Embeddings of the distinct texts and, per input, the row of its embedding."""
    index: dict[str, int] = {}
    rows = [index.setdefault(t, len(index)) for t in texts]
    distinct = list(index)
    # encoded shortest first, so a batch pads to similar lengths; rows put back in place after
    order = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
    encoded = encoder([distinct[i] for i in order])
    vectors = np.empty_like(encoded)
    vectors[order] = encoded
    return vectors, rows


# --- protocol --------------------------------------------------------------------------------
@dataclass
class ClozeResult:
    encoder: str
    context: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    chance: float = CHANCE
    predictions: list[int] = field(default_factory=list, repr=False)

    def as_dict(self, with_predictions: bool = False) -> dict:
        out = asdict(self)
        if not with_predictions:
            out.pop("predictions")
        return out


def predict_cloze(rows: Sequence[dict], encoder: Encoder, context: str = "all") -> list[int]:
    """Index of the best-scoring candidate per row (rows of the ``comics_closure`` builder)."""
    contexts = [context_text(row["context_texts"], context) for row in rows]
    candidates = [c for row in rows for c in row["candidates"]]
    vectors, where = encode_unique(encoder, contexts + candidates)
    ctx = vectors[where[: len(contexts)]]
    cand_rows = where[len(contexts) :]
    predictions, k = [], 0
    for i, row in enumerate(rows):
        n = len(row["candidates"])
        if n == 0:
            raise ValueError(f"row {row.get('row', i)}: no candidates")
        scores = vectors[cand_rows[k : k + n]] @ ctx[i]
        predictions.append(int(np.argmax(scores)))  # ties: the first candidate
        k += n
    return predictions


def evaluate_cloze(
    rows: Sequence[dict],
    encoder: Encoder,
    encoder_name: str,
    context: str = "all",
    n_resamples: int = 1000,
    seed: int = 0,
) -> ClozeResult:
    """Zero-shot accuracy of ``encoder`` on cloze rows, with a bootstrap 95% interval."""
    predictions = predict_cloze(rows, encoder, context)
    scores = accuracy_with_interval(predictions, [row["answer"] for row in rows], n_resamples, seed)
    return ClozeResult(
        encoder=encoder_name,
        context=context,
        n=scores["n"],
        accuracy=scores["accuracy"],
        ci_low=scores["ci_low"],
        ci_high=scores["ci_high"],
        predictions=predictions,
    )


# --- one run: a fold, an encoder, every context mode ------------------------------------------
@dataclass
class ClozeRun:
    """What :func:`run_closure_text` evaluated: one result per context mode."""

    split: str
    difficulty: str
    file: Path
    results: list[ClozeResult]

    def table(self) -> str:
        """Accuracy (%) with its 95% interval per encoder and context mode."""
        rows = [
            [
                r.encoder,
                r.context,
                r.n,
                f"{100 * r.accuracy:.1f}",
                f"{100 * r.ci_low:.1f}-{100 * r.ci_high:.1f}",
            ]
            for r in self.results
        ]
        return format_table(["encoder", "context", "rows", "accuracy %", "95% CI"], rows)

    def summary_text(self) -> str:
        """The table and the published numbers."""
        published = "; ".join(f"{s} {e} (easy)" for s, e, _, _ in PUBLISHED)
        return f"{self.table()}\npublished (test folds, trained): {published}"

    def payload(self) -> dict:
        """The results for the benchmark report (with date, machine, commit)."""
        return {
            "benchmark": "comics-text-cloze",
            "fold": f"{self.split}-{self.difficulty}",
            "file": self.file.name,
            "protocol": "zero-shot: cosine between the context embedding and each candidate's",
            **run_info(),
            "results": [r.as_dict() for r in self.results],
            "published": [{"system": s, "easy": e, "hard": h, "source": src} for s, e, h, src in PUBLISHED],
        }


def run_closure_text(
    data: str | Path,
    *,
    split: str = "dev",
    difficulty: str = "easy",
    encoder: str = "minilm",
    model: str | Path | None = None,
    contexts: Sequence[str] = ("all",),
    resamples: int = 1000,
    seed: int = 0,
    limit: int | None = None,
) -> ClozeRun:
    """Zero-shot text cloze on the fold ``text_cloze_<split>_<difficulty>.csv`` in ``data``, in
    every context mode of ``contexts``. The encoder is the HF text model ``encoder``, or the text
    tower of the Closure Lite model folder ``model`` when given."""
    # lazy: the builder imports `datasets`
    from ..dataset_builders.comics_closure import fold_files, read_fold

    files = fold_files(data, difficulty)
    if split not in files:
        raise FileNotFoundError(
            f"no text_cloze_{split}_{difficulty}.csv in {data} (found splits: {', '.join(files) or 'none'})"
        )
    rows = list(read_fold(files[split]))
    if limit:
        rows = rows[:limit]
    if model is not None:
        encode, name = closure_lite_text_encoder(model), f"closure-lite:{Path(model).name}"
    else:
        encode, name = hf_text_encoder(encoder), encoder
    encode = memoised(encode)  # candidates are encoded once for all context modes
    results = [evaluate_cloze(rows, encode, name, context, resamples, seed) for context in contexts]
    return ClozeRun(split=split, difficulty=difficulty, file=files[split], results=results)
