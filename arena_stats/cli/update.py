"""``arena-stats update STATE NEW...``: add battles to a saved state, refit, print the board.

The state (see :mod:`arena_stats.scale.state`) holds the counts of every battle seen so far and the last
fit; new battle files are streamed into it (so they may be larger than memory), the fit restarts
from the previous ratings, and the state is rewritten atomically. ``--new`` creates the state
from the given files, with the fit settings (``--ties``, ``--prior``, ``--scale`` ...) it keeps
from then on.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from ..boards.leaderboard import board_from_fit
from ..errors import InputError
from ..scale.state import load_state, new_state
from .common import add_input_args, add_output_args, emit_table, parse_key_values, say
from .options import add_fit_args, add_interval_args, interval_kwargs, parse_anchor, progress_wanted


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
    add_fit_args(p)
    add_interval_args(p, ci_default="sandwich", cluster=False)
    add_output_args(p)
    p.set_defaults(func=run)


def _read_options(args: argparse.Namespace) -> dict:
    return dict(schema=args.schema, model_a_col=args.model_a_col, model_b_col=args.model_b_col,
                outcome_col=args.outcome_col, winner_col=args.winner_col, loser_col=args.loser_col,
                weight_col=args.weight_col,
                outcome_map=parse_key_values(args.outcome_map, "--outcome-map") or None)


def board(state_counts, fit, ci: str, boot=None, confidence: float = 0.95) -> pd.DataFrame:
    """The board of ``arena-stats leaderboard`` from a fit on counts (:func:`~arena_stats.boards.leaderboard.board_from_fit`)."""
    return board_from_fit(fit, ci=ci, confidence=confidence, counts=state_counts, boot=boot).to_frame()


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    options = _read_options(args)
    if args.new:
        import os
        if os.path.exists(args.state):
            raise InputError("state already exists; drop --new to update it", file=args.state)
        if not args.files:
            raise InputError("--new needs battle files to start from")
        state = new_state(*args.files, ties=args.ties, l2=args.l2, scale=args.scale, base=args.base,
                          init=args.init, anchor=parse_anchor(args.anchor), **options)
    else:
        if not args.files:
            raise InputError("no new battles: give one or more battle files after STATE")
        state = load_state(args.state)
        _check_settings(args, state.settings)
        before = state.n_battles
        state = state.append(*args.files, **options)
        say(args, f"added {state.n_battles - before:,.0f} battles to {before:,.0f}")
    intervals = interval_kwargs(args)
    state, fit = state.refit()
    result = board_from_fit(fit, ci=intervals["ci"], rounds=intervals["rounds"], confidence=intervals["confidence"],
                            seed=intervals["seed"], reference=args.reference, counts=state.counts,
                            progress=progress_wanted(args), memory=intervals["memory"])
    if not args.dry_run:
        state.save(args.state)
    say(args, f"{state.n_battles:,.0f} battles, {state.counts.n_models} models; refit in {fit.n_iter} Newton "
              f"iterations; {'saved' if not args.dry_run else 'not saved (dry run)'} {args.state} "
              f"({time.perf_counter() - start:.2f} s)")
    emit_table(result.to_frame(), args)
    return 0


def _check_settings(args: argparse.Namespace, saved: dict) -> None:
    """Fit options on an update must agree with the state's: they were fixed by --new."""
    given = {"ties": (args.ties, "half"), "l2": (args.l2, 0.0), "scale": (args.scale, 400.0),
             "base": (args.base, 10.0), "init": (args.init, 1000.0), "anchor": (parse_anchor(args.anchor), None)}
    for key, (value, default) in given.items():
        if value != default and value != saved.get(key):
            raise InputError(f"the state was created with {key}={saved.get(key)!r}; its fit settings are fixed "
                             f"(got {key}={value!r}). Start a new state with --new to change them")
