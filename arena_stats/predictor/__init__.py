"""Preference prediction for the LMSYS Kaggle task: P(a wins), P(b wins), P(tie) from a prompt,
two responses and (when known) the two models' names.

The package's edge is the rating model: a tie-aware Bradley-Terry fit gives each row a prior
over the three outcomes (out of fold for training rows), the centre of a swap-equivariant
logit to which text blocks (lengths and style, hashed word n-grams, tie features) are added only
when grouped cross-validation shows they help, then calibrated.

Modules: :mod:`.data` (Kaggle schema), :mod:`.llmfao` (the LLMFAO crowd votes in that schema),
:mod:`.prior` (the BT prior), :mod:`.features` (hand-made text features), :mod:`.ngrams`
(n-gram content models), :mod:`.featurize` (all features of a frame, once), :mod:`.combine`
(the combining logit and calibration), :mod:`.selection` (the choice of blocks), :mod:`.model`
(:class:`PreferencePredictor`), :mod:`.validate` (reading a model file as data),
:mod:`.evaluate` (grouped cross-validation, baselines, calibration), :mod:`.simulate` (data
with a planted truth).
"""

from .data import CLASS_COLUMNS, prepare_frame, read_preference_data, swap_frame
from .evaluate import MODELS, EvaluationResult, SeedEvaluation, calibration_table, evaluate, evaluate_seeds
from .featurize import PreferenceFeatures, compute_features
from .llmfao import load_llmfao
from .model import DEFAULT_BLOCKS, TEXT_BLOCKS, PreferencePredictor, log_loss
from .prior import BTPrior, fit_prior, out_of_fold_prior
from .selection import SelectionReport
from .simulate import simulate_preferences

__all__ = ["PreferencePredictor", "evaluate", "evaluate_seeds", "EvaluationResult", "SeedEvaluation",
           "SelectionReport", "calibration_table", "MODELS", "TEXT_BLOCKS", "DEFAULT_BLOCKS", "log_loss",
           "prepare_frame", "read_preference_data", "swap_frame", "CLASS_COLUMNS", "load_llmfao",
           "PreferenceFeatures", "compute_features", "BTPrior", "fit_prior", "out_of_fold_prior",
           "simulate_preferences"]
