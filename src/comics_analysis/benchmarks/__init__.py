"""Benchmark runners over public data sets (COMICS text cloze, ComicsPAP, CoMix-style detection),
the benchmark report (docs/benchmarks.md from docs/bench/*.json) and the local ``evaluate``
modules (``evaluate_modules``). Runners load models through ``inference`` and score with
``metrics``.
"""
