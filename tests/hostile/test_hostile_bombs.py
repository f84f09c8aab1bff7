"""Small containers that decode to a lot, or slowly: refused within a memory, work and time cap.

Each input is built here. The costly runs happen in a child process, which reports its own peak
memory (VmHWM) and CPU time, and is killed if it runs far past what the fix allows, so that the
old code fails these tests instead of hanging them.
"""

from __future__ import annotations

import bz2
import json
import subprocess
import sys
import tarfile

import py7zr

from comics_analysis.ingest import ingest

# Ingest SOURCE into OUT in a child; print its error rows, peak RSS (kB) and CPU seconds.
_CHILD = (
    "import json, re, resource, sys\n"
    "from comics_analysis.ingest import ingest\n"
    "m = ingest([sys.argv[1]], sys.argv[2], show_progress=False)\n"
    "use = resource.getrusage(resource.RUSAGE_SELF)\n"
    "peak = int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n"
    "print(json.dumps({'errors': [[e['source_path'], e['entry'], e['kind'], e['reason']]\n"
    "                             for e in m.error_rows()], 'rows': len(m.rows()),\n"
    "                  'peak_kb': peak, 'cpu_s': use.ru_utime + use.ru_stime}))\n"
)


def _ingest_in_child(lib, out, timeout: float) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(lib), str(out)], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _bz2_tar(path, name: str, size: int) -> None:
    """A .tar.bz2 whose one member is ``size`` zeros (a multiple of 45 MiB), written as repeated
    bzip2 streams of one 45 MiB block each (a file bzip2 and Python read as one stream), so that
    a 36 GB member is written in a second."""
    chunk = 45 << 20
    assert size % chunk == 0
    info = tarfile.TarInfo(name)
    info.size = size
    block = bz2.compress(bytes(chunk), 9)
    with open(path, "wb") as handle:
        handle.write(bz2.compress(info.tobuf(format=tarfile.GNU_FORMAT), 9))
        for _ in range(size // chunk):
            handle.write(block)
        handle.write(bz2.compress(bytes(1024 + (-size) % 512), 9))  # padding and end of archive


def test_a_65_kb_tar_bz2_declaring_36_gb_is_refused_before_inflating_it(tmp_path):
    """The issue's 65 KB .tar.bz2 (burned 49 s of CPU). Listing a compressed tar skips each
    member's data with a forward seek, which Python's bz2 ran to its end in one call before the
    meter looked: the whole 36 GB was inflated. Now a seek past the budget is refused before
    inflating anything: the child's CPU time stays far under what inflating would cost (about
    100 s at bzip2's speed here)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    _bz2_tar(lib / "bomb.tar.bz2", "p1.png", 800 * (45 << 20))
    assert 60_000 < (lib / "bomb.tar.bz2").stat().st_size < 70_000
    found = _ingest_in_child(lib, tmp_path / "out", timeout=120)
    [(source, entry, kind, reason)] = found["errors"]
    assert (source, entry, kind) == ("bomb.tar.bz2", None, "zip_bomb")
    assert reason == "compressed tar inflates past 67108864 bytes"  # the budget: 64 MB, not 36 GB
    assert found["cpu_s"] < 15, found  # generous: the refusal itself takes well under a second


def test_a_slow_entry_is_refused_past_the_time_cap_naming_it(tmp_path):
    """A .tar.bz2 whose member inflates for a while (45 MB of bzip2, about 0.2 s here): with a
    20 ms cap per entry it is refused as a final time_cap naming the file and the entry; with
    the default cap (60 s) the same file is read through (its bytes are not an image)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    _bz2_tar(lib / "slow.tar.bz2", "p1.png", 45 << 20)
    capped = ingest([lib], tmp_path / "capped", show_progress=False, entry_timeout=0.02)
    [error] = capped.error_rows()
    assert (error["source_path"], error["kind"]) == ("slow.tar.bz2", "time_cap")
    assert error["reason"] == "decoding 'p1.png' took longer than the cap of 0.02 s per entry"
    assert not capped.rows()
    default = ingest([lib], tmp_path / "default", show_progress=False)
    assert [(e["entry"], e["kind"]) for e in default.error_rows()] == [("p1.png", "corrupt_image")]


def test_a_small_cb7_whose_pages_inflate_to_gigabytes_stays_small_in_memory(tmp_path):
    """The issue's 363 KB CB7 that peaked at 4.25 GB (every member decoded into memory at
    once). Here: 16 members of 128 MB of zeros, 2 GB in all, in a file of ~70 KB. Ingest in a
    child process must stay far below the members' total (it is refused from its listing)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    member = bytes(128 << 20)
    zstd = [{"id": py7zr.FILTER_ZSTD, "level": 1}]  # fast to write; 7-Zip ZS and py7zr read it
    with py7zr.SevenZipFile(lib / "bomb.cb7", "w", filters=zstd) as archive:
        for i in range(16):
            archive.writestr(member, f"p{i + 1:02d}.png")
    assert (lib / "bomb.cb7").stat().st_size < 400_000
    found = _ingest_in_child(lib, tmp_path / "out", timeout=240)
    [(source, entry, kind, _)] = found["errors"]
    assert (source, entry, kind) == ("bomb.cb7", None, "zip_bomb")
    total_kb = 16 * (128 << 10)
    assert found["peak_kb"] < total_kb // 6, f"peak {found['peak_kb'] // 1024} MB for 2048 MB of members"
