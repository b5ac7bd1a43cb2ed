"""The AutoRec family: I-AutoRec and U-AutoRec (Sedhain et al., WWW 2015) and the deep
autoencoder of Kuchaiev and Ginsburg (2017).

AutoRec reconstructs one partially observed vector at a time: an item's ratings over all users
(I-AutoRec) or a user's ratings over all items (U-AutoRec),

    h(r) = f(W g(V r + mu) + b),

and minimises the squared error on the *observed* entries only plus lambda/2 (||W||^2 + ||V||^2),
full batch, with L-BFGS. The loss and its gradient are computed by hand with sparse matrix
products: the encoder only touches the observed ratings (a sparse times dense product) and the
decoder output is only needed at the observed entries (a sampled dense-dense product), so one
function and gradient evaluation on ML-1M costs a few GFLOP instead of the ~130 GFLOP of the
dense formulation. The optimiser is scipy's L-BFGS-B on a float64 flat parameter vector.

The deep autoencoder (``deep-ae``) is trained by minibatch gradient descent on user vectors with
SELU activations, dropout on the code layer, a masked mean squared error, an optional tied
decoder and dense re-feeding.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..metrics import rmse
from ..errors import InvalidParameterError
from ..splits import Split
from . import register
from ._factorisation import quiet_sparse
from .base import RatingModel, check_indices, check_positive_int

ACTIVATIONS = ("identity", "sigmoid")
INITS = ("glorot", "authors")
log = logging.getLogger(__name__)


def _torch():
    import torch

    return torch


class _SparseAutoRecProblem:
    """Loss and gradient of a one-hidden-layer AutoRec on a sparse sample x input matrix.

    ``rows`` index the samples (items for I-AutoRec), ``cols`` the input/output units (users).
    Parameters: V (n_in, k) encoder, mu (k,), W (k, n_in) decoder, b (n_in,).
    Objective: sum over observed (r - h(r))^2 + lam/2 (||W||^2 + ||V||^2).
    """

    def __init__(self, rows, cols, values, n_rows, n_cols, hidden, lam, hidden_act,
                 output_act, rating_scale, dtype):
        torch = _torch()
        self.torch = torch
        self.n_rows, self.n_cols, self.hidden, self.lam = n_rows, n_cols, hidden, lam
        self.hidden_act, self.output_act = hidden_act, output_act
        self.low, self.high = rating_scale
        self.dtype = dtype
        order = np.lexsort((cols, rows))  # CSR order: by row, then column
        rows, cols, values = rows[order], cols[order], values[order]
        with quiet_sparse():
            crow = torch.from_numpy(np.concatenate(
                [[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64))
            self.X = torch.sparse_csr_tensor(crow, torch.from_numpy(cols.astype(np.int64)),
                                             torch.from_numpy(values).to(dtype),
                                             (n_rows, n_cols))
            # The transpose with the permutation that maps CSR values to transposed CSR order.
            order_t = np.lexsort((rows, cols))
            self.perm_t = torch.from_numpy(order_t)
            crow_t = torch.from_numpy(np.concatenate(
                [[0], np.cumsum(np.bincount(cols, minlength=n_cols))]).astype(np.int64))
            self.crow_t = crow_t
            self.col_t = torch.from_numpy(rows[order_t].astype(np.int64))
            self.XT = torch.sparse_csr_tensor(crow_t, self.col_t, self.X.values()[self.perm_t],
                                              (n_cols, n_rows))
        self.crow, self.col = crow, torch.from_numpy(cols.astype(np.int64))
        self.targets = torch.from_numpy(values).to(dtype)
        self.sizes = [n_cols * hidden, hidden, hidden * n_cols, n_cols]

    def unpack(self, theta: np.ndarray):
        torch = self.torch
        flat = torch.from_numpy(theta).to(self.dtype)
        V, mu, W, b = torch.split(flat, self.sizes)
        return (V.view(self.n_cols, self.hidden), mu, W.view(self.hidden, self.n_cols), b)

    def hidden_layer(self, V, mu):
        torch = self.torch
        with quiet_sparse():
            Z = torch.sparse.mm(self.X, V) + mu
        H = torch.sigmoid(Z) if self.hidden_act == "sigmoid" else Z
        return H

    def output(self, raw):
        if self.output_act == "sigmoid":
            return self.low + (self.high - self.low) * self.torch.sigmoid(raw)
        return raw

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        torch = self.torch
        V, mu, W, b = self.unpack(theta)
        H = self.hidden_layer(V, mu)
        with quiet_sparse():
            pattern = torch.sparse_csr_tensor(self.crow, self.col,
                                              b[self.col],  # the output bias, per entry
                                              (self.n_rows, self.n_cols))
            raw = torch.sparse.sampled_addmm(pattern, H, W).values()
        pred = self.output(raw)
        err = pred - self.targets
        loss = float((err.double() ** 2).sum()) + self.lam / 2 * (
            float((W.double() ** 2).sum()) + float((V.double() ** 2).sum()))
        d = 2.0 * err
        if self.output_act == "sigmoid":
            s = (pred - self.low) / (self.high - self.low)
            d = d * (self.high - self.low) * s * (1 - s)
        with quiet_sparse():
            E = torch.sparse_csr_tensor(self.crow, self.col, d, (self.n_rows, self.n_cols))
            ET = torch.sparse_csr_tensor(self.crow_t, self.col_t, d[self.perm_t],
                                         (self.n_cols, self.n_rows))
            dW = torch.sparse.mm(ET, H).T + self.lam * W
            db = torch.zeros(self.n_cols, dtype=self.dtype).index_add_(0, self.col, d)
            dH = torch.sparse.mm(E, W.T.contiguous())
            dZ = dH * H * (1 - H) if self.hidden_act == "sigmoid" else dH
            dV = torch.sparse.mm(self.XT, dZ) + self.lam * V
        dmu = dZ.sum(0)
        grad = torch.cat([dV.reshape(-1), dmu, dW.reshape(-1), db]).double().numpy()
        return loss, grad

    def init_theta(self, seed: int, bias: float, init: str) -> np.ndarray:
        """Starting parameters. ``"glorot"``: weights Glorot-uniform, hidden biases 0, output
        biases ``bias``. ``"authors"``: as in the authors' released code (NNRec), weights
        normal with standard deviation 0.01 and all biases normal with standard deviation 0.001."""
        rng = np.random.default_rng(seed)
        n_weights = self.n_cols * self.hidden
        if init == "authors":
            V, W = rng.normal(0.0, 0.01, n_weights), rng.normal(0.0, 0.01, n_weights)
            return np.concatenate([V, rng.normal(0.0, 0.001, self.hidden), W,
                                   rng.normal(0.0, 0.001, self.n_cols)])
        limit = np.sqrt(6.0 / (self.n_cols + self.hidden))
        V = rng.uniform(-limit, limit, n_weights)
        W = rng.uniform(-limit, limit, n_weights)
        return np.concatenate([V, np.zeros(self.hidden), W, np.full(self.n_cols, bias)])


def fit_lbfgs(fun, theta0: np.ndarray, max_iter: int, history: int = 10, callback=None
              ) -> tuple[np.ndarray, dict]:
    """Full-batch L-BFGS-B (scipy) on ``fun(theta) -> (loss, grad)``; NaN losses raise."""
    from scipy.optimize import minimize

    from ..training import check_finite

    evaluations = [0]

    def checked(theta):
        evaluations[0] += 1
        loss, grad = fun(theta)
        check_finite(loss, f"L-BFGS evaluation {evaluations[0]}")
        return loss, grad

    result = minimize(checked, theta0, jac=True, method="L-BFGS-B", callback=callback,
                      options={"maxiter": max_iter, "maxcor": history, "maxfun": 2 * max_iter,
                               "ftol": 1e-12, "gtol": 1e-9})
    return result.x, {"iterations": int(result.nit), "evaluations": evaluations[0],
                      "final_loss": float(result.fun), "message": str(result.message)}


class _AutoRec(RatingModel):
    """Shared code of I-AutoRec and U-AutoRec; ``item_based`` picks the orientation.

    ``lam=None`` takes the weight decay of :attr:`LAMBDAS` for the split's dataset (the
    value chosen on a validation slice of that dataset, see the AutoRec chapter); the summary
    reports the value used as ``lam_used``.
    """

    item_based = True
    #: validated weight decay per dataset; "*" for datasets without a validated value
    LAMBDAS: dict[str, float] = {}
    unseen_fallback = "a user or item with no training rating is predicted as default_rating " \
                      "(3, as in the paper)"

    def __init__(self, hidden: int = 500, lam: float | None = None, max_iter: int = 500,
                 hidden_act: str = "sigmoid", output_act: str = "identity",
                 default_rating: float = 3.0, validation_fraction: float = 0.1,
                 patience: int = 5, refit: bool = True, curve_every: int = 10,
                 init: str = "authors", dtype: str = "float32", seed: int = 0) -> None:
        if hidden < 1:
            raise InvalidParameterError(f"hidden must be a positive number of units, got {hidden}")
        if lam is not None and not lam >= 0:
            raise InvalidParameterError(f"lam must be >= 0, got {lam}")
        check_positive_int(max_iter=max_iter, patience=patience)
        for label, act in (("hidden_act", hidden_act), ("output_act", output_act)):
            if act not in ACTIVATIONS:
                raise InvalidParameterError(f"{label} must be one of {ACTIVATIONS}, got {act!r}")
        if not 0.0 <= validation_fraction < 1.0:
            raise InvalidParameterError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
        if validation_fraction > 0 and not curve_every:
            raise InvalidParameterError("early stopping on a validation slice needs curve_every >= 1")
        if dtype not in ("float32", "float64"):
            raise InvalidParameterError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if init not in INITS:
            raise InvalidParameterError(f"init must be one of {INITS}, got {init!r}")
        self._keep_params(locals())

    def _orient(self, users, items):
        return (items, users) if self.item_based else (users, items)

    def fit(self, split: Split) -> _AutoRec:
        """Full-batch L-BFGS for ``max_iter`` iterations on ``split.train``.

        With ``validation_fraction > 0`` the number of iterations is chosen instead: train on
        the rest of the training ratings, score the held-out slice every ``curve_every``
        iterations, stop after ``patience`` scores without improvement and keep the best
        iteration; with ``refit`` the model is then trained again from the same start on all
        training ratings for that many iterations. The test set is only ever reported.
        """
        self.shape_ = (split.n_users, split.n_items)
        self.rating_scale_ = split.rating_scale
        self.lam_ = self.lam if self.lam is not None else self.LAMBDAS.get(
            split.dataset, self.LAMBDAS["*"])
        self.report_ = {"lam_used": self.lam_}
        iterations = self.max_iter
        if self.validation_fraction > 0:
            carved = split.with_validation(self.validation_fraction, seed=self.seed)
            _, info, curve = self._train(carved, self.max_iter, split.test,
                                         validation=carved.test)
            best = min(curve, key=lambda point: point["validation_rmse"])
            iterations = best["iteration"]
            self.report_.update(selected_iteration=iterations,
                                validation_rmse=best["validation_rmse"],
                                validation_curve=curve, validation_lbfgs=info)
            if not self.refit:
                self._set_weights(self.problem_, self.best_theta_)
                return self
        _, info, curve = self._train(split, iterations, split.test)
        self.report_.update(lbfgs=info, curve=curve)
        return self

    def _train(self, data: Split, max_iter: int, test, validation=None):
        """L-BFGS on ``data.train``; returns (theta, optimiser facts, curve). With a
        ``validation`` part, keeps the best-scoring parameters in ``best_theta_`` and stops
        once ``patience`` scores in a row fail to improve on the best."""
        torch = _torch()
        train = data.train
        rows, cols = self._orient(train.users, train.items)
        n_rows, n_cols = self._orient(data.n_users, data.n_items)
        problem = _SparseAutoRecProblem(
            rows, cols, train.ratings, n_rows, n_cols, self.hidden, self.lam_, self.hidden_act,
            self.output_act, data.rating_scale, getattr(torch, self.dtype))
        self.seen_users_, self.seen_items_ = data.seen_in_train()
        bias = float(train.ratings.mean()) if self.output_act == "identity" else 0.0
        theta0 = problem.init_theta(self.seed, bias, self.init)
        curve, iteration = [], [0]
        best = {"rmse": np.inf, "since": 0}

        def callback(theta):
            iteration[0] += 1
            if self.curve_every and iteration[0] % self.curve_every == 0:
                score(theta)
                if best["since"] >= self.patience:
                    raise StopIteration

        def score(theta):
            self._set_weights(problem, theta)
            point = {"iteration": iteration[0], "train_rmse": self._score(train)}
            if validation is not None:
                point["validation_rmse"] = self._score(validation)
            point["test_rmse"] = self._score(test)  # reported, never used to choose
            curve.append(point)
            log.info("%s %s", self.name, point)
            if validation is None:
                return
            if point["validation_rmse"] < best["rmse"]:
                best.update(rmse=point["validation_rmse"], since=0)
                self.best_theta_ = theta.copy()
            else:
                best["since"] += 1

        start = time.perf_counter()
        theta, info = fit_lbfgs(problem.loss_grad, theta0, max_iter, callback=callback)
        info["optimise_seconds"] = time.perf_counter() - start
        if validation is not None and best["since"] < self.patience and (
                not curve or curve[-1]["iteration"] != iteration[0]):
            score(theta)  # the optimiser stopped between two scores: score where it ended
        self._set_weights(problem, theta)
        return theta, info, curve

    def _set_weights(self, problem: _SparseAutoRecProblem, theta: np.ndarray) -> None:
        V, mu, W, b = problem.unpack(theta)
        self.problem_ = problem
        self.H_ = problem.hidden_layer(V, mu)  # (n_rows, hidden): codes of the training rows
        self.W_, self.b_ = W, b

    def _score(self, ratings) -> float:
        return rmse(ratings.ratings, self.predict(ratings.users, ratings.items), self.rating_scale_)

    def predict(self, users, items) -> np.ndarray:
        torch = _torch()
        users, items = check_indices(self.shape_, users, items)
        rows, cols = self._orient(users, items)
        out = np.empty(len(users))
        for start in range(0, len(users), 100_000):
            r = torch.tensor(rows[start:start + 100_000])
            c = torch.tensor(cols[start:start + 100_000])
            raw = (self.H_[r] * self.W_.T[c]).sum(1) + self.b_[c]
            out[start:start + len(r)] = self.problem_.output(raw).double().numpy()
        seen = self.seen_users_[users] & self.seen_items_[items]
        out[~seen] = self.default_rating
        return out

    def report(self) -> dict:
        return dict(self.report_)


@register("i-autorec")
class IAutoRec(_AutoRec):
    """I-AutoRec: reconstructs each item's rating vector over users (Sedhain et al. 2015)."""

    item_based = True
    LAMBDAS = {"ml-100k": 200.0, "ml-1m": 400.0, "*": 200.0}


@register("u-autorec")
class UAutoRec(_AutoRec):
    """U-AutoRec: reconstructs each user's rating vector over items (Sedhain et al. 2015)."""

    item_based = False
    LAMBDAS = {"ml-100k": 100.0, "ml-1m": 400.0, "*": 100.0}


# --------------------------------------------------------------------------------------------
# The deep autoencoder of Kuchaiev and Ginsburg (2017)
# --------------------------------------------------------------------------------------------

def _build_deep_ae(n_in: int, layers: tuple[int, ...], dropout: float, tied: bool,
                   last_activation: bool, generator, mean: float = 0.0):
    import torch
    from torch import nn
    from torch.nn import functional as F

    sizes = [n_in, *layers]

    def weight(rows: int, cols: int) -> nn.Parameter:
        w = torch.empty(rows, cols)
        limit = (6.0 / (rows + cols)) ** 0.5  # Xavier uniform, as in the authors' code
        w.uniform_(-limit, limit, generator=generator)
        return nn.Parameter(w)

    class DeepAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
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
            n = len(layers)
            for k in range(n):
                # tied: decoder layer k reuses the transpose of encoder layer n-1-k
                w = self.enc_w[n - 1 - k].T if tied else self.dec_w[k]
                x = F.linear(x, w, self.dec_b[k])
                if k < n - 1 or last_activation:
                    x = F.selu(x)
            return x

    return DeepAE()


@register("deep-ae")
class DeepAutoencoder(RatingModel):
    """Deep autoencoder on user vectors: SELU, code dropout, masked MSE, dense re-feeding
    (Kuchaiev and Ginsburg 2017)."""

    unseen_fallback = "a user or item with no training rating is predicted as default_rating (3)"

    def __init__(self, layers: tuple | list | str = (256, 256), dropout: float = 0.8,
                 tied: bool = False, refeed: bool = False, last_activation: bool = True,
                 lr: float = 1e-3, optimizer: str = "adam", weight_decay: float = 0.01,
                 batch_size: int = 16, max_epochs: int = 40, patience: int = 8,
                 validation_fraction: float = 0.1, refit: bool = True,
                 default_rating: float = 3.0, seed: int = 0, device: str | None = None) -> None:
        if isinstance(layers, int):
            layers = (layers,)
        if isinstance(layers, str):
            layers = tuple(int(v) for v in layers.replace("x", ",").split(",") if v)
        layers = tuple(int(v) for v in layers)
        if not layers or min(layers) < 1:
            raise InvalidParameterError(f"layers must be a non-empty list of positive sizes, got {layers}")
        if not 0.0 <= dropout < 1.0:
            raise InvalidParameterError(f"dropout must lie in [0, 1), got {dropout}")
        if optimizer not in ("adam", "momentum"):
            raise InvalidParameterError(f"optimizer must be 'adam' or 'momentum', got {optimizer!r}")
        if not 0.0 < validation_fraction < 1.0:
            raise InvalidParameterError(f"validation_fraction must lie in (0, 1), got {validation_fraction}")
        check_positive_int(batch_size=batch_size, max_epochs=max_epochs, patience=patience)
        self._keep_params(locals())
        self.layers = list(layers)

    def _matrix(self, split: Split, ratings):
        import torch

        x = torch.zeros(split.n_users, split.n_items)
        x[torch.tensor(ratings.users), torch.tensor(ratings.items)] = \
            torch.tensor(ratings.ratings)
        return x

    def _train(self, split: Split, train, validation, n_epochs: int):
        import torch

        from ..training import check_finite

        generator = torch.Generator().manual_seed(self.seed)
        module = _build_deep_ae(split.n_items, tuple(self.layers), self.dropout, self.tied,
                                self.last_activation, generator,
                                float(train.ratings.mean())).to(self.device_)
        if self.optimizer == "adam":
            opt = torch.optim.Adam(module.parameters(), lr=self.lr,
                                   weight_decay=self.weight_decay)
        else:
            opt = torch.optim.SGD(module.parameters(), lr=self.lr, momentum=0.9,
                                  weight_decay=self.weight_decay)
        X = self._matrix(split, train).to(self.device_)
        rows = torch.tensor(np.unique(train.users)).to(self.device_)  # users with ratings
        curve, best, best_state, since_best = [], float("inf"), None, 0
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
            if validation is not None:
                self._set(module, X, train)
                point["validation_rmse"] = rmse(
                    validation.ratings, self.predict(validation.users, validation.items),
                    split.rating_scale)
                if point["validation_rmse"] < best - 1e-5:
                    best, since_best = point["validation_rmse"], 0
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    since_best += 1
            curve.append(point)
            if validation is not None and since_best >= self.patience:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        self._set(module, X, train)
        return curve

    def _set(self, module, X, train) -> None:
        import torch

        module.eval()
        with torch.no_grad():
            self.output_ = torch.cat([module(X[s:s + 1024]) for s in range(0, len(X), 1024)])
        self.seen_users_ = np.zeros(self.shape_[0], dtype=bool)
        self.seen_items_ = np.zeros(self.shape_[1], dtype=bool)
        self.seen_users_[train.users] = True
        self.seen_items_[train.items] = True

    def fit(self, split: Split) -> DeepAutoencoder:
        from ..training import torch_threads

        with torch_threads(1):  # on a shared 2-core machine one thread per process is faster
            return self._fit(split)

    def _fit(self, split: Split) -> DeepAutoencoder:
        from ..training import pick_device

        self.device_ = pick_device(self.device)
        self.shape_ = (split.n_users, split.n_items)
        carved = split.with_validation(self.validation_fraction, seed=self.seed)
        self.curve_ = self._train(split, carved.train, carved.test, self.max_epochs)
        scored = [p["validation_rmse"] for p in self.curve_]
        self.best_epoch_ = int(np.argmin(scored)) + 1
        self.validation_rmse_ = float(min(scored))
        if self.refit:
            self._train(split, split.train, None, self.best_epoch_)
        return self

    def predict(self, users, items) -> np.ndarray:
        import torch

        users, items = check_indices(self.shape_, users, items)
        out = self.output_[torch.tensor(users).to(self.device_),
                           torch.tensor(items).to(self.device_)].double().cpu().numpy()
        seen = self.seen_users_[users] & self.seen_items_[items]
        out[~seen] = self.default_rating
        return out

    def report(self) -> dict:
        return {"best_epoch": self.best_epoch_, "validation_rmse": self.validation_rmse_,
                "curve": self.curve_, "device": str(self.device_)}
