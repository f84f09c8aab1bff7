"""Screenshots of the comics-search Space for the README and docs (docs/img/).

Serves the Space on a demo output folder in headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright as in tests/test_space.py) and saves the viewport as a palette PNG: a text
query and its results (``--tab search``), or the Map tab (the analysis's 2-D map, UMAP in the
demo) with the pointer resting on a page: its thumbnail, line and lettering (``--tab map``; the
hovered page is ``--hover``, else the page nearest the map's centre). The map run checks that
every page of ``analysis/points.csv`` is drawn and that the tip names the hovered page::

    DEMO_NO_SERVE=1 comics-analysis demo --out demo_output
    python scripts/space_screenshot.py demo_output --query "a storm at night" --out docs/img/space-search.png
    python scripts/space_screenshot.py demo_output --tab map --out docs/img/space-map-hover.png
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def serve(demo: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "comics_analysis", "-q", "serve", str(demo / "store.zarr")]
    cmd += ["--model", str(demo / "closure-lite" / "final"), "--analysis", str(demo / "analysis")]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"running at (http://127\.0\.0\.1:\d+/?)", line)
        if found:
            return proc, found.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("serve printed no URL")


def show_search(page, query: str) -> None:
    page.get_by_label("text query").fill(query)
    page.locator("#search-text-button").click()
    page.locator("#results-gallery img").first.wait_for(state="visible", timeout=120_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results-gallery img')].filter("
        "i => i.complete && i.naturalWidth > 0).length >= 8",
        timeout=120_000,
    )


def show_map(page, demo: Path, hover: str | None) -> None:
    with (demo / "analysis" / "points.csv").open(encoding="utf-8") as handle:
        analysed = {row["page_id"] for row in csv.DictReader(handle)}
    page.get_by_role("tab", name="Map").click()
    page.wait_for_function("() => window.comicsMap && window.comicsMap.count() > 0", timeout=120_000)
    pos = page.evaluate("() => window.comicsMap.positions()")
    if set(pos["ids"]) != analysed:
        raise SystemExit(f"the map draws {len(pos['ids'])} pages, points.csv has {len(analysed)}")
    if hover is None:
        cx, cy = sum(pos["x"]) / len(pos["x"]), sum(pos["y"]) / len(pos["y"])
        dist = {p: (x - cx) ** 2 + (y - cy) ** 2 for p, x, y in zip(pos["ids"], pos["x"], pos["y"])}
        hover = min(dist, key=dist.get)
    i = pos["ids"].index(hover)
    xy = page.evaluate("(id) => window.comicsMap.screen(id)", hover)
    page.mouse.move(xy["x"], xy["y"])
    page.wait_for_function(
        "() => { const i = document.querySelector('.cmap-tip img');"
        " return i && i.complete && i.naturalWidth > 0 && getComputedStyle(i).display !== 'none'; }",
        timeout=120_000,
    )
    tip = page.inner_text(".cmap-tip-text")
    if not tip.startswith(pos["ids"][i]):
        raise SystemExit(f"hovered {hover}, the tip says {tip!r}")
    print(f"map: {len(pos['ids'])} pages drawn; hover {tip}")


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("demo", type=Path, help="a `comics-analysis demo` output folder")
    parser.add_argument("--tab", choices=["search", "map"], default="search", help="what to show")
    parser.add_argument("--query", default="a storm at night", help="text query to show (search)")
    parser.add_argument("--hover", default=None, help="page id to hover (map; default: nearest the centre)")
    parser.add_argument("--out", type=Path, default=Path("docs/img/space-search.png"), help="PNG to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    parser.add_argument("--height", type=int, default=860, help="viewport height in pixels")
    args = parser.parse_args()

    from PIL import Image
    from playwright.sync_api import sync_playwright

    proc, url = serve(args.demo)
    shot = args.out.with_suffix(".raw.png")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(url, wait_until="networkidle", timeout=120_000)
            if args.tab == "map":
                show_map(page, args.demo, args.hover)
            else:
                show_search(page, args.query)
            page.wait_for_timeout(1000)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with Image.open(shot) as image:
        image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(args.out, optimize=True)
    shot.unlink()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
