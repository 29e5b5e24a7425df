"""``arena-stats elo``: online Elo (optionally bootstrapped, LMSYS style) or Glicko-2 leaderboards."""

from __future__ import annotations

import argparse

from .._util import checks
from ..errors import InputError
from ..online.elo import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_K, DEFAULT_SCALE, compute_elo, elo_bootstrap
from ..online.glicko import DEFAULT_RATING, DEFAULT_TAU, PERIODS, glicko2
from .common import add_filter_args, add_input_args, add_output_args, emit_table, load_from_args, say
from .options import progress_wanted


def _period(text: str) -> str | int:
    if text in PERIODS:
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected {', '.join(PERIODS)} or a positive number of battles, "
                                         f"got {text[:40]!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("elo", help="online Elo (or Glicko-2) leaderboard",
                       description="Online Elo in time order (tstamp, else file order), ties as half, "
                                   "FastChat's defaults k=4, scale=400, base=10, init=1000. With --rounds N, "
                                   "LMSYS's bootstrap: N resamples in random order, median rating and "
                                   "percentile interval. With --glicko, Glicko-2 ratings with deviations "
                                   "(init 1500 unless given; --scale and --base set the reported scale).")
    add_input_args(p)
    add_filter_args(p)
    g = p.add_argument_group("rating system")
    g.add_argument("--k", type=float, default=DEFAULT_K, help=f"Elo step size (default {DEFAULT_K:g})")
    g.add_argument("--scale", type=float, default=DEFAULT_SCALE, help=f"Elo scale (default {DEFAULT_SCALE:g})")
    g.add_argument("--base", type=float, default=DEFAULT_BASE, help=f"Elo base (default {DEFAULT_BASE:g})")
    g.add_argument("--init", type=float, default=None,
                   help=f"starting rating (default {DEFAULT_INIT:g}; Glicko-2: {DEFAULT_RATING:g})")
    g.add_argument("--rounds", "--bootstrap", dest="rounds", type=float, default=0, metavar="N",
                   help="bootstrap rounds (LMSYS used 1000; default 0: one pass, no intervals); "
                        "--bootstrap is the old spelling")
    g.add_argument("--seed", default="0", help="random seed of the bootstrap (default 0)")
    g.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    g.add_argument("--glicko", action="store_true", help="Glicko-2 instead of Elo (rating, RD, volatility)")
    g.add_argument("--period", type=_period, default=None, metavar="PERIOD",
                   help="Glicko-2 rating period: day, week, month or a number of battles "
                        "(default: week with timestamps, else 1000 battles)")
    g.add_argument("--tau", type=float, default=DEFAULT_TAU, help=f"Glicko-2 tau (default {DEFAULT_TAU:g})")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rounds = checks.integer("rounds", args.rounds, 0, checks.MAX_ROUNDS)
    confidence = checks.probability("confidence", args.confidence)
    seed = checks.seed(args.seed)
    from ..models.elo_scale import EloScale
    EloScale(args.scale, args.base, 0.0 if args.init is None else args.init)  # checked before reading
    # the battles, plus the timestamps that order the online updates
    args.keep_all_columns, args.extra_columns = False, ["tstamp"]
    battles = load_from_args(args)
    if args.glicko:
        if rounds:
            raise InputError("--rounds applies to Elo; Glicko-2 gives its own deviations")
        res = glicko2(battles, args.period, tau=args.tau, confidence=confidence, scale=args.scale, base=args.base,
                      init=DEFAULT_RATING if args.init is None else args.init)
        say(args, f"Glicko-2: {res.n_periods} rating periods ({res.period})")
        emit_table(res.to_frame(), args)
        return 0
    init = DEFAULT_INIT if args.init is None else args.init
    if rounds:
        boot = elo_bootstrap(battles, rounds, seed=seed, k=args.k, scale=args.scale, base=args.base,
                             init=init, confidence=confidence, progress=progress_wanted(args))
        say(args, f"online Elo bootstrap: {boot.rounds} rounds, {boot.point.order} order, backend {boot.backend}")
        emit_table(boot.to_frame(), args)
        return 0
    one = compute_elo(battles, args.k, args.scale, args.base, init)
    say(args, f"online Elo over {one.n_battles:,} battles in {one.order} order (backend {one.backend})")
    emit_table(one.to_frame(), args)
    return 0
