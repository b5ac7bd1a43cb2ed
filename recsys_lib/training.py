"""Running an experiment: seed, fit, predict the test part, score, summarise as one dict.

Also the small helpers shared by the PyTorch models: device choice, seeding and the NaN check.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

import numpy as np

from .errors import TrainingDivergedError
from .metrics import rating_metrics
from .splits import Split, load_split

if TYPE_CHECKING:  # the model modules import this one for the helpers below
    from .models import RatingModel


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's global and (when imported) torch's generators."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # torch is optional for the classical models
        return
    torch.manual_seed(seed)


def pick_device(device: str | None = None):
    """``torch.device(device)``, or CUDA when available and CPU otherwise."""
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_finite(loss: float, where: str) -> float:
    """Raise TrainingDivergedError when a loss is NaN or infinite; ``where`` names the step."""
    if not np.isfinite(loss):
        raise TrainingDivergedError(f"the training loss became {loss} at {where}; lower the "
                                    "learning rate or raise the regularisation")
    return loss


def evaluate(model: "RatingModel", split: Split) -> dict:
    """RMSE and MAE of ``model`` on ``split.test`` (clipped to the split's rating scale)."""
    start = time.perf_counter()
    predictions = model.predict(split.test.users, split.test.items)
    scores = rating_metrics(split.test.ratings, predictions, split.rating_scale)
    return {**scores, "predict_seconds": time.perf_counter() - start}


def run(model_name: str, dataset: str, split: str | Split | None = None, seed: int = 0,
        params: dict | None = None) -> dict:
    """Train ``model_name`` on a split and return the JSON-ready summary.

    The summary always holds model, dataset, split, seed, n_train, n_test, n_users, n_items,
    n_test_unseen, rmse, mae, fit_seconds, predict_seconds and params, plus whatever the
    model's ``report()`` adds.
    """
    from .models import create_model

    data = split if isinstance(split, Split) else load_split(dataset, split)
    seed_everything(seed)
    model = create_model(model_name, seed=seed, **(params or {}))
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    counts = data.summary()
    return {"model": model_name, **counts, "seed": seed, **evaluate(model, data),
            "fit_seconds": fit_seconds, "params": model.get_params(), **model.report()}
