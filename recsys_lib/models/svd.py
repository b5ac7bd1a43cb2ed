"""Truncated SVD of a filled rating matrix.

``svd-truncated``: the rank-r truncated SVD (``scipy.sparse.linalg.svds``) of the rating
  matrix with its missing entries filled by zeros, the global mean or the item means (a plain
  SVD of the imputed matrix), or, with ``fill="baseline"``, of the baseline residuals
  r_ui - (mu + b_u + b_i) with zeros where missing, added back to the baseline. The filled
  matrix is never stored densely: it is a sparse residual plus a rank-one fill, applied as an
  operator, so the model runs on every dataset.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import LinearOperator, svds

from ..errors import InvalidParameterError
from ..params import COMMON, Choice, Int
from ..splits import Split
from . import register
from .base import RatingModel, check_indices
from .baselines import fit_baseline_als

FILLS = ("zero", "global-mean", "item-mean", "baseline")
#: a matrix with at most this many rows or columns is factored exactly by LAPACK
DENSE_SIDE = 2


@register("svd-truncated")
class TruncatedSVD(RatingModel):
    """Rank-r truncated SVD of the rating matrix with missing entries filled (scipy svds)."""

    float64 = True

    unseen_fallback = ("what the SVD makes of the filled row: zero fill predicts 0 (scored "
                       "as the scale minimum) for an unseen user or item; mean fills predict "
                       "the rank-r reconstruction of a row of means (close to the item mean, "
                       "mu for an unseen item); the baseline fill predicts the baseline "
                       "mu + b_i, mu + b_u or mu, since residual rows of unseen users and items "
                       "are zero")

    chapter = "03_svd_baselines"
    PARAMS = {**COMMON, "n_factors": Int(), "fill": Choice(*FILLS)}

    def __init__(self, n_factors: int = 10, fill: str = "baseline", seed: int = 0) -> None:
        self._init(locals())

    def _fill_values(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.fill == "zero":
            return np.zeros(users.shape)
        if self.fill == "global-mean":
            return np.full(users.shape, self.mu_)
        if self.fill == "item-mean":
            return self.item_mean_[items]
        return self.mu_ + self.b_user_[users] + self.b_item_[items]

    def fit(self, split: Split) -> TruncatedSVD:
        train = split.train
        most = min(split.n_users, split.n_items)
        if self.n_factors > most:
            raise InvalidParameterError(
                f"svd-truncated: n_factors={self.n_factors} is more than the {most} factors "
                f"a {split.n_users} x {split.n_items} rating matrix has "
                f"({split.dataset}/{split.name}); choose n_factors <= {most}")
        self.shape_ = (split.n_users, split.n_items)
        ratings = train.ratings.astype(np.float64)
        self.mu_ = float(ratings.mean())
        counts = np.bincount(train.items, minlength=split.n_items)
        sums = np.bincount(train.items, ratings, minlength=split.n_items)
        self.item_mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), self.mu_)
        _, self.b_user_, self.b_item_ = fit_baseline_als(split)
        residual = ratings - self._fill_values(train.users, train.items)
        matrix = csr_matrix((residual, (train.users, train.items)), shape=self.shape_)
        rank = self.n_factors
        ones = np.ones(self.shape_[0])
        means = None
        if self.fill in ("global-mean", "item-mean"):
            # a plain SVD of the mean-imputed matrix X = 1 m^T + E (m the fill per item, E the
            # sparse residual), applied as an operator so X is never stored densely
            means = self._fill_values(np.zeros(self.shape_[1], dtype=np.int64),
                                      np.arange(self.shape_[1]))
            operator = LinearOperator(
                self.shape_, dtype=np.float64,
                matvec=lambda x: matrix @ np.ravel(x) + ones * (means @ np.ravel(x)),
                rmatvec=lambda y: matrix.T @ np.ravel(y) + means * (ones @ np.ravel(y)))
        else:
            # zero fill: the residual is the matrix itself; baseline: SVD of the residuals
            operator = matrix
        empty = not np.any(matrix.data) and (means is None or not np.any(means))
        if empty:
            # nothing to factor (all-equal ratings under the baseline fill): ARPACK would stop
            # on a zero starting vector; the rank-r part is zero
            u, s, vt = (np.zeros((self.shape_[0], rank)), np.zeros(rank),
                        np.zeros((rank, self.shape_[1])))
        elif rank >= min(self.shape_) - 1 or min(self.shape_) <= DENSE_SIDE:
            # ARPACK takes fewer factors than the short side; a small matrix is exact in LAPACK
            dense = matrix.toarray() + (0.0 if means is None else np.outer(ones, means))
            u, s, vt = np.linalg.svd(dense, full_matrices=False)
            u, s, vt = u[:, :rank], s[:rank], vt[:rank]
        else:
            start = np.random.default_rng(self.seed).uniform(-1, 1, min(self.shape_))
            u, s, vt = svds(operator, k=rank, v0=start, random_state=self.seed)
        order = np.argsort(-s, kind="stable")
        self.user_vectors_ = u[:, order] * s[order]
        self.item_vectors_ = vt[order].T
        self.singular_values_ = s[order]
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        low_rank = np.einsum("nk,nk->n", self.user_vectors_[users], self.item_vectors_[items])
        if self.fill == "baseline":
            return self._fill_values(users, items) + low_rank
        return low_rank  # the SVD reconstructs the filled matrix itself

    def report(self) -> dict:
        return {"singular_values": [round(float(v), 4) for v in self.singular_values_[:20]]}
