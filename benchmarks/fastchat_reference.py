"""FastChat's current Bradley-Terry leaderboard computation, re-implemented for the benchmark.

FastChat (``lm-sys/FastChat``, ``fastchat/serve/monitor/rating_systems.py`` and
``elo_analysis.py``) is an application, not a library, so the benchmark carries its own copy of
the method, written from a reading of that code (not copied), step for step:

1. **Unique-outcome compression.** Each battle becomes a row ``(index of model_a, index of
   model_b, outcome)`` with outcome 2 (A wins), 1 (tie, both kinds) or 0 (B wins), models indexed
   by order of first appearance over ``model_a`` then ``model_b`` (``pd.factorize``). The distinct
   rows and how often each occurs (``np.unique(..., axis=0, return_counts=True)``) are the data;
   the label is ``outcome / 2`` (1, 0.5, 0) and the count is the row's weight. The A/B order is
   kept, so a pair has up to six rows.
2. **Fit.** The weighted logistic loss of ``sigmoid(ln(base) * (r_a - r_b))`` against the label,
   with its gradient accumulated per model by ``np.add.at``, minimised by scipy's L-BFGS-B from
   zeros with ``maxiter=100`` and ``gtol=1e-6``. Ratings are ``400 * r + 1000`` (FastChat
   additionally pins ``mixtral-8x7b-instruct-v0.1`` to 1114 when present; not relevant here).
3. **Bootstrap.** The counts of the distinct rows are redrawn from
   ``Multinomial(N, counts / N)`` for every round at once (``default_rng(0)``), divided by ``N``,
   and each round is refitted with step 2 in a ``multiprocessing.Pool`` of ``os.cpu_count()``
   workers (``imap_unordered``).

The functions mirror FastChat's: :func:`compute_bt` (the point fit) and
:func:`compute_bootstrap_bt` (the rounds).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from functools import partial

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

__all__ = ["preprocess_for_bt", "fit_bt", "compute_bt", "compute_bootstrap_bt"]

SCALE, BASE, INIT_RATING = 400.0, 10.0, 1000.0
TOL = 1e-6
MAX_ITER = 100
_SIGNS = np.array([1.0, -1.0])


def preprocess_for_bt(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Battles -> distinct (A, B, outcome) rows, their labels, the model names and the counts."""
    n = len(df)
    codes, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]))
    rows = np.ones((n, 3), dtype=np.int32)  # column 2: 2 = A wins, 1 = tie (default), 0 = B wins
    rows[:, 0] = codes[:n]
    rows[:, 1] = codes[n:]
    winner = df["winner"].to_numpy()
    rows[winner == "model_a", 2] = 2
    rows[winner == "model_b", 2] = 0
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    labels = distinct[:, 2].astype(np.float64) / 2.0
    return distinct[:, :2], labels, list(models), counts.astype(np.float64)


def _loss_and_grad(r: np.ndarray, matchups: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                   alpha: float) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood (ties as half a win) and its gradient in ``r``."""
    pair_r = r[matchups]
    p = expit(alpha * (pair_r[:, 0] - pair_r[:, 1]))
    loss = -float(((labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)) * weights).sum())
    per_row = -alpha * (labels - p) * weights
    grad = np.zeros_like(r)
    np.add.at(grad, matchups, per_row[:, None] * _SIGNS)
    return loss, grad


def fit_bt(matchups: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_models: int, alpha: float,
           tol: float = TOL) -> np.ndarray:
    """L-BFGS-B from zeros, FastChat's settings; returns ratings in units of ``scale``."""
    res = minimize(_loss_and_grad, np.zeros(n_models), args=(matchups, labels, weights, alpha), jac=True,
                   method="L-BFGS-B", options={"maxiter": MAX_ITER, "gtol": tol})
    return res.x


def _fit_round(matchups: np.ndarray, labels: np.ndarray, n_models: int, alpha: float, tol: float,
               weights: np.ndarray) -> np.ndarray:
    return fit_bt(matchups, labels, weights, n_models, alpha, tol)


def compute_bt(df: pd.DataFrame, base: float = BASE, scale: float = SCALE, init_rating: float = INIT_RATING,
               tol: float = TOL) -> pd.Series:
    """The point leaderboard: Elo-scale ratings, best first."""
    matchups, labels, models, counts = preprocess_for_bt(df)
    r = fit_bt(matchups, labels, counts, len(models), math.log(base), tol)
    return pd.Series(r * scale + init_rating, index=models).sort_values(ascending=False)


def compute_bootstrap_bt(df: pd.DataFrame, num_round: int, base: float = BASE, scale: float = SCALE,
                         init_rating: float = INIT_RATING, tol: float = TOL,
                         num_cpu: int | None = None) -> pd.DataFrame:
    """Bootstrap ratings, one row per round, columns ordered by median rating."""
    matchups, labels, models, counts = preprocess_for_bt(df)
    n = len(df)
    rng = np.random.default_rng(seed=0)
    draws = rng.multinomial(n=n, pvals=counts / counts.sum(), size=num_round)
    round_weights = draws.astype(np.float64) / n
    work = partial(_fit_round, matchups, labels, len(models), math.log(base), tol)
    with mp.Pool(num_cpu or os.cpu_count()) as pool:
        results = list(pool.imap_unordered(work, round_weights))
    table = pd.DataFrame(np.array(results) * scale + init_rating, columns=models)
    return table[table.median().sort_values(ascending=False).index]
