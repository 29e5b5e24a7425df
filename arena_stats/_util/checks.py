"""Argument checks at the boundary: every numeric option is finite and in range, or a clear error.

The API and the CLI call the same checks, so ``--confidence 1.5`` and ``confidence=1.5`` get the
same message, naming the option by its one name (the API keyword; the CLI option is the same
word with dashes). NaN fails every check: comparisons with NaN are false, so each check is
written as "not (value in range)".
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import InputError

__all__ = ["finite", "positive", "non_negative", "probability", "integer", "seed", "weight_spread", "MAX_ROUNDS",
           "MAX_WEIGHT_SPREAD"]

#: The most bootstrap rounds any function accepts: far beyond any use (percentile intervals are
#: stable to a tenth of a point by 10,000 rounds), and a typo like ``1e9`` fails at once instead
#: of growing memory until the process is killed.
MAX_ROUNDS = 1_000_000
#: The largest ratio of the largest to the smallest positive battle weight a fit accepts. A
#: double carries ~16 digits: beyond ~1e13 the light battles' part of a heavy model's gradient
#: is below the round-off of the heavy one's, and their evidence is lost without a word.
MAX_WEIGHT_SPREAD = 1e13


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None


def finite(name: str, value: Any) -> float:
    """``value`` as a finite float.

    Examples
    --------
    >>> finite("init", "1000")
    1000.0
    """
    v = _number(name, value)
    if not math.isfinite(v):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return v


def positive(name: str, value: Any) -> float:
    """``value`` as a finite float greater than zero."""
    v = _number(name, value)
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{name} must be a finite number greater than 0, got {value!r}")
    return v


def non_negative(name: str, value: Any) -> float:
    """``value`` as a finite float that is at least zero."""
    v = _number(name, value)
    if not (math.isfinite(v) and v >= 0):
        raise InputError(f"{name} must be a finite number of at least 0, got {value!r}")
    return v


def probability(name: str, value: Any) -> float:
    """``value`` strictly between 0 and 1 (an interval level).

    Examples
    --------
    >>> probability("confidence", 0.95)
    0.95
    """
    v = _number(name, value)
    if not (0 < v < 1):
        raise InputError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return v


def integer(name: str, value: Any, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (a float with an integral value is accepted)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    out: int | None = None
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        out = int(value.strip())  # exactly, however long (a float would round a 20-digit seed)
    else:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a whole number, got {value!r}") from None
        if not (math.isfinite(v) and v == int(v)):
            raise InputError(f"{name} must be a whole number, got {value!r}")
        out = int(v)
    if out < minimum or (maximum is not None and out > maximum):
        bound = f"at least {minimum:,}" if maximum is None else f"between {minimum:,} and {maximum:,}"
        raise InputError(f"{name} must be {bound}, got {out:,}")  # 0, not the parser's 0.0
    return out


def seed(value: Any) -> int:
    """A random seed: a whole number from 0 to 2**63 - 1 (what numpy's SeedSequence takes)."""
    return integer("seed", value, 0, 2**63 - 1)


def weight_spread(weights: Any) -> None:
    """Refuse battle weights whose spread a double cannot carry (:data:`MAX_WEIGHT_SPREAD`)."""
    import numpy as np
    w = np.asarray(weights, dtype=np.float64)
    positive = w[w > 0]
    if not len(positive):
        raise InputError("every battle has zero weight")
    spread = float(positive.max() / positive.min())
    if not spread <= MAX_WEIGHT_SPREAD:
        raise InputError(f"the battle weights span a factor of {spread:.3g} (largest / smallest positive "
                         f"weight); at most {MAX_WEIGHT_SPREAD:.0e} can be fitted exactly in double "
                         "precision: rescale or cap the extreme weights")
