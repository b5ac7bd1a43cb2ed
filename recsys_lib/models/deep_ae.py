"""The deep autoencoder of Kuchaiev and Ginsburg (2017), "Training deep autoencoders for
collaborative filtering".

Trained by minibatch gradient descent on user vectors with SELU activations, dropout on the
code layer, a masked mean squared error, an optional tied decoder and dense re-feeding; the
number of epochs is chosen on a validation slice (:mod:`recsys_lib.selection`), or fixed
(``n_epochs``) with ``validation_fraction=0``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..checks import check_fallback_rating
from ..metrics import rmse
from ..params import TORCH, Bool, Choice, Fraction, Int, Positive, Real, Sizes
from ..selection import BestEpoch, end_epoch, fit_with_selection
from ..splits import Split
from ..torch_utils import (check_finite, glorot_uniform_, pick_device, snapshot_of,
                           torch_threads)
from . import register
from .base import RatingModel, check_indices


class DeepAE(nn.Module):
    """``n_in -> layers -> (code dropout) -> mirrored decoder -> n_in``, SELU activations,
    weights Glorot-uniform as in the authors' code; the output starts at the mean rating."""

    def __init__(self, n_in: int, layers: tuple[int, ...], dropout: float, tied: bool,
                 last_activation: bool, generator, mean: float = 0.0) -> None:
        super().__init__()
        sizes = [n_in, *layers]
        self.n_layers, self.tied, self.last_activation = len(layers), tied, last_activation

        def weight(rows: int, cols: int) -> nn.Parameter:
            return nn.Parameter(glorot_uniform_(torch.empty(rows, cols), cols, rows, generator))

        self.enc_w = nn.ParameterList([weight(sizes[k + 1], sizes[k])
                                       for k in range(len(layers))])
        self.enc_b = nn.ParameterList([nn.Parameter(torch.zeros(s)) for s in sizes[1:]])
        if not tied:
            self.dec_w = nn.ParameterList([weight(sizes[k], sizes[k + 1])
                                           for k in reversed(range(len(layers)))])
        self.dec_b = nn.ParameterList([nn.Parameter(torch.zeros(sizes[k]))
                                       for k in reversed(range(len(layers)))])
        self.drop = nn.Dropout(dropout)
        # Start the output at the mean rating (SELU is 1.0507 x on positive inputs), so the
        # first epochs learn deviations instead of the rating level.
        with torch.no_grad():
            self.dec_b[-1].fill_(mean / 1.0507 if last_activation else mean)

    def forward(self, x):
        for w, b in zip(self.enc_w, self.enc_b):
            x = F.selu(F.linear(x, w, b))
        x = self.drop(x)  # dropout on the code layer only
        n = self.n_layers
        for k in range(n):
            # tied: decoder layer k reuses the transpose of encoder layer n-1-k
            w = self.enc_w[n - 1 - k].T if self.tied else self.dec_w[k]
            x = F.linear(x, w, self.dec_b[k])
            if k < n - 1 or self.last_activation:
                x = F.selu(x)
        return x


@register("deep-ae")
class DeepAutoencoder(RatingModel):
    """Deep autoencoder on user vectors: SELU, code dropout, masked MSE, dense re-feeding
    (Kuchaiev and Ginsburg 2017)."""

    chapter = "07_autorec"
    PARAMS = {**TORCH, "n_hidden": Sizes(), "dropout": Fraction(low_open=False),
              "tied": Bool(), "refeed": Bool(), "last_activation": Bool(), "lr": Positive(),
              "optimizer": Choice("adam", "momentum"), "reg": Real(), "batch_size": Int(),
              "n_epochs": Int(), "patience": Int(),
              "validation_fraction": Fraction(low_open=False), "refit": Bool(),
              "fallback_rating": Real(None)}
    unseen_fallback = "a user or item with no training rating is predicted as " \
                      "fallback_rating (3)"

    def __init__(self, n_hidden: int | tuple | list = (256, 256), dropout: float = 0.8,
                 tied: bool = False, refeed: bool = False, last_activation: bool = True,
                 lr: float = 1e-3, optimizer: str = "adam", reg: float = 0.01,
                 batch_size: int = 16, n_epochs: int = 40, patience: int = 8,
                 validation_fraction: float = 0.1, refit: bool = True,
                 fallback_rating: float = 3.0, seed: int = 0, device: str | None = None
                 ) -> None:
        self._init(locals())

    def _layers(self) -> tuple[int, ...]:
        sizes = self.n_hidden
        return (int(sizes),) if isinstance(sizes, (int, np.integer)) else tuple(map(int, sizes))

    def _matrix(self, split: Split, ratings) -> torch.Tensor:
        x = torch.zeros(split.n_users, split.n_items)
        x[torch.tensor(ratings.users), torch.tensor(ratings.items)] = \
            torch.tensor(ratings.ratings)
        return x

    def _train(self, data: Split, validation, n_epochs: int, tracker: BestEpoch | None):
        """Minibatch training on ``data.train`` (see :mod:`recsys_lib.selection`)."""
        train = data.train
        generator = torch.Generator().manual_seed(self.seed)
        module = DeepAE(data.n_items, self._layers(), self.dropout, self.tied,
                        self.last_activation, generator,
                        float(train.ratings.mean())).to(self.device_)
        if self.optimizer == "adam":
            opt = torch.optim.Adam(module.parameters(), lr=self.lr, weight_decay=self.reg)
        else:
            opt = torch.optim.SGD(module.parameters(), lr=self.lr, momentum=0.9,
                                  weight_decay=self.reg)
        X = self._matrix(data, train).to(self.device_)
        rows = torch.tensor(np.unique(train.users)).to(self.device_)  # users with ratings
        curve = []
        for epoch in range(1, n_epochs + 1):
            module.train()
            order = rows[torch.randperm(len(rows), generator=generator).to(self.device_)]
            total, count = 0.0, 0
            for start in range(0, len(order), self.batch_size):
                x = X[order[start:start + self.batch_size]]
                mask = (x != 0).float()
                y = module(x)
                loss = ((y - x) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)  # masked MSE
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(((y.detach() - x) ** 2 * mask).sum())
                count += float(mask.sum())
                if self.refeed:  # dense re-feeding: f(x) is a dense, fully observed sample
                    x2 = y.detach()
                    loss2 = ((module(x2) - x2) ** 2).mean()
                    opt.zero_grad()
                    loss2.backward()
                    opt.step()
            check_finite(total, f"epoch {epoch}")
            point = {"epoch": epoch, "train_rmse": (total / max(count, 1.0)) ** 0.5}

            def validation_rmse() -> float:
                self._set(module, X, train)
                return rmse(validation.ratings,
                            self.predict(validation.users, validation.items),
                            data.rating_scale)

            if end_epoch(curve, point, tracker, validation_rmse, snapshot_of(module)):
                break
        if tracker is not None and tracker.state is not None:
            module.load_state_dict(tracker.state)
        self._set(module, X, train)
        return curve

    def _set(self, module, X, train) -> None:
        module.eval()
        with torch.no_grad():
            self.output_ = torch.cat([module(X[s:s + 1024]) for s in range(0, len(X), 1024)])
        self.seen_users_ = np.zeros(self.shape_[0], dtype=bool)
        self.seen_items_ = np.zeros(self.shape_[1], dtype=bool)
        self.seen_users_[train.users] = True
        self.seen_items_[train.items] = True

    def fit(self, split: Split) -> DeepAutoencoder:
        check_fallback_rating(self.name, self.fallback_rating, split.rating_scale,
                              split.dataset)
        with torch_threads(1):  # on a shared 2-core machine one thread per process is faster
            self.device_ = pick_device(self.device)
            self.shape_ = (split.n_users, split.n_items)
            self.selection_ = fit_with_selection(self, split, min_delta=1e-5)
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        out = self.output_[torch.tensor(users).to(self.device_),
                           torch.tensor(items).to(self.device_)].double().cpu().numpy()
        seen = self.seen_users_[users] & self.seen_items_[items]
        out[~seen] = self.fallback_rating
        return out

    def report(self) -> dict:
        return {**self.selection_, "device": str(self.device_)}
