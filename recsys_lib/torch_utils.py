"""Numerical helpers shared by the models: device and threads, the NaN check, sparse tensors,
the one Glorot initialiser, the one scipy L-BFGS-B wrapper and chunked prediction."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import minimize
from torch.optim.lbfgs import _strong_wolfe

from .errors import TrainingDivergedError

#: pairs scored per batch by :func:`predict_in_chunks` (bounded memory on any dataset)
PREDICT_CHUNK = 65536


def device_missing(device: str) -> str | None:
    """Why the torch device ``device`` ('cpu', 'cuda', 'cuda:N' or 'mps') cannot run here,
    or None when it can."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return "this machine has no CUDA GPU that torch can use"
        count = torch.cuda.device_count()
        if int(device.partition(":")[2] or 0) >= count:
            return f"this machine has {count} CUDA GPU{'s' if count != 1 else ''}"
    if device == "mps" and not torch.backends.mps.is_available():
        return "this machine has no Apple MPS device that torch can use"
    return None


def pick_device(device: str | None = None) -> torch.device:
    """``torch.device(device)``, or CUDA when available and CPU otherwise."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def torch_threads(n_threads: int):
    """Run a block with torch limited to ``n_threads`` intra-op threads, then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_finite(loss: float, where: str) -> float:
    """Raise TrainingDivergedError when a loss is NaN or infinite; ``where`` names the step."""
    if not np.isfinite(loss):
        raise TrainingDivergedError(f"the training loss became {loss} at {where}; lower the "
                                    "learning rate or raise the regularisation")
    return loss


@contextlib.contextmanager
def quiet_sparse():
    """Silence torch's notices about sparse tensors (CSR support "in beta", invariant checks).
    The book treats warnings as errors, and the sparse operations used here, products with
    dense matrices and their gradients, are tested."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        yield


def to_csr(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a sparse CSR tensor."""
    with quiet_sparse():
        return x.to_sparse_csr()


def csr(pointers, columns, values, shape, check: bool = False) -> torch.Tensor:
    """A CSR tensor from its parts (row pointers, column indices, values). CSR rather than
    COO: its products with dense matrices are several times faster on CPU."""
    with quiet_sparse():
        return torch.sparse_csr_tensor(pointers, columns, values, shape,
                                       check_invariants=check)


def csr_layout(rows: np.ndarray, cols: np.ndarray, n_rows: int):
    """``(order, pointers, columns)`` of the CSR matrix with entries at (rows, cols): the
    permutation that sorts entries row by row, the row pointers (n_rows + 1,) and the column
    index of each sorted entry, as int64 numpy arrays."""
    order = np.lexsort((cols, rows))
    pointers = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    return order, pointers.astype(np.int64), cols[order].astype(np.int64)


def glorot_limit(fan_in: int, fan_out: int) -> float:
    """Half-width of Glorot's uniform initialisation, sqrt(6 / (fan_in + fan_out))."""
    return math.sqrt(6.0 / (fan_in + fan_out))


def glorot_uniform_(tensor: torch.Tensor, fan_in: int, fan_out: int,
                    generator: torch.Generator) -> torch.Tensor:
    """Fill ``tensor`` in place from U(-l, l), l = :func:`glorot_limit`; returns it."""
    limit = glorot_limit(fan_in, fan_out)
    return tensor.uniform_(-limit, limit, generator=generator)


def minimize_lbfgs_b(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
                     max_iter: int, history: int = 10, where: str = "L-BFGS-B",
                     callback=None, **options) -> tuple[np.ndarray, dict]:
    """scipy's L-BFGS-B on ``fun(x) -> (loss, gradient)`` over a float64 vector, every loss
    checked for NaN. ``options`` go to scipy (``maxfun``, ``ftol``, ``gtol``).

    Returns ``(x, facts)`` with facts ``iterations``, ``evaluations``, ``final_loss`` and
    ``message``.
    """
    evaluations = 0

    def checked(x):
        nonlocal evaluations
        evaluations += 1
        loss, grad = fun(x)
        check_finite(loss, f"{where} evaluation {evaluations}")
        return loss, grad

    result = minimize(checked, x0, jac=True, method="L-BFGS-B", callback=callback,
                      options={"maxiter": max_iter, "maxcor": history, **options})
    return result.x, {"iterations": int(result.nit), "evaluations": evaluations,
                      "final_loss": float(result.fun), "message": str(result.message)}


def minimize_lbfgs_torch(value_and_grad: Callable[[torch.Tensor], tuple[float, torch.Tensor]],
                         x: torch.Tensor, max_iter: int, history: int = 10, c1: float = 1e-3,
                         c2: float = 0.9, max_ls: int = 25,
                         check: Callable[[float, str], float] | None = None,
                         callback: Callable[[torch.Tensor], bool] | None = None):
    """L-BFGS (memory ``history``) with a strong-Wolfe line search, entirely in torch, so it
    runs where ``x`` lives (a GPU included); ``value_and_grad(x) -> (loss, gradient)``.

    Mirrors L-BFGS-B without bounds: the first step has length 1 (``t = 1/||g||_2`` along
    ``-g``), later steps start at ``t = 1`` along the two-loop direction with the usual
    ``s.y / y.y`` initial Hessian scaling; pairs with ``s.y <= eps * y.y`` are skipped; it
    stops on scipy's relative-decrease rule or when ``callback(x)`` (called after every
    iteration) returns True. Returns ``(x, f, n_evals)``.
    """
    evals = 0

    def obj(x0, t, d):
        nonlocal evals
        evals += 1
        f, g = value_and_grad(x0 + t * d)
        if check is not None:
            check(f, f"function evaluation {evals} of an L-BFGS epoch")
        return f, g

    f, g = value_and_grad(x)
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
        if callback is not None and callback(x):
            break
    return x.detach(), f, evals


def snapshot_of(module: torch.nn.Module) -> Callable[[], dict]:
    """A function that copies ``module``'s current parameters (for ``load_state_dict``)."""
    return lambda: {k: v.detach().clone() for k, v in module.state_dict().items()}


def predict_in_chunks(compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                      users: np.ndarray, items: np.ndarray, device,
                      chunk: int = PREDICT_CHUNK) -> np.ndarray:
    """``compute(user_tensor, item_tensor)`` over index arrays of shape (n,) in batches of
    ``chunk`` pairs, without gradients; returns float64 predictions of shape (n,)."""
    out = np.empty(len(users), dtype=np.float64)
    with torch.no_grad():
        for start in range(0, len(users), chunk):
            u = torch.as_tensor(users[start:start + chunk], dtype=torch.int64, device=device)
            i = torch.as_tensor(items[start:start + chunk], dtype=torch.int64, device=device)
            out[start:start + len(u)] = compute(u, i).double().cpu().numpy()
    return out
