"""CBR with bsdtar (libarchive) as the only RAR tool, as the README allows.

No free software writes compressed RAR, so a CBR of page images is written here with stored
entries (RAR5, a few lines of the format); rarfile reads stored data itself, and bsdtar reads it
too (checked). Compressed data goes through the tool: the upstream fixture ``rar3-solid.rar``
holds two compressed text files in a solid archive, of which bsdtar can decode the first only.
Each run has a PATH holding nothing but a link to bsdtar.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from comics_analysis.ingest import read_manifest
from rar_helpers import write_stored_rar5  # tests/: on the path through tests/conftest.py


@pytest.fixture
def bsdtar_only(tmp_path):
    """An environment whose PATH holds only bsdtar (no unar, unrar or 7z)."""
    bsdtar = shutil.which("bsdtar")
    if bsdtar is None:  # a test that cannot run fails: install it (CI: .ci/run does)
        pytest.fail("bsdtar not installed: apt-get install libarchive-tools")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "bsdtar").symlink_to(bsdtar)
    return {**os.environ, "PATH": str(tools)}


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 64), colour).save(buf, "PNG")
    return buf.getvalue()


def test_a_cbr_ingests_with_bsdtar_as_the_only_tool(tmp_path, bsdtar_only):
    """Before: ingest of any CBR crashed (RarCannotExec: "BSDTAR_TOOL does not support
    passwords") while asking which tool rarfile would use."""
    lib, out = tmp_path / "lib", tmp_path / "out"
    lib.mkdir()
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    # stored last page first: the pages come out in reading order all the same
    write_stored_rar5(lib / "book.cbr", [(f"p{i + 1}.png", _png(colours[i])) for i in (2, 0, 1)])
    listing = subprocess.run(
        ["bsdtar", "-tf", str(lib / "book.cbr")], capture_output=True, text=True, env=bsdtar_only
    )
    assert listing.stdout.split() == ["p3.png", "p1.png", "p2.png"], listing.stderr  # a real RAR
    result = subprocess.run(
        [sys.executable, "-m", "comics_analysis", "--quiet", "ingest", str(lib), "--out", str(out)],
        capture_output=True,
        text=True,
        env=bsdtar_only,
    )
    assert result.returncode == 0, result.stderr
    rows = sorted(read_manifest(out).rows(), key=lambda r: r["page_index"])
    assert [(r["source_entry"], r["status"], r["container_format"]) for r in rows] == [
        (f"p{i}.png", "ok", "cbr") for i in (1, 2, 3)
    ]
    for row, colour in zip(rows, colours):
        with Image.open(out / row["path"]) as page:
            assert page.convert("RGB").getpixel((10, 10)) == colour
    assert not read_manifest(out).error_rows()


def test_bsdtar_decodes_compressed_rar_data_and_names_what_it_cannot(shared_data, bsdtar_only):
    """Compressed entries go through bsdtar. Before: rarfile's command line made bsdtar open a
    file named ``--``, so no compressed entry could be read. The second member of a solid
    archive, which libarchive cannot decode, is a transient missing_tool naming unar."""
    solid = shared_data / "fixtures" / "rar" / "rar3-solid.rar"
    script = (
        "import json, sys\n"
        "from comics_analysis.ingest.base import ContainerError\n"
        "from comics_analysis.ingest.cbr import CbrBook, rar_tool\n"
        "out = {'tool': rar_tool(), 'entries': []}\n"
        "with CbrBook(sys.argv[1]) as book:\n"
        "    for entry in book.list_entries():\n"
        "        try:\n"
        "            data = book.read_entry(entry)\n"
        "            out['entries'].append([entry.name, len(data), data[:8].decode()])\n"
        "        except ContainerError as exc:\n"
        "            out['entries'].append([entry.name, exc.kind, exc.reason])\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(solid)], capture_output=True, text=True, env=bsdtar_only
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["tool"] == "bsdtar"
    first, second = found["entries"]
    assert first == ["stest1.txt", 2048, "000\n001\n"]  # compressed (RAR3 method 3), read by bsdtar
    assert second[:2] == ["stest2.txt", "missing_tool"]
    assert "stest2.txt" in second[2] and "solid" in second[2] and "unar" in second[2]
