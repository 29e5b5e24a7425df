"""``arena-stats next-pairs FILE --budget N``: which pairs to sample next, and what they buy.

A thin shell over :func:`arena_stats.inference.planning.next_pairs`: fits the board's plain
Bradley-Terry model and prints the planned pairs (``model_a, model_b, battles,
current_battles, p_a``), most battles first; the target before and after the plan goes to
stderr.
"""

from __future__ import annotations

import argparse

from ..inference.planning import POLICIES, TARGETS, battles_needed, next_pairs
from ..models.bradley_terry import fit_bradley_terry
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
from .options import add_fit_args, add_top_arg, fit_kwargs, top_value

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("next-pairs", aliases=["next_pairs"], help="plan the next battles (active sampling)",
                       description="Plan where the next --budget battles should go so that the chosen target "
                                   "shrinks fastest: the widest rating interval (board), the order of the --top "
                                   "best models (top), or the interval of one difference (--pair A B). Prints the "
                                   "pairs with their planned battles; the target before and after goes to stderr.")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p, reference=False)
    g = p.add_argument_group("plan")
    g.add_argument("--budget", type=float, metavar="N",
                   help="battles to plan (required unless --width or --separate asks how many are needed)")
    g.add_argument("--target", choices=TARGETS, default=None,
                   help="board (default), top (with --top K, default 5) or pair (with --pair)")
    add_top_arg(g, "target 'top': the K best models (default 5)")
    g.add_argument("--pair", nargs=2, metavar=("MODEL_A", "MODEL_B"), help="target one pair's difference")
    g.add_argument("--policy", choices=POLICIES, default="active",
                   help="active (default), or the expected effect of uniform / current-frequency sampling")
    g.add_argument("--confidence", type=float, default=0.95, help="level of the intervals measured (default 0.95)")
    g.add_argument("--width", type=float, metavar="ELO",
                   help="instead of a plan: the battles each policy needs until the widest rating interval (or, "
                        "with --pair, the pair's interval of the difference) is ELO wide")
    g.add_argument("--separate", action="store_true",
                   help="with --pair, instead of a plan: the direct battles until the pair's interval excludes 0 "
                        "with probability 0.8")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._util import checks
    planning = args.width is None and not args.separate
    if planning and args.budget is None:
        from ..errors import InputError
        raise InputError("give --budget N (the battles to plan), or --width / --separate to ask how many are needed")
    budget = checks.integer("budget", args.budget, 1) if planning else 0
    target = args.target or ("pair" if args.pair else ("top" if args.top is not None else "board"))
    args.keep_all_columns = False  # the plan needs counts only: stream them when no filter needs rows
    options = fit_kwargs(args)  # checked before any file is read
    battles = counts_from_args(args) if streamable(args) else load_from_args(args)
    fit = fit_bradley_terry(battles, **options)
    confidence = checks.probability("confidence", args.confidence)
    if args.width is not None or args.separate:
        return _needed(args, fit, confidence)
    plan = next_pairs(fit, budget, target=target, top=top_value(args), pair=args.pair, policy=args.policy,
                      confidence=confidence)
    what = {"board": "widest rating interval (Elo)", "top": f"expected misordered pairs of the top "
            f"{plan.settings.get('top') or 5}", "pair": f"interval of {args.pair[0]} - {args.pair[1]} (Elo)"
            if args.pair else ""}[target]
    say(args, f"{args.policy} plan of {budget:,} battles: {what} {plan.before:.2f} -> {plan.after:.2f}")
    emit_table(plan.pairs, args, float_digits={"p_a": 3})
    return 0


def _needed(args: argparse.Namespace, fit: object, confidence: float) -> int:
    """``--width`` / ``--separate``: battles needed, one row per policy (direct battles for a pair)."""
    import pandas as pd

    from ..errors import InputError
    if args.separate and not args.pair:
        raise InputError("--separate needs --pair MODEL_A MODEL_B")
    if args.pair:
        need = battles_needed(fit, pair=args.pair, width=args.width, separate=args.separate, confidence=confidence)
        what = "separate" if args.separate else f"interval {args.width:g} Elo wide"
        rows = [{"target": f"{args.pair[0]} - {args.pair[1]}: {what}", "policy": "direct", "battles": need}]
    else:
        rows = [{"target": f"widest interval {args.width:g} Elo wide", "policy": policy,
                 "battles": battles_needed(fit, width=args.width, policy=policy, confidence=confidence)}
                for policy in POLICIES]
    frame = pd.DataFrame(rows)
    frame["battles"] = frame["battles"].map(lambda v: float("nan") if v == float("inf") else float(round(v)))
    emit_table(frame, args)
    return 0
