"""ComicsPAP accuracy as an ``evaluate`` module (a thin wrapper over
``comics_analysis.metrics.comicspap``): accuracy per skill and the sample-weighted total."""

import evaluate

from comics_analysis.benchmarks.evaluate_modules import metric_info
from comics_analysis.metrics.comicspap import overall_results, skill_results

_DESCRIPTION = """ComicsPAP (VLR-CVC/ComicsPAP) accuracy: per skill, and the total weighted by samples
(as the authors' overall_results.json). `skills` names the skill of each sample; with `num_options`
(the number of options of each sample) the random baseline is returned too."""

_KWARGS = """
Args:
    predictions (list of int): the picked option per sample (-1 when no answer could be parsed).
    references (list of int): the right option per sample.
    skills (list of str): the skill of each sample.
    num_options (list of int, optional): number of options per sample, for the random baseline.
Returns:
    overall_accuracy, total_samples, skill_results {skill: {num_examples, accuracy, correct,
    random_baseline}}, random_baseline.
"""

_CITATION = """@article{vivoli2025comicspap, title={ComicsPAP: understanding comic strips by picking the
correct panel}, author={Vivoli, Emanuele and others}, journal={arXiv:2503.08561}, year={2025}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class ComicsPapAccuracy(evaluate.Metric):
    def _info(self):
        features = {"predictions": "int32", "references": "int32", "skills": "string"}
        return metric_info(_DESCRIPTION, _CITATION, _KWARGS, features)

    def _compute(self, predictions, references, skills, num_options=None):
        if num_options is not None and len(num_options) != len(predictions):
            raise ValueError(f"{len(num_options)} num_options for {len(predictions)} predictions")
        groups = {}
        for i, (prediction, reference, skill) in enumerate(zip(predictions, references, skills)):
            sample = {"sample_id": str(i), "solution_index": int(reference)}
            groups.setdefault(skill, ([], [], []))
            groups[skill][0].append(sample)
            groups[skill][1].append(int(prediction))
            groups[skill][2].append(int(num_options[i]) if num_options is not None else None)
        per_skill = {skill: skill_results(skill, s, p) for skill, (s, p, _) in groups.items()}
        counts = {skill: n for skill, (_, _, n) in groups.items() if None not in n}
        return overall_results(per_skill, counts)
