"""Full-batch optimisers of the kernel models. Each runs ONE epoch (a fresh optimiser, so
its history resets) of ``max_iter`` iterations on a flat parameter vector ``x`` and returns
``(x, final loss, number of evaluations)``; ``fun(x)`` returns the loss as a tensor.

* ``"torch"``: the fast path, :func:`lbfgs_torch`, an L-BFGS with the memory of L-BFGS-B, the
  same first step (``1/||g||``) and a strong-Wolfe line search, entirely in torch;
* ``"scipy"``: the faithful path, scipy's L-BFGS-B on a float64 copy of the vector, as the
  authors' TF1 ``ScipyOptimizerInterface`` did;
* ``"adam"``: a few Adam steps per epoch, kept only to show why earlier reconstructions that
  used it fell short.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.optim.lbfgs import _strong_wolfe

from ...torch_utils import minimize_lbfgs_b

OPTIMIZERS = ("torch", "scipy", "adam")


def _value_and_grad(fun, x):
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


def lbfgs_scipy(fun, x, max_iter: int, history: int = 10):
    """One restart of scipy's L-BFGS-B (``maxiter``, ``maxcor=history``), the faithful path.

    The torch computation runs in ``x``'s dtype; scipy keeps its own float64 vector.
    """
    def f_and_g(z):
        f, g = _value_and_grad(fun, torch.from_numpy(z).to(x.dtype))
        return f, g.double().numpy()

    z, facts = minimize_lbfgs_b(f_and_g, x.detach().double().numpy(), max_iter, history,
                                where="scipy L-BFGS-B")
    return torch.from_numpy(z).to(x.dtype), facts["final_loss"], facts["evaluations"]


def adam_steps(fun, x, n_steps: int, lr: float = 1e-3, state: dict | None = None,
               check: Callable[[float, str], float] | None = None):
    """``n_steps`` Adam steps on the flat vector (the optimiser's moments live in ``state``)."""
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


def run_epoch(optimizer: str, fun, x, iterations: int, history: int, lr: float,
              adam_state: dict, check):
    """One epoch of ``optimizer`` (one of :data:`OPTIMIZERS`)."""
    if optimizer == "torch":
        return lbfgs_torch(fun, x, iterations, history=history, check=check)
    if optimizer == "scipy":
        return lbfgs_scipy(fun, x, iterations, history=history)
    if optimizer == "adam":
        return adam_steps(fun, x, iterations, lr=lr, state=adam_state, check=check)
    raise AssertionError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")
