"""The kernelised autoencoder shared by Sparse FC and GLocal-K, and its full-batch optimisers.

A *kernelised layer* (Muller et al., ICML 2018) multiplies a dense weight matrix ``W`` elementwise
by a finite-support kernel between a learned vector ``u_i`` for every input unit and ``v_j`` for
every output unit::

    k_ij = max(0, 1 - ||u_i - v_j||^2),      W_eff = W * k,      y = act(x @ W_eff + b)

When ``u_i`` and ``v_j`` drift further apart than 1 the connection is exactly zero: the layer
learns its own sparsity pattern. The loss is half the sum of squared errors over the observed
ratings plus, per layer, ``lambda_2/2 * sum(W^2) + lambda_s/2 * sum(k^2)`` (sums, not means).

The parameters of a network live in ONE flat tensor (views give W, u, v, b per layer), so both
optimiser paths work on the same vector without copies:

* ``optimizer="scipy"``: the faithful path, scipy's L-BFGS-B (memory 10) on a float64 copy of
  the vector, restarted every epoch, as the authors' TF1 ``ScipyOptimizerInterface`` did;
* ``optimizer="torch"``: the fast path, :func:`lbfgs_torch`, an L-BFGS with the same memory,
  the same first step as L-BFGS-B (``1/||g||``) and a strong-Wolfe line search, entirely in
  torch (float32 by default), restarted every epoch;
* ``fused=False`` switches off the computational shortcuts of the fast path (sparse first
  layer on R, kernels shared by GLocal-K's two passes, pooled values without the full output,
  convolution as one product with R's precomputed shifts) for timing comparisons; the function
  minimised is the same;
* ``optimizer="adam"``: a few Adam steps per epoch, kept only to show why earlier
  reconstructions that used it fell short.

:class:`KernelModelBase` holds what both models share: hyperparameter checks, per-dataset
defaults, the two protocols (``paper`` and ``validated``), the per-epoch test/validation curves,
the unseen-user/item fallback and prediction.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Callable

import numpy as np

from ..errors import RecsysError
from ..metrics import rmse as metric_rmse
from ..splits import Split
from .base import RatingModel, check_indices, check_positive_int

log = logging.getLogger(__name__)

OPTIMIZERS = ("torch", "scipy", "adam")
PROTOCOLS = ("paper", "validated")
LOSSES = ("half_sse", "norm")
FALLBACKS = ("mean", "network")


def finite_support_kernel(u, v):
    """``k_ij = max(0, 1 - ||u_i - v_j||^2)`` for u (n_in, d) and v (n_out, d): (n_in, n_out).

    The squared distance is expanded as |u|^2 + |v|^2 - 2 u.v (one matrix product, no sqrt), so
    the gradient is defined at zero distance and no (n_in, n_out, d) tensor is built.
    """
    import torch

    d2 = torch.addmm((u * u).sum(1, keepdim=True) + (v * v).sum(1), u, v.T, alpha=-2.0)
    return torch.relu(1.0 - d2)


class KernelAutoencoder:
    """``n_in -> n_hidden (sigmoid) x n_layers -> n_in (identity)``, every layer kernelised.

    Parameters are held outside, in a flat tensor of length :attr:`size`; :meth:`forward` takes
    that tensor, so the optimisers can work on a plain vector.
    """

    def __init__(self, n_in: int, n_hidden: int = 500, n_layers: int = 2, n_dim: int = 5):
        self.n_in, self.n_hidden, self.n_layers, self.n_dim = n_in, n_hidden, n_layers, n_dim
        sizes = [n_in] + [n_hidden] * n_layers + [n_in]
        self.layers = []  # per layer: (n_in, n_out, {name: (offset, shape)})
        offset = 0
        for a, b in zip(sizes[:-1], sizes[1:]):
            slots = {}
            for name, shape in (("W", (a, b)), ("u", (a, n_dim)), ("v", (b, n_dim)), ("b", (b,))):
                slots[name] = (offset, shape)
                offset += int(np.prod(shape))
            self.layers.append((a, b, slots))
        self.size = offset

    def init(self, generator, dtype, device):
        """Initial parameters as in the TF1 code: W glorot-uniform, b uniform(+-sqrt(3/n_out)),
        u and v truncated normal with standard deviation 1e-3 (so every kernel starts near 1)."""
        import torch

        flat = torch.empty(self.size, dtype=dtype, device=device)
        for a, b, slots in self.layers:
            for name, (offset, shape) in slots.items():
                chunk = flat[offset:offset + int(np.prod(shape))]
                if name == "W":
                    limit = math.sqrt(6.0 / (a + b))
                    chunk.uniform_(-limit, limit, generator=generator)
                elif name == "b":
                    limit = math.sqrt(3.0 / b)
                    chunk.uniform_(-limit, limit, generator=generator)
                else:
                    torch.nn.init.trunc_normal_(chunk, 0.0, 1e-3, -2e-3, 2e-3, generator=generator)
        return flat

    def views(self, flat) -> list[dict]:
        out = []
        for _, _, slots in self.layers:
            out.append({name: flat[o:o + int(np.prod(s))].view(*s) for name, (o, s) in slots.items()})
        return out

    def kernels(self, flat) -> list:
        """The kernel matrix of every layer at ``flat`` (no gradient needed by the caller)."""
        return [finite_support_kernel(p["u"], p["v"]) for p in self.views(flat)]

    def weights(self, flat, lambda_2: float, lambda_s: float, detach_reg: bool = False):
        """``([(W_eff, b) per layer], regulariser)`` at ``flat``: each kernel computed once.

        The regulariser is ``sum over layers of lambda_2/2 sum(W^2) + lambda_s/2 sum(k^2)``;
        ``detach_reg=True`` cuts its gradient (a bug of an earlier reconstruction, kept for the
        comparison in the book).
        """
        reg = flat.new_zeros(())
        layers = []
        for p in self.views(flat):
            k = finite_support_kernel(p["u"], p["v"])
            W = p["W"]
            if lambda_2 or lambda_s:
                term = 0.5 * lambda_2 * (W * W).sum() + 0.5 * lambda_s * (k * k).sum()
                reg = reg + (term.detach() if detach_reg else term)
            layers.append((W * k, p["b"]))
        return layers, reg

    @staticmethod
    def apply(layers, x, row_means: bool = False):
        """The network's output for input rows ``x`` (n_rows, n_in), given :meth:`weights`.

        With ``row_means=True`` only the mean of each output row is returned, computed as
        ``h @ mean_j(W_eff[:, j]) + mean(b)`` (exact, since the output layer is linear) without
        forming the (n_rows, n_in) output: what GLocal-K's average pooling needs.
        """
        import torch

        y = x
        last = len(layers) - 1
        for index, (weight, bias) in enumerate(layers):
            if index == 0 and y.layout == torch.sparse_csr:  # the raw, mostly empty matrix R
                y = torch.sigmoid(y @ weight + bias)  # never the last layer (n_layers >= 1)
                continue
            if index == last:
                if row_means:
                    return y @ weight.mean(1) + bias.mean()
                return torch.addmm(bias, y, weight)
            y = torch.sigmoid(torch.addmm(bias, y, weight))
        return y

    def forward(self, flat, x, lambda_2: float, lambda_s: float, detach_reg: bool = False,
                row_means: bool = False):
        """``(output, regulariser)`` for input rows ``x`` (n_rows, n_in)."""
        layers, reg = self.weights(flat, lambda_2, lambda_s, detach_reg)
        return self.apply(layers, x, row_means), reg


def shifted_stack(x, size: int):
    """(size*size, rows*cols): the zero-padded shifts of ``x`` that a same-padded
    ``size x size`` cross-correlation weights, so ``conv_same(x, K) == (K.ravel() @ stack)``
    reshaped. Precomputed once for the fixed training matrix, it turns GLocal-K's convolution
    into one matrix-vector product whose kernel gradient is another."""
    import torch
    import torch.nn.functional as F

    pad = size // 2
    rows, cols = x.shape
    padded = F.pad(x[None, None], (pad, pad, pad, pad))[0, 0]
    return torch.stack([padded[a:a + rows, b:b + cols].reshape(-1)
                        for a in range(size) for b in range(size)])


def conv_same(x, kernel):
    """Single-channel 2-D cross-correlation with zero 'same' padding (odd square ``kernel``).

    Written as a sum of shifted copies of ``x`` weighted by the kernel's entries: for a 3x3
    kernel on a large sparse-looking matrix this is several times faster on CPU than
    ``conv2d``'s single-channel path, and its gradients (to ``x`` and to the kernel) are exact.
    """
    import torch.nn.functional as F

    size = kernel.shape[0]
    pad = size // 2
    rows, cols = x.shape
    padded = F.pad(x[None, None], (pad, pad, pad, pad))[0, 0]
    out = None
    for a in range(size):
        for b in range(size):
            term = kernel[a, b] * padded[a:a + rows, b:b + cols]
            out = term if out is None else out + term
    return out


def data_loss(pred, target, mask, form: str = "half_sse"):
    """Half the sum of squared errors over observed entries (``norm``: its unsquared root)."""
    diff = (target - pred) * mask
    if form == "half_sse":
        return 0.5 * (diff * diff).sum()
    if form == "norm":  # the unsquared loss of an earlier reconstruction: ||M*(R - R_hat)||_2
        return diff.norm()
    raise ValueError(f"unknown loss {form!r}; use one of {LOSSES}")


# ---------------------------------------------------------------------------------------------
# Optimisers. Each runs ONE epoch (a fresh optimiser, so its history resets) of `max_iter`
# iterations on the flat vector `x` and returns the new vector and the number of evaluations.
# `fun(x) -> (loss tensor with grad)`; the drivers take care of gradients.
# ---------------------------------------------------------------------------------------------

def _value_and_grad(fun, x):
    import torch

    x = x.detach().requires_grad_(True)
    loss = fun(x)
    (grad,) = torch.autograd.grad(loss, x)
    return float(loss.detach()), grad


def lbfgs_torch(fun, x, max_iter: int, history: int = 10, c1: float = 1e-3, c2: float = 0.9,
                max_ls: int = 25, check: Callable[[float, str], float] | None = None):
    """One restart of L-BFGS (memory ``history``) with a strong-Wolfe line search, in torch.

    Mirrors L-BFGS-B without bounds: the first step has length 1 (``t = 1/||g||_2`` along
    ``-g``), later steps start at ``t = 1`` along the two-loop direction with the usual
    ``s.y / y.y`` initial Hessian scaling; pairs with ``s.y <= eps * y.y`` are skipped.
    Returns ``(x, f, n_evals)``.
    """
    from torch.optim.lbfgs import _strong_wolfe

    evals = 0

    def obj(x0, t, d):
        nonlocal evals
        evals += 1
        f, g = _value_and_grad(fun, x0 + t * d)
        if check is not None:
            check(f, f"function evaluation {evals} of an L-BFGS epoch")
        return f, g

    f, g = _value_and_grad(fun, x)
    evals += 1
    if check is not None:
        check(f, "the first evaluation of an L-BFGS epoch")
    s_list, y_list, rho_list = [], [], []
    for _ in range(max_iter):
        if not s_list:
            d = -g
            t = 1.0 / max(float(g.norm()), 1e-30)
        else:
            q = -g
            alphas = []
            for s, y, rho in zip(reversed(s_list), reversed(y_list), reversed(rho_list)):
                a = rho * float(s.dot(q))
                alphas.append(a)
                q.add_(y, alpha=-a)
            y_last = y_list[-1]
            q.mul_(float(s_list[-1].dot(y_last)) / float(y_last.dot(y_last)))
            for (s, y, rho), a in zip(zip(s_list, y_list, rho_list), reversed(alphas)):
                b = rho * float(y.dot(q))
                q.add_(s, alpha=a - b)
            d = q
            t = 1.0
        gtd = float(g.dot(d))
        if not gtd < 0:  # not a descent direction (numerically): restart from steepest descent
            if s_list:
                s_list, y_list, rho_list = [], [], []
                continue
            break
        f_new, g_new, t, _ = _strong_wolfe(obj, x, t, d, f, g, gtd, c1=c1, c2=c2,
                                           tolerance_change=1e-12, max_ls=max_ls)
        step = d.mul(t)
        y = g_new - g
        ys = float(y.dot(step))
        if ys > 1e-10 * float(y.dot(y)):
            if len(s_list) == history:
                s_list.pop(0), y_list.pop(0), rho_list.pop(0)
            s_list.append(step), y_list.append(y), rho_list.append(1.0 / ys)
        x = x + step
        f_old, f, g = f, float(f_new), g_new
        if abs(f_old - f) <= 2.2e-9 * max(abs(f_old), abs(f), 1.0):  # scipy's factr=1e7 rule
            break
    return x.detach(), f, evals


def lbfgs_scipy(fun, x, max_iter: int, history: int = 10,
                check: Callable[[float, str], float] | None = None):
    """One restart of scipy's L-BFGS-B (``maxiter``, ``maxcor=history``), the faithful path.

    The torch computation runs in ``x``'s dtype; scipy keeps its own float64 vector.
    """
    import torch
    from scipy.optimize import minimize

    evals = 0

    def f_and_g(z):
        nonlocal evals
        evals += 1
        f, g = _value_and_grad(fun, torch.from_numpy(z).to(x.dtype))
        if check is not None:
            check(f, f"scipy L-BFGS-B evaluation {evals}")
        return f, g.double().numpy()

    result = minimize(f_and_g, x.detach().double().numpy(), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "maxcor": history})
    return torch.from_numpy(result.x).to(x.dtype), float(result.fun), evals


def adam_steps(fun, x, n_steps: int, lr: float = 1e-3, state: dict | None = None,
               check: Callable[[float, str], float] | None = None):
    """``n_steps`` Adam steps on the flat vector (the optimiser's moments live in ``state``)."""
    import torch

    x = x.detach().clone().requires_grad_(True)
    state = {} if state is None else state
    if "opt" not in state:
        state["opt"] = torch.optim.Adam([x], lr=lr)
        state["param"] = x
    else:  # keep the moments: copy the new values into the optimiser's own tensor
        with torch.no_grad():
            state["param"].copy_(x)
        x = state["param"]
    opt = state["opt"]
    f = float("nan")
    for step in range(n_steps):
        opt.zero_grad()
        loss = fun(x)
        f = float(loss.detach())
        if check is not None:
            check(f, f"Adam step {step}")
        loss.backward()
        opt.step()
    return x.detach().clone(), f, n_steps


def run_epoch(optimizer: str, fun, x, iterations: int, history: int, adam_lr: float,
              adam_state: dict, check):
    if optimizer == "torch":
        return lbfgs_torch(fun, x, iterations, history=history, check=check)
    if optimizer == "scipy":
        return lbfgs_scipy(fun, x, iterations, history=history, check=check)
    if optimizer == "adam":
        return adam_steps(fun, x, iterations, lr=adam_lr, state=adam_state, check=check)
    raise ValueError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")


# ---------------------------------------------------------------------------------------------
# What Sparse FC and GLocal-K share as RatingModels.
# ---------------------------------------------------------------------------------------------

class KernelModelBase(RatingModel):
    """Shared machinery; subclasses define DEFAULTS, ``_train`` and ``_predict_matrix``."""

    unseen_fallback = ("fallback='network' (default, as in the authors' code): an item with no "
                       "training rating (an empty input row) gets the network's output, which "
                       "the trained output biases turn into a per-user default; a user with no "
                       "training rating gets the mean training rating, since that user's output "
                       "unit never sees an error and its bias stays at its random start. "
                       "fallback='mean': the mean training rating for any pair whose user or "
                       "item is unseen")

    #: per-dataset defaults for hyperparameters left as None; key "*" for other datasets.
    DEFAULTS: dict[str, dict] = {}

    def _store_params(self, values: dict) -> None:
        """Keep every constructor argument (``locals()`` of a subclass ``__init__``) under its
        own name, as :meth:`RatingModel.get_params` expects, then check the shared ones."""
        self._keep_params(values)
        self.detach_reg = check_bool("detach_reg", self.detach_reg)
        self.fused = check_bool("fused", self.fused)
        self._check_common()

    def _check_common(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not 0.0 < self.train_ratio <= 1.0:
            raise ValueError(f"train_ratio must lie in (0, 1], got {self.train_ratio}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError("validation_fraction must lie in (0, 1), got "
                             f"{self.validation_fraction}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, got {self.fallback!r}")
        check_positive_int(**{name: getattr(self, name)
                              for name in ("n_hidden", "n_layers", "n_dim", "history")})

    def _resolve(self, dataset: str) -> dict:
        """Hyperparameters with None replaced by the dataset's defaults (checked)."""
        defaults = self.DEFAULTS.get(dataset, self.DEFAULTS["*"])
        resolved = {}
        for name, default in defaults.items():
            value = getattr(self, name)
            resolved[name] = default if value is None else value
        for name, value in resolved.items():
            if name in ("lambda_2", "lambda_s", "dot_scale"):
                if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                    raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
            elif not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        return resolved

    # --- fitting --------------------------------------------------------------------------

    def fit(self, split: Split):
        import torch

        from ..training import pick_device

        self._check_common()
        self.hp_ = self._resolve(split.dataset)
        self.device_ = pick_device(self.device)
        self.torch_dtype_ = torch.float64 if self.dtype == "float64" else torch.float32
        self.generator_ = torch.Generator().manual_seed(self.seed)
        self.shape_ = (split.n_users, split.n_items)

        data = split.subsample_train(self.train_ratio, seed=self.seed) \
            if self.train_ratio < 1.0 else split
        if self.protocol == "validated":
            fit_split = data.with_validation(self.validation_fraction, seed=self.seed)
            monitor = {"validation": fit_split.test, "test": split.test}
        else:
            fit_split = data
            monitor = {"test": split.test}
        users_seen, items_seen = fit_split.seen_in_train()
        self.user_seen_, self.item_seen_ = users_seen, items_seen
        self.mean_ = float(np.mean(fit_split.train.ratings, dtype=np.float64))
        self.rating_scale_ = split.rating_scale

        R, M = fit_split.dense("train")
        self.R_ = torch.from_numpy(R).to(self.device_, self.torch_dtype_)
        self.M_ = torch.from_numpy(M).to(self.device_, self.torch_dtype_)
        self.monitor_ = monitor
        self.curves_ = {name: [] for name in monitor}
        self.other_curve_ = []
        self.phases_ = []
        self.evals_ = 0
        self.best_ = None  # (criterion, epoch, flat params) under the validated protocol
        start = time.perf_counter()
        self._train()
        self.train_seconds_ = time.perf_counter() - start
        if self.protocol == "validated" and self.best_ is not None:
            self.params_ = self.best_[2]
        self.pred_ = self._predict_matrix(self.params_).cpu().numpy()
        self._after_fit()
        del self.R_, self.M_
        return self

    def _after_fit(self) -> None:
        """Hook: facts to keep from the final parameters while the training matrix is loaded."""

    def _objective(self, forward):
        """The closure the optimisers minimise: data loss plus regulariser at a flat vector."""
        def fun(flat):
            pred, reg = forward(flat)
            # a copy: Adam updates its parameter tensor in place after this evaluation
            self._last_pred = (flat.detach().clone(), pred.detach())
            return data_loss(pred, self.R_, self.M_, self.loss) + reg
        return fun

    def _epoch(self, fun, flat, iterations: int, adam_state: dict):
        from ..training import check_finite

        flat, f, evals = run_epoch(self.optimizer, fun, flat, iterations, self.history,
                                   self.adam_lr, adam_state, check_finite)
        check_finite(f, f"the end of an epoch of {self.name}")
        self.evals_ += evals
        return flat, f

    def _pred_at(self, flat):
        """The prediction matrix at ``flat``: the last evaluation's when it was at ``flat``."""
        cached = getattr(self, "_last_pred", None)
        self._last_pred = None
        if cached is not None and cached[0].shape == flat.shape and torch_equal(cached[0], flat):
            return cached[1]
        return self._predict_matrix(flat)

    def _score_epoch(self, phase: str, epoch: int, pred_matrix, selectable: bool, flat) -> dict:
        """Append this epoch's RMSE on each monitored part; keep the best-validation params."""
        pred = pred_matrix.detach().cpu().numpy()
        scores = {}
        for name, part in self.monitor_.items():
            values = self._lookup(pred, part.users, part.items)
            scores[name] = metric_rmse(part.ratings, values, self.rating_scale_)
            if selectable:
                self.curves_[name].append(scores[name])
            if selectable and name == "test":  # the same curve under the other fallback
                other = self._lookup(pred, part.users, part.items, other_fallback=True)
                self.other_curve_.append(metric_rmse(part.ratings, other, self.rating_scale_))
        if selectable and self.protocol == "validated":
            if self.best_ is None or scores["validation"] < self.best_[0]:
                self.best_ = (scores["validation"], epoch, flat.detach().clone())
        log.info("%s %s epoch %d: %s (%d evaluations so far)", self.name, phase, epoch + 1,
                 {k: round(v, 5) for k, v in scores.items()}, self.evals_)
        return scores

    def _lookup(self, pred: np.ndarray, users, items, other_fallback: bool = False
                ) -> np.ndarray:
        """Entries of an (items x users) prediction matrix, with the unseen fallback."""
        users, items = check_indices(self.shape_, users, items)
        values = pred[items, users].astype(np.float64)
        fallback = self.fallback
        if other_fallback:
            fallback = "mean" if fallback == "network" else "network"
        unseen = ~self.user_seen_[users]
        if fallback == "mean":
            unseen |= ~self.item_seen_[items]
        values[unseen] = self.mean_
        return values

    def predict(self, users, items) -> np.ndarray:
        return self._lookup(self.pred_, users, items)

    # --- reporting ------------------------------------------------------------------------

    def report(self) -> dict:
        test = self.curves_.get("test", [])
        out = {"protocol": self.protocol, "optimizer": self.optimizer,
               "resolved_params": self.hp_, "function_evaluations": self.evals_,
               "train_seconds": self.train_seconds_,
               "test_curve": [round(x, 5) for x in test],
               "test_curve_other_fallback": [round(x, 5) for x in self.other_curve_]}
        if test:
            best = int(np.argmin(test))
            out.update({"rmse_best_epoch": test[best], "best_epoch": best + 1,
                        "rmse_last_epoch": test[-1]})
        if self.protocol == "validated" and self.best_ is not None:
            epoch = self.best_[1]
            out.update({"selected_epoch": epoch + 1, "rmse_validated": test[epoch],
                        "validation_curve": [round(x, 5) for x in self.curves_["validation"]]})
        return out


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


class KernelModelError(RecsysError, ValueError):
    """A kernel model was asked for something it cannot do."""
