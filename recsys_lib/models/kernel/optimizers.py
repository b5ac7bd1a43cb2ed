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
from ...torch_utils import minimize_lbfgs_b, minimize_lbfgs_torch

OPTIMIZERS = ("torch", "scipy", "adam")


def _value_and_grad(fun, x):
    x = x.detach().requires_grad_(True)
    loss = fun(x)
    (grad,) = torch.autograd.grad(loss, x)
    return float(loss.detach()), grad


def lbfgs_torch(fun, x, max_iter: int, history: int = 10,
                check: Callable[[float, str], float] | None = None):
    """One restart of :func:`recsys_lib.torch_utils.minimize_lbfgs_torch` on ``fun``, its
    gradient taken by autograd. Returns ``(x, f, n_evals)``."""
    return minimize_lbfgs_torch(lambda z: _value_and_grad(fun, z), x, max_iter, history,
                                check=check)


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
