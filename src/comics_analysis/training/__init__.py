"""Training loops over an Accelerate ``Accelerator`` (DESIGN 2) and the utilities they share.

Needs the ``ml`` extra (torch, transformers, accelerate; peft for LoRA). Import the loop you
need, e.g. ``from comics_analysis.training.closure_lite import TrainConfig, train_closure_lite``.
Both loops run in one harness (``training.harness``: run folder, checkpoints, metrics log,
``TrainResult``); their configs live in ``training.configs`` (light: no torch).
"""
