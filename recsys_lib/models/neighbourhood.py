"""Item-item neighbourhood models on baseline residuals (Koren, KDD 2008 and TKDD 2010).

* ``knn-pearson``: Koren's CorNgbr. Similarities are Pearson correlations of baseline residuals
  shrunk by n_ij / (n_ij + 100); a rating is the baseline plus the similarity-weighted mean
  residual of the k items the user rated that are most similar to the target item.
* ``global-neighborhood``: Koren's global neighbourhood model, whose interpolation weights w_ij
  and implicit offsets c_ij are learned, for the k items most similar to i (S^k(i)):
  r_ui = mu + b_u + b_i + |R^k(i;u)|^-1/2 sum_{j in R^k(i;u)} (r_uj - b_uj) w_ij
                        + |N^k(i;u)|^-1/2 sum_{j in N^k(i;u)} c_ij,
  with R^k(i;u) = R(u) intersected with S^k(i) and N(u) = R(u) (explicit-only data).

Everything is vectorised: the similarity matrix is three dense products, neighbour selection is
``torch.topk`` over masked rows, and the learned model is fitted by alternating exact ridge
solves (all items' (2k+1)-dimensional systems as one batched Cholesky factorisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..params import TORCH, Int, Positive, Real
from ..splits import Split
from ..torch_utils import check_finite, pick_device, predict_in_chunks
from . import register
from ._als import Observed, baseline_tensors, observed
from .base import RatingModel, check_indices, pairs_by_user, row_chunks, top_k_stable

# --------------------------------------------------------------------------------------------
# Similarities, neighbours and the per-rating neighbourhood features


def residual_matrix(data: Observed, mu: float, b_user: torch.Tensor, b_item: torch.Tensor
                    ) -> torch.Tensor:
    """Dense (n_users, n_items) baseline residuals r_uj - b_uj, zero where unrated."""
    residuals = torch.zeros(data.n_users, data.n_items, device=data.device)
    residuals[data.users, data.items] = (data.ratings - mu - b_user[data.users]
                                         - b_item[data.items])
    return residuals


def shrunk_pearson(residuals: torch.Tensor, mask: torch.Tensor, shrinkage: float
                   ) -> torch.Tensor:
    """Item-item Pearson correlation of baseline residuals over common raters, shrunk.

    s_ij = n_ij / (n_ij + shrinkage) * sum_u e_ui e_uj / sqrt(sum_u e_ui^2 * sum_u e_uj^2),
    every sum over the n_ij users who rated both i and j (Koren 2010, eq. 11, on residuals of
    the baseline). Computed in float64 with three dense products; the diagonal is set to 0 so
    an item is never its own neighbour. Pairs without a common rater get 0.
    """
    e = residuals.double()
    m = mask.double()
    products = e.T @ e                        # sum_u e_ui e_uj over common raters
    squares = (e * e).T @ m                   # [i, j]: sum of e_ui^2 over users who rated j too
    common = m.T @ m                          # n_ij
    denominator = torch.sqrt(squares * squares.T)
    rho = torch.where(denominator > 0, products / denominator.clamp(min=1e-300),
                      torch.zeros_like(products))
    # pairs without a common rater get 0, also when shrinkage is 0 (0/0 would give NaN)
    shrink = torch.where(common > 0, common / (common + shrinkage).clamp(min=1e-300),
                         torch.zeros_like(common))
    similarity = shrink * rho
    similarity.fill_diagonal_(0.0)
    return similarity.float()


def top_neighbours(similarity: torch.Tensor, k: int) -> torch.Tensor:
    """(n_items, k) indices of each item's k most similar items (ties broken by index)."""
    k = min(k, similarity.shape[0] - 1)
    # a tiny index-dependent offset makes torch.topk's choice among equal similarities stable
    order = torch.arange(similarity.shape[1], device=similarity.device, dtype=torch.float64)
    keyed = similarity.double() - order * 1e-12
    keyed.fill_diagonal_(-np.inf)
    return torch.topk(keyed, k, dim=1).indices


@dataclass
class NeighbourFeatures:
    """For pairs (u, i): the terms of Koren's global neighbourhood model over S^k(i).

    ``explicit[n, m] = |R^k(i;u)|^-1/2 (r_uj - b_uj)`` and ``implicit[n, m] = |N^k(i;u)|^-1/2``
    for the m-th neighbour j of item i when u rated j in training, and 0 otherwise
    (R(u) = N(u) here: the implicit feedback is which items the user rated).
    """

    explicit: torch.Tensor  # (n, k)
    implicit: torch.Tensor  # (n, k)


def neighbour_features(users: torch.Tensor, items: torch.Tensor, neighbours: torch.Tensor,
                       residuals: torch.Tensor, mask: torch.Tensor) -> NeighbourFeatures:
    """Gather the neighbourhood terms of pairs (users, items) from dense train matrices."""
    columns = neighbours[items]                               # (n, k)
    rated = mask[users[:, None], columns]                     # 1 where j in R^k(i;u)
    values = residuals[users[:, None], columns]               # r_uj - b_uj or 0
    count = rated.sum(1, keepdim=True)
    norm = torch.where(count > 0, count.clamp(min=1).rsqrt(), torch.zeros_like(count))
    return NeighbourFeatures(values * norm, rated * norm)


def chunked_gram(groups: torch.Tensor, features: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Per-group Gram matrices (n_groups, d, d) of feature rows, accumulated in chunks."""
    d = features.shape[1]
    chunk = max(1, 2 ** 24 // (d * d))  # at most 16M floats of outer products at a time
    gram = torch.zeros(n_groups, d, d, device=features.device)
    for start in range(0, features.shape[0], chunk):
        block = features[start:start + chunk]
        gram.index_add_(0, groups[start:start + chunk], block[:, :, None] * block[:, None, :])
    return gram


def group_sum(groups: torch.Tensor, values: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Sum the rows of ``values`` (n, ...) into ``n_groups`` bins given by ``groups``."""
    out = torch.zeros((n_groups, *values.shape[1:]), device=values.device, dtype=values.dtype)
    return out.index_add_(0, groups, values)


# --------------------------------------------------------------------------------------------
# The models


@register("knn-pearson")
class KNNPearson(RatingModel):
    """Item-item kNN on baseline residuals with shrunk Pearson similarity (Koren's CorNgbr)."""

    unseen_fallback = ("the ALS baseline: an unseen user has no rated neighbours, so the "
                       "prediction is mu + b_i; an unseen item has only zero similarities, so "
                       "it is mu + b_u; the same baseline is used when no neighbour has a "
                       "positive similarity")

    chapter = "04_neighbourhood"
    PARAMS = {**TORCH, "k": Int(), "shrinkage": Real(), "min_k": Int()}

    def __init__(self, k: int = 40, shrinkage: float = 100.0, min_k: int = 1, seed: int = 0,
                 device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> KNNPearson:
        self.device_ = pick_device(self.device)
        data = observed(split, self.device_)
        self.shape_ = (split.n_users, split.n_items)
        self.mu_, self.b_user_, self.b_item_ = baseline_tensors(split, self.device_)
        self.mask_ = data.dense_mask()
        self.residuals_ = residual_matrix(data, self.mu_, self.b_user_, self.b_item_)
        self.similarity_ = shrunk_pearson(self.residuals_, self.mask_, self.shrinkage)
        self.rated_ = [torch.nonzero(row).flatten() for row in self.mask_]  # R(u) per user
        return self

    def _predict_user(self, user: int, items: torch.Tensor) -> torch.Tensor:
        """Predictions of one user for ``items`` (m,): the k items the user rated that are
        most similar to each target, only positive similarities entering the mean."""
        rated = self.rated_[user]
        sims = self.similarity_[items[:, None], rated]                  # (m, n_rated)
        # the k largest, equal similarities (common: 1/101 for one common rater) taken in
        # item order, so the choice never depends on how a batch was laid out
        chosen = torch.from_numpy(top_k_stable(sims.cpu().numpy(), self.k)).to(sims.device)
        values = torch.gather(sims, 1, chosen)
        # like Surprise's KNNBaseline: only the positive similarities among the k enter the mean
        weights = torch.where(values > 0, values, torch.zeros_like(values))
        residuals = self.residuals_[user, rated[chosen]]
        total = weights.sum(1)
        used = (weights > 0).sum(1)
        offset = torch.where((used >= self.min_k) & (total > 0),
                             (weights * residuals).sum(1) / total.clamp(min=1e-12),
                             torch.zeros_like(total))
        return self.mu_ + self.b_user_[user] + self.b_item_[items] + offset

    def predict(self, users, items) -> np.ndarray:
        """One user at a time: the candidate neighbours are the items that user rated, so a
        user's whole catalogue (top-N) costs (n_items, n_rated) similarities, not
        (n_items, n_items), gathered a few million at a time (:func:`row_chunks`)."""
        users, items = check_indices(self.shape_, users, items)
        out = np.empty(len(users), dtype=np.float64)
        with torch.no_grad():
            for user, positions in pairs_by_user(users):
                for piece in row_chunks(positions, len(self.rated_[user])):
                    chosen = torch.as_tensor(items[piece], device=self.device_)
                    out[piece] = self._predict_user(user, chosen).double().cpu().numpy()
        return out


class NeighbourBlock:
    """The learned neighbourhood terms w_ij, c_ij (optionally with b_i) of Koren's models.

    Built once per fit: baseline residuals, shrunk Pearson similarities, the k nearest items
    S^k(i), the per-rating features and, because those features never change, the Cholesky
    factors of every item's ridge system. ``solve(target)`` then fits the block exactly to a
    per-rating target with two triangular solves per item.

    Regularisation: every w_ij and c_ij carries the same ridge penalty ``reg`` (a flat L2
    weight). Koren's per-rating objective would penalise a weight once for every training
    rating it enters; on a validation slice of ML-100K u1 the flat penalty was better
    (0.916 against 0.924 at k = 50), so the models use it. The item bias, when present, keeps
    the per-rating weight ``reg_bias * n_i``.
    """

    def __init__(self, split: Split, data, k: int, shrinkage: float, reg: float,
                 with_bias: bool = False, reg_bias: float = 0.0) -> None:
        device = data.device
        self.mu, b_user, b_item = baseline_tensors(split, device)
        self.mask = data.dense_mask()
        self.residuals = residual_matrix(data, self.mu, b_user, b_item)
        similarity = shrunk_pearson(self.residuals, self.mask, shrinkage)
        self.neighbours = top_neighbours(similarity, k)
        self.k = self.neighbours.shape[1]
        self.with_bias = with_bias
        self.items = data.items
        self.n_items = data.n_items
        features = neighbour_features(data.users, data.items, self.neighbours,
                                      self.residuals, self.mask)
        self.train_features = self._design(features)
        flat = torch.full((data.n_items, self.k), float(reg), device=device)
        penalty = [flat, flat]
        if with_bias:
            penalty.insert(0, reg_bias * data.item_counts.clamp(min=1.0)[:, None])
        penalty = torch.cat(penalty, 1)
        gram = chunked_gram(data.items, self.train_features, data.n_items)
        gram += torch.diag_embed(penalty)
        factor, info = torch.linalg.cholesky_ex(gram)
        if bool((info != 0).any()):
            raise FloatingPointError("a neighbourhood ridge system is not positive definite; "
                                     "raise the regularisation")
        self.factor = factor
        dim = self.train_features.shape[1]
        self.weights = torch.zeros(data.n_items, dim, device=device)

    def _design(self, features: NeighbourFeatures) -> torch.Tensor:
        parts = [features.explicit, features.implicit]
        if self.with_bias:
            parts.insert(0, torch.ones(features.explicit.shape[0], 1,
                                       device=features.explicit.device))
        return torch.cat(parts, 1)

    def solve(self, target: torch.Tensor) -> None:
        rhs = group_sum(self.items, target[:, None] * self.train_features, self.n_items)
        self.weights = torch.cholesky_solve(rhs.unsqueeze(-1), self.factor).squeeze(-1)

    def train_term(self) -> torch.Tensor:
        return (self.train_features * self.weights[self.items]).sum(1)

    def term(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        features = neighbour_features(users, items, self.neighbours, self.residuals, self.mask)
        return (self._design(features) * self.weights[items]).sum(1)

    @property
    def b_item(self) -> torch.Tensor:
        if not self.with_bias:
            raise AttributeError("this block has no item bias")
        return self.weights[:, 0]


@register("global-neighborhood")
class GlobalNeighborhood(RatingModel):
    """Koren's global neighbourhood model: learned w_ij and c_ij over the k most similar items."""

    unseen_fallback = ("an unseen user rated no neighbour, so both sums vanish and the "
                       "prediction is mu + b_i; an unseen item has b_i = 0 and no learned "
                       "weights (its ridge solution is 0), giving mu + b_u; both unseen gives mu")

    chapter = "04_neighbourhood"
    PARAMS = {**TORCH, "k": Int(), "shrinkage": Real(), "n_epochs": Int(),
              "reg_bias": Positive(), "reg_weights": Positive()}

    def __init__(self, k: int = 50, shrinkage: float = 100.0, n_epochs: int = 6,
                 reg_bias: float = 0.02, reg_weights: float = 10.0, seed: int = 0,
                 device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> GlobalNeighborhood:
        self.device_ = pick_device(self.device)
        data = observed(split, self.device_)
        self.shape_ = (split.n_users, split.n_items)
        self.mu_ = data.mu
        self.block_ = NeighbourBlock(split, data, self.k, self.shrinkage, self.reg_weights,
                                     with_bias=True, reg_bias=self.reg_bias)
        self.b_user_ = torch.zeros(data.n_users, device=self.device_)
        user_penalty = self.reg_bias * data.user_counts.clamp(min=1.0)
        self.train_curve_ = []
        for epoch in range(self.n_epochs):
            # items: b_i, w_i, c_i jointly, exactly, given b_u
            self.block_.solve(data.ratings - self.mu_ - self.b_user_[data.users])
            item_part = self.block_.train_term()
            # users: b_u, a scalar ridge regression per user
            residual = data.ratings - self.mu_ - item_part
            self.b_user_ = (group_sum(data.users, residual, data.n_users)
                            / (data.user_counts + user_penalty))
            error = residual - self.b_user_[data.users]
            loss = float(torch.sqrt(torch.mean(error * error)))
            check_finite(loss, f"global-neighborhood sweep {epoch + 1}")
            self.train_curve_.append(round(loss, 5))
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        return predict_in_chunks(
            lambda u, i: self.mu_ + self.b_user_[u] + self.block_.term(u, i),
            users, items, self.device_)

    def report(self) -> dict:
        return {"train_curve": self.train_curve_}
