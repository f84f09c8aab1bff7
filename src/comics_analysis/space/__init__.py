"""The comics-search Space (DESIGN 2): library functions behind ``spaces/comics-search/app.py``
and ``comics-analysis serve``. Needs the ``space`` extra (gradio) and the ``store`` extra; text
and image queries need the ``ml`` extra (the Closure Lite model)."""

from .backend import ENV, SpaceBackend, SpaceConfig
from .demo import DemoTail, run_demo_tail
from .stage import stage_space

__all__ = [
    "ENV",
    "DemoTail",
    "SpaceBackend",
    "SpaceConfig",
    "build_app",
    "free_port",
    "launch",
    "run_demo_tail",
    "stage_space",
]


def __getattr__(name: str):
    # gradio is imported only when the app is built
    if name in ("build_app", "free_port", "launch"):
        from . import app  # lazy: gradio

        return getattr(app, name)
    raise AttributeError(name)
