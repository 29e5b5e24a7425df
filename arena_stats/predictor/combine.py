"""The swap-equivariant three-class logit that combines the prior with the text blocks.

Statistics. Exchanging the two responses must exchange P(a) and P(b) and keep P(tie). Any such
distribution can be written as ``log P(a)/P(b) = 2 s(x)`` with ``s`` *antisymmetric* under the
swap and ``log P(tie) / sqrt(P(a) P(b)) = t(x)`` with ``t`` *symmetric*. The combiner makes both
linear around an *offset*, the BT prior::

    s = prior_logit / 2 + beta . u          (u: antisymmetric columns)
    t = prior_tie_logit + alpha + gamma . v  (v: symmetric columns)
    P(a), P(b), P(tie) = softmax(s, -s, t)

With every coefficient zero this *is* the prior's distribution (Davidson: ``s = (theta_a -
theta_b) / 2``, ``t = log nu``), and the ridge penalties pull every coefficient toward zero, so
the text model can only move the prediction away from the rating model as far as the data
insist: the prior is the model's centre, not one feature among others. Without a prior the
offsets are zero and ``alpha`` is the tie rate's log-odds.

Fitting is penalised maximum likelihood (Newton's method, analytic gradient and Hessian) on
standardised columns (``u`` divided by its root mean square, never centred, which would break the
antisymmetry; ``v`` centred and scaled). Swap augmentation is not needed: a swapped row has
exactly the same likelihood as the row itself under this parametrisation.

Exactness. ``u`` columns of a swapped row are the exact negatives (IEEE subtraction is
antisymmetric) and ``v`` columns identical, so ``s`` negates exactly and ``t`` is unchanged: the
output swaps bit for bit, without averaging.

Calibration (:class:`Calibration`) rescales the final a-versus-b logit and shifts the tie logit,
``s' = tau s``, ``t' = t + delta``: temperature scaling in the swap-equivariant form (a full
3 x 3 Dirichlet map would break the symmetry; a temperature on the tie logit was dropped after it
learned, on LLMFAO's few prompts, the anti-correlation between a held-out fold's tie rate and
the tie parameter fitted without it, an artefact of leaving groups out). It is fitted on
out-of-fold predictions (:mod:`.selection`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Combiner", "Calibration", "fit_combiner", "fit_calibration", "softmax3", "fit_symmetric",
           "IDENTITY"]

_TOL = 1e-9
_MAX_ITER = 100
#: A column whose training spread is below this is constant and dropped.
CONSTANT = 1e-12
#: Ridge penalty of the calibration's departures from the identity (standardised logits).
CALIBRATION_L2 = 1.0


def softmax3(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``softmax(s, -s, t)`` row by row, stable for large logits; exactly swap-symmetric."""
    s = np.asarray(s, dtype=float)
    t = np.asarray(t, dtype=float)
    m = np.maximum(np.abs(s), t)
    ea, eb, et = np.exp(s - m), np.exp(-s - m), np.exp(t - m)
    z = (ea + eb) + et  # ea + eb == eb + ea exactly, so a swap leaves z unchanged
    return np.column_stack([ea / z, eb / z, et / z])


def fit_symmetric(u: np.ndarray, v: np.ndarray, y: np.ndarray, penalty: np.ndarray, *,
                  off_s: np.ndarray | None = None, off_t: np.ndarray | None = None, alpha_l2: float = 0.0,
                  alpha0: float | None = None, w0: np.ndarray | None = None, tol: float = _TOL
                  ) -> dict[str, Any]:
    """Penalised ML of ``softmax(off_s + u.beta, -(off_s + u.beta), off_t + alpha + v.gamma)``.

    ``penalty`` holds one ridge weight per column of ``[u, v]``; ``alpha_l2`` penalises the tie
    intercept. The objective is convex; it is minimised by Newton's method with the analytic
    Hessian and step halving (a handful of iterations; L-BFGS needed about 70 on the collinear
    style columns of a Kaggle-scale fit), stopping when the largest gradient component is at most
    ``tol`` times the number of rows. Returns ``beta, alpha, gamma, converged, n_iter, nll``.
    """
    n, pu = u.shape
    pv = v.shape[1]
    y = np.asarray(y, dtype=np.int64)
    ya, yb, yt = (y == 0).astype(float), (y == 1).astype(float), (y == 2).astype(float)
    off_s = np.zeros(n) if off_s is None else np.asarray(off_s, float)
    off_t = np.zeros(n) if off_t is None else np.asarray(off_t, float)
    lam = np.concatenate([np.asarray(penalty[:pu], float), [alpha_l2], np.asarray(penalty[pu:], float)])
    x_t = np.column_stack([np.ones(n), v])  # the tie logit's design: intercept and v

    def value(w: np.ndarray) -> tuple[float, tuple[np.ndarray, ...]]:
        s = off_s + u @ w[:pu]
        t = off_t + x_t @ w[pu:]
        m = np.maximum(np.abs(s), t)
        ea, eb, et = np.exp(s - m), np.exp(-s - m), np.exp(t - m)
        z = (ea + eb) + et
        nll = float(np.sum(m + np.log(z) - (ya - yb) * s - yt * t))
        return nll + 0.5 * float(lam @ (w * w)), (ea / z, eb / z, et / z)

    if w0 is None:
        w0 = np.zeros(pu + 1 + pv)
        if alpha0 is None and not np.any(off_t):
            tie_rate = float(np.clip(np.mean(y == 2), 1e-3, 1 - 1e-3)) if n else 1 / 3
            alpha0 = float(np.log(2 * tie_rate / (1 - tie_rate)))
        w0[pu] = alpha0 or 0.0
    w = np.asarray(w0, float).copy()
    f, (pa, pb, pt) = value(w)
    converged, it = False, 0
    for it in range(1, _MAX_ITER + 1):  # noqa: B007 - `it` is reported after the loop
        rs, rt = (pa - ya) - (pb - yb), pt - yt
        g = np.concatenate([u.T @ rs, x_t.T @ rt]) + lam * w
        if np.max(np.abs(g), initial=0.0) <= tol * max(n, 1):
            converged = True
            break
        h_ss = pa + pb - (pa - pb) ** 2
        h_st = -pt * (pa - pb)
        h_tt = pt * (1 - pt)
        hess = np.empty((len(w), len(w)))
        hess[:pu, :pu] = u.T @ (u * h_ss[:, None])
        hess[:pu, pu:] = u.T @ (x_t * h_st[:, None])
        hess[pu:, :pu] = hess[:pu, pu:].T
        hess[pu:, pu:] = x_t.T @ (x_t * h_tt[:, None])
        hess[np.diag_indices_from(hess)] += lam
        try:
            step = np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, g, rcond=None)[0]
        size = 1.0
        while True:
            w_new = w - size * step
            f_new, probs = value(w_new)
            if f_new <= f or size < 1e-10:
                break
            size *= 0.5
        if f_new > f:  # no descent possible along the Newton direction: at the optimum to rounding
            converged = True
            break
        w, f, (pa, pb, pt) = w_new, f_new, probs
    return {"beta": w[:pu], "alpha": float(w[pu]), "gamma": w[pu + 1:], "converged": converged,
            "n_iter": it, "nll": f}


@dataclass
class Combiner:
    """A fitted combining logit (see the module docstring).

    Attributes
    ----------
    u_names, v_names : list of str
        The antisymmetric and symmetric columns, in order.
    u_scale, v_mean, v_scale : ndarray
        Standardisation learned on the training rows.
    beta, gamma : ndarray
        Coefficients on the standardised columns.
    alpha : float
        Tie intercept (relative to the prior's tie log-odds when there is a prior).
    use_prior : bool
        Whether the prior is the offset.
    """

    u_names: list[str]
    v_names: list[str]
    u_scale: np.ndarray
    v_mean: np.ndarray
    v_scale: np.ndarray
    beta: np.ndarray
    alpha: float
    gamma: np.ndarray
    use_prior: bool
    info: dict[str, Any] = field(default_factory=dict)

    def logits(self, u: np.ndarray, v: np.ndarray, off_s: np.ndarray, off_t: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """``s`` and ``t`` of rows whose columns are ``u_names`` / ``v_names`` (unscaled)."""
        s = off_s + (u / self.u_scale) @ self.beta if len(self.beta) else np.array(off_s, float, copy=True)
        t = off_t + self.alpha + ((v - self.v_mean) / self.v_scale) @ self.gamma if len(self.gamma) \
            else off_t + self.alpha
        return np.asarray(s, float), np.asarray(t, float)

    def to_dict(self) -> dict[str, Any]:
        return {"u_names": list(self.u_names), "v_names": list(self.v_names), "u_scale": self.u_scale.tolist(),
                "v_mean": self.v_mean.tolist(), "v_scale": self.v_scale.tolist(), "beta": self.beta.tolist(),
                "alpha": float(self.alpha), "gamma": self.gamma.tolist(), "use_prior": bool(self.use_prior)}


def fit_combiner(u: np.ndarray, u_names: list[str], v: np.ndarray, v_names: list[str], y: np.ndarray,
                 off_s: np.ndarray, off_t: np.ndarray, *, u_penalty: np.ndarray, v_penalty: np.ndarray,
                 alpha_l2: float, use_prior: bool, fit_alpha: bool = True, tol: float = _TOL) -> Combiner:
    """Standardise the columns (dropping constant ones) and fit the combining logit.

    ``fit_alpha=False`` fixes the tie intercept at zero (the raw prior has no free parameter).
    """
    u_scale = np.sqrt(np.mean(u * u, axis=0)) if len(u) else np.ones(u.shape[1])
    v_mean = v.mean(axis=0) if len(v) else np.zeros(v.shape[1])
    v_scale = v.std(axis=0) if len(v) else np.ones(v.shape[1])
    ku, kv = u_scale > CONSTANT, v_scale > CONSTANT
    u, v = u[:, ku] / u_scale[ku], (v[:, kv] - v_mean[kv]) / v_scale[kv]
    if not fit_alpha and u.shape[1] == 0 and v.shape[1] == 0:
        params: dict[str, Any] = {"beta": np.zeros(0), "alpha": 0.0, "gamma": np.zeros(0), "converged": True,
                                  "n_iter": 0}
    else:
        params = fit_symmetric(u, v, y, np.concatenate([u_penalty[ku], v_penalty[kv]]), off_s=off_s, off_t=off_t,
                               alpha_l2=alpha_l2 if fit_alpha else 1e12, alpha0=0.0 if use_prior else None, tol=tol)
    return Combiner(u_names=[n for n, k in zip(u_names, ku) if k], v_names=[n for n, k in zip(v_names, kv) if k],
                    u_scale=u_scale[ku], v_mean=v_mean[kv], v_scale=v_scale[kv], beta=np.asarray(params["beta"]),
                    alpha=float(params["alpha"]) if fit_alpha else 0.0, gamma=np.asarray(params["gamma"]),
                    use_prior=use_prior, info={"converged": params["converged"], "n_iter": params["n_iter"]})


@dataclass(frozen=True)
class Calibration:
    """``s' = tau s``, ``t' = t + delta`` (identity: 1, 0)."""

    tau: float = 1.0
    delta: float = 0.0

    def apply(self, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.tau * s, t + self.delta

    @property
    def is_identity(self) -> bool:
        return self.tau == 1.0 and self.delta == 0.0

    def to_dict(self) -> dict[str, float]:
        return {"tau": float(self.tau), "delta": float(self.delta)}


IDENTITY = Calibration()


def fit_calibration(s: np.ndarray, t: np.ndarray, y: np.ndarray) -> Calibration:
    """Penalised maximum-likelihood temperature ``tau`` and tie shift ``delta`` for logits
    ``s, t`` and labels ``y``.

    The temperature's departure from 1 (on the standardised logit) carries a small ridge
    penalty :data:`CALIBRATION_L2`, so that it stays at 1 where the data say nothing.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s, t = rng.normal(0, 1, 20000), rng.normal(-0.5, 0.5, 20000)
    >>> p = softmax3(0.5 * s, t + 0.2)            # the truth is a tempered version
    >>> y = (rng.random(20000)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    >>> c = fit_calibration(s, t, y)
    >>> round(c.tau, 1), round(c.delta, 1)
    (0.5, 0.2)
    """
    s = np.asarray(s, float)
    t = np.asarray(t, float)
    if len(y) == 0:
        return IDENTITY
    s_rms = float(np.sqrt(np.mean(s * s)))
    u = (s / s_rms)[:, None] if s_rms > CONSTANT else np.zeros((len(s), 0))
    p = fit_symmetric(u, np.zeros((len(s), 0)), y, np.full(u.shape[1], CALIBRATION_L2), off_s=s, off_t=t,
                      alpha0=0.0)
    tau = 1.0 + (float(p["beta"][0]) / s_rms if u.shape[1] else 0.0)
    return Calibration(tau=tau, delta=float(p["alpha"]))
