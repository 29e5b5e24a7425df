"""Quasi-variances: standard errors that do not depend on a reference model (Firth & de Menezes 2004).

Ratings are only defined up to a constant, so "the standard error of a rating" depends on how
the constant is fixed: relative to a reference model (which then has standard error 0 and
inflates everyone else's) or with the ratings summing to a constant (which makes the errors
negatively correlated). Either way, ``se_a`` and ``se_b`` alone do not give the standard error
of ``rating_a - rating_b``; the covariance does.

*Quasi-variances* ``q_1 ... q_n`` are the numbers that best reproduce the variance of every
difference as if the estimates were independent::

    var(rating_a - rating_b)  ~  q_a + q_b        for every pair a, b.

They are found as qvcalc does (Firth 2003; Firth & de Menezes 2004): least squares on the log
scale, minimising ``sum over pairs of (log v_ab - log(q_a + q_b))^2`` where ``v_ab`` is the
variance of the difference from the covariance. The minimisation here is Gauss-Newton on the
``n x n`` normal equations, built by ``bincount`` over pairs (the Jacobian of ``log(q_a + q_b)``
has two non-zeros per row), with step halving; it starts from the linear least-squares fit of
``v_ab ~ q_a + q_b``.

They depend on the covariance only through the contrast variances ``v_ab``, so the same
quasi-variances come out of a reference-model, sum-zero or anchored parametrisation. The
approximation is usually within a few percent; :attr:`QuasiVariances.relative_errors` gives,
for every pair, ``sqrt((q_a + q_b) / v_ab) - 1`` (qvcalc's ``relerrs``), and
:meth:`QuasiVariances.worst_errors` the extremes over *all* contrasts (qvcalc's
``worstErrors``: the generalised eigenvalues of ``diag(q)`` against the covariance on the
contrasts). A quasi-variance can come out negative (rare; then its quasi standard error is NaN,
as in qvcalc).

"Quasi intervals" ``rating -/+ z * quasi_se`` can be compared pairwise as if independent: the
gap between two models is about ``z * sqrt(q_a + q_b)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from ..errors import ConvergenceError, InputError
from ..models.covariance import z_value
from ..models.results import RatingFit, Result
from .bootstrap import DEFAULT_CONFIDENCE, BootstrapResult
from .simultaneous import pair_index

__all__ = ["QuasiVariances", "quasi_variances", "quasi_from_cov", "QUASI_COLUMNS"]

#: Gauss-Newton stops when no log quasi-variance residual sum changes by more than this (relative).
QV_TOL = 1e-12
QV_MAX_ITER = 200
#: Columns of :meth:`QuasiVariances.to_frame` (after ``model``).
QUASI_COLUMNS = ["rating", "se", "quasi_se", "quasi_var", "ci_lower", "ci_upper"]


def quasi_from_cov(cov: np.ndarray) -> np.ndarray:
    """Quasi-variances of a covariance matrix (any parametrisation of the same contrasts).

    Examples
    --------
    A covariance of the form ``diag(q) + 1 a' + a 1'`` has exact quasi-variances ``q``:

    >>> q = np.array([1.0, 2.0, 3.0, 4.0])
    >>> a = np.array([0.3, -0.2, 0.5, 0.1])
    >>> cov = np.diag(q) + a[:, None] + a[None, :]
    >>> quasi_from_cov(cov).round(10).tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    cov = np.asarray(cov, dtype=np.float64)
    n = cov.shape[0]
    if cov.ndim != 2 or cov.shape != (n, n) or not np.isfinite(cov).all():
        raise InputError("quasi-variances need a finite square covariance matrix")
    if n < 3:
        raise InputError("quasi-variances need at least three models (with two, any split of the one "
                         "difference's variance fits exactly)")
    a, b = pair_index(n)
    d = np.diag(cov)
    v = d[a] + d[b] - 2 * cov[a, b]
    if not (v > 0).all():
        raise InputError("not every difference has a positive variance (a model without battles, or a "
                         "disconnected comparison graph?)")
    y = np.log(v)

    def normal(w: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``J' W J`` and ``J' W r`` for rows ``e_a + e_b`` weighted ``w``."""
        jtj = np.zeros((n, n))
        np.add.at(jtj, (a, a), w)
        np.add.at(jtj, (b, b), w)
        np.add.at(jtj, (a, b), w)
        np.add.at(jtj, (b, a), w)
        jtr = np.bincount(a, weights=w * r, minlength=n) + np.bincount(b, weights=w * r, minlength=n)
        return jtj, jtr

    # start: linear least squares v_ab ~ q_a + q_b, then lifted so that every q_a + q_b > 0
    jtj, jtr = normal(np.ones(len(a)), v)
    q = np.linalg.solve(jtj, jtr)
    if not (q[a] + q[b] > 0).all():
        q = np.full(n, float(np.median(v)) / 2)

    def loss(q: np.ndarray) -> float:
        s = q[a] + q[b]
        return float(np.sum((y - np.log(s)) ** 2)) if (s > 0).all() else np.inf

    current = loss(q)
    for _ in range(QV_MAX_ITER):
        s = q[a] + q[b]
        r = y - np.log(s)
        jac = 1.0 / s  # d log(q_a + q_b) / d q_a
        jtj, jtr = normal(jac ** 2, r / jac)
        step = np.linalg.solve(jtj, jtr)
        t = 1.0
        while t > 1e-10:
            new = loss(q + t * step)
            if new <= current:
                break
            t /= 2
        else:
            break
        q = q + t * step
        done = current - new <= QV_TOL * max(current, 1e-300)
        current = new
        if done:
            break
    else:  # pragma: no cover - Gauss-Newton on this smooth problem converges in a few steps
        raise ConvergenceError("quasi-variances did not converge")
    return q


@dataclass(frozen=True, repr=False, eq=False)
class QuasiVariances(Result):
    """Quasi-variances of the ratings and the intervals built on them (Elo scale).

    Attributes
    ----------
    models : list of str
        Best first.
    ratings : pandas.Series
    se : pandas.Series
        The ordinary standard errors (ratings summing to a constant).
    quasi_var, quasi_se : pandas.Series
        Quasi-variances (Elo points squared) and their square roots (NaN where negative).
    covariance : pandas.DataFrame
        The covariance they approximate.
    confidence : float
    settings : dict
    """

    models: list[str]
    ratings: pd.Series
    se: pd.Series
    quasi_var: pd.Series
    quasi_se: pd.Series
    covariance: pd.DataFrame
    confidence: float
    settings: dict[str, Any] = field(default_factory=dict)

    def intervals(self, confidence: float | None = None) -> tuple[pd.Series, pd.Series]:
        """``rating -/+ z * quasi_se``: intervals comparable pairwise as if independent."""
        z = z_value(self.confidence if confidence is None else confidence)
        lo = (self.ratings - z * self.quasi_se).rename("ci_lower")
        hi = (self.ratings + z * self.quasi_se).rename("ci_upper")
        return lo, hi

    @property
    def relative_errors(self) -> pd.Series:
        """``sqrt((q_a + q_b) / v_ab) - 1`` for every pair (qvcalc's ``relerrs``)."""
        n = len(self.models)
        a, b = pair_index(n)
        c = self.covariance.to_numpy()
        v = np.diag(c)[a] + np.diag(c)[b] - 2 * c[a, b]
        q = self.quasi_var.to_numpy()
        names = np.asarray(self.models, dtype=object)
        index = pd.MultiIndex.from_arrays([names[a], names[b]], names=["model_a", "model_b"])
        with np.errstate(invalid="ignore"):
            return pd.Series(np.sqrt((q[a] + q[b]) / v) - 1, index=index, name="relative_error")

    def worst_errors(self) -> tuple[float, float]:
        """The smallest and largest relative error of the quasi standard error over *all*
        contrasts ``c`` (``sqrt(c' diag(q) c / c' V c) - 1``), as qvcalc's ``worstErrors``."""
        n = len(self.models)
        basis = np.eye(n)[:, 1:] - np.eye(n)[:, [0]]  # the contrasts e_k - e_0 span them all
        v = basis.T @ self.covariance.to_numpy() @ basis
        q = basis.T @ np.diag(self.quasi_var.to_numpy()) @ basis
        vals = np.linalg.eigvals(np.linalg.solve(v, q)).real
        with np.errstate(invalid="ignore"):
            return float(np.sqrt(vals.min()) - 1), float(np.sqrt(vals.max()) - 1)

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: ``model`` and :data:`QUASI_COLUMNS`."""
        lo, hi = self.intervals()
        return pd.DataFrame({"model": self.models, "rating": self.ratings.to_numpy(), "se": self.se.to_numpy(),
                             "quasi_se": self.quasi_se.to_numpy(), "quasi_var": self.quasi_var.to_numpy(),
                             "ci_lower": lo.to_numpy(), "ci_upper": hi.to_numpy()})

    def _describe(self) -> str:
        return f"{len(self.models)} models, from {self.settings.get('source')}"

    def summary(self) -> str:
        lo, hi = self.worst_errors()
        rel = self.relative_errors
        lines = [f"Quasi standard errors of {len(self.models)} ratings (from the {self.settings.get('source')} "
                 "covariance)",
                 f"worst relative errors, simple contrasts: {100 * rel.min():.1f}% to {100 * rel.max():.1f}%; "
                 f"all contrasts: {100 * lo:.1f}% to {100 * hi:.1f}%", "-" * 64,
                 self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.2f}")]
        return "\n".join(lines)


def _covariance(source: Any, robust: bool | None) -> tuple[RatingFit, pd.DataFrame, str]:
    """The point fit and the covariance of its ratings (Elo points squared) from any source."""
    if isinstance(source, BootstrapResult):
        samples = source.samples
        return source.point, samples.cov(), "bootstrap"
    fit = getattr(source, "fit", None)
    if isinstance(fit, RatingFit):  # a Leaderboard
        boot = getattr(source, "bootstrap", None)
        if boot is not None and robust is None:
            return fit, boot.samples.cov(), "bootstrap"
        if robust is None:
            robust = source.settings.get("ci") != "fisher"
        source = fit
    if isinstance(source, RatingFit):
        robust = True if robust is None else robust
        return source, source.cov_robust if robust else source.cov, "sandwich" if robust else "fisher"
    raise InputError(f"cannot compute quasi-variances of a {type(source).__name__}; expected a Leaderboard, "
                     "a BootstrapResult or a rating fit")


def quasi_variances(source: Any, *, robust: bool | None = None, confidence: float | None = None,
                    cov: Any = None) -> QuasiVariances:
    """Quasi-variances of a board's ratings: reference-free standard errors.

    Parameters
    ----------
    source : Leaderboard, BootstrapResult or RatingFit
        A board built with the bootstrap uses the covariance of its rounds; otherwise the fit's
        sandwich covariance (``robust=True``, the default for fits) or its Fisher covariance.
    robust : bool, optional
        Choose the fit's sandwich (True) or Fisher (False) covariance even for a bootstrap board.
    confidence : float, optional
        Level of the quasi intervals (default: the board's, else 0.95).
    cov : pandas.DataFrame, optional
        A covariance of the ratings (Elo points squared, indexed by model) to use instead, e.g.
        a cluster-robust one.

    Examples
    --------
    >>> from arena_stats import fit_bradley_terry
    >>> from arena_stats.data.simulate import simulate_arena
    >>> qv = quasi_variances(fit_bradley_terry(simulate_arena(6, 3000, seed=1).battles))
    >>> bool((qv.relative_errors.abs() < 0.2).all())
    True
    """
    fit, own, name = _covariance(source, robust)
    if cov is None:
        cov = own
    else:
        if not isinstance(cov, pd.DataFrame):
            cov = pd.DataFrame(np.asarray(cov, dtype=np.float64), index=fit.models, columns=fit.models)
        name = "given"
    if confidence is None:
        confidence = float(getattr(source, "settings", {}).get("confidence", DEFAULT_CONFIDENCE))
    confidence = checks.probability("confidence", confidence)
    order = list(fit.ratings.sort_values(ascending=False, kind="stable").index)
    cov = cov.reindex(index=order, columns=order)
    if not np.isfinite(cov.to_numpy()).all():
        raise InputError("the covariance has missing values (a model without battles in some bootstrap rounds?)")
    q = quasi_from_cov(cov.to_numpy())
    idx = pd.Index(order, name="model")
    se = pd.Series(np.sqrt(np.clip(np.diag(cov.to_numpy()), 0, None)), index=idx, name="se")
    with np.errstate(invalid="ignore"):
        qse = pd.Series(np.sqrt(q), index=idx, name="quasi_se")
    return QuasiVariances(models=order, ratings=fit.ratings.reindex(order), se=se,
                          quasi_var=pd.Series(q, index=idx, name="quasi_var"), quasi_se=qse, covariance=cov,
                          confidence=confidence, settings=dict(source=name, confidence=confidence,
                                                               ties=fit.settings.get("ties")))
