"""The command line as a user meets it: help text and shown defaults on every option of every
subcommand, one spelling per concept, paths expanded, wrong or empty inputs as errors."""

import argparse
from pathlib import Path

import pytest

from comics_analysis.cli import build_parser, main
from comics_analysis.cli._common import split

SKIP = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def walk(parser, words=()):
    """(words, parser) of the top-level parser and every subcommand, however deep."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*words, name))


COMMANDS = list(walk(build_parser()))


def test_every_option_of_every_subcommand_has_help_text():
    missing = [
        f"{' '.join(words) or 'comics-analysis'} {'/'.join(a.option_strings) or a.dest}"
        for words, parser in COMMANDS
        for a in parser._actions
        if not isinstance(a, SKIP) and not (a.help and a.help.strip())
    ]
    assert not missing, "options without help text:\n" + "\n".join(missing)
    assert len(COMMANDS) > 40  # the walk reached the nested groups


def test_every_subcommand_has_a_one_line_help_in_its_group():
    missing = [
        f"{' '.join(words)} {choice.dest}"
        for words, parser in COMMANDS
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not choice.help
    ]
    assert not missing, missing


def test_defaults_are_shown_in_help(capsys):
    for words, parser in COMMANDS:
        text = " ".join(parser.format_help().split())
        for a in parser._actions:
            if isinstance(a, SKIP) or a.help == argparse.SUPPRESS or not a.option_strings:
                continue
            default = a.default
            if default is None or default is False or default in ("", (), []) or isinstance(default, dict):
                continue
            assert "default" in (a.help or "").lower() or "(default: " in text, (words, a.option_strings)
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: keep)" in out and "(default: 1)" in out  # --image-format, --num-shards


def test_one_spelling_per_concept():
    for words, parser in COMMANDS:
        for a in parser._actions:
            if a.help == argparse.SUPPRESS:
                continue  # a former spelling, accepted with a note
            if "--json" in a.option_strings:  # always a PATH (- or none: standard output)
                assert a.nargs in (None, "?") and not isinstance(a.const, bool), words
            if "--images" in a.option_strings:  # the root of image paths is --image-root everywhere
                assert a.choices, f"{' '.join(words)}: --images names a folder; spell it --image-root"
            if "--split" in a.option_strings:
                assert a.type is split and a.default == "validation", words


def test_split_names_and_former_spellings(capsys):
    assert [split(s) for s in ("train", "validation", "val", "dev", "test")] == [
        "train",
        "validation",
        "validation",
        "validation",
        "test",
    ]
    with pytest.raises(argparse.ArgumentTypeError, match="expected train, validation"):
        split("holdout")
    args = build_parser().parse_args(["serve", "s.zarr", "--images", "imgs"])
    assert args.images == Path("imgs")
    assert "--images is now spelled --image-root" in capsys.readouterr().err
    assert build_parser().parse_args(["embed", "d", "--model", "m", "--out", "o"]).images is None
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["eval", "closure-text", "--data", "x", "--split", "holdout"])
    assert info.value.code == 2 and "unknown split 'holdout'" in capsys.readouterr().err


def test_paths_expand_home_and_variables(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COMICS_TEST_DIR", str(tmp_path / "lib"))
    from comics_analysis.cli._common import expand_paths

    args = expand_paths(build_parser().parse_args(["ingest", "~/books", "$COMICS_TEST_DIR", "--out", "~/o"]))
    assert args.sources == [tmp_path / "books", tmp_path / "lib"] and args.out == tmp_path / "o"
    args = expand_paths(
        build_parser().parse_args(["embed", "~/annotated", "--model", "user/model", "--out", "s"])
    )
    assert args.dataset == str(tmp_path / "annotated") and args.model == "user/model"


def test_ingest_of_a_folder_without_comics_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no comics here")
    assert main(["-q", "ingest", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (
        f"no comics found in {tmp_path / 'empty'}" in err
        and ".cbz" in err
        and "folders of page images" in err
    )
    assert not (tmp_path / "out" / "manifest.parquet").exists()


def test_a_feature_store_is_features_or_dash_dash_features(capsys):
    """`train pss` takes its feature store by position, as before, or as --features like `segment`
    and `eval pss`; neither is an error that names both spellings."""
    parse = build_parser().parse_args
    assert parse(["train", "pss", "f1", "--out", "o"]).features == "f1"
    assert parse(["train", "pss", "--features", "f2", "--out", "o"]).features == "f2"
    assert parse(["segment", "all", "--features", "f3", "--model", "m"]).features == Path("f3")
    assert main(["train", "pss", "--out", "o"]) == 2
    assert "missing FEATURES (or --features)" in capsys.readouterr().err


def test_library_ingest_expands_home_and_takes_one_folder(tmp_path, monkeypatch):
    """`ingest(["~/comics"], ...)` (the docs' example) and `ingest("~/comics", ...)` both work."""
    from comics_analysis.ingest import ingest
    from comics_analysis.synth import make_library

    monkeypatch.setenv("HOME", str(tmp_path))
    make_library(tmp_path / "lib", books=1, seed=1, size=(300, 450), story_pages=(1, 1), show_progress=False)
    (tmp_path / "lib" / "books").rename(tmp_path / "comics")
    first = ingest(["~/comics"], "~/library", show_progress=False)
    again = ingest("~/comics", "~/library", show_progress=False)
    assert len(first.ok()) == len(again.ok()) > 0
    assert (tmp_path / "library" / "manifest.parquet").is_file() and not Path("~").exists()
