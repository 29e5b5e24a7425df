"""The one maximum-likelihood engine: damped Newton under linear constraints, for every fit.

Every fit in the package -- plain Bradley-Terry on pair counts (any tie convention, any
prior), contextual fits with covariates, the both-bad model, and the Dask fits whose sums run
on a cluster -- maximises a concave (or nearly concave) penalised log-likelihood over
parameters ``x`` subject to linear constraints ``E' x = 0`` (the strengths sum to zero; a model
that drew no battle in a bootstrap round is held at zero). An *objective* supplies the value,
gradient and Hessian for a batch of ``B`` parameter vectors at once (the bootstrap's fallback
fits many rounds together); this module supplies everything else, once:

* **The constrained Newton step.** With ``A = -H`` and ``M = A + E E'``, the step ``d`` and the
  multipliers ``mu`` solve ``M d + E mu = g``, ``E' d = 0``. Because ``E' d = 0``, ``M d = A d``,
  so this is exactly the KKT system of the quadratic model restricted to ``E' d = 0``, for any
  symmetric ``A`` that is positive definite on that subspace, and ``M`` is positive definite
  there too, so one Cholesky factorisation of ``M`` gives ``d``
  (``mu = (E' M^-1 E)^-1 E' M^-1 g``, a ``k x k`` system). When the null space of ``A`` is
  ``span(E)`` (the plain model without a prior) ``M^-1 E = E`` and ``mu = 0``: the familiar
  ``(A + E E')^-1 g``. Unlike that shortcut it stays right when the constrained direction is
  *not* a null direction: a prior on the strengths, or the both-bad model, whose likelihood
  moves when all strengths shift.
* **The covariance** of the constrained estimate is the same generalised inverse,
  ``M^-1 - M^-1 E (E' M^-1 E)^-1 E' M^-1`` (:func:`constrained_inverse`): zero variance along
  the constrained directions, the inverse information on the rest.
* **Line search.** Each batch member halves its step until the penalised log-likelihood does not
  decrease (a relative slack of :data:`LL_SLACK` absorbs round-off at the optimum).
* **The stopping rule** is on the Newton step itself: a member has converged when no parameter
  would move by more than :data:`STEP_TOL` (natural log units; 1e-8 is 1.7e-6 Elo points), and
  that last step is still taken, so the answer is exact to round-off (Newton converges
  quadratically). A step is invariant to the scale of the weights -- multiplying every
  weight by ``c`` multiplies ``g`` and ``A`` by ``c`` -- while a gradient norm is not: with one
  battle weighted 1e12 among ordinary ones, the mean gradient is tiny long before the other
  strengths have converged. The gradient norm of the mean log-likelihood is still reported.
* **Solves.** Small systems by one batched LU call; from :data:`CHOLESKY_MIN_DIM` unknowns by
  Cholesky (half the flops of LU), with LU where ``M`` is not positive definite (a Rao-Kupper fit
  far from its optimum) and a ridge where it is singular. An objective may return its Hessians
  as a list of sparse matrices (thousands of contestants, few comparisons each): then each step
  is one sparse factorisation of the bordered KKT system (:mod:`~arena_stats.models.sparse`).

Fast specialised kernels (the bootstrap's chord iterations, :mod:`~arena_stats.models.kernels`)
stay separate where a benchmark shows they must; they start from and fall back to this engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import ConvergenceError

__all__ = ["Objective", "NewtonResult", "newton", "constrained_step", "constrained_inverse",
           "project", "STEP_TOL", "GRAD_TOL", "MAX_ITER", "CHOLESKY_MIN_DIM"]

#: Converged when no parameter's Newton step exceeds this (natural log units): 1.7e-6 Elo points
#: before that last step is taken, round-off level after it (quadratic convergence).
STEP_TOL = 1e-8
#: Reported gradient norms (of the *mean* log-likelihood) above this are worth a second look; the
#: stopping rule is the step (see the module docstring), so this is a diagnostic threshold only.
GRAD_TOL = 1e-8
#: Levenberg-Marquardt damping of a Newton step that does not go uphill: ``mu`` starts at this
#: fraction of the information's mean diagonal and grows tenfold, at most :data:`LM_TRIES` times
#: (then the step is steepest ascent). Convex families never need it.
LM_START = 1e-3
LM_TRIES = 12
#: Newton iterations at most; a concave fit from a reasonable start needs 5-15.
MAX_ITER = 100
#: Step halvings at most before a line search gives up on a member.
MAX_HALVINGS = 40
#: Relative slack of the line search's "no decrease" test: round-off in a sum of many terms.
LL_SLACK = 1e-12
#: Systems of at least this many unknowns are solved by Cholesky factors instead of batched LU
#: (a 2,639-model Newton step: 0.25 s against 0.36 s).
CHOLESKY_MIN_DIM = 400


class Objective(Protocol):
    """A penalised log-likelihood for a batch of ``B`` parameter vectors of length ``dim``.

    ``constraint`` is the ``(dim, k)`` matrix ``E`` of the constraints ``E' x = 0``; ``total``
    the ``(B,)`` total battle weight (the reported gradient norm is that of the mean
    log-likelihood). ``value`` returns ``-inf`` where ``x`` is infeasible; ``derivatives``
    returns ``(loglik (B,), gradient (B, dim), Hessian (B, dim, dim) or None)``; ``subset``
    the objective of some batch members.
    """

    @property
    def dim(self) -> int: ...

    @property
    def constraint(self) -> np.ndarray: ...

    @property
    def total(self) -> np.ndarray: ...

    def value(self, x: np.ndarray) -> np.ndarray: ...

    def derivatives(self, x: np.ndarray, hessian: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]: ...

    def subset(self, rows: Any) -> Objective: ...


@dataclass
class NewtonResult:
    """The engine's answer for a batch: parameters, log-likelihood, Hessian and convergence."""

    x: np.ndarray
    loglik: np.ndarray
    gradient: np.ndarray
    hessian: Any
    n_iter: int
    grad_norm: np.ndarray
    converged: np.ndarray


def project(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``x`` moved onto ``{x : E' x = 0}`` (orthogonal projection; rows of ``x`` are points)."""
    if e.shape[1] == 0:
        return x
    coef = np.linalg.solve(e.T @ e, (x @ e).T).T
    return x - coef @ e.T


def _cholesky_solve(m: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``m^-1 rhs`` for one symmetric matrix: Cholesky, else LU, else a small ridge."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve
    try:
        return cho_solve(cho_factor(m, check_finite=False), rhs, check_finite=False)
    except LinAlgError:
        pass
    try:
        return np.linalg.solve(m, rhs)
    except np.linalg.LinAlgError:
        w = np.linalg.eigvalsh(m)
        ridge = max(1e-10 * max(float(np.abs(w).max()), 1.0), -float(w.min()) * 1.5 + 1e-8)
        return np.linalg.solve(m + ridge * np.eye(len(m)), rhs)


def _solve_many(m: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``m[b]^-1 rhs[b]`` for a batch of symmetric matrices ``(B, d, d)`` and ``(B, d, r)``."""
    if m.shape[-1] < CHOLESKY_MIN_DIM:
        try:
            return np.linalg.solve(m, rhs)
        except np.linalg.LinAlgError:
            pass  # a singular member: solve them one by one, with the ridge where needed
    return np.stack([_cholesky_solve(m[b], rhs[b]) for b in range(m.shape[0])])


def constrained_step(a: Any, g: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The Newton step ``d`` with ``E' d = 0`` for a batch: ``a (B, d, d)``, ``g (B, d)``.

    Solves ``(A + E E') d + E mu = g``, ``E' d = 0`` (see the module docstring). ``a`` may be a
    list of sparse matrices: then each member's bordered system is factored sparsely.
    """
    if isinstance(a, list):
        from .sparse import KKTFactor
        steps, order = [], None
        for b in range(len(a)):  # one pattern: the first member's elimination order serves all
            factor = KKTFactor(a[b], e, order)
            steps.append(factor.solve(g[b]))
            order = factor.order if factor.order is not None else order
        return np.stack(steps)
    k = e.shape[1]
    m = a + (e @ e.T)[None]
    rhs = np.concatenate([g[:, :, None], np.broadcast_to(e, (g.shape[0],) + e.shape)], axis=2)
    sol = _solve_many(m, rhs)
    d, m_e = sol[:, :, 0], sol[:, :, 1:]
    if k == 0:
        return d
    # mu = (E' M^-1 E)^-1 E' M^-1 g; d = M^-1 g - M^-1 E mu
    et_me = np.einsum("ik,bil->bkl", e, m_e)
    et_d = d @ e
    mu = np.linalg.solve(et_me, et_d[:, :, None])[:, :, 0]
    return d - np.einsum("bik,bk->bi", m_e, mu)


def constrained_inverse(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The inverse of ``a (d, d)`` on ``{x : E' x = 0}``: the covariance of a constrained MLE.

    ``M^-1 - M^-1 E (E' M^-1 E)^-1 E' M^-1`` with ``M = A + E E'``; from
    :data:`CHOLESKY_MIN_DIM` on through ``M``'s Cholesky factor.
    """
    m = a + e @ e.T
    m_inv = _inverse(m)
    if e.shape[1] == 0:
        return m_inv
    m_e = m_inv @ e
    return m_inv - m_e @ np.linalg.solve(e.T @ m_e, m_e.T)


def _inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric (usually positive definite) matrix; from :data:`CHOLESKY_MIN_DIM`
    on through its Cholesky factor (half the flops of LU: 0.6 s instead of 1.3 s at 2,639
    models), by LU where it is not positive definite."""
    if m.shape[0] < CHOLESKY_MIN_DIM:
        return np.linalg.inv(m)
    from scipy.linalg.lapack import dpotrf, dpotri
    factor, info = dpotrf(m, lower=True)
    if info == 0:
        inv, info = dpotri(factor, lower=True)
        if info == 0:
            return np.tril(inv) + np.tril(inv, -1).T
    return np.linalg.inv(m)


def _line_search(obj: Objective, x: np.ndarray, ll: np.ndarray, step: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Halve each member's step until its log-likelihood does not decrease."""
    e = obj.constraint
    t = np.ones(x.shape[0])
    x_new = project(x + step, e)
    ll_new = _finite(obj.value(x_new))
    for _ in range(MAX_HALVINGS):
        bad = ~(ll_new >= ll - LL_SLACK * np.abs(ll))
        if not bad.any():
            break
        t[bad] *= 0.5
        rows = np.flatnonzero(bad)
        x_new[rows] = project(x[rows] + t[rows, None] * step[rows], e)
        ll_new[rows] = _finite(obj.subset(rows).value(x_new[rows]))
    else:
        # no ascent along the step (round-off at the optimum): those members stay where they are
        bad = ~(ll_new >= ll - LL_SLACK * np.abs(ll))
        x_new[bad], ll_new[bad] = x[bad], ll[bad]
    return x_new, ll_new


def _finite(v: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(v), v, -np.inf)


def newton(obj: Objective, x0: np.ndarray, *, max_iter: int = MAX_ITER, step_tol: float = STEP_TOL,
           raise_on_failure: bool = False) -> NewtonResult:
    """Maximise ``obj`` from ``x0 (B, dim)`` by damped, constrained Newton steps.

    Returns the parameters, log-likelihood, gradient, Hessian (at the answer), the iterations of
    the slowest member, the gradient norm of the mean log-likelihood and which members converged
    (their last Newton step moved no parameter by more than ``step_tol``).

    Raises
    ------
    ConvergenceError
        With ``raise_on_failure``, when a member did not converge in ``max_iter`` iterations.
    """
    e = obj.constraint
    x = project(np.array(x0, dtype=np.float64, copy=True), e)
    ll, g, h = obj.derivatives(x)
    assert h is not None
    converged = np.zeros(x.shape[0], bool)
    n_iter = 0
    while n_iter < max_iter and not converged.all():
        n_iter += 1
        rows = np.flatnonzero(~converged)
        sub = obj if len(rows) == x.shape[0] else obj.subset(rows)
        a = _negated(h, rows)
        step = constrained_step(a, g[rows], e)
        step = _ascent(a, g[rows], e, step)
        small = np.abs(step).max(axis=1) <= step_tol
        x_new, ll_new = _line_search(sub, x[rows], ll[rows], step)
        ll_n, g_n, h_n = sub.derivatives(x_new)
        assert h_n is not None
        x[rows], ll[rows], g[rows] = x_new, ll_n, g_n
        if isinstance(h, list):
            for k, r in enumerate(rows):
                h[r] = h_n[k]
        else:
            h[rows] = h_n
        converged[rows[small]] = True
    grad_norm = _grad_norm(g, e, obj.total)
    if raise_on_failure and not converged.all():
        worst = float(grad_norm[~converged].max())
        raise ConvergenceError(f"Newton did not converge in {max_iter} iterations (|grad| of the mean "
                               f"log-likelihood = {worst:.3g})")
    return NewtonResult(x, ll, g, h, n_iter, grad_norm, converged)


def _ascent(a: Any, g: np.ndarray, e: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Steps that go uphill: where the Newton step does not (``g . d <= 0``: the information is
    indefinite there, as in the both-bad or Rao-Kupper models far from their optimum, and no
    halving of the step can help), a Levenberg-Marquardt step ``(A + mu I)^-1 g`` with ``mu``
    raised tenfold from :data:`LM_START` x the mean diagonal until it goes uphill."""
    p = project(g, e)
    bad = np.flatnonzero(((p * step).sum(axis=1) <= 0) & (np.abs(p).max(axis=1) > 0))
    if len(bad) == 0:
        return step
    step = step.copy()
    for b in bad:
        member = a[b]
        dense = not hasattr(member, "tocsc")
        scale = float(np.mean(np.abs(np.diagonal(member) if dense else member.diagonal()))) or 1.0
        mu = LM_START * scale
        for _ in range(LM_TRIES):
            if dense:
                damped = member + mu * np.eye(member.shape[0])
                d = constrained_step(damped[None], g[b][None], e)[0]
            else:
                from scipy.sparse import identity
                d = constrained_step([(member + mu * identity(member.shape[0], format="csc")).tocsc()],
                                     g[b][None], e)[0]
            if float(p[b] @ d) > 0:
                step[b] = d
                break
            mu *= 10.0
        else:
            step[b] = p[b] / scale  # steepest ascent, scaled by the curvature's size
    return step


def _negated(h: Any, rows: np.ndarray) -> Any:
    """``-h[rows]`` for a dense batch of Hessians or a list of sparse ones."""
    if isinstance(h, list):
        return [-h[r] for r in rows]
    return -h[rows]


def _grad_norm(g: np.ndarray, e: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Norm of the feasible part of the gradient of the mean log-likelihood."""
    return np.linalg.norm(project(g, e), axis=1) / np.where(total > 0, total, 1.0)
