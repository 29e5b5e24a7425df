"""Kaggle-schema parsing, label handling, swapping and the LLMFAO conversion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arena_stats.errors import InputError
from arena_stats.predictor.data import prepare_frame, read_preference_data, swap_frame
from arena_stats.predictor.features import text_features
from arena_stats.predictor.llmfao import load_llmfao


def _kaggle(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "id": [30192, 53567, 65089][:n],
        "model_a": ["gpt-4-1106-preview", "gpt-4-0613", "gpt-3.5-turbo-0613"][:n],
        "model_b": ["gpt-4-0613", "claude-2.1", "mistral-medium"][:n],
        "prompt": [json.dumps(["Is it morally right?"]), json.dumps(["What is", "and why?"]),
                   json.dumps(["hi"])][:n],
        "response_a": [json.dumps(["**Yes**, because..."]), json.dumps(["A", None]), json.dumps(["hello"])][:n],
        "response_b": [json.dumps(["# No\n- one\n- two"]), json.dumps(["B", "C"]), json.dumps(["hello"])][:n],
        "winner_model_a": [1, 0, 0][:n], "winner_model_b": [0, 1, 0][:n], "winner_tie": [0, 0, 1][:n],
    })


def test_one_hot_and_winner_labels_give_the_same_codes():
    k = _kaggle()
    w = k.drop(columns=["winner_model_a", "winner_model_b", "winner_tie"]).assign(
        winner=["model_a", "model_b", "tie (bothbad)"])
    assert prepare_frame(k)["label"].tolist() == [0, 1, 2]
    assert prepare_frame(w)["label"].tolist() == [0, 1, 2]
    # a canonical frame passes through unchanged
    assert prepare_frame(prepare_frame(k))["label"].tolist() == [0, 1, 2]


def test_labels_that_are_not_one_hot_name_the_row():
    k = _kaggle()
    k.loc[1, "winner_model_a"] = 1
    with pytest.raises(InputError, match="row 2") as exc:
        prepare_frame(k, file="train.csv")
    assert "train.csv" in str(exc.value) and "one-hot" in str(exc.value)


def test_unknown_winner_and_missing_columns_raise_input_errors():
    with pytest.raises(InputError, match="unknown winner 'draw!'"):
        prepare_frame(_kaggle().drop(columns=["winner_model_a", "winner_model_b", "winner_tie"])
                      .assign(winner=["model_a", "draw!", "tie"]))
    with pytest.raises(InputError, match="response_b"):
        prepare_frame(_kaggle().drop(columns=["response_b"]))
    with pytest.raises(InputError, match="no labels"):
        prepare_frame(_kaggle().drop(columns=["winner_model_a", "winner_model_b", "winner_tie"]),
                      require_labels=True)


def test_missing_model_names_become_none_and_test_data_needs_no_labels():
    k = _kaggle().drop(columns=["model_a", "winner_model_a", "winner_model_b", "winner_tie"])
    f = prepare_frame(k)
    assert f["model_a"].tolist() == [None, None, None]
    assert f["label"].tolist() == [-1, -1, -1]


def test_swap_frame_exchanges_slots_and_labels():
    f = prepare_frame(_kaggle())
    s = swap_frame(f)
    assert s["response_a"].tolist() == f["response_b"].tolist()
    assert s["model_b"].tolist() == f["model_a"].tolist()
    assert s["label"].tolist() == [1, 0, 2]
    pd.testing.assert_frame_equal(swap_frame(s), f)


def test_read_preference_data_reads_csv_and_parquet(tmp_path):
    k = _kaggle()
    k.to_csv(tmp_path / "train.csv", index=False)
    k.to_parquet(tmp_path / "train.parquet", index=False)
    a = read_preference_data(tmp_path / "train.csv")
    b = read_preference_data(tmp_path / "train.parquet")
    assert a["label"].tolist() == b["label"].tolist() == [0, 1, 2]
    assert a["response_b"].tolist() == k["response_b"].tolist()


def test_text_features_on_a_hand_checked_frame():
    f = prepare_frame(_kaggle())
    t = text_features(f)
    assert t["bold_a"].tolist() == [1, 0, 0]
    assert t["headers_b"].tolist() == [1, 0, 0]
    assert t["lists_b"].tolist() == [2, 0, 0]
    assert t["turns_a"].tolist() == [1, 1, 1]      # the null turn is dropped
    assert t["turns_b"].tolist() == [1, 2, 1]
    assert t["prompt_turns"].tolist() == [1, 2, 1]
    assert t["identical"].tolist() == [0, 0, 1]
    # prompt "hi" vs response "hello": no shared word; "What is / and why?" vs "A": none either
    assert t["prompt_overlap_a"].tolist() == [0.0, 0.0, 0.0]
    g = prepare_frame(pd.DataFrame({"prompt": ["Tell me about cats and dogs"],
                                    "response_a": ["Cats are nice. I'm sorry, but as an AI I cannot say."],
                                    "response_b": ["I’m sorry"]}))
    tg = text_features(g)
    assert tg["prompt_overlap_a"][0] == pytest.approx(1 / 6)  # "cats" of 6 distinct prompt words
    assert tg["refusals_a"][0] == 3 and tg["refusals_b"][0] == 1


def test_llmfao_conversion_matches_the_vote_file(shared_data):
    d = shared_data / "llmfao"
    df = load_llmfao(d)
    votes = pd.read_csv(d / "crowd-comparisons.csv")
    assert len(df) == len(votes) == 8931
    assert df["group"].nunique() == 13
    assert df[["winner_model_a", "winner_model_b", "winner_tie"]].sum().tolist() == [2911, 2549, 3471]
    # left is always model_x, so model_a is the 'left' display name
    assert (df["model_a"].to_numpy() == votes["left"].to_numpy()).all()
    assert (df["model_b"].to_numpy() == votes["right"].to_numpy()).all()
    f = prepare_frame(df, require_labels=True)
    assert np.bincount(f["label"]).tolist() == [2911, 2549, 3471]


def test_llmfao_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="crowd-comparisons.csv"):
        load_llmfao(tmp_path)
