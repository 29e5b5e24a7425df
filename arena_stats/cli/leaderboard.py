"""``arena-stats leaderboard``: battles in, a Bradley-Terry leaderboard with intervals out."""

from __future__ import annotations

import argparse
import os
import sys

from ..inference.bootstrap import DEFAULT_ROUNDS
from ..models.bradley_terry import TIES
from ..errors import InputError
from ..boards.leaderboard import CI_METHODS, leaderboard
from .common import add_filter_args, add_input_args, add_output_args, emit_table, load_from_args, say


def add_fit_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--ties", choices=TIES, default="half",
                   help="how ties enter the fit: half (a tie is half a win each way; LMSYS, default), "
                        "drop, davidson or rao-kupper (tie parameter estimated)")
    g.add_argument("--prior", type=float, default=0.0, metavar="L2",
                   help="L2 penalty on the natural-scale strengths (0 = plain MLE)")
    g.add_argument("--scale", type=float, default=400.0, help="Elo scale (default 400)")
    g.add_argument("--base", type=float, default=10.0, help="Elo base (default 10)")
    g.add_argument("--init", type=float, default=1000.0, help="mean rating (default 1000)")
    g.add_argument("--anchor", metavar="MODEL=RATING",
                   help="shift all ratings so that MODEL has RATING")


def parse_anchor(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    if "=" not in text:
        raise InputError(f"--anchor {text!r} must look like MODEL=RATING")
    name, value = text.rsplit("=", 1)
    try:
        return {name.strip(): float(value)}
    except ValueError:
        raise InputError(f"--anchor rating {value!r} is not a number") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="Bradley-Terry leaderboard with confidence intervals",
                       description="Fit a Bradley-Terry model to the battles and print a leaderboard: "
                                   "rank (LMSYS Rank (UB)), model, rating, ci_lower, ci_upper, battles, "
                                   "wins, losses, ties, win_rate, plus rank_lower, rank_upper and p_top "
                                   "with the bootstrap.")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p)
    g = p.add_argument_group("uncertainty")
    g.add_argument("--ci", choices=CI_METHODS, default="bootstrap",
                   help="interval method: bootstrap (percentile, on counts; default), sandwich "
                        "(closed form, robust), fisher (closed form), none")
    g.add_argument("--bootstrap", type=int, default=DEFAULT_ROUNDS, metavar="N",
                   help=f"bootstrap rounds (default {DEFAULT_ROUNDS})")
    g.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default 0)")
    g.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    g.add_argument("--cluster", metavar="COLUMN",
                   help="resample whole clusters of this column (voter, prompt, ...)")
    try:
        from . import style_options
    except ImportError:
        style_options = None
    if style_options is not None:
        style_options.add_arguments(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    style = getattr(args, "style_control", False) or getattr(args, "covariate", None) or \
        getattr(args, "by", None) or getattr(args, "reweight_pairs", False)
    # a plain board reads only the columns its options need; style control may need any
    args.keep_all_columns = bool(style)
    battles = load_from_args(args)
    if args.bootstrap < 1 and args.ci == "bootstrap":
        raise InputError("--bootstrap must be at least 1 (or choose --ci sandwich / fisher / none)")
    show_progress = not args.quiet and sys.stderr.isatty()
    board, fit, boot = leaderboard(
        battles, args.ties, ci=args.ci, rounds=args.bootstrap, confidence=args.confidence, seed=args.seed,
        cluster=args.cluster, l2=args.prior, scale=args.scale, base=args.base, init=args.init,
        anchor=parse_anchor(args.anchor), progress=show_progress, return_results=True)
    if fit.tie_param is not None:
        say(args, f"tie parameter {'nu' if args.ties == 'davidson' else 'eta'} = {fit.tie_param:.4f} "
                  f"(se {fit.tie_param_se:.4f})")
    if boot is not None and boot.n_degenerate:
        say(args, f"warning: {boot.n_degenerate} bootstrap rounds had no finite MLE and were fitted "
                  "with a tiny ridge")
    if style:
        from . import style_options
        frames = style_options.apply(args, battles, board)
        frames = list(frames) if isinstance(frames, (list, tuple)) else [frames]
        target = args.output
        for k, frame in enumerate(frames):
            if target and k:
                # several tables: board.csv, board.1.csv, board.2.csv ... (each written atomically)
                root, ext = os.path.splitext(target)
                args.output = f"{root}.{k}{ext}"
            emit_table(frame, args)
        args.output = target
        return 0
    emit_table(board, args)
    return 0
