"""Running an experiment: seed, fit, predict the test part, score, summarise as one dict.

Also the small helpers shared by the PyTorch models: device choice, seeding and the NaN check.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .errors import TrainingDivergedError
from .metrics import ranking_metrics, rating_metrics, relevance_threshold
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


@contextmanager
def torch_threads(n_threads: int):
    """Run a block with torch limited to ``n_threads`` intra-op threads, then restore."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_finite(loss: float, where: str) -> float:
    """Raise TrainingDivergedError when a loss is NaN or infinite; ``where`` names the step."""
    if not np.isfinite(loss):
        raise TrainingDivergedError(f"the training loss became {loss} at {where}; lower the "
                                    "learning rate or raise the regularisation")
    return loss


def fit(model_name: str, split: Split, seed: int = 0, params: dict | None = None
        ) -> tuple["RatingModel", float]:
    """Seed everything, create ``model_name`` with ``params`` and fit it on ``split``.

    Returns ``(fitted model, fit seconds)``.
    """
    from .models import create_model

    seed_everything(seed)
    model = create_model(model_name, seed=seed, **(params or {}))
    start = time.perf_counter()
    model.fit(split)
    return model, time.perf_counter() - start


def score(split: Split, predictions, k: int = 10, threshold: float | None = None) -> dict:
    """RMSE and MAE (clipped) and precision, recall and NDCG at ``k`` of test predictions.

    ``threshold`` is the rating that makes a test item relevant (default: three quarters up the
    rating scale, 4 on 1-5); see :func:`recsys_lib.metrics.ranking_metrics` for the protocol.
    """
    truth = split.test.ratings
    if threshold is None:
        threshold = relevance_threshold(split.rating_scale)
    return {**rating_metrics(truth, predictions, split.rating_scale),
            **ranking_metrics(split.test.users, truth, predictions, k=k, threshold=threshold)}


def evaluate(model: "RatingModel", split: Split, k: int = 10) -> dict:
    """:func:`score` of ``model``'s predictions on ``split.test``, plus the seconds it took."""
    start = time.perf_counter()
    predictions = model.predict(split.test.users, split.test.items)
    return {**score(split, predictions, k=k), "predict_seconds": time.perf_counter() - start}


def run(model_name: str, dataset: str, split: str | Split | None = None, seed: int = 0,
        params: dict | None = None) -> dict:
    """Train ``model_name`` on a split and return the JSON-ready summary.

    The summary always holds model, dataset, split, seed, n_train, n_test, n_users, n_items,
    n_test_unseen, rmse, mae, precision@10, recall@10, ndcg@10, fit_seconds, predict_seconds and
    params, plus whatever the model's ``report()`` adds.
    """
    data = split if isinstance(split, Split) else load_split(dataset, split)
    model, fit_seconds = fit(model_name, data, seed, params)
    return {"model": model_name, **data.summary(), "seed": seed, **evaluate(model, data),
            "fit_seconds": fit_seconds, "params": model.get_params(), **model.report()}
