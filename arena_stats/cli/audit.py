"""``arena-stats audit FILE...``: is the order real? Every diagnostic of a board, with verdicts.

A thin shell over :func:`arena_stats.boards.audit.audit`: the verdicts as aligned text on
stdout, optionally every number as JSON (``--json``) and the verdicts as Markdown
(``--markdown``), both written atomically. With ``--strict`` the exit status is
:data:`EXIT_FAILED_CHECK` when a check fails, so an evaluation pipeline can stop on it.
"""

from __future__ import annotations

import argparse
import sys

from .._util.io import atomic_write
from ..boards.audit import CHECKS, VOTER_COLUMNS, audit
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from .common import add_filter_args, add_input_args, load_from_args, say
from .options import add_fit_args, add_interval_args, fit_kwargs, interval_kwargs, progress_wanted

__all__ = ["register", "run", "EXIT_FAILED_CHECK"]

#: Exit status of ``--strict`` when a check fails (2 stays the status of bad input).
EXIT_FAILED_CHECK = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="diagnostics of a leaderboard: is the order real?",
                       description="Fit the board and run its diagnostics: " + ", ".join(CHECKS) + ". Each check "
                                   "prints a verdict (pass, warn, fail, skip), its measured value and threshold "
                                   "and a one-line finding; see docs/audit.md.")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p, reference=False)
    add_interval_args(p)
    g = p.add_argument_group("audit")
    g.add_argument("--only", "--check", dest="only", action="append", choices=CHECKS, default=None, metavar="NAME",
                   help=f"run only this check (repeatable; the API's only=): {', '.join(CHECKS)}; --check is the "
                        "old spelling")
    g.add_argument("--strict", action="store_true",
                   help=f"exit with status {EXIT_FAILED_CHECK} when a check fails (for evaluation pipelines)")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="FILE", help="write every check, value, threshold and detail table as JSON")
    o.add_argument("--markdown", metavar="FILE", help="write the verdicts as a Markdown table")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bar or status lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # only the columns the checks read (timestamps, voters): a wide log loads in a fraction of the time
    args.keep_all_columns, args.extra_columns = False, ["tstamp", *VOTER_COLUMNS]
    fit = fit_kwargs(args)  # options are checked before any file is read
    intervals = interval_kwargs(args)
    battles = load_from_args(args)
    result = audit(battles, fit.pop("ties"), l2=fit["l2"], only=args.only, progress=progress_wanted(args),
                   **intervals)
    if fit["anchor"] or (fit["scale"], fit["base"], fit["init"]) != (DEFAULT_SCALE, DEFAULT_BASE, DEFAULT_INIT):
        say(args, "note: --anchor, --scale, --base and --init shift or stretch ratings; no verdict depends on them")
    sys.stdout.write(result.summary() + "\n")
    for path, text in ((args.json, result.to_json() if args.json else ""),
                       (args.markdown, result.to_markdown() if args.markdown else "")):
        if path:
            with atomic_write(path, encoding="utf-8") as fh:
                fh.write(text)
            say(args, f"wrote {path}")
    if args.strict and result.failed:
        say(args, f"failed: {', '.join(result.failed)}")
        return EXIT_FAILED_CHECK
    return 0
