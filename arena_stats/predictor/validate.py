"""Reading a saved model as data: every field checked, a clear error naming the field.

A model file is a description (numbers, names from fixed sets, arrays of fixed shapes), never
behaviour: no regular expression, code or pickled object is read from it. Every field that
:class:`.model.PreferencePredictor` uses is checked for its type, shape, finiteness and allowed
values; anything else is an :class:`~arena_stats.errors.InputError` that names the file and the
field (``model field 'combiner.beta[3]': expected a finite number, got 'x'``), never a traceback.
JSON's non-standard ``NaN`` / ``Infinity`` constants are refused while parsing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NoReturn

import numpy as np

from ..errors import InputError

__all__ = ["ModelReader", "parse_json"]

#: Longest excerpt of an offending value quoted in an error message.
_SHOW = 40


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOW else text[:_SHOW] + "..."


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"non-finite number {name} (JSON has no such constant)")


def parse_json(text: str, file: str | None = None) -> Any:
    """``json.loads`` that refuses NaN / Infinity and reports any failure as an InputError."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError("not a model file (JSON nested too deeply)", file=file) from None
    except ValueError as exc:
        raise InputError(f"not a JSON model file ({exc})", file=file) from None


class ModelReader:
    """Typed access to a parsed model file, raising InputError with the field's path."""

    def __init__(self, file: str | None = None) -> None:
        self.file = file

    def fail(self, path: str, expected: str, got: Any = ...) -> NoReturn:
        tail = "" if got is ... else f", got {_show(got)}"
        raise InputError(f"model field {path!r}: expected {expected}{tail}", file=self.file)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "an object", value)
        return value

    def field(self, d: dict[str, Any], key: str, path: str) -> Any:
        if key not in d:
            self.fail(f"{path}.{key}" if path else key, "a value (the field is missing)")
        return d[key]

    def string(self, value: Any, path: str, choices: Iterable[str] | None = None) -> str:
        if not isinstance(value, str):
            self.fail(path, "a string", value)
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                self.fail(path, "one of " + ", ".join(repr(c) for c in allowed), value)
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "true or false", value)
        return value

    def number(self, value: Any, path: str, *, minimum: float | None = None, positive: bool = False,
               integer: bool = False, allow_inf: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, "an integer" if integer else "a finite number", value)
        if integer and not isinstance(value, int):
            self.fail(path, "an integer", value)
        if not allow_inf and not np.isfinite(value):
            self.fail(path, "a finite number", value)
        if positive and not value > 0:
            self.fail(path, "a positive number", value)
        if minimum is not None and not value >= minimum:
            self.fail(path, f"a number >= {minimum:g}", value)
        return value

    def array(self, value: Any, path: str, *, shape: tuple[int, ...] | None = None, positive: bool = False,
              minimum: float | None = None, integer: bool = False) -> np.ndarray:
        """A numeric array of the given shape (``None`` for one dimension of any length)."""
        ndim = len(shape) if shape is not None else 1
        if not isinstance(value, list):
            self.fail(path, f"a list of {'integers' if integer else 'numbers'}", value)
        flat = value
        for _ in range(ndim - 1):
            if not all(isinstance(r, list) for r in flat):
                self.fail(path, f"a {ndim}-dimensional list")
            flat = [x for r in flat for x in r]
        for k, x in enumerate(flat):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or (integer and not isinstance(x, int)):
                self.fail(f"{path}[{k}]", "an integer" if integer else "a finite number", x)
        arr = np.asarray(value, dtype=np.int64 if integer else float)
        if shape is not None:
            want = tuple(len(value) if s is None else s for s in shape)
            if arr.shape != want:
                self.fail(path, f"shape {want}", f"shape {arr.shape}")
        bad = ~np.isfinite(arr) if not integer else np.zeros(arr.shape, bool)
        if positive:
            bad |= ~(arr > 0)
        if minimum is not None:
            bad |= ~(arr >= minimum)
        if bad.any():
            k = int(np.flatnonzero(bad.ravel())[0])
            what = "a positive finite number" if positive else (f"a number >= {minimum:g}" if minimum is not None
                                                                 else "a finite number")
            self.fail(f"{path}[{k}]", what, arr.ravel()[k].item())
        return arr

    def strings(self, value: Any, path: str, *, unique: bool = False, choices: Iterable[str] | None = None
                ) -> list[str]:
        if not isinstance(value, list):
            self.fail(path, "a list of strings", value)
        allowed = set(choices) if choices is not None else None
        for k, x in enumerate(value):
            if not isinstance(x, str):
                self.fail(f"{path}[{k}]", "a string", x)
            if allowed is not None and x not in allowed:
                self.fail(f"{path}[{k}]", "one of " + ", ".join(repr(c) for c in sorted(allowed)), x)
        if unique and len(set(value)) != len(value):
            self.fail(path, "distinct names (found a duplicate)")
        return list(value)
