"""Tests of arena_stats.features.text against per-row reference computations."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from arena_stats.features.text import (
    LMSYS_NAMES,
    MARKDOWN_COLUMNS,
    TOKEN_PATTERN,
    markdown_counts,
    parse_turns,
    response_text,
    style_counts,
    token_count,
    turn_count,
)


def _lmsys_counts(text: str) -> dict[str, int]:
    """FastChat's count_markdown_elements, per row, summed over sub-counts (the reference)."""
    for block in re.findall(r"```[^`]*```", text):
        text = text.replace(block, "")
    headers = sum(len(re.findall(rf"^#{{{k}}}\s", text, re.MULTILINE)) for k in range(1, 7))
    lists = (len(re.findall(r"^\s*\d+\.\s", text, re.MULTILINE))
             + len(re.findall(r"^\s*[-*+]\s", text, re.MULTILINE)))
    bold = len(re.findall(r"\*\*[^*\n]+\*\*", text)) + len(re.findall(r"__[^_\n]+__", text))
    return {"header_count": headers, "list_count": lists, "bold_count": bold}


PIECES = ["# Title", "## Sub", "###### h6", "####### seven", "- item", "* star", "+ plus", "  - nested",
          "1. first", "10. tenth", "**bold**", "__under__", "** not bold", "```python\n# comment\n- x\n```",
          "plain words, and punctuation!", "你好，世界", "Привет мир", "tab\tseparated", "", "\n", "x_y z9",
          "émoji 🎉 ok", "    indented code", "`inline`"]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["\n".join(rng.choice(PIECES, rng.integers(0, 12))) for _ in range(n)]


def test_markdown_counts_equal_fastchat_reference_per_row():
    texts = _random_texts(300, seed=1)
    got = markdown_counts(pd.Series(texts))
    want = pd.DataFrame([_lmsys_counts(t) for t in texts])
    for col in ("header_count", "list_count", "bold_count"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    assert list(got.columns) == list(MARKDOWN_COLUMNS)


def test_code_blocks_and_lines_are_counted_directly():
    texts = pd.Series(["```a```\ntext\n```b\nc```", "no code", "", "one\ntwo\n"])
    got = markdown_counts(texts)
    assert got["code_block_count"].tolist() == [2, 0, 0, 0]
    assert got["line_count"].tolist() == [4, 1, 0, 3]


def test_default_token_count_equals_regex_findall_including_unicode():
    texts = _random_texts(400, seed=2) + ["", " ", "_", "a", "é", "\U0001F600x", "a\u2028b"]
    want = [len(re.findall(TOKEN_PATTERN, t)) for t in texts]
    assert token_count(pd.Series(texts)).tolist() == want


def test_token_count_matches_across_small_chunks(monkeypatch):
    import arena_stats.features.text as tf
    texts = pd.Series(_random_texts(200, seed=3))
    want = token_count(texts).tolist()
    monkeypatch.setattr(tf, "TOKEN_CHUNK_CHARS", 50)
    assert token_count(texts).tolist() == want


def test_pluggable_tokenizers_callable_and_regex():
    s = pd.Series(["a b  c", "one"])
    assert token_count(s, tokenizer=str.split).tolist() == [3, 1]
    assert token_count(s, tokenizer=r"\S").tolist() == [3, 3]
    with pytest.raises(TypeError):
        token_count(s, tokenizer=3)  # type: ignore[arg-type]


def test_json_turn_lists_are_joined_and_plain_strings_kept():
    s = pd.Series([json.dumps(["Hi", None, "there"]), "plain [text]", "[1, 2]", "[broken", None,
                   json.dumps([]), float("nan")])
    assert response_text(s).tolist() == ["Hi\nthere", "plain [text]", "[1, 2]", "[broken", "", "", ""]
    assert turn_count(s).tolist() == [2, 1, 1, 1, 0, 0, 0]
    assert parse_turns(s).iloc[0] == ["Hi", "there"]


def test_one_invalid_json_row_does_not_spoil_the_batch():
    s = pd.Series([json.dumps(["a b"]), '["unterminated]', json.dumps(["c"])])
    assert response_text(s).tolist() == ["a b", '["unterminated]', "c"]


def test_features_of_turn_lists_equal_features_of_joined_text():
    turns = [json.dumps(t.split("\n")) for t in _random_texts(100, seed=4)]
    joined = response_text(pd.Series(turns))
    pd.testing.assert_frame_equal(style_counts(pd.Series(turns)), style_counts(joined))


def test_index_is_preserved_and_lmsys_names_documented():
    s = pd.Series(["# a", "b"], index=[10, 20])
    assert style_counts(s).index.tolist() == [10, 20]
    assert token_count(s).index.tolist() == [10, 20]
    assert set(MARKDOWN_COLUMNS) | {"token_count"} == set(LMSYS_NAMES)
