"""Command-line flags generated from a config dataclass (the `train` commands): one flag per field
(``--field-name``, plus the names in ``metadata["flags"]``), the dataclass default as the only
default, the help text from ``metadata["help"]``. Booleans get ``--x / --no-x`` (and the flags
in ``metadata["negative"]``), ``dict`` fields a repeatable ``KEY=VALUE`` (values read as JSON
when they parse), ``list`` fields a repeatable flag, tuple fields the parser given in ``types``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types as pytypes
import typing
from collections.abc import Callable
from typing import Any

from ._common import positive


class _KeyValue(argparse.Action):
    """``KEY=VALUE`` into a dict (repeatable); VALUE as JSON when it parses, else the string."""

    def __call__(self, parser, namespace, values, option_string=None):
        key, sep, value = values.partition("=")
        if not sep or not key:
            raise argparse.ArgumentError(self, f"expected KEY=VALUE, got {values!r}")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), key: parsed})


def _unwrap(kind: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(kind, pytypes.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    types: dict[str, Callable[[str], Any]] | None = None,
    required: tuple[str, ...] = (),
    positional: tuple[str, ...] = (),
) -> None:
    """One argument per field of ``cls``. ``required``: fields whose flag must be given although the
    dataclass has a default; a field without a default is required anyway; ``positional``: fields
    given by position."""
    types = types or {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        kind = _unwrap(hints[f.name])
        origin = typing.get_origin(kind) or kind
        default = _default(f)
        text = meta.get("help", "").replace("%", "%%")
        if f.name in positional:  # FEATURES or --features: the flag other commands spell
            kind_of = types.get(f.name, str)
            parser.add_argument(
                f.name, nargs="?", default=argparse.SUPPRESS, type=kind_of, help=text, metavar=f.name.upper()
            )
            parser.add_argument(flag(f.name), dest=f.name, type=kind_of, help=f"same as {f.name.upper()}")
            continue
        names = [flag(f.name), *meta.get("flags", ())]
        must = default is dataclasses.MISSING or f.name in required
        kwargs: dict[str, Any] = {"dest": f.name}
        if must:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if not (default is None or isinstance(default, bool) or default in ({}, "")):
                text += " (default: %(default)s)"
        kwargs["help"] = text
        if origin is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **kwargs)
            for negative in meta.get("negative", ()):
                parser.add_argument(
                    negative, dest=f.name, action="store_false", help=f"same as --no-{names[0][2:]}"
                )
            continue
        if origin is dict:
            parser.add_argument(*names, action=_KeyValue, metavar="KEY=VALUE", **kwargs)
            continue
        if origin is list:  # repeatable: --x A --x B
            parser.add_argument(*names, action="append", **kwargs)
            continue
        if origin is tuple:
            if f.name not in types:
                raise TypeError(f"{cls.__name__}.{f.name}: a tuple field needs a parser in types")
            kwargs["type"] = types[f.name]
        elif f.name in types:
            kwargs["type"] = types[f.name]
        elif meta.get("positive"):
            kwargs["type"] = positive
        elif origin in (int, float, str):
            kwargs["type"] = origin
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no command-line type for {hints[f.name]}")
        if "choices" in meta:
            kwargs["choices"] = [c for c in meta["choices"] if c is not None]
        if "const" in meta:
            kwargs.update(nargs="?", const=meta["const"])
        parser.add_argument(*names, **kwargs)


def config_from_args(cls: type, args: argparse.Namespace, **changes) -> Any:
    """The config of the parsed flags (``changes`` applied on top)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    fields = dataclasses.fields(cls)
    missing = [f.name for f in fields if values[f.name] is None and _default(f) is dataclasses.MISSING]
    if missing:
        raise ValueError(f"missing {', '.join(f'{n.upper()} (or {flag(n)})' for n in missing)}")
    return cls(**{**values, **changes})


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    """``--resume [CHECKPOINT]`` of a `train` command (the harness's checkpoints)."""
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        metavar="CHECKPOINT",
        help="resume from the latest checkpoint in OUT/checkpoints (or this checkpoint folder)",
    )


def run_training(train: Any, cls: type, args: argparse.Namespace) -> int:
    """A `train` command: the config of the flags (``-q`` turns the progress bar off) -> ``train``
    (resuming when asked) -> the result's summary lines."""
    changes = {"show_progress": False} if args.quiet else {}
    result = train(config_from_args(cls, args, **changes), resume=args.resume)
    print("\n".join(result.summary()))
    return 0


__all__ = ["add_config_arguments", "add_resume_argument", "config_from_args", "flag", "run_training"]
