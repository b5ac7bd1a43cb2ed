"""Matrix factorisation baselines: truncated SVD of a filled matrix, and Funk-SVD by SGD.

* ``svd-truncated``: the rank-r truncated SVD (``scipy.sparse.linalg.svds``) of the rating
  matrix with its missing entries filled by zeros, the global mean or the item means (a plain
  SVD of the imputed matrix), or, with ``fill="baseline"``, of the baseline residuals
  r_ui - (mu + b_u + b_i) with zeros where missing, added back to the baseline. The filled
  matrix is never stored densely: it is a sparse residual plus a rank-one fill, applied as an
  operator, so the model runs on every dataset.
* ``biased-mf-sgd``: the biased matrix factorisation of Funk and Koren,
  r_ui = mu + b_u + b_i + q_i^T p_u, trained on the observed ratings only with Surprise's SGD
  updates, applied to shuffled minibatches at once (PyTorch, no per-rating Python loop).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidParameterError
from ..splits import Split
from . import register
from ._factorisation import (as_index_tensors, check_finite, check_non_negative,
                             check_positive, chunks, observed, pick_device)
from .base import RatingModel, check_indices, check_positive_int

FILLS = ("zero", "global-mean", "item-mean", "baseline")


@register("svd-truncated")
class TruncatedSVD(RatingModel):
    """Rank-r truncated SVD of the rating matrix with missing entries filled (scipy svds)."""

    unseen_fallback = ("what the SVD makes of the filled row: zero fill predicts 0 (scored "
                       "as the scale minimum) for an unseen user or item; mean fills predict "
                       "the rank-r reconstruction of a row of means (close to the item mean, "
                       "mu for an unseen item); the baseline fill predicts the baseline "
                       "mu + b_i, mu + b_u or mu, since residual rows of unseen users and items "
                       "are zero")

    def __init__(self, rank: int = 10, fill: str = "baseline", seed: int = 0) -> None:
        check_positive_int(rank=rank)
        if fill not in FILLS:
            raise InvalidParameterError(f"fill must be one of {', '.join(FILLS)}; got {fill!r}")
        self._keep_params(locals())

    def _fill_values(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.fill == "zero":
            return np.zeros(users.shape)
        if self.fill == "global-mean":
            return np.full(users.shape, self.mu_)
        if self.fill == "item-mean":
            return self.item_mean_[items]
        return self.mu_ + self.b_user_[users] + self.b_item_[items]

    def fit(self, split: Split) -> TruncatedSVD:
        from scipy.sparse import csr_matrix
        from scipy.sparse.linalg import LinearOperator, svds

        from .baselines import fit_baseline_als

        train = split.train
        self.shape_ = (split.n_users, split.n_items)
        ratings = train.ratings.astype(np.float64)
        self.mu_ = float(ratings.mean())
        counts = np.bincount(train.items, minlength=split.n_items)
        sums = np.bincount(train.items, ratings, minlength=split.n_items)
        self.item_mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), self.mu_)
        _, self.b_user_, self.b_item_ = fit_baseline_als(split)
        residual = ratings - self._fill_values(train.users, train.items)
        matrix = csr_matrix((residual, (train.users, train.items)), shape=self.shape_)
        rank = min(self.rank, min(self.shape_) - 1)
        start = np.random.default_rng(self.seed).uniform(-1, 1, min(self.shape_))
        if self.fill in ("global-mean", "item-mean"):
            # a plain SVD of the mean-imputed matrix X = 1 m^T + E (m the fill per item, E the
            # sparse residual), applied as an operator so X is never stored densely
            ones = np.ones(self.shape_[0])
            means = self._fill_values(np.zeros(self.shape_[1], dtype=np.int64),
                                      np.arange(self.shape_[1]))
            operator = LinearOperator(
                self.shape_, dtype=np.float64,
                matvec=lambda x: matrix @ np.ravel(x) + ones * (means @ np.ravel(x)),
                rmatvec=lambda y: matrix.T @ np.ravel(y) + means * (ones @ np.ravel(y)))
            u, s, vt = svds(operator, k=rank, v0=start, random_state=self.seed)
        else:
            # zero fill: the residual is the matrix itself; baseline: SVD of the residuals
            u, s, vt = svds(matrix, k=rank, v0=start, random_state=self.seed)
        order = np.argsort(-s)
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


@register("biased-mf-sgd")
class BiasedMF(RatingModel):
    """Biased matrix factorisation (Funk-SVD) trained on observed ratings by minibatch SGD."""

    unseen_fallback = ("an unseen user's b_u and p_u receive no update: b_u = 0 and p_u is its "
                       "small random start, which is set to 0 after training, so the "
                       "prediction is mu + b_i; an unseen item likewise gives mu + b_u")

    def __init__(self, n_factors: int = 100, n_epochs: int = 20, lr: float = 0.005,
                 reg: float = 0.02, init_std: float = 0.1, lr_decay: float = 1.0,
                 batch_size: int = 1024, seed: int = 0, device: str | None = None) -> None:
        check_positive_int(n_factors=n_factors, n_epochs=n_epochs, batch_size=batch_size)
        check_positive(lr=lr, lr_decay=lr_decay)
        check_non_negative(reg=reg, init_std=init_std)
        self._keep_params(locals())

    def fit(self, split: Split) -> BiasedMF:
        self.device_ = pick_device(self.device)
        data = observed(split, self.device_)
        self.shape_ = (split.n_users, split.n_items)
        gen = torch.Generator().manual_seed(int(self.seed))
        k = self.n_factors
        dev = self.device_
        self.mu_ = data.mu
        self.user_factors_ = (torch.randn(data.n_users, k, generator=gen) * self.init_std).to(dev)
        self.item_factors_ = (torch.randn(data.n_items, k, generator=gen) * self.init_std).to(dev)
        self.b_user_ = torch.zeros(data.n_users, device=dev)
        self.b_item_ = torch.zeros(data.n_items, device=dev)
        n = data.ratings.shape[0]
        lr = self.lr
        self.train_curve_ = []
        for epoch in range(self.n_epochs):
            order = torch.randperm(n, generator=gen).to(dev)
            squared = 0.0
            for start in range(0, n, self.batch_size):
                rows = order[start:start + self.batch_size]
                u, i, r = data.users[rows], data.items[rows], data.ratings[rows]
                p, q = self.user_factors_[u], self.item_factors_[i]
                bu, bi = self.b_user_[u], self.b_item_[i]
                error = r - (self.mu_ + bu + bi + (p * q).sum(1))
                squared += float((error * error).sum())
                # Surprise's per-rating updates, summed over the minibatch
                self.b_user_.index_add_(0, u, lr * (error - self.reg * bu))
                self.b_item_.index_add_(0, i, lr * (error - self.reg * bi))
                self.user_factors_.index_add_(0, u, lr * (error[:, None] * q - self.reg * p))
                self.item_factors_.index_add_(0, i, lr * (error[:, None] * p - self.reg * q))
            loss = float(np.sqrt(squared / n))
            check_finite(loss, f"biased-mf-sgd epoch {epoch + 1}")
            self.train_curve_.append(round(loss, 5))
            lr *= self.lr_decay
        unseen_users = data.user_counts == 0
        unseen_items = data.item_counts == 0
        self.user_factors_[unseen_users] = 0.0
        self.item_factors_[unseen_items] = 0.0
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        out = []
        with torch.no_grad():
            for part in chunks(len(users), 65536):
                u, i = as_index_tensors(users[part], items[part], self.device_)
                out.append((self.mu_ + self.b_user_[u] + self.b_item_[i]
                            + (self.user_factors_[u] * self.item_factors_[i]).sum(1)).cpu())
        return torch.cat(out).double().numpy() if out else np.zeros(0)

    def report(self) -> dict:
        return {"train_curve": self.train_curve_}
