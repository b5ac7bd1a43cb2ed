# Checks of chapter 8's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch
from recsys_lib.models.kernel.layers import finite_support_kernel

rng = np.random.default_rng(208)  # fixed: a regrade draws the same cases


def reference_kernel(u, v):
    return finite_support_kernel(torch.tensor(u), torch.tensor(v)).numpy()

# %% sfc-ex-kernel public
def test_agrees_with_recsys_lib(kernel_matrix):
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
def test_output_layer_agrees_with_recsys_lib(kernel_layer):
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
def test_agrees_with_kernel(nonzero_fraction):
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
