"""``arena-stats leaderboard``: battles in, a Bradley-Terry leaderboard with intervals out.

A thin shell over :func:`arena_stats.leaderboard`: every number comes from the library. With
style control, covariates, pair re-weighting or ``--by`` the board is built by
:mod:`~arena_stats.cli.style_options`, still one table.
"""

from __future__ import annotations

import argparse

from ..boards.components import component_leaderboards
from ..boards.leaderboard import leaderboard
from ..data.aggregate import PairCounts
from ..data.battles import Battles
from ..errors import InputError
from . import style_options
from .common import (
    add_filter_args,
    add_input_args,
    add_output_args,
    counts_from_args,
    emit_table,
    load_from_args,
    say,
    streamable,
)
from .options import (
    add_fit_args,
    add_interval_args,
    fit_kwargs,
    interval_kwargs,
    parse_anchor,
    progress_wanted,
    report_fit,
)

__all__ = ["register", "run", "board_options", "add_fit_args", "parse_anchor"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="Bradley-Terry leaderboard with confidence intervals",
                       description="Fit a Bradley-Terry model to the battles and print a leaderboard: "
                                   "rank (LMSYS Rank (UB)), model, rating, ci_lower, ci_upper, rank_lower, "
                                   "rank_upper, battles, wins, losses, ties, win_rate, plus p_top with the "
                                   "bootstrap.")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p)
    add_interval_args(p)
    style_options.add_arguments(p)
    g = p.add_argument_group("components")
    g.add_argument("--components", action="store_true",
                   help="fit each connected component of the comparison graph (models joined, directly or "
                        "through others, by battles) separately: one board per component, stacked under a "
                        "'component' column, 1 = most battles; ratings of different components are not "
                        "comparable")
    add_output_args(p)
    p.set_defaults(func=run)


def board_options(args: argparse.Namespace) -> dict:
    """Every board option of the command line as :func:`~arena_stats.leaderboard` keywords."""
    return dict(**fit_kwargs(args), **interval_kwargs(args), reference=getattr(args, "reference", None),
                progress=progress_wanted(args))


def run(args: argparse.Namespace) -> int:
    extended = style_options.wanted(args)
    # a plain board reads only the columns its options need; style control may need any
    args.keep_all_columns = extended
    opts = board_options(args)
    data: Battles | PairCounts = counts_from_args(args) if streamable(args) else load_from_args(args)
    if args.components:
        if extended:
            raise InputError("--components fits plain boards; it does not go with --by, --style-control, "
                             "--covariate or --reweight-pairs")
        boards = component_leaderboards(data, **opts)
        say(args, f"{int(boards.components.max())} components of the comparison graph; "
                  "ratings of different components are not comparable")
        if len(boards.skipped):
            say(args, boards.skipped_report())
        emit_table(boards.to_frame(), args)
        return 0
    if extended:
        assert isinstance(data, Battles)
        return style_options.run(args, data, opts)
    board = leaderboard(data, **opts)
    report_fit(args, board)
    emit_table(board.to_frame(), args)
    return 0
