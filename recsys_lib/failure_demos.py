"""Failure demonstrations: how earlier reconstructions trained models wrongly, kept to show
in the book why they missed the published figures. Nothing here is a model.
"""

from __future__ import annotations

import torch

from .metrics import rmse
from .params import Choice
from .splits import Split
from .torch_utils import check_finite, pick_device
from .models._als import observed
from .models.svdpp import implicit_operator


def slide_style_training(split: Split, objective: str = "observed", optimizer: str = "adam",
                         lr: float = 0.01, clip: float | None = None, n_steps: int = 200,
                         n_factors: int = 20, reg: float = 0.02, every: int = 10,
                         seed: int = 0, device: str | None = None) -> dict:
    """SVD++ trained by full-batch gradient steps on the whole prediction matrix, as the
    earlier slide implementations did: a demonstration of why they diverged, not a model.

    ``objective="dense"`` scores every cell of the (n_users, n_items) prediction matrix against
    the training matrix with zeros where a rating is missing (so most targets are 0);
    ``"observed"`` scores only the training ratings. ``optimizer`` is ``"sgd"`` or ``"adam"``,
    ``clip`` an optional gradient-norm clip. Returns ``{"step", "train_loss", "test_rmse"}``,
    the test RMSE (recsys_lib.metrics, clipped) every ``every`` steps.
    """
    Choice("dense", "observed").check("objective", objective)
    Choice("sgd", "adam").check("optimizer", optimizer)
    device = pick_device(device)
    data = observed(split, device)
    target = torch.zeros(data.n_users, data.n_items, device=device)
    target[data.users, data.items] = data.ratings
    implicit_op = implicit_operator(data)
    gen = torch.Generator().manual_seed(int(seed))

    def start(rows: int) -> torch.Tensor:
        return (torch.randn(rows, n_factors, generator=gen) * 0.1).to(device).requires_grad_()

    p, q, y = start(data.n_users), start(data.n_items), start(data.n_items)
    b_user = torch.zeros(data.n_users, device=device, requires_grad=True)
    b_item = torch.zeros(data.n_items, device=device, requires_grad=True)
    params = [p, q, y, b_user, b_item]
    opt = (torch.optim.SGD(params, lr=lr) if optimizer == "sgd"
           else torch.optim.Adam(params, lr=lr))
    test_users = torch.as_tensor(split.test.users, dtype=torch.int64, device=device)
    test_items = torch.as_tensor(split.test.items, dtype=torch.int64, device=device)
    curve = {"step": [], "train_loss": [], "test_rmse": []}
    for step in range(1, n_steps + 1):
        opt.zero_grad()
        z = p + torch.sparse.mm(implicit_op, y)
        full = data.mu + b_user[:, None] + b_item[None, :] + z @ q.T
        if objective == "dense":
            error = (target - full).pow(2).mean()
        else:
            error = (target[data.users, data.items] - full[data.users, data.items]).pow(2).mean()
        loss = error + reg * sum(t.pow(2).mean() for t in params)
        check_finite(float(loss.detach()), f"slide-style step {step}")
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        if step % every == 0 or step == n_steps:
            with torch.no_grad():
                pred = full.detach()[test_users, test_items].cpu().double().numpy()
            curve["step"].append(step)
            curve["train_loss"].append(float(loss.detach()))
            curve["test_rmse"].append(rmse(split.test.ratings, pred, split.rating_scale))
    return curve
