"""Inverse pair-frequency weights: keep over-sampled pairs from dominating a fit.

In a live arena the sampler shows some pairs far more often than others (new models are
battled hard, popular pairs are repeated). A Bradley-Terry fit weighs every battle equally, so
the ratings are pulled toward whatever the frequent pairs say. LMArena's remedy is to weight
each battle by ``1 / max(n_pair, m)``, with ``n_pair`` the number of battles of its (unordered)
pair: every pair with at least ``m`` battles then carries the same total weight, and rarer pairs
proportionally less (so a pair seen twice does not count as much as a pair seen a thousand
times). The weights are rescaled to average 1 over the battles, which keeps log-likelihoods and
model-based standard errors on the usual scale; point estimates do not depend on that constant.
Weighted battles break the "counts are exchangeable" reasoning behind model-based standard
errors: use the sandwich (``se_robust``) or the bootstrap with reweighted fits.

Existing per-battle weights (a ``weight`` column) are multiplied, not replaced, and pair counts
respect aggregated input (``count``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..errors import InputError
from .battles import Battles, FilterStep
from .readers import as_battles

__all__ = ["DEFAULT_MIN_PAIR", "pair_weights", "reweight_pairs"]

#: Default floor ``m`` of ``1 / max(n_pair, m)``: pairs with fewer battles are down-weighted.
DEFAULT_MIN_PAIR = 50


def pair_weights(battles: Battles | pd.DataFrame, m: float = DEFAULT_MIN_PAIR,
                 normalise: bool = True) -> np.ndarray:
    """Per-row weights ``1 / max(n_pair, m)`` (times any existing weight), mean 1 per battle.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    m : float
        Floor of the pair count (``m >= 1``); ``m = 1`` weighs every pair equally.
    normalise : bool
        Rescale so that the battle-weighted mean weight is 1.

    Returns
    -------
    ndarray, one weight per row

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> b = load_battles(pd.DataFrame({"model_a": ["x", "x", "y", "x"], "model_b": ["y", "y", "x", "z"],
    ...                                "winner": ["model_a"] * 4}))
    >>> pair_weights(b, m=1, normalise=False).tolist()
    [0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 1.0]
    """
    battles = as_battles(battles)
    if not (np.isfinite(m) and m >= 1):
        raise InputError(f"the pair-count floor m must be a number >= 1, got {m!r}")
    n = battles.n_models
    a, b = battles.a.astype(np.int64), battles.b.astype(np.int64)
    key = np.minimum(a, b) * n + np.maximum(a, b)
    uniq, inv = np.unique(key, return_inverse=True)
    counts = battles.counts
    n_pair = np.bincount(inv, weights=counts, minlength=len(uniq))
    w = 1.0 / np.maximum(n_pair[inv], float(m))
    if battles.weights is not None:
        w = w * battles.weights
    if normalise:
        total = float((w * counts).sum())
        if total <= 0:
            raise InputError("every battle has zero weight")
        w = w * (counts.sum() / total)
    return w


def reweight_pairs(battles: Battles | pd.DataFrame, m: float = DEFAULT_MIN_PAIR,
                   normalise: bool = True) -> Battles:
    """The battles with ``weight`` set to :func:`pair_weights` (recorded as a step).

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> b = reweight_pairs(simulate_arena(6, 2000, seed=1).battles, m=20)
    >>> round(float(b.weights.mean()), 12), b.steps[-1].name
    (1.0, 'reweight-pairs')
    """
    battles = as_battles(battles)
    w = pair_weights(battles, m, normalise)
    frame = battles.frame.assign(weight=w)
    ratio = float(w.max() / w.min()) if len(w) else 1.0
    step = FilterStep("reweight-pairs", 0, len(frame),
                      f"weights 1/max(n_pair, {m:g}); largest / smallest weight = {ratio:.3g}")
    return replace(battles, frame=frame, steps=battles.steps + (step,))
