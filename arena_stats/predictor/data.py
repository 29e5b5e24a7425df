"""Preference data in the LMSYS Kaggle schema: reading, label parsing, validation, swapping.

The schema of the "LMSYS - Chatbot Arena Human Preference Predictions" competition: one row per
vote with ``id``, ``prompt``, ``response_a``, ``response_b`` (JSON-encoded lists of turns in that
data; plain strings are accepted too), optional ``model_a`` / ``model_b`` and, for training data,
either the one-hot columns ``winner_model_a, winner_model_b, winner_tie`` or one ``winner``
column (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``, or ``a`` / ``b`` / ``tie``).

:func:`prepare_frame` turns any of those into one normalised frame (the *canonical* frame) that
the rest of the predictor reads: ``id``, ``prompt``, ``response_a``, ``response_b``, ``model_a``,
``model_b`` (``None`` where unknown) and ``label`` (:data:`LABEL_A`, :data:`LABEL_B`,
:data:`LABEL_TIE`, or :data:`NO_LABEL`). ``tie (bothbad)`` is a tie: the competition scores three
classes. Texts are kept exactly as given (they are parsed by :mod:`arena_stats.features.text`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from ..data.readers import read_table
from ..errors import InputError

__all__ = ["LABEL_A", "LABEL_B", "LABEL_TIE", "NO_LABEL", "CLASS_COLUMNS", "TEXT_COLUMNS",
           "prepare_frame", "read_preference_data", "swap_frame", "one_hot"]

LABEL_A, LABEL_B, LABEL_TIE, NO_LABEL = 0, 1, 2, -1
#: The competition's probability columns, in class order.
CLASS_COLUMNS = ("winner_model_a", "winner_model_b", "winner_tie")
TEXT_COLUMNS = ("prompt", "response_a", "response_b")

_WINNER_LABELS = {
    "model_a": LABEL_A, "a": LABEL_A, "winner_model_a": LABEL_A, "left": LABEL_A,
    "model_b": LABEL_B, "b": LABEL_B, "winner_model_b": LABEL_B, "right": LABEL_B,
    "tie": LABEL_TIE, "tie (bothbad)": LABEL_TIE, "bothbad": LABEL_TIE, "winner_tie": LABEL_TIE,
    "draw": LABEL_TIE,
}


def _labels(frame: pd.DataFrame, file: str | None, require: bool) -> np.ndarray:
    n = len(frame)
    if all(c in frame.columns for c in CLASS_COLUMNS):
        onehot = frame[list(CLASS_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(onehot).all(axis=1) | ~np.isin(onehot, (0.0, 1.0)).all(axis=1) | \
            (onehot.sum(axis=1) != 1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"labels {onehot[row].tolist()} are not one-hot (exactly one of "
                             f"{', '.join(CLASS_COLUMNS)} must be 1, the others 0); {int(bad.sum())} such rows",
                             file=file, row=row + 1, column=CLASS_COLUMNS[0])
        return onehot.argmax(axis=1).astype(np.int64)
    if "winner" in frame.columns:
        text = frame["winner"].astype(object).where(frame["winner"].notna(), "").astype(str).str.strip().str.lower()
        codes = text.map(_WINNER_LABELS)
        bad = codes.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"unknown winner {frame['winner'].iloc[row]!r}; expected model_a, model_b, "
                             f"tie or tie (bothbad)", file=file, row=row + 1, column="winner")
        return codes.to_numpy(dtype=np.int64)
    if "label" in frame.columns:  # an already canonical frame
        codes = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isin(codes, (NO_LABEL, LABEL_A, LABEL_B, LABEL_TIE))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"label {frame['label'].iloc[row]!r} is not 0 (a), 1 (b), 2 (tie) or -1 (none)",
                             file=file, row=row + 1, column="label")
        if require and (codes == NO_LABEL).any():
            row = int(np.flatnonzero(codes == NO_LABEL)[0])
            raise InputError("row has no label", file=file, row=row + 1, column="label")
        return codes.astype(np.int64)
    if require:
        raise InputError("no labels: need the one-hot columns " + ", ".join(CLASS_COLUMNS)
                         + " or a 'winner' column", file=file)
    return np.full(n, NO_LABEL, dtype=np.int64)


def _names(series: pd.Series | None, n: int) -> np.ndarray:
    if series is None:
        return np.full(n, None, dtype=object)
    values = series.astype(object).to_numpy()
    out = np.empty(n, dtype=object)
    for k, v in enumerate(values):
        out[k] = None if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "" else str(v)
    return out


def prepare_frame(data: pd.DataFrame, *, require_labels: bool = False, file: str | None = None) -> pd.DataFrame:
    """Normalise a Kaggle-schema frame into the canonical frame the predictor reads.

    Parameters
    ----------
    data : pandas.DataFrame
        ``prompt``, ``response_a``, ``response_b`` (required); ``id``, ``model_a``, ``model_b``
        and labels (one-hot ``winner_model_a/b/tie`` or ``winner``) optional.
    require_labels : bool
        Raise when there are no labels (training and evaluation need them).
    file : str, optional
        Named in error messages.

    Returns
    -------
    pandas.DataFrame
        ``id, prompt, response_a, response_b, model_a, model_b, label`` (label ``-1`` when absent),
        plus a ``group`` column copied from the input when present (used by grouped CV).

    Raises
    ------
    InputError
        Missing text columns, labels that are not one-hot, unknown ``winner`` values.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ['["Hi"]'], "response_a": ['["Hello"]'], "response_b": ["Hey"],
    ...                    "winner_model_a": [0], "winner_model_b": [0], "winner_tie": [1]})
    >>> prepare_frame(df)[["id", "model_a", "label"]].values.tolist()
    [[0, None, 2]]
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(data).__name__}", file=file)
    missing = [c for c in TEXT_COLUMNS if c not in data.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; the Kaggle schema needs "
                         f"{', '.join(TEXT_COLUMNS)}", file=file, column=missing[0])
    frame = data.reset_index(drop=True)
    n = len(frame)
    out = pd.DataFrame({
        "id": frame["id"].to_numpy() if "id" in frame.columns else np.arange(n),
        "prompt": frame["prompt"].astype(object).to_numpy(),
        "response_a": frame["response_a"].astype(object).to_numpy(),
        "response_b": frame["response_b"].astype(object).to_numpy(),
        "model_a": _names(frame["model_a"] if "model_a" in frame.columns else None, n),
        "model_b": _names(frame["model_b"] if "model_b" in frame.columns else None, n),
        "label": _labels(frame, file, require_labels),
    })
    if "group" in frame.columns:
        out["group"] = frame["group"].to_numpy()
    return out


def read_preference_data(source: Any, *, require_labels: bool = False) -> pd.DataFrame:
    """Read a Kaggle-schema file (CSV, JSON, JSON Lines, Parquet, optionally .gz) or frame.

    Returns the canonical frame of :func:`prepare_frame`.
    """
    if isinstance(source, pd.DataFrame):
        return prepare_frame(source, require_labels=require_labels)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return prepare_frame(read_table(path), require_labels=require_labels, file=path)
    raise InputError(f"cannot read preference data from a {type(source).__name__}; expected a path or DataFrame")


def swap_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The same votes with the A and B slots exchanged (labels A and B exchanged too).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"prompt": ["p"], "response_a": ["x"], "response_b": ["y"], "winner": ["model_a"]})
    >>> swap_frame(prepare_frame(f))[["response_a", "label"]].values.tolist()
    [['y', 1]]
    """
    out = frame.copy()
    out["response_a"], out["response_b"] = frame["response_b"].to_numpy(), frame["response_a"].to_numpy()
    out["model_a"], out["model_b"] = frame["model_b"].to_numpy(), frame["model_a"].to_numpy()
    label = frame["label"].to_numpy()
    out["label"] = np.where(label == LABEL_A, LABEL_B, np.where(label == LABEL_B, LABEL_A, label))
    return out


def one_hot(labels: np.ndarray) -> np.ndarray:
    """Labels as an ``(n, 3)`` indicator matrix (all zeros for :data:`NO_LABEL`)."""
    labels = np.asarray(labels)
    out = np.zeros((len(labels), 3))
    known = labels >= 0
    out[np.flatnonzero(known), labels[known]] = 1.0
    return out
