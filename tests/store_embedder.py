"""A deterministic, content-dependent TEST EMBEDDER for the store tests (not a model, not a
mock of our code): words hash to fixed random vectors; a panel's vector is the sum of its
words' vectors plus a small vector of its box; a page's vector is the mean of its panels plus
its page-level text and a book vector. Pages that share text get similar vectors, which is
what the search tests plant answers with.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

DIM = 384


@lru_cache(maxsize=100_000)
def token_vector(token: str, dim: int = DIM) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def text_vector(text: str, dim: int = DIM) -> np.ndarray:
    out = np.zeros(dim, np.float32)
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        out += token_vector(word, dim)
    return out


def embed_pages(items, panels: int = 16, dim: int = DIM):
    """``embed_fn`` for ``write_store``: (page [B, D], panel [B, P, D], mask [B, P])."""
    b = len(items)
    page_vecs = np.zeros((b, dim), np.float32)
    panel_vecs = np.zeros((b, panels, dim), np.float32)
    mask = np.zeros((b, panels), bool)
    for r, item in enumerate(items):
        page = item.page
        for j, panel in enumerate(page.panels[:panels]):
            x, y, _w, _h = panel.bbox
            words = " ".join(page.panel_texts(j)) or " ".join(panel.text.all())
            v = text_vector(words, dim)
            v += 0.3 * token_vector(f"box:{round(4 * x / page.width)}:{round(4 * y / page.height)}", dim)
            v += 0.05 * token_vector(f"panel:{page.page_id}:{j}", dim)
            panel_vecs[r, j] = v
            mask[r, j] = True
        page_text = " ".join(t.text for t in page.texts if t.panel < 0)
        v = panel_vecs[r, mask[r]].mean(axis=0) if mask[r].any() else np.zeros(dim, np.float32)
        page_vecs[r] = v + text_vector(page_text, dim) + 0.5 * token_vector(f"book:{page.book_id}", dim)
        page_vecs[r] += 0.05 * token_vector(f"page:{page.page_id}", dim)
    return page_vecs, panel_vecs, mask
