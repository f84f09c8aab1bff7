"""The comics-search Gradio app: thin wiring of :class:`.backend.SpaceBackend` into tabs.

Tabs: Search (text / image upload / page id / quote (a line of lettering, through the store's
full-text index; hybrid: fused with the quote's meaning by reciprocal rank fusion) / description
(what a panel shows, by meaning, over the panels' VLM descriptions); a results gallery of page
thumbnails and panel crops with scores, a table with the lettered text, the results as CSV; a
click on a result opens its page), Page (panel boxes numbered from 0 in reading order over the
lettering boxes, lettered text, page type, the page's place in its book, previous / next page),
Book (the book's pages with their page types; a click opens the page), Map (the interactive map
of :mod:`.mapview`: hover shows a page, a click opens it, a box or lasso selection shows its
pages as a gallery, exported as CSV; colour by cluster, page type, book, outlier score or panel
count; a gallery per cluster and of the outliers).

Panels are numbered from 0 in reading order everywhere, as in the CLI, the JSON outputs and the
datasets. Each handler has an ``api_name``, so ``gradio_client`` can call it: ``search_text``,
``search_image``, ``search_page``, ``search_quote``, ``search_describe``, ``view_page``, ``page_prev``,
``page_next``, ``book_strip``, ``show_map``, ``cluster_gallery``, ``select_pages``.
"""

# no `from __future__ import annotations`: Gradio reads the gr.EventData annotation at run time
import logging
import socket
from pathlib import Path
from typing import Any

from . import explore
from .backend import MAX_QUERY_CHARS, SpaceBackend, SpaceConfig
from .mapview import page_map
from .pages import book_line, neighbour, plain

log = logging.getLogger(__name__)

TITLE = "comics-search"
ANY = "(any)"
FILTERS = {"page_type": "page type", "book_id": "book"}
LEVELS = ["panel", "page"]
MAX_UPLOAD = "20mb"  # a query image larger than this is refused by the server
MAX_TABLE_ROWS = 1000  # rows of a selection shown in its table (the CSV has all)
RESULT_WIDTHS = ["6%", "24%", "7%", "12%", "9%", "42%"]
CLUSTER_WIDTHS = ["10%", "10%", "13%", "55%", "12%"]
SELECTION_WIDTHS = ["28%", "22%", "7%", "13%", "9%", "8%", "13%"]
CSS = """
#results-table th, #cluster-table th, #selection-table th { white-space: nowrap; }
"""


def _filters(page_type: str | None, book: str | None) -> dict[str, str | None]:
    return {
        "page_type": None if not page_type or page_type == ANY else page_type,
        "book_id": None if not book or book == ANY else book,
    }


def _rows(table: Any) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of a Dataframe value (a pandas DataFrame, or the client's dict)."""
    if table is None:
        return [], []
    if hasattr(table, "columns"):
        return [str(c) for c in table.columns], table.values.tolist()
    if isinstance(table, dict):
        return list(table.get("headers", [])), list(table.get("data", []))
    return [], list(table)


def build_app(backend: SpaceBackend | SpaceConfig):
    """The ``gradio.Blocks`` app over a backend (or a config to open one)."""
    import gradio as gr

    be = backend if isinstance(backend, SpaceBackend) else SpaceBackend(backend)
    type_choices = [ANY, *be.page_types]
    book_choices = [ANY, *be.book_ids]
    cache: dict[str, Any] = {}  # the map's points, read once per analysis folder

    def fail(exc: Exception):
        return gr.Error(str(exc.args[0] if exc.args else exc))

    # --- search ---------------------------------------------------------------------------------
    def run(**query: Any):
        try:
            hits = be.search(**query)
        except (ValueError, KeyError, FileNotFoundError) as exc:
            raise fail(exc) from None
        chosen = [f"{FILTERS[k]} {v}" for k, v in query.items() if k in FILTERS and v]
        status = f"{len(hits)} result(s)" if hits else "no results"
        if not hits and chosen:
            status += f" with {' and '.join(chosen)}: set the filters to {ANY} to search everything"
        return be.gallery(hits), be.table(hits), status

    def search_text(text: str, k: float, level: str, page_type: str, book: str):
        return run(text=text, k=int(k), level=level, **_filters(page_type, book))

    def search_image(image, k: float, level: str, page_type: str, book: str):
        if image is None:
            raise gr.Error("upload an image (a page or a panel crop) first")
        return run(image=image, k=int(k), level=level, **_filters(page_type, book))

    def search_page(page_id: str, panel: float | None, k: float, level: str, page_type: str, book: str):
        slot = None if panel is None or panel == "" or int(panel) < 0 else int(panel)
        return run(page_id=page_id, panel=slot, k=int(k), level=level, **_filters(page_type, book))

    def search_quote(quote: str, mode: str, k: float, page_type: str, book: str, hybrid: bool = False):
        if not (quote or "").strip():
            raise gr.Error("type a line of lettering first")
        gallery, table, status = run(
            quote=quote, mode=mode, hybrid=bool(hybrid), k=int(k), **_filters(page_type, book)
        )
        if hybrid:
            status += " (hybrid: lettering and meaning rankings fused; score = reciprocal rank fusion)"
        return gallery, table, status

    def search_describe(description: str, k: float, page_type: str, book: str):
        if not (description or "").strip():
            raise gr.Error("describe what a panel shows first")
        return run(describe=description, k=int(k), **_filters(page_type, book))

    def export_results(table):
        headers, rows = _rows(table)
        if not rows:
            return gr.update(value=None, interactive=False)
        return gr.update(value=str(explore.write_csv(headers, rows, "results")), interactive=True)

    # --- pages ----------------------------------------------------------------------------------
    def view_page(page_id: str):
        try:
            image, text = be.render_page(page_id or be.example_page())
        except KeyError as exc:
            raise fail(exc) from None
        return image, text

    def open_page(page_id: str):
        """The page in the Page tab (its id, drawn page, description) and that tab selected."""
        image, text = view_page(page_id)
        return page_id.strip(), image, text, gr.Tabs(selected="page")

    def step(page_id: str, delta: int):
        try:
            target = neighbour(be, (page_id or be.example_page()).strip(), delta)
        except KeyError as exc:
            raise fail(exc) from None
        return (target, *view_page(target))

    def page_prev(page_id: str):
        return step(page_id, -1)

    def page_next(page_id: str):
        return step(page_id, 1)

    def open_result(rows, evt: gr.SelectData):
        # a click on a result opens its page in the Page tab (and its book in the Book tab)
        _, data = _rows(rows)
        if evt.index is None or not 0 <= int(evt.index) < len(data):
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        page_id = str(data[int(evt.index)][1])
        return (*open_page(page_id)[:3], be.book_of(page_id), gr.Tabs(selected="page"))

    def book_strip(book_or_page: str):
        key = (book_or_page or "").strip() or be.book_ids[0]
        try:
            book = key if key in be.book_ids else be.book_of(key)
            about = book_line(be, book)  # title, series, year, publisher, credits (books table)
            head = f"### {plain(book)}\n" + (f"{about}\n\n" if about else "")
            return be.book_strip(book), f"{head}{len(be.book_pages(book))} page(s)"
        except KeyError as exc:
            raise fail(exc) from None

    def open_strip_page(book_or_page: str, evt: gr.SelectData):
        key = (book_or_page or "").strip() or be.book_ids[0]
        book = key if key in be.book_ids else be.book_of(key)
        return open_page(be.book_pages(book)[int(evt.index)])

    # --- map ------------------------------------------------------------------------------------
    def points():
        be.ensure_map()
        key = str(be.config.analysis)
        if key not in cache:
            cache.clear()
            cache[key] = explore.load_points(be)
        return cache[key]

    def show_map(colour_by: str):
        try:
            pts = points()
            value = explore.map_value(pts, colour_by or "cluster")
        except (ValueError, FileNotFoundError) as exc:
            raise fail(exc) from None
        choices = explore.cluster_choices(pts)
        return (
            value,
            explore.cluster_rows(pts),
            gr.Dropdown(choices=choices, value=choices[0]),
            explore.gallery(be, pts, explore.members(be, pts, choices[0])),
        )

    def cluster_gallery(choice: str):
        pts = points()
        try:
            return explore.gallery(be, pts, explore.members(be, pts, choice or "cluster 0"))
        except ValueError as exc:
            raise fail(exc) from None

    def select_pages(page_ids: str | list[str]):
        """The selected pages (ids, one a line, or a list) as a gallery, a table and a CSV file."""
        ids = page_ids if isinstance(page_ids, list) else (page_ids or "").split("\n")
        pts = points()
        ids = [str(p).strip() for p in ids[: explore.MAX_MAP_POINTS] if str(p).strip() in pts.position]
        rows = explore.selection_rows(pts, ids)
        status = (
            f"{len(ids)} page(s) selected"
            + (f" (the first {explore.MAX_GALLERY} shown)" if len(ids) > explore.MAX_GALLERY else "")
            if ids
            else "no pages selected: drag a box (or a lasso) on the map"
        )
        csv = explore.write_csv(explore.SELECTION_HEADERS, rows, "selection") if rows else None
        return (
            explore.gallery(be, pts, ids),
            rows[:MAX_TABLE_ROWS],  # the CSV has them all
            status,
            "\n".join(ids),
            gr.update(value=str(csv) if csv else None, interactive=csv is not None),
        )

    def on_map_select(evt: gr.EventData):
        return select_pages(list((getattr(evt, "_data", None) or {}).get("page_ids") or []))

    def on_map_click(evt: gr.EventData):
        page_id = str((getattr(evt, "_data", None) or {}).get("page_id") or "")
        if page_id not in be.store.position:
            return gr.update(), gr.update(), gr.update(), gr.update()
        return open_page(page_id)

    def open_selected(ids_text: str, evt: gr.SelectData):
        ids = [p for p in (ids_text or "").split("\n") if p]
        return open_page(ids[int(evt.index)])

    def open_cluster_page(choice: str, evt: gr.SelectData):
        pts = points()
        return open_page(explore.members(be, pts, choice or "cluster 0")[int(evt.index)])

    def thumb(page_id: str) -> str:
        return be.thumbnail_uri(str(page_id))

    def lettering(page_id: str) -> str:
        return be.lettering_line(str(page_id))

    # uploads live in Gradio's cache folder: removed an hour after upload, checked every 10 minutes
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            f"# {TITLE}\n{len(be.store)} pages of {len(be.book_ids)} book(s) in `{be.store.path.name}` "
            f"(model `{be.store.attrs.get('model_id')}`). Search by text, by an image, by a page id, a "
            "quote or what a panel shows; explore the collection on the Map tab. Panels are numbered "
            "from 0 in reading order."
        )
        with gr.Tabs() as tabs:
            with gr.Tab("Search", id="search"):
                with gr.Row():
                    k = gr.Slider(1, 48, value=12, step=1, label="results")
                    level = gr.Radio(LEVELS, value="panel", label="search")
                    page_type = gr.Dropdown(type_choices, value=ANY, label="page type")
                    book = gr.Dropdown(book_choices, value=ANY, label="book")
                with gr.Tab("Text"):
                    text = gr.Textbox(
                        label="text query",
                        placeholder="what someone says, or what a panel shows",
                        max_length=MAX_QUERY_CHARS,
                    )
                    text_btn = gr.Button("Search text", variant="primary", elem_id="search-text-button")
                with gr.Tab("Image"):
                    image = gr.Image(
                        type="pil", label="a page or a panel crop", sources=["upload", "clipboard"]
                    )
                    image_btn = gr.Button("Search image", variant="primary")
                with gr.Tab("Page id"):
                    with gr.Row():
                        page_in = gr.Textbox(label="page id", value=be.example_page())
                        panel_in = gr.Number(
                            label="panel (from 0 in reading order; -1 = the whole page)",
                            value=-1,
                            precision=0,
                        )
                    page_btn = gr.Button("More like this", variant="primary")
                with gr.Tab("Quote"):
                    quote = gr.Textbox(
                        label="a line of lettering (OCR errors are forgiven; panels only)",
                        placeholder="I can't believe it",
                        max_length=MAX_QUERY_CHARS,
                    )
                    with gr.Row():
                        mode = gr.Radio(["fuzzy", "phrase", "words"], value="fuzzy", label="match")
                        hybrid = gr.Checkbox(
                            value=False,
                            label="hybrid (+ meaning): fuse with the model's text search",
                            interactive=be.has_model,
                            info=None if be.has_model else "needs the model: serve with --model",
                            elem_id="quote-hybrid",
                        )
                    quote_btn = gr.Button("Find the panel", variant="primary")
                with gr.Tab("Description"):
                    description = gr.Textbox(
                        label="what a panel shows, in any words (the panels' VLM descriptions; panels only)",
                        placeholder="a plane flying over the desert",
                        max_length=MAX_QUERY_CHARS,
                    )
                    describe_btn = gr.Button("Find panels", variant="primary")
                with gr.Row():
                    status = gr.Markdown()
                    download = gr.DownloadButton(
                        "Download results (CSV)", interactive=False, size="sm", elem_id="results-csv"
                    )
                gallery = gr.Gallery(
                    label="results (click one to open its page)",
                    columns=6,
                    height=520,
                    object_fit="contain",
                    allow_preview=False,
                    elem_id="results-gallery",
                )
                table = gr.Dataframe(
                    headers=list(SpaceBackend.TABLE_HEADERS),
                    label="hits",
                    wrap=True,
                    column_widths=RESULT_WIDTHS,
                    elem_id="results-table",
                )
            with gr.Tab("Page", id="page"):
                with gr.Row():
                    prev_btn = gr.Button("◀ previous page", scale=0, elem_id="page-prev")
                    view_in = gr.Textbox(label="page id", value=be.example_page(), elem_id="page-id")
                    view_btn = gr.Button("Show page", scale=0)
                    next_btn = gr.Button("next page ▶", scale=0, elem_id="page-next")
                with gr.Row():
                    page_image = gr.Image(
                        label="panels (from 0, in reading order) and lettering boxes (amber)",
                        type="pil",
                        height=720,
                        elem_id="page-image",
                    )
                    page_text = gr.Markdown(elem_id="page-text")
            with gr.Tab("Book", id="book"):
                with gr.Row():
                    book_in = gr.Textbox(label="book id (or a page id of the book)", value=be.book_ids[0])
                    book_btn = gr.Button("Show book")
                book_title = gr.Markdown()
                strip = gr.Gallery(
                    label="pages (click one to open it)",
                    columns=10,
                    height=300,
                    object_fit="contain",
                    allow_preview=False,
                    elem_id="book-strip",
                )
            with gr.Tab("Map", id="map") as map_tab:
                with gr.Row():
                    colour = gr.Radio(list(explore.COLOUR_BY), value="cluster", label="colour by")
                    map_btn = gr.Button("Show map", scale=0)
                with gr.Row():
                    with gr.Column(scale=3):
                        page_map_view = page_map(thumb, lettering, elem_id="page-map")
                    with gr.Column(scale=2):
                        sel_status = gr.Markdown("no pages selected: drag a box (or a lasso) on the map")
                        sel_gallery = gr.Gallery(
                            label="selected pages (click one to open it)",
                            columns=4,
                            height=420,
                            object_fit="contain",
                            allow_preview=False,
                            elem_id="selection-gallery",
                        )
                        sel_download = gr.DownloadButton(
                            "Download selection (CSV)", interactive=False, size="sm", elem_id="selection-csv"
                        )
                sel_table = gr.Dataframe(
                    headers=list(explore.SELECTION_HEADERS),
                    label="selected pages",
                    column_widths=SELECTION_WIDTHS,
                    max_height=300,
                    elem_id="selection-table",
                )
                sel_ids = gr.Textbox(visible=False)
                sel_btn = gr.Button(visible=False)
                gr.Markdown("### Clusters (k-means on the page vectors) and outliers")
                cluster_table = gr.Dataframe(
                    headers=list(explore.CLUSTER_HEADERS),
                    label="clusters",
                    column_widths=CLUSTER_WIDTHS,
                    wrap=True,
                    elem_id="cluster-table",
                )
                cluster_pick = gr.Dropdown([], label="gallery", elem_id="cluster-pick")
                cluster_view = gr.Gallery(
                    label="pages of the cluster, nearest its centre first (click one to open it)",
                    columns=8,
                    height=360,
                    object_fit="contain",
                    allow_preview=False,
                    elem_id="cluster-gallery",
                )

        outputs = [gallery, table, status]
        common = [k, level, page_type, book]
        for event, fn, inputs, api in (
            (text_btn.click, search_text, [text, *common], "search_text"),
            (text.submit, search_text, [text, *common], False),
            (image_btn.click, search_image, [image, *common], "search_image"),
            (page_btn.click, search_page, [page_in, panel_in, *common], "search_page"),
            (quote_btn.click, search_quote, [quote, mode, k, page_type, book, hybrid], "search_quote"),
            (describe_btn.click, search_describe, [description, k, page_type, book], "search_describe"),
            (description.submit, search_describe, [description, k, page_type, book], False),
        ):
            event(fn, inputs, outputs, api_name=api).then(export_results, [table], [download], api_name=False)
        gallery.select(open_result, [table], [view_in, page_image, page_text, book_in, tabs], api_name=False)
        opened = [view_in, page_image, page_text, tabs]
        view_btn.click(view_page, [view_in], [page_image, page_text], api_name="view_page")
        view_in.submit(view_page, [view_in], [page_image, page_text], api_name=False)
        prev_btn.click(page_prev, [view_in], [view_in, page_image, page_text], api_name="page_prev")
        next_btn.click(page_next, [view_in], [view_in, page_image, page_text], api_name="page_next")
        book_btn.click(book_strip, [book_in], [strip, book_title], api_name="book_strip")
        strip.select(open_strip_page, [book_in], opened, api_name=False)
        map_outputs = [page_map_view, cluster_table, cluster_pick, cluster_view]
        map_btn.click(show_map, [colour], map_outputs, api_name="show_map")
        colour.change(show_map, [colour], map_outputs, api_name=False)
        map_loaded = gr.Checkbox(False, visible=False)  # not gr.State: that keeps a heartbeat open

        def show_map_once(colour_by: str, loaded: bool):
            # opening the tab draws the map the first time only (a selection survives a visit to a page)
            if loaded:
                return (*(gr.skip() for _ in map_outputs), True)
            return (*show_map(colour_by), True)

        map_tab.select(show_map_once, [colour, map_loaded], [*map_outputs, map_loaded], api_name=False)
        cluster_pick.input(cluster_gallery, [cluster_pick], [cluster_view], api_name="cluster_gallery")
        cluster_view.select(open_cluster_page, [cluster_pick], opened, api_name=False)
        selection = [sel_gallery, sel_table, sel_status, sel_ids, sel_download]
        sel_btn.click(select_pages, [sel_ids], selection, api_name="select_pages")
        page_map_view.map_select(on_map_select, None, selection, api_name=False)
        page_map_view.map_click(on_map_click, None, opened, api_name=False)
        sel_gallery.select(open_selected, [sel_ids], opened, api_name=False)
    return demo


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def launch(
    config: SpaceConfig | SpaceBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    share: bool = False,
    block: bool = True,
    quiet: bool = False,
):
    """Build and launch the app; returns ``(demo, url)`` (when ``block`` is False the server runs in
    a background thread: call ``demo.close()``). ``port=0`` picks a free port."""
    demo = build_app(config)
    port = port or free_port(host)
    allowed = []
    be_config = config.config if isinstance(config, SpaceBackend) else config
    for path in (be_config.analysis, be_config.pages, be_config.image_root):
        if path is not None:
            allowed.append(str(Path(path).resolve()))
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=True,
        quiet=quiet,
        allowed_paths=allowed or None,
        max_file_size=MAX_UPLOAD,
        css=CSS,
    )
    print(f"comics-search running at {url}", flush=True)
    if block:
        try:
            demo.block_thread()
        except KeyboardInterrupt:  # pragma: no cover - interactive
            pass
        finally:
            demo.close()
    return demo, url
