"""Koren's Asymmetric-SVD (KDD 2008, section 4.1): users represented only by the items they
rated, fitted by full-batch L-BFGS (torch's, with a strong-Wolfe line search; one iteration
counts as one epoch)."""

from __future__ import annotations

import numpy as np
import torch

from ..params import TORCH, Int, Positive, Real
from ..splits import Split
from ..torch_utils import check_finite, pick_device, predict_in_chunks
from . import register
from ._als import baseline_tensors, observed
from .base import RatingModel, check_indices


@register("asymmetric-svd")
class AsymmetricSVD(RatingModel):
    """Koren's Asymmetric-SVD: users represented only by the items they rated (full-batch L-BFGS).

    r_ui = mu + b_u + b_i + q_i^T (|R(u)|^-1/2 sum_{j in R(u)} (r_uj - b_uj) x_j
                                   + |N(u)|^-1/2 sum_{j in N(u)} y_j),
    b_uj the fixed ALS baseline. The user factor is a function of the item parameters, so no
    block has a cheap closed form; the whole objective (squared error over the training
    ratings plus L2 penalties weighted by how many ratings each parameter serves, divided by
    the number of ratings) is minimised by L-BFGS with a strong-Wolfe line search.
    """

    unseen_fallback = ("an unseen user has empty sums, so the factor term vanishes and the "
                       "prediction is mu + b_i; an unseen item has b_i = 0 and q_i = 0 (only "
                       "the penalty acts on them), giving mu + b_u")

    chapter = "05_svdpp"
    PARAMS = {**TORCH, "n_factors": Int(), "n_epochs": Int(), "reg_bias": Positive(),
              "reg_factors": Positive(), "init_std": Real()}

    def __init__(self, n_factors: int = 20, n_epochs: int = 100, reg_bias: float = 0.02,
                 reg_factors: float = 0.5, init_std: float = 0.1, seed: int = 0,
                 device: str | None = None) -> None:
        self._init(locals())

    def _user_factors(self) -> torch.Tensor:
        return (torch.sparse.mm(self.explicit_op_, self.x_)
                + torch.sparse.mm(self.implicit_op_, self.y_))

    def fit(self, split: Split) -> AsymmetricSVD:
        self.device_ = pick_device(self.device)
        data = observed(split, self.device_)
        self.shape_ = (split.n_users, split.n_items)
        mu0, b_user0, b_item0 = baseline_tensors(split, self.device_)
        norm = data.user_counts.clamp(min=1).rsqrt()[data.users]
        residual = data.ratings - mu0 - b_user0[data.users] - b_item0[data.items]
        self.explicit_op_ = data.user_item(residual * norm)
        self.implicit_op_ = data.user_item(norm)
        self.mu_ = data.mu
        gen = torch.Generator().manual_seed(int(self.seed))
        k, dev = self.n_factors, self.device_

        def start(rows: int) -> torch.Tensor:
            return (torch.randn(rows, k, generator=gen) * self.init_std).to(dev).requires_grad_()

        self.q_, self.x_, self.y_ = start(data.n_items), start(data.n_items), start(data.n_items)
        self.b_user_ = torch.zeros(data.n_users, device=dev, requires_grad=True)
        self.b_item_ = torch.zeros(data.n_items, device=dev, requires_grad=True)
        n = float(data.ratings.shape[0])
        n_u, n_i = data.user_counts, data.item_counts
        optimizer = torch.optim.LBFGS([self.b_user_, self.b_item_, self.q_, self.x_, self.y_],
                                      lr=1.0, max_iter=self.n_epochs, history_size=10,
                                      line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                                      tolerance_change=1e-12)
        self.train_curve_ = []

        def closure():
            optimizer.zero_grad()
            z = self._user_factors()
            pred = (self.mu_ + self.b_user_[data.users] + self.b_item_[data.items]
                    + (z[data.users] * self.q_[data.items]).sum(1))
            squared = ((data.ratings - pred) ** 2).sum()
            penalty = (self.reg_bias * ((n_u * self.b_user_ ** 2).sum()
                                        + (n_i * self.b_item_ ** 2).sum())
                       + self.reg_factors * (n_i[:, None] * (self.q_ ** 2 + self.x_ ** 2
                                                             + self.y_ ** 2)).sum())
            loss = (squared + penalty) / n
            check_finite(float(loss.detach()),
                         f"asymmetric-svd evaluation {len(self.train_curve_) + 1}")
            self.train_curve_.append(round(float(torch.sqrt(squared.detach() / n)), 5))
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            self.user_factors_ = self._user_factors()
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        return predict_in_chunks(
            lambda u, i: (self.mu_ + self.b_user_[u] + self.b_item_[i]
                          + (self.user_factors_[u] * self.q_[i]).sum(1)),
            users, items, self.device_)

    def report(self) -> dict:
        curve = self.train_curve_
        return {"train_curve": curve[:: max(1, len(curve) // 50)], "function_evaluations": len(curve)}
