"""CoSMo PSS configuration (DESIGN 4.2).

Uploaded as remote code next to the weights: imports only the standard library and
transformers (DESIGN 2, 4.3).
"""

from __future__ import annotations

import copy
from typing import Any

from transformers import PretrainedConfig

# Per-page scalars the model reads (see modeling_cosmo_pss.page_scalars).
SCALARS: tuple[str, ...] = ("relative_position", "is_first", "is_last", "log_book_length")

POSITION_MODES = ("absolute", "random_offset", "none")
CLASSIFIERS = ("linear", "cosmo_v4")
PROJECTORS = ("linear", "cosmo_v4")
TRANSITIONS = ("none", "counted", "learned")


class CosmoPssConfig(PretrainedConfig):
    r"""Configuration of [`CosmoPssForPageClassification`]: per page a text token and a vision
    token (+ page scalars) into a small BERT encoder; a page-type head and a story-start head.

    Args:
        vision_dim (`int`, defaults to 464): size of the cached vision vector of a page.
        text_dim (`int`, defaults to 384): size of the cached text vector of a page.
        labels (`list[str]`): class names in class-id order. A new model needs them (training passes
            the page taxonomy, `comics_analysis.dataspec.PAGE_TYPES`); a saved config carries them,
            so remote code holds no copy of the taxonomy. Default: none.
        projector (`str`, defaults to `"linear"`): `"linear"` (Linear + LayerNorm) or `"cosmo_v4"`
            (the published two-layer MLP: Linear, LayerNorm, GELU, Dropout, Linear, LayerNorm,
            GELU, Dropout, Linear with widths 2 x (in + hidden) and half that).
        use_scalars (`bool`, defaults to True): add a projection of `SCALARS` to both tokens of a page.
        modality_embeddings (`bool`, defaults to True): token type 0 = text, 1 = vision
            (cosmo-v4: False, every token has type 0).
        position_mode (`str`, defaults to `"random_offset"`): `"absolute"` (token positions from
            0 in each window, as cosmo-v4), `"random_offset"` (the same, shifted by a random offset
            during training so no position is tied to the window start) or `"none"` (order only
            from the page scalars).
        bert_config (`dict`): the encoder's `BertConfig` fields; `hidden_size`,
            `num_hidden_layers`, `num_attention_heads`, `intermediate_size`,
            `max_position_embeddings` (tokens, i.e. 2 per page) are the ones that matter.
        classifier (`str`, defaults to `"linear"`): `"linear"` or `"cosmo_v4"` (the published
            6-layer head, width `classifier_hidden`).
        classifier_hidden (`int`, defaults to 256): hidden width of the cosmo_v4 head.
        read_token (`str`, defaults to `"vision"`): the token the heads read (`"vision"`, `"text"`
            or `"mean"` of both).
        story_start_head (`bool`, defaults to True): predict the story-start flag per page.
        story_start_weight (`float`, defaults to 1.0): weight of its binary cross-entropy.
        class_weights (`list[float]`, *optional*): cross-entropy weight per class (training
            computes sqrt-inverse frequencies).
        label_smoothing (`float`, defaults to 0.0).
        transitions (`str`, defaults to `"none"`): Viterbi smoothing at decode time with
            `"counted"` transitions (log of smoothed counts, set from training labels) or
            `"learned"` ones (trained with a linear-chain CRF loss); `"none"`: per-page argmax.
        dropout (`float`, defaults to 0.1): projector and head dropout.
        stats_projection (`bool`, defaults to False): the last `len(page_stats)` columns of the
            vision input (the page statistics `train pss` appends, names in `page_stats`) also go
            through their own Linear + LayerNorm, added to the vision token, so 15 statistics are
            not drowned by hundreds of pixel columns in one projection. False: one projection of
            the whole vision input (models trained before this option).
    """

    model_type = "cosmo_pss"

    def __init__(
        self,
        vision_dim: int = 464,
        text_dim: int = 384,
        labels: list[str] | None = None,
        projector: str = "linear",
        use_scalars: bool = True,
        modality_embeddings: bool = True,
        position_mode: str = "random_offset",
        bert_config: dict[str, Any] | None = None,
        classifier: str = "linear",
        classifier_hidden: int = 256,
        read_token: str = "vision",
        story_start_head: bool = True,
        story_start_weight: float = 1.0,
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.0,
        transitions: str = "none",
        dropout: float = 0.1,
        stats_projection: bool = False,
        **kwargs,
    ):
        labels = list(labels or [])
        kwargs.setdefault("id2label", dict(enumerate(labels)))
        kwargs.setdefault("label2id", {label: i for i, label in enumerate(labels)})
        super().__init__(**kwargs)
        for name, value, allowed in (
            ("projector", projector, PROJECTORS),
            ("position_mode", position_mode, POSITION_MODES),
            ("classifier", classifier, CLASSIFIERS),
            ("read_token", read_token, ("vision", "text", "mean")),
            ("transitions", transitions, TRANSITIONS),
        ):
            if value not in allowed:
                raise ValueError(f"CosmoPssConfig.{name}: {value!r} is not one of {', '.join(allowed)}")
        if class_weights is not None and len(class_weights) != len(labels):
            raise ValueError(
                f"CosmoPssConfig.class_weights: {len(class_weights)} values for {len(labels)} labels"
            )
        bert = {
            "hidden_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 512,
            "max_position_embeddings": 1024,
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "type_vocab_size": 2 if modality_embeddings else 1,
            "vocab_size": 1,
            "pad_token_id": 0,
        }
        bert.update(copy.deepcopy(bert_config or {}))
        for stamp in ("_name_or_path", "transformers_version", "architectures", "model_type"):
            bert.pop(stamp, None)
        self.vision_dim = vision_dim
        self.text_dim = text_dim
        self.labels = labels
        self.projector = projector
        self.use_scalars = use_scalars
        self.modality_embeddings = modality_embeddings
        self.position_mode = position_mode
        self.bert_config = bert
        self.classifier = classifier
        self.classifier_hidden = classifier_hidden
        self.read_token = read_token
        self.story_start_head = story_start_head
        self.story_start_weight = story_start_weight
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.transitions = transitions
        self.dropout = dropout
        self.stats_projection = stats_projection

    @property
    def hidden_size(self) -> int:
        return int(self.bert_config["hidden_size"])

    @property
    def max_pages(self) -> int:
        """Most pages one window can hold (two tokens per page)."""
        return int(self.bert_config["max_position_embeddings"]) // 2

    @classmethod
    def cosmo_v4(
        cls,
        textual_dim: int = 1024,
        visual_dim: int = 1152,
        width: int = 768,
        layers: int = 4,
        heads: int = 4,
        head_hidden: int = 256,
        labels: list[str] | None = None,
    ) -> CosmoPssConfig:
        """The published cosmo-v4 shapes (DESIGN 4.2): two MLP projectors, text-then-vision
        tokens, a BERT with learned absolute positions up to 1024 tokens, the 6-layer head read
        at the vision token, no scalars, no story-start head, 9 legacy classes."""
        return cls(
            vision_dim=visual_dim,
            text_dim=textual_dim,
            labels=labels
            or [
                "advertisement",
                "cover",
                "story",
                "textstory",
                "first-page",
                "credits",
                "art",
                "text",
                "back_cover",
            ],
            projector="cosmo_v4",
            use_scalars=False,
            modality_embeddings=False,
            position_mode="absolute",
            bert_config={
                "hidden_size": width,
                "num_hidden_layers": layers,
                "num_attention_heads": heads,
                "intermediate_size": 4 * width,
                "max_position_embeddings": 1024,
                "type_vocab_size": 2,  # BertModel's default; every token uses type 0
            },
            classifier="cosmo_v4",
            classifier_hidden=head_hidden,
            read_token="vision",
            story_start_head=False,
        )
