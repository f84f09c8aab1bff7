"""Speed of the Space's page map (``src/comics_analysis/space/map.js``) at 10^3, 10^4, 10^5 points
in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)::

    python scripts/bench_space_map.py --sizes 1000 10000 100000 --json docs/bench/space-map.json
    python scripts/bench_space_map.py --js old-map.js   # another version of the script, same runs

The map's script runs as Gradio's ``gr.HTML`` runs its ``js_on_load`` (``Function(element,
trigger, props, server, upload, watch, js)``) on the map's own template and CSS, in a 900 x 560
px plot, without a Gradio server: ``server.thumb`` / ``server.lettering`` answer at once with a
fixed 1-pixel image and line, ``trigger`` records what the map sends. The points: ``--sizes``
pages in 12 Gaussian clusters (seeded), coloured by cluster, 1 in 50 flagged as an outlier, in the
columns ``explore.map_value`` writes (``--js`` of an older script: add ``--old-format``). Timed
in the page (``performance.now``):

- first draw: a new value handed to the map (its ``watch`` callback: layout and drawing)
- redraw: the same value drawn again (a window resize; layout kept where the script keeps it)
- hover: one ``mousemove`` on the canvas (nearest point, hover ring, tip), ``--hovers`` of them,
  half on a drawn point, half anywhere; mean and 95th percentile
- box / lasso: a drag (``mousedown``, 8 ``mousemove``, ``mouseup``: the pages inside, the
  redraw of the selection and the ``map_select`` trigger), ``--drags`` of each; mean
- payload: bytes of the value as JSON (what Gradio sends the browser)

The hovered page is checked against a brute-force nearest point (Python, from the map's own
positions) and each selection against the points inside the box: a run that disagrees fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 900, 560

# reading a pixel back makes Chromium raster what the script drew (drawing is otherwise deferred)
FLUSH = "document.querySelectorAll('canvas').forEach((c) => c.getContext('2d').getImageData(0, 0, 1, 1));"

HARNESS = """
() => {
  window.__sent = [];
  window.__watchers = [];
  const element = document.querySelector('#host');
  const props = { value: {} };
  const pixel = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
  const server = { thumb: async () => pixel, lettering: async () => 'a line of lettering' };
  const trigger = (name, payload) => window.__sent.push([name, payload]);
  const watch = (name, cb) => window.__watchers.push(cb);
  window.__props = props;
  Function('element', 'trigger', 'props', 'server', 'upload', 'watch', window.__js)(
    element, trigger, props, server, async () => null, watch);
}
"""

SET_VALUE = """
(value) => {
  const t0 = performance.now();
  window.__props.value = value;
  window.__watchers.forEach((cb) => cb());
  FLUSH
  const first = performance.now() - t0;
  const t1 = performance.now();
  window.dispatchEvent(new Event('resize'));
  window.__watchers.forEach((cb) => cb());
  FLUSH
  return [first, performance.now() - t1];
}
""".replace("FLUSH", FLUSH)

HOVER = """
([xs, ys]) => {
  const canvas = document.querySelector('canvas.cmap-canvas');
  const times = [], found = [];
  for (let k = 0; k < xs.length; k++) {
    const t0 = performance.now();
    canvas.dispatchEvent(new MouseEvent('mousemove', { clientX: xs[k], clientY: ys[k], bubbles: true }));
    FLUSH
    times.push(performance.now() - t0);
    const tip = document.querySelector('.cmap-tip');
    const text = tip.querySelector('.cmap-tip-text').textContent;
    found.push(tip.style.display === 'block' ? text.split(' ')[0] : null);
  }
  return [times, found];
}
""".replace("FLUSH", FLUSH)

DRAG = """
(path) => {
  const canvas = document.querySelector('canvas.cmap-canvas');
  const ev = (type, [x, y]) => new MouseEvent(type, { clientX: x, clientY: y, bubbles: true, button: 0 });
  window.__sent = [];
  const t0 = performance.now();
  canvas.dispatchEvent(ev('mousedown', path[0]));
  for (const p of path.slice(1)) canvas.dispatchEvent(ev('mousemove', p));
  canvas.dispatchEvent(ev('mouseup', path[path.length - 1]));
  FLUSH
  const ms = performance.now() - t0;
  const sent = window.__sent.filter(([n]) => n === 'map_select').pop();
  return [ms, sent ? sent[1].page_ids : null];
}
""".replace("FLUSH", FLUSH)


def points_value(n: int, seed: int = 0, old: bool = False) -> dict:
    """A map value as ``explore.map_value`` writes it, for ``n`` synthetic pages (``old``: as it
    wrote it before 2026-12-02: a colour and a hover line per point)."""
    from comics_analysis.space.explore import PALETTE

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, (12, 2))
    cluster = rng.integers(0, 12, n)
    xy = centres[cluster] + rng.normal(0, 1.2, (n, 2))
    outlier = rng.random(n) < 0.02
    ids = [f"book-{i // 100:05d}-{i:08x}/p{i % 100:04d}" for i in range(n)]
    if old:
        return {
            "ids": ids,
            "x": [round(float(v), 5) for v in xy[:, 0]],
            "y": [round(float(v), 5) for v in xy[:, 1]],
            "c": [PALETTE[c] for c in cluster],
            "o": [int(v) for v in outlier],
            "tip": [
                f"{p} · story · cluster {c} · 4 panel(s) · outlier score 0.50" for p, c in zip(ids, cluster)
            ],
            "legend": [[f"cluster {c}", PALETTE[c]] for c in range(12)],
            "kind": "categorical",
            "colour_by": "cluster",
            "shown": n,
            "pages": n,
        }
    return {
        "ids": ids,
        "x": [round(float(v), 5) for v in xy[:, 0]],
        "y": [round(float(v), 5) for v in xy[:, 1]],
        "c": [int(c) for c in cluster],
        "colours": PALETTE[:12],
        "o": [int(v) for v in outlier],
        "t": [int(v) for v in rng.integers(0, 2, n)],
        "types": ["cover", "story"],
        "k": [int(c) for c in cluster],
        "n": [int(v) for v in rng.integers(1, 8, n)],
        "s": [round(float(v), 2) for v in rng.normal(0, 1, n)],
        "legend": [[f"cluster {c}", PALETTE[c]] for c in range(12)],
        "kind": "categorical",
        "colour_by": "cluster",
        "shown": n,
        "pages": n,
    }


def brute_nearest(px: np.ndarray, py: np.ndarray, x: float, y: float, reach: float) -> int:
    d = (px - x) ** 2 + (py - y) ** 2
    i = int(np.argmin(d))  # ties: the lower index, as the map
    return i if d[i] <= reach * reach else -1


def run_size(page, n: int, hovers: int, drags: int, seed: int, old: bool = False) -> dict:
    page.evaluate("() => document.querySelector('#host').replaceChildren()")
    page.evaluate(f"() => {{ document.querySelector('#host').innerHTML = {json.dumps(TEMPLATE)}; }}")
    page.evaluate(HARNESS)
    value = points_value(n, seed, old)
    payload = len(json.dumps(value, ensure_ascii=False).encode())
    first, redraw = page.evaluate(SET_VALUE, value)
    pos = page.evaluate("() => window.comicsMap.positions ? window.comicsMap.positions() : null")
    if pos is None:  # an older script: one point at a time (each a scan of every point)
        pos = page.evaluate(
            "(ids) => { const s = ids.map((id) => window.comicsMap.screen(id));"
            " return {ids, x: s.map((p) => p.x), y: s.map((p) => p.y), reach: 9}; }",
            value["ids"],
        )
    px, py = np.array(pos["x"]), np.array(pos["y"])
    rng = np.random.default_rng(seed + 1)
    on = rng.integers(0, n, hovers // 2)
    box = page.evaluate("() => document.querySelector('canvas.cmap-canvas').getBoundingClientRect().toJSON()")
    # whole pixels: a MouseEvent's clientX / clientY may be rounded
    xs = np.round(np.concatenate([px[on], rng.uniform(box["left"], box["right"], hovers - len(on))]))
    ys = np.round(np.concatenate([py[on], rng.uniform(box["top"], box["bottom"], hovers - len(on))]))
    times, found = page.evaluate(HOVER, [xs.tolist(), ys.tolist()])
    reach = float(pos.get("reach", 9))
    wrong = 0
    for x, y, got in zip(xs, ys, found):
        want = brute_nearest(px, py, x, y, reach)
        wrong += (got or None) != (value["ids"][want] if want >= 0 else None)
    box_ms, lasso_ms, bad_sel = [], [], 0
    for _ in range(drags):
        x0, x1 = sorted(np.round(rng.uniform(box["left"] + 5, box["right"] - 5, 2)))
        y0, y1 = sorted(np.round(rng.uniform(box["top"] + 5, box["bottom"] - 5, 2)))
        path = [[x0 + (x1 - x0) * t / 8, y0 + (y1 - y0) * t / 8] for t in range(9)]
        ms, ids = page.evaluate(DRAG, path)
        box_ms.append(ms)
        inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
        bad_sel += sorted(ids or []) != sorted(value["ids"][i] for i in np.flatnonzero(inside))
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0) / 2 + 10
        page.evaluate("() => document.querySelector('.cmap-bar button[data-mode=lasso]').click()")
        ring = [[cx + r * np.cos(a), cy + r * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 9)]
        lasso_ms.append(page.evaluate(DRAG, ring)[0])
        page.evaluate("() => document.querySelector('.cmap-bar button[data-mode=box]').click()")
    return {
        "points": n,
        "payload_bytes": payload,
        "first_draw_ms": round(first, 2),
        "redraw_ms": round(redraw, 2),
        "hover_mean_ms": round(statistics.fmean(times), 4),
        "hover_p95_ms": round(float(np.percentile(times, 95)), 4),
        "box_select_mean_ms": round(statistics.fmean(box_ms), 2),
        "lasso_select_mean_ms": round(statistics.fmean(lasso_ms), 2),
        "hovers": hovers,
        "drags": drags,
        "hover_mismatches": wrong,
        "selection_mismatches": bad_sel,
    }


def table(rows: list[dict]) -> str:
    head = (
        "| points | payload MB | first draw ms | redraw ms | hover mean ms | hover p95 ms "
        "| box ms | lasso ms |"
    )
    lines = [head, "|" + "---:|" * 8]
    for r in rows:
        lines.append(
            f"| {r['points']:,} | {r['payload_bytes'] / 1e6:.2f} | {r['first_draw_ms']:.1f} "
            f"| {r['redraw_ms']:.1f} "
            f"| {r['hover_mean_ms']:.3f} | {r['hover_p95_ms']:.3f} | {r['box_select_mean_ms']:.1f} "
            f"| {r['lasso_select_mean_ms']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000], help="points per run"
    )
    parser.add_argument("--hovers", type=int, default=400, help="mousemove events per size")
    parser.add_argument("--drags", type=int, default=10, help="box and lasso drags per size")
    parser.add_argument(
        "--js", type=Path, default=ROOT / "src/comics_analysis/space/map.js", help="map script"
    )
    parser.add_argument("--old-format", action="store_true", help="the map value of before 2026-12-02")
    parser.add_argument("--seed", type=int, default=0, help="seed of the points and the pointer")
    parser.add_argument("--label", default="", help="a note stored with the results (e.g. the version)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (JSON)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from playwright.sync_api import sync_playwright

    from comics_analysis.space.mapview import CSS
    from comics_analysis.space.mapview import TEMPLATE as template

    global TEMPLATE
    TEMPLATE = template
    body = f"<div id='host' style='width:{WIDTH}px'></div>"
    html = f"<html><head><style>{CSS}</style></head><body>{body}</body></html>"
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(600_000)
        page.set_content(html)
        page.evaluate("(js) => { window.__js = js; }", args.js.read_text(encoding="utf-8"))
        for n in args.sizes:
            start = time.perf_counter()
            row = run_size(page, n, args.hovers, args.drags, args.seed, args.old_format)
            row["wall_s"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
        version = browser.version
        browser.close()
    print(table(rows))
    if any(r["hover_mismatches"] or r["selection_mismatches"] for r in rows):
        raise SystemExit("the map's hover or selection disagrees with the brute-force answer")
    if args.json:
        from comics_analysis.benchmarks.report import write_results

        payload = {
            "benchmark": "space_map",
            "script": str(args.js.relative_to(ROOT)) if args.js.is_relative_to(ROOT) else str(args.js),
            "label": args.label,
            "chromium": version,
            "python": platform.python_version(),
            "plot_px": [WIDTH, HEIGHT],
            "results": rows,
        }
        print(f"wrote {write_results(args.json, payload)}")


TEMPLATE = ""

if __name__ == "__main__":
    main()
