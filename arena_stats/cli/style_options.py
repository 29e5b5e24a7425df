"""Leaderboard options for style control, covariates, pair re-weighting and category boards.

``arena-stats leaderboard`` adds these options and, when any is given, hands the loaded battles
to :func:`run`. The output is always **one table**, in every format:

* with ``--style-control``, ``--covariate`` or ``--reweight-pairs``: the contextual board (every
  board's columns, plus ``plain_rank``, ``plain_rating`` and ``rank_change`` = plain rank minus
  this rank, positive when a model moves up); the covariate coefficients go to stderr;
* with ``--by COLUMN``: every board stacked, tidy: a first column named ``COLUMN`` holding the
  category (``overall`` for the board on all battles), then the board's columns. Values with
  fewer than ``--min-category-battles`` battles get no board and are reported on stderr.
  ``--overview`` prints LMSYS's overview instead (model x category ranks with each rank's change
  against the overall board); ``--split`` writes one file per category next to ``--output``.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import pandas as pd

from ..boards.categories import DEFAULT_MIN_CATEGORY_BATTLES, OVERALL, category_leaderboards, rank_change
from ..boards.leaderboard import leaderboard
from ..data.battles import Battles
from ..data.reweight import DEFAULT_MIN_PAIR, reweight_pairs
from ..errors import InputError
from ..features.style import SOURCES, add_style_features
from .common import emit_table, say
from .options import report_fit

__all__ = ["add_arguments", "wanted", "run"]


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
    g.add_argument("--covariate-l2", "--style-l2", dest="covariate_l2", type=float, default=0.0, metavar="L2",
                   help="ridge penalty on the covariate coefficients (default 0); --style-l2 is the old spelling")
    g.add_argument("--reweight-pairs", nargs="?", type=float, const=float(DEFAULT_MIN_PAIR), default=None,
                   metavar="M",
                   help=f"weight each battle by 1/max(n_pair, M) so over-sampled pairs do not dominate "
                        f"(M defaults to {DEFAULT_MIN_PAIR}); intervals come from the sandwich or the bootstrap")
    g.add_argument("--by", metavar="COLUMN",
                   help="one leaderboard per value of COLUMN (language, category, turn, judge type...), "
                        "stacked in one tidy table with the overall board")
    g.add_argument("--min-category-battles", type=int, default=DEFAULT_MIN_CATEGORY_BATTLES, metavar="N",
                   help=f"skip (and report) values of --by with fewer than N battles "
                        f"(default {DEFAULT_MIN_CATEGORY_BATTLES})")
    g.add_argument("--overview", action="store_true",
                   help="with --by: print the overview of ranks (model x category, with changes against the "
                        "overall board) instead of the stacked boards")
    g.add_argument("--split", action="store_true",
                   help="with --by and --output: write one file per category (OUTPUT with the category "
                        "before the extension), the overall board to OUTPUT itself")


def wanted(args: argparse.Namespace) -> bool:
    """Whether any option of this group was given."""
    return bool(getattr(args, "style_control", False) or getattr(args, "covariate", None)
                or getattr(args, "by", None) or getattr(args, "reweight_pairs", None) is not None)


def _slug(value: str) -> str:
    """A file-name-safe form of a category value."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "category"
    return slug[:80]


def run(args: argparse.Namespace, battles: Battles, opts: dict[str, Any]) -> int:
    """Build the board (or boards) of the options in ``args`` and print one table."""
    if (args.overview or args.split) and not args.by:
        raise InputError("--overview and --split go with --by COLUMN")
    if args.split and not args.output:
        raise InputError("--split writes one file per category: give --output FILE")
    covariates = list(dict.fromkeys(args.covariate or []))
    data = battles
    if args.reweight_pairs is not None:
        data = reweight_pairs(data, m=args.reweight_pairs)
        say(args, f"weights {data.steps[-1].reason}")
    if args.style_control:
        data, cols = add_style_features(data, source=args.style_source)
        say(args, f"style control: covariates {', '.join(cols)} (source: {args.style_source})")
        covariates = cols + [c for c in covariates if c not in cols]
    board_opts = dict(opts)
    if covariates:
        board_opts.update(covariates=covariates, covariate_l2=args.covariate_l2)
    elif args.covariate_l2:
        raise InputError("--covariate-l2 penalises covariate coefficients: give --covariate or --style-control")
    overall = leaderboard(data, **board_opts)
    report_fit(args, overall)
    frame = overall.to_frame()
    if covariates:
        table = overall.fit.coef_table(opts["confidence"])
        say(args, "covariate coefficients (log-odds per unit; sandwich intervals):\n"
                  + table.to_string(float_format=lambda v: f"{v:.4f}"))
    if covariates or args.reweight_pairs is not None:
        # against the plain, unweighted board of the same battles
        frame = rank_change(frame, leaderboard(battles, **opts).to_frame())
    if not args.by:
        emit_table(frame, args)
        return 0
    boards = category_leaderboards(data, args.by, min_category_battles=args.min_category_battles,
                                   board=lambda sub: leaderboard(sub, **board_opts), overall=frame)
    say(args, boards.skipped_report())
    if args.overview:
        emit_table(boards.overview(), args)
        return 0
    if not args.split:
        emit_table(boards.to_frame(), args)
        return 0
    root, ext = os.path.splitext(args.output)
    target = args.output
    parts: dict[str, pd.DataFrame] = {OVERALL: boards.overall, **boards.boards}
    used: set[str] = set()
    for name, board in parts.items():
        path = target
        if name != OVERALL:
            slug, k = _slug(name), 1
            while slug in used:  # two values with the same safe name: never overwrite one with another
                k += 1
                slug = f"{_slug(name)}-{k}"
            used.add(slug)
            path = f"{root}.{slug}{ext}"
        args.output = path
        emit_table(board, args)
    args.output = target
    return 0
