"""Which pairs of models are really ordered: simultaneous separation, P(A > B) and tiers.

A board makes ``n (n - 1) / 2`` pairwise claims at once ("A is above B"). A 95 % interval for
each difference is right for *one* pair chosen in advance; over the whole board some of those
claims are wrong by chance. This module answers both questions side by side:

* **Marginal.** The interval of each difference ``rating_a - rating_b`` on its own: the same
  interval as the board's ``reference=`` columns -- the percentile interval of the bootstrap
  differences, or the Wald interval ``diff -/+ z * se`` from a covariance
  (:func:`~arena_stats.models.covariance.difference_se`).
* **Simultaneous (family-wise).** Intervals that hold for *every* pair together with
  probability ``confidence``, by the max-t method (Hothorn, Bretz & Westfall 2008): with each
  pair's difference standardised by its standard error, ``t_p = (d_p - d_hat_p) / se_p``, the
  critical value ``c`` is the ``confidence`` quantile of ``max_p |t_p|``, and the interval is
  ``d_hat_p -/+ c * se_p``. From the bootstrap, ``t_p`` are the rounds' differences and ``se_p``
  their standard deviation; from a covariance (sandwich, Fisher), ``max |t|`` is drawn from the
  multivariate normal of the differences (``draws`` draws, seeded). The max-t critical value
  uses the correlations between pairs, so it is sharper than Bonferroni.

  A family-wise interval is never narrower than the marginal one: each simultaneous interval
  is the hull of the max-t interval and the pair's marginal interval (with one pair the family
  *is* that pair). In practice the max-t interval is already the wider one (``c`` is about 3.3
  for 10 models, 3.9 for 50, against 1.96); ``n_widened`` counts the pairs where the hull
  mattered (a skewed bootstrap distribution). So a pair separated simultaneously is always
  separated marginally, never the other way round.

* **P(A stronger than B).** The share of bootstrap rounds in which ``A`` rated above ``B`` (a tie
  counting half), or ``Phi(d_hat / se)`` from a covariance: the probability a flat-prior
  posterior gives to the order, *not* a p-value.

* **Tiers.** The one rank rule of the package (:mod:`~arena_stats.inference.ranks`) says
  ``rank = 1 + (number of models surely better)``; here "surely better" means *separated
  simultaneously*, and tiers are numbered from those ranks by
  :func:`~arena_stats.inference.ranks.tiers`. Models in one tier have equally many models
  surely above them: nothing at the family-wise level puts one above another. (As with the
  board's Rank (UB), neighbours in different tiers need not be separated from each other:
  a model with a narrow interval can be surely below a model that its neighbour is not.)

Everything works on the ratings' bootstrap samples or covariance, never on battles, and pairs
are processed in blocks (:data:`PAIR_BLOCK`) so that 300 models (44,850 pairs) x 1,000 rounds
stay within tens of megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .._util import checks
from ..errors import InputError
from ..models.covariance import z_value
from ..models.results import RatingFit, Result
from .bootstrap import DEFAULT_CONFIDENCE, BootstrapResult, percentile_interval
from .ranks import rank_from_pairs, tiers

__all__ = ["Separation", "separation", "pair_index", "max_t_critical_value", "PAIR_COLUMNS", "DEFAULT_DRAWS",
           "METHODS"]

#: Multivariate-normal draws for the max-t critical value from a covariance. The Monte Carlo
#: error of the 95 % quantile of ``max |t|`` is then about 0.01 (c ~ 3-4).
DEFAULT_DRAWS = 20_000
#: Pairs handled at a time (rounds x PAIR_BLOCK doubles per array: 8 MB at 1,000 rounds).
PAIR_BLOCK = 1024
#: Interval sources, as the board's ``ci``.
METHODS = ("bootstrap", "sandwich", "fisher")
#: Columns of :attr:`Separation.pairs`.
PAIR_COLUMNS = ["model_a", "model_b", "diff", "se", "ci_lower", "ci_upper", "separated", "sim_lower", "sim_upper",
                "separated_simultaneous", "p_greater"]


def pair_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of every pair ``a < b`` of ``n`` items, row by row.

    Examples
    --------
    >>> a, b = pair_index(3)
    >>> list(zip(a.tolist(), b.tolist()))
    [(0, 1), (0, 2), (1, 2)]
    """
    a, b = np.triu_indices(n, k=1)
    return a.astype(np.int64), b.astype(np.int64)


def max_t_critical_value(cov: np.ndarray, confidence: float = DEFAULT_CONFIDENCE, *, draws: int = DEFAULT_DRAWS,
                         seed: int = 0) -> float:
    """The ``confidence`` quantile of ``max over pairs |d_p| / se_p`` for ``theta ~ N(0, cov)``.

    ``d_p = theta_a - theta_b`` over every pair; ``cov`` may be singular (ratings that sum to a
    constant). Pairs with zero variance are left out.

    Examples
    --------
    Three independent estimates with equal variances: the studentized range ``q(0.95; 3, inf)``
    divided by ``sqrt(2)`` (Tukey), 2.34.

    >>> round(max_t_critical_value(np.eye(3), 0.95, draws=200_000, seed=1), 2)
    2.34
    """
    confidence = checks.probability("confidence", confidence)
    draws = checks.integer("draws", draws, 100)
    cov = np.asarray(cov, dtype=np.float64)
    n = cov.shape[0]
    a, b = pair_index(n)
    d = np.diag(cov)
    var = d[a] + d[b] - 2 * cov[a, b]
    keep = var > 1e-12 * max(float(d.max(initial=0.0)), 1e-300)
    a, b, se = a[keep], b[keep], np.sqrt(var[keep])
    if not len(a):
        return float(z_value(confidence))
    # a square root of a positive semi-definite (possibly singular) covariance
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    rng = np.random.default_rng(checks.seed(seed))
    # draws in blocks, so that draws x pairs never exceeds a few million doubles
    block = int(max(1, min(draws, 4_000_000 // max(len(a), 1))))
    maxima = np.empty(draws)
    for lo in range(0, draws, block):
        k = min(block, draws - lo)
        theta = rng.standard_normal((k, n)) @ root.T
        m = np.zeros(k)
        for p0 in range(0, len(a), PAIR_BLOCK):
            sl = slice(p0, p0 + PAIR_BLOCK)
            t = np.abs(theta[:, a[sl]] - theta[:, b[sl]]) / se[sl]
            np.maximum(m, t.max(axis=1), out=m)
        maxima[lo:lo + k] = m
    return float(np.quantile(maxima, confidence, method="higher"))


@dataclass(frozen=True, repr=False, eq=False)
class Separation(Result):
    """Marginal and simultaneous separation of every pair, P(A > B), and tiers.

    Attributes
    ----------
    pairs : pandas.DataFrame
        One row per pair, ``model_a`` rated above ``model_b`` (board order), columns
        :data:`PAIR_COLUMNS`: ``diff`` (rating a - rating b, Elo), ``se`` (its standard error),
        the marginal interval ``ci_lower, ci_upper`` and ``separated`` (the interval excludes
        0), the simultaneous interval ``sim_lower, sim_upper`` and ``separated_simultaneous``,
        and ``p_greater`` = P(a stronger than b).
    models : list of str
        Best first.
    ratings : pandas.Series
        The point ratings (Elo).
    critical_value : float
        ``c`` of the simultaneous intervals (max-t).
    method : str
        ``bootstrap``, ``sandwich`` or ``fisher``.
    confidence : float
    n_widened : int
        Pairs whose simultaneous interval was widened to contain the marginal one.
    settings : dict
    """

    pairs: pd.DataFrame
    models: list[str]
    ratings: pd.Series
    critical_value: float
    method: str
    confidence: float
    n_widened: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    def _ranks(self, column: str) -> np.ndarray:
        """``1 + number of models separated above`` (the one rank rule, pairwise)."""
        idx = {m: k for k, m in enumerate(self.models)}
        sep = self.pairs[self.pairs[column]]
        above, below = (sep[c].map(idx).to_numpy(np.int64) for c in ("model_a", "model_b"))
        return rank_from_pairs(len(self.models), above, below)[0]

    @property
    def rank(self) -> pd.Series:
        """Rank from simultaneous separation: 1 + the models separated above (family-wise)."""
        return pd.Series(self._ranks("separated_simultaneous"), index=pd.Index(self.models, name="model"),
                         name="rank_simultaneous")

    @property
    def tier(self) -> pd.Series:
        """Tier of each model (1 = top): models with the same simultaneous rank share a tier."""
        return pd.Series(tiers(self.rank.to_numpy()) + 1, index=self.rank.index, name="tier")

    def prob_greater(self) -> pd.DataFrame:
        """P(row model stronger than column model), best first; diagonal 0.5."""
        n = len(self.models)
        a, b = pair_index(n)
        m = np.full((n, n), 0.5)
        p = self.pairs["p_greater"].to_numpy()
        m[a, b] = p
        m[b, a] = 1 - p
        idx = pd.Index(self.models, name="model")
        return pd.DataFrame(m, index=idx, columns=pd.Index(self.models, name="opponent"))

    def adjacent(self) -> pd.DataFrame:
        """The pairs of neighbours on the board (1st-2nd, 2nd-3rd, ...)."""
        idx = {m: k for k, m in enumerate(self.models)}
        ka = self.pairs["model_a"].map(idx).to_numpy()
        kb = self.pairs["model_b"].map(idx).to_numpy()
        return self.pairs[kb == ka + 1].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: rating, how many models are separated above and
        below it (marginally and simultaneously), its simultaneous rank and tier."""
        n = len(self.models)
        idx = {m: k for k, m in enumerate(self.models)}
        ka = self.pairs["model_a"].map(idx).to_numpy(np.int64)
        kb = self.pairs["model_b"].map(idx).to_numpy(np.int64)
        out = {"model": self.models, "rating": self.ratings.reindex(self.models).to_numpy()}
        for col, name in (("separated", "marginal"), ("separated_simultaneous", "simultaneous")):
            s = self.pairs[col].to_numpy(bool)
            out[f"above_{name}"] = np.bincount(kb[s], minlength=n)
            out[f"below_{name}"] = np.bincount(ka[s], minlength=n)
        out["rank_simultaneous"] = self.rank.to_numpy()
        out["tier"] = self.tier.to_numpy()
        return pd.DataFrame(out)

    def _describe(self) -> str:
        return (f"{len(self.models)} models, {len(self.pairs)} pairs, {self.method}, c={self.critical_value:.3f}, "
                f"confidence={self.confidence:g}")

    def summary(self) -> str:
        p = self.pairs
        tier = self.tier
        lines = [f"Pairwise separation of {len(self.models)} models ({len(p)} pairs), {self.confidence:.0%} "
                 f"{self.method} intervals",
                 f"separated marginally: {int(p['separated'].sum())} pairs; simultaneously (max-t, "
                 f"c = {self.critical_value:.3f}): {int(p['separated_simultaneous'].sum())} pairs",
                 "-" * 72]
        for t in sorted(set(tier)):
            members = [m for m in self.models if tier[m] == t]
            lines.append(f"tier {t}: {', '.join(members[:12])}" + (f" and {len(members) - 12} more"
                                                                     if len(members) > 12 else ""))
        return "\n".join(lines)


def _source(source: Any, method: str | None, have_cov: bool = False) -> tuple[str, Any, Any]:
    """``(method, point fit, bootstrap or None)`` of a board, a bootstrap or a fit."""
    boot = None
    if isinstance(source, BootstrapResult):
        return "bootstrap", source.point, source
    fit = getattr(source, "fit", None)
    if isinstance(fit, RatingFit):  # a Leaderboard
        boot = getattr(source, "bootstrap", None)
        board_ci = source.settings.get("ci")
        if method is None:
            method = "bootstrap" if boot is not None else ("fisher" if board_ci == "fisher" else "sandwich")
        if source.settings.get("cluster") and method != "bootstrap" and not have_cov:
            raise InputError("a clustered sandwich covariance is not kept on the board: pass cov= "
                             "(cluster_robust_cov of the fit) to separation()")
        return method, fit, boot
    if isinstance(source, RatingFit):
        return method or "sandwich", source, None
    raise InputError(f"cannot compute separation from a {type(source).__name__}; expected a Leaderboard, "
                     "a BootstrapResult or a rating fit")


def separation(source: Any, *, method: str | None = None, confidence: float | None = None,
               cov: Any = None, draws: int = DEFAULT_DRAWS, seed: int = 0) -> Separation:
    """Marginal and simultaneous (max-t) separation of every pair of models.

    Parameters
    ----------
    source : Leaderboard, BootstrapResult or RatingFit
        A board built with the bootstrap uses its rounds; one built with ``ci="sandwich"`` or
        ``"fisher"`` (or a fit) uses that covariance of the ratings.
    method : {"bootstrap", "sandwich", "fisher"}, optional
        Default: what the board was built with (a fit: ``sandwich``).
    confidence : float, optional
        Default: the board's (or bootstrap's) level, else 0.95.
    cov : array-like, optional
        A covariance of the ratings (Elo points squared) to use instead, e.g. a cluster-robust
        one.
    draws, seed
        Multivariate-normal draws for the critical value from a covariance, and their seed.

    Returns
    -------
    Separation

    Examples
    --------
    >>> from arena_stats import leaderboard
    >>> from arena_stats.data.simulate import simulate_arena
    >>> board = leaderboard(simulate_arena(6, 4000, seed=3).battles, rounds=200)
    >>> sep = separation(board)
    >>> bool((sep.pairs.separated_simultaneous <= sep.pairs.separated).all())
    True
    >>> sep.critical_value > 1.96
    True
    """
    if method is not None and method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    method, fit, boot = _source(source, method, cov is not None)
    if confidence is None:
        confidence = float(getattr(boot, "confidence", None) or getattr(source, "settings", {}).get(
            "confidence", DEFAULT_CONFIDENCE))
    confidence = checks.probability("confidence", confidence)
    ratings = fit.ratings
    order = list(ratings.sort_values(ascending=False, kind="stable").index)
    pos = np.asarray([fit.models.index(m) for m in order])
    r = ratings.to_numpy()[pos]
    n = len(order)
    if n < 2:
        raise InputError("separation needs at least two models")
    a, b = pair_index(n)
    diff = r[a] - r[b]
    if cov is None and method == "bootstrap":
        if boot is None:
            raise InputError("method='bootstrap' needs a board built with ci='bootstrap' or a BootstrapResult")
        out = _from_bootstrap(boot.samples.reindex(columns=order).to_numpy(np.float64), diff, a, b, confidence)
        n_draws = 0
    else:
        if cov is None:
            cov = (fit.cov if method == "fisher" else fit.cov_robust).to_numpy()
        elif isinstance(cov, pd.DataFrame):
            cov = cov.reindex(index=fit.models, columns=fit.models).to_numpy(np.float64)
        cov = np.asarray(cov, dtype=np.float64)
        if cov.shape != (n, n) or not np.isfinite(cov).all():
            raise InputError(f"cov must be a finite {n} x {n} covariance of the ratings")
        cov = cov[np.ix_(pos, pos)]
        out = _from_cov(cov, diff, a, b, confidence, draws, seed)
        n_draws = draws
    se, lo, hi, c, p_greater = out
    # the family-wise interval: the max-t interval, widened to the marginal one where that is wider
    s_lo = np.minimum(diff - c * se, lo)
    s_hi = np.maximum(diff + c * se, hi)
    widened = int(((s_lo < diff - c * se) | (s_hi > diff + c * se)).sum())
    names = np.asarray(order, dtype=object)
    pairs = pd.DataFrame({"model_a": names[a], "model_b": names[b], "diff": diff, "se": se, "ci_lower": lo,
                          "ci_upper": hi, "separated": (lo > 0) | (hi < 0), "sim_lower": s_lo, "sim_upper": s_hi,
                          "separated_simultaneous": (s_lo > 0) | (s_hi < 0), "p_greater": p_greater})
    settings = dict(method=method, confidence=confidence, draws=n_draws, seed=seed,
                    rounds=0 if boot is None or method != "bootstrap" else len(boot.samples),
                    ties=fit.settings.get("ties"))
    return Separation(pairs=pairs, models=order, ratings=ratings.reindex(order), critical_value=float(c),
                      method=method, confidence=confidence, n_widened=widened, settings=settings)


def _from_bootstrap(samples: np.ndarray, diff: np.ndarray, a: np.ndarray, b: np.ndarray, confidence: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Standard errors, percentile intervals, max-t critical value and P(a > b) from rounds."""
    rounds = samples.shape[0]
    n_pairs = len(a)
    se, lo, hi, p_greater = (np.empty(n_pairs) for _ in range(4))
    max_t = np.zeros(rounds)
    for p0 in range(0, n_pairs, PAIR_BLOCK):
        sl = slice(p0, p0 + PAIR_BLOCK)
        d = samples[:, a[sl]] - samples[:, b[sl]]  # NaN where a model drew no battle in a round
        ok = np.isfinite(d)
        count = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            dz = np.where(ok, d, 0.0)
            mean = dz.sum(axis=0) / np.maximum(count, 1)
            sd = np.sqrt(np.where(ok, (dz - mean) ** 2, 0.0).sum(axis=0) / np.maximum(count - 1, 1))
            t = np.where(ok & (sd > 0), np.abs(dz - diff[sl]) / np.where(sd > 0, sd, 1.0), 0.0)
        np.maximum(max_t, t.max(axis=1), out=max_t)
        se[sl] = sd
        lo[sl], hi[sl] = percentile_interval(d, confidence)
        p_greater[sl] = (np.where(ok, d > 0, False).sum(axis=0) + 0.5 * np.where(ok, d == 0, False).sum(axis=0)) \
            / np.maximum(count, 1)
    c = float(np.quantile(max_t, confidence, method="higher"))
    # a pair never separated in any round (no data): its interval is everything
    nan = ~np.isfinite(lo) | ~np.isfinite(hi)
    lo[nan], hi[nan] = -np.inf, np.inf
    return se, lo, hi, c, p_greater


def _from_cov(cov: np.ndarray, diff: np.ndarray, a: np.ndarray, b: np.ndarray, confidence: float, draws: int,
              seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Standard errors, Wald intervals, max-t critical value and P(a > b) from a covariance."""
    d = np.diag(cov)
    se = np.sqrt(np.clip(d[a] + d[b] - 2 * cov[a, b], 0.0, None))
    z = z_value(confidence)
    lo, hi = diff - z * se, diff + z * se
    c = max(max_t_critical_value(cov, confidence, draws=draws, seed=seed), z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_greater = np.where(se > 0, ndtr(diff / np.where(se > 0, se, 1.0)), 0.5 + 0.5 * np.sign(diff))
    return se, lo, hi, c, p_greater
