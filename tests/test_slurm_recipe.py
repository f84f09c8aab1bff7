"""The Slurm recipe (scripts/slurm/): submit.sh with a stand-in `sbatch` that runs each array task
in turn, with the SLURM_ARRAY_* variables Slurm sets, so the exact commands of comics.sbatch run
(K = 2 shards of ingest, annotate, embed and PSS features, then the merges); the outputs equal one
process's."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("zarr")
pytest.importorskip("torch")

from comics_analysis.cli import main
from comics_analysis.synth import make_library
from pipeline_outputs import assert_same_annotate, assert_same_store
from space_helpers import save_tiny_model

REPO = Path(__file__).resolve().parents[1]

FAKE_SBATCH = r"""#!/bin/bash
# stand-in for Slurm's sbatch: runs the job now, each array task in turn, and prints a job id
set -euo pipefail
array=""
rest=()
for arg in "$@"; do
    case "$arg" in
        --array=*) array=${arg#--array=} ;;
        --*) ;;
        *) rest+=("$arg") ;;
    esac
done
echo "sbatch $*" >> "$SBATCH_LOG"
if [[ -n $array ]]; then
    first=${array%-*}
    last=${array#*-}
    for ((i = first; i <= last; i++)); do
        SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=$((last - first + 1)) SLURM_CPUS_PER_TASK=1 \
            bash "${rest[@]}" >&2
    done
else
    SLURM_CPUS_PER_TASK=1 bash "${rest[@]}" >&2
fi
echo $((RANDOM + 1000))
"""


@pytest.mark.slow
def test_slurm_array_recipe_equals_one_process(tmp_path):
    import torch

    make_library(tmp_path / "lib", books=3, seed=5, size=(350, 525), story_pages=(2, 2), show_progress=False)
    model = save_tiny_model(tmp_path / "model")
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(FAKE_SBATCH)
    fake.chmod(0o755)
    work = tmp_path / "work"
    env = {
        **os.environ,
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
        "SBATCH_LOG": str(tmp_path / "sbatch.log"),
        "COMICS_ANALYSIS": f"{sys.executable} -m comics_analysis",
        "LIBRARY": str(tmp_path / "lib" / "books"),
        "WORK": str(work),
        "MODEL": str(model),
        "SHARDS": "2",
        "ANNOTATE_ARGS": "--ocr none",
        "EMBED_ARGS": "--chunk-pages 8 --batch-size 4",
        "FEATURES": "1",
    }
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "slurm" / "submit.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.startswith("submitted: ingest ")
    submitted = (tmp_path / "sbatch.log").read_text().splitlines()
    assert [line.split()[-1] for line in submitted] == [
        "ingest",
        "ingest-merge",
        "annotate",
        "annotate-merge",
        "embed",
        "features",
        "features-merge",
    ]
    assert "--gres=gpu:1" in submitted[4] and all("--dependency=afterok:" in s for s in submitted[1:])
    assert "--gres" not in submitted[5] and re.search(r", features \d+, features-merge \d+$", result.stdout)

    # one process, the same flags
    ref = tmp_path / "ref"
    threads = torch.get_num_threads()
    try:
        assert main(["-q", "ingest", str(tmp_path / "lib" / "books"), "--out", str(ref / "ingest")]) == 0
        assert (
            main(["-q", "annotate", str(ref / "ingest"), "--out", str(ref / "annotate"), "--ocr", "none"])
            == 0
        )
        args = ["-q", "embed", str(ref / "annotate"), "--model", str(model), "--out", str(ref / "store.zarr")]
        assert main([*args, "--threads", "1", "--chunk-pages", "8", "--batch-size", "4"]) == 0
        torch.set_num_threads(threads)
        assert main(["-q", "pss", "features", str(ref / "annotate"), "--out", str(ref / "features")]) == 0
    finally:
        torch.set_num_threads(threads)

    assert (work / "ingest" / "manifest.parquet").read_bytes() == (
        ref / "ingest" / "manifest.parquet"
    ).read_bytes()
    shards = sorted(p.name for p in (work / "ingest" / "shards").glob("*.manifest.parquet"))
    assert shards == ["000-of-002.manifest.parquet", "001-of-002.manifest.parquet"]
    files = assert_same_annotate(ref / "annotate", work / "annotate")
    assert "dataspec.parquet" in files and len([f for f in files if f.endswith(".jsonl")]) == 3
    assert_same_store(ref / "store.zarr", work / "store.zarr", skip=("progress/",))
    progress = sorted((work / "store.zarr" / "progress").glob("*.json"))
    assert [p.name for p in progress] == ["shard-000-of-002.json", "shard-001-of-002.json"]
    chunks = sorted(c for p in progress for c in json.loads(p.read_text())["chunks"])
    one = json.loads((ref / "store.zarr" / "progress" / "shard-000-of-001.json").read_text())["chunks"]
    assert chunks == one and len(one) >= 3
    store = json.loads((work / "store.zarr" / "zarr.json").read_text())["attributes"]
    assert store["complete"] is True
    # PSS features: the shards' stores merged into the one-process store, file for file
    assert_same_store(ref / "features", work / "features")
    assert not (work / "features.shards").exists()  # removed by the merge
