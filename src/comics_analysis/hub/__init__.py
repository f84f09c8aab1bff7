"""Publishing to the Hugging Face Hub: models (:mod:`.models`: card, staging, push), datasets
(:mod:`.datasets`: staging of an exported folder, push) and the shared token / repo id / upload
plumbing (:mod:`.api`). Above ``benchmarks`` and below ``space`` in the layering; the dataset and
benchmark cards are written by the exports themselves (``dataset_builders.cards``), so that
``dataset_builders`` never imports ``hub``. The Space folder is staged by ``space.stage_space``.
"""

from .api import check_repo_id, hub_api, upload
from .datasets import push_dataset, stage_upload
from .models import push_model, render_model_card, stage_model_upload

__all__ = [
    "check_repo_id",
    "hub_api",
    "push_dataset",
    "push_model",
    "render_model_card",
    "stage_model_upload",
    "stage_upload",
    "upload",
]
