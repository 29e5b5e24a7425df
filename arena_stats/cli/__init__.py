"""The ``arena-stats`` command line: a thin shell over the library.

Each subcommand lives in its own module here and defines ``register(subparsers)``, which adds
its parser and sets ``func`` to a function ``(args) -> int``. Errors that arena_stats raises on
purpose (:class:`~arena_stats.errors.ArenaStatsError`) become one line on stderr and exit
status 2; the user never sees a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from ..errors import ArenaStatsError, shorten

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = ("leaderboard", "matrix", "elo", "plot", "predict", "update", "audit", "report", "next_pairs")

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, values from the command line shortened (a 100 KB
    ``--exclude`` value is quoted by its first characters), exit status 2."""

    def error(self, message: str) -> NoReturn:
        parts = message.split(": ", 1)
        if len(parts) == 2 and len(parts[1]) > 200:
            message = f"{parts[0]}: {shorten(parts[1])}"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())[:400]} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or, given a subcommand name, one that only knows that subcommand.

    Registering a subcommand imports its module, and some pull in heavy libraries (matplotlib
    for ``plot``, numba for ``elo``): a leaderboard should not wait ~0.8 s for them.
    """
    from .. import __version__
    parser = _Parser(
        prog="arena-stats",
        description="Bradley-Terry leaderboards with confidence intervals, online Elo, rating "
                    "plots and preference prediction for pairwise battles (LLM arenas, games).")
    parser.add_argument("--version", action="version", version=f"arena-stats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    module_name = None if command is None else command.replace("-", "_")  # next-pairs lives in next_pairs
    for name in (module_name,) if module_name in SUBCOMMANDS else SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # subcommand not shipped in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``arena-stats`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # the subcommand is the first word that is not an option (top-level options take no values)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the (sub)command that was given them, with its --help
        _deepest(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except ArenaStatsError as exc:
        print(f"arena-stats: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("arena-stats: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _deepest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the innermost subcommand in ``args`` (``predict train`` -> its parser)."""
    while True:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, actions[0].dest, None) if actions else None
        if not actions or name not in actions[0].choices:
            return parser
        parser = actions[0].choices[name]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"arena-stats: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
