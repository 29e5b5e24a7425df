"""A both-bad outcome model: ``tie (bothbad)`` as its own verdict, likelier when both are weak.

Chatbot Arena voters choose between four verdicts; every rating model elsewhere in this package
folds ``tie (bothbad)`` into ``tie``. Here it is modelled. For a battle of ``a`` against ``b``
with linear predictor ``eta = theta_a - theta_b + x . beta`` (strengths ``theta`` on the natural
log scale, sum zero; covariates as in :mod:`~arena_stats.models.contextual`) and strength mean
``s = (theta_a + theta_b) / 2``::

    P(a wins) : P(b wins) : P(tie) : P(both bad)
        = e^{eta/2} : e^{-eta/2} : nu : exp(delta - gamma * s)

This is Davidson's tie model with a second tie category whose weight depends on the pair's
*mean* strength instead of on the difference. ``nu`` sets the rate of ordinary ties, ``delta``
the both-bad rate for an average pair (``s = 0``), and ``gamma`` how fast it grows as the pair
gets weaker: each natural-log unit of mean strength lost multiplies the both-bad odds against a
win by ``e^gamma``. Because the strengths sum to zero, ``s = 0`` is the average model, so
``delta`` is identified. The model is fitted by maximum likelihood on the engine of
:mod:`~arena_stats.models.contextual` (exact Newton on ``theta, beta, log nu, delta, gamma``), with
model-based and sandwich standard errors.

Likelihood-ratio test. With ``gamma = 0`` the both-bad share of all ties is a constant
``pi = e^delta / (nu + e^delta)``, and the model factorises into a Davidson fit on the merged
ties (tie parameter ``nu + e^delta``) times a binomial split of the ties with
``pi`` = the observed both-bad share. That is "treat both-bad as a plain tie" made into a
four-outcome model; it is nested in the both-bad model, so ``2 (l_1 - l_0)`` is
asymptotically chi-square with one degree of freedom.

Comparing tie models on a common footing (:func:`tie_model_comparison`). Log-likelihoods of
different tie conventions are only comparable on the same outcome space:

* three outcomes (a wins / b wins / tie of either kind): Davidson and Rao-Kupper are
  three-outcome models already. ``half`` is not a probability model for ties, so it is made one
  in the most favourable way that keeps its ratings: ``P(a) = (1 - tau) sigmoid(eta)``,
  ``P(tie) = tau``, with ``tau`` the observed tie share (its MLE for any ratings);
* four outcomes (the tie split into tie / both bad): the three-outcome models times the same
  binomial split as above; the both-bad model is a four-outcome model already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc, log_expit

from ..data.battles import A_WINS, B_WINS, BOTHBAD, TIE, Battles
from ..data.readers import as_battles
from ..errors import InputError
from .contextual import (
    ContextualResult,
    Design,
    Family,
    build_design,
    check_existence,
    design_counts,
    fit_contextual,
    fit_settings,
    make_result,
    resolve_covariate_l2,
    run_fit,
)
from .elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from .engine import STEP_TOL
from .families import log_softmax
from .results import PROBA_COLUMNS, Result, model_index

__all__ = ["BothBadResult", "fit_bothbad", "bothbad_family", "tie_model_comparison", "GLOBALS"]

#: Names of the global parameters of the both-bad model.
GLOBALS = ("log_nu", "bothbad_delta", "bothbad_gamma")
_OUTCOMES = (A_WINS, B_WINS, TIE, BOTHBAD)


def _utilities(eta: np.ndarray, s: np.ndarray, g: np.ndarray) -> np.ndarray:
    lam, delta, gamma = g
    return np.stack([0.5 * eta, -0.5 * eta, np.full_like(eta, lam), delta - gamma * s], axis=1)


def _terms(eta: np.ndarray, s: np.ndarray, g: np.ndarray, prep: Any, mult: np.ndarray,
           derivatives: bool = True, loglik: bool = True):
    """Per-unit log-likelihood and derivatives in the locals ``(eta, s, log nu, delta, gamma)``.

    A multinomial logit with utilities ``U``: the score is ``J_o - sum_k P_k J_k`` and the
    Hessian ``d2U_o - sum_k P_k d2U_k - Cov_P(J)``, where ``J_k`` is the gradient of ``U_k`` in
    the locals; only ``U_bothbad = delta - gamma * s`` is non-linear (``d2U / ds dgamma = -1``).
    """
    onehot = prep
    logp, prob = log_softmax(_utilities(eta, s, g))
    ll = mult * (onehot * logp).sum(axis=1) if loglik else None
    if not derivatives:
        return ll, None, None
    r = len(eta)
    jac = np.zeros((r, 4, 5))
    jac[:, 0, 0], jac[:, 1, 0], jac[:, 2, 2] = 0.5, -0.5, 1.0
    jac[:, 3, 1], jac[:, 3, 3], jac[:, 3, 4] = -g[2], 1.0, -s
    mean = np.einsum("rk,rki->ri", prob, jac)
    # onehot - prob, with the observed verdict's 1 - P_o summed from the other verdicts'
    # probabilities: by subtraction it cancels to 1e-16 per unit, 1e-4 under a weight of 1e12
    others = (prob * (1.0 - onehot)).sum(axis=1, keepdims=True)
    resid = np.where(onehot > 0, others, -prob)
    score = np.einsum("rk,rki->ri", resid, jac)
    second = np.einsum("rk,rki,rkj->rij", prob, jac, jac) - mean[:, :, None] * mean[:, None, :]
    curv = onehot[:, 3] - prob[:, 3]
    hess = -second
    hess[:, 1, 4] -= curv
    hess[:, 4, 1] -= curv
    return ll, score * mult[:, None], hess * mult[:, None, None]


def _prepare(d: Design) -> np.ndarray:
    onehot = np.zeros((d.n_units, 4))
    onehot[np.arange(d.n_units), d.outcome] = 1.0
    return onehot


def _start(d: Design) -> np.ndarray:
    mass = np.bincount(d.outcome, weights=d.count * d.weight, minlength=4)
    share = mass / mass.sum()
    z = 2.0 / max(share[A_WINS] + share[B_WINS], 1e-9)  # Z when every eta is 0
    return np.array([np.log(share[TIE] * z), np.log(share[BOTHBAD] * z), 0.0])


def bothbad_family() -> Family:
    """The both-bad model as a :class:`~arena_stats.models.contextual.Family` (locals eta, s, globals)."""
    return Family("bothbad", True, GLOBALS, _prepare, _terms, _start)


#: Columns of the both-bad model's ``predict_proba``: the three of every fit, then both-bad.
BOTHBAD_PROBA_COLUMNS = (*PROBA_COLUMNS, "winner_bothbad")


@dataclass(frozen=True, repr=False, eq=False)
class BothBadResult(Result):
    """A fitted both-bad model and its likelihood-ratio test against a plain tie.

    Attributes
    ----------
    fit : ContextualResult
        Ratings (Elo scale), their standard errors, covariate coefficients and the full
        parameter vector (``params``: strengths, ``beta``, ``log_nu``, ``bothbad_delta``,
        ``bothbad_gamma``) with both covariance matrices.
    nu, delta, gamma : float
    gamma_se, gamma_se_robust : float
    gamma_per_100 : float
        ``gamma`` per 100 Elo points of mean strength (the both-bad log-odds added when the
        pair's mean rating is 100 points lower).
    loglik : float
        Four-outcome log-likelihood.
    loglik_plain_tie : float
        Four-outcome log-likelihood of Davidson with a constant both-bad share (``gamma = 0``).
    lr_stat, lr_pvalue : float
        ``2 (loglik - loglik_plain_tie)`` and its chi-square(1) p-value.
    bothbad_share : float
        Observed share of ``tie (bothbad)`` among all ties (the null model's split).
    settings : dict
    """

    fit: ContextualResult
    nu: float
    delta: float
    gamma: float
    gamma_se: float
    gamma_se_robust: float
    gamma_per_100: float
    loglik: float
    loglik_plain_tie: float
    lr_stat: float
    lr_pvalue: float
    bothbad_share: float
    settings: dict[str, Any]

    @property
    def ratings(self) -> pd.Series:
        return self.fit.ratings

    @property
    def models(self) -> list[str]:
        return self.fit.models

    def predict_proba(self, model_a: Any, model_b: Any, covariates: Any = None) -> pd.DataFrame:
        """P(a wins), P(b wins), P(tie), P(both bad): one row per pair, four columns.

        Examples
        --------
        >>> from arena_stats.data.simulate import simulate_arena
        >>> res = fit_bothbad(simulate_arena(5, 5000, seed=1).battles)
        >>> p = res.predict_proba(["model-000", "model-001"], ["model-002", "model-003"])
        >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
        ((2, 4), True)
        """
        eta = self.fit.linear_predictor(model_a, model_b, covariates)
        a, b = model_index(self.models, model_a), model_index(self.models, model_b)
        s = 0.5 * (self.fit.theta[a] + self.fit.theta[b])
        u = _utilities(eta, s, np.array([np.log(self.nu), self.delta, self.gamma]))
        p = log_softmax(u)[1]
        index = pd.MultiIndex.from_arrays([np.atleast_1d(np.asarray(model_a, dtype=object)),
                                           np.atleast_1d(np.asarray(model_b, dtype=object))],
                                          names=["model_a", "model_b"])
        return pd.DataFrame(p, index=index, columns=list(BOTHBAD_PROBA_COLUMNS))

    def to_frame(self) -> pd.DataFrame:
        """The ratings table of the fit (model, rating, se, se_robust, theta), best first."""
        return self.fit.to_frame()

    def params_frame(self) -> pd.DataFrame:
        """The tie / both-bad parameters with model-based and sandwich standard errors."""
        p, c, cr = self.fit.params, self.fit.cov_params, self.fit.cov_params_robust
        names = list(GLOBALS)
        return pd.DataFrame({"estimate": p[names],
                             "se": np.sqrt(np.diag(c.loc[names, names])),
                             "se_robust": np.sqrt(np.diag(cr.loc[names, names]))},
                            index=pd.Index(names, name="parameter"))

    def _describe(self) -> str:
        return (f"{len(self.models)} models, gamma={self.gamma:.4f} (se {self.gamma_se_robust:.4f}), "
                f"LR p={self.lr_pvalue:.3g}")

    def summary(self, top: int | None = 20) -> str:
        lines = [
            "Both-bad model: P(a):P(b):P(tie):P(both bad) = e^(eta/2) : e^(-eta/2) : nu : "
            "exp(delta - gamma s)",
            "=" * 72,
            f"nu = {self.nu:.4f}   delta = {self.delta:.4f}   gamma = {self.gamma:.4f} "
            f"(se {self.gamma_se:.4f}, robust {self.gamma_se_robust:.4f}); "
            f"{self.gamma_per_100:+.3f} log-odds per 100 Elo lower mean rating",
            f"log-likelihood {self.loglik:.3f}; plain tie with constant both-bad share "
            f"{self.bothbad_share:.3f}: {self.loglik_plain_tie:.3f}",
            f"likelihood-ratio test of gamma = 0: chi2(1) = {self.lr_stat:.3f}, p = {self.lr_pvalue:.3g}",
            "-" * 72,
            self.fit.summary(top=top),
        ]
        return "\n".join(lines)


def _split_loglik(d: Design) -> tuple[float, float]:
    """Log-likelihood of the binomial tie / both-bad split at its MLE, and the both-bad share."""
    mass = np.bincount(d.outcome, weights=d.count * d.weight, minlength=4)
    t, bb = mass[TIE], mass[BOTHBAD]
    if t + bb == 0:
        return 0.0, float("nan")
    pi = bb / (t + bb)
    ll = (bb * np.log(pi) if bb else 0.0) + (t * np.log1p(-pi) if t else 0.0)
    return float(ll), float(pi)


def fit_bothbad(battles: Battles | pd.DataFrame,
                covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None, *,
                position: bool = False, l2: float = 0.0, covariate_l2: float | None = None,
                scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                anchor: Mapping[str, float] | None = None, tol: float = STEP_TOL) -> BothBadResult:
    """Fit the both-bad model by maximum likelihood and test it against a plain tie.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
        Must contain both ``tie`` and ``tie (bothbad)`` verdicts.
    covariates, position, l2, covariate_l2, scale, base, init, anchor, tol
        As in :func:`~arena_stats.models.contextual.fit_contextual`.

    Returns
    -------
    BothBadResult

    Raises
    ------
    InputError
        When there are no ties or no ``tie (bothbad)`` verdicts.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> res = fit_bothbad(simulate_arena(8, 20000, seed=2).battles)
    >>> res.gamma > 0, res.lr_pvalue < 0.05
    (True, True)
    """
    l2, covariate_l2 = resolve_covariate_l2(l2, covariate_l2, "fit_bothbad")
    battles = as_battles(battles)
    d = build_design(battles, covariates, position=position)
    present = np.bincount(d.outcome, weights=d.count, minlength=4)
    if present[TIE] == 0 or present[BOTHBAD] == 0:
        raise InputError(f"the both-bad model needs both 'tie' and 'tie (bothbad)' verdicts; these battles "
                         f"have {present[TIE]:,.0f} ties and {present[BOTHBAD]:,.0f} both-bad ties")
    settings = fit_settings("bothbad", d.covariates, position, l2, covariate_l2, scale, base, init, anchor, tol,
                            d.reduced)
    counts = design_counts(d)
    check_existence(counts, "davidson", settings["l2"])
    family = bothbad_family()
    fit, obj = run_fit(d, family, l2=settings["l2"], covariate_l2=settings["covariate_l2"], tol=settings["tol"],
                       counts=counts)
    res = make_result(fit, obj, family, settings, d.n_battles, d.models, d.covariates, d.n_units)
    plain = fit_contextual(battles, covariates, "davidson", position=position, l2=l2, covariate_l2=covariate_l2,
                           scale=scale, base=base, init=init, anchor=anchor, tol=tol)
    split, share = _split_loglik(d)
    ll0 = plain.loglik + split
    lr = max(2.0 * (res.loglik - ll0), 0.0)
    g = res.params
    k = scale / np.log(base)
    return BothBadResult(
        fit=res, nu=float(np.exp(g["log_nu"])), delta=float(g["bothbad_delta"]),
        gamma=float(g["bothbad_gamma"]),
        gamma_se=float(np.sqrt(res.cov_params.loc["bothbad_gamma", "bothbad_gamma"])),
        gamma_se_robust=float(np.sqrt(res.cov_params_robust.loc["bothbad_gamma", "bothbad_gamma"])),
        gamma_per_100=float(g["bothbad_gamma"] * 100.0 / k), loglik=res.loglik, loglik_plain_tie=ll0,
        lr_stat=lr, lr_pvalue=float(chdtrc(1, lr)), bothbad_share=share, settings=settings)


def _half_three_outcome(battles: Battles, covariates: Any, position: bool, l2: float, covariate_l2: float
                        ) -> tuple[float, int]:
    """The ``half`` fit's ratings in a three-outcome model with a constant tie probability."""
    fit = fit_contextual(battles, covariates, "half", position=position, l2=l2, covariate_l2=covariate_l2)
    d = build_design(battles, covariates, position=position)
    theta, beta = fit.theta, fit.beta.to_numpy()
    eta = theta[d.a] - theta[d.b] + (d.X @ beta if d.p else 0.0)
    mass = d.count * d.weight
    is_tie = (d.outcome == TIE) | (d.outcome == BOTHBAD)
    tau = float(mass[is_tie].sum() / mass.sum())
    ll = float((mass * np.where(d.outcome == A_WINS, log_expit(eta), 0.0)).sum()
               + (mass * np.where(d.outcome == B_WINS, log_expit(-eta), 0.0)).sum())
    n_dec = float(mass[~is_tie].sum())
    n_tie = float(mass[is_tie].sum())
    ll += (n_dec * np.log1p(-tau) if n_dec else 0.0) + (n_tie * np.log(tau) if n_tie else 0.0)
    return ll, len(theta) - 1 + len(beta) + 1


def tie_model_comparison(battles: Battles | pd.DataFrame,
                         covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None, *,
                         position: bool = False, l2: float = 0.0, covariate_l2: float | None = None
                         ) -> pd.DataFrame:
    """Log-likelihoods of the tie models on the same outcome spaces (see the module docstring).

    Returns one row per model (``half``, ``davidson``, ``rao-kupper``, and ``bothbad`` when
    both kinds of tie occur) with ``loglik_3`` (a / b / any tie; NaN for ``bothbad``),
    ``loglik_4`` (a / b / tie / both bad), the number of parameters ``k`` (the tie split counts
    one when both kinds occur) and ``aic_4 = 2k - 2 loglik_4``.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> cmp = tie_model_comparison(simulate_arena(6, 6000, seed=3).battles)
    >>> bool(cmp.loc["davidson", "loglik_3"] >= cmp.loc["half", "loglik_3"])
    True
    """
    l2, covariate_l2 = resolve_covariate_l2(l2, covariate_l2, "tie_model_comparison")
    battles = as_battles(battles)
    d = build_design(battles, covariates, position=position)
    split, _ = _split_loglik(d)
    n_theta_beta = d.n_models - 1 + d.p
    mass = np.bincount(d.outcome, weights=d.count, minlength=4)
    both = bool(mass[TIE] > 0 and mass[BOTHBAD] > 0)
    rows = {}
    ll3, k = _half_three_outcome(battles, covariates, position, l2, covariate_l2)
    rows["half"] = (ll3, ll3 + split, k + both)
    for ties in ("davidson", "rao-kupper"):
        f = fit_contextual(battles, covariates, ties, position=position, l2=l2, covariate_l2=covariate_l2)
        rows[ties] = (f.loglik, f.loglik + split, n_theta_beta + 1 + both)
    if both:
        bb = fit_bothbad(battles, covariates, position=position, l2=l2, covariate_l2=covariate_l2)
        # a four-outcome model: compared on four outcomes only
        rows["bothbad"] = (np.nan, bb.loglik, n_theta_beta + 3)
    out = pd.DataFrame(rows, index=["loglik_3", "loglik_4", "k"]).T
    out["k"] = out["k"].astype(int)
    out["aic_4"] = 2 * out["k"] - 2 * out["loglik_4"]
    out.index.name = "model"
    return out
