"""Style features as FastChat defines them, and style control recovering a planted length bias."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest

from arena_stats import InputError
from arena_stats.cli import main
from arena_stats.features.style import STYLE_COLUMNS, add_style_features, style_features
from arena_stats.models.contextual import fit_contextual

K = 400 / np.log(10)
ELEMENTS = ["sum_assistant_a_tokens", "header_count_a", "list_count_a", "bold_count_a",
            "sum_assistant_b_tokens", "header_count_b", "list_count_b", "bold_count_b"]


def _metadata(rng: np.random.Generator, m: int, mean_a: np.ndarray, mean_b: np.ndarray) -> list[dict]:
    """FastChat-shaped conv_metadata: token sums as ints, markdown counts as dicts of sub-counts."""
    out = []
    for r in range(m):
        entry = {}
        for side, mean in (("a", mean_a[r]), ("b", mean_b[r])):
            entry[f"sum_assistant_{side}_tokens"] = int(rng.poisson(mean))
            entry[f"header_count_{side}"] = {f"h{k}": int(rng.poisson(0.3)) for k in range(1, 7)}
            entry[f"list_count_{side}"] = {"ordered": int(rng.poisson(1)), "unordered": int(rng.poisson(1))}
            entry[f"bold_count_{side}"] = {"**": int(rng.poisson(1)), "__": int(rng.poisson(0.1))}
        out.append(entry)
    return out


def _fastchat_style_matrix(meta: list[dict]) -> np.ndarray:
    """FastChat's construct_style_matrices (add_one=True, all ratios), written from its source."""
    vec = np.array([[x[e] if isinstance(x[e], int) else sum(x[e].values()) for x in meta] for e in ELEMENTS],
                   dtype=float)
    diff, total = vec[:4] - vec[4:], vec[:4] + vec[4:] + 1.0
    ratio = diff / total
    return ((ratio - ratio.mean(axis=1, keepdims=True)) / ratio.std(axis=1, keepdims=True)).T


def test_metadata_features_equal_fastchat_construct_style_matrices():
    rng = np.random.default_rng(0)
    m = 500
    meta = _metadata(rng, m, rng.uniform(50, 500, m), rng.uniform(50, 500, m))
    meta[3]["header_count_a"] = 4  # an integer entry is used as it is
    df = pd.DataFrame({"model_a": ["x"] * m, "model_b": ["y"] * m, "winner": ["tie"] * m,
                       "conv_metadata": meta})
    ours = style_features(df)
    assert list(ours.columns) == list(STYLE_COLUMNS) and ours.attrs["source"] == "metadata"
    assert np.abs(ours.to_numpy() - _fastchat_style_matrix(meta)).max() < 1e-12
    # JSON-encoded metadata (a CSV round trip) gives the same numbers
    as_json = df.assign(conv_metadata=[json.dumps(x) for x in meta])
    assert np.array_equal(style_features(as_json).to_numpy(), ours.to_numpy())


FASTCHAT_PATTERNS = {"style_headers": [r"^#{1}\s", r"^#{2}\s", r"^#{3}\s", r"^#{4}\s", r"^#{5}\s", r"^#{6}\s"],
                     "style_lists": [r"^\s*\d+\.\s", r"^\s*[-*+]\s"],
                     "style_bold": [r"\*\*[^*\n]+\*\*", r"__[^_\n]+__"]}


def _fastchat_counts(text: str) -> dict[str, int]:
    """count_markdown_elements after remove_pattern of fenced code, as in add_markdown_info.py."""
    for block in re.compile("```([^`]*)```").findall(text):
        text = text.replace(block, "")
    out = {k: sum(len(re.findall(p, text, re.MULTILINE)) for p in pats) for k, pats in FASTCHAT_PATTERNS.items()}
    out["style_tokens"] = len(re.findall(r"\w+|[^\w\s]", text))
    return out


TEXTS = [
    "# Title\n## Sub\nSome **bold** and __under__ text.\n1. one\n2. two\n- a\n* b\n+ c",
    "```python\n# not a header\n- not a list\n```\nplain answer",
    "#NoSpace\n   - indented item\n**unclosed bold\n### Deep",
    "",
]


def test_markdown_counts_from_texts_follow_fastchat_patterns():
    df = pd.DataFrame({"model_a": ["x"] * 4, "model_b": ["y"] * 4, "winner": ["tie"] * 4,
                       "response_a": TEXTS, "response_b": TEXTS[::-1]})
    raw = style_features(df, standardise=False)
    for r, (ta, tb) in enumerate(zip(TEXTS, TEXTS[::-1])):
        ca, cb = _fastchat_counts(ta), _fastchat_counts(tb)
        for col in ("style_headers", "style_lists", "style_bold"):
            assert raw.loc[r, col] == pytest.approx((ca[col] - cb[col]) / (ca[col] + cb[col] + 1)), (r, col)


def test_kaggle_turn_lists_and_fastchat_conversations_give_the_same_features():
    turns_a = [["# Hello", "- more\n- items"], ["just text"], ["**a** b", "c"]]
    turns_b = [["short"], ["## Head\n1. x"], ["__u__"]]
    base = {"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"], "winner": ["model_a", "model_b", "tie"]}
    kaggle = pd.DataFrame(base | {"response_a": [json.dumps(t) for t in turns_a],
                                  "response_b": [json.dumps(t) for t in turns_b]})

    def conv(turns):
        msgs = []
        for t in turns:
            msgs += [{"role": "user", "content": "q"}, {"role": "assistant", "content": t}]
        return msgs

    fastchat = pd.DataFrame(base | {"conversation_a": [conv(t) for t in turns_a],
                                    "conversation_b": [conv(t) for t in turns_b]})
    a = style_features(kaggle, standardise=False)
    b = style_features(fastchat, standardise=False)
    assert b.attrs["source"] == "conversations"
    assert np.allclose(a.to_numpy(), b.to_numpy())


def test_tokenizer_is_pluggable():
    df = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner": ["model_a", "tie"],
                       "response_a": ["don't stop!", "a b"], "response_b": ["go", "a b c d e"]})
    regex = style_features(df, features=["style_tokens"], standardise=False)
    split = style_features(df, features=["style_tokens"], standardise=False, tokenizer=str.split)
    assert regex.iloc[0, 0] == pytest.approx((5 - 1) / 7)  # don ' t stop !
    assert split.iloc[0, 0] == pytest.approx((2 - 1) / 4)


def test_constant_feature_is_dropped_with_a_warning():
    df = pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"], "winner": ["model_a"] * 3,
                       "response_a": ["one two", "three", "four five six"], "response_b": ["a", "b c", "d"]})
    with pytest.warns(UserWarning, match="style_headers"):
        feats = style_features(df)
    assert list(feats.columns) == ["style_tokens"]


def test_bad_metadata_names_the_row_and_the_key():
    meta = [{k: 1 for k in ELEMENTS}, {k: 1 for k in ELEMENTS if k != "bold_count_b"}]
    df = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner": ["tie", "tie"],
                       "conv_metadata": meta})
    with pytest.raises(InputError, match=r"row 2.*bold_count_b"):
        style_features(df)
    with pytest.raises(InputError, match="conv_metadata"):
        style_features(df.drop(columns="conv_metadata"))


def _length_biased_arena(seed: int, beta: float = 0.6, n: int = 8, m: int = 30000):
    """Verbose models win more because voters like length (planted beta), not because they are better."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.4, n)
    theta -= theta.mean()
    verbosity = np.exp(rng.normal(np.log(250), 0.8, n))  # mean answer length per model
    a, b = rng.integers(0, n, m), rng.integers(0, n - 1, m)
    b = np.where(b >= a, b + 1, b)
    meta = _metadata(rng, m, verbosity[a], verbosity[b])
    x = _fastchat_style_matrix(meta)[:, 0]  # the standardised length feature
    win = rng.random(m) < 1 / (1 + np.exp(-(theta[a] - theta[b] + beta * x)))
    df = pd.DataFrame({"model_a": [f"m{k}" for k in a], "model_b": [f"m{k}" for k in b],
                       "winner": np.where(win, "model_a", "model_b"), "conv_metadata": meta})
    return df, pd.Series(1000 + K * theta, index=[f"m{k}" for k in range(n)])


def test_style_control_recovers_planted_length_bias_and_true_ratings_and_the_plain_fit_does_not():
    df, truth = _length_biased_arena(1)
    battles, cols = add_style_features(df)
    controlled = fit_contextual(battles, cols)
    coef = controlled.coef_table()
    assert coef.loc["style_tokens", "ci_lower"] < 0.6 < coef.loc["style_tokens", "ci_upper"]
    for other in ("style_headers", "style_lists", "style_bold"):  # planted zero
        assert abs(coef.loc[other, "coef"]) < 3.5 * coef.loc[other, "se_robust"]
    lo, hi = controlled.intervals(0.999)
    truth = truth[controlled.models]
    assert ((lo <= truth) & (truth <= hi)).all()
    plain = fit_contextual(battles)
    z = ((plain.ratings - truth) / plain.se_robust).abs()
    assert z.max() > 5


def test_cli_style_control_board_shows_rank_change_against_the_plain_board(tmp_path):
    df, _ = _length_biased_arena(2, m=4000)
    path = tmp_path / "battles.jsonl"
    df.to_json(path, orient="records", lines=True)
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["leaderboard", str(path), "--style-control", "--ci", "sandwich", "--format", "csv", "-q"])
    assert code == 0
    board = pd.read_csv(io.StringIO(out.getvalue()))
    assert {"rank", "model", "rating", "ci_lower", "ci_upper", "plain_rank", "rank_change"} <= set(board.columns)
    assert (board["rank_change"] == board["plain_rank"] - board["rank"]).all()
