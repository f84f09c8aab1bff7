"""The comics-search Space: each tab's function through `gradio_client` against a launched app,
`comics-analysis serve` driven by a headless Chromium (Playwright) that runs a text search and
saves a screenshot, and a staged Space folder that runs as is. A real tiny (untrained) Closure
Lite model embeds a synthetic collection; no network (the app listens on 127.0.0.1)."""

import os
import re
import shutil
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
SCREENSHOT_DIR = os.environ.get("COMICS_SCREENSHOT_DIR")  # keep the screenshot to look at


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
        assert size[1] <= 320 and isinstance(panel, int) and 1 <= panel <= len(pages[page_id].panels)
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
    gallery, table, status = c.predict(page_id, 0, 5, "page", "(any)", "(any)", api_name="/search_page")
    assert len(gallery) == 5 and page_id not in [row[1] for row in table["data"]]
    gallery, table, _ = c.predict(page_id, 1, 3, "panel", "(any)", "(any)", api_name="/search_page")
    assert len(gallery) == 3 and all(row[2] for row in table["data"])
    # a panel's crop at panel level: the store keeps image-only panel vectors, so the Space compares
    # crop with crop (the crop level) and the panel it was cut from comes first (1-based in the table)
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
    assert (table["data"][0][1], table["data"][0][2]) == (page_id, 2)
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
        assert f"**panel {j + 1}**" in markdown or not page.panel_texts(j)
    strip, title = c.predict(page.book_id, api_name="/book_strip")
    book = sorted((p for p in pages.values() if p.book_id == page.book_id), key=lambda p: p.page_index)
    assert len(strip) == len(book) and f"### {page.book_id}" in title
    assert [s["caption"] for s in strip] == [f"p{p.page_index + 1} · {p.page_type}" for p in book]
    strip, _ = c.predict(page.page_id, api_name="/book_strip")  # a page id opens its book
    assert len(strip) == len(book)
    mixed = c.predict("mixed-download-0000beef", api_name="/book_strip")[0]
    assert [s["caption"].split(" · ")[1] for s in mixed] == ["text_backmatter", "text_backmatter", "other"]
    map_path, report = c.predict("page_type", api_name="/show_map")
    assert map_path.endswith(".png") and "| cluster | pages | mean panels |" in report
    with Image.open(map_path) as image:
        assert image.width > 300


def test_rendered_page_has_numbered_boxes(space_data):
    be = SpaceBackend(SpaceConfig(store=space_data / "store.zarr"))
    page = next(p for p in read_annotations(space_data / "coll") if len(p.panels) >= 2)
    plain = be.page_image(page.page_id).convert("RGB")
    drawn, _ = be.render_page(page.page_id)
    x, y, w, _h = page.panels[0].bbox
    # the first panel's box outline is drawn in the first colour (red) where the page was not red
    edge = drawn.getpixel((int(x + w / 2), int(y + 1)))
    assert edge == (230, 25, 75) and plain.getpixel((int(x + w / 2), int(y + 1))) != edge


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


@pytest.mark.slow
def test_browser_text_search_shows_results(space_data, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    proc, url = _serve(space_data, tmp_path)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),  # a fresh user-data-dir
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
            )
            try:
                page = browser.new_page()
                page.goto(url, wait_until="networkidle", timeout=120_000)
                page.get_by_label("text query").fill("THE CAPTAIN")
                page.locator("#search-text-button").click()
                images = page.locator("#results-gallery img")
                images.first.wait_for(state="visible", timeout=120_000)
                page.wait_for_function(
                    "() => [...document.querySelectorAll('#results-gallery img')].filter("
                    "i => i.complete && i.naturalWidth > 0).length >= 12",
                    timeout=120_000,
                )
                assert images.count() >= 12
                assert "12 result(s)" in page.inner_text("body")
                shot = tmp_path / "search.png"
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with Image.open(shot) as image:
        assert image.width >= 1400 and image.height > 600
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(SCREENSHOT_DIR) / "space-search.png")


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
