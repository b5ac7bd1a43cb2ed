"""The one implementation of every metric in the book.

Rating metrics clip predictions to the rating scale first (a prediction of 5.7 on a 1-5 scale
is scored as 5) and count only observed test ratings. Top-k metrics rank each user's *test*
items by predicted rating and call an item relevant when its true rating reaches a threshold.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .errors import InvalidRatingsError
from .params import Int, Real

log = logging.getLogger(__name__)


def _finite_truth(truth: np.ndarray) -> np.ndarray:
    """Refuse NaN or infinite true ratings: they make every error metric meaningless."""
    n_bad = int((~np.isfinite(truth)).sum())
    if n_bad:
        raise InvalidRatingsError(f"{n_bad} of {truth.size} true ratings are NaN or infinite; "
                                  "the test ratings must all be known")
    return truth


def _checked(y_true, y_pred, rating_scale) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true, dtype=np.float64).ravel()
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if truth.shape != pred.shape:
        raise ValueError(f"{truth.size} true ratings but {pred.size} predictions")
    if truth.size == 0:
        raise ValueError("no ratings to score")
    _finite_truth(truth)
    n_bad = int((~np.isfinite(pred)).sum())
    if n_bad:
        raise ValueError(f"{n_bad} of {pred.size} predictions are NaN or infinite")
    low, high = rating_scale
    if not low < high:
        raise InvalidRatingsError(f"the rating scale ({low:g}, {high:g}) must have low < high")
    return truth, np.clip(pred, low, high)


def rmse(y_true, y_pred, rating_scale: tuple[float, float]) -> float:
    """Root mean squared error of predictions clipped to ``rating_scale`` (low, high)."""
    truth, pred = _checked(y_true, y_pred, rating_scale)
    return float(np.sqrt(np.mean((truth - pred) ** 2)))


def mae(y_true, y_pred, rating_scale: tuple[float, float]) -> float:
    """Mean absolute error of predictions clipped to ``rating_scale`` (low, high)."""
    truth, pred = _checked(y_true, y_pred, rating_scale)
    return float(np.mean(np.abs(truth - pred)))


def rating_metrics(y_true, y_pred, rating_scale: tuple[float, float]) -> dict[str, float]:
    return {"rmse": rmse(y_true, y_pred, rating_scale), "mae": mae(y_true, y_pred, rating_scale)}


def relevance_threshold(rating_scale: tuple[float, float]) -> float:
    """The rating that makes a test item relevant: three quarters up the scale (4 on 1-5)."""
    low, high = rating_scale
    return low + 0.75 * (high - low)


def ranking_metrics(users, y_true, y_pred, k: int = 10, threshold: float = 4.0
                    ) -> dict[str, float | int | None]:
    """Precision, recall and NDCG at ``k``, averaged over users with a relevant test item.

    For each user the test items are ranked by prediction (ties broken by position, so the
    result is deterministic); an item is relevant when its true rating is >= ``threshold``.
    Precision divides the hits in the top k by k; recall by the user's number of relevant
    items; NDCG uses binary gains and the ideal ordering of the same test items. Users with no
    relevant test item are left out of all three averages (recall is undefined for them).

    ``ranked_users`` counts the users averaged and ``unranked_users`` those left out. When no
    user has a relevant test item the three metrics are None (with a logged note), so the
    rating metrics of the same run still stand.
    """
    Int().check("k", k)
    Real(low=None).check("threshold", threshold)
    columns = {"user": np.asarray(users), "truth": np.asarray(y_true, dtype=float),
               "pred": np.asarray(y_pred, dtype=float)}
    if len({len(values) for values in columns.values()}) > 1:
        raise ValueError("users, true ratings and predictions differ in length: "
                         + ", ".join(str(len(values)) for values in columns.values()))
    frame = pd.DataFrame(columns)
    if frame.empty:
        raise ValueError("no ratings to rank")
    _finite_truth(frame["truth"].to_numpy())
    if not np.isfinite(frame["pred"]).all():
        raise ValueError("predictions contain NaN or infinite values")
    frame["relevant"] = frame["truth"] >= threshold
    frame["position"] = np.arange(len(frame))
    frame = frame.sort_values(["user", "pred", "position"], ascending=[True, False, True],
                              kind="stable")
    frame["rank"] = frame.groupby("user").cumcount()  # 0-based
    discount = 1.0 / np.log2(frame["rank"].to_numpy() + 2.0)
    in_top = frame["rank"].to_numpy() < k
    relevant = frame["relevant"].to_numpy()
    frame["hit"] = in_top & relevant
    frame["dcg"] = np.where(frame["hit"], discount, 0.0)

    per_user = frame.groupby("user").agg(hits=("hit", "sum"), n_relevant=("relevant", "sum"),
                                         dcg=("dcg", "sum"))
    n_users = len(per_user)
    per_user = per_user[per_user["n_relevant"] > 0]
    if per_user.empty:
        log.warning("no user has a test rating >= %g: precision, recall and NDCG at %d are "
                    "not defined (reported as null)", threshold, k)
        return {f"precision@{k}": None, f"recall@{k}": None, f"ndcg@{k}": None,
                "ranked_users": 0, "unranked_users": n_users}
    ideal_hits = np.minimum(per_user["n_relevant"].to_numpy(), k)
    longest = int(ideal_hits.max())  # k may exceed every user's test items
    cumulative = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(longest) + 2.0))])
    idcg = cumulative[ideal_hits]
    return {f"precision@{k}": float((per_user["hits"] / k).mean()),
            f"recall@{k}": float((per_user["hits"] / per_user["n_relevant"]).mean()),
            f"ndcg@{k}": float((per_user["dcg"].to_numpy() / idcg).mean()),
            "ranked_users": int(len(per_user)), "unranked_users": n_users - len(per_user)}
