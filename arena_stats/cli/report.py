"""``arena-stats report FILE... -o board.html``: the leaderboard page, one self-contained HTML file.

A thin shell over :func:`arena_stats.report.build_report`; the page's table is the board
``arena-stats leaderboard`` prints with the same options.
"""

from __future__ import annotations

import argparse
import os

from ..boards.audit import VOTER_COLUMNS
from ..errors import InputError
from .common import add_filter_args, add_input_args, load_from_args, say
from .options import add_fit_args, add_interval_args, fit_kwargs, interval_kwargs, progress_wanted

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="a leaderboard page to publish (one self-contained HTML file)",
                       description="Fit the board, audit it and write one HTML page that opens offline: the "
                                   "sortable leaderboard (+x / -y intervals, votes, tiers), the audit verdicts, the "
                                   "forest plot, the win-fraction, battle-count, predicted and P(A > B) matrices, "
                                   "close pairs with the battles that would separate them, ratings over time (with "
                                   "timestamps) and category boards (--by).")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p, reference=False)
    add_interval_args(p)
    g = p.add_argument_group("page")
    g.add_argument("--title", default="Leaderboard", help="the page's heading (default: Leaderboard)")
    g.add_argument("--by", metavar="COLUMN", help="add one board per value of COLUMN (language, category ...)")
    o = p.add_argument_group("output")
    o.add_argument("--output", "-o", required=True, metavar="FILE", help="the HTML file to write (atomically)")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bar or status lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report
    if os.path.splitext(args.output)[1].lower() not in (".html", ".htm"):
        raise InputError(f"the report is an HTML page: give an output file ending in .html, not {args.output[:200]!r}")
    # only the columns the checks read (timestamps, voters, --by): a wide log loads in a fraction of the time
    args.keep_all_columns, args.extra_columns = False, ["tstamp", *VOTER_COLUMNS, *([args.by] if args.by else [])]
    opts = fit_kwargs(args)  # checked before any file is read
    intervals = interval_kwargs(args)
    battles = load_from_args(args)
    page = build_report(battles, opts.pop("ties"), title=args.title, by=args.by, progress=progress_wanted(args),
                        **opts, **intervals)
    page.save(args.output)
    flagged = ", ".join(f"{c.name} {c.verdict}" for c in page.audit.checks if c.verdict != "pass")
    say(args, f"wrote {args.output} ({len(page.html.encode()) / 1024:,.0f} KiB); audit: "
              + (flagged or "every check passes"))
    return 0
