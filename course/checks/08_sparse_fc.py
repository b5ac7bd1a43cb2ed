# Checks of chapter 8's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch

rng = np.random.default_rng(208)  # fixed: a regrade draws the same cases

# %% common hidden
def reference_kernel(u, v):
    from recsys_lib.models.kernel.layers import finite_support_kernel
    return finite_support_kernel(torch.tensor(u), torch.tensor(v)).numpy()

# %% sfc-ex-kernel public
def test_a_small_example(kernel_matrix):
    u = np.array([[0.0, 0.0], [1.0, 0.0]])
    v = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 2.0]])
    # squared distances [[0, 0.25, 4], [1, 0.25, 5]]: 1 - d^2, never below 0
    got = np.asarray(kernel_matrix(u, v))
    assert got.shape == (2, 3), "(n_in, n_out)"
    assert np.allclose(got, [[1.0, 0.75, 0.0], [0.0, 0.75, 0.0]])
    u, v = rng.normal(0, 0.4, (13, 5)), rng.normal(0, 0.4, (7, 5))
    squared = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)     # a loop-free formula
    assert np.allclose(kernel_matrix(u, v), np.maximum(0, 1 - squared))

# %% sfc-ex-kernel hidden
def test_random_embeddings_agree_with_recsys_lib(kernel_matrix):
    u, v = rng.normal(0, 0.4, (13, 5)), rng.normal(0, 0.4, (7, 5))
    got = np.asarray(kernel_matrix(u, v))
    assert got.shape == (13, 7)
    assert np.allclose(got, reference_kernel(u, v))

# %% sfc-ex-kernel hidden
def test_equal_far_and_other_dimensions(kernel_matrix):
    u = rng.normal(0, 1, (9, 3))
    got = np.asarray(kernel_matrix(u, u))
    assert np.allclose(np.diag(got), 1.0)
    assert np.allclose(kernel_matrix(u, u + 5.0), 0.0)
    u, v = rng.normal(0, 0.3, (20, 2)), rng.normal(0, 0.3, (30, 2))
    assert np.allclose(kernel_matrix(u, v), reference_kernel(u, v))

# %% sfc-ex-layer public
def test_a_small_example(kernel_layer):
    u = np.array([[0.0, 0.0], [1.0, 0.0]])
    v = np.array([[0.0, 0.0], [0.5, 0.0]])     # the kernel is [[1, 0.75], [0, 0.75]]
    W = np.array([[1.0, 2.0], [3.0, 4.0]])     # W * K = [[1, 1.5], [0, 3]]
    x = np.array([[1.0, 2.0]])                  # x (W * K) = [1, 7.5]
    b = np.array([-1.0, -7.5 + np.log(3)])
    got = np.asarray(kernel_layer(x, W, u, v, b, activation=False))
    assert got.shape == (1, 2)
    assert np.allclose(got, [[0.0, np.log(3)]]), "the output layer: no sigmoid"
    got = np.asarray(kernel_layer(x, W, u, v, b))
    assert np.allclose(got, [[0.5, 0.75]]), "sigmoid(0) = 0.5, sigmoid(log 3) = 0.75"
    assert np.array_equal(W, [[1, 2], [3, 4]]), "the input must not change"

# %% sfc-ex-layer hidden
def test_random_output_layer_agrees_with_recsys_lib(kernel_layer):
    from recsys_lib.models.kernel.layers import KernelAutoencoder
    x, W, b = rng.normal(0, 1, (6, 8)), rng.normal(0, 1, (8, 4)), rng.normal(0, 1, 4)
    u, v = rng.normal(0, 0.4, (8, 3)), rng.normal(0, 0.4, (4, 3))
    weight = torch.tensor(W) * torch.tensor(reference_kernel(u, v))
    ref = KernelAutoencoder.apply([(weight, torch.tensor(b))], torch.tensor(x)).numpy()
    got = np.asarray(kernel_layer(x, W, u, v, b, activation=False))
    assert np.allclose(got, ref)

# %% sfc-ex-layer hidden
def test_hidden_layer(kernel_layer):
    from recsys_lib.models.kernel.layers import KernelAutoencoder
    x = rng.normal(0, 1, (5, 10))
    W1, b1 = rng.normal(0, 1, (10, 6)), rng.normal(0, 1, 6)
    W2, b2 = rng.normal(0, 1, (6, 10)), rng.normal(0, 1, 10)
    u1, v1 = rng.normal(0, 0.5, (10, 2)), rng.normal(0, 0.5, (6, 2))
    u2, v2 = rng.normal(0, 0.5, (6, 2)), rng.normal(0, 0.5, (10, 2))
    layers = [(torch.tensor(W1 * reference_kernel(u1, v1)), torch.tensor(b1)),
              (torch.tensor(W2 * reference_kernel(u2, v2)), torch.tensor(b2))]
    ref = KernelAutoencoder.apply(layers, torch.tensor(x)).numpy()
    hidden = kernel_layer(x, W1, u1, v1, b1)
    got = np.asarray(kernel_layer(hidden, W2, u2, v2, b2, activation=False))
    assert np.allclose(got, ref)

# %% sfc-ex-sparsity public
def test_a_small_example(nonzero_fraction):
    u = np.array([[0.0, 0.0], [1.0, 0.0]])
    v = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 2.0]])
    # the kernel is [[1, 0.75, 0], [0, 0.75, 0]]: 3 of the 6 entries are above 0 (a squared
    # distance of exactly 1 gives 0, which is not kept)
    assert np.isclose(nonzero_fraction(u, v), 0.5)
    close = rng.normal(0, 1e-3, (20, 5))
    assert np.isclose(nonzero_fraction(close, close), 1.0), "every unit close: all kept"
    assert np.isclose(nonzero_fraction(close, close + 3.0), 0.0), "far apart: none kept"

# %% sfc-ex-sparsity hidden
def test_random_embeddings_agree_with_kernel(nonzero_fraction):
    u, v = rng.normal(0, 0.5, (40, 5)), rng.normal(0, 0.5, (30, 5))
    assert np.isclose(nonzero_fraction(u, v), (reference_kernel(u, v) > 0).mean())

# %% sfc-ex-sparsity hidden
def test_extremes(nonzero_fraction):
    u = rng.normal(0, 1e-3, (20, 5))
    assert nonzero_fraction(u, u) == 1.0
    assert nonzero_fraction(u, u + 3.0) == 0.0
    u, v = rng.normal(0, 0.8, (25, 4)), rng.normal(0, 0.8, (35, 4))
    assert np.isclose(nonzero_fraction(u, v), (reference_kernel(u, v) > 0).mean())

# %% sfc-ex-kernel wrapper
def kernel_matrix(u, v):
    import torch
    from recsys_lib.models.kernel.layers import finite_support_kernel
    return finite_support_kernel(torch.as_tensor(u), torch.as_tensor(v)).numpy()

# %% sfc-ex-sparsity wrapper
def nonzero_fraction(u, v):
    import torch
    from recsys_lib.models.kernel.layers import finite_support_kernel
    return float((finite_support_kernel(torch.as_tensor(u), torch.as_tensor(v)) > 0)
                 .double().mean())
