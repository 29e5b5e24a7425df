"""The likelihood families of the Bradley-Terry fits: four tie conventions, one place.

Each model ``i`` has a strength ``theta_i`` (natural log scale). For a battle between ``i`` and
``j`` let ``d = theta_i - theta_j`` (or, with covariates, the linear predictor
``eta = theta_i - theta_j + x . beta``, which takes its place everywhere below):

* ``half`` (LMSYS's convention, the default): ``P(i beats j) = sigmoid(d)``; a tie counts as half
  a win for each side, i.e. it contributes ``0.5 log p + 0.5 log (1 - p)``.
* ``drop``: the same model fitted on decisive battles only.
* ``davidson`` (Davidson 1970): ``P(i) : P(j) : P(tie) = e^{d/2} : e^{-d/2} : nu``, with the tie
  parameter ``nu = e^lambda`` estimated jointly.
* ``rao-kupper`` (Rao & Kupper 1967): ``P(i) = sigmoid(d - tau)``, ``P(j) = sigmoid(-d - tau)``,
  ``P(tie)`` the rest; ``eta = e^tau >= 1`` is estimated jointly.

``tie (bothbad)`` counts as a tie in all four (the both-bad model of
:mod:`~arena_stats.models.bothbad` is the one that tells them apart).

Every fit -- plain on pair counts, contextual on rows or cells, Dask -- takes the per-battle
log-likelihood and its derivatives in ``(d, tie parameter)`` from :func:`local_terms`, and every
prediction from :func:`outcome_probabilities`, so the conventions cannot drift apart between
paths. :func:`strength_scores` is the same gradient computed from per-model exponentials, the
bootstrap's fast form (tested against :func:`local_terms`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from ..errors import InputError

__all__ = ["TIES", "TIE_START", "TIE_PARAM_NAME", "pair_weights", "log_sigmoids", "log_softmax", "local_terms",
           "per_battle_scores", "outcome_probabilities", "strength_scores", "davidson_scores", "check_ties"]

TIES = ("half", "drop", "davidson", "rao-kupper")
#: Where the Davidson / Rao-Kupper tie parameter starts (log nu, tau).
TIE_START = {"davidson": 0.0, "rao-kupper": 0.5}
#: Names of the tie parameters as reported.
TIE_PARAM_NAME = {"davidson": "nu", "rao-kupper": "eta"}


def check_ties(ties: str) -> str:
    """``ties`` if it names a convention, else an :class:`~arena_stats.errors.InputError`."""
    if ties not in TIES:
        raise InputError(f"unknown tie convention {ties!r}; expected one of {', '.join(TIES)}")
    return ties


def pair_weights(table: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a ``(..., P, 4)`` count table into (i-wins, j-wins, ties) as the convention sees them.

    A ``(..., P, 3)`` table has the two kinds of tie already merged in its last column.
    """
    wi, wj = table[..., 0], table[..., 1]
    wt = table[..., 2] + table[..., 3] if table.shape[-1] == 4 else table[..., 2]
    if ties == "half":
        return wi + 0.5 * wt, wj + 0.5 * wt, np.zeros_like(wt)
    if ties == "drop":
        return wi, wj, np.zeros_like(wt)
    return wi, wj, wt


def log_sigmoids(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log sigmoid(d), log sigmoid(-d))``, both to full relative precision, from one exponential.

    ``log sigmoid(+-d) = min(+-d, 0) - log1p(exp(-|d|))``: the formulas of
    ``scipy.special.log_expit`` (to the last bit on the tests' inputs), sharing the one
    transcendental the two sides have in common. Measured on 41,700 pairs: 0.15 ms against
    1.35 ms for two ``log_expit`` calls, which were half the time of a sparse bootstrap's line
    searches.

    Examples
    --------
    >>> from scipy.special import log_expit
    >>> d = np.array([-800.0, -3.0, 0.0, 1e-20, 40.0])
    >>> up, down = log_sigmoids(d)
    >>> bool(np.array_equal(up, log_expit(d)) and np.array_equal(down, log_expit(-d)))
    True
    """
    soft = np.log1p(np.exp(-np.abs(d)))
    return np.minimum(d, 0.0) - soft, np.minimum(-d, 0.0) - soft


def log_softmax(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log P, P)`` of a multinomial logit with utilities ``u (..., K)``, exact for the likely verdict.

    ``log P_k = (u_k - m) - log1p(r)`` with ``m`` the largest utility and ``r`` the sum of the
    *other* verdicts' ``exp(u - m)``, so ``log P`` of a verdict with ``P = 1 - 1e-10`` keeps all its
    digits (``u_k - logsumexp(u)`` keeps six); heavily weighted battles need them (a weight of
    1e12 turns the lost digits into 1e-4, more than the line search can tell from an ascent).

    Examples
    --------
    >>> logp, p = log_softmax(np.array([[30.0, 0.0, 0.0]]))
    >>> bool(np.isclose(logp[0, 0], -np.log1p(2 * np.exp(-30.0)), rtol=1e-14, atol=0))
    True
    >>> bool(np.isclose(p.sum(), 1.0))
    True
    """
    u = np.asarray(u, dtype=np.float64)
    top = np.argmax(u, axis=-1)[..., None]
    m = np.take_along_axis(u, top, axis=-1)
    e = np.exp(u - m)
    np.put_along_axis(e, top, 0.0, axis=-1)
    rest = e.sum(axis=-1, keepdims=True)
    logp = (u - m) - np.log1p(rest)
    return logp, np.exp(logp)


def local_terms(d: np.ndarray, lam: np.ndarray | None, wi: np.ndarray, wj: np.ndarray,
                wt: np.ndarray, ties: str, derivatives: bool = True, loglik: bool = True
                ) -> tuple[Any, ...]:
    """Log-likelihood of each pair and its derivatives in ``d`` and the tie parameter.

    Returns ``(ll, g_d, g_l, h_dd, h_dl, h_ll)``; the tie-parameter terms are ``None`` for
    ``half`` and ``drop``, and ``ll`` is ``None`` when ``loglik=False`` (the gradient-only
    iterations of the bootstrap skip the logarithms). ``lam`` broadcasts against ``d``.
    """
    if ties in ("half", "drop"):
        if loglik:
            up, down = log_sigmoids(d)
            ll = wi * up + wj * down
        else:
            ll = None
        if not derivatives:
            return (ll,)
        # 1 - p from its own logistic, not by subtraction: with one battle weighted 1e12,
        # ``wi - (wi + wj) * p`` cancels to 1e-4 absolute and no Newton step gets below it
        p, q = expit(d), expit(-d)
        g = wi * q - wj * p
        h = -(wi + wj) * p * q
        return ll, g, None, h, None, None
    assert lam is not None, "the tie conventions with a tie parameter need it"
    if ties == "davidson":
        # a three-verdict logit with utilities d/2, -d/2 and lam (log nu)
        half = 0.5 * d
        logp, prob = log_softmax(np.stack(np.broadcast_arrays(half, -half, lam), axis=-1))
        w = wi + wj + wt
        ll = wi * logp[..., 0] + wj * logp[..., 1] + wt * logp[..., 2]
        if not derivatives:
            return (ll,)
        pi, pj, pt = prob[..., 0], prob[..., 1], prob[..., 2]
        diff = pi - pj
        # 1 - diff = 2 pj + pt and 1 + diff = 2 pi + pt: written without cancellation (heavy weights)
        g_d = 0.5 * (wi * (2.0 * pj + pt) - wj * (2.0 * pi + pt) - wt * diff)
        g_l = wt * (pi + pj) - (wi + wj) * pt
        h_dd = -w * (0.25 * (pi + pj) - 0.25 * diff * diff)
        h_dl = 0.5 * w * diff * pt
        h_ll = -w * pt * (1.0 - pt)
        return ll, g_d, g_l, h_dd, h_dl, h_ll
    if ties == "rao-kupper":
        tau = lam
        a, b = expit(d - tau), expit(-d - tau)
        oma, omb = expit(tau - d), expit(tau + d)  # 1 - a and 1 - b without cancellation
        t = np.clip(oma - b, 1e-300, None)
        ll = wi * log_sigmoids(d - tau)[0] + wj * log_sigmoids(-d - tau)[0] + wt * np.log(t)
        if not derivatives:
            return (ll,)
        A, B = a * oma, b * omb
        Aa, Bb = A * (1 - 2 * a), B * (1 - 2 * b)
        t_d, t_t = B - A, A + B
        t_dd = -(Aa + Bb)
        t_dt = Aa - Bb
        g_d = wi * oma - wj * omb + wt * t_d / t
        g_l = -wi * oma - wj * omb + wt * t_t / t
        h_dd = -wi * A - wj * B + wt * (t_dd / t - t_d * t_d / (t * t))
        h_ll = -wi * A - wj * B + wt * (t_dd / t - t_t * t_t / (t * t))
        h_dl = wi * A - wj * B + wt * (t_dt / t - t_d * t_t / (t * t))
        return ll, g_d, g_l, h_dd, h_dl, h_ll
    check_ties(ties)
    raise AssertionError("unreachable")


def per_battle_scores(d: np.ndarray, lam: float | None, ties: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Score (derivative of one battle's log-likelihood) in ``d`` and the tie parameter.

    Returns arrays of shape ``(P, 4)`` for the four verdicts (i won, j won, tie, bothbad).
    """
    eye = np.eye(4)
    g_d = np.empty(d.shape + (4,))
    g_l = np.empty(d.shape + (4,)) if ties in ("davidson", "rao-kupper") else None
    for o in range(4):
        cnt = np.broadcast_to(eye[o], d.shape + (4,))
        wi, wj, wt = pair_weights(cnt, ties)
        _, gd, gl, *_ = local_terms(d, None if lam is None else np.asarray(lam), wi, wj, wt, ties)
        g_d[..., o] = gd
        if g_l is not None:
            g_l[..., o] = gl
    return g_d, g_l


def strength_scores(theta: np.ndarray, lam: np.ndarray, wi: np.ndarray, wj: np.ndarray, wt: np.ndarray,
                    i: np.ndarray, j: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair derivatives in ``d`` and the tie parameter, as :func:`local_terms` gives them, for
    Davidson and Rao-Kupper, computed from per-model strengths: exponentials of the ``n``
    strengths instead of three per pair (~6x faster; the bootstrap's chord iterations use it).

    Davidson, with ``s = exp(theta / 2)``: ``P(i) : P(j) : P(tie) = s_i^2 : s_j^2 : nu s_i s_j``.
    Rao-Kupper, with ``pi = exp(theta)`` and ``eta = exp(tau)``:
    ``P(i) = pi_i / (pi_i + eta pi_j)`` and ``1 - P(i) = eta pi_j / (pi_i + eta pi_j)``.
    Strengths are scaled by the round's largest, which leaves every probability unchanged.
    """
    if ties == "davidson":
        g_d, tie_share = davidson_scores(theta, lam, 0.5 * (wi + wj + wt), 0.5 * (wi - wj), i, j)
        return g_d, wt - 2.0 * tie_share
    pi = np.exp(theta - theta.max(axis=1, keepdims=True))
    pi_i, pi_j = np.take(pi, i, axis=1), np.take(pi, j, axis=1)
    eta = np.exp(lam)
    e_pj, e_pi = eta * pi_j, eta * pi_i
    d1, d2 = pi_i + e_pj, pi_j + e_pi
    a, b = pi_i / d1, pi_j / d2
    not_a, not_b = e_pj / d1, e_pi / d2  # 1 - a and 1 - b without cancellation
    t = np.clip(1.0 - a - b, 1e-300, None)
    aa, bb = a * not_a, b * not_b
    wt_t = wt / t
    g_d = wi * not_a - wj * not_b + wt_t * (bb - aa)
    g_l = -wi * not_a - wj * not_b + wt_t * (aa + bb)
    return g_d, g_l


def davidson_scores(theta: np.ndarray, lam: np.ndarray, half_w: np.ndarray, half_diff: np.ndarray,
                    i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Davidson's ``g_d`` per pair and half its expected ties ``w P(tie) / 2``, from the
    round's constants ``half_w = (wi + wj + wt) / 2`` and ``half_diff = (wi - wj) / 2``
    (the chord iterations compute those once; see :func:`strength_scores`)."""
    half = 0.5 * theta
    s = np.exp(half - half.max(axis=1, keepdims=True))
    si, sj = np.take(s, i, axis=1), np.take(s, j, axis=1)
    a, b = si * si, sj * sj
    c = si * sj
    c *= np.exp(lam)
    z = a + b
    z += c
    r = np.divide(half_w, z, out=z)
    a -= b
    a *= r
    g_d = np.subtract(half_diff, a, out=a)
    c *= r
    return g_d, c


def outcome_probabilities(d: np.ndarray, ties: str, log_tie: float | None) -> np.ndarray:
    """P(i), P(j), P(tie) for strength differences ``d`` under a tie convention.

    Exactly swap-symmetric: ``outcome_probabilities(-d)`` is ``outcome_probabilities(d)`` with
    the first two columns exchanged, bit for bit, under every convention (every expression
    below is either the same for ``d`` and ``-d`` or exchanges with its mirror image).
    """
    d = np.asarray(d, dtype=np.float64)
    if ties in ("half", "drop"):
        # the smaller probability from the sigmoid of -|d| (accurate in the tail), the larger as
        # its complement; ``p, 1 - p`` with p = sigmoid(d) is not symmetric: 1 - sigmoid(d)
        # differs from sigmoid(-d) in the last bits
        small = expit(-np.abs(d))
        large = 1 - small
        win = d >= 0
        return np.stack([np.where(win, large, small), np.where(win, small, large), np.zeros_like(d)], axis=-1)
    assert log_tie is not None, "the tie conventions with a tie parameter need it"
    if ties == "davidson":
        half = 0.5 * d
        m = np.maximum(np.abs(half), log_tie)
        u, v, nu = np.exp(half - m), np.exp(-half - m), np.exp(log_tie - m)
        z = u + v + nu
        return np.stack([u / z, v / z, nu / z], axis=-1)
    a, b = expit(d - log_tie), expit(-d - log_tie)
    # 1 - (a + b), not 1 - a - b: the sum is the same for (a, b) and (b, a), so swapping the two
    # contestants swaps P(i) and P(j) and leaves P(tie) unchanged exactly
    return np.stack([a, b, 1 - (a + b)], axis=-1)
