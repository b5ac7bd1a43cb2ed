"""Matrix factorisation with learned embeddings, trained by minibatch AdamW (PyTorch).

``mf`` predicts the dot product of a user and an item embedding; ``biased-mf`` adds a user
bias, an item bias and a global offset and squashes the sum into the rating range with a
scaled sigmoid:

    r_hat = lo + (hi - lo) * sigmoid(mu + b_u + b_i + p_u . q_i)

with (lo, hi) the rating scale widened by ``range_margin`` on each side, so the extreme ratings
are reachable. Training: shuffled minibatches from a DataLoader, mean squared error, AdamW with
decoupled weight decay, early stopping on a validation slice carved (seeded) from the training
ratings, then (``refit=True``) a refit on all training ratings for the selected number of
epochs. The test set is never used to choose anything; its curve is not even computed.
"""

from __future__ import annotations

import math

import numpy as np

from ..metrics import rmse
from ..errors import InvalidParameterError
from ..splits import Split
from . import register
from .base import RatingModel, check_indices, check_positive_int


def _build_module(n_users: int, n_items: int, n_factors: int, biased: bool, init_std: float,
                  offset: float, generator):
    import torch
    from torch import nn

    class Factorisation(nn.Module):
        def __init__(self) -> None:
            super().__init__()
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
            if biased:
                bu, bi = self.user_bias(users)[:, 0], self.item_bias(items)[:, 0]
                if user_seen is not None:
                    bu, bi = bu * user_seen, bi * item_seen
                score = score + bu + bi + self.offset
            return score

    return Factorisation()


class _EmbeddingMF(RatingModel):
    biased = False
    sigmoid_default = False

    def __init__(self, n_factors: int = 64, lr: float = 2e-3, weight_decay: float = 0.5,
                 batch_size: int = 1024, max_epochs: int = 60, patience: int = 4,
                 validation_fraction: float = 0.1, refit: bool = True,
                 sigmoid_range: bool | None = None, range_margin: float = 0.5,
                 init_std: float = 0.01, seed: int = 0, device: str | None = None) -> None:
        check_positive_int(n_factors=n_factors, batch_size=batch_size, max_epochs=max_epochs,
                           patience=patience)
        if lr <= 0 or not math.isfinite(lr):
            raise InvalidParameterError(f"lr must be a positive number, got {lr}")
        if weight_decay < 0:
            raise InvalidParameterError(f"weight_decay must be >= 0, got {weight_decay}")
        if not 0.0 < validation_fraction < 1.0:
            raise InvalidParameterError("validation_fraction must lie in (0, 1) (early stopping needs a "
                             f"validation slice), got {validation_fraction}")
        self._keep_params(locals())
        self.sigmoid_range = self.sigmoid_default if sigmoid_range is None else sigmoid_range

    # -- the output transform -------------------------------------------------------------
    def _range(self, scale) -> tuple[float, float]:
        return scale[0] - self.range_margin, scale[1] + self.range_margin

    def _squash(self, score):
        import torch

        if not self.sigmoid_range:
            return score
        lo, hi = self.range_
        return lo + (hi - lo) * torch.sigmoid(score)

    def _offset(self, mean: float) -> float:
        if not self.sigmoid_range:
            return mean
        lo, hi = self.range_
        p = min(max((mean - lo) / (hi - lo), 1e-3), 1 - 1e-3)
        return math.log(p / (1 - p))

    # -- training -------------------------------------------------------------------------
    def _train(self, split: Split, train, validation, n_epochs: int, early_stop: bool):
        import torch
        from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

        from ..training import check_finite

        generator = torch.Generator().manual_seed(self.seed)
        module = _build_module(split.n_users, split.n_items, self.n_factors, self.biased,
                               self.init_std, self._offset(float(train.ratings.mean())),
                               generator).to(self.device_)
        optimiser = torch.optim.AdamW(module.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        dataset = TensorDataset(torch.tensor(train.users), torch.tensor(train.items),
                                torch.tensor(train.ratings))
        sampler = BatchSampler(RandomSampler(dataset, generator=generator), self.batch_size,
                               drop_last=False)
        loader = DataLoader(dataset, sampler=sampler, batch_size=None)
        curve, best, best_state, since_best = [], math.inf, None, 0
        for epoch in range(1, n_epochs + 1):
            module.train()
            total, count = 0.0, 0
            for users, items, ratings in loader:
                users, items = users.to(self.device_), items.to(self.device_)
                ratings = ratings.to(self.device_)
                loss = torch.mean((self._squash(module(users, items)) - ratings) ** 2)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(ratings)
                count += len(ratings)
            check_finite(total, f"epoch {epoch}")
            point = {"epoch": epoch, "train_rmse": math.sqrt(total / count)}
            if validation is not None:
                self.module_ = module
                point["validation_rmse"] = rmse(
                    validation.ratings, self.predict(validation.users, validation.items),
                    split.rating_scale)
            curve.append(point)
            if early_stop:
                if point["validation_rmse"] < best - 1e-5:
                    best, since_best = point["validation_rmse"], 0
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    since_best += 1
                    if since_best >= self.patience:
                        break
        if early_stop and best_state is not None:
            module.load_state_dict(best_state)
        return module, curve

    def fit(self, split: Split) -> _EmbeddingMF:
        from ..training import torch_threads

        with torch_threads(1):  # minibatches of embeddings are too small to gain from threads
            return self._fit(split)

    def _fit(self, split: Split) -> _EmbeddingMF:
        from ..training import pick_device

        self.device_ = pick_device(self.device)
        self.range_ = self._range(split.rating_scale)
        self.shape_ = (split.n_users, split.n_items)
        carved = split.with_validation(self.validation_fraction, seed=self.seed)
        self.seen_users_, self.seen_items_ = carved.seen_in_train()
        module, curve = self._train(split, carved.train, carved.test, self.max_epochs, True)
        scored = [p["validation_rmse"] for p in curve]
        self.best_epoch_ = int(np.argmin(scored)) + 1
        self.curve_ = curve
        self.validation_rmse_ = float(min(scored))
        self.module_ = module
        if self.refit:
            self.seen_users_, self.seen_items_ = split.seen_in_train()
            self.module_, self.refit_curve_ = self._train(split, split.train, None,
                                                          self.best_epoch_, False)
        return self

    def predict(self, users, items) -> np.ndarray:
        import torch

        users, items = check_indices(self.shape_, users, items)
        module = self.module_
        module.eval()
        out = np.empty(len(users))
        seen_u = torch.tensor(self.seen_users_.astype(np.float32)).to(self.device_)
        seen_i = torch.tensor(self.seen_items_.astype(np.float32)).to(self.device_)
        with torch.no_grad():
            for start in range(0, len(users), 65536):
                u = torch.tensor(users[start:start + 65536]).to(self.device_)
                i = torch.tensor(items[start:start + 65536]).to(self.device_)
                score = module(u, i, seen_u[u], seen_i[i])
                out[start:start + len(u)] = self._squash(score).double().cpu().numpy()
        return out

    def report(self) -> dict:
        return {"best_epoch": self.best_epoch_, "validation_rmse": self.validation_rmse_,
                "curve": self.curve_, "device": str(self.device_)}


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
