"""Leaderboard options for style control, covariates, pair reweighting and category boards.

``arena-stats leaderboard`` calls :func:`add_arguments` on its parser and, when any of these
options is given, :func:`apply` with the loaded battles and the plain board. The frames it
returns are printed in order:

* with ``--style-control``, ``--covariate`` or ``--reweight-pairs``: the contextual board (the
  core's columns, plus ``plain_rank``, ``plain_rating`` and ``rank_change`` = plain rank minus
  this rank, positive when a model moves up); the covariate coefficients go to stderr;
* with ``--by COLUMN``: all category boards stacked (first column: the category), then the
  overview of ranks, model x category, with each rank's change against the overall board.
  Values with fewer than ``--min-category-battles`` battles are skipped and reported.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

from ..data.battles import Battles
from ..boards.categories import DEFAULT_MIN_CATEGORY_BATTLES, category_leaderboards, rank_change
from ..errors import InputError
from ..boards.leaderboard import leaderboard
from ..data.reweight import DEFAULT_MIN_PAIR, reweight_pairs
from ..features.style import SOURCES, add_style_features
from .common import say

# ..contextual is imported in apply(), only when a contextual board is asked for: every
# `arena-stats leaderboard` registers these options, and that module takes ~20 ms to import.

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--style-control``, ``--covariate``, ``--by``, ``--reweight-pairs`` and friends."""
    g = parser.add_argument_group("style control, covariates and categories")
    g.add_argument("--style-control", action="store_true",
                   help="control for answer length and markdown (headers, lists, bold) as LMSYS does: "
                        "each is (a - b) / (a + b + 1), standardised, as a covariate of the fit; the board "
                        "shows each model's rank change against the plain board")
    g.add_argument("--style-source", choices=SOURCES, default="auto",
                   help="where the style counts come from: FastChat conv_metadata, response_a/response_b "
                        "texts or conversation_a/conversation_b messages (default: the first present)")
    g.add_argument("--covariate", action="append", default=[], metavar="COL",
                   help="numeric column used as a battle-level covariate, meaning 'A minus B' (e.g. home "
                        "advantage +1/-1/0); repeatable")
    g.add_argument("--style-l2", type=float, default=0.0, metavar="L2",
                   help="ridge penalty on the covariate coefficients (default 0)")
    g.add_argument("--reweight-pairs", nargs="?", type=float, const=float(DEFAULT_MIN_PAIR), default=None,
                   metavar="M",
                   help=f"weight each battle by 1/max(n_pair, M) so over-sampled pairs do not dominate "
                        f"(M defaults to {DEFAULT_MIN_PAIR}); intervals come from the sandwich or the bootstrap")
    g.add_argument("--by", metavar="COLUMN",
                   help="also fit one leaderboard per value of COLUMN (language, category, turn, judge "
                        "type...) and print the overview of ranks with changes against the overall board")
    g.add_argument("--min-category-battles", type=int, default=DEFAULT_MIN_CATEGORY_BATTLES, metavar="N",
                   help=f"skip (and report) values of --by with fewer than N battles "
                        f"(default {DEFAULT_MIN_CATEGORY_BATTLES})")


def _anchor(args: argparse.Namespace) -> dict[str, float] | None:
    from .leaderboard import parse_anchor
    return parse_anchor(getattr(args, "anchor", None))


def _fit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return dict(ci=args.ci, rounds=args.bootstrap, seed=args.seed, confidence=args.confidence,
                cluster=args.cluster, scale=args.scale, base=args.base, init=args.init, anchor=_anchor(args),
                progress=not args.quiet and sys.stderr.isatty())


def apply(args: argparse.Namespace, battles: Battles, board: pd.DataFrame) -> list[pd.DataFrame]:
    """Run the options in ``args`` on ``battles``; ``board`` is the plain leaderboard.

    Returns the frames to print, in order (see the module docstring).
    """
    frames: list[pd.DataFrame] = []
    covariates = list(dict.fromkeys(args.covariate or []))
    data = battles
    if args.reweight_pairs is not None:
        data = reweight_pairs(data, m=args.reweight_pairs)
        say(args, f"weights {data.steps[-1].reason}")
    if args.style_control:
        data, cols = add_style_features(data, source=args.style_source)
        say(args, f"style control: covariates {', '.join(cols)} (source: {args.style_source})")
        covariates = cols + [c for c in covariates if c not in cols]
    contextual = bool(covariates) or args.reweight_pairs is not None
    kwargs = _fit_kwargs(args)
    if contextual and getattr(args, "prior", 0.0):
        say(args, "note: --prior (L2 on the strengths) applies to the plain board only; "
                  "--style-l2 penalises the covariate coefficients")
    overall = board
    if contextual:
        from ..models.contextual import contextual_leaderboard
        if args.ci == "bootstrap" and args.bootstrap < 1:
            raise InputError("--bootstrap must be at least 1")
        controlled, res = contextual_leaderboard(data, covariates, args.ties, l2=args.style_l2, **kwargs)
        point = getattr(res, "point", res)
        if getattr(res, "n_degenerate", 0):
            say(args, f"warning: {res.n_degenerate} bootstrap rounds had no finite MLE (a model never won or "
                      "never lost in the resample); their ratings are large but finite")
        if len(point.beta):
            table = point.coef_table(args.confidence)
            say(args, "covariate coefficients (log-odds per unit; sandwich intervals):\n"
                      + table.to_string(float_format=lambda v: f"{v:.4f}"))
        overall = rank_change(controlled, board)
        frames.append(overall)
    if args.by:
        if contextual:
            def fit_board(sub: Battles) -> pd.DataFrame:
                return contextual_leaderboard(sub, covariates, args.ties, l2=args.style_l2, **kwargs)[0]
        else:
            def fit_board(sub: Battles) -> pd.DataFrame:
                return leaderboard(sub, args.ties, l2=getattr(args, "prior", 0.0), **kwargs)
        boards = category_leaderboards(data, args.by, min_battles=args.min_category_battles, board=fit_board,
                                       overall=overall)
        say(args, boards.skipped_report())
        frames.append(boards.to_frame())
        frames.append(boards.overview())
    return frames
