"""Run a script in a fresh interpreter that cannot import comics_analysis (it may be installed in
the venv as an editable package), so a saved model folder is loaded purely as remote code."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK_PACKAGE = textwrap.dedent(
    """
    import sys, importlib.abc
    sys.path = [p for p in sys.path if not p.rstrip("/").endswith("src")]

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "comics_analysis":
                raise ImportError("remote code must not import comics_analysis")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def run_without_package(tmp_path: Path, body: str, *args: str) -> None:
    """Run ``body`` (dedented) after :data:`BLOCK_PACKAGE` with ``args`` as ``sys.argv[1:]`` in
    ``tmp_path``; fails the test with the script's stderr when it exits non-zero."""
    script = tmp_path / "load.py"
    script.write_text(BLOCK_PACKAGE + textwrap.dedent(body))
    result = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
