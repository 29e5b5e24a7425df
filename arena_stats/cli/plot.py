"""``arena-stats plot KIND FILE... -o out.png|.svg|.pdf``: every plot of :mod:`arena_stats.plots`.

The plots take the board's options (``--ties``, ``--l2``, ``--scale``, ``--base``, ``--init``,
``--anchor``, ``--ci``, ``--rounds``, ``--seed``, ``--confidence``, ``--cluster``), so a
forest plot draws exactly the board ``arena-stats leaderboard`` prints with the same options.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._util.io import atomic_write
from ..errors import InputError
from ..plots import PLOT_KINDS, STYLES
from .common import add_filter_args, add_input_args, load_from_args, say
from .options import (
    add_fit_args,
    add_interval_args,
    add_top_arg,
    fit_kwargs,
    interval_kwargs,
    progress_wanted,
    top_value,
)

IMAGE_FORMATS = ("png", "svg", "pdf")
KIND_HELP = {
    "leaderboard": "ratings with intervals, sorted, shaded by the board's rank (forest plot)",
    "win-fraction": "observed win fraction per pair, ordered by rating",
    "battle-counts": "battles per pair, ordered by rating",
    "win-probability": "predicted P(A beats B) from the Bradley-Terry fit",
    "calibration": "observed vs predicted win fraction per pair",
    "over-time": "ratings over time with interval bands (--freq, --method)",
    "bootstrap-ratings": "bootstrap distribution of each rating (box or --violin)",
    "bootstrap-ranks": "bootstrap distribution of each rank (box or --violin)",
}


def register(sub: argparse._SubParsersAction) -> None:
    kinds = "; ".join(f"{k}: {v}" for k, v in KIND_HELP.items())
    p = sub.add_parser("plot", help="draw a rating plot to PNG, SVG or PDF",
                       description=f"Draw one plot of the battles. Kinds -- {kinds}.")
    p.add_argument("kind", choices=list(PLOT_KINDS), metavar="KIND", help=f"one of: {', '.join(PLOT_KINDS)}")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p, reference=False)
    add_interval_args(p)
    g = p.add_argument_group("plot")
    add_top_arg(g, "show only the best K models (over-time: K lines, default 10)")
    g.add_argument("--models", action="append", default=[], metavar="MODEL",
                   help="over-time: draw these models (repeatable) instead of the top K")
    g.add_argument("--style", choices=STYLES, default="default", help="'paper' for print (serif, small, 300 dpi)")
    g.add_argument("--dpi", type=int, default=None, help="PNG resolution (default 150, paper 300)")
    g.add_argument("--elo", action="store_true",
                   help="leaderboard/bootstrap kinds: online Elo with the LMSYS bootstrap instead of BT")
    g.add_argument("--violin", action="store_true", help="bootstrap kinds: violins instead of boxes")
    g.add_argument("--freq", default="W", help="over-time: D, W, M, Q or Y (default W)")
    g.add_argument("--method", choices=("bt", "elo"), default="bt", help="over-time: bt or elo (default bt)")
    g.add_argument("--window", type=int, default=None, metavar="PERIODS",
                   help="over-time: ratings from the last PERIODS periods only (default: cumulative)")
    o = p.add_argument_group("output")
    o.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="image file; the format follows the extension: .png, .svg or .pdf")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bar or status lines")
    p.set_defaults(func=run)


def _image_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in IMAGE_FORMATS:
        raise InputError(f"cannot tell the image format from {path[:200]!r}; use a .png, .svg or .pdf file name")
    return ext


def make_figure(kind: str, battles: Any, args: argparse.Namespace) -> Any:
    """Build the figure of ``kind`` for the (filtered) battles, with the board's options."""
    from .. import plots
    from ..boards.leaderboard import leaderboard
    from ..models.bradley_terry import fit_bradley_terry
    fit_opts = fit_kwargs(args)
    intervals = interval_kwargs(args)
    top = top_value(args)
    common = dict(top=top, style=args.style)
    if kind in ("win-fraction", "battle-counts", "win-probability", "calibration"):
        fit = fit_bradley_terry(battles, **fit_opts)
        if kind in ("win-fraction", "battle-counts"):
            observed = plots.plot_win_fraction if kind == "win-fraction" else plots.plot_battle_counts
            return observed(battles, ratings=fit, **common)
        predicted = plots.plot_win_probability if kind == "win-probability" else plots.plot_calibration
        return predicted(fit, **common)
    if kind == "over-time":
        from ..boards.over_time import ratings_over_time
        if fit_opts["anchor"]:
            raise InputError("--anchor is not available for ratings over time: the anchor model may not exist "
                             "at early dates (ratings are centred on --init at each date)")
        rot = ratings_over_time(battles, args.freq, method=args.method, window=args.window, ties=fit_opts["ties"],
                                l2=fit_opts["l2"], confidence=intervals["confidence"], scale=fit_opts["scale"],
                                base=fit_opts["base"], init=fit_opts["init"], progress=progress_wanted(args))
        return plots.plot_ratings_over_time(rot, models=args.models or None,
                                            top=top or plots.DEFAULT_TOP_LINES, style=args.style)
    bootstrap_kind = kind.startswith("bootstrap")
    if args.elo:
        from ..online.elo import elo_bootstrap
        if fit_opts["anchor"]:
            raise InputError("--anchor applies to Bradley-Terry boards, not to online Elo")
        result: Any = elo_bootstrap(battles, intervals["rounds"] if intervals["ci"] == "bootstrap" else 1000,
                                    seed=intervals["seed"], scale=fit_opts["scale"], base=fit_opts["base"],
                                    init=fit_opts["init"], confidence=intervals["confidence"],
                                    progress=progress_wanted(args))
    else:
        if bootstrap_kind and intervals["ci"] != "bootstrap":
            raise InputError(f"the {kind} plot draws the bootstrap distribution: use --ci bootstrap (the default)")
        result = leaderboard(battles, **fit_opts, **intervals, progress=progress_wanted(args))  # same board
    if kind == "leaderboard":
        return plots.plot_leaderboard(result, **common)
    return plots.plot_bootstrap(result, what="ratings" if kind == "bootstrap-ratings" else "ranks",
                                kind="violin" if args.violin else "box", **common)


def run(args: argparse.Namespace) -> int:
    fmt = _image_format(args.output)
    # the battles, plus the timestamps the over-time figure orders by
    args.keep_all_columns, args.extra_columns = False, ["tstamp"]
    battles = load_from_args(args)
    fig = make_figure(args.kind, battles, args)
    dpi = args.dpi or (300 if args.style == "paper" else 150)
    with atomic_write(args.output, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=dpi)
    say(args, f"wrote {args.output}")
    return 0
