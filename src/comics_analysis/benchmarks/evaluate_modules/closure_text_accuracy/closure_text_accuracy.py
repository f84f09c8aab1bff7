"""COMICS text cloze accuracy with a bootstrap 95% interval, as an ``evaluate`` module (a thin
wrapper over ``comics_analysis.metrics.intervals.accuracy_with_interval``)."""

import evaluate

from comics_analysis.benchmarks.evaluate_modules import metric_info
from comics_analysis.metrics.intervals import accuracy_with_interval

_DESCRIPTION = """Accuracy of picked candidates on the COMICS text cloze (Iyyer et al., CVPR 2017), with a
percentile bootstrap 95% interval over rows (1000 resamples, seed 0 unless given)."""

_KWARGS = """
Args:
    predictions (list of int): the picked candidate per row.
    references (list of int): the right candidate per row.
    n_resamples (int, optional): bootstrap resamples (default 1000).
    seed (int, optional): bootstrap seed (default 0).
Returns:
    accuracy, ci_low, ci_high (fractions) and n.
"""

_CITATION = """@inproceedings{iyyer2017amazing, title={The Amazing Mysteries of the Gutter: Drawing
Inferences Between Panels in Comic Book Narratives}, author={Iyyer, Mohit and others}, booktitle={CVPR},
year={2017}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class ClosureTextAccuracy(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _CITATION, _KWARGS, {"predictions": "int32", "references": "int32"})

    def _compute(self, predictions, references, n_resamples=1000, seed=0):
        return accuracy_with_interval(predictions, references, n_resamples=n_resamples, seed=seed)
