"""The training configurations of both models (DESIGN 4.1, 4.2): plain dataclasses, light to import
(no torch), so that the CLI builds its ``train`` flags from them (one flag per field, the
dataclass default as the only default, the help text from the field's ``metadata["help"]``).

Field metadata the CLI reads: ``help``; ``flags`` (extra option names kept for users, e.g.
``--lr``); ``negative`` (an extra flag that sets a boolean field to False, e.g. ``--no-layout``);
``choices``; ``const`` (the value of a flag given without one); ``positive`` (a whole number >= 1).
Errors raised here name the fields, never flags.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from typing import Any

VARIANT_NAMES = ("base", "denoise", "context", "context-denoise")  # = modeling.closure_lite.VARIANTS
METRICS = (
    "next_panel_accuracy",
    "reading_order_exact",
    "reading_order_kendall_tau",
    "panel_page_recall@1",
    "panel_page_recall@10",
    "text_panel_recall@10",
    "image_panel_recall@10",
    "loss",
)
MIXED_PRECISION = ("auto", "no", "fp16", "bf16")


def arg(default: Any = MISSING, help: str = "", **meta) -> Any:
    """A dataclass field with its help text (and CLI hints) in the metadata; no default: a required
    field."""
    return field(default=default, metadata={"help": help, **meta})


def _check_choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        shown = ", ".join("None" if c is None else str(c) for c in choices)
        raise ValueError(f"{name}: expected one of {shown}, got {value!r}")


def _check_positive(config: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if value is not None and int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


@dataclass
class TrainConfig:
    """Everything a Closure Lite run depends on (saved as ``OUT/train_config.json``)."""

    out: str = arg("runs/closure-lite", "run folder")
    dataset: str = arg(
        "synthetic",
        "'synthetic', synthetic:N_BOOKS[:SEED], an annotate folder, DataSpec files, a comic_pages export "
        "or a save_to_disk folder",
    )
    real_pages: list[str] = field(
        default_factory=list,
        metadata={
            "help": "real page sources mixed into the training pages of dataset, all of them train "
            "(ACBF book, OpenMantra annotation.json, DataSpec files, annotate folder, comic_pages export; "
            "repeatable)"
        },
    )
    hold_out_books: list[str] = field(
        default_factory=list,
        metadata={
            "help": "real books left out of real_pages (book id or its start, e.g. balloon-dream; repeatable)"
        },
    )
    real_repeat: int = arg(1, "each real page is drawn this many times per epoch", positive=True)
    cache_features: bool = arg(
        True,
        "cache frozen towers' outputs: vision per panel crop, text per distinct panel text (in memory; "
        "epochs after the first skip the towers)",
    )
    feature_cache_dir: str | None = arg(None, "also keep the cached tower outputs here, for later runs")
    data_config: str | None = arg(None, "comic_pages config of an export (default aligned, else all)")
    image_root: str | None = arg(None, "root of the records' image paths (default: as recorded)")
    variant: str = arg("base", "model variant (switches of the losses)", choices=VARIANT_NAMES)
    model_config: str = arg("tiny", "tiny, lite, base or a config.json / model folder")
    model_overrides: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "override a ClosureLiteConfig field (KEY=VALUE, repeatable)", "flags": ("--set",)},
    )
    use_layout: bool = arg(True, "panel position / layout features", negative=("--no-layout",))
    steps: int = arg(1000, "optimiser steps", positive=True)
    batch_size: int = arg(16, "pages per process per micro-step", positive=True)
    grad_accum: int = arg(1, "micro-steps per optimiser step", positive=True)
    learning_rate: float = arg(5e-4, "peak learning rate of the heads", flags=("--lr",))
    backbone_lr_mult: float = arg(0.1, "learning-rate multiplier of the towers")
    weight_decay: float = arg(0.01, "AdamW weight decay (not on biases and norms)")
    warmup_steps: int = arg(50, "optimiser steps of linear warm-up")
    min_lr_ratio: float = arg(0.0, "learning rate at the end of the cosine, as a share of the peak")
    max_grad_norm: float = arg(1.0, "clip gradients to this norm (0: off)")
    mixed_precision: str = arg("auto", "auto: bf16/fp16 on a GPU, fp32 on CPU", choices=MIXED_PRECISION)
    seed: int = arg(0, "seed of the model, the data order and the synthetic pages")
    freeze_backbones: str = arg(
        "none", "freeze the towers (no value: both)", choices=("none", "vision", "text", "both"), const="both"
    )
    lora: str | None = arg(
        None,
        "PEFT LoRA adapters on the towers (no value: auto, the pretrained ones); the rest trains fully",
        choices=("auto", "vision", "text", "both"),
        const="auto",
    )
    lora_r: int = arg(8, "LoRA rank", positive=True)
    lora_alpha: int = arg(16, "LoRA alpha")
    lora_dropout: float = arg(0.0, "LoRA dropout")
    eval_every: int = arg(200, "evaluate on the held-out pages every N optimiser steps", positive=True)
    eval_batch_size: int = arg(32, "pages per evaluation batch", positive=True)
    max_eval_pages: int | None = arg(
        None, "evaluate on the first N held-out pages (default all)", positive=True
    )
    save_every: int | None = arg(None, "checkpoint every N steps (default: eval_every)", positive=True)
    keep_checkpoints: int = arg(2, "checkpoints kept in OUT/checkpoints (the last N)", positive=True)
    overwrite: bool = arg(False, "start afresh in a run folder that holds a run (its checkpoints go)")
    best_metric: str = arg(
        "next_panel_accuracy", "validation metric that picks OUT/best: " + ", ".join(METRICS)
    )
    log_every: int = arg(10, "log the training losses every N optimiser steps", positive=True)
    max_time_s: float | None = arg(
        None, "stop (evaluate, save) after this many seconds of wall time", flags=("--max-time",)
    )
    stop_after: int | None = arg(
        None, "pause after N optimiser steps of this invocation (then resume)", positive=True
    )
    val_fraction: float = arg(0.1, "books held out when the dataset has no validation split")
    synthetic_pages: int = arg(800, "synthetic training pages", positive=True)
    synthetic_val_pages: int = arg(100, "synthetic validation pages (another seed)", positive=True)
    synthetic_size: tuple[int, int] = arg((530, 800), "WIDTHxHEIGHT of synthetic pages")
    max_text_length: int | None = arg(None, "tokens per panel text (default: the processor's)", positive=True)
    report_to: str = arg("auto", "Accelerate trackers: auto (tensorboard if installed), none, names")
    show_progress: bool = arg(True, "progress bar")

    def __post_init__(self):
        _check_choice("variant", self.variant, VARIANT_NAMES)
        _check_choice("freeze_backbones", self.freeze_backbones, ("none", "vision", "text", "both"))
        _check_choice("lora", self.lora, (None, "auto", "vision", "text", "both"))
        _check_choice("best_metric", self.best_metric, METRICS)
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _check_positive(
            self,
            (
                "steps",
                "batch_size",
                "grad_accum",
                "eval_every",
                "eval_batch_size",
                "log_every",
                "keep_checkpoints",
                "real_repeat",
            ),
        )
        self.synthetic_size = tuple(self.synthetic_size)
        self.real_pages, self.hold_out_books = list(self.real_pages), list(self.hold_out_books)

    @property
    def checkpoint_every(self) -> int:
        return self.save_every or self.eval_every


@dataclass
class PssTrainConfig:
    """Settings of :func:`~comics_analysis.training.cosmo_pss.train_pss` (all stored in
    ``OUT/train_config.json``)."""

    features: str = arg(help="feature store of the training books (`pss features`)")
    out: str = arg(help="run folder")
    val_features: str | None = arg(None, "validation feature store (default: val_fraction of the books)")
    val_fraction: float = arg(0.2, "books held out for validation when val_features is not given")
    extra_features: list[str] = field(
        default_factory=list,
        metadata={
            "help": "more feature stores of labelled books (e.g. real books with ComicInfo or hand "
            "labels) trained on beside FEATURES, every book (repeatable); validation stays on FEATURES"
        },
    )
    extra_repeat: int = arg(
        8, "windows per extra book = this x windows_per_book (a few real books beside many synthetic)"
    )
    exclude_books: list[str] = field(
        default_factory=list,
        metadata={
            "help": "book ids never trained on, in any store (e.g. the held-out book of a "
            "leave-one-book-out run; repeatable)"
        },
    )
    page_stats: bool = arg(
        True,
        "read the page statistics (`pss features --page-stats`) beside the vision and text vectors "
        "when every store has them",
    )
    seed: int = arg(0, "seed of the model, the split and the windows")
    epochs: int = arg(30, "passes over the training books")
    windows_per_book: int = arg(4, "random windows per book and epoch")
    balanced_windows: float = arg(
        0.5,
        "extra windows per epoch, this x the random ones, each holding a page of a class drawn "
        "uniformly (rare classes: pin-ups, blank pages; 0: none)",
    )
    stats_projection: bool = arg(
        True, "page statistics through their own projection beside the vision vector's (page_stats)"
    )
    window_range: tuple[int, int] = arg((8, 48), "window length range in pages, e.g. 8-48")
    batch_size: int = arg(16, "windows per optimiser step")
    learning_rate: float = arg(1e-3, "AdamW learning rate", flags=("--lr",))
    weight_decay: float = arg(0.01, "AdamW weight decay")
    label_smoothing: float = arg(0.0, "label smoothing of the page-type loss")
    patience: int = arg(5, "epochs without a better validation model (select_by) before stopping")
    select_by: str = arg(
        "macro_f1_nll",
        "how the best epoch is chosen: validation macro-F1, ties broken by the lower validation "
        "negative log-likelihood of the true page types (macro_f1_nll), or macro-F1 alone, the "
        "first epoch that reaches the highest (macro_f1: runs before 2026-12-02)",
        choices=("macro_f1", "macro_f1_nll"),
    )
    eval_window: int = arg(32, "pages per validation window")
    eval_stride: int = arg(16, "stride of the validation windows")
    hidden_size: int = arg(128, "width of the encoder")
    layers: int = arg(2, "encoder layers")
    heads: int = arg(4, "attention heads")
    transitions: str = arg(
        "counted", "page-type transitions of the Viterbi", choices=("none", "counted", "learned")
    )
    max_offset: int = arg(64, "random position offset range (tokens), position_mode random_offset")
    threads: int | None = arg(None, "torch threads (default: torch's)")
    model_overrides: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "override a CosmoPssConfig field (KEY=VALUE, repeatable)", "flags": ("--set",)},
    )
    mixed_precision: str = arg("no", "auto: bf16/fp16 on a GPU, fp32 on CPU", choices=MIXED_PRECISION)
    keep_checkpoints: int = arg(2, "checkpoints kept in OUT/checkpoints (the last N)", positive=True)
    overwrite: bool = arg(False, "start afresh in a run folder that holds a run (its checkpoints go)")
    report_to: str = arg("none", "Accelerate trackers: auto (tensorboard if installed), none, names")
    show_progress: bool = arg(True, "progress bar")

    def __post_init__(self):
        _check_choice("transitions", self.transitions, ("none", "counted", "learned"))
        _check_choice("select_by", self.select_by, ("macro_f1", "macro_f1_nll"))
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _check_positive(self, ("batch_size", "windows_per_book", "keep_checkpoints", "extra_repeat"))
        if self.balanced_windows < 0:
            raise ValueError(f"balanced_windows must be >= 0, got {self.balanced_windows}")
        self.window_range = tuple(self.window_range)


__all__ = ["METRICS", "VARIANT_NAMES", "PssTrainConfig", "TrainConfig", "arg"]
