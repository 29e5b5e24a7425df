"""The bootstrap of contextual fits (covariates, style control): battles or clusters resampled.

Each round draws how often each unit (cell or row) of the design is resampled --
``Multinomial(N, c/N)`` over the units for the battle bootstrap, or the units' cluster
multiplicities ``Multinomial(C, 1/C)`` for ``cluster=`` -- with the exact table sampler of
:mod:`~arena_stats.inference.resample`, and refits from the full-data estimate: chord
iterations ``phi += C g(phi)`` with ``C`` the point fit's constrained inverse information (its
``cov_params``), which converge fast because a resample's information differs from the full
data's by a few percent; rounds that do not converge, or in which a model drew no battle (held
at zero by the engine's constraints), take the engine's Newton steps. Every chunk of rounds has
its own random stream spawned from ``seed``, so the numbers do not depend on ``threads``.

Results are summarised by :func:`~arena_stats.inference.bootstrap.summarise`, as the plain
bootstrap's: the point fit's Elo offset (an anchor is a pure shift), percentile intervals, the
rank distribution; plus the coefficients' percentile intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from .._util.parallel import THREADS, run_chunks
from .._util.progress import progress as progress_bar
from ..data.battles import Battles
from ..errors import InputError
from ..models.contextual import (
    DIVERGED_THETA,
    Assembler,
    ContextualObjective,
    ContextualResult,
    Design,
    DesignTerms,
    Family,
    active_models,
    check_existence,
    constraint_matrix,
    fit_settings,
    make_result,
    prepare,
    resolve_covariate_l2,
    run_fit,
)
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from ..models.engine import MAX_ITER, STEP_TOL, newton
from .bootstrap import (
    CHUNK,
    DEFAULT_CONFIDENCE,
    DEFAULT_ROUNDS,
    DEGENERATE_L2,
    BootstrapResult,
    percentile_interval,
    summarise,
)
from .resample import MultinomialSampler
from .samples import plan_memory

__all__ = ["ContextualBootstrap", "bootstrap_contextual", "resample_fits", "CHORD_ITER"]

#: Chord iterations a bootstrap round may take before it falls back to Newton steps.
CHORD_ITER = 40
#: A round's chord iterations stop when no parameter moves by more than this (natural units).
CHORD_STEP_TOL = 1e-9


@dataclass(frozen=True, repr=False, eq=False)
class ContextualBootstrap(BootstrapResult):
    """Bootstrap distribution of contextual ratings and coefficients.

    A :class:`~arena_stats.inference.bootstrap.BootstrapResult` (``samples``, ``ci_lower``,
    ``ci_upper``, ``ranks``, ``p_top``, ``to_frame()``) whose ``point`` is a
    :class:`~arena_stats.models.contextual.ContextualResult`, plus:

    Attributes
    ----------
    beta : pandas.DataFrame
        Rounds x covariates, natural scale.
    beta_ci_lower, beta_ci_upper : pandas.Series
        Percentile intervals of the coefficients.

    ``samples`` is NaN where a model drew no battle in a round. ``n_degenerate`` counts rounds
    whose resample had no finite MLE (a model that never scored or never conceded; kept, with
    large finite strengths, as in the plain bootstrap) plus rounds whose refit failed (left out).
    """

    beta: pd.DataFrame = field(default_factory=pd.DataFrame)
    beta_ci_lower: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    beta_ci_upper: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def coef_frame(self) -> pd.DataFrame:
        """Covariate coefficients with their bootstrap sd and percentile interval."""
        point = self.point
        assert isinstance(point, ContextualResult)
        return pd.DataFrame({"coef": point.beta, "sd": self.beta.std(axis=0, ddof=1),
                             "ci_lower": self.beta_ci_lower, "ci_upper": self.beta_ci_upper})

    def summary(self, top: int | None = 20) -> str:
        """The plain bootstrap summary with the coefficients' intervals after its header."""
        lines = super().summary(top).split("\n")
        if len(self.beta.columns):
            coef = self.coef_frame().to_string(float_format=lambda v: f"{v:.4f}")
            lines[2:2] = ["-" * 72, coef]
        return "\n".join(lines)


def _chord(obj: ContextualObjective, phi0: np.ndarray, step: np.ndarray, max_iter: int = CHORD_ITER
           ) -> tuple[np.ndarray, bool]:
    """Iterate ``phi += C g(phi)`` with the full-data constrained inverse information ``C``."""
    phi = phi0.copy()
    for _ in range(max_iter):
        g = obj.gradient(phi)
        if not np.isfinite(g).all():
            return phi, False
        move = step @ g
        phi = phi + move
        if np.abs(move).max() <= CHORD_STEP_TOL:
            return phi, True
    return phi, False


def _degenerate(asm: Assembler, prep: Any, mult: np.ndarray, active: np.ndarray) -> bool:
    """Whether some model in the resample never scored, or never conceded (no finite MLE).

    A tie scores both ways, as in :func:`~arena_stats.models.existence.check_mle_exists`.
    """
    if isinstance(prep, tuple):
        fa, fb, ft = prep
    else:  # one-hot verdicts (a, b, tie, both bad)
        fa, fb, ft = prep[:, 0], prep[:, 1], prep[:, 2] + prep[:, 3]
    score_i = np.add.reduceat(mult * (fa + ft), asm.starts)
    score_j = np.add.reduceat(mult * (fb + ft), asm.starts)
    n = asm.n
    scored = np.bincount(asm.pi, score_i, n) + np.bincount(asm.pj, score_j, n)
    conceded = np.bincount(asm.pi, score_j, n) + np.bincount(asm.pj, score_i, n)
    return bool(((scored <= 0) | (conceded <= 0))[active].any())


def _round_fit(d: Design, family: Family, penalties: tuple[float, float], counts: np.ndarray,
               point_phi: np.ndarray, prep: Any, asm: Assembler, step: np.ndarray, tol: float
               ) -> tuple[np.ndarray, bool]:
    """Refit one resample (unit multiplicities ``counts``) from the full-data fit.

    Returns the parameters (NaN when the refit failed) and whether the resample has no finite
    MLE. Such rounds are kept, as the plain bootstrap keeps them: fitted with the tiny ridge
    :data:`~arena_stats.inference.bootstrap.DEGENERATE_L2` on the strengths, which puts the
    unbounded model at a large but finite strength -- "unbounded", said honestly.
    """
    mult = counts * d.weight
    active = active_models(d, mult)
    degenerate = _degenerate(asm, prep, mult, active)
    if degenerate:
        penalties = (max(penalties[0], DEGENERATE_L2), penalties[1])
    terms = DesignTerms(d, family, mult, prep, asm)
    n = d.n_models
    dim = n + d.p + family.n_global
    ok = False
    if active.all():
        obj = ContextualObjective(terms, family, n, d.p, *penalties)
        phi, ok = _chord(obj, point_phi, step)
    if not ok:
        # a model drew no battle, or the resample is far from the full data: Newton steps
        obj = ContextualObjective(terms, family, n, d.p, *penalties,
                                  constraint=constraint_matrix(n, dim, None if active.all() else active))
        start = point_phi.copy()
        start[:n][~active] = 0.0
        start[:n][active] -= start[:n][active].mean()
        res = newton(obj, start[None], max_iter=MAX_ITER, step_tol=tol)
        phi, ok = res.x[0], bool(res.converged[0])
    if not ok or np.abs(phi[:n]).max() > DIVERGED_THETA:
        return np.full_like(phi, np.nan), True
    out = phi.copy()
    out[:n][~active] = np.nan
    return out, degenerate


def resample_fits(d: Design, family: Family, point_phi: np.ndarray, step: np.ndarray, *, rounds: int, seed: int,
                  l2: float = 0.0, covariate_l2: float = 0.0, tol: float = STEP_TOL, threads: int = THREADS,
                  progress: bool = False, memory: Any = None) -> tuple[np.ndarray, int]:
    """Parameter vectors ``(rounds, dim)`` of refits on bootstrap resamples of ``d``.

    ``d`` is the design the point fit ran on, ``point_phi`` its parameters and ``step`` its
    constrained inverse information. Also returns how many rounds had no finite MLE or failed
    (NaN rows).
    """
    prep = family.prepare(d)
    asm = Assembler(d, family)
    clusters = None
    if d.cluster is not None:
        clusters = pd.factorize(d.cluster)[0]
        n_clusters = int(clusters.max()) + 1
    n_chunks = -(-rounds // CHUNK)
    streams = np.random.SeedSequence(seed).spawn(n_chunks)
    n_total = int(round(d.n_battles))
    if clusters is None and not np.allclose(d.count, np.round(d.count)):
        raise InputError("the battle bootstrap needs whole-number battle counts; use cluster=")

    # built once: the rows' counts take few distinct values (mostly 1), so the tables are tiny
    sampler = (MultinomialSampler(n_clusters, np.ones(n_clusters)) if clusters is not None
               else MultinomialSampler(n_total, d.count))
    # a thread refits one round at a time over the design's units; the rounds' parameters stay
    plan = plan_memory(rounds, len(point_phi), d.n_units, threads, memory)
    if plan.on_disk:
        raise InputError(f"{rounds:,} rounds of a contextual bootstrap need more memory than the budget "
                         f"({plan.budget:,} bytes); ask for fewer rounds or raise the budget")
    threads = plan.threads

    def chunk(c: int) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(streams[c])
        size = min(CHUNK, rounds - c * CHUNK)
        rows, flags = [], []
        for _ in range(size):
            # one draw at a time: a chunk of row-level draws would not fit in memory
            if clusters is not None:
                draw = sampler.draw(rng, 1)[0][clusters] * d.count
            else:
                draw = sampler.draw(rng, 1)[0].astype(np.float64)
            phi, flag = _round_fit(d, family, (l2, covariate_l2), draw, point_phi, prep, asm, step, tol)
            rows.append(phi)
            flags.append(flag)
        return np.vstack(rows), int(sum(flags))

    out, n_degenerate = [], 0
    with progress_bar(rounds, "bootstrap", enabled=progress) as bar:
        for phis, deg in run_chunks(chunk, n_chunks, threads=threads):
            out.append(phis)
            n_degenerate += deg
            bar.update(len(phis))
    return np.vstack(out), n_degenerate


def bootstrap_contextual(battles: Battles | pd.DataFrame,
                         covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                         ties: str = "half", *, rounds: int = DEFAULT_ROUNDS, seed: int = 0,
                         confidence: float = DEFAULT_CONFIDENCE, cluster: str | None = None,
                         position: bool = False, l2: float = 0.0, covariate_l2: float | None = None,
                         scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                         anchor: Mapping[str, float] | None = None, tol: float = STEP_TOL,
                         threads: int = THREADS, progress: bool = False, memory: Any = None) -> ContextualBootstrap:
    """Percentile bootstrap of a contextual fit: battles or whole clusters resampled.

    Parameters
    ----------
    battles, covariates, ties, position, l2, covariate_l2, scale, base, init, anchor, tol
        As in :func:`~arena_stats.models.contextual.fit_contextual`.
    rounds : int
        Bootstrap rounds (default 1000, as every bootstrap in the package).
    seed : int
    confidence : float
    cluster : str, optional
        Column whose values are resampled as whole clusters (voter, prompt ...).
    threads : int
        Worker threads (numpy releases the GIL in the heavy loops).
    progress : bool
        Progress bar on stderr (when it is a terminal).
    memory : int or str, optional
        Memory budget (bytes or ``"2G"``; default half the available memory): it limits the
        threads, and a request that cannot fit is refused before it starts.

    Returns
    -------
    ContextualBootstrap

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> sim = simulate_arena(5, 4000, seed=1)
    >>> boot = bootstrap_contextual(sim.battles, position=True, rounds=20, seed=3)
    >>> boot.beta.shape, bool((boot.ci_lower <= boot.point.ratings).all())
    ((20, 1), True)
    """
    rounds = checks.integer("rounds", rounds, 1, checks.MAX_ROUNDS)
    confidence = checks.probability("confidence", confidence)
    seed = checks.seed(seed)
    l2, covariate_l2 = resolve_covariate_l2(l2, covariate_l2, "bootstrap_contextual")
    d, family, counts = prepare(battles, covariates, ties, position, cluster=cluster)
    settings = fit_settings(ties, d.covariates, position, l2, covariate_l2, scale, base, init, anchor, tol,
                            d.reduced)
    check_existence(counts, ties, settings["l2"])
    res, obj = run_fit(d, family, l2=settings["l2"], covariate_l2=settings["covariate_l2"], tol=settings["tol"],
                       counts=counts)
    point = make_result(res, obj, family, settings, d.n_battles, d.models, d.covariates, obj.terms.d.n_units)
    phis, n_degenerate = resample_fits(obj.terms.d, family, point.params.to_numpy(), point.cov_params.to_numpy(),
                                       rounds=rounds, seed=seed, l2=settings["l2"],
                                       covariate_l2=settings["covariate_l2"], tol=settings["tol"], threads=threads,
                                       progress=progress, memory=memory)
    return summarise_contextual(point, phis, confidence, n_degenerate,
                                dict(settings, rounds=rounds, seed=seed, cluster=cluster, confidence=confidence))


def summarise_contextual(point: ContextualResult, phis: np.ndarray, confidence: float, n_degenerate: int,
                         settings: dict[str, Any]) -> ContextualBootstrap:
    """The bootstrap result of contextual refits ``phis (rounds, dim)`` (failed rounds left out)."""
    n, p = len(point.models), len(point.covariates)
    ok = np.isfinite(phis[:, n:]).all(axis=1) & np.isfinite(phis[:, :n]).any(axis=1)
    beta = pd.DataFrame(phis[ok, n:n + p], columns=pd.Index(point.covariates, name="covariate"))
    b_lo, b_hi = percentile_interval(beta.to_numpy(), confidence) if p else (np.zeros(0), np.zeros(0))
    return summarise(point, phis[ok, :n], confidence, n_degenerate, settings, ContextualBootstrap, beta=beta,
                     beta_ci_lower=pd.Series(b_lo, index=beta.columns, name="ci_lower"),
                     beta_ci_upper=pd.Series(b_hi, index=beta.columns, name="ci_upper"))
