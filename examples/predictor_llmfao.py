"""Preference prediction on real crowd votes: LLMFAO in the Kaggle schema, grouped CV.

Reads ``../shared/data/llmfao`` (8,931 crowd votes on answers of 59 models to 13 prompts; never
copied into the project), converts it to the LMSYS Kaggle schema, and scores the predictor next to
its baselines and each text block alone with 5-fold cross-validation grouped by prompt. Then fits
one model on all votes, shows what its selection chose and why, saves it as JSON, reloads it and
checks that it predicts identically.

Run from the project root::

    python examples/predictor_llmfao.py [--plot reliability.png] [--seed 1]

The same table comes from ``arena-stats predict evaluate --llmfao``; over several seeds with
``--seeds 0 1 2 3 4``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from arena_stats.predictor import PreferencePredictor, compute_features, evaluate, load_llmfao


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llmfao", default=None, help="the llmfao folder (default ../shared/data/llmfao)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="write the reliability plot here (PNG)")
    args = parser.parse_args()

    data = load_llmfao(args.llmfao)
    print(f"LLMFAO: {len(data):,} votes, {data['group'].nunique()} prompts, "
          f"{len(set(data['model_a']) | set(data['model_b']))} models")

    start = time.perf_counter()
    result = evaluate(data, n_folds=args.folds, seed=args.seed)
    print(result.summary())
    print(f"({time.perf_counter() - start:.1f} s)\n")
    print("calibration of the full model (pooled one-vs-rest bins):")
    print(result.calibration("full", bins=5).round(3).to_string(index=False))
    if args.plot:
        result.reliability_plot().savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")

    start = time.perf_counter()
    features = compute_features(data, ["style", "tie"])
    print(f"\ntext features of {len(data):,} rows: {time.perf_counter() - start:.2f} s")
    model = PreferencePredictor(n_folds=args.folds, seed=args.seed).fit(data, features=features)
    print(model.summary())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "llmfao-model.json"
        model.save(path)
        back = PreferencePredictor.load(path)
        same = (back.predict_proba(data.head(100)).to_numpy() == model.predict_proba(data.head(100)).to_numpy()).all()
        print(f"saved {path.stat().st_size / 1024:.0f} KiB of JSON; reloaded model predicts identically: {same}")
    print(model.coefficients().round(3).to_string(index=False))


if __name__ == "__main__":
    main()
