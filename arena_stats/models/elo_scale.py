"""The Elo scale and the anchor: natural-log strengths to reported ratings, in one place.

``rating = offset + (scale / ln(base)) * (theta - mean(theta))``, so that
``P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale))``. The offset is ``init`` (ratings
average ``init``, 1000 by default) unless an **anchor** ``{model: rating}`` pins one model: then
the offset is chosen so that, *in the point fit*, that model has that rating.

An anchor is a pure shift. Every reported rating moves by the same constant, fixed once by the
point fit, and nothing else changes: bootstrap rounds are shifted by that same constant (not
re-anchored round by round), covariances and interval widths are those of the centred ratings,
and ranks cannot depend on which model anchors. (Re-anchoring each round would report the
uncertainty of *differences from the anchor model*: its interval collapses to zero width and
the others widen. That is a different question, asked explicitly with ``reference=``; see
:func:`~arena_stats.models.covariance.difference_cov`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._util import checks
from ..data.names import canonical_name
from ..errors import InputError, shorten, suggest

__all__ = ["EloScale", "DEFAULT_SCALE", "DEFAULT_BASE", "DEFAULT_INIT", "elo_transform"]

DEFAULT_SCALE = 400.0
DEFAULT_BASE = 10.0
DEFAULT_INIT = 1000.0


@dataclass(frozen=True)
class EloScale:
    """How strengths are reported: ``scale``, ``base``, the mean rating ``init``, an ``anchor``.

    Examples
    --------
    >>> s = EloScale(anchor={"b": 1200.0})
    >>> s.ratings(np.array([0.5, -0.5]), ["a", "b"]).round(2).tolist()
    [1373.72, 1200.0]
    """

    scale: float = DEFAULT_SCALE
    base: float = DEFAULT_BASE
    init: float = DEFAULT_INIT
    anchor: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", checks.positive("scale", self.scale))
        base = checks.finite("base", self.base)
        if not base > 1:
            raise InputError(f"base must be a finite number greater than 1, got {self.base!r}")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "init", checks.finite("init", self.init))
        if self.anchor:
            if len(self.anchor) != 1:
                raise InputError("anchor takes exactly one MODEL=RATING")
            (name, value), = self.anchor.items()
            object.__setattr__(self, "anchor", {str(name): checks.finite("anchor rating", value)})
        else:
            object.__setattr__(self, "anchor", None)

    @property
    def factor(self) -> float:
        """Elo points per natural-log unit of strength: ``scale / ln(base)`` (173.7 by default)."""
        return self.scale / float(np.log(self.base))

    def offset(self, theta: np.ndarray, models: Sequence[str]) -> float:
        """The constant added to the centred ratings: ``init``, or what puts the anchor model at
        its rating in the point fit ``theta``."""
        if not self.anchor:
            return self.init
        (name, value), = self.anchor.items()
        models = list(models)
        if name not in models:
            name = canonical_name(name)  # as the battles' names were read
        if name not in models:
            raise InputError(f"anchor model {shorten(name)} is not among the fitted models{suggest(name, models)}")
        centred = self.factor * (theta[models.index(name)] - float(np.mean(theta)))
        return float(value) - centred

    def ratings(self, theta: np.ndarray, models: Sequence[str], offset: float | None = None) -> np.ndarray:
        """Ratings of ``theta (..., n)``; ``offset`` (default: :meth:`offset` of ``theta``) shifts
        them, so bootstrap rounds pass the point fit's offset."""
        theta = np.asarray(theta, dtype=np.float64)
        if offset is None:
            if self.anchor and theta.ndim != 1:
                raise ValueError("anchored ratings of a batch need the point fit's offset")
            offset = self.offset(theta, models) if theta.ndim == 1 else self.init
        return offset + self.factor * (theta - np.nanmean(theta, axis=-1, keepdims=True))

    def as_dict(self) -> dict[str, Any]:
        """The settings as reported: ``scale, base, init, anchor``."""
        return {"scale": self.scale, "base": self.base, "init": self.init,
                "anchor": dict(self.anchor) if self.anchor else None}


def elo_transform(theta: np.ndarray, models: Sequence[str], scale: float, base: float, init: float,
                  anchor: Mapping[str, float] | None) -> np.ndarray:
    """Ratings of sum-zero strengths ``theta (..., n)``: :meth:`EloScale.ratings` (kept for old code)."""
    return EloScale(scale, base, init, anchor).ratings(theta, models)
