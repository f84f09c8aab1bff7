"""Benchmark runners over public data sets (COMICS text cloze, ComicsPAP, CoMix-style detection,
page stream segmentation), the benchmark report (docs/benchmarks.md from docs/bench/*.json) and
the local ``evaluate`` modules (``evaluate_modules``). Runners load models through ``inference``
and score with ``metrics``; each ``run_*`` returns a result with its summary text and the JSON
payload for the report, so the ``eval`` commands only print and write.
"""
