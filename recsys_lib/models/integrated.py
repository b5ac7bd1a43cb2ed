"""Koren's integrated model (KDD 2008, section 5): SVD++ plus the global neighbourhood terms
w_ij and c_ij over the k items most similar to i, all blocks fitted by alternating least
squares (:mod:`.svdpp` for the factors, :class:`.neighbourhood.NeighbourBlock` for the
neighbourhood weights).
"""

from __future__ import annotations

import torch

from ..params import Int, Positive, Real
from ..splits import Split
from . import register
from .neighbourhood import NeighbourBlock
from .svdpp import SVDPP_PARAMS, SVDppCore


@register("integrated")
class Integrated(SVDppCore):
    """Koren's integrated model: SVD++ plus the global neighbourhood terms, fitted by ALS."""

    chapter = "05_svdpp"
    PARAMS = {**SVDPP_PARAMS, "k": Int(), "shrinkage": Real(), "reg_weights": Positive()}
    unseen_fallback = ("as SVD++ (mu + b_i for an unseen user, mu + b_u for an unseen item, mu "
                       "for both): the neighbourhood sums are empty for an unseen user and the "
                       "weights of an unseen item are zero")

    def __init__(self, n_factors: int = 20, n_epochs: int = 12, reg_bias: float = 0.02,
                 reg_factors: float = 0.15, reg_implicit: float = 0.01, init_std: float = 0.1,
                 k: int = 20, shrinkage: float = 100.0, reg_weights: float = 30.0,
                 seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> Integrated:
        self._setup(split)
        self.block_ = NeighbourBlock(split, self.data_, self.k, self.shrinkage,
                                     self.reg_weights)
        self.extra_ = torch.zeros_like(self.data_.ratings)
        self._fit_factors()
        return self

    def _extra_item_term(self) -> torch.Tensor:
        return self.extra_

    def _fit_extra(self, target: torch.Tensor) -> None:
        self.block_.solve(target)
        self.extra_ = self.block_.train_term()

    def _extra_terms(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.block_.term(users, items)
