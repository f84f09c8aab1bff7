"""ComicsPAP accuracy in the authors' result layout: per-skill entries, sample-weighted total and
the uniform-guess baseline (VLR-CVC/ComicsPAP; DESIGN 5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _has_label(sample: dict) -> bool:
    return sample.get("solution_index") is not None and sample["solution_index"] >= 0


def skill_results(skill: str, samples: Sequence[dict], predictions: Sequence[int], texts=None) -> list[dict]:
    """``results_<skill>.json`` content in the authors' layout: per-sample entries, preceded by a
    summary entry when every sample is labelled (a split with hidden labels gets none)."""
    if len(samples) != len(predictions):
        raise ValueError(f"{skill}: {len(predictions)} predictions for {len(samples)} samples")
    labelled = bool(samples) and all(_has_label(s) for s in samples)
    entries, correct = [], 0
    for i, (sample, prediction) in enumerate(zip(samples, predictions)):
        entry = {
            "sample_id": sample["sample_id"],
            "full_prediction": texts[i] if texts is not None else None,
            "prediction": int(prediction),
            "skill": skill,
        }
        if labelled:
            entry["solution_index"] = int(sample["solution_index"])
            entry["correct"] = int(prediction) == int(sample["solution_index"])
            correct += entry["correct"]
        entries.append(entry)
    if labelled:
        summary = {"sample_id": "summary", "accuracy": correct / len(samples), "total_samples": len(samples)}
        entries.insert(0, summary)
    return entries


def random_baseline(option_counts: Sequence[int]) -> float:
    """Expected accuracy of a uniform guess: mean of 1 / number of options."""
    if not option_counts:
        raise ValueError("no samples")
    return float(np.mean([1.0 / n for n in option_counts]))


def overall_results(per_skill: dict[str, list[dict]], option_counts: dict[str, Sequence[int]]) -> dict:
    """``overall_results.json``: sample-weighted accuracy over the skills that have a summary
    (labelled splits); random baselines from the option counts of the skills that give them."""
    skills, total_n, total_correct = {}, 0, 0.0
    for skill, entries in per_skill.items():
        summary = entries[0] if entries and entries[0].get("sample_id") == "summary" else None
        counts = option_counts.get(skill, [])
        samples = len(entries) - (summary is not None)
        item = {"num_examples": samples, "random_baseline": random_baseline(counts) if counts else None}
        if summary is not None:
            item["accuracy"] = summary["accuracy"]
            item["correct"] = sum(1 for e in entries[1:] if e["correct"])
            total_n += summary["total_samples"]
            total_correct += item["correct"]
        skills[skill] = item
    all_counts = [n for counts in option_counts.values() for n in counts]
    return {
        "overall_accuracy": total_correct / total_n if total_n else None,
        "total_samples": total_n,
        "skill_results": skills,
        "random_baseline": random_baseline(all_counts) if all_counts else None,
    }
