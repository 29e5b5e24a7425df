"""``arena-stats matrix``: observed pairwise win fractions, battle counts or predicted probabilities."""

from __future__ import annotations

import argparse

import numpy as np

from ..data.aggregate import aggregate, pairwise_matrices
from ..models.bradley_terry import fit_counts
from .common import (
    add_filter_args,
    add_input_args,
    add_output_args,
    counts_from_args,
    emit_table,
    load_from_args,
    streamable,
)
from .options import add_fit_args, add_top_arg, fit_kwargs, top_value

KINDS = ("win-fraction", "counts", "predicted")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("matrix", help="pairwise win-fraction, battle-count or predicted matrices",
                       description="Print a model x opponent matrix, rows and columns ordered by "
                                   "Bradley-Terry rating: the observed fraction of battles the row model "
                                   "won against the column model (ties count half; empty where they never "
                                   "met), the number of battles, or the fitted win probability.")
    add_input_args(p)
    add_filter_args(p)
    add_fit_args(p, reference=False)
    p.add_argument("--kind", choices=KINDS, default="win-fraction", help="which matrix (default win-fraction)")
    add_top_arg(p, "only the K best-rated models (a whole number of at least 1)")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    top = top_value(args)
    opts = fit_kwargs(args)
    args.keep_all_columns = False  # counts only: a row-level filter loads just the columns it reads
    pc = counts_from_args(args) if streamable(args) else aggregate(load_from_args(args))
    fit = fit_counts(pc, opts.pop("ties"), **opts)
    order = list(fit.ratings.sort_values(ascending=False, kind="stable").index)
    if top is not None:
        order = order[:top]
    if args.kind == "predicted":
        mat = fit.win_probability_matrix(order)
    else:
        frac, count = pairwise_matrices(pc, order)
        mat = frac if args.kind == "win-fraction" else count
    out = mat.reset_index()
    # table and markdown: fractions and probabilities with three decimals, counts as integers
    # with thousands separators like every count column (csv and json keep full precision)
    if args.kind == "counts":
        cols = [c for c in out.columns if c != "model"]
        if np.array_equal(out[cols], np.round(out[cols])):
            out[cols] = out[cols].astype(np.int64)  # whole battles as integers, like the leaderboards
        emit_table(out, args, count_columns=cols)
    else:
        emit_table(out, args, float_digits={col: 3 for col in out.columns if col != "model"})
    return 0
