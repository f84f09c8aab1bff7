"""The shared training harness and the `train` flags generated from the config dataclasses: one flag
per field with the dataclass default, the old flag names still working, errors naming fields."""

import argparse
import dataclasses

import pytest

from comics_analysis.cli import build_parser
from comics_analysis.cli._config_args import config_from_args, flag
from comics_analysis.training.configs import VARIANT_NAMES, PssTrainConfig, TrainConfig

REQUIRED = {
    "closure-lite": (TrainConfig, ["--dataset", "synthetic", "--out", "runs/x"], {"dataset": "synthetic"}),
    "pss": (PssTrainConfig, ["feats", "--out", "runs/x"], {"features": "feats"}),
}


def _train_parser(command: str) -> argparse.ArgumentParser:
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[
        "train"
    ]
    sub = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _parse(command: str, *extra: str):
    cls, required, _ = REQUIRED[command]
    args = build_parser().parse_args(["train", command, *required, *extra])
    return config_from_args(cls, args), args


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_every_config_field_has_a_flag_with_the_dataclass_default(command):
    cls, _, given = REQUIRED[command]
    parser = _train_parser(command)
    options: dict[str, list[str]] = {}
    for action in parser._actions:
        options.setdefault(action.dest, []).extend(action.option_strings or [action.dest])
    for f in dataclasses.fields(cls):
        assert f.name in options, f"{cls.__name__}.{f.name} has no flag"
        assert flag(f.name) in options[f.name] or options[f.name] == [f.name], f.name  # or positional
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
    config, _ = _parse(command)
    assert config == cls(**given, out="runs/x")  # every other field: the dataclass default


def test_old_closure_lite_flags_still_work():
    config, args = _parse(
        "closure-lite",
        "--lr", "0.002", "--no-layout", "--images", "imgs", "--max-time", "30", "--set", "embed_dim=64",
        "--set", "vision_backbone=none", "--freeze-backbones", "--lora", "--synthetic-size", "300x400",
    )  # fmt: skip
    assert config.learning_rate == 0.002 and config.use_layout is False and config.image_root == "imgs"
    assert config.max_time_s == 30.0
    assert config.model_overrides == {"embed_dim": 64, "vision_backbone": "none"}
    assert config.freeze_backbones == "both" and config.lora == "auto" and config.synthetic_size == (300, 400)
    assert args.resume is None
    config, args = _parse("closure-lite", "--learning-rate", "0.003", "--no-show-progress", "--resume")
    assert config.learning_rate == 0.003 and config.show_progress is False and args.resume is True
    assert TrainConfig.__dataclass_fields__["learning_rate"].default == 5e-4


def test_old_pss_flags_still_work():
    config, _ = _parse("pss", "--lr", "0.01", "--window-range", "4-9", "--epochs", "3", "--threads", "1")
    assert config.learning_rate == 0.01 and config.window_range == (4, 9) and config.epochs == 3
    assert config.threads == 1
    config, args = _parse("pss", "--learning-rate", "0.02", "--keep-checkpoints", "1", "--resume")
    assert config.learning_rate == 0.02 and config.keep_checkpoints == 1 and args.resume is True


def test_config_errors_name_fields_not_flags():
    with pytest.raises(ValueError, match=r"^variant: expected one of base"):
        TrainConfig(variant="fancy")
    with pytest.raises(ValueError, match=r"^best_metric: expected one of"):
        TrainConfig(best_metric="accuracy")
    with pytest.raises(ValueError, match=r"^keep_checkpoints must be >= 1"):
        PssTrainConfig(features="f", out="o", keep_checkpoints=0)
    with pytest.raises(ValueError, match=r"^transitions: expected one of"):
        PssTrainConfig(features="f", out="o", transitions="some")


def test_variant_names_match_the_model():
    pytest.importorskip("torch", reason="the 'ml' extra is not installed")
    from comics_analysis.modeling.closure_lite import VARIANTS

    assert tuple(VARIANTS) == VARIANT_NAMES


def test_better_keeps_nan_out_and_lowers_losses():
    from comics_analysis.training.harness import better

    assert better("macro_f1", 0.5, None) and better("macro_f1", 0.6, 0.5) and not better("macro_f1", 0.5, 0.5)
    assert better("loss", 1.0, 2.0) and not better("loss", 3.0, 2.0)
    assert not better("macro_f1", float("nan"), None)
