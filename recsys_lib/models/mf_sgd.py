"""Biased matrix factorisation (Funk-SVD) by stochastic gradient descent.

``biased-mf-sgd``: the biased matrix factorisation of Funk and Koren,
r_ui = mu + b_u + b_i + q_i^T p_u, trained on the observed ratings only with Surprise's SGD
updates, applied to shuffled minibatches at once (PyTorch, no per-rating Python loop).
"""

from __future__ import annotations

import numpy as np
import torch

from ..params import TORCH, Int, Positive, Real
from ..splits import Split
from ..torch_utils import check_finite, pick_device, predict_in_chunks
from . import register
from ._als import observed
from .base import RatingModel, check_indices


@register("biased-mf-sgd")
class BiasedMFSGD(RatingModel):
    """Biased matrix factorisation (Funk-SVD) trained on observed ratings by minibatch SGD."""

    unseen_fallback = ("an unseen user's b_u and p_u receive no update: b_u = 0 and p_u is its "
                       "small random start, which is set to 0 after training, so the "
                       "prediction is mu + b_i; an unseen item likewise gives mu + b_u")

    chapter = "03_svd_baselines"
    PARAMS = {**TORCH, "n_factors": Int(), "n_epochs": Int(), "lr": Positive(), "reg": Real(),
              "init_std": Real(), "lr_decay": Positive(), "batch_size": Int()}

    def __init__(self, n_factors: int = 100, n_epochs: int = 20, lr: float = 0.005,
                 reg: float = 0.02, init_std: float = 0.1, lr_decay: float = 1.0,
                 batch_size: int = 1024, seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> BiasedMFSGD:
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
        return predict_in_chunks(
            lambda u, i: (self.mu_ + self.b_user_[u] + self.b_item_[i]
                          + (self.user_factors_[u] * self.item_factors_[i]).sum(1)),
            users, items, self.device_)

    def report(self) -> dict:
        return {"train_curve": self.train_curve_}
