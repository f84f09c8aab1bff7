import os
import sys
import tempfile
from pathlib import Path

import pytest

# No network at test time (DESIGN 6): set before anything imports huggingface libraries.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}.items():
    os.environ.setdefault(_name, _value)
# Remote code is copied into HF_MODULES_CACHE under the folder's name (often "model"): one cache per
# test process (xdist worker), so two workers loading different "model" folders never race.
os.environ.setdefault("HF_MODULES_CACHE", tempfile.mkdtemp(prefix="hf-modules-"))

# ../shared/data beside the repository, or wherever COMICS_SHARED_DATA points.
SHARED_DATA = Path(
    os.environ.get("COMICS_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real third-party data for tests only); skip with a reason if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _hf_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "hf-cache"
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))
    # datasets reads HF_DATASETS_CACHE once, at import: point its constant at the test cache too.
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:
        monkeypatch.setattr(datasets_config, "HF_DATASETS_CACHE", cache / "datasets")
