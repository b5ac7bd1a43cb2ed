"""Matrix factorisation with learned embeddings, trained by minibatch AdamW (PyTorch).

``mf`` predicts the dot product of a user and an item embedding; ``biased-mf`` adds a user
bias, an item bias and a global offset and squashes the sum into the rating range with a
scaled sigmoid:

    r_hat = lo + (hi - lo) * sigmoid(mu + b_u + b_i + p_u . q_i)

with (lo, hi) the rating scale widened by ``range_margin`` on each side, so the extreme ratings
are reachable. Training: shuffled minibatches from a DataLoader, mean squared error, AdamW with
decoupled weight decay, early stopping on a validation slice carved (seeded) from the training
ratings, then (``refit=True``) a refit on all training ratings for the selected number of
epochs; ``validation_fraction=0`` trains for ``n_epochs`` instead, with no slice. The test
set is never used to choose anything; its curve is not even computed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from ..distributed import check_world_size, launch, run_epochs
from ..metrics import rmse
from ..params import TORCH, Bool, Param, Fraction, Int, Positive, Real
from ..selection import BestEpoch, end_epoch, fit_with_selection
from ..splits import Split
from ..torch_utils import (check_finite, pick_device, predict_in_chunks, snapshot_of,
                           torch_threads)
from . import register
from .base import RatingModel, check_indices


class Factorisation(nn.Module):
    """Embeddings p_u, q_i (normal, standard deviation ``init_std``) and, when ``biased``,
    biases b_u, b_i (zero) and a global ``offset``; ``forward`` gives the raw score."""

    def __init__(self, n_users: int, n_items: int, n_factors: int, biased: bool,
                 init_std: float, offset: float, generator) -> None:
        super().__init__()
        self.biased = biased
        self.user = nn.Embedding(n_users, n_factors)
        self.item = nn.Embedding(n_items, n_factors)
        with torch.no_grad():
            self.user.weight.normal_(0.0, init_std, generator=generator)
            self.item.weight.normal_(0.0, init_std, generator=generator)
        if biased:
            self.user_bias = nn.Embedding(n_users, 1)
            self.item_bias = nn.Embedding(n_items, 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
            self.offset = nn.Parameter(torch.tensor(float(offset)))

    def forward(self, users, items, user_seen=None, item_seen=None):
        p, q = self.user(users), self.item(items)
        if user_seen is not None:  # the fallback: an unseen side contributes nothing
            p = p * user_seen[:, None]
            q = q * item_seen[:, None]
        score = (p * q).sum(1)
        if self.biased:
            bu, bi = self.user_bias(users)[:, 0], self.item_bias(items)[:, 0]
            if user_seen is not None:
                bu, bi = bu * user_seen, bi * item_seen
            score = score + bu + bi + self.offset
        return score


class _EmbeddingMF(RatingModel):
    """Shared code of ``mf`` and ``biased-mf``. ``sigmoid_range=None`` takes the model's
    default (:attr:`sigmoid_default`)."""

    chapter = "06_embedding_mf"
    biased = False
    sigmoid_default = False
    PARAMS = {**TORCH, "n_factors": Int(), "lr": Positive(), "reg": Real(),
              "batch_size": Int(), "n_epochs": Int(), "patience": Int(),
              "validation_fraction": Fraction(low_open=False), "refit": Bool(),
              "sigmoid_range": Param("bool", none=True), "range_margin": Real(),
              "init_std": Real()}

    def __init__(self, n_factors: int = 64, lr: float = 2e-3, reg: float = 0.5,
                 batch_size: int = 1024, n_epochs: int = 60, patience: int = 4,
                 validation_fraction: float = 0.1, refit: bool = True,
                 sigmoid_range: bool | None = None, range_margin: float = 0.5,
                 init_std: float = 0.01, seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    @property
    def squashed(self) -> bool:
        """Whether the output goes through the scaled sigmoid."""
        return self.sigmoid_default if self.sigmoid_range is None else bool(self.sigmoid_range)

    # -- the output transform -------------------------------------------------------------
    def _range(self, scale) -> tuple[float, float]:
        return scale[0] - self.range_margin, scale[1] + self.range_margin

    def _squash(self, score):
        if not self.squashed:
            return score
        lo, hi = self.range_
        return lo + (hi - lo) * torch.sigmoid(score)

    def _offset(self, mean: float) -> float:
        if not self.squashed:
            return mean
        lo, hi = self.range_
        p = min(max((mean - lo) / (hi - lo), 1e-3), 1 - 1e-3)
        return math.log(p / (1 - p))

    # -- training -------------------------------------------------------------------------
    def _train(self, data: Split, validation, n_epochs: int, tracker: BestEpoch | None):
        """Minibatch AdamW on ``data.train`` (see :mod:`recsys_lib.selection`)."""
        train = data.train
        self.seen_users_, self.seen_items_ = data.seen_in_train()
        generator = torch.Generator().manual_seed(self.seed)
        module = Factorisation(data.n_users, data.n_items, self.n_factors, self.biased,
                               self.init_std, self._offset(float(train.ratings.mean())),
                               generator).to(self.device_)
        self.module_ = module
        optimizer = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.reg)
        dataset = TensorDataset(torch.tensor(train.users), torch.tensor(train.items),
                                torch.tensor(train.ratings))
        sampler = BatchSampler(RandomSampler(dataset, generator=generator), self.batch_size,
                               drop_last=False)
        loader = DataLoader(dataset, sampler=sampler, batch_size=None)
        curve = []
        for epoch in range(1, n_epochs + 1):
            module.train()
            total, count = 0.0, 0
            for users, items, ratings in loader:
                users, items = users.to(self.device_), items.to(self.device_)
                ratings = ratings.to(self.device_)
                loss = torch.mean((self._squash(module(users, items)) - ratings) ** 2)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(ratings)
                count += len(ratings)
            check_finite(total, f"epoch {epoch}")
            point = {"epoch": epoch, "train_rmse": math.sqrt(total / count)}
            if end_epoch(curve, point, tracker, lambda: self._score(validation, data),
                         snapshot_of(module)):
                break
        if tracker is not None and tracker.state is not None:
            module.load_state_dict(tracker.state)
        return curve

    def fit(self, split: Split) -> _EmbeddingMF:
        with torch_threads(1):  # minibatches of embeddings are too small to gain from threads
            self.device_ = pick_device(self.device)
            self.range_ = self._range(split.rating_scale)
            self.shape_ = (split.n_users, split.n_items)
            self.selection_ = fit_with_selection(self, split, min_delta=1e-5)
        return self

    def _score(self, ratings, data: Split) -> float:
        return rmse(ratings.ratings, self.predict(ratings.users, ratings.items),
                    data.rating_scale)

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        self.module_.eval()
        seen_u = torch.tensor(self.seen_users_.astype(np.float32)).to(self.device_)
        seen_i = torch.tensor(self.seen_items_.astype(np.float32)).to(self.device_)
        return predict_in_chunks(
            lambda u, i: self._squash(self.module_(u, i, seen_u[u], seen_i[i])),
            users, items, self.device_)

    def report(self) -> dict:
        return {**self.selection_, "device": str(self.device_)}


@register("mf")
class MF(_EmbeddingMF):
    """Matrix factorisation: r_hat = p_u . q_i, embeddings trained by minibatch AdamW."""

    biased = False
    sigmoid_default = False
    unseen_fallback = "an unseen user's or item's embedding is treated as zero, so the " \
                      "prediction is 0 (clipped to the bottom of the scale), or lo + (hi-lo)/2 " \
                      "with sigmoid_range=True: plain MF has no sensible fallback"


@register("biased-mf")
class BiasedMF(_EmbeddingMF):
    """Biased MF: sigmoid-ranged mu + b_u + b_i + p_u . q_i, trained by minibatch AdamW."""

    biased = True
    sigmoid_default = True
    unseen_fallback = "the unseen side's bias and embedding are treated as zero, so the " \
                      "prediction falls back to the squashed mu + b_i, mu + b_u or mu"


def _mf_worker(rank: int, world_size: int, device, model, data: Split, validation,
               n_epochs: int, tracker):
    """One process's minibatch AdamW on (user, item, rating) triples: each global batch of
    ``batch_size`` triples is shared by the processes, dense gradients all-reduced by DDP
    (see :mod:`recsys_lib.distributed`). Returns the curve, the epoch seconds, the final
    parameters and the tracker."""
    train = data.train
    generator = torch.Generator().manual_seed(model.seed)
    module = Factorisation(data.n_users, data.n_items, model.n_factors, True, model.init_std,
                           model._offset(float(train.ratings.mean())), generator).to(device)
    model.module_, model.device_ = module, device
    optimizer = torch.optim.AdamW(module.parameters(), lr=model.lr, weight_decay=model.reg)
    users, items = torch.tensor(train.users), torch.tensor(train.items)
    ratings = torch.tensor(train.ratings, dtype=torch.float32)

    def batches(generator):
        return torch.split(torch.randperm(len(ratings), generator=generator),
                           model.batch_size)

    def step_loss(net, part, batch):
        u, i, r = users[part].to(device), items[part].to(device), ratings[part].to(device)
        sse = ((model._squash(net(u, i)) - r) ** 2).sum()
        return sse * (world_size / len(batch)), float(sse.detach()), len(part)

    curve, seconds = run_epochs(
        module, optimizer, batches=batches, step_loss=step_loss, n_epochs=n_epochs,
        lr_decay=1.0, seed=model.seed, tracker=tracker,
        validation_rmse=lambda: model._score(validation, data), rank=rank,
        world_size=world_size, device=device)
    return curve, seconds, {k: v.detach().cpu() for k, v in module.state_dict().items()}, \
        tracker


@register("biased-mf-ddp")
class BiasedMFDDP(BiasedMF):
    """Biased MF trained by AdamW on ``world_size`` processes (DDP, dense gradients).

    It equals one process up to the order of floating-point sums."""

    chapter = "15_minibatch_ddp"
    PARAMS = {**_EmbeddingMF.PARAMS, "world_size": Int()}

    def __init__(self, n_factors: int = 64, lr: float = 2e-3, reg: float = 0.5,
                 batch_size: int = 1024, n_epochs: int = 60, patience: int = 4,
                 validation_fraction: float = 0.1, refit: bool = True,
                 sigmoid_range: bool | None = None, range_margin: float = 0.5,
                 init_std: float = 0.01, world_size: int = 1, seed: int = 0,
                 device: str | None = None) -> None:
        self._init(locals())

    def fit(self, split: Split) -> BiasedMFDDP:
        check_world_size(self.name, self.world_size, pick_device(self.device))
        self.seconds_ = []
        super().fit(split)
        self.selection_["epoch_seconds"] = float(np.mean(self.seconds_))
        return self

    def _train(self, data: Split, validation, n_epochs: int, tracker: BestEpoch | None):
        self.seen_users_, self.seen_items_ = data.seen_in_train()
        curve, seconds, state, after = launch(_mf_worker, self.world_size, self.device_,
                                              self, data, validation, n_epochs, tracker)
        if tracker is not None:
            vars(tracker).update(vars(after))
        module = Factorisation(data.n_users, data.n_items, self.n_factors, True,
                               self.init_std, 0.0, torch.Generator().manual_seed(self.seed))
        module.load_state_dict(state)
        self.module_, self.seconds_ = module.to(self.device_), seconds
        return curve
