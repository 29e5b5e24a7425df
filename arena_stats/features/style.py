"""Style features for style control, as the LMSYS leaderboard defines them.

Chatbot Arena's "style control" (LMSYS, August 2024; FastChat ``elo_analysis.py``,
``construct_style_matrices``) adds four covariates to the Bradley-Terry fit so that a model is
not ranked up merely for longer or more heavily formatted answers. For each battle and feature,
with ``a`` and ``b`` the counts of the two answers::

    x = (a - b) / (a + b + 1)

then each feature is standardised over the battles, ``(x - mean) / std`` (population standard
deviation, as FastChat's ``np.std``). The four counts, per side, summed over all assistant
turns of the conversation:

=================  ==================================================  ==========================
our column         count                                               FastChat ``conv_metadata``
=================  ==================================================  ==========================
``style_tokens``   answer length in tokens                             ``sum_assistant_{a,b}_tokens``
``style_headers``  markdown headers (``#`` ... ``######`` + space)     ``header_count_{a,b}``
``style_lists``    ordered + unordered list items                      ``list_count_{a,b}``
``style_bold``     ``**bold**`` + ``__bold__`` spans                   ``bold_count_{a,b}``
=================  ==================================================  ==========================

In FastChat's metadata the three markdown entries are dicts of sub-counts (``{"h1": .., "h2":
.., ...}``, ``{"ordered": .., "unordered": ..}``, ``{"**": .., "__": ..}``) and the leaderboard
uses their sum; an integer is used as it is (FastChat does the same). Counting from texts uses
:mod:`arena_stats.features.text` (the same regular expressions as FastChat's
``count_markdown_elements``, fenced code removed first); its default tokenizer is a regex, so
``style_tokens`` from texts is close to but not the same as FastChat's tiktoken count; pass
``tokenizer=`` (any callable returning a sequence, e.g. ``tiktoken``'s ``encode``) to match it.

Where the counts come from (``source="auto"`` picks the first that fits):

* ``metadata``: a ``conv_metadata`` column of dicts (or JSON strings), FastChat / arena-human-
  preference releases;
* ``texts``: ``response_a`` / ``response_b`` columns, plain strings or the Kaggle competition's
  JSON-encoded lists of turns;
* ``conversations``: ``conversation_a`` / ``conversation_b`` lists of ``{"role", "content"}``
  messages (the assistant turns are used).

A feature that is constant over the battles (e.g. no answer has a header) cannot be
standardised; it is dropped with a warning. Note: arena-rank (lmarena) divides by ``a + b``
(``1`` when both are 0) and standardises with the sample standard deviation; with
``add_one=False, ddof=1`` this module reproduces that variant.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import InputError
from .text import markdown_counts, token_count

__all__ = ["STYLE_COLUMNS", "METADATA_KEYS", "SOURCES", "style_counts_from_metadata",
           "style_counts_from_texts", "style_features", "add_style_features"]

#: Covariate columns added by :func:`add_style_features`, in order.
STYLE_COLUMNS = ("style_tokens", "style_headers", "style_lists", "style_bold")
#: FastChat ``conv_metadata`` keys per feature; ``{side}`` is ``a`` or ``b``.
METADATA_KEYS = {
    "style_tokens": "sum_assistant_{side}_tokens",
    "style_headers": "header_count_{side}",
    "style_lists": "list_count_{side}",
    "style_bold": "bold_count_{side}",
}
SOURCES = ("auto", "metadata", "texts", "conversations")
_MARKDOWN = {"style_headers": "header_count", "style_lists": "list_count", "style_bold": "bold_count"}


def _metadata_value(value: Any, key: str, row: int) -> float:
    if isinstance(value, Mapping):
        try:
            return float(sum(float(v) for v in value.values()))
        except (TypeError, ValueError):
            raise InputError(f"conv_metadata[{key!r}] sub-counts are not all numbers: {value!r}",
                             row=row + 1, column="conv_metadata") from None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if np.isfinite(value):
            return float(value)
    raise InputError(f"conv_metadata[{key!r}] is {value!r}; expected a count or a dict of sub-counts",
                     row=row + 1, column="conv_metadata")


def style_counts_from_metadata(metadata: pd.Series | Sequence[Any]
                               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-side counts from FastChat ``conv_metadata`` entries (dicts or JSON strings).

    Returns two frames (side a, side b) with the columns :data:`STYLE_COLUMNS`.

    Examples
    --------
    >>> meta = [{"sum_assistant_a_tokens": 120, "sum_assistant_b_tokens": 40,
    ...          "header_count_a": {"h1": 1, "h2": 2}, "header_count_b": {"h1": 0},
    ...          "list_count_a": {"ordered": 3, "unordered": 1}, "list_count_b": {"ordered": 0, "unordered": 0},
    ...          "bold_count_a": {"**": 2, "__": 0}, "bold_count_b": {"**": 0, "__": 1}}]
    >>> a, b = style_counts_from_metadata(meta)
    >>> a.iloc[0].tolist(), b.iloc[0].tolist()
    ([120.0, 3.0, 4.0, 2.0], [40.0, 0.0, 0.0, 1.0])
    """
    series = metadata if isinstance(metadata, pd.Series) else pd.Series(list(metadata))
    out = {side: np.empty((len(series), len(STYLE_COLUMNS))) for side in ("a", "b")}
    for r, entry in enumerate(series.to_numpy(dtype=object)):
        if isinstance(entry, str):
            try:
                entry = json.loads(entry)
            except ValueError:
                raise InputError("conv_metadata is not valid JSON", row=r + 1, column="conv_metadata") from None
        if not isinstance(entry, Mapping):
            raise InputError(f"conv_metadata is {type(entry).__name__}; expected a dict of counts",
                             row=r + 1, column="conv_metadata")
        for side in ("a", "b"):
            for c, col in enumerate(STYLE_COLUMNS):
                key = METADATA_KEYS[col].format(side=side)
                if key not in entry:
                    raise InputError(f"conv_metadata has no {key!r} (keys: {', '.join(sorted(map(str, entry)))})",
                                     row=r + 1, column="conv_metadata")
                out[side][r, c] = _metadata_value(entry[key], key, r)
    return (pd.DataFrame(out["a"], columns=list(STYLE_COLUMNS), index=series.index),
            pd.DataFrame(out["b"], columns=list(STYLE_COLUMNS), index=series.index))


def _assistant_text(conversation: Any) -> str:
    """The assistant turns of a FastChat conversation (list of role/content dicts), joined."""
    if isinstance(conversation, str):
        try:
            conversation = json.loads(conversation)
        except ValueError:
            return conversation
    if not isinstance(conversation, (list, tuple, np.ndarray)):
        return "" if conversation is None else str(conversation)
    parts = []
    for turn in conversation:
        if isinstance(turn, Mapping) and turn.get("role") == "assistant":
            content = turn.get("content")
            # multimodal turns hold [text, images]; the text comes first
            if isinstance(content, (list, tuple)):
                content = content[0] if content else ""
            if isinstance(content, Mapping):
                content = content.get("text", "")
            parts.append("" if content is None else str(content))
    return "\n".join(parts)


def _counts(texts: pd.Series, tokenizer: Callable[[str], Sequence[Any]] | str | None) -> pd.DataFrame:
    md = markdown_counts(texts)
    out = pd.DataFrame({"style_tokens": token_count(texts, tokenizer)}, index=texts.index)
    for col, name in _MARKDOWN.items():
        out[col] = md[name]
    return out.astype(np.float64)


def style_counts_from_texts(texts_a: pd.Series | Sequence[Any], texts_b: pd.Series | Sequence[Any],
                            tokenizer: Callable[[str], Sequence[Any]] | str | None = None,
                            conversations: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-side counts from the answers (or from whole conversations with ``conversations=True``).

    Examples
    --------
    >>> a, b = style_counts_from_texts(["# Hi\\n- one\\n- two"], ["**ok**"])
    >>> a.iloc[0].tolist(), b.iloc[0].tolist()
    ([6.0, 1.0, 2.0, 0.0], [5.0, 0.0, 0.0, 1.0])
    """
    out = []
    for texts in (texts_a, texts_b):
        s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
        if conversations:
            s = pd.Series([_assistant_text(c) for c in s.to_numpy(dtype=object)], index=s.index, dtype=object)
        out.append(_counts(s, tokenizer))
    return out[0], out[1]


def _detect(frame: pd.DataFrame, source: str) -> str:
    if source not in SOURCES:
        raise InputError(f"unknown style source {source!r}; expected one of {', '.join(SOURCES)}")
    if source != "auto":
        return source
    if "conv_metadata" in frame:
        return "metadata"
    if "response_a" in frame and "response_b" in frame:
        return "texts"
    if "conversation_a" in frame and "conversation_b" in frame:
        return "conversations"
    raise InputError("style control needs the answers' style counts: a 'conv_metadata' column (FastChat), "
                     "'response_a'/'response_b' texts (Kaggle) or 'conversation_a'/'conversation_b' "
                     "message lists; these battles have none of them")


def style_features(battles: Battles | pd.DataFrame, *, source: str = "auto",
                   tokenizer: Callable[[str], Sequence[Any]] | str | None = None,
                   features: Sequence[str] = STYLE_COLUMNS, add_one: bool = True, ddof: int = 0,
                   standardise: bool = True) -> pd.DataFrame:
    """The standardised style covariates of every battle (columns ``features``).

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    source : {"auto", "metadata", "texts", "conversations"}
        Where the counts come from (see the module docstring).
    tokenizer : callable or str, optional
        Passed to :func:`arena_stats.features.text.token_count` when counting from texts.
    features : sequence of str
        A subset of :data:`STYLE_COLUMNS` (e.g. only ``style_tokens`` for length control).
    add_one : bool
        Divide by ``a + b + 1`` (LMSYS); ``False`` divides by ``a + b`` (``1`` when both are 0).
    ddof : int
        Degrees of freedom of the standard deviation (0 as in FastChat).
    standardise : bool
        Subtract the mean and divide by the standard deviation.

    Returns
    -------
    pandas.DataFrame
        One row per battle; ``attrs["mean"]`` and ``attrs["std"]`` hold the raw ratio's
        mean and standard deviation, ``attrs["source"]`` the source used.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
    ...                    "winner": ["model_a", "model_b", "tie"],
    ...                    "response_a": ["a long answer with many words", "short", "- one\\n- two"],
    ...                    "response_b": ["short", "**bold** answer here", "# Head"]})
    >>> f = style_features(df, features=["style_tokens"])
    >>> f.columns.tolist(), bool(abs(f["style_tokens"].mean()) < 1e-12)
    (['style_tokens'], True)
    """
    frame = battles.frame if isinstance(battles, Battles) else as_battles(battles).frame
    unknown = [f for f in features if f not in STYLE_COLUMNS]
    if unknown:
        raise InputError(f"unknown style feature(s) {unknown}; expected some of {', '.join(STYLE_COLUMNS)}")
    used = _detect(frame, source)
    if used == "metadata":
        a, b = style_counts_from_metadata(frame["conv_metadata"])
    elif used == "texts":
        a, b = style_counts_from_texts(frame["response_a"], frame["response_b"], tokenizer)
    else:
        a, b = style_counts_from_texts(frame["conversation_a"], frame["conversation_b"], tokenizer,
                                       conversations=True)
    a, b = a[list(features)].to_numpy(), b[list(features)].to_numpy()
    diff, total = a - b, a + b
    denom = total + 1.0 if add_one else np.where(total == 0, 1.0, total)
    ratio = diff / denom
    mean = ratio.mean(axis=0) if len(ratio) else np.zeros(len(features))
    std = ratio.std(axis=0, ddof=ddof) if len(ratio) > ddof else np.zeros(len(features))
    keep = np.asarray(std > 0) if standardise else np.ones(len(features), bool)
    if not keep.all():
        gone = [f for f, k in zip(features, keep) if not k]
        warnings.warn(f"style feature(s) {', '.join(gone)} are constant over these battles and were "
                      "dropped (nothing to control for)", stacklevel=2)
    values = (ratio - mean) / np.where(std > 0, std, 1.0) if standardise else ratio
    cols = [f for f, k in zip(features, keep) if k]
    out = pd.DataFrame(values[:, keep], columns=cols, index=frame.index)
    out.attrs.update(mean=dict(zip(features, map(float, mean))), std=dict(zip(features, map(float, std))),
                     source=used)
    return out


def add_style_features(battles: Battles | pd.DataFrame, **kwargs: Any) -> tuple[Battles, list[str]]:
    """The battles with the style covariates as extra columns, and the columns' names.

    Keyword arguments go to :func:`style_features`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner": ["model_a", "tie"],
    ...                    "response_a": ["one two three", "a"], "response_b": ["one", "a b c d"]})
    >>> b, cols = add_style_features(df, features=["style_tokens"])
    >>> cols, b.frame["style_tokens"].round(3).tolist()
    (['style_tokens'], [1.0, -1.0])
    """
    battles = as_battles(battles)
    feats = style_features(battles, **kwargs)
    clash = [c for c in feats.columns if c in battles.frame.columns]
    frame = battles.frame.drop(columns=clash).join(feats)
    from dataclasses import replace
    return replace(battles, frame=frame), list(feats.columns)
