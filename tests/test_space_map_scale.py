"""The Space on a 10^4-page store in headless Chromium: hovering the map names exactly the page a
brute-force nearest-point search names, a box selection exports exactly the pages inside the box;
and lettering that holds HTML (``<img src=x onerror=...>``, ``<b>``, ``<script>``) stays text in
the results table, the page view and the map's hover tip.

The store: 100 books of 100 page records (1 to 4 panels, no images: the Space draws each page's
layout), vectors from the deterministic test embedder (``store_embedder``, 32 dimensions), mapped
by ``analyze`` (PCA). The speed of the map at 10^3-10^5 points is measured by
``scripts/bench_space_map.py``, not asserted here."""

import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zarr")
pytest.importorskip("gradio")

from comics_analysis.analysis import analyze_store
from comics_analysis.dataspec import Page, Panel, TextBox
from comics_analysis.space import SpaceConfig, launch
from comics_analysis.store import write_store
from space_helpers import CHROMIUM, chromium_context
from store_embedder import embed_pages

BOOKS, PAGES = 100, 100
# screenshots kept to look at (tests/artifacts/ is not tracked), as in test_space.py
SCREENSHOTS = Path(os.environ.get("COMICS_SCREENSHOT_DIR") or Path(__file__).parent / "artifacts" / "space")
HOSTILE = '<img src=x onerror="window.__pwned=1"> <b>bold</b> & <script>window.__pwned=2</script>'
HOSTILE_BOOK = "scale-book-000"


def _page(b: int, i: int) -> Page:
    book = f"scale-book-{b:03d}"
    n = 1 + (b + i) % 4
    panels = [Panel(bbox=(20, 20 + j * 1160 / n, 760, 1160 / n - 10), order=j) for j in range(n)]
    texts = []
    if book == HOSTILE_BOOK and i < 3:  # three pages with the same hostile lettering
        texts = [TextBox(bbox=(40, 40, 300, 80), text=HOSTILE, kind="dialogue", panel=0)]
    elif i % 10 == 0:
        texts = [TextBox(bbox=(40, 40, 300, 80), text=f"page {i} of book {b}", kind="narration", panel=0)]
    return Page(
        page_id=f"{book}/p{i:04d}",
        book_id=book,
        page_index=i,
        width=800,
        height=1200,
        panels=panels,
        texts=texts,
        page_type="story" if i else "cover",
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("space-scale")
    pages = [_page(b, i) for b in range(BOOKS) for i in range(PAGES)]
    embed = partial(embed_pages, dim=32)
    write_store(pages, root / "store.zarr", embed, model_id="test-embedder", dim=32, show_progress=False)
    analyze_store(root / "store.zarr", root / "analysis", method="pca", clusters=8, plots=False)
    demo, url = launch(
        SpaceConfig(store=root / "store.zarr", analysis=root / "analysis"), block=False, quiet=True
    )
    try:
        with sync_api.sync_playwright() as pw:
            context = chromium_context(pw, root / "chromium-profile")
            try:
                page = context.new_page()
                page.set_default_timeout(120_000)
                yield page, url
            finally:
                context.close()
    finally:
        demo.close()


def _map(page, url: str) -> dict:
    page.goto(url, wait_until="networkidle")
    page.get_by_role("tab", name="Map").click()
    page.wait_for_function(f"() => window.comicsMap && window.comicsMap.count() === {BOOKS * PAGES}")
    return page.evaluate("() => window.comicsMap.positions()")


def _nearest(xs: np.ndarray, ys: np.ndarray, x: float, y: float, reach: float) -> int:
    d = (xs - x) ** 2 + (ys - y) ** 2
    i = int(np.argmin(d))  # ties: the lower index, as the map
    return i if d[i] <= reach * reach else -1


def _tip_names(page, page_id: str) -> None:
    page.wait_for_function(
        "(id) => { const t = document.querySelector('.cmap-tip');"
        " return t.style.display === 'block'"
        " && t.querySelector('.cmap-tip-text').textContent.startsWith(id + ' ·'); }",
        arg=page_id,
    )


@pytest.mark.slow
def test_map_hover_and_box_selection_on_ten_thousand_pages(served):
    page, url = served
    pos = _map(page, url)
    ids, xs, ys, reach = pos["ids"], np.array(pos["x"]), np.array(pos["y"]), pos["reach"]
    assert len(ids) == len(set(ids)) == BOOKS * PAGES
    # hover at whole pixels near 12 random pages: the page the brute-force search finds there
    rng = np.random.default_rng(0)
    for i in rng.choice(len(ids), 12, replace=False):
        x, y = round(xs[i]), round(ys[i])
        want = _nearest(xs, ys, x, y, reach)
        assert want >= 0
        page.mouse.move(x, y)
        _tip_names(page, ids[want])
        assert page.evaluate("() => window.comicsMap.hovered()") == ids[want]
    # the thumbnail of the last hovered page arrives (fetched once the pointer rests)
    page.wait_for_function(
        "() => { const i = document.querySelector('.cmap-tip img');"
        " return i.complete && i.naturalWidth > 0 && getComputedStyle(i).display !== 'none'; }"
    )
    # a box over part of the map: exactly the pages drawn inside, in the exported CSV
    x0, x1 = np.percentile(xs, [30, 55]).round()
    y0, y1 = np.percentile(ys, [20, 60]).round()
    inside = sorted(ids[i] for i in np.flatnonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)))
    assert 200 < len(inside) < 5000
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
    page.mouse.move(x1, y1, steps=3)
    page.mouse.up()
    page.wait_for_function(
        "(n) => document.body.innerText.includes(n + ' page(s) selected')", arg=len(inside)
    )
    page.wait_for_function("() => !document.querySelector('#selection-csv').disabled")
    with page.expect_download() as download:
        page.locator("#selection-csv").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("page_id,") and sorted(line.split(",")[0] for line in lines[1:]) == inside
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "space-map-10k-selection.png"), full_page=True)
    # a click opens the page under the pointer
    i = int(rng.integers(len(ids)))
    x, y = round(xs[i]), round(ys[i])
    want = ids[_nearest(xs, ys, x, y, reach)]
    page.mouse.click(x, y)
    page.wait_for_function(
        "(id) => (document.querySelector('#page-text') || {}).innerText?.includes(id)", arg=want
    )


@pytest.mark.slow
def test_html_in_lettering_stays_text(served):
    page, url = served
    target = f"{HOSTILE_BOOK}/p0000"
    # results table: "more like this" page finds the pages with the same lettering
    page.goto(url, wait_until="networkidle")
    page.get_by_role("tab", name="Page id").click()
    page.get_by_label("page id").first.fill(target)
    page.get_by_role("radio", name="page", exact=True).check()
    page.get_by_role("button", name="More like this").click()
    page.wait_for_function(
        "(t) => (document.querySelector('#results-table') || {}).innerText?.includes(t)", arg=HOSTILE[:20]
    )
    table = page.locator("#results-table")
    assert table.inner_text().count(HOSTILE) >= 2  # shown as written (the query page excluded or not)
    assert table.locator("img, b, script").count() == 0
    # the page view
    page.locator("#results-gallery img").first.wait_for()
    page.get_by_role("tab", name="Page", exact=True).click()
    page.locator("#page-id input, #page-id textarea").fill(target)
    page.get_by_role("button", name="Show page").click()
    page.wait_for_function("(id) => document.querySelector('#page-text').innerText.includes(id)", arg=target)
    view = page.locator("#page-text")
    assert HOSTILE in view.inner_text() and view.locator("img, b, script").count() == 0
    # the map's hover tip: the page's lettering as text
    pos = _map(page, url)
    i = pos["ids"].index(target)
    x, y = round(pos["x"][i]), round(pos["y"][i])
    want = pos["ids"][_nearest(np.array(pos["x"]), np.array(pos["y"]), x, y, pos["reach"])]
    hostile = {f"{HOSTILE_BOOK}/p{k:04d}" for k in range(3)}
    assert want in hostile, f"{target} is covered by {want} on the map"  # the three share their lettering
    page.mouse.move(x, y)
    _tip_names(page, want)
    page.wait_for_function("() => document.querySelector('.cmap-tip-line').textContent !== ''")
    tip = page.locator(".cmap-tip")
    assert tip.locator(".cmap-tip-line").text_content() == HOSTILE
    assert tip.locator("img").count() == 1 and tip.locator("b, script").count() == 0  # the thumbnail only
    assert page.evaluate("() => window.__pwned === undefined")
