"""The global mean and the baseline predictor mu + b_u + b_i."""

from __future__ import annotations

import numpy as np

from ..params import COMMON, Int, Real
from ..splits import Split
from . import register
from .base import RatingModel, check_indices


@register("global-mean")
class GlobalMean(RatingModel):
    """Predicts the mean training rating for every pair."""

    float64 = True

    unseen_fallback = "the global mean, like every other pair"

    chapter = "03_svd_baselines"
    PARAMS = COMMON

    def __init__(self, seed: int = 0) -> None:
        self._init(locals())

    def fit(self, split: Split) -> GlobalMean:
        self.shape_ = (split.n_users, split.n_items)
        self.mean_ = float(np.mean(split.train.ratings, dtype=np.float64))
        return self

    def predict(self, users, items) -> np.ndarray:
        users, _ = check_indices(self.shape_, users, items)
        return np.full(users.shape, self.mean_)


def fit_baseline_als(split: Split, n_epochs: int = 10, reg_user: float = 15.0,
                     reg_item: float = 10.0) -> tuple[float, np.ndarray, np.ndarray]:
    """Biases of r_ui ~ mu + b_u + b_i by alternating regularised least squares.

    Each epoch sets every item bias, then every user bias, to its closed-form ridge solution
    given the other (Koren 2010, section 2.1; the order and defaults of Surprise's BaselineOnly).
    Returns ``(mu, b_user (n_users,), b_item (n_items,))``; unrated users and items keep 0.
    """
    train = split.train
    ratings = train.ratings.astype(np.float64)
    mu = float(ratings.mean())
    user_counts = np.bincount(train.users, minlength=split.n_users)
    item_counts = np.bincount(train.items, minlength=split.n_items)
    b_user = np.zeros(split.n_users)
    b_item = np.zeros(split.n_items)
    for _ in range(n_epochs):
        b_item = np.bincount(train.items, ratings - mu - b_user[train.users],
                             minlength=split.n_items) / (reg_item + item_counts)
        b_user = np.bincount(train.users, ratings - mu - b_item[train.items],
                             minlength=split.n_users) / (reg_user + user_counts)
    return mu, b_user, b_item


@register("baseline")
class Baseline(RatingModel):
    """The baseline predictor b_ui = mu + b_u + b_i fitted by ALS (Surprise's defaults)."""

    float64 = True

    unseen_fallback = "the bias of an unseen user or item is 0, so the prediction falls back " \
                      "to mu + b_i, mu + b_u or mu"

    chapter = "03_svd_baselines"
    PARAMS = {**COMMON, "n_epochs": Int(), "reg_user": Real(), "reg_item": Real()}

    def __init__(self, n_epochs: int = 10, reg_user: float = 15.0, reg_item: float = 10.0,
                 seed: int = 0) -> None:
        self._init(locals())

    def fit(self, split: Split) -> Baseline:
        self.mu_, self.b_user_, self.b_item_ = fit_baseline_als(
            split, self.n_epochs, self.reg_user, self.reg_item)
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices((len(self.b_user_), len(self.b_item_)), users, items)
        return self.mu_ + self.b_user_[users] + self.b_item_[items]
