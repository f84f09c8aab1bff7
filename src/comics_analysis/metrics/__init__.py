"""Metrics: pure functions over plain data (boxes, labels, arrays), each unit-tested on hand-computed
cases. Below training (the training loops score held-out data with them) and above the data
stages; nothing here loads a model or reads a benchmark's files (that is ``benchmarks``).

- ``panels``: panel detection P/R/F1, COCO AP, reading order (exact, Kendall tau);
- ``text``: lettered-text recall/precision, CER, kind and panel accuracy;
- ``detection``: CoMix-style per-class COCO AP;
- ``align``: VLM/OCR text-to-panel alignment rules;
- ``pss``: page stream segmentation (accuracy, macro-F1, PQ, boundary F1, MnDD, baselines);
- ``closure_lite``: next-panel accuracy, reading order, recall@k;
- ``comicspap``: ComicsPAP accuracy in the authors' layout;
- ``intervals``: bootstrap confidence intervals.
"""
