"""CoMix-style detection benchmark: COCO AP / AP50 per class (panel, character, text, face) of
predicted pages against ground truth, both read by :func:`comics_analysis.sources.open_pages`
(a CoMix/CDF COCO file, DataSpec files, an annotate output folder, ...). Scoring is
:func:`comics_analysis.metrics.detection.evaluate_detection`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..dataspec import Page, format_table
from ..dataspec.coco import to_coco
from ..metrics.detection import evaluate_detection
from ..sources import open_pages
from .report import run_info


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@dataclass
class DetectionRun:
    """The report of :func:`run_detection` and the pages it scored."""

    dataset: str
    predictions: str
    report: dict
    pred_pages: list[Page]

    def summary_text(self) -> str:
        """AP / AP50 per class and their mean, then how many pages were paired."""
        r = self.report
        rows = [
            [name, c["truth"], c["pred"], _fmt(c["ap"]), _fmt(c["ap50"])] for name, c in r["classes"].items()
        ]
        rows.append(["mean", "", "", _fmt(r["mean_ap"]), _fmt(r["mean_ap50"])])
        table = format_table(["class", "true", "pred", "AP", "AP50"], rows)
        return f"{table}\n{r['pages']} pages paired; {len(r['missing'])} true pages without a prediction"

    def payload(self) -> dict:
        """The report for the benchmark report (with date, machine, commit)."""
        return {
            "benchmark": "detection",
            "dataset": self.dataset,
            "predictions": self.predictions,
            **run_info(),
            **self.report,
        }

    def coco(self) -> dict:
        """The predictions as a COCO dict (CoMix layout, with scores)."""
        return to_coco(self.pred_pages, with_scores=True)


def run_detection(
    gt: str | Path, pred: str | Path, *, image_dir: str | Path | None = None, dataset: str | None = None
) -> DetectionRun:
    """Score the pages of ``pred`` against those of ``gt`` (any form ``open_pages`` reads;
    ``image_dir``: the page images of COCO files, not needed for scoring). ``dataset`` names the
    ground truth in the report (default: the file name of ``gt``)."""
    truth = open_pages(gt, image_root=image_dir, lang="en", argument="gt").pages()
    preds = open_pages(pred, image_root=image_dir, lang="en", argument="pred").pages()
    report = evaluate_detection(truth, preds)
    return DetectionRun(dataset or Path(gt).name, Path(pred).name, report, preds)
