"""The one result vocabulary: every result echoes its settings and reads the same way.

:class:`Result` is the base of every result object in the package (fits, bootstraps, boards,
Elo and Glicko-2, ratings over time, category boards): ``settings`` (what produced it),
``to_frame()`` (always the per-model table, best first), ``summary()`` (readable text, like
statsmodels'), a one-line ``repr`` and ``_repr_html_`` (the top of the table, for notebooks).

:class:`RatingFit` is the base of the maximum-likelihood fits (plain Bradley-Terry, contextual,
both-bad): natural-scale ``params`` with their model-based and sandwich covariances, chosen
once and computed on first use, and everything derived from them -- Elo-scale ``ratings``,
``se``/``se_robust``, Wald ``intervals()``, and predictions (``predict_proba`` returns a
labelled DataFrame; ``win_probability`` of two names is a float).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from ..data.names import canonical_name
from ..errors import InputError, shorten, suggest
from .covariance import sandwich, wald_interval
from .elo_scale import EloScale
from .engine import constrained_inverse
from .families import TIE_PARAM_NAME, outcome_probabilities
from .sparse import DENSE_COV_MAX, KKTFactor

__all__ = ["Result", "RatingFit", "PROBA_COLUMNS", "HTML_ROWS"]

#: Rows of the per-model table shown by ``_repr_html_`` in a notebook.
HTML_ROWS = 20
#: Columns of every ``predict_proba``: the LMSYS Kaggle competition's names.
PROBA_COLUMNS = ("winner_model_a", "winner_model_b", "winner_tie")


class Result:
    """Base of every result: ``settings``, ``to_frame()``, ``summary()``, a short repr."""

    settings: dict[str, Any]

    def to_frame(self) -> pd.DataFrame:
        """The per-model table, best first."""
        raise NotImplementedError

    def summary(self) -> str:
        """Readable text."""
        raise NotImplementedError

    def _describe(self) -> str:
        """The middle of the one-line repr."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        more = f"<p>... {len(frame) - HTML_ROWS} more rows</p>" if len(frame) > HTML_ROWS else ""
        table = frame.head(HTML_ROWS).to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<div><p><code>{html.escape(repr(self))}</code></p>{table}{more}</div>"


def model_index(models: Sequence[str], names: Any) -> np.ndarray:
    """Positions of ``names`` (one name or many) in ``models``; unknown names are an error.

    A name is looked up as typed, then in its canonical text (the readers' name policy:
    surrounding whitespace, Unicode NFC, one text per number), as the battles' names were read.
    """
    lookup = {m: k for k, m in enumerate(models)}
    arr = np.atleast_1d(np.asarray(names, dtype=object))
    out = np.empty(len(arr), np.int64)
    for k, nm in enumerate(arr):
        if nm not in lookup:
            nm = canonical_name(nm)
            if nm not in lookup:
                raise InputError(f"unknown model {shorten(nm)}{suggest(nm, models)}")
        out[k] = lookup[nm]
    return out


def _is_scalar(x: Any) -> bool:
    return np.ndim(x) == 0


@dataclass(frozen=True, repr=False, eq=False)
class RatingFit(Result):
    """A maximum-likelihood rating fit (base of ``BTResult`` and ``ContextualResult``).

    Attributes
    ----------
    models : list of str
    theta : ndarray
        Strengths on the natural log scale, summing to zero.
    params : pandas.Series
        Every parameter on the natural scale: strengths, covariate coefficients (if any), then
        global parameters (``log_nu`` / ``log_eta`` for the tie conventions).
    information : ndarray
        The observed information (minus the Hessian of the penalised log-likelihood) at the
        optimum, natural scale.
    meat : ndarray or sparse matrix
        Sum over battles of the outer products of per-battle scores (for the sandwich).
    constraint : ndarray
        ``E`` of the constraints ``E' params = 0`` (the strengths sum to zero).
    loglik : float
        Penalised log-likelihood at the optimum (ties as half-wins under ``half``).
    n_iter : int
    grad_norm : float
        Norm of the gradient of the mean log-likelihood at the optimum.
    n_battles : float
    settings : dict
        ``ties, l2, scale, base, init, anchor, tol`` (and what the subclass adds).
    """

    models: list[str]
    theta: np.ndarray
    params: pd.Series
    information: Any
    meat: Any
    constraint: np.ndarray
    loglik: float
    n_iter: int
    grad_norm: float
    n_battles: float
    settings: dict[str, Any]

    # ------------------------------------------------------------------ scale
    @property
    def ties(self) -> str:
        return str(self.settings["ties"])

    @property
    def scale(self) -> EloScale:
        s = self.settings
        return EloScale(s["scale"], s["base"], s["init"], s.get("anchor"))

    @cached_property
    def offset(self) -> float:
        """The constant of ``rating = offset + factor * theta``: ``init``, or the anchor's shift."""
        return self.scale.offset(self.theta, self.models)

    @cached_property
    def ratings(self) -> pd.Series:
        """Elo-scale ratings (``offset + scale / ln(base) * theta``)."""
        r = self.scale.ratings(self.theta, self.models, self.offset)
        return pd.Series(r, index=pd.Index(self.models, name="model"), name="rating")

    @property
    def log_tie(self) -> float | None:
        """Log of the tie parameter (Davidson ``log nu``, Rao-Kupper ``tau``), else ``None``."""
        name = self._tie_name
        return None if name is None else float(self.params[name])

    @property
    def _tie_name(self) -> str | None:
        name = TIE_PARAM_NAME.get(self.ties)
        return None if name is None else f"log_{name}"

    # ------------------------------------------------------------------ covariances
    @cached_property
    def _factor(self) -> KKTFactor | None:
        """The sparse factorisation of a sparse information (thousands of models), else None."""
        return KKTFactor(self.information, self.constraint) if issparse(self.information) else None

    @property
    def _dense_ok(self) -> bool:
        """Whether dense covariances are formed without being asked (see ``DENSE_COV_MAX``)."""
        return self._factor is None or len(self.params) <= DENSE_COV_MAX

    @cached_property
    def cov_params(self) -> pd.DataFrame:
        """Model-based covariance of :attr:`params` (inverse observed information, constrained)."""
        if self._factor is not None:
            c = self._factor.dense()
        else:
            c = constrained_inverse(np.asarray(self.information), self.constraint)
        return pd.DataFrame(c, index=self.params.index, columns=self.params.index)

    def constrained_solver(self) -> Any:
        """The constrained inverse information as an operator: the dense matrix (``C``, so
        ``g @ C``) or, for a sparse information, its factorisation (``solve(g) = C g``)."""
        if self._factor is not None:
            return self._factor
        return self.cov_params.to_numpy()

    @cached_property
    def cov_params_robust(self) -> pd.DataFrame:
        """Sandwich (HC0) covariance of :attr:`params`."""
        c = sandwich(self.cov_params.to_numpy(), self.meat)
        return pd.DataFrame(c, index=self.params.index, columns=self.params.index)

    def _elo_cov(self, cov: pd.DataFrame) -> pd.DataFrame:
        n = len(self.models)
        idx = pd.Index(self.models, name="model")
        return pd.DataFrame(self.scale.factor ** 2 * cov.to_numpy()[:n, :n], index=idx, columns=idx)

    @property
    def cov(self) -> pd.DataFrame:
        """Covariance of the ratings, Elo points squared (the same whatever the anchor)."""
        return self._elo_cov(self.cov_params)

    @property
    def cov_robust(self) -> pd.DataFrame:
        """Sandwich covariance of the ratings, Elo points squared."""
        return self._elo_cov(self.cov_params_robust)

    @cached_property
    def _variances(self) -> tuple[np.ndarray, np.ndarray]:
        """Diagonals of the model-based and sandwich covariances of :attr:`params` (natural
        scale): from the dense matrices, or from block solves when they would be too large."""
        if self._dense_ok:
            return np.diag(self.cov_params.to_numpy()).copy(), np.diag(self.cov_params_robust.to_numpy()).copy()
        assert self._factor is not None
        fisher, robust = self._factor.diagonals(self.meat)
        assert robust is not None
        return fisher, robust

    def _cov_column(self, index: int, robust: bool) -> np.ndarray:
        """Column ``index`` of the model-based or sandwich covariance of :attr:`params`."""
        if self._dense_ok:
            return (self.cov_params_robust if robust else self.cov_params).to_numpy()[:, index].copy()
        assert self._factor is not None
        col = self._factor.columns(np.array([index]))[:, 0]
        return self._factor.solve(np.asarray(self.meat @ col)) if robust else col

    def _se(self, robust: bool) -> pd.Series:
        n = len(self.models)
        var = self._variances[1 if robust else 0][:n]
        se = self.scale.factor * np.sqrt(np.clip(var, 0.0, None))
        return pd.Series(se, index=pd.Index(self.models, name="model"), name="se_robust" if robust else "se")

    @cached_property
    def se(self) -> pd.Series:
        """Standard errors of the ratings from the observed information, Elo points."""
        return self._se(False)

    @cached_property
    def se_robust(self) -> pd.Series:
        """Sandwich standard errors of the ratings, Elo points."""
        return self._se(True)

    @property
    def tie_param(self) -> float | None:
        """``nu`` (Davidson) or ``eta = e^tau`` (Rao-Kupper); ``None`` otherwise."""
        lt = self.log_tie
        return None if lt is None else float(np.exp(lt))

    @property
    def tie_param_se(self) -> float | None:
        """Standard error of :attr:`tie_param` (delta method, model-based)."""
        name = self._tie_name
        if name is None:
            return None
        var = float(self._variances[0][self.params.index.get_loc(name)])
        return float(np.exp(self.params[name]) * np.sqrt(max(var, 0.0)))

    def intervals(self, confidence: float = 0.95, robust: bool = True, reference: str | None = None
                  ) -> tuple[pd.Series, pd.Series]:
        """Wald intervals of the ratings, ``rating -/+ z * se`` (sandwich errors by default).

        With ``reference`` the intervals are those of each model's *difference* from that
        model, placed around the model's rating (the reference's own interval has zero width).
        """
        n = len(self.models)
        var = self._variances[1 if robust else 0][:n]
        if reference is not None:
            # var(theta_m - theta_r) = C_mm + C_rr - 2 C_mr: the diagonal and one column
            r = int(model_index(self.models, reference)[0])
            var = var + var[r] - 2.0 * self._cov_column(r, robust)[:n]
            var[r] = 0.0
        se = self.scale.factor * np.sqrt(np.clip(var, 0.0, None))
        lo, hi = wald_interval(self.ratings.to_numpy(), se, confidence)
        idx = self.ratings.index
        return pd.Series(lo, index=idx, name="ci_lower"), pd.Series(hi, index=idx, name="ci_upper")

    # ------------------------------------------------------------------ predictions
    def linear_predictor(self, model_a: Any, model_b: Any) -> np.ndarray:
        """``theta_a - theta_b`` for each pair of names."""
        a, b = model_index(self.models, model_a), model_index(self.models, model_b)
        if len(a) != len(b):
            raise InputError(f"model_a has {len(a)} names but model_b has {len(b)}")
        return self.theta[a] - self.theta[b]

    def _proba_frame(self, model_a: Any, model_b: Any, p: np.ndarray) -> pd.DataFrame:
        a = np.atleast_1d(np.asarray(model_a, dtype=object))
        b = np.atleast_1d(np.asarray(model_b, dtype=object))
        index = pd.MultiIndex.from_arrays([a, b], names=["model_a", "model_b"])
        return pd.DataFrame(p, index=index, columns=list(PROBA_COLUMNS))

    def predict_proba(self, model_a: Any, model_b: Any) -> pd.DataFrame:
        """P(a wins), P(b wins), P(tie) of battles ``model_a`` against ``model_b``.

        One row per pair (``model_a, model_b`` as the index), columns ``winner_model_a,
        winner_model_b, winner_tie``; under ``half`` and ``drop`` the tie column is 0.
        """
        p = outcome_probabilities(self.linear_predictor(model_a, model_b), self.ties, self.log_tie)
        return self._proba_frame(model_a, model_b, p)

    def win_probability(self, model_a: Any, model_b: Any) -> Any:
        """P(a is preferred to b), a tie counting half: a float for two names, else an array."""
        p = self.predict_proba(model_a, model_b).to_numpy()
        out = p[:, 0] + 0.5 * p[:, 2]
        return float(out[0]) if _is_scalar(model_a) and _is_scalar(model_b) else out

    def win_probability_matrix(self, order: Sequence[str] | None = None) -> pd.DataFrame:
        """Predicted P(row beats column), ties counting half; diagonal 0.5."""
        d = self.theta[:, None] - self.theta[None, :]
        p = outcome_probabilities(d.ravel(), self.ties, self.log_tie)
        m = (p[:, 0] + 0.5 * p[:, 2]).reshape(d.shape)
        df = pd.DataFrame(m, index=pd.Index(self.models, name="model"),
                          columns=pd.Index(self.models, name="opponent"))
        return df.loc[list(order), list(order)] if order is not None else df

    # ------------------------------------------------------------------ reading
    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: ``model, rating, se, se_robust, theta``."""
        df = pd.DataFrame({"model": self.models, "rating": self.ratings.to_numpy(),
                           "se": self.se.to_numpy(), "se_robust": self.se_robust.to_numpy(),
                           "theta": self.theta})
        return df.sort_values(["rating", "model"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def _describe(self) -> str:
        return (f"ties={self.ties!r}, {len(self.models)} models, {self.n_battles:,.0f} battles, "
                f"loglik={self.loglik:.4f}")

    def _header(self, title: str, width: int = 64) -> list[str]:
        s = self.settings
        lines = [title, "=" * width,
                 f"ties: {s['ties']:<14} models: {len(self.models):<8} battles: {self.n_battles:,.0f}",
                 f"log-likelihood: {self.loglik:.4f}   iterations: {self.n_iter}   "
                 f"|grad| (mean ll): {self.grad_norm:.2e}",
                 f"scale: {s['scale']:g}  base: {s['base']:g}  init: {s['init']:g}  l2: {s.get('l2', 0.0):g}"
                 + (f"  anchor: {s['anchor']}" if s.get("anchor") else "")]
        if self.tie_param is not None:
            lines.append(f"tie parameter {TIE_PARAM_NAME[self.ties]}: {self.tie_param:.4f} "
                         f"(se {self.tie_param_se:.4f})")
        return lines

    def _model_lines(self, top: int | None) -> list[str]:
        frame = self.to_frame()
        lines = [f"{'model':<32} {'rating':>9} {'se':>7} {'se_robust':>9}"]
        for row in (frame.head(top) if top is not None else frame).itertuples(index=False):
            lines.append(f"{str(row.model)[:32]:<32} {row.rating:9.2f} {row.se:7.2f} {row.se_robust:9.2f}")
        if top is not None and len(self.models) > top:
            lines.append(f"... {len(self.models) - top} more models")
        return lines

    def summary(self, top: int | None = 20) -> str:
        """Settings, fit statistics and the top of the board, as text."""
        return "\n".join(self._header("Maximum-likelihood rating fit") + ["-" * 64] + self._model_lines(top))
