"""What every command module shares: the parser class (help with defaults), argument types, the
command registry, deprecated spellings, path expansion, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _worth_showing(default) -> bool:
    """A default worth showing: not an off switch, not empty, not "none given"."""
    if default is None or default is False or default is argparse.SUPPRESS:
        return False
    return not (isinstance(default, (str, tuple, list, dict)) and not default)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, plus ``(default: X)`` after an option's help when it has a default
    worth showing and the help does not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or "default" in text.lower() or action.help == argparse.SUPPRESS:
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text
        if action.nargs == 0:  # a switch: its help says what it turns on or off
            return text
        return f"{text} (default: %(default)s)" if _worth_showing(action.default) else text


class Parser(argparse.ArgumentParser):
    """The parser of every command and subcommand (``add_subparsers`` makes its own class the
    subparsers' class): one place for the help format."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


class _Renamed(argparse.Action):
    """An old spelling of an option: works as the new one, says so on stderr, hidden from help."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"note: {option_string} is now spelled {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def renamed(parser: argparse.ArgumentParser, old: str, new: str, *, dest: str, **kwargs) -> None:
    """Accept ``old``, the former spelling of the option ``new`` (same ``dest``), hidden from help."""
    parser.add_argument(
        old, action=_Renamed, new=new, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs
    )


def expand_paths(args: argparse.Namespace) -> argparse.Namespace:
    """``~`` and ``$VAR`` expanded in every path argument (``Path`` values, and strings that start
    with ``~``: a model or dataset argument may be a path or a name), as a shell would have."""
    from ..dataspec.paths import expand_path  # after parsing: `import comics_analysis.cli` stays light

    def expand(value):
        if isinstance(value, Path):
            return expand_path(value)
        if isinstance(value, str) and (value == "~" or value.startswith(("~/", "~" + os.sep))):
            return str(expand_path(value))
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    for name, value in vars(args).items():
        setattr(args, name, expand(value))
    return args


SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"val": "validation", "dev": "validation"}  # as comics_analysis.sources reads them


def split(text: str) -> str:
    """A split name: train, validation or test (val and dev are read as validation)."""
    name = SPLIT_ALIASES.get(text, text)
    if name not in SPLITS:
        raise argparse.ArgumentTypeError(
            f"unknown split {text!r}: expected train, validation (also spelled val or dev) or test"
        )
    return name


def emit_json(text: str, where: str | Path) -> None:
    """JSON ``text`` to standard output (``where`` is ``-``) or to the file ``where``."""
    if str(where) == "-":
        print(text)
        return
    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path}")


class Commands:
    """The top-level subcommands and the command groups (``eval``, ``train``, ...).

    A group is created by the first module that asks for it (with its help text) and shared by the
    modules that add to it later, so ``train pss`` and ``train closure-lite`` live with their models.
    """

    def __init__(self, sub: argparse._SubParsersAction):
        self.sub = sub
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def group(self, name: str, *, dest: str | None = None, metavar: str | None = None, **parser_kwargs):
        if name not in self._groups:
            if dest is None or metavar is None:
                raise ValueError(f"command group {name!r} is first used without dest and metavar")
            parser = self.sub.add_parser(name, **parser_kwargs)
            self._groups[name] = parser.add_subparsers(dest=dest, metavar=metavar, required=True)
        return self._groups[name]


def size(text: str) -> tuple[int, int]:
    """WIDTHxHEIGHT of a page, at least 200x200."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1060x1600, got {text!r}") from None
    if w < 200 or h < 200:
        raise argparse.ArgumentTypeError(f"page size {w}x{h} is too small (minimum 200x200)")
    return w, h


def page_range(text: str) -> tuple[int, int]:
    """LOW-HIGH with 1 <= LOW <= HIGH."""
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH, e.g. 6-14, got {text!r}") from None
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"need 1 <= LOW <= HIGH, got {text!r}")
    return lo, hi


def formats(text: str) -> tuple[str, ...]:
    """A comma list of synthetic container formats."""
    from ..synth import FORMATS

    items = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in items if f not in FORMATS]
    if not items or bad:
        raise argparse.ArgumentTypeError(
            f"formats must be a comma list of {', '.join(FORMATS)}, got {text!r}"
        )
    return items


def ratios(text: str) -> tuple[float, float, float]:
    """train,validation,test shares."""
    from ..dataset_builders.comic_pages import parse_ratios

    try:
        return parse_ratios(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def add_engine_args(p: argparse.ArgumentParser, retries: str = "--max-retries") -> None:
    """``--engine local|ray`` and the Ray settings (docs/scale.md); ``retries``: the flag of the
    retries of a unit whose worker died (another name where ``--max-retries`` is taken)."""
    g = p.add_argument_group("engine (docs/scale.md)")
    g.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local (default): this machine's processes; ray: Ray Data workers (the ray extra), same files",
    )
    g.add_argument("--address", help="with --engine ray: an existing cluster (auto, ray://HEAD:10001)")
    g.add_argument(
        "--ray-cpus", type=positive, help="CPUs of the local Ray cluster started without --address"
    )
    g.add_argument("--cpus-per-worker", type=float, default=1.0, help="CPUs per Ray worker (default 1)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per Ray worker (default 0)")
    g.add_argument(
        "--ray-workers", type=positive, help="at most this many Ray workers (default: as many as fit)"
    )
    g.add_argument(
        retries, type=int, default=3, dest="unit_retries", help="retries of a unit whose Ray worker died"
    )


def engine_options(args: argparse.Namespace):
    """The EngineOptions of ``--engine ray`` (None for the local engine)."""
    if args.engine == "local":
        return None
    from ..engine import EngineOptions

    return EngineOptions(
        engine=args.engine,
        address=args.address,
        num_cpus=args.ray_cpus,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        workers=args.ray_workers,
        max_retries=args.unit_retries,
        show_progress=not args.quiet,
    )
