"""``arena-stats update STATE NEW...``: add battles to a saved state, refit, print the board.

The state (see :mod:`arena_stats.scale.state`) holds the counts of every battle seen so far and the last
fit; new battle files are streamed into it (so they may be larger than memory), the fit restarts
from the previous ratings, and the state is rewritten atomically. ``--new`` creates the state
from the given files, with the fit settings (``--ties``, ``--l2``, ``--scale`` ...) it keeps
from then on.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from .._util.io import check_output_path
from ..boards.leaderboard import board_from_fit
from ..errors import InputError, shorten
from ..scale.state import load_state, new_state
from .common import add_input_args, add_output_args, emit_table, read_options, say
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
    g.add_argument("--allow-duplicate", action="store_true",
                   help="add a file even if the same content (SHA-256) was added before: its battles count "
                        "again (default: refused)")
    add_fit_args(p)
    # None where not given: _check_settings compares every setting the user gave, even one given
    # at its default value (--ties half on a davidson state), and nothing else
    p.set_defaults(**dict.fromkeys(_FIT_SETTINGS.values()))
    import re
    for action in p._actions:  # the help says what the default really is: the state's setting
        if action.dest in _FIT_SETTINGS.values() and action.help:
            text = re.sub(r" ?\(default[^)]*\)", "", action.help.replace(", default)", ")"))
            action.help = text + "; default: the state's setting (for --new, the package default)"
    add_interval_args(p, ci_default="sandwich", cluster=False)
    add_output_args(p)
    p.set_defaults(func=run)


#: State setting -> the option that gives it (its argparse destination and long name).
_FIT_SETTINGS = {"ties": "ties", "l2": "l2", "scale": "scale", "base": "base", "init": "init",
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
    """The board of ``arena-stats leaderboard`` from a fit on counts
    (:func:`~arena_stats.boards.leaderboard.board_from_fit`)."""
    return board_from_fit(fit, ci=ci, confidence=confidence, counts=state_counts, boot=boot).to_frame()


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    options = _read_options(args)
    intervals = interval_kwargs(args)  # checked before any file is read
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
