"""Running an experiment: seed, fit, predict the test part, score, summarise as one dict.

The summary's keys are defined in :mod:`recsys_lib.glossary`.
"""

from __future__ import annotations

import random
import time

import numpy as np
import torch

from .metrics import ranking_metrics, rating_metrics, relevance_threshold
from .models import RatingModel, create_model
from .params import check_seed
from .splits import Split, load_split
from .topn import topn_summary


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's global and torch's generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(model_name: str, split: Split, seed: int = 0, params: dict | None = None
        ) -> tuple[RatingModel, float]:
    """Seed everything, create ``model_name`` with ``params`` and fit it on ``split``.

    Returns ``(fitted model, fit seconds)``.
    """
    check_seed(seed)
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


def evaluate(model: RatingModel, split: Split, k: int = 10) -> dict:
    """:func:`score` of ``model``'s predictions on ``split.test``, plus the seconds it took."""
    return _evaluate(model, split, k)[0]


def _evaluate(model: RatingModel, split: Split, k: int = 10) -> tuple[dict, np.ndarray]:
    start = time.perf_counter()
    predictions = model.predict(split.test.users, split.test.items)
    seconds = time.perf_counter() - start
    return {**score(split, predictions, k=k), "predict_seconds": seconds}, predictions


def run(model_name: str, dataset: str, split: str | Split | None = None, seed: int = 0,
        params: dict | None = None) -> dict:
    """Train ``model_name`` on a split and return the JSON-ready summary.

    The summary always holds model, dataset, split, seed, n_train, n_test, n_users, n_items,
    n_test_unseen, rmse, mae, precision@10, recall@10, ndcg@10, fit_seconds, predict_seconds and
    params, plus whatever the model's ``report()`` adds.
    """
    return study_run(model_name, dataset, split, seed, params)[0]


def study_run(model_name: str, dataset: str, split: str | Split | None = None,
              seed: int = 0, params: dict | None = None, topn: bool = False
              ) -> tuple[dict, dict]:
    """:func:`run`, also returning the arrays a study keeps: ``{"split": Split, "pred":
    (n_test,) test predictions}``; with ``topn`` the summary adds the top-N keys
    (:func:`recsys_lib.topn.topn_summary`) and the arrays ``koren_ranks``."""
    data = split if isinstance(split, Split) else load_split(dataset, split)
    model, fit_seconds = fit(model_name, data, seed, params)
    scores, predictions = _evaluate(model, data)
    summary = {"model": model_name, **data.summary(), "seed": seed, **scores,
               "fit_seconds": fit_seconds, "params": model.get_params(), **model.report()}
    arrays = {"split": data, "pred": np.asarray(predictions)}
    if topn:
        topn_keys, arrays["koren_ranks"] = topn_summary(model, data)
        summary.update(topn_keys)
    return summary, arrays
