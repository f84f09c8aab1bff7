"""The interactive page map of the Space: a ``gr.HTML`` whose script (``map.js`` beside this
module) draws the analysed pages on a canvas. Hover shows the page's thumbnail and first lettered
line (the server functions ``thumb`` and ``lettering``, asked once the pointer rests on a page), a
click fires ``map_click`` with the page id, a box or lasso drag fires ``map_select`` with the page
ids inside it. Hover and selection look up a grid of the drawn points, so they stay fast at 10^5
points (``scripts/bench_space_map.py``). Gradio is imported by the caller (``app.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAP_JS = Path(__file__).with_name("map.js")

TEMPLATE = """
<div class="cmap">
  <div class="cmap-bar">
    <span>drag to select:</span>
    <button type="button" data-mode="box" class="active">box</button>
    <button type="button" data-mode="lasso">lasso</button>
    <button type="button" class="cmap-clear">clear selection</button>
    <span class="cmap-count"></span>
  </div>
  <div class="cmap-plot">
    <canvas class="cmap-canvas"></canvas>
    <canvas class="cmap-sel"></canvas>
    <canvas class="cmap-over"></canvas>
    <div class="cmap-tip"><img alt="page thumbnail"><div class="cmap-tip-text"></div>
      <div class="cmap-tip-line"></div></div>
  </div>
  <div class="cmap-legend"></div>
  <div class="cmap-help">hover: the page · click: open it · drag: select pages (Shift: lasso)</div>
</div>
"""

CSS = """
.cmap { font-size: 13px; }
.cmap-bar { display: flex; gap: 6px; align-items: center; margin-bottom: 4px; }
.cmap-bar button { border: 1px solid #999; border-radius: 4px; padding: 1px 8px;
  background: #fff; color: #222; }
.cmap-bar button.active { background: #2563eb; color: #fff; border-color: #2563eb; }
.cmap-count { margin-left: auto; color: #555; }
.cmap-plot { position: relative; height: 560px; border: 1px solid #ddd; border-radius: 6px;
  background: #fcfcfa; }
.cmap-canvas { width: 100%; height: 100%; display: block; cursor: crosshair; }
.cmap-sel, .cmap-over { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.cmap-tip { display: none; position: absolute; pointer-events: none; width: 240px; padding: 6px;
  background: #fff; border: 1px solid #888; border-radius: 6px; box-shadow: 0 2px 8px rgba(0,0,0,.25);
  z-index: 5; }
.cmap-tip img { display: none; max-width: 228px; max-height: 240px; margin: 0 auto 4px; }
.cmap-tip-text { color: #222; font-size: 12px; line-height: 1.3; overflow-wrap: anywhere; }
.cmap-tip-line { color: #444; font-size: 12px; font-style: italic; margin-top: 3px; overflow-wrap: anywhere; }
.cmap-legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin-top: 6px; }
.cmap-legend-head { font-weight: 600; }
.cmap-legend-item { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; }
.cmap-legend-item i { width: 10px; height: 10px; border-radius: 50%; display: inline-block; }
.cmap-help { color: #666; margin-top: 4px; }
"""


def page_map(thumb, lettering, value: dict[str, Any] | None = None, **kwargs: Any):
    """The map component; ``thumb(page_id) -> data: URI`` serves the hover thumbnails and
    ``lettering(page_id) -> str`` the line under them (shown as text)."""
    import gradio as gr

    return gr.HTML(
        value=value or {},
        html_template=TEMPLATE,
        css_template=CSS,
        js_on_load=MAP_JS.read_text(encoding="utf-8"),
        server_functions=[thumb, lettering],
        apply_default_css=False,
        **kwargs,
    )
