"""Evaluation metrics: plain functions over plain data, each unit-tested on hand-computed cases."""
