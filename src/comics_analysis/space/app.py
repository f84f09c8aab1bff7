"""The comics-search Gradio app: thin wiring of :class:`.backend.SpaceBackend` into tabs.

Tabs: Search (text / image upload / page id / quote (a line of lettering, through the store's
full-text index), results gallery of page thumbnails and panel crops
with scores, and a table with the lettered text), Page (panel boxes with reading-order numbers,
lettered text, page type), Book (the book's pages with their page types), Map (UMAP coloured by
cluster / panel count / page type, and the cluster report). Each handler has an ``api_name``, so
``gradio_client`` can call it: ``search_text``, ``search_image``, ``search_page``,
``search_quote``, ``view_page``,
``book_strip``, ``show_map``.
"""

# no `from __future__ import annotations`: Gradio reads the gr.SelectData annotation at run time
import logging
import socket
from pathlib import Path
from typing import Any

from .backend import MAX_QUERY_CHARS, SpaceBackend, SpaceConfig, plain

log = logging.getLogger(__name__)

TITLE = "comics-search"
ANY = "(any)"
LEVELS = ["panel", "page"]


def _filters(page_type: str | None, book: str | None) -> dict[str, str | None]:
    return {
        "page_type": None if not page_type or page_type == ANY else page_type,
        "book_id": None if not book or book == ANY else book,
    }


MAX_UPLOAD = "20mb"  # a query image larger than this is refused by the server


def build_app(backend: SpaceBackend | SpaceConfig):
    """The ``gradio.Blocks`` app over a backend (or a config to open one)."""
    import gradio as gr

    be = backend if isinstance(backend, SpaceBackend) else SpaceBackend(backend)
    type_choices = [ANY, *be.page_types]
    book_choices = [ANY, *be.book_ids]

    def run(**query: Any):
        try:
            hits = be.search(**query)
        except (ValueError, KeyError, FileNotFoundError) as exc:
            raise gr.Error(str(exc.args[0] if exc.args else exc)) from None
        status = f"{len(hits)} result(s)" if hits else "no results"
        return be.gallery(hits), be.table(hits), status

    def search_text(text: str, k: float, level: str, page_type: str, book: str):
        return run(text=text, k=int(k), level=level, **_filters(page_type, book))

    def search_image(image, k: float, level: str, page_type: str, book: str):
        if image is None:
            raise gr.Error("upload an image (a page or a panel crop) first")
        return run(image=image, k=int(k), level=level, **_filters(page_type, book))

    def search_page(page_id: str, panel: float | None, k: float, level: str, page_type: str, book: str):
        slot = None if panel is None or panel == "" or int(panel) <= 0 else int(panel) - 1
        return run(page_id=page_id, panel=slot, k=int(k), level=level, **_filters(page_type, book))

    def search_quote(quote: str, mode: str, k: float, page_type: str, book: str):
        if not (quote or "").strip():
            raise gr.Error("type a line of lettering first")
        return run(quote=quote, mode=mode, k=int(k), **_filters(page_type, book))

    def view_page(page_id: str):
        try:
            image, text = be.render_page(page_id or be.example_page())
        except KeyError as exc:
            raise gr.Error(str(exc.args[0])) from None
        return image, text

    def book_strip(book_or_page: str):
        key = (book_or_page or "").strip() or be.book_ids[0]
        try:
            book = key if key in be.book_ids else be.book_of(key)
            return be.book_strip(book), f"### {plain(book)}\n{len(be.book_pages(book))} page(s)"
        except KeyError as exc:
            raise gr.Error(str(exc.args[0])) from None

    def show_map(colour_by: str):
        files = be.map_files()
        if not files:
            be.ensure_map()
            files = be.map_files()
        path = files.get(colour_by) or next(iter(files.values()))
        return str(path), be.cluster_report()

    # uploads live in Gradio's cache folder: removed an hour after upload, checked every 10 minutes
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            f"# {TITLE}\n{len(be.store)} pages of {len(be.book_ids)} book(s) in `{be.store.path.name}` "
            f"(model `{be.store.attrs.get('model_id')}`). Search by text, by an image, or by a page id."
        )
        with gr.Tab("Search"):
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
                image = gr.Image(type="pil", label="a page or a panel crop", sources=["upload", "clipboard"])
                image_btn = gr.Button("Search image", variant="primary")
            with gr.Tab("Page id"):
                with gr.Row():
                    page_in = gr.Textbox(label="page id", value=be.example_page())
                    panel_in = gr.Number(label="panel (1-based; 0 = whole page)", value=0, precision=0)
                page_btn = gr.Button("More like this", variant="primary")
            with gr.Tab("Quote"):
                quote = gr.Textbox(
                    label="a line of lettering (OCR errors are forgiven; panels only)",
                    placeholder="I can't believe it",
                    max_length=MAX_QUERY_CHARS,
                )
                mode = gr.Radio(["fuzzy", "phrase", "words"], value="fuzzy", label="match")
                quote_btn = gr.Button("Find the panel", variant="primary")
            status = gr.Markdown()
            gallery = gr.Gallery(
                label="results", columns=6, height=520, object_fit="contain", elem_id="results-gallery"
            )
            table = gr.Dataframe(headers=list(SpaceBackend.TABLE_HEADERS), label="hits", wrap=True)
        with gr.Tab("Page"):
            with gr.Row():
                view_in = gr.Textbox(label="page id", value=be.example_page())
                view_btn = gr.Button("Show page")
            with gr.Row():
                page_image = gr.Image(label="panels in reading order", type="pil", height=720)
                page_text = gr.Markdown()
        with gr.Tab("Book"):
            with gr.Row():
                book_in = gr.Textbox(label="book id (or a page id of the book)", value=be.book_ids[0])
                book_btn = gr.Button("Show book")
            book_title = gr.Markdown()
            strip = gr.Gallery(label="pages", columns=10, height=300, object_fit="contain")
        with gr.Tab("Map"):
            colour = gr.Radio(["cluster", "panel_count", "page_type"], value="cluster", label="colour by")
            map_btn = gr.Button("Show map")
            with gr.Row():
                map_image = gr.Image(label="UMAP of the page embeddings", type="filepath", height=640)
                report = gr.Markdown()

        outputs = [gallery, table, status]
        common = [k, level, page_type, book]
        text_btn.click(search_text, [text, *common], outputs, api_name="search_text")
        text.submit(search_text, [text, *common], outputs, api_name=False)
        image_btn.click(search_image, [image, *common], outputs, api_name="search_image")
        page_btn.click(search_page, [page_in, panel_in, *common], outputs, api_name="search_page")
        quote_btn.click(search_quote, [quote, mode, k, page_type, book], outputs, api_name="search_quote")
        view_btn.click(view_page, [view_in], [page_image, page_text], api_name="view_page")
        book_btn.click(book_strip, [book_in], [strip, book_title], api_name="book_strip")
        colour.change(show_map, [colour], [map_image, report], api_name=False)
        map_btn.click(show_map, [colour], [map_image, report], api_name="show_map")

        def open_selected(rows, evt: gr.SelectData):
            # a click on a result opens its page in the Page tab (and its book in the Book tab)
            if rows is None or evt.index is None:
                return gr.update(), gr.update()
            row = rows.iloc[evt.index] if hasattr(rows, "iloc") else rows[evt.index]
            page_id = row[1] if not hasattr(row, "iloc") else row.iloc[1]
            return page_id, be.book_of(page_id)

        gallery.select(open_selected, [table], [view_in, book_in], api_name=False)
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
