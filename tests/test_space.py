"""The comics-search Space: each tab's function through `gradio_client` against a launched app,
`comics-analysis serve` driven by a headless Chromium (Playwright) that runs a text search and
saves a screenshot, and a staged Space folder that runs as is. A real tiny (untrained) Closure
Lite model embeds a synthetic collection; no network (the app listens on 127.0.0.1)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("zarr")
pytest.importorskip("torch")
gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from comics_analysis.annotate import read_annotations  # noqa: E402
from comics_analysis.space import SpaceBackend, SpaceConfig, launch, stage_space  # noqa: E402
from comics_analysis.store.embed import embed_store  # noqa: E402
from space_helpers import save_tiny_model, write_collection  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
SRC = Path(__file__).resolve().parents[1] / "src"
# the screenshots of the browser tests, kept to look at (tests/artifacts/ is not tracked)
SCREENSHOTS = Path(os.environ.get("COMICS_SCREENSHOT_DIR") or Path(__file__).parent / "artifacts" / "space")


@pytest.fixture(scope="module")
def space_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("space")
    write_collection(root / "coll", books=2, story=8, prose=2, noise=1)
    model = save_tiny_model(root / "model", embed_dim=384)
    embed_store(root / "coll", model, root / "store.zarr", chunk_pages=8, show_progress=False)
    from comics_analysis.analysis import analyze_store

    analyze_store(root / "store.zarr", root / "analysis", method="pca", clusters=3)
    return root


@pytest.fixture(scope="module")
def client(space_data):
    config = SpaceConfig.from_env(
        store=space_data / "store.zarr", model=space_data / "model", analysis=space_data / "analysis"
    )
    demo, url = launch(config, block=False, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    try:
        yield gradio_client.Client(url, verbose=False), space_data
    finally:
        demo.close()


def _gallery_images(gallery):
    images = []
    for item in gallery:
        with Image.open(item["image"]) as image:
            images.append((image.size, item["caption"]))
    return images


def test_config_from_env_and_recorded_paths(space_data, monkeypatch):
    monkeypatch.setenv("COMICS_STORE", str(space_data / "store.zarr"))
    monkeypatch.setenv("COMICS_MODEL", str(space_data / "model"))
    config = SpaceConfig.from_env(model=None)
    assert config.store == space_data / "store.zarr" and config.model == space_data / "model"
    assert SpaceConfig.from_env(model="elsewhere").model == Path("elsewhere")
    monkeypatch.delenv("COMICS_STORE")
    with pytest.raises(ValueError, match="COMICS_STORE"):
        SpaceConfig.from_env()
    # the pages and images come from what `embed` recorded in the store
    be = SpaceBackend(SpaceConfig(store=space_data / "store.zarr"))
    assert be.config.pages == (space_data / "coll").resolve()
    pid = be.example_page()
    image = be.page_image(pid)
    page = next(p for p in read_annotations(space_data / "coll") if p.page_id == pid)
    assert image.size == (page.width, page.height)


def test_search_tab_text_image_and_page(client):
    c, root = client
    gallery, table, status = c.predict("THE CAPTAIN", 6, "panel", "(any)", "(any)", api_name="/search_text")
    assert status == "6 result(s)" and len(gallery) == 6 and len(table["data"]) == 6
    # panel hits are panel crops, smaller than the page; captions carry the score of the table
    pages = {p.page_id: p for p in read_annotations(root / "coll")}
    for (size, caption), row in zip(_gallery_images(gallery), table["data"]):
        page_id, panel, score = row[1], row[2], row[4]
        assert caption.startswith(f"{row[0]}. {page_id} #{panel} ") and caption.endswith(f"{score:.3f}")
        # panels are numbered from 0 in reading order, as in the CLI and the JSON outputs
        assert size[1] <= 320 and isinstance(panel, int) and 0 <= panel < len(pages[page_id].panels)
    scores = [row[4] for row in table["data"]]
    assert scores == sorted(scores, reverse=True)
    # filter by page type: only story pages
    _, table, _ = c.predict("THE CAPTAIN", 5, "page", "story", "(any)", api_name="/search_text")
    assert table["data"] and all(row[3] == "story" and row[2] in ("", None) for row in table["data"])
    # image upload (an untrained model: plumbing and ranking only, not relevance)
    query = sorted((root / "coll" / "images").rglob("p0003.png"))[0]
    gallery, table, status = c.predict(
        gradio_client.handle_file(str(query)), 4, "page", "(any)", "(any)", api_name="/search_image"
    )
    assert len(gallery) == 4 and status == "4 result(s)"
    assert [row[4] for row in table["data"]] == sorted((row[4] for row in table["data"]), reverse=True)
    # page id: more like this (the page itself left out), and a panel of it
    page_id = next(pid for pid, p in pages.items() if len(p.panels) >= 2)
    gallery, table, status = c.predict(page_id, -1, 5, "page", "(any)", "(any)", api_name="/search_page")
    assert len(gallery) == 5 and page_id not in [row[1] for row in table["data"]]
    gallery, table, _ = c.predict(page_id, 0, 3, "panel", "(any)", "(any)", api_name="/search_page")
    assert len(gallery) == 3 and all(isinstance(row[2], int) for row in table["data"])
    # panel 0 of the page is its first panel: the same query as the CLI's `--page ID --panel 0`
    from comics_analysis.store import StoreSearch

    cli = StoreSearch(root / "store.zarr").search(page=page_id, panel=0, k=3, level="panel")
    assert [(row[1], row[2]) for row in table["data"]] == [(h.page_id, h.panel) for h in cli]
    # a panel's crop at panel level: the store keeps image-only panel vectors, so the Space compares
    # crop with crop (the crop level) and the panel it was cut from comes first (panels numbered from 0)
    from comics_analysis.sources import open_pages

    source = open_pages(root / "coll")
    page = source.page(source.page_ids.index(page_id))
    x, y, w, h = page.panels[1].bbox
    crop = source.load_image(page).crop((round(x), round(y), round(x + w), round(y + h)))
    crop.save(root / "crop-query.png")
    _, table, _ = c.predict(
        gradio_client.handle_file(str(root / "crop-query.png")), 3, "panel", "(any)", "(any)",
        api_name="/search_image",
    )  # fmt: skip
    assert (table["data"][0][1], table["data"][0][2]) == (page_id, 1)
    with pytest.raises(Exception, match="not in the store"):
        c.predict("nope-00000000/p0000", 0, 5, "page", "(any)", "(any)", api_name="/search_page")


def test_page_book_and_map_tabs(client):
    c, root = client
    pages = {p.page_id: p for p in read_annotations(root / "coll")}
    page = next(p for p in pages.values() if len(p.panels) >= 3 and p.texts)
    image_path, markdown = c.predict(page.page_id, api_name="/view_page")
    with Image.open(image_path) as image:
        assert image.size == (page.width, page.height)
    assert f"### {page.page_id}" in markdown and "page type **story**" in markdown
    assert f"{len(page.panels)} panel(s)" in markdown and page.texts[0].text in markdown
    for j in range(len(page.panels)):
        assert f"**panel {j}**" in markdown or not page.panel_texts(j)
    assert f"{page.page_index + 1} of 8 in the book" in markdown
    strip, title = c.predict(page.book_id, api_name="/book_strip")
    book = sorted((p for p in pages.values() if p.book_id == page.book_id), key=lambda p: p.page_index)
    assert len(strip) == len(book) and f"### {page.book_id}" in title
    assert [s["caption"] for s in strip] == [f"p{p.page_index} · {p.page_type}" for p in book]
    strip, _ = c.predict(page.page_id, api_name="/book_strip")  # a page id opens its book
    assert len(strip) == len(book)
    mixed = c.predict("mixed-download-0000beef", api_name="/book_strip")[0]
    assert [s["caption"].split(" · ")[1] for s in mixed] == ["text_backmatter", "text_backmatter", "other"]


def test_rendered_page_has_numbered_boxes(space_data):
    be = SpaceBackend(SpaceConfig(store=space_data / "store.zarr"))
    page = next(p for p in read_annotations(space_data / "coll") if len(p.panels) >= 2)
    plain = be.page_image(page.page_id).convert("RGB")
    drawn, _ = be.render_page(page.page_id)
    x, y, w, _h = page.panels[0].bbox
    # the first panel's box outline is drawn in the first colour (red) where the page was not red
    edge = drawn.getpixel((int(x + w / 2), int(y + 1)))
    assert edge == (230, 25, 75) and plain.getpixel((int(x + w / 2), int(y + 1))) != edge


def test_lettering_boxes_are_outlined_over_the_page(space_data):
    from comics_analysis.space.pages import LETTERING_OUTLINE

    be = SpaceBackend(SpaceConfig(store=space_data / "store.zarr"))
    page = next(p for p in read_annotations(space_data / "coll") if len(p.texts) >= 2)
    bare, _ = be.render_page(page.page_id, lettering=False)
    drawn, markdown = be.render_page(page.page_id)
    assert f"{len(page.texts)} lettering box(es) outlined in amber" in markdown
    outlined = 0
    for text in page.texts:
        x, y, w, _h = text.bbox
        spot = (int(x + w / 2), int(y))  # the middle of the box's top edge
        outlined += drawn.getpixel(spot) == LETTERING_OUTLINE and bare.getpixel(spot) != LETTERING_OUTLINE
    assert outlined >= len(page.texts) - 1  # a panel outline drawn on top may hide one


def test_page_types_come_from_the_records_when_the_store_has_none(space_data):
    import numpy as np

    be = SpaceBackend(SpaceConfig(store=space_data / "store.zarr"))
    be.store.__dict__["page_types"] = np.array([None] * len(be.store), object)  # as before `segment`
    assert be.page_types == ["other", "story", "text_backmatter"]
    pid = "mixed-download-0000beef/p0002"
    assert be.page_type_of(pid) == "other" and "page type **other**" in be.render_page(pid)[1]


def test_previous_and_next_page_stay_in_the_book(client):
    c, root = client
    book = sorted(p.page_id for p in read_annotations(root / "coll") if p.book_id == "synth-book-0-00000000")
    page_id, image_path, markdown = c.predict(book[0], api_name="/page_next")
    assert page_id == book[1] and f"### {book[1]}" in markdown and "2 of 8 in the book" in markdown
    assert Path(image_path).is_file()
    assert c.predict(book[0], api_name="/page_prev")[0] == book[0]  # the first page stays
    assert c.predict(book[-1], api_name="/page_next")[0] == book[-1]
    assert c.predict(book[3], api_name="/page_prev")[0] == book[2]


def test_map_tab_colours_clusters_selection_and_csv(client):
    c, root = client
    pages = {p.page_id: p for p in read_annotations(root / "coll")}
    for colour in ("cluster", "page_type", "book", "outlier_score", "panel_count"):
        value, clusters, pick, gallery = c.predict(colour, api_name="/show_map")
        assert sorted(value["ids"]) == sorted(pages) and value["colour_by"] == colour
        columns = ("x", "y", "c", "o", "t", "k", "n", "s")
        assert all(len(value[name]) == 19 for name in columns)
        assert all(re.fullmatch(r"#[0-9a-f]{6}", col) for col in value["colours"]) and value["legend"]
        assert sorted(set(value["c"])) == list(range(len(value["colours"])))  # indices of colours
        types = [value["types"][t] for t in value["t"]]
        assert types == [pages[pid].page_type for pid in value["ids"]]
    value, clusters, pick, gallery = c.predict("page_type", api_name="/show_map")
    # page types as the records have them, not "(none)"
    assert sorted(label for label, _ in value["legend"]) == ["other", "story", "text_backmatter"]
    assert clusters["headers"] == ["cluster", "pages", "mean panels", "page types", "outliers"]
    assert sum(row[1] for row in clusters["data"]) == 19
    assert "(none)" not in " ".join(row[3] for row in clusters["data"])
    # a cluster gallery holds page thumbnails, captioned with the page id and its type
    assert pick["value"] == pick["choices"][0][0] and pick["choices"][-1][0] == "outliers"
    biggest = clusters["data"][0][1]
    assert len(gallery) == biggest
    for item in gallery:
        pid, kind = re.fullmatch(r"(\S+) \[(\S+)\]", item["caption"]).groups()
        assert kind == pages[pid].page_type
        with Image.open(item["image"]) as thumb:
            assert thumb.height == 240 and thumb.width > 100
    assert len(c.predict(pick["choices"][1][0], api_name="/cluster_gallery")) == clusters["data"][1][1]
    outliers = c.predict("outliers", api_name="/cluster_gallery")  # flagged pages, else the top scores
    # text pages first: analyze's not-a-comic score with the prose line counts `embed` stored
    from comics_analysis.store import open_store

    st = open_store(root / "store.zarr")
    text_pages = {pid for pid, n in zip(st.page_ids, st.prose_lines) if n >= 10}
    first = {item["caption"].split(" ")[0] for item in outliers[: len(text_pages)]}
    assert text_pages and first == text_pages
    # a selection (what a box or lasso on the map sends) as a gallery, a table and a CSV file
    chosen = sorted(pages)[:3]
    gallery, table, status, ids, csv_file = c.predict("\n".join(chosen), api_name="/select_pages")
    assert status == "3 page(s) selected" and ids.split("\n") == chosen
    assert [item["caption"].split(" ")[0] for item in gallery] == chosen
    assert [row[0] for row in table["data"]] == chosen
    lines = Path(csv_file["value"]).read_text().splitlines()
    assert lines[0] == "page_id,book,page,page type,cluster,panels,outlier score"
    assert [line.split(",")[0] for line in lines[1:]] == chosen
    assert lines[1].split(",")[3] == pages[chosen[0]].page_type
    _, _, status, _, csv_file = c.predict("", api_name="/select_pages")
    assert status.startswith("no pages selected") and not csv_file.get("value")


def _serve(space_data, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env["PYTHONWARNINGS"] = "ignore"
    cmd = [sys.executable, "-m", "comics_analysis", "-q", "serve", str(space_data / "store.zarr")]
    cmd += ["--model", str(space_data / "model"), "--analysis", str(space_data / "analysis"), "--port", "0"]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    deadline = time.time() + 180
    url = None
    while time.time() < deadline and url is None:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        found = re.search(r"running at (http://127\.0\.0\.1:\d+/?)", line)
        url = found.group(1) if found else None
    if url is None:
        proc.kill()
        raise AssertionError("serve did not print its URL:\n" + (tmp_path / "serve.log").read_text()[-3000:])
    return proc, url


@pytest.fixture(scope="module")
def browser(space_data, tmp_path_factory):
    """`comics-analysis serve` on the test store and one headless Chromium page on it (shared by
    the browser tests of this module; each test starts from a fresh load of the app)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the Space tabs: {SCREENSHOTS}")
    proc, url = _serve(space_data, tmp)
    try:
        with sync_api.sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp / "chromium-profile"),  # a fresh user-data-dir
                executable_path=str(CHROMIUM),
                headless=True,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
                viewport={"width": 1400, "height": 1100},
                accept_downloads=True,
            )
            try:
                page = context.new_page()
                page.set_default_timeout(60_000)
                yield page, url
            finally:
                context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _shot(page, name: str) -> Path:
    path = SCREENSHOTS / f"space-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as image:
        assert image.width >= 1400 and image.height > 600
    return path


def _loaded_images(page, selector: str, at_least: int) -> None:
    page.wait_for_function(
        "([sel, n]) => [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth > 0)"
        ".length >= n",
        arg=[f"{selector} img", at_least],
    )


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()


def _page_text_shows(page, page_id: str) -> str:
    page.wait_for_function(
        "(id) => (document.querySelector('#page-text') || {}).innerText?.includes(id)", arg=page_id
    )
    assert page.get_by_role("tab", name="Page").get_attribute("aria-selected") == "true"
    return page.inner_text("#page-text")


@pytest.mark.slow
def test_browser_search_result_opens_its_page(browser):
    page, url = browser
    page.goto(url, wait_until="networkidle")
    page.get_by_label("text query").fill("THE CAPTAIN")
    page.locator("#search-text-button").click()
    _loaded_images(page, "#results-gallery", 12)
    assert "12 result(s)" in page.inner_text("body")
    # readable table: every header on one line (not one letter a line)
    page.locator("#results-table th").first.wait_for()
    heights = [
        box["height"]
        for box in page.eval_on_selector_all(
            "#results-table thead th", "ths => ths.map(t => t.getBoundingClientRect().toJSON())"
        )
    ]
    assert heights and max(heights) < 60, heights
    _shot(page, "search")
    # the results as CSV
    with page.expect_download() as download:
        page.locator("#results-csv").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "rank,page_id,panel,page type,score,text" and len(lines) == 13
    page_id = lines[1].split(",")[1]
    assert page_id in page.inner_text("#results-table")
    # a click on the first result opens its page, with its place in the book
    page.locator("#results-gallery img").first.click()
    text = _page_text_shows(page, page_id)
    assert re.search(r"\d+ of \d+ in the book", text) and "numbered from 0 in reading order" in text
    _loaded_images(page, "#page-image", 1)
    _shot(page, "page")
    # next page
    book, index = page_id.rsplit("/p", 1)
    page.locator("#page-next").click()
    _page_text_shows(page, f"{book}/p{int(index) + 1:04d}")


@pytest.mark.slow
def test_browser_book_tab_opens_a_page(browser):
    page, url = browser
    page.goto(url, wait_until="networkidle")
    _tab(page, "Book")
    page.get_by_label("book id (or a page id of the book)").fill("synth-book-0-00000000")
    page.get_by_role("button", name="Show book").click()
    _loaded_images(page, "#book-strip", 8)
    _shot(page, "book")
    page.locator("#book-strip img").nth(2).click()
    _page_text_shows(page, "synth-book-0-00000000/p0002")


def _points(page) -> dict[str, tuple[float, float]]:
    ids = page.evaluate("window.comicsMap.ids()")
    return {pid: tuple(page.evaluate("(id) => window.comicsMap.screen(id)", pid).values()) for pid in ids}


def _selected(page, count: int) -> list[str]:
    page.wait_for_function("(n) => document.body.innerText.includes(n + ' page(s) selected')", arg=count)
    page.wait_for_function(
        "(n) => document.querySelectorAll('#selection-gallery img').length === n", arg=count
    )
    _loaded_images(page, "#selection-gallery", count)
    captions = page.eval_on_selector_all(
        "#selection-gallery .caption-label, #selection-gallery figcaption, #selection-gallery .caption",
        "els => els.map(e => e.innerText)",
    )
    return sorted({c.split(" ")[0] for c in captions if c.strip()})


@pytest.mark.slow
def test_browser_map_hover_click_and_selection(browser):
    page, url = browser
    page.goto(url, wait_until="networkidle")
    _tab(page, "Map")
    page.wait_for_function("() => window.comicsMap && window.comicsMap.count() === 19")
    _loaded_images(page, "#cluster-gallery", 2)  # the first cluster's gallery
    _shot(page, "map")
    points = _points(page)
    # hover: the page's thumbnail and its line
    target = "synth-book-0-00000000/p0002"
    page.mouse.move(*points[target])
    page.wait_for_function(
        "() => { const i = document.querySelector('.cmap-tip img');"
        " return i && i.complete && i.naturalWidth > 0 && getComputedStyle(i).display !== 'none'; }"
    )
    line = page.inner_text(".cmap-tip-text")
    shape = r" · story · cluster \d+ · \d+ panel\(s\) · outlier score -?\d+\.\d\d( \(outlier\))?"
    assert re.fullmatch(re.escape(target) + shape, line), line
    _shot(page, "map-hover")
    # box selection: the pages drawn inside the box, as a gallery
    xs = sorted(x for x, _ in points.values())
    ys = sorted(y for _, y in points.values())
    box = (xs[0] - 5, ys[0] - 5, (xs[0] + xs[-1]) / 2, ys[-1] + 5)  # the left half of the map
    inside = sorted(p for p, (x, y) in points.items() if box[0] <= x <= box[2] and box[1] <= y <= box[3])
    assert 0 < len(inside) < 19
    page.mouse.move(box[0], box[1])
    page.mouse.down()
    page.mouse.move(box[2], (box[1] + box[3]) / 2, steps=4)
    page.mouse.move(box[2], box[3], steps=4)
    page.mouse.up()
    assert _selected(page, len(inside)) == inside
    _shot(page, "map-selection")
    # lasso: a pentagon around the three right-most pages (the map may have moved: read it again)
    from matplotlib.path import Path as Polygon

    points = _points(page)
    page.locator(".cmap-bar button[data-mode=lasso]").click()
    three = sorted(points, key=lambda p: points[p][0])[-3:]
    x0, x1 = min(points[p][0] for p in three) - 15, max(points[p][0] for p in three) + 15
    y0, y1 = min(points[p][1] for p in three) - 15, max(points[p][1] for p in three) + 15
    corners = [(x1, y0), (x0, y0), (x0 - 30, (y0 + y1) / 2), (x0, y1), (x1, y1)]
    shape = Polygon(corners)
    lasso = sorted(p for p, xy in points.items() if shape.contains_point(xy))
    assert set(three) <= set(lasso) and len(lasso) != len(inside)
    page.mouse.move(*corners[0])
    page.mouse.down()
    for corner in [*corners[1:], corners[0]]:
        page.mouse.move(*corner, steps=4)
    page.mouse.up()
    assert _selected(page, len(lasso)) == lasso
    # a click on a selected page opens it; a click on the map opens the page under the pointer
    page.locator("#selection-gallery img").first.click()
    _page_text_shows(page, lasso[0])
    _tab(page, "Map")  # back on the map: the selection is still there
    assert _selected(page, len(lasso)) == lasso
    page.wait_for_function("(id) => window.comicsMap.screen(id) !== null", arg=target)
    page.mouse.click(*page.evaluate("(id) => Object.values(window.comicsMap.screen(id))", target))
    _page_text_shows(page, target)


@pytest.mark.slow
def test_staged_space_folder_runs_as_is(space_data, tmp_path):
    from comics_analysis.dataset_builders.comic_pages import export_comic_pages

    export_comic_pages(space_data / "coll", tmp_path / "pages", configs=["all"], show_progress=False)
    out = stage_space(
        tmp_path / "space",
        space_data / "store.zarr",
        model=space_data / "model",
        pages=tmp_path / "pages",
        analysis=space_data / "analysis",
    )
    readme = (out / "README.md").read_text()
    front = readme.split("---")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front
    requirements = (out / "requirements.txt").read_text()
    for name in ("gradio", "umap-learn", "scikit-learn", "zarr", "faiss-cpu", "torch==2.13.0"):
        assert name in requirements
    assert (out / "src" / "comics_analysis" / "space" / "app.py").is_file()
    # the staged app imports the staged package and finds its data without any variable set
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMICS_") and k != "PYTHONPATH"}
    code = (
        "import runpy, sys; ns = runpy.run_path('app.py'); be_config = ns['config']; "
        "print(sys.modules['comics_analysis'].__file__); print(be_config.store, be_config.pages); "
        "from comics_analysis.space import SpaceBackend; be = SpaceBackend(be_config); "
        "print(be.page_image(be.example_page()).size, len(be.search(text='THE CAPTAIN', k=3)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=out, capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == str(out / "src" / "comics_analysis" / "__init__.py")
    assert lines[1] == f"{out / 'data' / 'store.zarr'} {out / 'data' / 'pages'}"
    assert lines[2] == "(330, 500) 3"


@pytest.mark.slow
def test_run_demo_tail_embeds_analyses_and_serves(space_data, tmp_path, monkeypatch, capsys):
    from comics_analysis.space import run_demo_tail

    model = space_data / "model"
    monkeypatch.setenv("DEMO_NO_SERVE", "1")
    tail = run_demo_tail(space_data / "coll", model, tmp_path / "demo", show_progress=False, step=(4, 6))
    out = capsys.readouterr().out
    assert "[4/6] embedding" in out and "[5/6] UMAP map" in out and "[6/6]" not in out
    assert tail.url is None and tail.pages == 19 and tail.clusters >= 2
    assert (tmp_path / "demo" / "analysis" / "map_cluster.png").is_file()
    assert len(tail.sample_query["hits"]) == 3 and "sample text query" in out
    # the crop query of the demo finds the panel it was cut from first (image-only panel vectors)
    line = next(x for x in out.splitlines() if "where does crop-query.jpg" in x)
    source = line.split("(panel 1 of ")[1].split(",")[0]
    assert line.split("come from: ")[1].startswith(f"{source} panel 1 ")
    assert tail.serve_command == (
        f"comics-analysis serve {tmp_path / 'demo' / 'store.zarr'} --model {model} "
        f"--analysis {tmp_path / 'demo' / 'analysis'}"
    )
    assert f"open the Space on these outputs at any time with:\n    {tail.serve_command}" in out
    # serving: the URL answers a gradio_client search (the store is reused: nothing re-embedded)
    monkeypatch.delenv("DEMO_NO_SERVE")
    tail = run_demo_tail(space_data / "coll", model, tmp_path / "demo", block=False, show_progress=False)
    try:
        assert tail.url.startswith("http://127.0.0.1:")
        assert "0 pages, 0 panels" in capsys.readouterr().out  # resumed: every chunk was finished
        c = gradio_client.Client(tail.url, verbose=False)
        gallery, _, status = c.predict("THE CAPTAIN", 4, "panel", "(any)", "(any)", api_name="/search_text")
        assert len(gallery) == 4 and status == "4 result(s)"
    finally:
        tail.app.close()


def test_quote_tab_finds_the_panel_of_a_line(client):
    from comics_analysis.store import build_fulltext

    c, root = client
    pages = read_annotations(root / "coll")
    page, text = next((p, t) for p in pages for t in p.texts if t.panel >= 0 and len(t.text.split()) >= 3)
    with pytest.raises(Exception, match="--level text"):  # no index yet: the error names the command
        c.predict(text.text, "fuzzy", 3, "(any)", "(any)", api_name="/search_quote")
    build_fulltext(root / "store.zarr")
    misread = text.text.replace("I", "1", 1).replace("'", "")[:-1]  # OCR-like errors
    gallery, table, status = c.predict(misread, "fuzzy", 3, "(any)", "(any)", api_name="/search_quote")
    assert status.endswith("result(s)") and gallery
    top = table["data"][0]
    assert top[1] == page.page_id or text.text in top[5]  # the same line may be on several pages
    assert text.text in top[5] and top[4] > 0.8
