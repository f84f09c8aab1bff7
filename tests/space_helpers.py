"""Shared pieces of the embed / analysis / Space tests: a small synthetic collection laid out like
an ``annotate`` output (``dataspec/<book>.jsonl`` + ``images-root.txt`` + page images), and a
tiny untrained Closure Lite model folder saved with its processor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from comics_analysis.dataspec import Page, write_jsonl
from comics_analysis.synth import make_page

PAGE_SIZE = (330, 500)


def _save(folder: Path, page: Page, image: Image.Image) -> Page:
    rel = f"{page.book_id}/p{page.page_index:04d}.png"
    (folder / "images" / page.book_id).mkdir(parents=True, exist_ok=True)
    image.save(folder / "images" / rel)
    data = page.to_dict()
    data["image"] = rel
    return Page.from_dict(data)


def noise_image(seed: int, size=PAGE_SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def write_collection(
    folder: Path,
    books: int = 2,
    story: int = 10,
    prose: int = 0,
    noise: int = 0,
    seed: int = 0,
    size: tuple[int, int] = PAGE_SIZE,
) -> list[Page]:
    """``books`` books of ``story`` synthetic story pages each, then ``prose`` text_backmatter
    (prose) pages and ``noise`` pages of random pixels (page type ``other``, no panels) in a
    last book. Returns the records, in the order written."""
    folder = Path(folder)
    (folder / "dataspec").mkdir(parents=True, exist_ok=True)
    (folder / "images-root.txt").write_text("images\n")
    pages: list[Page] = []
    for b in range(books):
        book_id = f"synth-book-{b}-{b:08x}"
        records = []
        for i in range(story):
            sp = make_page((seed, b, i), size=size, book_id=book_id, page_index=i)
            records.append(_save(folder, sp.record, sp.image))
        write_jsonl(records, folder / "dataspec" / f"{book_id}.jsonl")
        pages += records
    if prose or noise:
        book_id = "mixed-download-0000beef"
        records = []
        for i in range(prose):
            sp = make_page(
                (seed, 99, i), page_type="text_backmatter", size=size, book_id=book_id, page_index=i
            )
            records.append(_save(folder, sp.record, sp.image))
        for j in range(noise):
            index = prose + j
            record = Page(
                page_id=f"{book_id}/p{index:04d}",
                book_id=book_id,
                page_index=index,
                width=size[0],
                height=size[1],
                page_type="other",
            )
            records.append(_save(folder, record, noise_image(seed * 1000 + j, size)))
        write_jsonl(records, folder / "dataspec" / f"{book_id}.jsonl")
        pages += records
    return pages


def save_tiny_model(folder: Path, seed: int = 0, **overrides) -> Path:
    """An untrained tiny Closure Lite model + processor, as ``save_pretrained`` writes them."""
    from closure_lite_helpers import tiny_model
    from comics_analysis.modeling.closure_lite import ClosureLiteProcessor

    model = tiny_model(seed, **overrides)
    model.save_pretrained(folder)
    ClosureLiteProcessor.from_config(model.config).save_pretrained(folder)
    return Path(folder)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_context(pw, profile: Path, width: int = 1400, height: int = 1100):
    """A headless Debian Chromium (Playwright's ``pw``) with a fresh user-data-dir ``profile``;
    no network beyond the test's own 127.0.0.1 server."""
    return pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": width, "height": height},
        accept_downloads=True,
    )


# Planted panel descriptions and paraphrased queries of the description-search tests (the library
# and the Space): query -> the page index whose panel carries the matching description.
PLANTED = {
    0: "A red pickup truck is parked in front of a roadside diner at night, its headlights on.",
    3: "A small propeller airplane flies low over sand dunes in the desert under a blazing sun.",
    5: "Two astronauts float inside a space station, looking out of a round window at the Earth.",
    8: "An old woman feeds pigeons on a park bench while children play football behind her.",
    11: "A knight in armour fights a dragon on a burning castle wall.",
}
QUERIES = {
    "an aircraft above the sandy wasteland": 3,
    "a crimson truck outside a restaurant after dark": 0,
    "people in orbit weightless in a spacecraft": 5,
    "a grandmother giving bread to birds": 8,
    "medieval soldier battling a monster": 11,
}


def described_embedder(items, panels=16, dim=8):
    """A TEST embedder of the description-search tests: fixed directions (the vectors play no part
    here); every panel is real."""
    b = len(items)
    page = np.zeros((b, dim), np.float32)
    panel = np.zeros((b, panels, dim), np.float32)
    mask = np.zeros((b, panels), bool)
    for r, item in enumerate(items):
        page[r, item.page.page_index % dim] = 1.0
        panel[r, :, 0] = 1.0
        mask[r, : len(item.page.panels)] = True
    return page, panel, mask


def described_store(root: Path, described: bool = True) -> list[Page]:
    """A 2-book collection under ``root / "coll"`` embedded into ``root / "s.zarr"`` with
    :func:`described_embedder`; ``described``: the :data:`PLANTED` descriptions on the planted
    pages' second panel and the store's ``panel_description`` column. Returns the records."""
    from comics_analysis.store import write_store  # lazy: torch, only for the stores that need it

    pages = write_collection(root / "coll", books=2, story=7)
    records = []
    for i, page in enumerate(pages):
        data = page.to_dict()
        if described and i in PLANTED:
            data["panels"][1]["description"] = PLANTED[i]
        records.append(Page.from_dict(data))
    write_store(
        records,
        root / "s.zarr",
        described_embedder,
        model_id="test",
        dim=8,
        image_root=root / "coll" / "images",
        chunk_pages=4,
        show_progress=False,
        page_columns=("panel_description",) if described else (),
    )
    return records
