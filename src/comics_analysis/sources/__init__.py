"""What pages an argument means: one resolver (:func:`open_pages`) for every command and library
entry point that takes pages, one image loader (:func:`open_image`, behind
``PageSource.load_image``), one set of split names and comic_pages config defaults."""

from .pages import (
    SPLIT_ALIASES,
    SPLITS,
    DatasetSource,
    PageItem,
    PageSource,
    RecordSource,
    Subset,
    SyntheticSource,
    open_image,
    split_name,
)
from .resolve import DEFAULT_CONFIG, FORMS, TRAINING_CONFIG, choose_config, open_pages

__all__ = [
    "DEFAULT_CONFIG",
    "FORMS",
    "SPLITS",
    "SPLIT_ALIASES",
    "TRAINING_CONFIG",
    "DatasetSource",
    "PageItem",
    "PageSource",
    "RecordSource",
    "Subset",
    "SyntheticSource",
    "choose_config",
    "open_image",
    "open_pages",
    "split_name",
]
