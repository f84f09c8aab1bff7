"""CoSMo page stream segmentation metrics as an ``evaluate`` module: a thin wrapper over
``comics_analysis.metrics.pss.evaluate`` (issue 9). Each prediction / reference is one book:
{"book_id", "page_types" (our taxonomy; null = unlabelled), "story_start" (bools)}.
Needs the comics-analysis package installed (the module imports its metric functions)."""

import datasets
import evaluate

_DESCRIPTION = """Page stream segmentation metrics (DESIGN 5): page accuracy, per-class P/R/F1, macro-F1
over a stated label list, class-aware segment PQ, boundary F1 at +-0 / +-1 pages, one-to-one MnDD."""

_KWARGS = """
Args:
    predictions (list of dict): per book {book_id, page_types, story_start}.
    references (list of dict): the same books, same order and page counts.
    labels (list of str, optional): the label list per-class and macro numbers are stated over.
    scheme (str, optional): "ours" (default), "cosmo5" or "cosmo_v4".
Returns:
    the dict of comics_analysis.metrics.pss.evaluate.
"""

_BOOK = {
    "book_id": datasets.Value("string"),
    "page_types": datasets.Sequence(datasets.Value("string")),
    "story_start": datasets.Sequence(datasets.Value("bool")),
}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Pss(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": _BOOK, "references": _BOOK}),
        )

    def _compute(self, predictions, references, labels=None, scheme="ours"):
        # lazy: `evaluate` runs this file as a script; the package is needed only to compute
        from comics_analysis.metrics.pss import evaluate as pss_evaluate

        return pss_evaluate(references, predictions, labels=labels, scheme=scheme)
