"""Shared machinery of the classical models (SVD, neighbourhood, SVD++): private helpers.

Everything here is vectorised over ratings: training ratings become index tensors, per-user and
per-item sums are sparse products or ``index_add``, and the many small ridge regressions of an
alternating least-squares sweep are solved as one batch of Cholesky factorisations.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InvalidParameterError
from ..splits import Split


@contextlib.contextmanager
def quiet_sparse():
    """Silence torch's notices about sparse tensors (CSR support "in beta", invariant checks).
    The book treats warnings as errors, and the sparse operations used here, products with
    dense matrices and their gradients, are tested."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        yield


def to_csr(x):
    """``x`` as a sparse CSR tensor."""
    with quiet_sparse():
        return x.to_sparse_csr()


def _csr(pointers, columns, values, shape) -> torch.Tensor:
    """A CSR tensor from its parts, without torch's invariant checks. CSR rather than COO:
    its products with dense matrices are several times faster on CPU."""
    with quiet_sparse():
        return torch.sparse_csr_tensor(pointers, columns, values, shape, check_invariants=False)


def pick_device(device):
    """The training module's device choice, imported late (training imports the models)."""
    from ..training import pick_device as pick

    return pick(device)


def check_finite(loss: float, where: str) -> float:
    from ..training import check_finite as check

    return check(loss, where)


def check_positive(**values) -> None:
    """Raise InvalidParameterError naming the first value that is not > 0 (ints or floats)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InvalidParameterError(f"{name} must be a positive number, got {value!r}")


def check_non_negative(**values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InvalidParameterError(f"{name} must be a number >= 0, got {value!r}")


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
            order = np.argsort(rows.astype(np.int64) * (cols.max(initial=0) + 1) + cols,
                               kind="stable")
            pointers = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
            return (torch.from_numpy(order).to(device),
                    torch.from_numpy(pointers.astype(np.int64)).to(device),
                    torch.from_numpy(cols[order].astype(np.int64)).to(device))

        self.order_ui, self.rows_ui, self.cols_ui = layout(users, items, self.n_users)
        self.order_iu, self.rows_iu, self.cols_iu = layout(items, users, self.n_items)

    @property
    def device(self) -> torch.device:
        return self.users.device

    def user_item(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """Sparse CSR (n_users, n_items) matrix with ``values`` (one per rating, default 1)."""
        values = torch.ones_like(self.ratings) if values is None else values
        return _csr(self.rows_ui, self.cols_ui, values[self.order_ui],
                    (self.n_users, self.n_items))

    def item_user(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """Sparse CSR (n_items, n_users) matrix with ``values`` (one per rating, default 1)."""
        values = torch.ones_like(self.ratings) if values is None else values
        return _csr(self.rows_iu, self.cols_iu, values[self.order_iu],
                    (self.n_items, self.n_users))

    def dense_mask(self) -> torch.Tensor:
        """Dense (n_users, n_items) float32 indicator of the training ratings."""
        mask = torch.zeros(self.n_users, self.n_items, device=self.device)
        mask[self.users, self.items] = 1.0
        return mask


def observed(split: Split, device) -> Observed:
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
    from .baselines import fit_baseline_als

    mu, b_user, b_item = fit_baseline_als(split)
    device = pick_device(device)
    return (float(mu), torch.as_tensor(b_user, dtype=torch.float32, device=device),
            torch.as_tensor(b_item, dtype=torch.float32, device=device))


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
    similarity = common / (common + shrinkage) * rho
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


def as_index_tensors(users, items, device) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.as_tensor(np.asarray(users), dtype=torch.int64, device=device),
            torch.as_tensor(np.asarray(items), dtype=torch.int64, device=device))


def chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))
