"""The ``comics-analysis`` command. Thin: every subcommand parses, calls one library function and
prints. One module per command group registers its subcommands (``register(commands)``); heavy
imports happen inside the subcommand that needs them, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from . import benchmarks, closure_lite, dataspec, demo, eval, export, ingest, pss, store
from ._common import Commands, Parser, expand_paths

log = logging.getLogger("comics_analysis")

# registration order = the order of `comics-analysis --help`
MODULES = (demo, ingest, eval, benchmarks, dataspec, export, store, pss, closure_lite)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="comics-analysis",
        description="Turn digital comics into DataSpec pages, datasets, embeddings and models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default INFO)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="same as --log-level DEBUG")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars"
    )
    commands = Commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    for module in MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = expand_paths(parser.parse_args(argv))
    level = "DEBUG" if args.verbose else ("WARNING" if args.quiet else args.log_level)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which SIMD build it loaded
    from ..dataspec import DataSpecError

    try:
        return args.func(args)
    except DataSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, RuntimeError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
