"""``arena-stats update STATE NEW...``: add battles to a saved state, refit, print the board.

The state (see :mod:`arena_stats.scale.state`) holds the counts of every battle seen so far and the last
fit; new battle files are streamed into it (so they may be larger than memory), the fit restarts
from the previous ratings, and the state is rewritten atomically. ``--new`` creates the state
from the given files, with the fit settings (``--ties``, ``--prior``, ``--scale`` ...) it keeps
from then on.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..data.aggregate import model_totals
from ..errors import InputError, shorten
from ..boards.leaderboard import rank_ub
from ..scale.state import load_state, new_state
from .._util.io import check_output_path
from .common import add_input_args, add_output_args, emit_table, read_options, say
from .leaderboard import add_fit_args, parse_anchor

CI_CHOICES = ("sandwich", "fisher", "bootstrap", "none")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("update", help="append battles to a saved state and refit (incremental)",
                       description="Append new battles to a saved state of sufficient statistics, refit "
                                   "the Bradley-Terry model warm-started from the previous ratings, save "
                                   "the state and print the leaderboard. The result equals a fit on all "
                                   "battles from scratch.")
    p.add_argument("state", metavar="STATE", help="the state file (.npz); created by --new")
    add_input_args(p, example=False)
    g = p.add_argument_group("state")
    g.add_argument("--new", action="store_true",
                   help="create STATE from FILE... (refuses to overwrite an existing one)")
    g.add_argument("--dry-run", action="store_true", help="refit and print, but do not save STATE")
    g.add_argument("--allow-duplicate", action="store_true",
                   help="add a file even if the same content (SHA-256) was added before: its battles count "
                        "again (default: refused)")
    add_fit_args(p)
    # None where not given: _check_settings compares every setting the user gave, even one given
    # at its default value (--ties half on a davidson state), and nothing else
    p.set_defaults(**dict.fromkeys(_FIT_SETTINGS.values()))
    g = p.add_argument_group("uncertainty")
    g.add_argument("--ci", choices=CI_CHOICES, default="sandwich",
                   help="interval method: sandwich (robust, closed form; default), fisher, bootstrap "
                        "(percentile, on counts), none")
    g.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="rounds for --ci bootstrap")
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    g.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    add_output_args(p)
    p.set_defaults(func=run)


#: State setting -> the option that gives it (``--prior`` is the L2 penalty).
_FIT_SETTINGS = {"ties": "ties", "l2": "prior", "scale": "scale", "base": "base", "init": "init",
                 "anchor": "anchor"}


def _read_options(args: argparse.Namespace) -> dict:
    """The reader options of the input arguments: the same as every other command's."""
    return read_options(args)


def _given_settings(args: argparse.Namespace) -> dict:
    """The fit settings the user gave on this command line (None means not given)."""
    given = {key: getattr(args, option) for key, option in _FIT_SETTINGS.items()
             if getattr(args, option, None) is not None}
    if "anchor" in given:
        given["anchor"] = parse_anchor(given["anchor"])
    for key in ("l2", "scale", "base", "init"):
        if key in given:
            given[key] = float(given[key])
    return given


def board(state_counts, fit, ci: str, boot=None, confidence: float = 0.95) -> pd.DataFrame:
    """The leaderboard columns of ``arena-stats leaderboard`` from a fit on counts."""
    totals = model_totals(state_counts)
    frame = pd.DataFrame({"model": fit.models, "rating": fit.ratings.to_numpy()})
    if ci in ("sandwich", "fisher"):
        se = (fit.se_robust if ci == "sandwich" else fit.se).to_numpy()
        z = ndtri(0.5 + confidence / 2)
        frame["ci_lower"], frame["ci_upper"] = frame["rating"] - z * se, frame["rating"] + z * se
    elif ci == "bootstrap":
        frame["ci_lower"], frame["ci_upper"] = boot.ci_lower.to_numpy(), boot.ci_upper.to_numpy()
    frame = frame.join(totals.reset_index(drop=True)[["battles", "wins", "losses", "ties", "win_rate"]])
    frame = frame.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)
    if "ci_lower" in frame:
        frame.insert(0, "rank", rank_ub(frame["ci_lower"].to_numpy(), frame["ci_upper"].to_numpy()))
    else:
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    options = _read_options(args)
    # outputs are checked before any file is read: a typo fails at once, and the state is never
    # saved by a run whose table cannot be written
    if not args.dry_run:
        check_output_path(args.state)
    if getattr(args, "output", None):
        check_output_path(args.output)
    if args.new:
        import os
        if os.path.exists(args.state):
            raise InputError("state already exists; drop --new to update it", file=args.state)
        if not args.files:
            raise InputError("--new needs battle files to start from")
        state = new_state(*args.files, allow_duplicate=args.allow_duplicate, **_given_settings(args), **options)
    else:
        if not args.files:
            raise InputError("no new battles: give one or more battle files after STATE")
        state = load_state(args.state)
        _check_settings(args, state.settings)
        before = state.n_battles
        state = state.append(*args.files, allow_duplicate=args.allow_duplicate, **options)
        say(args, f"added {state.n_battles - before:,.0f} battles to {before:,.0f}")
    for line in state.history[-1].get("filters", []):
        say(args, f"filter {line}")
    state, fit = state.refit()
    boot = None
    if args.ci == "bootstrap":
        from ..inference.bootstrap import bootstrap
        if args.bootstrap < 1:
            raise InputError("--bootstrap must be at least 1")
        boot = bootstrap(state.counts, rounds=args.bootstrap, seed=args.seed, confidence=args.confidence,
                         point=fit, progress=not args.quiet and sys.stderr.isatty(), **_fit_kwargs(state))
    if not args.dry_run:
        state.save(args.state)
    say(args, f"{state.n_battles:,.0f} battles, {state.counts.n_models} models; refit in {fit.n_iter} Newton "
              f"iterations; {'saved' if not args.dry_run else 'not saved (dry run)'} {args.state} "
              f"({time.perf_counter() - start:.2f} s)")
    emit_table(board(state.counts, fit, args.ci, boot, args.confidence), args)
    return 0


def _check_settings(args: argparse.Namespace, saved: dict) -> None:
    """Every fit option given on an update must agree with the state's: they were fixed by --new.

    "Given" is what the user typed (the options default to None here), so ``--ties half`` on a
    state created with ``--ties davidson`` is refused although ``half`` is the default.
    """
    for key, value in _given_settings(args).items():
        have = saved.get(key)
        if key in ("l2", "scale", "base", "init") and have is not None:
            have = float(have)
        if value != have:
            option = "--" + _FIT_SETTINGS[key]
            raise InputError(f"the state was created with {key}={shorten(have)}; its fit settings are fixed "
                             f"(got {option} {shorten(value)}). Start a new state with --new to change them")


def _fit_kwargs(state) -> dict:
    s = state.settings
    return {"ties": s.get("ties", "half"), "l2": s.get("l2", 0.0), "scale": s.get("scale", 400.0),
            "base": s.get("base", 10.0), "init": s.get("init", 1000.0), "anchor": s.get("anchor")}
