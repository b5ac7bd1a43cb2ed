"""Sparse FC (kernelNet; Muller, Popa, Winther and Hansen, ICML 2018).

The item-based kernelised autoencoder of :mod:`.layers` trained on its own with
full-batch L-BFGS: each row of the item x user training matrix is one sample, every layer's
effective weight is ``W * k(u_i, v_j)`` with a finite-support kernel, so the network learns
which connections to keep.
"""

from __future__ import annotations

import torch

from ...params import Int
from .. import register
from .base import KERNEL_PARAMS, KernelModelBase


@register("sparse-fc")
class SparseFC(KernelModelBase):
    """Sparse FC / kernelNet: the kernelised autoencoder, full-batch L-BFGS restarted per epoch."""

    chapter = "08_sparse_fc"
    PARAMS = {**KERNEL_PARAMS, "n_epochs": Int(none=True), "n_iterations": Int(none=True)}
    # ML-1M: the kernelNet code (lambda_2 60, lambda_s 0.013, 20 runs of 50 iterations).
    # ML-100K and Douban: GLocal-K's pre-training regularisation for those datasets, trained
    # for 40 epochs of 10 iterations (checked on a validation slice, see chapter 8).
    DATASET_DEFAULTS = {
        "ml-1m": {"reg": 60.0, "reg_kernel": 0.013, "n_epochs": 20, "n_iterations": 50},
        "douban": {"reg": 10.0, "reg_kernel": 0.022, "n_epochs": 40, "n_iterations": 10},
        "ml-100k": {"reg": 20.0, "reg_kernel": 0.006, "n_epochs": 40, "n_iterations": 10},
        "*": {"reg": 20.0, "reg_kernel": 0.006, "n_epochs": 40, "n_iterations": 10},
    }

    def __init__(self, reg: float | None = None, reg_kernel: float | None = None,
                 n_epochs: int | None = None, n_iterations: int | None = None,
                 n_hidden: int = 500, n_layers: int = 2, n_dim: int = 5,
                 optimizer: str = "torch", history: int = 10,
                 validation_fraction: float = 0.0, train_ratio: float = 1.0,
                 loss: str = "half_sse", detach_reg: bool = False, lr: float = 1e-3,
                 dtype: str = "float32", fallback: str = "network", fused: bool = True,
                 seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def _train(self) -> None:
        hp = self.resolved_params_
        flat = self._start_network()

        def forward(x):
            return self.net_.forward(x, self.R_sparse_, hp["reg"], hp["reg_kernel"],
                                     self.detach_reg)

        fun = self._objective(forward)
        adam_state: dict = {}
        self.nonzero_, self.kernel_mean_ = [], []
        for epoch in range(hp["n_epochs"]):
            flat, _ = self._epoch(fun, flat, hp["n_iterations"], adam_state)
            self._record_epoch(epoch, flat)
            nonzero, mean = self._kernel_stats(flat)
            self.nonzero_.append(nonzero)
            self.kernel_mean_.append(mean)
        self.params_ = flat

    def _kernel_stats(self, flat) -> tuple[list[float], list[float]]:
        """Per layer: the fraction of nonzero effective weights (kernel > 0) and the mean kernel
        value (how much the kernel has shrunk the connections on average)."""
        with torch.no_grad():
            kernels = self.net_.kernels(flat)
            return ([round(float((k > 0).double().mean()), 5) for k in kernels],
                    [round(float(k.double().mean()), 5) for k in kernels])

    def _predict_matrix(self, flat):
        with torch.no_grad():
            pred, _ = self.net_.forward(flat, self.R_sparse_, 0.0, 0.0)
        return pred

    def _after_fit(self) -> None:
        del self.R_sparse_

    def report(self) -> dict:
        out = super().report()
        out["nonzero_fraction"] = self.nonzero_
        out["kernel_mean"] = self.kernel_mean_
        return out

