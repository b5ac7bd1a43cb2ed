"""AutoRec: I-AutoRec and U-AutoRec (Sedhain, Menon, Sanner and Xie, WWW 2015).

AutoRec reconstructs one partially observed vector at a time: an item's ratings over all users
(I-AutoRec) or a user's ratings over all items (U-AutoRec),

    h(r) = f(W g(V r + mu) + b),

and minimises the squared error on the *observed* entries only plus reg/2 (||W||^2 + ||V||^2),
full batch, with L-BFGS. The loss and its gradient are computed by hand with sparse matrix
products: the encoder only touches the observed ratings (a sparse times dense product) and the
decoder output is only needed at the observed entries (a sampled dense-dense product), so one
function and gradient evaluation on ML-1M costs a few GFLOP instead of the ~130 GFLOP of the
dense formulation. The optimiser is scipy's L-BFGS-B on a float64 flat parameter vector
(``optimizer="scipy"``, on the CPU), or the same L-BFGS written in torch
(``optimizer="torch"``), which keeps everything on the model's ``device`` (a GPU on Colab);
``optimizer=None`` picks torch on a GPU and scipy otherwise. One L-BFGS iteration counts as
one epoch (``n_epochs``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from ..errors import InvalidParameterError
from ..checks import check_fallback_rating
from ..metrics import rmse
from ..params import TORCH, Bool, Choice, Fraction, Int, Param, Real
from ..selection import BestEpoch, fit_with_selection
from ..splits import Split
from ..torch_utils import (check_finite, csr, csr_layout, glorot_limit, minimize_lbfgs_b,
                           minimize_lbfgs_torch, pick_device, quiet_sparse)
from . import register
from .base import RatingModel, check_indices

ACTIVATIONS = ("identity", "sigmoid")
INITS = ("glorot", "authors")
log = logging.getLogger(__name__)


class _SparseAutoRecProblem:
    """Loss and gradient of a one-hidden-layer AutoRec on a sparse sample x input matrix.

    ``rows`` index the samples (items for I-AutoRec), ``cols`` the input/output units (users).
    Parameters: V (n_in, k) encoder, mu (k,), W (k, n_in) decoder, b (n_in,).
    Objective: sum over observed (r - h(r))^2 + reg/2 (||W||^2 + ||V||^2).
    """

    def __init__(self, rows, cols, values, n_rows, n_cols, hidden, reg, hidden_act,
                 output_act, rating_scale, dtype, device):
        self.n_rows, self.n_cols, self.hidden, self.reg = n_rows, n_cols, hidden, reg
        self.hidden_act, self.output_act = hidden_act, output_act
        self.low, self.high = rating_scale
        self.dtype, self.device = dtype, device
        order, crow, col = csr_layout(rows, cols, n_rows)
        rows, cols, values = rows[order], cols[order], values[order]
        self.crow = torch.from_numpy(crow).to(device)
        self.col = torch.from_numpy(col).to(device)
        self.targets = torch.from_numpy(values).to(device, dtype)
        self.X = csr(self.crow, self.col, self.targets, (n_rows, n_cols))
        # The transpose, with the permutation that maps CSR values to transposed CSR order.
        order_t, crow_t, col_t = csr_layout(cols, rows, n_cols)
        self.perm_t = torch.from_numpy(order_t).to(device)
        self.crow_t = torch.from_numpy(crow_t).to(device)
        self.col_t = torch.from_numpy(col_t).to(device)
        self.XT = csr(self.crow_t, self.col_t, self.X.values()[self.perm_t], (n_cols, n_rows))
        self.sizes = [n_cols * hidden, hidden, hidden * n_cols, n_cols]

    def unpack(self, theta):
        """Views V, mu, W, b of a flat parameter vector (numpy or torch)."""
        flat = torch.as_tensor(theta).to(self.device, self.dtype)
        V, mu, W, b = torch.split(flat, self.sizes)
        return (V.view(self.n_cols, self.hidden), mu, W.view(self.hidden, self.n_cols), b)

    def hidden_layer(self, V, mu):
        with quiet_sparse():
            Z = torch.sparse.mm(self.X, V) + mu
        H = torch.sigmoid(Z) if self.hidden_act == "sigmoid" else Z
        return H

    def output(self, raw):
        return output_layer(raw, self.output_act, (self.low, self.high))

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and float64 gradient at a numpy vector (scipy's interface)."""
        loss, grad = self.loss_grad_tensor(theta)
        return loss, grad.double().cpu().numpy()

    def loss_grad_tensor(self, theta) -> tuple[float, torch.Tensor]:
        """Loss and gradient (a tensor on the model's device) at ``theta``."""
        V, mu, W, b = self.unpack(theta)
        H = self.hidden_layer(V, mu)
        pattern = csr(self.crow, self.col, b[self.col],  # the output bias, per entry
                      (self.n_rows, self.n_cols))
        with quiet_sparse():
            raw = torch.sparse.sampled_addmm(pattern, H, W).values()
        pred = self.output(raw)
        err = pred - self.targets
        loss = float((err.double() ** 2).sum()) + self.reg / 2 * (
            float((W.double() ** 2).sum()) + float((V.double() ** 2).sum()))
        d = 2.0 * err
        if self.output_act == "sigmoid":
            s = (pred - self.low) / (self.high - self.low)
            d = d * (self.high - self.low) * s * (1 - s)
        E = csr(self.crow, self.col, d, (self.n_rows, self.n_cols))
        ET = csr(self.crow_t, self.col_t, d[self.perm_t], (self.n_cols, self.n_rows))
        with quiet_sparse():
            dW = torch.sparse.mm(ET, H).T + self.reg * W
            db = torch.zeros(self.n_cols, dtype=self.dtype, device=self.device).index_add_(
                0, self.col, d)
            dH = torch.sparse.mm(E, W.T.contiguous())
            dZ = dH * H * (1 - H) if self.hidden_act == "sigmoid" else dH
            dV = torch.sparse.mm(self.XT, dZ) + self.reg * V
        dmu = dZ.sum(0)
        return loss, torch.cat([dV.reshape(-1), dmu, dW.reshape(-1), db])

    def init_theta(self, seed: int, bias: float, init: str) -> np.ndarray:
        """Starting parameters as one flat vector (:func:`initial_weights`)."""
        return np.concatenate([w.reshape(-1) for w in
                               initial_weights(self.n_cols, self.hidden, seed, bias, init)])


def initial_weights(n_in: int, hidden: int, seed: int, bias: float, init: str):
    """Starting V (n_in, hidden), mu (hidden,), W (hidden, n_in), b (n_in,), float64.
    ``"glorot"``: weights Glorot-uniform, hidden biases 0, output biases ``bias``.
    ``"authors"``: as in the authors' released code (NNRec), weights normal with standard
    deviation 0.01 and all biases normal with standard deviation 0.001."""
    rng = np.random.default_rng(seed)
    n_weights = n_in * hidden
    if init == "authors":
        V, W = rng.normal(0.0, 0.01, n_weights), rng.normal(0.0, 0.01, n_weights)
        mu, b = rng.normal(0.0, 0.001, hidden), rng.normal(0.0, 0.001, n_in)
    else:
        limit = glorot_limit(n_in, hidden)
        V, W = rng.uniform(-limit, limit, n_weights), rng.uniform(-limit, limit, n_weights)
        mu, b = np.zeros(hidden), np.full(n_in, bias)
    return V.reshape(n_in, hidden), mu, W.reshape(hidden, n_in), b


def output_layer(raw, output_act: str, rating_scale):
    """AutoRec's output: ``raw`` as it is (identity), or squashed into the rating scale."""
    if output_act == "sigmoid":
        low, high = rating_scale
        return low + (high - low) * torch.sigmoid(raw)
    return raw


class _AutoRec(RatingModel):
    """Shared code of I-AutoRec and U-AutoRec; ``item_based`` picks the orientation.

    ``reg=None`` takes the weight decay of :attr:`DATASET_DEFAULTS` for the split's dataset
    (the value chosen on a validation slice of that dataset, see the AutoRec chapter); the
    summary reports the value used under ``resolved_params``, with the optimizer used.
    """

    chapter = "07_autorec"
    item_based = True
    PARAMS = {**TORCH, "optimizer": Param("choice", choices=("scipy", "torch"), none=True),
              "n_hidden": Int(), "reg": Real(none=True), "n_epochs": Int(),
              "hidden_act": Choice(*ACTIVATIONS), "output_act": Choice(*ACTIVATIONS),
              "fallback_rating": Real(None), "validation_fraction": Fraction(low_open=False),
              "patience": Int(), "refit": Bool(), "curve_every": Int(0),
              "init": Choice(*INITS), "dtype": Choice("float32", "float64")}
    unseen_fallback = "a user or item with no training rating is predicted as " \
                      "fallback_rating (3, as in the paper)"

    def __init__(self, n_hidden: int = 500, reg: float | None = None, n_epochs: int = 500,
                 hidden_act: str = "sigmoid", output_act: str = "identity",
                 fallback_rating: float = 3.0, validation_fraction: float = 0.1,
                 patience: int = 5, refit: bool = True, curve_every: int = 10,
                 init: str = "authors", dtype: str = "float32", optimizer: str | None = None,
                 seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def _check_together(self, params: dict) -> None:
        if params["validation_fraction"] > 0 and not params["curve_every"]:
            raise InvalidParameterError("curve_every must be >= 1 when validation_fraction > 0 "
                                        "(early stopping scores the validation slice)")

    def _orient(self, users, items):
        return (items, users) if self.item_based else (users, items)

    def fit(self, split: Split) -> _AutoRec:
        """Full-batch L-BFGS on ``split.train``, its length chosen on a validation slice
        (:func:`recsys_lib.selection.choose_then_refit`, scored every ``curve_every``
        iterations) unless ``validation_fraction`` is 0. The test set is only ever reported."""
        check_fallback_rating(self.name, self.fallback_rating, split.rating_scale,
                              split.dataset)
        self.shape_ = (split.n_users, split.n_items)
        self.rating_scale_ = split.rating_scale
        self.device_ = pick_device(self.device)
        self.optimizer_ = self.optimizer or ("torch" if self.device_.type == "cuda" else "scipy")
        self.resolved_params_ = {**self.resolve_params(split.dataset),
                                 "optimizer": self.optimizer_}
        self.test_ = split.test
        self.lbfgs_ = []
        selection = fit_with_selection(self, split)
        self.report_ = {"resolved_params": dict(self.resolved_params_),
                        **selection, "lbfgs": self.lbfgs_[-1], "device": str(self.device_)}
        if len(self.lbfgs_) > 1:
            self.report_["selection_lbfgs"] = self.lbfgs_[0]
        return self

    def _train(self, data: Split, validation, n_epochs: int, tracker: BestEpoch | None):
        """L-BFGS on ``data.train`` for up to ``n_epochs`` iterations; returns the curve.
        With a ``validation`` part, scores go to ``tracker``, the run stops when it says so
        and ends with the best-scoring parameters."""
        train = data.train
        rows, cols = self._orient(train.users, train.items)
        n_rows, n_cols = self._orient(data.n_users, data.n_items)
        problem = _SparseAutoRecProblem(
            rows, cols, train.ratings, n_rows, n_cols, self.n_hidden,
            self.resolved_params_["reg"],
            self.hidden_act, self.output_act, data.rating_scale, getattr(torch, self.dtype),
            self.device_)
        self.seen_users_, self.seen_items_ = data.seen_in_train()
        bias = float(train.ratings.mean()) if self.output_act == "identity" else 0.0
        theta0 = problem.init_theta(self.seed, bias, self.init)
        curve, iteration = [], 0

        def callback(theta) -> bool:
            """After each iteration: score every ``curve_every``; True to stop."""
            nonlocal iteration
            iteration += 1
            if self.curve_every and iteration % self.curve_every == 0:
                score(theta)
                return tracker is not None and tracker.stop
            return False

        def scipy_callback(theta):
            if callback(theta):
                raise StopIteration

        def score(theta):
            self._set_weights(problem, theta)
            point = {"epoch": iteration, "train_rmse": self._score(train)}
            if validation is not None:
                point["validation_rmse"] = self._score(validation)
            point["test_rmse"] = self._score(self.test_)  # reported, never used to choose
            curve.append(point)
            log.info("%s %s", self.name, point)
            if tracker is not None:
                tracker.update(iteration, point["validation_rmse"],
                               lambda: torch.as_tensor(theta).clone())

        start = time.perf_counter()
        if self.optimizer_ == "scipy":
            theta, info = minimize_lbfgs_b(problem.loss_grad, theta0, n_epochs,
                                           callback=scipy_callback, maxfun=2 * n_epochs,
                                           ftol=1e-12, gtol=1e-9)
        else:
            theta, final_loss, evaluations = minimize_lbfgs_torch(
                problem.loss_grad_tensor,
                torch.as_tensor(theta0, dtype=problem.dtype, device=problem.device),
                n_epochs, check=check_finite, callback=callback)
            info = {"iterations": iteration, "evaluations": evaluations,
                    "final_loss": final_loss, "message": "torch L-BFGS"}
        info["optimise_seconds"] = time.perf_counter() - start
        self.lbfgs_.append(info)
        if tracker is not None and not tracker.stop and (
                not curve or curve[-1]["epoch"] != iteration):
            score(theta)  # the optimiser stopped between two scores: score where it ended
        self._set_weights(problem, theta if tracker is None else tracker.state)
        return curve

    def _set_weights(self, problem: _SparseAutoRecProblem, theta) -> None:
        V, mu, W, b = problem.unpack(theta)
        self.problem_ = problem
        self.H_ = problem.hidden_layer(V, mu)  # (n_rows, hidden): codes of the training rows
        self.W_, self.b_ = W, b

    def _score(self, ratings) -> float:
        return rmse(ratings.ratings, self.predict(ratings.users, ratings.items),
                    self.rating_scale_)

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        rows, cols = self._orient(users, items)
        out = np.empty(len(users))
        for start in range(0, len(users), 100_000):
            r = torch.tensor(rows[start:start + 100_000], device=self.device_)
            c = torch.tensor(cols[start:start + 100_000], device=self.device_)
            raw = (self.H_[r] * self.W_.T[c]).sum(1) + self.b_[c]
            out[start:start + len(r)] = self.problem_.output(raw).double().cpu().numpy()
        seen = self.seen_users_[users] & self.seen_items_[items]
        out[~seen] = self.fallback_rating
        return out

    def report(self) -> dict:
        return dict(self.report_)


@register("i-autorec")
class IAutoRec(_AutoRec):
    """I-AutoRec: reconstructs each item's rating vector over users (Sedhain et al. 2015)."""

    item_based = True
    DATASET_DEFAULTS = {"ml-100k": {"reg": 200.0}, "ml-1m": {"reg": 400.0},
                        "*": {"reg": 200.0}}


@register("u-autorec")
class UAutoRec(_AutoRec):
    """U-AutoRec: reconstructs each user's rating vector over items (Sedhain et al. 2015)."""

    item_based = False
    DATASET_DEFAULTS = {"ml-100k": {"reg": 100.0}, "ml-1m": {"reg": 400.0},
                        "*": {"reg": 100.0}}
