# Checks of chapter 9's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch

rng = np.random.default_rng(209)  # fixed: a regrade draws the same cases

# %% glk-ex-pool public
def test_shape_and_formula(global_kernel):
    reconstruction = rng.normal(3, 1, (12, 20))
    bank = rng.normal(0, 1, (12, 9))
    got = np.asarray(global_kernel(reconstruction, bank, 2.0, 3))
    assert got.shape == (3, 3)
    expected = 2.0 * np.einsum("i,ik->k", reconstruction.mean(1), bank).reshape(3, 3)
    assert np.allclose(got, expected)

# %% glk-ex-pool hidden
def test_agrees_with_row_means_of_recsys_lib(global_kernel):
    # the model pools with KernelAutoencoder.apply(..., row_means=True); it must agree
    from recsys_lib.models.kernel.layers import KernelAutoencoder
    net = KernelAutoencoder(n_in=15, n_hidden=6, n_layers=1, n_dim=3)
    flat = net.init(torch.Generator().manual_seed(int(rng.integers(1000))), torch.float64,
                    "cpu")
    layers, _ = net.weights(flat, 0.0, 0.0)
    R = torch.tensor(rng.integers(0, 6, (11, 15)).astype(float))
    full = net.apply(layers, R).numpy()
    pooled = net.apply(layers, R, row_means=True).numpy()
    bank = rng.normal(0, 1, (11, 25))
    got = np.asarray(global_kernel(full, bank, 0.5, 5))
    assert np.allclose(got, (0.5 * pooled @ bank).reshape(5, 5))
    assert np.allclose(global_kernel(np.zeros((11, 15)), bank, 3.0, 5), 0.0)

# %% glk-ex-conv public
def test_small_kernels(conv_same_np):
    x = np.arange(1.0, 10.0).reshape(3, 3)
    centre = np.zeros((3, 3))
    centre[1, 1] = 1.0
    assert np.allclose(conv_same_np(x, centre), x), "a centred 1 is the identity"
    corner = np.zeros((3, 3))
    corner[0, 0] = 1.0
    # cross-correlation: out[i, j] = sum of x[i + a - 1, j + b - 1] * kernel[a, b], zero outside
    assert np.allclose(conv_same_np(x, corner), [[0, 0, 0], [0, 1, 2], [0, 4, 5]])
    big = rng.normal(0, 1, (9, 14))
    assert np.shape(conv_same_np(big, rng.normal(0, 1, (5, 5)))) == (9, 14)

# %% glk-ex-conv hidden
def test_sizes_and_orientation(conv_same_np):
    from recsys_lib.models.kernel.layers import conv_same
    for shape, size in [((6, 5), 5), ((1, 8), 3), ((12, 3), 1)]:
        x, kernel = rng.normal(0, 1, shape), rng.normal(0, 1, (size, size))
        ref = conv_same(torch.tensor(x), torch.tensor(kernel)).numpy()
        assert np.allclose(conv_same_np(x, kernel), ref), (shape, size)
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    assert np.allclose(conv_same_np(impulse, kernel)[1:4, 1:4], kernel[::-1, ::-1])

# %% glk-ex-select public
def test_small_curve(honest_and_paper):
    curve = [{"epoch": e, "validation_rmse": v, "test_rmse": t}
             for e, v, t in [(1, 1.0, 0.99), (2, 0.9, 0.95), (3, 0.95, 0.93)]]
    got = honest_and_paper(curve)
    assert got["selected_epoch"] == 2 and np.isclose(got["rmse"], 0.95)
    assert got["paper_best_test_epoch"] == 3 and np.isclose(got["paper_best_test_rmse"], 0.93)

# %% glk-ex-select hidden
def test_agrees_with_best_epoch(honest_and_paper):
    from recsys_lib.selection import BestEpoch
    for _ in range(30):
        n = int(rng.integers(1, 40))
        valid = np.round(1 + rng.normal(0, 0.02, n), 2)     # ties happen
        test = 1 + rng.normal(0, 0.02, n)
        curve = [{"epoch": e + 1, "validation_rmse": float(v), "test_rmse": float(t)}
                 for e, (v, t) in enumerate(zip(valid, test))]
        tracker = BestEpoch()
        for p in curve:
            tracker.update(p["epoch"], p["validation_rmse"])
        got = honest_and_paper(curve)
        assert got["selected_epoch"] == tracker.epoch
        assert np.isclose(got["rmse"], test[tracker.epoch - 1])
        assert got["paper_best_test_epoch"] == int(np.argmin(test)) + 1
        assert np.isclose(got["paper_best_test_rmse"], test.min())

# %% glk-ex-conv wrapper
def conv_same_np(x, kernel):
    import torch
    from recsys_lib.models.kernel.layers import conv_same
    return conv_same(torch.as_tensor(x), torch.as_tensor(kernel)).numpy()

# %% glk-ex-select wrapper
def honest_and_paper(curve):
    import numpy as np
    from recsys_lib.selection import BestEpoch
    tracker = BestEpoch()
    for p in curve:
        tracker.update(p["epoch"], p["validation_rmse"])
    test = [p["test_rmse"] for p in curve]
    best = int(np.argmin(test))
    return {"selected_epoch": tracker.epoch, "rmse": test[tracker.epoch - 1],
            "paper_best_test_epoch": curve[best]["epoch"], "paper_best_test_rmse": test[best]}
