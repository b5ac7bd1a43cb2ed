"""The kernelised autoencoder shared by Sparse FC and GLocal-K: its layers, GLocal-K's
convolution helpers and the loss.

A *kernelised layer* (Muller et al., ICML 2018) multiplies a dense weight matrix ``W`` elementwise
by a finite-support kernel between a learned vector ``u_i`` for every input unit and ``v_j`` for
every output unit::

    k_ij = max(0, 1 - ||u_i - v_j||^2),      W_eff = W * k,      y = act(x @ W_eff + b)

When ``u_i`` and ``v_j`` drift further apart than 1 the connection is exactly zero: the layer
learns its own sparsity pattern. The loss is half the sum of squared errors over the observed
ratings plus, per layer, ``reg/2 * sum(W^2) + reg_kernel/2 * sum(k^2)`` (sums, not means).

The parameters of a network live in ONE flat tensor (views give W, u, v, b per layer), so the
optimisers of :mod:`.optimizers` work on a plain vector without copies.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ...torch_utils import glorot_uniform_

LOSSES = ("half_sse", "norm")


def finite_support_kernel(u, v):
    """``k_ij = max(0, 1 - ||u_i - v_j||^2)`` for u (n_in, d) and v (n_out, d): (n_in, n_out).

    The squared distance is expanded as |u|^2 + |v|^2 - 2 u.v (one matrix product, no sqrt), so
    the gradient is defined at zero distance and no (n_in, n_out, d) tensor is built.
    """
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
        flat = torch.empty(self.size, dtype=dtype, device=device)
        for a, b, slots in self.layers:
            for name, (offset, shape) in slots.items():
                chunk = flat[offset:offset + int(np.prod(shape))]
                if name == "W":
                    glorot_uniform_(chunk, a, b, generator)
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

    def weights(self, flat, reg: float, reg_kernel: float, detach_reg: bool = False):
        """``([(W_eff, b) per layer], regulariser)`` at ``flat``: each kernel computed once.

        The regulariser is ``sum over layers of reg/2 sum(W^2) + reg_kernel/2 sum(k^2)``;
        ``detach_reg=True`` cuts its gradient (a bug of an earlier reconstruction, kept for the
        comparison in the book).
        """
        penalty = flat.new_zeros(())
        layers = []
        for p in self.views(flat):
            k = finite_support_kernel(p["u"], p["v"])
            W = p["W"]
            if reg or reg_kernel:
                term = 0.5 * reg * (W * W).sum() + 0.5 * reg_kernel * (k * k).sum()
                penalty = penalty + (term.detach() if detach_reg else term)
            layers.append((W * k, p["b"]))
        return layers, penalty

    @staticmethod
    def apply(layers, x, row_means: bool = False):
        """The network's output for input rows ``x`` (n_rows, n_in), given :meth:`weights`.

        With ``row_means=True`` only the mean of each output row is returned, computed as
        ``h @ mean_j(W_eff[:, j]) + mean(b)`` (exact, since the output layer is linear) without
        forming the (n_rows, n_in) output: what GLocal-K's average pooling needs.
        """
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

    def forward(self, flat, x, reg: float, reg_kernel: float, detach_reg: bool = False,
                row_means: bool = False):
        """``(output, regulariser)`` for input rows ``x`` (n_rows, n_in)."""
        layers, penalty = self.weights(flat, reg, reg_kernel, detach_reg)
        return self.apply(layers, x, row_means), penalty


def shifted_stack(x, size: int):
    """(size*size, rows*cols): the zero-padded shifts of ``x`` that a same-padded
    ``size x size`` cross-correlation weights, so ``conv_same(x, K) == (K.ravel() @ stack)``
    reshaped. Precomputed once for the fixed training matrix, it turns GLocal-K's convolution
    into one matrix-vector product whose kernel gradient is another."""
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
