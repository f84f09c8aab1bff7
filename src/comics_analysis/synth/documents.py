"""Non-comic document pages, drawn in code: the "not a comic" side of the search evaluation.

Real collections mix prose and technical pages into comic bundles (a novel's back matter, a
programming book, a game manual). :func:`make_document_page` draws one such page, deterministic
for a given ``(kind, seed)``:

- ``textbook``: a chapter heading, section headings, justified serif paragraphs, a running
  header and a page number;
- ``paper``: a two-column article with a title block, an abstract, a display equation
  (matplotlib mathtext) and a line plot with axes and a legend (matplotlib);
- ``scan``: one column of prose on tinted, unevenly lit paper with sensor noise, a slight
  skew, a dark gutter shadow and JPEG artefacts, like a scanned book page;
- ``rpg``: a game-book page: a bold title, two columns of rules text, a boxed stat block and one
  illustration (a procedurally painted landscape with a figure) across a column.

The words are real English prose: the docstrings of standard-library modules (fixed for a
given Python release), cut into sentences and drawn in a seeded order.
"""

from __future__ import annotations

import io
import random
import re
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .fonts import font

DOCUMENT_KINDS = ("textbook", "paper", "scan", "rpg")
_PROSE_MODULES = (
    "argparse", "bisect", "calendar", "collections", "csv", "decimal", "difflib", "email",
    "fractions", "functools", "heapq", "inspect", "itertools", "json", "logging", "pathlib",
    "pickle", "random", "shutil", "statistics", "string", "subprocess", "tarfile", "textwrap",
    "threading", "unittest", "urllib.parse", "zipfile",
)  # fmt: skip


@lru_cache(maxsize=1)
def _sentences() -> tuple[str, ...]:
    """English sentences from standard-library docstrings (modules, classes and functions)."""
    import importlib
    import inspect

    found: list[str] = []
    for name in _PROSE_MODULES:
        module = importlib.import_module(name)
        docs = [inspect.getdoc(module) or ""]
        for attr in sorted(vars(module)):
            if not attr.startswith("_"):
                docs.append(inspect.getdoc(getattr(module, attr)) or "")
        for doc in docs:
            text = re.sub(r"\s+", " ", doc)
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                words = sentence.split()
                if (
                    6 <= len(words) <= 40
                    and sentence[0].isupper()
                    and not re.search(r"[>{}\[\]=_|]", sentence)
                ):
                    found.append(sentence)
    return tuple(dict.fromkeys(found))


def _prose(rng: random.Random, words: int) -> str:
    pool = _sentences()
    out: list[str] = []
    count = 0
    while count < words:
        sentence = pool[rng.randrange(len(pool))]
        out.append(sentence)
        count += len(sentence.split())
    return " ".join(out)


def _title(rng: random.Random, most: int = 6) -> str:
    words = [w.strip(".,;:()") for w in _prose(rng, 12).split()]
    words = [w for w in words if w.isalpha() and len(w) > 3][:most] or ["Introduction"]
    return " ".join(w.capitalize() for w in words[: rng.randint(2, most)])


def _wrap(draw: ImageDraw.ImageDraw, text: str, face, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=face) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines


def _paragraphs(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    box: tuple[int, int, int, int],
    face,
    colour=(20, 20, 20),
    indent: int = 0,
    stop_at: int | None = None,
) -> int:
    """Fill ``box`` (x0, y0, x1, y1) with paragraphs of prose; returns the y where it stopped."""
    x0, y, x1, y1 = box
    y1 = y1 if stop_at is None else min(y1, stop_at)
    step = int(face.size * 1.35)
    while y + step < y1:
        lines = _wrap(draw, " " * 4 * indent + _prose(rng, rng.randint(40, 110)), face, x1 - x0)
        for line in lines:
            if y + step >= y1:
                return y
            draw.text((x0, y), line, fill=colour, font=face)
            y += step
        y += step // 2
    return y


def _figure(fig) -> Image.Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, facecolor="white")
    import matplotlib.pyplot as plt

    plt.close(fig)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _plot(rng: random.Random, width: int, height: int) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width / 100, height / 100))
    x = np.linspace(0, 10, 200)
    for i in range(rng.randint(2, 3)):
        a, b = rng.uniform(0.2, 1.5), rng.uniform(0.5, 3)
        ax.plot(x, a * np.sin(b * x + i) + 0.1 * i * x, label=f"model {chr(65 + i)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _figure(fig)


def _equation(rng: random.Random, width: int) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    formulas = (
        r"$\mathcal{L}(\theta) = -\sum_{i=1}^{N} \log \frac{e^{s_i/\tau}}{\sum_j e^{s_j/\tau}}$",
        r"$\hat{y} = \sigma\left(W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2\right)$",
        r"$p(x \mid \mu, \Sigma) = \frac{1}{\sqrt{(2\pi)^k |\Sigma|}}"
        r"\, e^{-\frac{1}{2}(x-\mu)^T \Sigma^{-1}(x-\mu)}$",
        r"$\int_0^\infty e^{-\alpha t}\cos(\omega t)\,dt = \frac{\alpha}{\alpha^2 + \omega^2}$",
    )
    fig = plt.figure(figsize=(width / 100, 0.7))
    fig.text(0.5, 0.5, formulas[rng.randrange(len(formulas))], ha="center", va="center", fontsize=13)
    return _figure(fig)


def _landscape(rng: random.Random, width: int, height: int) -> Image.Image:
    """A painted picture: sky gradient, hills, a sun and a standing figure."""
    top = np.array([rng.randint(90, 160), rng.randint(120, 190), rng.randint(180, 240)], np.float32)
    bottom = np.array([rng.randint(200, 250), rng.randint(170, 220), rng.randint(120, 180)], np.float32)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = (top * (1 - t) + bottom * t).repeat(width, axis=1)
    image = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    sx, sy, r = rng.randint(width // 5, 4 * width // 5), rng.randint(height // 8, height // 3), height // 10
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(250, 230, 150))
    for layer in range(3):
        base = height * (0.5 + 0.15 * layer)
        phase, amp = rng.uniform(0, 6.3), height * rng.uniform(0.05, 0.12)
        xs = np.arange(0, width + 8, 8)
        ys = base + amp * np.sin(xs / width * rng.uniform(4, 9) + phase)
        shade = 40 + 40 * layer
        draw.polygon(
            [(0, height), *zip(xs.tolist(), ys.tolist()), (width, height)],
            fill=(shade, 90 + 30 * layer, shade // 2),
        )
    fx, fy = rng.randint(width // 4, 3 * width // 4), int(height * 0.78)
    draw.ellipse([fx - 7, fy - 60, fx + 7, fy - 46], fill=(60, 40, 30))
    draw.polygon([(fx - 10, fy - 46), (fx + 10, fy - 46), (fx + 16, fy), (fx - 16, fy)], fill=(120, 30, 30))
    draw.line([(fx + 14, fy - 40), (fx + 30, fy - 80)], fill=(90, 80, 70), width=3)
    return image.filter(ImageFilter.GaussianBlur(0.8))


def _textbook(rng: random.Random, w: int, h: int) -> Image.Image:
    page = Image.new("RGB", (w, h), (252, 251, 247))
    draw = ImageDraw.Draw(page)
    m = w // 9
    draw.text((m, m // 2), _title(rng, 4), fill=(90, 90, 90), font=font("serif_italic", w // 70))
    draw.line([(m, m // 2 + w // 45), (w - m, m // 2 + w // 45)], fill=(120, 120, 120), width=1)
    y = m + w // 40
    if rng.random() < 0.5:
        draw.text((m, y), f"Chapter {rng.randint(1, 19)}", fill=(40, 40, 40), font=font("bold", w // 28))
        y += w // 18
        draw.text((m, y), _title(rng), fill=(20, 20, 20), font=font("serif", w // 24))
        y += w // 12
    body = font("serif", w // 55)
    while y < h - 2 * m:
        y = _paragraphs(
            draw, rng, (m, y, w - m, h - m), body, indent=1, stop_at=y + rng.randint(h // 6, h // 3)
        )
        if y < h - 3 * m:
            y += body.size
            section = f"{rng.randint(1, 9)}.{rng.randint(1, 9)} {_title(rng)}"
            draw.text((m, y), section, fill=(20, 20, 60), font=font("bold", w // 40))
            y += int(w / 40 * 2)
    draw.text((w // 2, h - m // 2), str(rng.randint(3, 400)), fill=(60, 60, 60), font=body, anchor="mm")
    return page


def _paper(rng: random.Random, w: int, h: int) -> Image.Image:
    page = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(page)
    m = w // 12
    draw.text((w // 2, m), _title(rng, 7), fill="black", font=font("bold", w // 36), anchor="mm")
    draw.text((w // 2, m + w // 24), "A. Author, B. Author and C. Author", fill=(50, 50, 50),
              font=font("serif", w // 60), anchor="mm")  # fmt: skip
    body = font("serif", w // 68)
    y = _paragraphs(
        draw, rng, (m + w // 12, m + w // 12, w - m - w // 12, m + w // 4), font("serif_italic", w // 68)
    )
    gap = w // 30
    col = (w - 2 * m - gap) // 2
    left, right = (m, m + col), (m + col + gap, w - m)
    top = y + body.size
    plot_at = rng.choice((0, 1))
    for c, (x0, x1) in enumerate((left, right)):
        y = top
        if c == plot_at:
            y = _paragraphs(draw, rng, (x0, y, x1, h - m), body, stop_at=y + rng.randint(h // 8, h // 4))
            eq = _equation(rng, col)
            page.paste(eq, (x0, y))
            y += eq.height + body.size
            y = _paragraphs(draw, rng, (x0, y, x1, h - m), body, stop_at=y + rng.randint(h // 10, h // 5))
            plot = _plot(rng, col, int(col * 0.7))
            page.paste(plot, (x0, y))
            y += plot.height + 4
            draw.text((x0, y), f"Figure {rng.randint(1, 6)}: {_title(rng)}.", fill="black", font=body)
            y += 2 * body.size
        _paragraphs(draw, rng, (x0, y, x1, h - m), body)
    return page


def _scan(rng: random.Random, w: int, h: int) -> Image.Image:
    page = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(page)
    m = w // 8
    _paragraphs(draw, rng, (m, m, w - m, h - m), font("serif", w // 48), colour=25, indent=1)
    grey = np.asarray(page, np.float32) / 255.0
    gen = np.random.default_rng(rng.randrange(2**32))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 0.88 + 0.1 * np.sin(xx / w * np.pi) * np.cos((yy / h - 0.5) * rng.uniform(0.5, 2))
    side = xx / w if rng.random() < 0.5 else 1 - xx / w
    shadow = 1 - 0.45 * np.exp(-side * 25)
    grey = np.clip(grey * light * shadow + gen.normal(0, 0.045, grey.shape), 0, 1)
    tint = np.array([rng.uniform(0.93, 1.0), rng.uniform(0.86, 0.95), rng.uniform(0.7, 0.85)], np.float32)
    rgb = Image.fromarray((grey[..., None] * tint * 255).astype(np.uint8))
    rgb = rgb.rotate(rng.uniform(-1.5, 1.5), resample=Image.BICUBIC, fillcolor=(235, 225, 200))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=rng.randint(35, 60))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _rpg(rng: random.Random, w: int, h: int) -> Image.Image:
    page = Image.new("RGB", (w, h), (244, 236, 214))
    draw = ImageDraw.Draw(page)
    m = w // 12
    draw.text((m, m // 2), _title(rng, 3).upper(), fill=(110, 20, 20), font=font("bold", w // 22))
    draw.line([(m, m + w // 30), (w - m, m + w // 30)], fill=(110, 20, 20), width=3)
    body = font("serif", w // 60)
    gap = w // 30
    col = (w - 2 * m - gap) // 2
    top = m + w // 20
    art_col = rng.choice((0, 1))
    for c in range(2):
        x0 = m + c * (col + gap)
        x1 = x0 + col
        y = top
        if c == art_col:
            art = _landscape(rng, col, int(col * rng.uniform(0.8, 1.2)))
            page.paste(art, (x0, y))
            draw.rectangle([x0, y, x0 + art.width - 1, y + art.height - 1], outline=(60, 40, 20), width=2)
            y += art.height + body.size
        else:
            y = _paragraphs(draw, rng, (x0, y, x1, h - m), body, stop_at=y + h // 4)
            box_h = 7 * int(body.size * 1.4)
            draw.rectangle([x0, y, x1, y + box_h], fill=(226, 214, 186), outline=(110, 20, 20), width=2)
            stats = ["STR", "DEX", "CON", "INT", "WIS", "CHA"]
            name = _title(rng, 2).upper()
            draw.text((x0 + 8, y + 6), name, fill=(110, 20, 20), font=font("bold", body.size))
            for i, stat in enumerate(stats):
                sx = x0 + 8 + i * (col - 16) // 6
                draw.text((sx, y + 6 + 2 * body.size), stat, fill="black", font=font("bold", body.size))
                value = f"{rng.randint(3, 18)}"
                draw.text((sx, y + 6 + 3 * int(body.size * 1.3)), value, fill="black", font=body)
            y += box_h + body.size
        _paragraphs(draw, rng, (x0, y, x1, h - m), body)
    return page


_DRAW = {"textbook": _textbook, "paper": _paper, "scan": _scan, "rpg": _rpg}


def make_document_page(kind: str, seed: int, size: tuple[int, int] = (1000, 1414)) -> Image.Image:
    """One non-comic page of ``kind`` (:data:`DOCUMENT_KINDS`), the same for the same seed."""
    if kind not in _DRAW:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(DOCUMENT_KINDS)}")
    rng = random.Random(f"{kind}-{seed}")
    return _DRAW[kind](rng, int(size[0]), int(size[1]))


def document_pages(
    count: int, seed: int = 0, size: tuple[int, int] = (1000, 1414)
) -> list[tuple[str, Image.Image]]:
    """``count`` pages (kind, image), the kinds in turn, page sizes varied +-10% around ``size``."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = DOCUMENT_KINDS[i % len(DOCUMENT_KINDS)]
        scale = rng.uniform(0.9, 1.1)
        out.append(
            (
                kind,
                make_document_page(kind, seed * 10_000 + i, (round(size[0] * scale), round(size[1] * scale))),
            )
        )
    return out


__all__ = ["DOCUMENT_KINDS", "document_pages", "make_document_page"]
