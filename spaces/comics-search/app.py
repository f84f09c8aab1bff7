"""comics-search: search a comics embedding store by text, image or page id (Gradio Space).

Thin: everything is in ``comics_analysis.space``. Inputs come from the environment (Space
variables) or default to the ``data/`` folder beside this file, as ``stage_space`` lays it out:

    COMICS_STORE     embedding store (Zarr)            default data/store.zarr
    COMICS_MODEL     Closure Lite model folder         default data/model (if present)
    COMICS_PAGES     the pages embedded (annotate output, comic_pages export or DataSpec files)
                                                       default data/pages (if present), else as recorded
    COMICS_IMAGES    root of the page image paths      default: as recorded
    COMICS_ANALYSIS  `comics-analysis analyze` output  default data/analysis (if present)
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE / "src" / "comics_analysis").is_dir():  # a staged Space carries the package source
    sys.path.insert(0, str(HERE / "src"))

from comics_analysis.space import SpaceConfig, build_app, launch  # noqa: E402

DEFAULTS = {
    "COMICS_STORE": HERE / "data" / "store.zarr",
    "COMICS_MODEL": HERE / "data" / "model",
    "COMICS_PAGES": HERE / "data" / "pages",
    "COMICS_ANALYSIS": HERE / "data" / "analysis",
}
for name, path in DEFAULTS.items():
    if not os.environ.get(name) and path.exists():
        os.environ[name] = str(path)

config = SpaceConfig.from_env()
demo = build_app(config)

if __name__ == "__main__":
    # on a Space, GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are set for us; locally: 127.0.0.1, a free port
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "0"))
    launch(config, host=host, port=port)
