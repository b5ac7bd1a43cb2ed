"""SVD++ (Koren, KDD 2008, "Factorization meets the neighborhood"), fitted by alternating
least squares; :mod:`.integrated` extends it with the neighbourhood terms.

N(u), the implicit feedback, is the set of items user u rated in training (the explicit-only
setting of the paper's MovieLens runs). The model is fitted by exact block-coordinate descent
on Koren's regularised squared error: every block (user biases and factors, item biases and
factors, the implicit factors y_j, the neighbourhood weights) has a closed-form ridge solution
given the others, and each block is solved for all users or items at once with batched
Cholesky factorisations.
"""

from __future__ import annotations

import numpy as np
import torch

from ..params import TORCH, Int, Positive, Real
from ..splits import Split
from ..torch_utils import check_finite, pick_device, predict_in_chunks
from . import register
from ._als import Observed, batched_ridge, grouped_gram, observed
from .base import RatingModel, check_indices


def implicit_operator(data: Observed) -> torch.Tensor:
    """Sparse (n_users, n_items) matrix with |N(u)|^-1/2 at every rated pair."""
    norm = data.user_counts.clamp(min=1).rsqrt()
    return data.user_item(norm[data.users])


class _ImplicitFactors:
    """The y-step of SVD++: given z_u, the y_j minimising
    lambda_f sum_u n_u |z_u - |N(u)|^-1/2 sum_{j in N(u)} y_j|^2 + lambda_y sum_j w_j |y_j|^2.

    The normal equations are (C + (lambda_y / lambda_f) diag(w)) Y = M^T diag(sqrt(n_u)) Z,
    with C the item co-rating counts and w_j = sum_{u rated j} n_u (how often y_j enters a
    prediction in Koren's per-rating objective). C does not change during training, so the
    system is factorised once and each step is two triangular solves.
    """

    def __init__(self, data: Observed, reg_factors: float, reg_implicit: float) -> None:
        mask = data.item_user()                                    # (n_items, n_users) 0/1
        counts = mask @ mask.to_dense().T                          # co-rating counts C
        weights = torch.mv(mask, data.user_counts)                 # w_j
        ratio = reg_implicit / reg_factors
        system = counts + torch.diag(ratio * weights.clamp(min=1.0))
        lower = torch.linalg.cholesky(system.double())
        # both triangles column-major, so the two triangular solves per step copy nothing
        self.lower, self.upper = lower.mT.contiguous().mT, lower.mT
        self.mask = mask
        self.root_counts = data.user_counts.sqrt()

    def solve(self, user_factors: torch.Tensor) -> torch.Tensor:
        rhs = torch.sparse.mm(self.mask, self.root_counts[:, None] * user_factors)
        half = torch.linalg.solve_triangular(self.lower, rhs.double(), upper=False)
        return torch.linalg.solve_triangular(self.upper, half, upper=True).float()


#: the parameters SVD++ and the integrated model share
SVDPP_PARAMS = {**TORCH, "n_factors": Int(), "n_epochs": Int(), "reg_bias": Positive(),
                "reg_factors": Positive(), "reg_implicit": Positive(), "init_std": Real()}


class SVDppCore(RatingModel):
    """SVD++ fitted by alternating ridge regressions; the integrated model extends it.

    Prediction (Koren 2008, eq. 15): r_ui = mu + b_u + b_i + q_i^T z_u with
    z_u = p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j. Because p_u is free, we solve for z_u directly
    and regularise p_u = z_u - m_u (m_u the implicit sum), which is the same model.
    """

    def _setup(self, split: Split) -> None:
        self.device_ = pick_device(self.device)
        self.data_ = observed(split, self.device_)
        self.shape_ = (split.n_users, split.n_items)

    def _extra_item_term(self) -> torch.Tensor:
        """Contribution of terms other than biases and factors to each training prediction."""
        return torch.zeros_like(self.data_.ratings)

    def _fit_extra(self, target: torch.Tensor) -> None:
        """Fit the extra (neighbourhood) block to ``target`` = rating minus everything else."""

    def _fit_factors(self) -> None:
        data = self.data_
        k = self.n_factors
        d = data.device
        gen = torch.Generator().manual_seed(int(self.seed))
        self.item_factors_ = (torch.randn(data.n_items, k, generator=gen) * self.init_std).to(d)
        self.user_factors_ = torch.zeros(data.n_users, k, device=d)   # z_u
        self.implicit_ = torch.zeros(data.n_items, k, device=d)        # y_j
        self.b_user_ = torch.zeros(data.n_users, device=d)
        self.b_item_ = torch.zeros(data.n_items, device=d)
        implicit_op = implicit_operator(data)
        y_step = _ImplicitFactors(data, self.reg_factors, self.reg_implicit)
        users_by_items = data.user_item()
        items_by_users = data.item_user()
        ones_u = torch.ones(data.n_users, 1, device=d)
        ones_i = torch.ones(data.n_items, 1, device=d)
        n_u = data.user_counts.clamp(min=1.0)[:, None]
        n_i = data.item_counts.clamp(min=1.0)[:, None]
        pen_u = torch.cat([self.reg_bias * n_u, self.reg_factors * n_u.expand(-1, k)], 1)
        pen_i = torch.cat([self.reg_bias * n_i, self.reg_factors * n_i.expand(-1, k)], 1)
        self.train_curve_ = []
        for epoch in range(self.n_epochs):
            extra = self._extra_item_term()
            # users: [b_u, z_u] given the items, shrunk towards [0, m_u]
            prior = torch.sparse.mm(implicit_op, self.implicit_)
            features = torch.cat([ones_i, self.item_factors_], 1)
            target = data.ratings - data.mu - self.b_item_[data.items] - extra
            rhs = torch.sparse.mm(data.user_item(target), features)
            rhs[:, 1:] += pen_u[:, 1:] * prior
            solution = batched_ridge(grouped_gram(users_by_items, features), rhs, pen_u)
            self.b_user_, self.user_factors_ = solution[:, 0], solution[:, 1:].contiguous()
            # items: [b_i, q_i] given the users
            features = torch.cat([ones_u, self.user_factors_], 1)
            target = data.ratings - data.mu - self.b_user_[data.users] - extra
            rhs = torch.sparse.mm(data.item_user(target), features)
            solution = batched_ridge(grouped_gram(items_by_users, features), rhs, pen_i)
            self.b_item_, self.item_factors_ = solution[:, 0], solution[:, 1:].contiguous()
            # implicit factors y_j given z_u
            self.implicit_ = y_step.solve(self.user_factors_)
            # extra block (neighbourhood weights) given everything else
            base = self._factor_predictions(data.users, data.items)
            self._fit_extra(data.ratings - base)
            error = data.ratings - base - self._extra_item_term()
            loss = float(torch.sqrt(torch.mean(error * error)))
            check_finite(loss, f"{self.name} sweep {epoch + 1}")
            self.train_curve_.append(round(loss, 5))

    def _factor_predictions(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.data_.mu + self.b_user_[users] + self.b_item_[items]
                + (self.user_factors_[users] * self.item_factors_[items]).sum(1))

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        return predict_in_chunks(
            lambda u, i: self._factor_predictions(u, i) + self._extra_terms(u, i),
            users, items, self.device_)

    def _extra_terms(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return torch.zeros(users.shape[0], device=users.device)

    def report(self) -> dict:
        return {"train_curve": self.train_curve_}


@register("svdpp")
class SVDpp(SVDppCore):
    """SVD++ (Koren 2008): biased factors plus normalised implicit item factors, fitted by ALS."""

    unseen_fallback = ("an unseen user has b_u = 0 and z_u = 0 (no implicit items), so the "
                       "prediction is mu + b_i; an unseen item has b_i = 0 and q_i = 0, giving "
                       "mu + b_u; both unseen gives mu")

    chapter = "05_svdpp"
    PARAMS = SVDPP_PARAMS

    def __init__(self, n_factors: int = 20, n_epochs: int = 12, reg_bias: float = 0.02,
                 reg_factors: float = 0.15, reg_implicit: float = 0.01, init_std: float = 0.1,
                 seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> SVDpp:
        self._setup(split)
        self._fit_factors()
        return self
