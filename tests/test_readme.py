"""The README and docs/ as a reader meets them: every relative link resolves, nothing points at
files a reader cannot open, and the README's quickstart runs as written on a folder of
synthetic comics."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code (links are not read there)."""
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(page.read_text(encoding="utf-8")))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file(page):
    broken = [t for t in relative_links(page) if not (page.parent / t.split("#", 1)[0]).exists()]
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files: {broken}"


def test_the_docs_are_reachable_and_the_readme_is_for_users():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for text in ("../shared", "DESIGN"):
        assert text not in readme, f"the README names {text!r}, which a reader cannot open"
    assert not re.search(r"(?i)\bissue \d+", readme), "the README cites an issue number"
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert "cff-version:" in (ROOT / "CITATION.cff").read_text()
    links = relative_links(ROOT / "README.md")
    for target in ("LICENSE", "CITATION.cff", "docs/index.md"):
        assert target in links
    shots = [t for t in links if t.startswith("docs/img/space-") and t.endswith(".png")]
    assert shots and all((ROOT / t).is_file() for t in shots), "the README shows no screenshot of the Space"
    linked = {(ROOT / "docs" / t.split("#")[0]).resolve() for t in relative_links(ROOT / "docs" / "index.md")}
    orphans = [p.name for p in PAGES[1:] if p.name != "index.md" and p.resolve() not in linked]
    assert not orphans, f"docs pages that docs/index.md does not link: {orphans}"
    assert "## Use the results in your comic reader" in readme


def quickstart_commands() -> list[str]:
    """The commands between the README's quickstart markers, continuation lines joined and
    comments dropped."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- quickstart -->", 1)[1].split("<!-- /quickstart -->", 1)[0]
    body = block.split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = []
    for line in body.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(" ".join(shlex.quote(w) if not w.startswith("~") else w for w in words))
    return commands


# Appended to `train closure-lite` so that the test trains in seconds: a later flag wins.
TEST_TRAINING = "--model-config tiny --steps 3 --eval-every 3 --batch-size 4 --report-to none"


@pytest.mark.slow
def test_readme_quickstart_runs_on_a_folder_of_synthetic_comics(tmp_path):
    from comics_analysis.synth import make_library

    commands = quickstart_commands()
    assert 5 <= len(commands) <= 6 and commands[0].startswith("comics-analysis ingest ~/comics")
    assert commands[-1].startswith("comics-analysis serve")
    home = tmp_path / "home"
    make_library(home, books=3, seed=2, size=(530, 800), story_pages=(2, 3), show_progress=False)
    (home / "books").rename(home / "comics")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONWARNINGS": "ignore", "GRADIO_ANALYTICS_ENABLED": "False"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    prelude = f'comics-analysis() {{ {shlex.quote(sys.executable)} -m comics_analysis -q "$@"; }}\n'
    for command in commands[:-1]:
        if command.startswith("comics-analysis train closure-lite"):
            command += " " + TEST_TRAINING
        done = subprocess.run(
            ["bash", "-c", prelude + command], cwd=work, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    assert (work / "library" / "manifest.parquet").is_file() and (work / "store.zarr").is_dir()
    assert list((work / "analysis").glob("*.png"))
    # the last command serves the Space: it must come up and print its URL
    serve = subprocess.Popen(
        ["bash", "-c", prelude + commands[-1] + " --port 0"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, url, seen = time.time() + 300, None, []
        while time.time() < deadline and url is None:
            line = serve.stdout.readline()
            if not line and serve.poll() is not None:
                break
            seen.append(line)
            found = re.search(r"running at (http://127\.0\.0\.1:\d+/?)", line)
            url = found.group(1) if found else None
        assert url, "serve printed no URL:\n" + "".join(seen)[-3000:]
    finally:
        os.killpg(serve.pid, signal.SIGTERM)  # bash and the server under it (its own session)
        serve.wait(timeout=60)
