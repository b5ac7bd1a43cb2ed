"""Observed training ratings as tensors, and the batched ridge solves of alternating least
squares, shared by the classical models (baseline residuals, SVD++, the neighbourhood models).

Everything is vectorised over ratings: training ratings become index tensors, per-user and
per-item sums are sparse products, and the many small ridge regressions of an alternating
least-squares sweep are solved as one batch of Cholesky factorisations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..splits import Split
from ..torch_utils import csr, csr_layout, pick_device
from .baselines import fit_baseline_als


@dataclass
class Observed:
    """The training ratings of a split as tensors on one device, with their counts."""

    users: torch.Tensor        # (n,) int64
    items: torch.Tensor        # (n,) int64
    ratings: torch.Tensor      # (n,) float32
    n_users: int
    n_items: int
    mu: float
    user_counts: torch.Tensor  # (n_users,) float32
    item_counts: torch.Tensor  # (n_items,) float32

    def __post_init__(self) -> None:
        # Rating orders of the user x item and item x user matrices in CSR (row-major) order,
        # and their row pointers: a sparse matrix with new values per rating is then built
        # without sorting (a split's train has no duplicate pairs). numpy's sort is a one-off.
        users, items = self.users.cpu().numpy(), self.items.cpu().numpy()
        device = self.users.device

        def layout(rows, cols, n_rows):
            return tuple(torch.from_numpy(part).to(device)
                         for part in csr_layout(rows, cols, n_rows))

        self.order_ui, self.rows_ui, self.cols_ui = layout(users, items, self.n_users)
        self.order_iu, self.rows_iu, self.cols_iu = layout(items, users, self.n_items)

    @property
    def device(self) -> torch.device:
        return self.users.device

    def user_item(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """Sparse CSR (n_users, n_items) matrix with ``values`` (one per rating, default 1)."""
        values = torch.ones_like(self.ratings) if values is None else values
        return csr(self.rows_ui, self.cols_ui, values[self.order_ui],
                   (self.n_users, self.n_items))

    def item_user(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """Sparse CSR (n_items, n_users) matrix with ``values`` (one per rating, default 1)."""
        values = torch.ones_like(self.ratings) if values is None else values
        return csr(self.rows_iu, self.cols_iu, values[self.order_iu],
                   (self.n_items, self.n_users))

    def dense_mask(self) -> torch.Tensor:
        """Dense (n_users, n_items) float32 indicator of the training ratings."""
        mask = torch.zeros(self.n_users, self.n_items, device=self.device)
        mask[self.users, self.items] = 1.0
        return mask


def observed(split: Split, device) -> Observed:
    """The training ratings of ``split`` on ``device`` (None: CUDA when available)."""
    train = split.train
    device = pick_device(device)
    users = torch.as_tensor(train.users, dtype=torch.int64, device=device)
    items = torch.as_tensor(train.items, dtype=torch.int64, device=device)
    ratings = torch.as_tensor(train.ratings, dtype=torch.float32, device=device)
    return Observed(users, items, ratings, split.n_users, split.n_items,
                    float(np.mean(train.ratings, dtype=np.float64)),
                    torch.bincount(users, minlength=split.n_users).float(),
                    torch.bincount(items, minlength=split.n_items).float())


def outer_rows(features: torch.Tensor) -> torch.Tensor:
    """(m, d) -> (m, d*d): each row's outer product with itself, flattened."""
    return (features[:, :, None] * features[:, None, :]).reshape(features.shape[0], -1)


def grouped_gram(incidence: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Per-group Gram matrices sum_{j in group g} f_j f_j^T, shape (n_groups, d, d).

    ``incidence`` is a sparse (n_groups, m) 0/1 matrix and ``features`` is (m, d): one sparse
    product replaces a loop over groups.
    """
    d = features.shape[1]
    return torch.sparse.mm(incidence, outer_rows(features)).reshape(-1, d, d)


def batched_ridge(gram: torch.Tensor, rhs: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """Solve (G_b + diag(penalty_b)) x_b = rhs_b for every batch entry b at once.

    gram (B, d, d), rhs (B, d), penalty (B, d) with positive entries. Returns (B, d).
    """
    system = gram.clone()
    system.diagonal(dim1=-2, dim2=-1).add_(penalty)
    factor, info = torch.linalg.cholesky_ex(system)
    if bool((info != 0).any()):
        raise FloatingPointError("a ridge system is not positive definite; raise the "
                                 "regularisation")
    return torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1)


def baseline_tensors(split: Split, device) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The ALS baseline mu, b_u, b_i (Surprise's BaselineOnly defaults) as float32 tensors."""
    mu, b_user, b_item = fit_baseline_als(split)
    device = pick_device(device)
    return (float(mu), torch.as_tensor(b_user, dtype=torch.float32, device=device),
            torch.as_tensor(b_item, dtype=torch.float32, device=device))
