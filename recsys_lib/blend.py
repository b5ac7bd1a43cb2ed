"""Blending rating predictors with feature-weighted linear stacking (Sill et al. 2009).

The blend predicts ``sum_m sum_k w_mk f_k(u, i) p_m(u, i) + sum_k v_k f_k(u, i)``: each model's
weight is a linear function of meta-features of the pair, here how much training data the user
and the item have (:func:`support_features`), as the Netflix Prize blends did. The weights are
a ridge regression learned on predictions for a *validation slice of the training ratings*
(never the test set); the models are then refitted on all training ratings and the learned
weights applied to their test predictions.
"""

from __future__ import annotations

import numpy as np

from .splits import Ratings


def support_features(train: Ratings, n_users: int, n_items: int, users, items) -> np.ndarray:
    """(n, 3): a constant, and log(1 + training ratings) of the pair's user and item, scaled
    to about [0, 1] by the largest count (so the ridge penalty treats them alike)."""
    user_counts = np.log1p(np.bincount(train.users, minlength=n_users))
    item_counts = np.log1p(np.bincount(train.items, minlength=n_items))
    users, items = np.asarray(users), np.asarray(items)
    return np.column_stack([np.ones(len(users)),
                            user_counts[users] / max(user_counts.max(), 1.0),
                            item_counts[items] / max(item_counts.max(), 1.0)])


def _design(predictions: np.ndarray, features: np.ndarray) -> np.ndarray:
    """(n, M*K + K): every prediction times every feature, then the features alone."""
    n = predictions.shape[0]
    products = (predictions[:, :, None] * features[:, None, :]).reshape(n, -1)
    return np.hstack([products, features])


class FWLS:
    """Feature-weighted linear stacking with a ridge penalty ``reg`` (on all weights).

    ``fit(predictions (n, M), truth (n,), features (n, K))``; ``predict`` takes the same
    shapes. ``weights_`` is (M, K): model m's weight at features f is ``weights_[m] @ f``.
    """

    def __init__(self, reg: float = 1.0) -> None:
        if not (np.isfinite(reg) and reg >= 0):
            raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
        self.reg = reg

    def fit(self, predictions, truth, features) -> FWLS:
        predictions = np.asarray(predictions, dtype=np.float64)
        features = np.asarray(features, dtype=np.float64)
        truth = np.asarray(truth, dtype=np.float64)
        if predictions.ndim != 2 or features.ndim != 2 or \
                not predictions.shape[0] == features.shape[0] == truth.shape[0]:
            raise ValueError("predictions (n, M), truth (n,) and features (n, K) must agree "
                             "on n")
        X = _design(predictions, features)
        gram = X.T @ X + self.reg * np.eye(X.shape[1])
        coef = np.linalg.solve(gram, X.T @ truth)
        n_models, n_features = predictions.shape[1], features.shape[1]
        self.weights_ = coef[:n_models * n_features].reshape(n_models, n_features)
        self.offsets_ = coef[n_models * n_features:]
        return self

    def predict(self, predictions, features) -> np.ndarray:
        predictions = np.asarray(predictions, dtype=np.float64)
        features = np.asarray(features, dtype=np.float64)
        return np.einsum("nm,mk,nk->n", predictions, self.weights_, features) + \
            features @ self.offsets_

    def mean_weights(self, features) -> np.ndarray:
        """Each model's weight averaged over the pairs of ``features`` (M,)."""
        return self.weights_ @ np.asarray(features, dtype=np.float64).mean(0)


def choose_reg(predictions, truth, features, candidates=(0.01, 0.1, 1.0, 10.0, 100.0),
               n_folds: int = 5, seed: int = 0) -> float:
    """The ridge penalty with the lowest ``n_folds``-fold cross-validated RMSE on the
    validation predictions (ties: the larger penalty)."""
    truth = np.asarray(truth, dtype=np.float64)
    folds = np.random.default_rng(seed).permutation(len(truth)) % n_folds
    best, best_rmse = None, np.inf
    for reg in sorted(candidates, reverse=True):
        errors = []
        for fold in range(n_folds):
            held = folds == fold
            model = FWLS(reg).fit(np.asarray(predictions)[~held], truth[~held],
                                  np.asarray(features)[~held])
            pred = model.predict(np.asarray(predictions)[held], np.asarray(features)[held])
            errors.append((pred - truth[held]) ** 2)
        score = float(np.sqrt(np.concatenate(errors).mean()))
        if score < best_rmse:
            best, best_rmse = reg, score
    return best
