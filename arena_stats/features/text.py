"""Vectorised text features of chat responses: turns, tokens and markdown structure.

Shared by the preference predictor (:mod:`arena_stats.predictor`) and by style control (the
covariates of a contextual Bradley-Terry fit). Every function takes a pandas Series of texts and
returns counts aligned with its index, so a 57k-row Kaggle frame with long answers is featurised
in seconds, with no per-row Python beyond one C-level ``json.loads`` per row when the texts are
JSON-encoded lists of turns.

Input texts
-----------
In the LMSYS Kaggle data (``lmsys-chatbot-arena`` ``train.csv``) ``prompt``, ``response_a`` and
``response_b`` are JSON-encoded lists of turns, e.g. ``'["Hi!", "Sure, here is ..."]'``, where a
turn may be ``null``. Plain strings are accepted too. :func:`response_text` decides per row: a
value that starts with ``[``, ends with ``]`` and decodes to a list of strings / nulls is a turn
list and its turns are joined with :data:`TURN_SEPARATOR`; anything else is kept as it is. Missing
values become the empty string. All other functions call :func:`response_text` first, so they
accept either form.

Markdown counts and their LMSYS names
-------------------------------------
:func:`markdown_counts` follows the style-control features of the LMSYS leaderboard (FastChat's
``count_markdown_elements``), summed over their sub-counts as the leaderboard does:

==================  ==========================================  ================================
column              counts                                      LMSYS name (per side ``_a/_b``)
==================  ==========================================  ================================
header_count        lines starting with 1-6 ``#`` and a space   ``header_count`` (h1 + ... + h6)
list_count          ordered (``1. ``) + unordered (``- * +``)   ``list_count`` (ordered +
                    list items at the start of a line           unordered)
bold_count          ``**bold**`` and ``__bold__`` spans          ``bold_count`` (``**`` + ``__``)
code_block_count    fenced code blocks (pairs of ```` ``` ````)  (not in LMSYS; extra)
line_count          lines (newlines + 1; 0 for an empty text)   (not in LMSYS; extra)
==================  ==========================================  ================================

As in LMSYS, fenced code blocks are removed before headers, lists and bold are counted, so a
``# comment`` inside Python code is not a header. :func:`token_count` plays the role of LMSYS's
``sum_assistant_tokens`` (which uses tiktoken); its default tokenizer is a regex (words and
single punctuation marks) that needs no download, and any tokenizer can be plugged in.

Design: patterns are Python regular expressions applied with pandas' vectorised ``.str``
methods on ``object`` dtype, so results do not depend on the pandas string backend (pyarrow's RE2
would read ``\\w`` as ASCII only).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "TURN_SEPARATOR", "TOKEN_PATTERN", "MARKDOWN_COLUMNS", "LMSYS_NAMES",
    "parse_turns", "response_text", "turn_count", "token_count", "markdown_counts", "style_counts",
]

#: Joins the turns of one side of a conversation into one text.
TURN_SEPARATOR = "\n"
#: Default tokenizer: runs of word characters, or single non-space, non-word characters.
TOKEN_PATTERN = r"\w+|[^\w\s]"

#: Code points classified per numpy batch by the default tokenizer (bounds memory to ~100 MB).
TOKEN_CHUNK_CHARS = 8_000_000

#: Columns of :func:`markdown_counts`, in order.
MARKDOWN_COLUMNS = ("header_count", "list_count", "bold_count", "code_block_count", "line_count")
#: Our column name -> the LMSYS style-control name (None where LMSYS has no such feature).
LMSYS_NAMES: dict[str, str | None] = {
    "token_count": "sum_assistant_tokens",
    "header_count": "header_count",
    "list_count": "list_count",
    "bold_count": "bold_count",
    "code_block_count": None,
    "line_count": None,
}

# FastChat's patterns (count_markdown_elements), all headers / list kinds / bold kinds at once.
_CODE_BLOCK = r"```[^`]*```"
_HEADER = r"(?m)^#{1,6}\s"
_ORDERED = r"(?m)^\s*\d+\.\s"
_UNORDERED = r"(?m)^\s*[-*+]\s"
_BOLD_STARS = r"\*\*[^*\n]+\*\*"
_BOLD_UNDERSCORES = r"__[^_\n]+__"


def _as_object(series: pd.Series | Sequence[Any]) -> pd.Series:
    s = series if isinstance(series, pd.Series) else pd.Series(list(series))
    return s.astype(object).where(s.notna(), "")


def _decode_lists(values: np.ndarray) -> list[Any]:
    """``json.loads`` of each value; one C-level call for the whole batch when all are valid."""
    if len(values) == 0:
        return []
    try:
        return json.loads("[" + ",".join(values) + "]")
    except (ValueError, RecursionError):
        pass
    out: list[Any] = []
    for v in values:
        try:
            out.append(json.loads(v))
        except (ValueError, RecursionError):
            out.append(None)
    return out


def _is_turn_list(value: Any) -> bool:
    return isinstance(value, list) and all(t is None or isinstance(t, str) for t in value)


def parse_turns(series: pd.Series | Sequence[Any]) -> pd.Series:
    """Each value as a list of turns (``null`` turns dropped); a plain string is one turn.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_turns(pd.Series(['["Hi", null, "Bye"]', "plain", None])).tolist()
    [['Hi', 'Bye'], ['plain'], []]
    """
    s = _as_object(series)
    values = s.to_numpy(dtype=object)
    # a plain value is one turn (an empty one none); JSON turn lists overwrite below
    out = np.empty(len(values), dtype=object)
    for k, v in enumerate(values):
        out[k] = [v if isinstance(v, str) else str(v)] if not (isinstance(v, str) and v == "") else []
    text = s.map(lambda v: v if isinstance(v, str) else "").astype(object).str.strip()
    looks = (text.str.startswith("[") & text.str.endswith("]")).to_numpy(dtype=bool)
    idx = np.flatnonzero(looks)
    for k, value in zip(idx.tolist(), _decode_lists(text.to_numpy(dtype=object)[idx])):
        if _is_turn_list(value):
            out[k] = [t for t in value if t is not None]
    return pd.Series(out, index=s.index, dtype=object)


def response_text(series: pd.Series | Sequence[Any], sep: str = TURN_SEPARATOR) -> pd.Series:
    """One text per row: the turns of a JSON-encoded turn list joined by ``sep``, else the value.

    Examples
    --------
    >>> import pandas as pd
    >>> response_text(pd.Series(['["Hi", "there"]', "plain", None])).tolist()
    ['Hi\\nthere', 'plain', '']
    """
    turns = parse_turns(series)
    return pd.Series([sep.join(t) for t in turns.to_numpy()], index=turns.index, dtype=object)


def turn_count(series: pd.Series | Sequence[Any]) -> pd.Series:
    """Number of (non-null) turns per row; a plain non-empty string counts as one turn.

    Examples
    --------
    >>> import pandas as pd
    >>> turn_count(pd.Series(['["a", "b"]', "plain", ""])).tolist()
    [2, 1, 0]
    """
    turns = parse_turns(series)
    return pd.Series(np.fromiter((len(t) for t in turns.to_numpy()), dtype=np.int64, count=len(turns)),
                     index=turns.index, name="turn_count")


def _texts(series: pd.Series | Sequence[Any]) -> pd.Series:
    return response_text(series)


@functools.lru_cache(maxsize=1)
def _char_classes() -> tuple[np.ndarray, np.ndarray]:
    """For every code point: is it a regex word character (``\\w``), is it a space (``\\s``)?

    Python's ``re`` defines ``\\w`` as ``str.isalnum() or "_"`` and ``\\s`` as ``str.isspace()``
    for str patterns, so these tables reproduce :data:`TOKEN_PATTERN` exactly.
    """
    chars = [chr(c) for c in range(sys.maxunicode + 1)]
    word = np.fromiter((c.isalnum() for c in chars), dtype=bool, count=len(chars))
    word[ord("_")] = True
    space = np.fromiter((c.isspace() for c in chars), dtype=bool, count=len(chars))
    return word, space


def _default_token_counts(text: pd.Series) -> np.ndarray:
    """Matches of :data:`TOKEN_PATTERN` per text, by classifying code points with numpy.

    A token starts at every word character whose predecessor (in the same text) is not one,
    and at every character that is neither a word character nor a space. Texts are processed in
    chunks of about :data:`TOKEN_CHUNK_CHARS` code points to bound memory.
    """
    word_table, space_table = _char_classes()
    values = text.to_numpy(dtype=object)
    lengths = text.str.len().to_numpy(dtype=np.int64)
    counts = np.zeros(len(values), dtype=np.int64)
    start = 0
    while start < len(values):
        stop = start + 1
        budget = lengths[start]
        while stop < len(values) and budget + lengths[stop] <= TOKEN_CHUNK_CHARS:
            budget += lengths[stop]
            stop += 1
        try:
            codes = np.frombuffer("".join(values[start:stop]).encode("utf-32-le", "surrogatepass"),
                              dtype="<u4")
        except UnicodeError:  # pragma: no cover - cannot happen with surrogatepass; be safe
            counts[start:stop] = text.iloc[start:stop].str.count(TOKEN_PATTERN).to_numpy()
            start = stop
            continue
        if len(codes):
            word = word_table[codes]
            prev = np.empty_like(word)
            prev[0] = False
            prev[1:] = word[:-1]
            ends = np.cumsum(lengths[start:stop])
            firsts = ends - lengths[start:stop]
            # a text's first character has no predecessor within the text
            prev[firsts[firsts < len(codes)]] = False
            starts = (word & ~prev) | ~(word | space_table[codes])
            cum = np.concatenate([[0], np.cumsum(starts, dtype=np.int64)])
            counts[start:stop] = cum[ends] - cum[firsts]
        start = stop
    return counts


def token_count(series: pd.Series | Sequence[Any],
                tokenizer: Callable[[str], Sequence[Any]] | str | None = None) -> pd.Series:
    """Number of tokens per row (all turns together).

    Parameters
    ----------
    series : pandas.Series
        Texts or JSON-encoded lists of turns.
    tokenizer : callable, str or None
        ``None``: the regex :data:`TOKEN_PATTERN` (words and single punctuation marks), counted
        vectorised. A ``str``: another regex whose matches are the tokens. A callable: called on
        each text, the length of what it returns is the count (e.g. ``tiktoken``'s
        ``encoding.encode``).

    Examples
    --------
    >>> import pandas as pd
    >>> token_count(pd.Series(["Hello, world!", '["two words", "three more words"]'])).tolist()
    [4, 5]
    >>> token_count(pd.Series(["Hello, world!"]), tokenizer=str.split).tolist()
    [2]
    """
    return _token_count(_texts(series), tokenizer)


def _token_count(text: pd.Series, tokenizer: Callable[[str], Sequence[Any]] | str | None) -> pd.Series:
    if tokenizer is None or isinstance(tokenizer, str):
        pattern = TOKEN_PATTERN if tokenizer is None else tokenizer
        counts = (_default_token_counts(text) if tokenizer is None
                  else text.str.count(pattern).to_numpy(dtype=np.int64))
    elif callable(tokenizer):
        counts = np.fromiter((len(tokenizer(t)) for t in text.to_numpy()), dtype=np.int64, count=len(text))
    else:
        raise TypeError(f"tokenizer must be None, a regex string or a callable, not {type(tokenizer).__name__}")
    return pd.Series(counts, index=text.index, name="token_count")


def markdown_counts(series: pd.Series | Sequence[Any]) -> pd.DataFrame:
    """Markdown structure per row: headers, list items, bold spans, code blocks, lines.

    Columns are :data:`MARKDOWN_COLUMNS`; see the module docstring for the exact rules and the
    LMSYS names. Headers, lists and bold are counted outside fenced code blocks.

    Examples
    --------
    >>> import pandas as pd
    >>> text = "# Title\\n\\n- one\\n- **two**\\n1. three\\n```\\n# not a header\\n```"
    >>> markdown_counts(pd.Series([text, ""])).iloc[0].tolist()
    [1, 3, 1, 1, 8]
    >>> markdown_counts(pd.Series([text, ""])).iloc[1].tolist()
    [0, 0, 0, 0, 0]
    """
    return _markdown_counts(_texts(series))


def _markdown_counts(text: pd.Series) -> pd.DataFrame:
    code_blocks = text.str.count(_CODE_BLOCK)
    prose = text.str.replace(_CODE_BLOCK, "", regex=True)
    lines = text.str.count("\n") + 1
    lines = lines.where(text.str.len() > 0, 0)
    out = pd.DataFrame({
        "header_count": prose.str.count(_HEADER),
        "list_count": prose.str.count(_ORDERED) + prose.str.count(_UNORDERED),
        "bold_count": prose.str.count(_BOLD_STARS) + prose.str.count(_BOLD_UNDERSCORES),
        "code_block_count": code_blocks,
        "line_count": lines,
    }, index=text.index)
    return out.astype(np.int64)


def style_counts(series: pd.Series | Sequence[Any],
                 tokenizer: Callable[[str], Sequence[Any]] | str | None = None) -> pd.DataFrame:
    """:func:`token_count`, ``char_count`` and :func:`markdown_counts` in one frame.

    Examples
    --------
    >>> import pandas as pd
    >>> style_counts(pd.Series(["**Yes.**"])).columns.tolist()
    ['token_count', 'char_count', 'header_count', 'list_count', 'bold_count', 'code_block_count', 'line_count']
    """
    text = _texts(series)
    out = _markdown_counts(text)
    out.insert(0, "char_count", text.str.len().astype(np.int64))
    out.insert(0, "token_count", _token_count(text, tokenizer))
    return out
