"""CoSMo PSS: the page type (and story start) of every page of a book (DESIGN 4.2).

Uploaded as remote code next to the weights: imports only torch, transformers and
configuration_cosmo_pss (DESIGN 2, 4.3).

Inputs, B windows of at most N pages (cached per-page vectors, see inference.features):
  vision_features [B, N, vision_dim], text_features [B, N, text_dim]
  text_mask [B, N] bool   page has lettered text (False: a learned "no text" token is used)
  page_mask [B, N] bool   real page (False = padding)
  scalars [B, N, 4]       page_scalars() of each page's index in its *whole book*
Per page two tokens, text then vision (as cosmo-v4), go through a BERT encoder; the heads read
the vision token (``read_token``). Windows never mix books: the caller makes one window per
slice of one book (:meth:`CosmoPssForPageClassification.classify_book` does this).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel, PreTrainedModel
from transformers.modeling_outputs import ModelOutput

from .configuration_cosmo_pss import CosmoPssConfig

try:  # transformers 5: initialisers that respect weights already loaded
    from transformers import initialization as init
except ImportError:  # pragma: no cover - transformers 4
    from torch.nn import init


def page_scalars(page_index: torch.Tensor, book_length: int) -> torch.Tensor:
    """[n, 4] scalars of pages ``page_index`` of a book of ``book_length`` pages: relative
    position in [0, 1], first-page flag, last-page flag, log(book length) / log(1000)."""
    index = page_index.float()
    relative = index / max(book_length - 1, 1)
    return torch.stack(
        [
            relative,
            (page_index == 0).float(),
            (page_index == book_length - 1).float(),
            torch.full_like(relative, math.log(max(book_length, 1)) / math.log(1000.0)),
        ],
        dim=-1,
    )


@dataclass
class CosmoPssOutput(ModelOutput):
    """Outputs of [`CosmoPssForPageClassification`].

    loss: class cross-entropy (+ story-start BCE, + CRF NLL with learned transitions).
    losses: each term by name (detached).
    logits [B, N, C]: page-type scores. story_start_logits [B, N]: story-start scores (or None).
    hidden_states [B, N, H]: the encoder output at the token the heads read.
    """

    loss: torch.FloatTensor | None = None
    losses: dict[str, torch.Tensor] | None = None
    logits: torch.FloatTensor | None = None
    story_start_logits: torch.FloatTensor | None = None
    hidden_states: torch.FloatTensor | None = None


def _projector(kind: str, in_dim: int, width: int, dropout: float) -> nn.Sequential:
    if kind == "linear":
        return nn.Sequential(nn.Linear(in_dim, width), nn.LayerNorm(width))
    first = 2 * (in_dim + width)
    return nn.Sequential(  # cosmo-v4: Linear/LayerNorm at indices 0, 1, 4, 5, 8
        nn.Linear(in_dim, first),
        nn.LayerNorm(first),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(first, first // 2),
        nn.LayerNorm(first // 2),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(first // 2, width),
    )


def _classifier(kind: str, width: int, hidden: int, classes: int, dropout: float) -> nn.Module:
    if kind == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(width, classes))
    return nn.Sequential(  # cosmo-v4: Linear 0, 1, LayerNorm 2, Linear 5, LayerNorm 6, Linear 9
        nn.Linear(width, (width + hidden) // 2),
        nn.Linear((width + hidden) // 2, hidden),
        nn.LayerNorm(hidden),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden // 2),
        nn.LayerNorm(hidden // 2),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden // 2, classes),
    )


class CosmoPssPreTrainedModel(PreTrainedModel):
    config_class = CosmoPssConfig
    base_model_prefix = "cosmo_pss"
    main_input_name = "vision_features"

    def _init_weights(self, module):
        std = 0.02
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, CosmoPssForPageClassification):
            init.normal_(module.empty_text, mean=0.0, std=std)
            init.zeros_(module.transitions)
            init.zeros_(module.start_transitions)


class CosmoPssForPageClassification(CosmoPssPreTrainedModel):
    """Page types of a window of one book's pages; see the module docstring for inputs."""

    def __init__(self, config: CosmoPssConfig):
        super().__init__(config)
        if not config.labels:
            raise ValueError(
                "CosmoPssConfig.labels: a model needs its class names (e.g. dataspec.PAGE_TYPES)"
            )
        width, classes = config.hidden_size, len(config.labels)
        self.textual_projection = _projector(config.projector, config.text_dim, width, config.dropout)
        self.visual_projection = _projector(config.projector, config.vision_dim, width, config.dropout)
        self.norm = nn.LayerNorm(width)
        n_stats = len(getattr(config, "page_stats", None) or [])
        if getattr(config, "stats_projection", False) and not n_stats:
            raise ValueError("CosmoPssConfig.stats_projection needs page_stats (the statistics' names)")
        self.stats_projection = (
            nn.Sequential(nn.Linear(n_stats, width), nn.LayerNorm(width))
            if getattr(config, "stats_projection", False)
            else None
        )
        self.empty_text = nn.Parameter(torch.zeros(width))
        self.scalar_projection = nn.Linear(4, width) if config.use_scalars else None
        self.bert_encoder = BertModel(BertConfig(**config.bert_config), add_pooling_layer=False)
        self.classifier = _classifier(
            config.classifier, width, config.classifier_hidden, classes, config.dropout
        )
        self.story_start = nn.Linear(width, 1) if config.story_start_head else None
        learned = config.transitions == "learned"
        # transitions[i, j]: score of class j following class i (log-probabilities when counted)
        self.transitions = nn.Parameter(torch.zeros(classes, classes), requires_grad=learned)
        self.start_transitions = nn.Parameter(torch.zeros(classes), requires_grad=learned)
        weights = config.class_weights or [1.0] * classes
        self.register_buffer("class_weights", torch.tensor(weights, dtype=torch.float32), persistent=False)
        self.post_init()

    # --- forward ------------------------------------------------------------------------------
    def forward(
        self,
        vision_features: torch.Tensor,
        text_features: torch.Tensor,
        text_mask: torch.Tensor | None = None,
        page_mask: torch.Tensor | None = None,
        scalars: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        story_start_labels: torch.Tensor | None = None,
        position_offset: torch.Tensor | int | None = None,
        return_dict: bool = True,
        **kwargs,
    ) -> CosmoPssOutput:
        config = self.config
        batch, pages, _ = vision_features.shape
        device = vision_features.device
        if page_mask is None:
            page_mask = torch.ones(batch, pages, dtype=torch.bool, device=device)
        if text_mask is None:
            text_mask = torch.ones(batch, pages, dtype=torch.bool, device=device)
        text = self.textual_projection(text_features)
        text = torch.where(text_mask.bool().unsqueeze(-1), text, self.empty_text.to(text.dtype))
        vision = self.visual_projection(vision_features)
        text, vision = self.norm(text), self.norm(vision)
        if self.stats_projection is not None:  # the appended page statistics, projected on their own
            n_stats = self.stats_projection[0].in_features
            vision = vision + self.stats_projection(vision_features[..., -n_stats:])
        if self.scalar_projection is not None:
            if scalars is None:
                raise ValueError("this model reads page scalars: pass scalars=page_scalars(...) per page")
            extra = self.scalar_projection(scalars.to(text.dtype))
            text, vision = text + extra, vision + extra
        tokens = torch.stack([text, vision], dim=2).reshape(batch, 2 * pages, -1)  # t1, v1, t2, v2, ...
        attention = page_mask.bool().repeat_interleave(2, dim=1).long()
        positions = torch.arange(2 * pages, device=device).unsqueeze(0).expand(batch, -1)
        if config.position_mode == "none":
            positions = torch.zeros_like(positions)
        elif position_offset is not None:
            offset = torch.as_tensor(position_offset, device=device).reshape(-1, 1)
            positions = positions + offset
        if int(positions.max()) >= config.bert_config["max_position_embeddings"]:
            raise ValueError(
                f"window of {pages} pages (+ offset) needs token positions up to {int(positions.max())}, "
                f"but max_position_embeddings is {config.bert_config['max_position_embeddings']}"
            )
        token_types = torch.tensor([0, 1], device=device).repeat(pages).unsqueeze(0).expand(batch, -1)
        if not config.modality_embeddings:
            token_types = torch.zeros_like(token_types)
        hidden = self.bert_encoder(
            inputs_embeds=tokens,
            attention_mask=attention,
            position_ids=positions,
            token_type_ids=token_types,
        ).last_hidden_state.reshape(batch, pages, 2, -1)
        if config.read_token == "vision":
            read = hidden[:, :, 1]
        elif config.read_token == "text":
            read = hidden[:, :, 0]
        else:
            read = hidden.mean(dim=2)
        logits = self.classifier(read)
        start_logits = self.story_start(read).squeeze(-1) if self.story_start is not None else None

        loss, losses = None, {}
        if labels is not None:
            valid = page_mask.bool() & (labels != -100)
            weight = self.class_weights.to(logits.dtype)
            ce = F.cross_entropy(
                logits[valid], labels[valid], weight=weight, label_smoothing=config.label_smoothing
            )
            losses["class"] = ce
            loss = ce
            if start_logits is not None and story_start_labels is not None:
                s_valid = page_mask.bool() & (story_start_labels >= 0)
                bce = F.binary_cross_entropy_with_logits(
                    start_logits[s_valid], story_start_labels[s_valid].to(start_logits.dtype)
                )
                losses["story_start"] = bce
                loss = loss + config.story_start_weight * bce
            if config.transitions == "learned":
                crf = self.crf_nll(logits, labels, page_mask)
                losses["crf"] = crf
                loss = loss + crf
        return CosmoPssOutput(
            loss=loss,
            losses={k: v.detach() for k, v in losses.items()} if losses else None,
            logits=logits,
            story_start_logits=start_logits,
            hidden_states=read,
        )

    # --- transitions ----------------------------------------------------------------------------
    def crf_nll(self, logits: torch.Tensor, labels: torch.Tensor, page_mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of a linear-chain CRF over the windows whose pages are all
        labelled (emissions = log-softmax of the logits)."""
        mask = page_mask.bool()
        keep = ((labels != -100) | ~mask).all(dim=1) & mask[:, 0]
        if not keep.any():
            return logits.sum() * 0.0
        emissions, tags, mask = logits[keep].log_softmax(-1), labels[keep].clamp(min=0), mask[keep]
        b = torch.arange(emissions.shape[0], device=emissions.device)
        score = self.start_transitions[tags[:, 0]] + emissions[b, 0, tags[:, 0]]
        alpha = self.start_transitions + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            step = mask[:, t]
            score = score + step * (
                self.transitions[tags[:, t - 1], tags[:, t]] + emissions[b, t, tags[:, t]]
            )
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions.unsqueeze(0), dim=1) + emissions[:, t]
            alpha = torch.where(step.unsqueeze(1), nxt, alpha)
        return (torch.logsumexp(alpha, dim=1) - score).mean()

    @torch.no_grad()
    def set_counted_transitions(self, sequences: list[list[int]], smoothing: float = 1.0) -> None:
        """Transitions as log-probabilities counted from label-id sequences (add-``smoothing``)."""
        classes = len(self.config.labels)
        counts = torch.full((classes, classes), float(smoothing))
        starts = torch.full((classes,), float(smoothing))
        for seq in sequences:
            if seq:
                starts[seq[0]] += 1
            for a, b in itertools.pairwise(seq):
                counts[a, b] += 1
        self.transitions.copy_((counts / counts.sum(1, keepdim=True)).log())
        self.start_transitions.copy_((starts / starts.sum()).log())

    @torch.no_grad()
    def decode(self, logits: torch.Tensor) -> list[int]:
        """Label ids of one book's pages from its [n, C] logits: argmax, or Viterbi over
        log-softmax + transitions when ``config.transitions`` is not "none"."""
        if self.config.transitions == "none":
            return logits.argmax(-1).tolist()
        emissions = logits.float().log_softmax(-1)
        trans = self.transitions.float()
        score = self.start_transitions.float() + emissions[0]
        back = []
        for t in range(1, emissions.shape[0]):
            total = score.unsqueeze(1) + trans
            best, idx = total.max(dim=0)
            back.append(idx)
            score = best + emissions[t]
        path = [int(score.argmax())]
        for idx in reversed(back):
            path.append(int(idx[path[-1]]))
        return path[::-1]

    # --- whole books ------------------------------------------------------------------------------
    @torch.no_grad()
    def classify_book(
        self,
        vision_features: torch.Tensor,
        text_features: torch.Tensor,
        text_mask: torch.Tensor | None = None,
        window: int | None = None,
        stride: int | None = None,
        batch_size: int = 32,
    ) -> dict[str, torch.Tensor | list[int]]:
        """One book ([n, dim] features): logits averaged over overlapping windows of ``window``
        pages every ``stride`` pages (the last window ends on the last page; ``window=None``:
        the whole book in one window, up to ``config.max_pages``). Windows never mix books.

        Returns ``logits`` [n, C], ``probabilities`` [n, C], ``story_start`` [n] probabilities
        (zeros without the head) and ``labels`` (decoded label ids)."""
        return self.classify_books([(vision_features, text_features, text_mask)], window, stride, batch_size)[
            0
        ]

    def _book_windows(self, n: int, window: int | None, stride: int | None) -> tuple[int, list[int]]:
        window = min(window or n, self.config.max_pages, n)
        stride = max(1, min(stride or max(1, window // 2), window))
        starts = list(range(0, max(n - window, 0) + 1, stride))
        if starts[-1] + window < n:
            starts.append(n - window)
        return window, starts

    @torch.no_grad()
    def classify_books(
        self,
        books: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
        window: int | None = None,
        stride: int | None = None,
        batch_size: int = 64,
    ) -> list[dict[str, torch.Tensor | list[int]]]:
        """:meth:`classify_book` for many books at once: windows of equal length from different
        books share forward calls (each window still holds one book's pages only), which is what
        makes classification fast; the results are the same as one book at a time."""
        device = next(self.parameters()).device
        classes = len(self.config.labels)
        windows: list[tuple[int, int, int]] = []  # (size, book, start)
        state = []
        for k, (vision, text, mask) in enumerate(books):
            n = vision.shape[0]
            if n == 0:
                raise ValueError(f"book {k} has no pages")
            size, starts = self._book_windows(n, window, stride)
            if mask is None:
                mask = torch.ones(n, dtype=torch.bool)
            state.append(
                {
                    "inputs": (vision, text, mask, page_scalars(torch.arange(n), n)),
                    "total": torch.zeros(n, classes, device=device),
                    "start": torch.zeros(n, device=device),
                    "count": torch.zeros(n, device=device),
                }
            )
            windows.extend((size, k, s) for s in starts)
        # similar sizes together; shorter windows are padded and masked (padding never leaks)
        windows.sort(key=lambda w: w[0])
        for b in range(0, len(windows), batch_size):
            chunk = windows[b : b + batch_size]
            width = max(size for size, _, _ in chunk)
            parts: list[list[torch.Tensor]] = [[], [], [], []]
            page_mask = torch.zeros(len(chunk), width, dtype=torch.bool)
            for row, (size, k, s) in enumerate(chunk):
                page_mask[row, :size] = True
                for i, full in enumerate(state[k]["inputs"]):
                    piece = full[s : s + size]
                    if size < width:
                        pad = torch.zeros((width - size, *piece.shape[1:]), dtype=piece.dtype)
                        piece = torch.cat([piece, pad])
                    parts[i].append(piece)
            out = self(
                vision_features=torch.stack(parts[0]).to(device),
                text_features=torch.stack(parts[1]).to(device),
                text_mask=torch.stack(parts[2]).to(device),
                scalars=torch.stack(parts[3]).to(device),
                page_mask=page_mask.to(device),
            )
            for row, (size, k, s) in enumerate(chunk):
                state[k]["total"][s : s + size] += out.logits[row, :size].float()
                state[k]["count"][s : s + size] += 1
                if out.story_start_logits is not None:
                    state[k]["start"][s : s + size] += out.story_start_logits[row, :size].float()
        results = []
        for book in state:
            logits = book["total"] / book["count"].unsqueeze(1)
            start_probability = torch.sigmoid(book["start"] / book["count"])
            if self.story_start is None:
                start_probability = torch.zeros_like(start_probability)
            results.append(
                {
                    "logits": logits,
                    "probabilities": logits.softmax(-1),
                    "story_start": start_probability,
                    "labels": self.decode(logits),
                }
            )
        return results
