"""Top-N recommendation quality of rating predictors: does a lower RMSE rank better?

* :func:`koren_ranks`: Koren's protocol (KDD 2008, section 5), as Cremonesi, Koren and
  Turrin used it (RecSys 2010): for every test rating at the top of the scale (5 stars), the
  rated item is ranked among ``n_random`` items the user has not rated, drawn at random; its
  rank (0 = first) says where it would appear in a list of ``n_random + 1`` items.
  :func:`recall_curve` turns ranks into recall@N (the share of 5-star items ranked in the top
  N), and ``rank / n_random`` is the percentile rank.
* :func:`full_ranking`: every item the user has not rated in training is ranked; recall@k and
  NDCG@k against the user's relevant test items.
* The two baselines that study found hard to beat at top-N although their RMSE is poor or
  undefined: :class:`MostPopular` (scores are training popularity) and PureSVD (the
  ``svd-truncated`` model with ``fill="zero"``: a truncated SVD of the zero-filled matrix).

Ties are counted against the model (an item tied with the target is ranked above it), so a
constant predictor ranks nothing.
"""

from __future__ import annotations

import numpy as np

from .errors import NotFittedError
from .metrics import relevance_threshold
from .params import Int, Real, check_seed
from .splits import Split


class MostPopular:
    """Scores every item by its number of training ratings (a ranking, not a rating)."""

    def fit(self, split: Split) -> MostPopular:
        self.popularity_ = np.bincount(split.train.items, minlength=split.n_items)
        return self

    def predict(self, users, items) -> np.ndarray:
        if not hasattr(self, "popularity_"):
            raise NotFittedError("most-popular is not fitted: call fit(split) before "
                                 "predict()")
        return self.popularity_[np.asarray(items)].astype(np.float64)


def _rated(split: Split) -> list[set]:
    """Items each user rated in training or test (never drawn as random negatives)."""
    rated = [set() for _ in range(split.n_users)]
    for part in (split.train, split.test):
        for user, item in zip(part.users, part.items):
            rated[user].add(item)
    return rated


def koren_ranks(model, split: Split, n_random: int = 1000, seed: int = 0,
                top: float | None = None, skip_short: bool = False) -> np.ndarray:
    """Rank of each top-rated test item among ``n_random`` unrated items (0 = first).

    ``model`` has ``predict(users, items)``; ``top`` is the rating that counts (default the
    top of the scale). Random items are drawn per test rating, without replacement, from the
    items the user rated neither in training nor in test (seeded). A user with fewer than
    ``n_random`` such items raises ValueError, or with ``skip_short`` their test ratings are
    left out (:func:`koren_targets` tells which are kept).
    """
    Int().check("n_random", n_random)
    check_seed(seed)
    rated = _rated(split)
    chosen = koren_targets(split, n_random, top) if skip_short else \
        np.flatnonzero(split.test.ratings == (split.rating_scale[1] if top is None else top))
    rng = np.random.default_rng(seed)
    users = np.repeat(split.test.users[chosen], n_random + 1)
    items = np.empty((len(chosen), n_random + 1), dtype=np.int64)
    for row, index in enumerate(chosen):
        user = split.test.users[index]
        pool = np.setdiff1d(np.arange(split.n_items), np.fromiter(rated[user], np.int64),
                            assume_unique=True)
        if len(pool) < n_random:
            raise ValueError(f"user {user} has only {len(pool)} unrated items; "
                             f"n_random={n_random} is too many for this dataset")
        items[row, 0] = split.test.items[index]
        items[row, 1:] = rng.choice(pool, size=n_random, replace=False)
    scores = np.asarray(model.predict(users, items.ravel()), dtype=np.float64)
    scores = scores.reshape(len(chosen), n_random + 1)
    return (scores[:, 1:] >= scores[:, :1]).sum(1)


def koren_targets(split: Split, n_random: int = 1000, top: float | None = None
                  ) -> np.ndarray:
    """Indices into ``split.test`` of the top-rated test ratings whose user has at least
    ``n_random`` items rated neither in training nor in test."""
    top = split.rating_scale[1] if top is None else top
    rated_counts = np.bincount(np.concatenate([split.train.users, split.test.users]),
                               minlength=split.n_users)
    chosen = np.flatnonzero(split.test.ratings == top)
    return chosen[split.n_items - rated_counts[split.test.users[chosen]] >= n_random]


def recall_curve(ranks: np.ndarray, max_n: int = 20) -> np.ndarray:
    """recall@N for N = 1 .. ``max_n``: the share of ranks below N."""
    Int().check("max_n", max_n)
    ranks = np.asarray(ranks)
    if not ranks.size:  # no target: undefined, without numpy's empty-mean warning
        return np.full(max_n, np.nan)
    return np.array([(ranks < n).mean() for n in range(1, max_n + 1)])


def full_ranking(model, split: Split, k: int = 10, threshold: float | None = None,
                 chunk_users: int = 64) -> dict:
    """recall@k and NDCG@k when every item a user did not rate in training is ranked.

    A test item is relevant when its rating reaches ``threshold`` (default three quarters up
    the scale: 4 on 1-5). Averages are over users with a relevant test item; binary gains;
    ties in scores are broken by item index. Returns ``recall@k``, ``ndcg@k`` and ``users``;
    with no relevant test rating at all, both averages are NaN (undefined; ``null`` in a
    record) and ``users`` is 0, and no warning is raised. ``k`` must be a whole number >= 1
    and ``threshold`` a finite number (InvalidParameterError otherwise); a ``k`` beyond a
    user's candidate items ranks them all.
    """
    Int().check("k", k)
    threshold = relevance_threshold(split.rating_scale) if threshold is None else \
        Real(low=None).check("threshold", threshold)
    relevant = [set() for _ in range(split.n_users)]
    for user, item, rating in zip(split.test.users, split.test.items, split.test.ratings):
        if rating >= threshold:
            relevant[user].add(item)
    trained = [[] for _ in range(split.n_users)]
    for user, item in zip(split.train.users, split.train.items):
        trained[user].append(item)
    users = np.array([u for u in range(split.n_users) if relevant[u]])
    discounts = 1.0 / np.log2(np.arange(2, min(k, split.n_items) + 2))  # k may exceed items
    recalls, ndcgs = [], []
    for start in range(0, len(users), chunk_users):
        block = users[start:start + chunk_users]
        scores = np.asarray(model.predict(np.repeat(block, split.n_items),
                                          np.tile(np.arange(split.n_items), len(block))),
                            dtype=np.float64).reshape(len(block), split.n_items)
        for row, user in enumerate(block):
            scores[row, trained[user]] = -np.inf
            top = np.argsort(-scores[row], kind="stable")[:k]
            hits = np.array([item in relevant[user] for item in top], dtype=float)
            ideal = discounts[:min(k, len(relevant[user]))].sum()
            recalls.append(hits.sum() / len(relevant[user]))
            ndcgs.append(float(hits @ discounts[:len(hits)]) / ideal)
    if not len(users):  # nothing to average: undefined, said by users = 0, without a warning
        return {f"recall@{k}": float("nan"), f"ndcg@{k}": float("nan"), "users": 0}
    return {f"recall@{k}": float(np.mean(recalls)), f"ndcg@{k}": float(np.mean(ndcgs)),
            "users": int(len(users))}


def topn_summary(model, split: Split, n_random: int = 1000, max_n: int = 20, k: int = 10,
                 seed: int = 0) -> tuple[dict, np.ndarray]:
    """Both top-N protocols for one fitted model: the summary keys (``koren_*``,
    ``full_*``; see the glossary) and the Koren ranks (n_targets,).

    Test ratings of users with fewer than ``n_random`` unrated items are left out of Koren's
    protocol (``koren_skipped`` counts them; ML-100K's heaviest raters).
    """
    top = split.rating_scale[1]
    ranks = koren_ranks(model, split, n_random=n_random, seed=seed, skip_short=True)
    full = full_ranking(model, split, k=k)
    defined = len(ranks) > 0
    summary = {
        "koren_targets": int(len(ranks)),
        "koren_skipped": int((split.test.ratings == top).sum() - len(ranks)),
        "koren_random_items": n_random,
        "koren_recall": [float(r) for r in recall_curve(ranks, max_n)] if defined else None,
        "koren_mean_percentile": float((ranks / n_random).mean()) if defined else None,
        f"full_recall@{k}": full[f"recall@{k}"] if full["users"] else None,
        f"full_ndcg@{k}": full[f"ndcg@{k}"] if full["users"] else None,
        "full_users": full["users"],
    }
    return summary, ranks
