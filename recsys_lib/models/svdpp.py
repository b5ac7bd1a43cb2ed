"""Koren's factor models with implicit feedback: Asymmetric-SVD, SVD++ and the integrated model.

Koren (KDD 2008, "Factorization meets the neighborhood"). N(u), the implicit feedback, is the set
of items user u rated in training (the explicit-only setting of the paper's MovieLens runs).

SVD++ and the integrated model are fitted by exact block-coordinate descent on Koren's
regularised squared error (alternating least squares): every block (user biases and factors,
item biases and factors, the implicit factors y_j, the neighbourhood weights) has a closed-form
ridge solution given the others, and each block is solved for all users or items at once with
batched Cholesky factorisations. Asymmetric-SVD, whose user factor is not a free parameter, is
fitted by full-batch L-BFGS on the same kind of objective.
"""

from __future__ import annotations

import numpy as np
import torch

from ..splits import Split
from . import register
from ._factorisation import (Observed, as_index_tensors, baseline_tensors, batched_ridge,
                             check_finite, check_non_negative, check_positive, chunks,
                             grouped_gram, observed, pick_device)
from .base import RatingModel, check_indices, check_positive_int


def _implicit_operator(data: Observed) -> torch.Tensor:
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


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _check_common(n_factors, n_epochs, reg_bias, reg_factors, reg_implicit, init_std) -> None:
    check_positive_int(n_factors=n_factors, n_epochs=n_epochs)
    check_positive(reg_bias=reg_bias, reg_factors=reg_factors, reg_implicit=reg_implicit)
    check_non_negative(init_std=init_std)


class _SVDppCore(RatingModel):
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
        gen = _generator(self.seed)
        self.item_factors_ = (torch.randn(data.n_items, k, generator=gen) * self.init_std).to(d)
        self.user_factors_ = torch.zeros(data.n_users, k, device=d)   # z_u
        self.implicit_ = torch.zeros(data.n_items, k, device=d)        # y_j
        self.b_user_ = torch.zeros(data.n_users, device=d)
        self.b_item_ = torch.zeros(data.n_items, device=d)
        implicit_op = _implicit_operator(data)
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
        out = []
        for part in chunks(len(users), 65536):
            u, i = as_index_tensors(users[part], items[part], self.device_)
            with torch.no_grad():
                out.append((self._factor_predictions(u, i) + self._extra_terms(u, i)).cpu())
        return torch.cat(out).double().numpy() if out else np.zeros(0)

    def _extra_terms(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return torch.zeros(users.shape[0], device=users.device)

    def report(self) -> dict:
        return {"train_curve": self.train_curve_}


@register("svdpp")
class SVDpp(_SVDppCore):
    """SVD++ (Koren 2008): biased factors plus normalised implicit item factors, fitted by ALS."""

    unseen_fallback = ("an unseen user has b_u = 0 and z_u = 0 (no implicit items), so the "
                       "prediction is mu + b_i; an unseen item has b_i = 0 and q_i = 0, giving "
                       "mu + b_u; both unseen gives mu")

    def __init__(self, n_factors: int = 20, n_epochs: int = 12, reg_bias: float = 0.02,
                 reg_factors: float = 0.15, reg_implicit: float = 0.01, init_std: float = 0.1,
                 seed: int = 0, device: str | None = None) -> None:
        _check_common(n_factors, n_epochs, reg_bias, reg_factors, reg_implicit, init_std)
        self._keep_params(locals())

    def fit(self, split: Split) -> SVDpp:
        self._setup(split)
        self._fit_factors()
        return self


@register("integrated")
class Integrated(_SVDppCore):
    """Koren's integrated model: SVD++ plus the global neighbourhood terms, fitted by ALS."""

    unseen_fallback = ("as SVD++ (mu + b_i for an unseen user, mu + b_u for an unseen item, mu "
                       "for both): the neighbourhood sums are empty for an unseen user and the "
                       "weights of an unseen item are zero")

    def __init__(self, n_factors: int = 20, n_epochs: int = 12, reg_bias: float = 0.02,
                 reg_factors: float = 0.15, reg_implicit: float = 0.01, init_std: float = 0.1,
                 k: int = 20, shrinkage: float = 100.0, reg_weights: float = 30.0,
                 seed: int = 0, device: str | None = None) -> None:
        _check_common(n_factors, n_epochs, reg_bias, reg_factors, reg_implicit, init_std)
        check_positive_int(k=k)
        check_non_negative(shrinkage=shrinkage)
        check_positive(reg_weights=reg_weights)
        self._keep_params(locals())

    def fit(self, split: Split) -> Integrated:
        from .neighbourhood import NeighbourBlock

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

    def __init__(self, n_factors: int = 20, max_iter: int = 100, reg_bias: float = 0.02,
                 reg_factors: float = 0.5, init_std: float = 0.1, seed: int = 0,
                 device: str | None = None) -> None:
        _check_common(n_factors, max_iter, reg_bias, reg_factors, reg_factors, init_std)
        self.n_factors = n_factors
        self.max_iter = max_iter
        self.reg_bias = reg_bias
        self.reg_factors = reg_factors
        self.init_std = init_std
        self.seed = seed
        self.device = device

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
        gen = _generator(self.seed)
        k, dev = self.n_factors, self.device_

        def start(rows: int) -> torch.Tensor:
            return (torch.randn(rows, k, generator=gen) * self.init_std).to(dev).requires_grad_()

        self.q_, self.x_, self.y_ = start(data.n_items), start(data.n_items), start(data.n_items)
        self.b_user_ = torch.zeros(data.n_users, device=dev, requires_grad=True)
        self.b_item_ = torch.zeros(data.n_items, device=dev, requires_grad=True)
        n = float(data.ratings.shape[0])
        n_u, n_i = data.user_counts, data.item_counts
        optimiser = torch.optim.LBFGS([self.b_user_, self.b_item_, self.q_, self.x_, self.y_],
                                      lr=1.0, max_iter=self.max_iter, history_size=10,
                                      line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                                      tolerance_change=1e-12)
        self.train_curve_ = []

        def closure():
            optimiser.zero_grad()
            z = self._user_factors()
            pred = (self.mu_ + self.b_user_[data.users] + self.b_item_[data.items]
                    + (z[data.users] * self.q_[data.items]).sum(1))
            squared = ((data.ratings - pred) ** 2).sum()
            penalty = (self.reg_bias * ((n_u * self.b_user_ ** 2).sum()
                                        + (n_i * self.b_item_ ** 2).sum())
                       + self.reg_factors * (n_i[:, None] * (self.q_ ** 2 + self.x_ ** 2
                                                             + self.y_ ** 2)).sum())
            loss = (squared + penalty) / n
            check_finite(float(loss.detach()), f"asymmetric-svd evaluation {len(self.train_curve_) + 1}")
            self.train_curve_.append(round(float(torch.sqrt(squared.detach() / n)), 5))
            loss.backward()
            return loss

        optimiser.step(closure)
        with torch.no_grad():
            self.user_factors_ = self._user_factors()
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        u, i = as_index_tensors(users, items, self.device_)
        with torch.no_grad():
            pred = (self.mu_ + self.b_user_[u] + self.b_item_[i]
                    + (self.user_factors_[u] * self.q_[i]).sum(1))
        return pred.cpu().double().numpy()

    def report(self) -> dict:
        curve = self.train_curve_
        return {"train_curve": curve[:: max(1, len(curve) // 50)], "n_evaluations": len(curve)}


def slide_style_training(split: Split, objective: str = "observed", optimiser: str = "adam",
                         lr: float = 0.01, clip: float | None = None, n_steps: int = 200,
                         n_factors: int = 20, reg: float = 0.02, every: int = 10,
                         seed: int = 0, device: str | None = None) -> dict:
    """SVD++ trained by full-batch gradient steps on the whole prediction matrix, as the
    earlier slide implementations did: a demonstration of why they diverged, not a model.

    ``objective="dense"`` scores every cell of the (n_users, n_items) prediction matrix against
    the training matrix with zeros where a rating is missing (so most targets are 0);
    ``"observed"`` scores only the training ratings. ``optimiser`` is ``"sgd"`` or ``"adam"``,
    ``clip`` an optional gradient-norm clip. Returns ``{"step", "train_loss", "test_rmse"}``,
    the test RMSE (recsys_lib.metrics, clipped) every ``every`` steps.
    """
    from ..metrics import rmse

    if objective not in ("dense", "observed"):
        raise ValueError(f"objective must be 'dense' or 'observed', got {objective!r}")
    if optimiser not in ("sgd", "adam"):
        raise ValueError(f"optimiser must be 'sgd' or 'adam', got {optimiser!r}")
    device = pick_device(device)
    data = observed(split, device)
    target = torch.zeros(data.n_users, data.n_items, device=device)
    target[data.users, data.items] = data.ratings
    implicit_op = _implicit_operator(data)
    gen = _generator(seed)

    def start(rows: int) -> torch.Tensor:
        return (torch.randn(rows, n_factors, generator=gen) * 0.1).to(device).requires_grad_()

    p, q, y = start(data.n_users), start(data.n_items), start(data.n_items)
    b_user = torch.zeros(data.n_users, device=device, requires_grad=True)
    b_item = torch.zeros(data.n_items, device=device, requires_grad=True)
    params = [p, q, y, b_user, b_item]
    opt = (torch.optim.SGD(params, lr=lr) if optimiser == "sgd"
           else torch.optim.Adam(params, lr=lr))
    test_users, test_items = as_index_tensors(split.test.users, split.test.items, device)
    curve = {"step": [], "train_loss": [], "test_rmse": []}
    for step in range(1, n_steps + 1):
        opt.zero_grad()
        z = p + torch.sparse.mm(implicit_op, y)
        full = data.mu + b_user[:, None] + b_item[None, :] + z @ q.T
        if objective == "dense":
            error = (target - full).pow(2).mean()
        else:
            error = (target[data.users, data.items] - full[data.users, data.items]).pow(2).mean()
        loss = error + reg * sum(t.pow(2).mean() for t in params)
        check_finite(float(loss.detach()), f"slide-style step {step}")
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        if step % every == 0 or step == n_steps:
            with torch.no_grad():
                pred = full.detach()[test_users, test_items].cpu().double().numpy()
            curve["step"].append(step)
            curve["train_loss"].append(float(loss.detach()))
            curve["test_rmse"].append(rmse(split.test.ratings, pred, split.rating_scale))
    return curve
