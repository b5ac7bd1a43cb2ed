"""I-AutoRec on sparse minibatches of item rows, on one process or several (DDP).

The dense ``i-autorec`` minimises, full batch with L-BFGS,

    sum over observed (i, u) of (r_iu - h(r_i)_u)^2 + reg/2 (||W||^2 + ||V||^2),

with h(r) = f(W g(V r + mu) + b). ``sparse-i-autorec`` minimises the same objective divided
by the number of training ratings |R|, one minibatch B of items at a time, with Adam:

    L_B = 1/|R_B| sum over observed (i, u), i in B, of (r_iu - h(r_i)_u)^2
          + reg / (2 |R|) (||W||^2 + ||V||^2),

where R_B are the ratings of the items in B. The ratings are held as CSR rows (pointers,
user indices, values), never as the item x user matrix: a batch becomes a dense
(batch_size x n_users) block only while it passes through the network, so memory grows with
the ratings and the users, never with users x items. Under DDP every process takes its share
of each global batch (:mod:`recsys_lib.distributed`). Prediction encodes the training rows
batch by batch and reads the decoder only at the asked pairs.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..checks import check_fallback_rating
from ..distributed import check_world_size, launch, run_epochs
from ..metrics import rmse
from ..params import TORCH, Bool, Choice, Fraction, Int, Positive, Real
from ..selection import BestEpoch, fit_with_selection
from ..splits import Split
from ..torch_utils import csr_layout, pick_device, predict_in_chunks
from . import register
from .autorec import ACTIVATIONS, INITS, IAutoRec, initial_weights, output_layer
from .base import RatingModel, check_indices


class ItemRows:
    """The training ratings as CSR rows of the item x user matrix (numpy, int64 pointers)."""

    def __init__(self, items: np.ndarray, users: np.ndarray, ratings: np.ndarray,
                 n_items: int, n_users: int) -> None:
        order, self.pointers, self.users = csr_layout(items, users, n_items)
        self.values = ratings[order].astype(np.float32)
        self.n_items, self.n_users = n_items, n_users
        self.lengths = np.diff(self.pointers)
        self.rated = np.flatnonzero(self.lengths)  # items with at least one rating

    def gather(self, rows: np.ndarray):
        """``(local_row, user, value)`` of every rating of the items ``rows``: the batch's
        sparse form, local_row indexing ``rows``."""
        lengths = self.lengths[rows]
        starts = np.repeat(self.pointers[rows] - np.cumsum(lengths) + lengths, lengths)
        positions = starts + np.arange(lengths.sum())
        local = np.repeat(np.arange(len(rows)), lengths)
        return local, self.users[positions], self.values[positions]

    def dense(self, rows: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
        """The items ``rows`` as a dense (len(rows), n_users) block of ratings (0 where
        unrated) and the block's mask of observed entries (1.0 where rated)."""
        local, users, values = (torch.from_numpy(a).to(device) for a in self.gather(rows))
        block = torch.zeros(len(rows), self.n_users, device=device)
        mask = torch.zeros(len(rows), self.n_users, device=device)
        block[local, users] = values
        mask[local, users] = 1.0
        return block, mask


class ItemAutoencoder(nn.Module):
    """V (n_users, k), mu (k,), W (k, n_users), b (n_users,): h(r) = f(W g(V r + mu) + b)."""

    def __init__(self, weights, hidden_act: str, output_act: str, rating_scale) -> None:
        super().__init__()
        V, mu, W, b = (nn.Parameter(torch.as_tensor(w, dtype=torch.float32)) for w in weights)
        self.V, self.mu, self.W, self.b = V, mu, W, b
        self.hidden_act, self.output_act, self.rating_scale = hidden_act, output_act, \
            rating_scale

    def encode(self, block: torch.Tensor) -> torch.Tensor:
        z = block @ self.V + self.mu
        return torch.sigmoid(z) if self.hidden_act == "sigmoid" else z

    def decode_at(self, codes: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """The output of each code (n, k) at one user each (n,): no dense output needed."""
        raw = (codes * self.W.T[users]).sum(1) + self.b[users]
        return output_layer(raw, self.output_act, self.rating_scale)

    def forward(self, block: torch.Tensor) -> torch.Tensor:
        raw = self.encode(block) @ self.W + self.b
        return output_layer(raw, self.output_act, self.rating_scale)


def batch_loss(net, module: ItemAutoencoder, rows: ItemRows, part: np.ndarray,
               batch: np.ndarray, penalty: float, world_size: int, device):
    """This process's share of L_B for the global ``batch`` of items (its ``part``), times
    ``world_size``; with its sum of squared errors and its count of ratings."""
    block, mask = rows.dense(part, device)
    n_batch = float(rows.lengths[batch].sum())  # the ratings of the global batch, |R_B|
    sse = (((net(block) - block) * mask) ** 2).sum()  # observed entries only
    loss = sse * (world_size / n_batch) + penalty * (
        (module.W ** 2).sum() + (module.V ** 2).sum())
    return loss, float(sse.detach()), float(rows.lengths[part].sum())


def _autorec_worker(rank: int, world_size: int, device, model, data: Split, validation,
                    n_epochs: int, tracker):
    """One process's training (see :func:`recsys_lib.distributed.run_epochs`); returns the
    curve, the epoch seconds, the final parameters and the tracker."""
    train = data.train
    rows = ItemRows(train.items, train.users, train.ratings, data.n_items, data.n_users)
    bias = float(train.ratings.mean()) if model.output_act == "identity" else 0.0
    module = ItemAutoencoder(initial_weights(data.n_users, model.n_hidden, model.seed, bias,
                                             model.init),
                             model.hidden_act, model.output_act, data.rating_scale).to(device)
    model.module_, model.rows_, model.device_ = module, rows, device
    optimizer = torch.optim.Adam(module.parameters(), lr=model.lr, fused=True)
    penalty = model.resolved_params_["reg"] / (2.0 * len(train.ratings))
    peak = [0]

    def batches(generator):
        order = torch.from_numpy(rows.rated)[torch.randperm(len(rows.rated),
                                                            generator=generator)]
        return torch.split(order, model.batch_size)

    def step_loss(net, part, batch):
        peak[0] = max(peak[0], len(part) * rows.n_users)
        return batch_loss(net, module, rows, part.numpy(), batch.numpy(), penalty,
                          world_size, device)

    curve, seconds = run_epochs(
        module, optimizer, batches=batches, step_loss=step_loss, n_epochs=n_epochs,
        lr_decay=model.lr_decay, seed=model.seed, tracker=tracker,
        validation_rmse=lambda: model._score(validation), rank=rank, world_size=world_size,
        device=device)
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    return curve, seconds, state, tracker, peak[0]


@register("sparse-i-autorec")
class SparseIAutoRec(RatingModel):
    """I-AutoRec trained by Adam on sparse minibatches of item rows, on 1+ processes (DDP).

    It never holds the item x user matrix."""

    chapter = "15_minibatch_ddp"
    unseen_fallback = "a user or item with no training rating is predicted as " \
                      "fallback_rating (3, as in AutoRec's paper)"
    PARAMS = {**TORCH, "n_hidden": Int(), "reg": Real(none=True), "lr": Positive(),
              "lr_decay": Positive(), "batch_size": Int(), "n_epochs": Int(),
              "patience": Int(), "validation_fraction": Fraction(low_open=False),
              "refit": Bool(), "hidden_act": Choice(*ACTIVATIONS),
              "output_act": Choice(*ACTIVATIONS), "fallback_rating": Real(None),
              "init": Choice(*INITS), "world_size": Int()}
    DATASET_DEFAULTS = IAutoRec.DATASET_DEFAULTS

    def __init__(self, n_hidden: int = 500, reg: float | None = None, lr: float = 3e-3,
                 lr_decay: float = 0.96, batch_size: int = 64, n_epochs: int = 80,
                 patience: int = 5, validation_fraction: float = 0.1, refit: bool = True,
                 hidden_act: str = "sigmoid", output_act: str = "identity",
                 fallback_rating: float = 3.0, init: str = "authors", world_size: int = 1,
                 seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> SparseIAutoRec:
        """Adam on minibatches of ``batch_size`` items, the length chosen on a validation
        slice (:func:`recsys_lib.selection.fit_with_selection`) unless
        ``validation_fraction`` is 0; ``world_size`` processes share every batch."""
        check_fallback_rating(self.name, self.fallback_rating, split.rating_scale,
                              split.dataset)
        self.device_ = pick_device(self.device)
        check_world_size(self.name, self.world_size, self.device_)
        self.shape_ = (split.n_users, split.n_items)
        self.rating_scale_ = split.rating_scale
        self.resolved_params_ = self.resolve_params(split.dataset)
        self.seconds_ = []
        selection = fit_with_selection(self, split, min_delta=1e-5)
        self.report_ = {"resolved_params": dict(self.resolved_params_), **selection,
                        "device": str(self.device_),
                        "epoch_seconds": float(np.mean(self.seconds_))}
        return self

    def _train(self, data: Split, validation, n_epochs: int, tracker: BestEpoch | None):
        self.seen_users_, self.seen_items_ = data.seen_in_train()
        start = time.perf_counter()
        curve, seconds, state, after, peak = launch(
            _autorec_worker, self.world_size, self.device_, self, data, validation, n_epochs,
            tracker)
        self.train_seconds_ = time.perf_counter() - start
        if tracker is not None:
            vars(tracker).update(vars(after))
        rows = ItemRows(data.train.items, data.train.users, data.train.ratings,
                        data.n_items, data.n_users)
        module = ItemAutoencoder([state[name] for name in ("V", "mu", "W", "b")],
                                 self.hidden_act, self.output_act, data.rating_scale)
        self.module_, self.rows_ = module.to(self.device_), rows
        self.seconds_, self.batch_elements_ = seconds, peak
        return curve

    def codes(self) -> torch.Tensor:
        """The hidden code of every item (n_items, n_hidden), item batch by item batch."""
        codes = torch.zeros(self.rows_.n_items, self.n_hidden, device=self.device_)
        with torch.no_grad():
            for start in range(0, self.rows_.n_items, self.batch_size):
                rows = np.arange(start, min(start + self.batch_size, self.rows_.n_items))
                block, _ = self.rows_.dense(rows, self.device_)
                codes[start:start + len(rows)] = self.module_.encode(block)
        return codes

    def _score(self, ratings) -> float:
        return rmse(ratings.ratings, self.predict(ratings.users, ratings.items),
                    self.rating_scale_)

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        codes = self.codes()
        out = predict_in_chunks(lambda u, i: self.module_.decode_at(codes[i], u),
                                users, items, self.device_)
        seen = self.seen_users_[users] & self.seen_items_[items]
        out[~seen] = self.fallback_rating
        return out

    def report(self) -> dict:
        return dict(self.report_)
