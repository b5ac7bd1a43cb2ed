"""Sparse FC and GLocal-K: the kernelised layer, both L-BFGS paths, the fixed length and the
validation slice (validation_fraction), fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_lib.errors import InvalidParameterError, TrainingDivergedError
from recsys_lib.metrics import rmse
from recsys_lib.models import create_model
from recsys_lib.models.kernel import layers
from recsys_lib.models.kernel.layers import (KernelAutoencoder, conv_same,
                                             finite_support_kernel, shifted_stack)
from recsys_lib.models.kernel.optimizers import lbfgs_scipy, lbfgs_torch
from recsys_lib.torch_utils import to_csr
from recsys_lib.training import run

SMALL = {"n_hidden": 16}
SFC = {**SMALL, "n_epochs": 4, "n_iterations": 10, "reg": 1.0, "reg_kernel": 0.01}
GLK = {**SMALL, "n_pretrain_epochs": 2, "n_finetune_epochs": 3, "n_pretrain_iterations": 10,
       "n_finetune_iterations": 10, "reg": 1.0, "reg_kernel": 0.01, "dot_scale": 1.0}


def mean_rmse(split):
    mean = float(split.train.ratings.mean())
    return rmse(split.test.ratings, np.full(len(split.test), mean), split.rating_scale)


def test_kernel_formula_and_gradient_at_zero_distance():
    u = torch.tensor([[0.0, 0.0], [0.5, 0.0], [2.0, 0.0]], dtype=torch.float64,
                     requires_grad=True)
    v = torch.tensor([[0.0, 0.0], [0.0, 0.5]], dtype=torch.float64, requires_grad=True)
    k = finite_support_kernel(u, v)
    expected = torch.clamp(1 - ((u[:, None] - v[None]) ** 2).sum(-1), min=0)
    assert torch.allclose(k, expected)
    assert k[2].abs().max() == 0  # beyond distance 1 the connection is exactly zero
    k.sum().backward()
    assert torch.isfinite(u.grad).all() and torch.isfinite(v.grad).all()


def test_conv_same_matches_conv2d():
    x = torch.randn(9, 7, dtype=torch.float64)
    for size in (3, 5):
        kernel = torch.randn(size, size, dtype=torch.float64)
        ref = torch.nn.functional.conv2d(x[None, None], kernel[None, None], padding=size // 2)
        assert torch.allclose(conv_same(x, kernel), ref[0, 0])


def test_shifted_stack_and_sparse_input_match_dense():
    x = torch.randn(9, 7, dtype=torch.float64)
    kernel = torch.randn(3, 3, dtype=torch.float64)
    assert torch.allclose((kernel.reshape(1, -1) @ shifted_stack(x, 3)).view(9, 7),
                          conv_same(x, kernel))
    net = KernelAutoencoder(7, n_hidden=4)
    flat = net.init(torch.Generator().manual_seed(1), torch.float64, "cpu")
    x = x * (x > 0.5)
    grads = []
    for inp in (x, to_csr(x)):
        w = flat.clone().requires_grad_(True)
        out, reg = net.forward(w, inp, 1.0, 1.0)
        (out.square().sum() + reg).backward()
        grads.append((out.detach(), w.grad))
    assert torch.allclose(grads[0][0], grads[1][0]) and torch.allclose(grads[0][1], grads[1][1])


def test_autoencoder_starts_dense_and_pooling_is_exact():
    net = KernelAutoencoder(12, n_hidden=8)
    flat = net.init(torch.Generator().manual_seed(0), torch.float64, "cpu")
    assert all(float(k.min()) > 0.99 for k in net.kernels(flat))
    x = torch.rand(5, 12, dtype=torch.float64)
    out, reg = net.forward(flat, x, 1.0, 1.0)
    pooled, _ = net.forward(flat, x, 1.0, 1.0, row_means=True)
    assert out.shape == (5, 12) and float(reg) > 0
    assert torch.allclose(out.mean(1), pooled)


def test_both_lbfgs_paths_minimise_a_quadratic():
    target = torch.arange(6, dtype=torch.float64)

    def fun(x):
        return ((x - target) ** 2 * torch.arange(1, 7)).sum()

    x0 = torch.zeros(6, dtype=torch.float64)
    for x, f, evals in (lbfgs_torch(fun, x0, 30), lbfgs_scipy(fun, x0, 30)):
        assert f < 1e-8 and evals >= 2
        assert torch.allclose(x, target, atol=1e-4)


@pytest.mark.parametrize("name,params", [("sparse-fc", SFC), ("glocal-k", GLK)])
def test_learns_better_than_mean_and_is_seeded(tiny_split, name, params):
    first = run(name, "tiny", tiny_split, seed=3, params=params)
    again = run(name, "tiny", tiny_split, seed=3, params=params)
    assert first["rmse"] < mean_rmse(tiny_split)
    assert first["rmse"] == again["rmse"]
    assert len(first["curve"]) == (4 if name == "sparse-fc" else 3)
    assert first["curve"][-1]["test_rmse"] == pytest.approx(first["rmse"], abs=1e-5)
    assert first["paper_best_test_rmse"] <= first["rmse"]
    assert first["selected_by"] == "fixed" and first["selected_epoch"] == len(first["curve"])


def test_glocal_k_reports_kernel_and_scipy_path_agrees(tiny_split):
    fast = run("glocal-k", "tiny", tiny_split, seed=0, params={**GLK, "dtype": "float64"})
    slow = run("glocal-k", "tiny", tiny_split, seed=0,
               params={**GLK, "dtype": "float64", "optimizer": "scipy"})
    assert np.array(fast["global_kernel"]).shape == (3, 3)
    assert slow["rmse"] < mean_rmse(tiny_split)
    assert abs(fast["rmse"] - slow["rmse"]) < 0.1


def test_validation_slice_selects_on_validation(tiny_split):
    params = {**SFC, "validation_fraction": 0.1}
    out = run("sparse-fc", "tiny", tiny_split, seed=0, params=params)
    epoch = out["selected_epoch"]
    validation = [point["validation_rmse"] for point in out["curve"]]
    assert validation[epoch - 1] == min(validation)
    assert out["selected_by"] == "validation, restore"
    assert out["validation_rmse"] == pytest.approx(validation[epoch - 1], abs=1e-5)
    assert out["rmse"] == pytest.approx(out["curve"][epoch - 1]["test_rmse"], abs=1e-5)


def test_unseen_users_and_items_get_the_train_mean(tiny_split):
    model = create_model("sparse-fc", seed=0, **SFC, fallback="mean").fit(tiny_split)
    seen_users, seen_items = tiny_split.seen_in_train()
    model.user_seen_ = seen_users.copy()
    model.user_seen_[0] = False  # pretend user 0 had no training rating
    pred = model.predict(np.array([0, 1]), np.array([0, 0]))
    assert pred[0] == pytest.approx(float(tiny_split.train.ratings.mean()))
    assert pred[1] != pytest.approx(pred[0])
    model.item_seen_ = seen_items.copy()
    model.item_seen_[5] = False  # and item 5 had none
    mean = float(tiny_split.train.ratings.mean())
    assert model.predict(np.array([1]), np.array([5]))[0] == pytest.approx(mean)
    model.fallback = "network"  # the authors' choice: the network's output for unseen items
    assert model.predict(np.array([1]), np.array([5]))[0] != pytest.approx(mean)
    assert model.predict(np.array([0]), np.array([5]))[0] == pytest.approx(mean)
    with pytest.raises(IndexError):
        model.predict(np.array([10_000]), np.array([0]))


def test_nan_loss_raises(tiny_split, monkeypatch):
    monkeypatch.setattr(layers, "finite_support_kernel",
                        lambda u, v: torch.full((u.shape[0], v.shape[0]), float("nan"),
                                                dtype=u.dtype))
    with pytest.raises(TrainingDivergedError):
        run("sparse-fc", "tiny", tiny_split, seed=0, params=SFC)


@pytest.mark.parametrize("params", [{"validation_fraction": 1.0}, {"optimizer": "sgd"},
                                    {"reg": -1.0}, {"kernel_size": 4}, {"conv_layers": 0},
                                    {"train_ratio": 0.0}, {"n_epochs": 3},
                                    {"fallback": "zero"}])
def test_bad_params_are_rejected(tiny_split, params):
    with pytest.raises(InvalidParameterError) as info:
        run("glocal-k", "tiny", tiny_split, seed=0, params={**GLK, **params})
    assert next(iter(params)) in str(info.value)


def test_adam_curve_matches_final_predictions(tiny_split):
    out = run("sparse-fc", "tiny", tiny_split, seed=0, params={**SFC, "optimizer": "adam"})
    assert out["rmse"] == pytest.approx(out["curve"][-1]["test_rmse"], abs=1e-5)


def test_failure_modes_run(tiny_split):
    for extra in ({"optimizer": "adam"}, {"loss": "norm"}, {"detach_reg": True},
                  {"train_ratio": 0.5}, {"conv_layers": 2, "kernel_size": 5},
                  {"n_pretrain_epochs": 0}):
        out = run("glocal-k", "tiny", tiny_split, seed=0, params={**GLK, **extra})
        assert np.isfinite(out["rmse"])


def test_convolution_without_stored_shifts_gives_the_same_model(tiny_split, monkeypatch):
    from recsys_lib.models.kernel.glocal_k import GlocalK

    params = {**GLK, "dtype": "float64", "n_finetune_epochs": 1}
    stored = run("glocal-k", "tiny", tiny_split, seed=0, params=params)
    monkeypatch.setattr(GlocalK, "MAX_STACK_ELEMENTS", 0)  # large matrices (ML-1M) take this path
    direct = run("glocal-k", "tiny", tiny_split, seed=0, params=params)
    assert direct["rmse"] == pytest.approx(stored["rmse"], abs=1e-6)
    plain = run("glocal-k", "tiny", tiny_split, seed=0, params={**params, "fused": False})
    assert plain["rmse"] == pytest.approx(stored["rmse"], abs=1e-6)


def test_regulariser_is_the_stated_sum_over_layers():
    net = KernelAutoencoder(6, n_hidden=4)
    flat = net.init(torch.Generator().manual_seed(0), torch.float64, "cpu")
    layers_, penalty = net.weights(flat, 3.0, 0.5)
    expected = sum(0.5 * 3.0 * (p["W"] ** 2).sum()
                   + 0.5 * 0.5 * (finite_support_kernel(p["u"], p["v"]) ** 2).sum()
                   for p in net.views(flat))
    assert float(penalty) == pytest.approx(float(expected), rel=1e-12)
    assert float(net.weights(flat, 0.0, 0.0)[1]) == 0.0
    assert len(layers_) == 3
