"""Preference prediction for the LMSYS Kaggle task: P(a wins), P(b wins), P(tie) from a prompt,
two responses and (when known) the two models' names.

The package's edge is the rating model: a tie-aware Bradley-Terry fit gives each row a prior
over the three outcomes (out of fold for training rows), which a swap-equivariant multinomial
logit combines with text features (lengths, markdown structure, refusals, prompt overlap).

Modules: :mod:`.data` (Kaggle schema), :mod:`.llmfao` (the LLMFAO crowd votes in that schema),
:mod:`.prior` (the BT prior), :mod:`.features` (text features and design), :mod:`.model`
(:class:`PreferencePredictor`), :mod:`.evaluate` (grouped cross-validation, baselines,
calibration), :mod:`.simulate` (data with a planted truth).
"""

from .data import CLASS_COLUMNS, prepare_frame, read_preference_data, swap_frame
from .evaluate import MODELS, EvaluationResult, calibration_table, evaluate
from .llmfao import load_llmfao
from .model import CLASSIFIERS, PreferencePredictor, log_loss
from .prior import BTPrior, fit_prior, out_of_fold_prior
from .simulate import simulate_preferences

__all__ = ["PreferencePredictor", "evaluate", "EvaluationResult", "calibration_table", "MODELS", "CLASSIFIERS",
           "log_loss", "prepare_frame", "read_preference_data", "swap_frame", "CLASS_COLUMNS", "load_llmfao",
           "BTPrior", "fit_prior", "out_of_fold_prior", "simulate_preferences"]
