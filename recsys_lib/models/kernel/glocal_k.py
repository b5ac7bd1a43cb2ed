"""GLocal-K (Han, Lim, Hwang, Choi and Poon, CIKM 2021): global and local kernels.

1. Pre-training: the kernelised autoencoder of :mod:`.layers` (the *local* kernels) on
   the item x user training matrix ``R``.
2. Global kernel: average-pool the autoencoder's reconstruction of ``R`` over users (one value
   ``a_i`` per item) and mix a trainable bank of ``n_items`` flattened ``s x s`` kernels ``K``
   with those values: ``G = dot_scale * sum_i a_i K_i`` (one ``s x s`` kernel).
3. Fine-tuning: the input becomes ``ReLU(conv(R, G))`` (same padding, repeated ``conv_layers``
   times), the target stays ``R``; autoencoder and kernel bank are trained together, and ``G``
   is rebuilt from the current autoencoder inside every loss evaluation (gradients flow
   through it), exactly as the authors' TF1 graph does.
"""

from __future__ import annotations

import torch

from ...errors import InvalidParameterError
from ...params import Int, Real
from .. import register
from .base import KERNEL_PARAMS, KernelModelBase
from .layers import conv_same, shifted_stack


@register("glocal-k")
class GlocalK(KernelModelBase):
    """GLocal-K: kernelised autoencoder pre-trained, then fine-tuned on a global-kernel convolution."""

    chapter = "09_glocal_k"
    PARAMS = {**KERNEL_PARAMS, "n_pretrain_epochs": Int(0, none=True),
              "n_finetune_epochs": Int(none=True), "n_pretrain_iterations": Int(none=True),
              "n_finetune_iterations": Int(none=True), "dot_scale": Real(none=True),
              "kernel_size": Int(), "conv_layers": Int()}
    # From the authors' code: per-dataset regularisation and schedules.
    DATASET_DEFAULTS = {
        "ml-100k": {"reg": 20.0, "reg_kernel": 0.006, "n_pretrain_iterations": 5,
                    "n_finetune_iterations": 5, "n_pretrain_epochs": 30, "n_finetune_epochs": 60,
                    "dot_scale": 1.0},
        "ml-1m": {"reg": 70.0, "reg_kernel": 0.018, "n_pretrain_iterations": 50,
                  "n_finetune_iterations": 10, "n_pretrain_epochs": 20, "n_finetune_epochs": 30,
                  "dot_scale": 0.5},
        "douban": {"reg": 10.0, "reg_kernel": 0.022, "n_pretrain_iterations": 5,
                   "n_finetune_iterations": 5, "n_pretrain_epochs": 20, "n_finetune_epochs": 60,
                   "dot_scale": 2.0},
    }
    DATASET_DEFAULTS["*"] = DATASET_DEFAULTS["ml-100k"]

    def __init__(self, reg: float | None = None, reg_kernel: float | None = None,
                 n_pretrain_epochs: int | None = None, n_finetune_epochs: int | None = None,
                 n_pretrain_iterations: int | None = None,
                 n_finetune_iterations: int | None = None,
                 dot_scale: float | None = None, kernel_size: int = 3, conv_layers: int = 1,
                 n_hidden: int = 500, n_layers: int = 2, n_dim: int = 5,
                 optimizer: str = "torch", history: int = 10,
                 validation_fraction: float = 0.0, train_ratio: float = 1.0,
                 loss: str = "half_sse", detach_reg: bool = False, lr: float = 1e-3,
                 dtype: str = "float32", fallback: str = "network", fused: bool = True,
                 seed: int = 0, device: str | None = None) -> None:
        self._init(locals())

    def _check_together(self, params: dict) -> None:
        if params["kernel_size"] % 2 == 0:
            raise InvalidParameterError("kernel_size must be an odd positive integer, got "
                                        f"{params['kernel_size']!r}")

    # --- the global kernel ------------------------------------------------------------------

    def global_kernel(self, flat, layers=None):
        """The ``kernel_size x kernel_size`` global kernel at parameters ``flat``.

        Average pooling of the autoencoder's reconstruction of R over users gives one value per
        item; those values weight the bank of item kernels.
        """
        ae, bank = self._split_params(flat)
        if layers is None:
            layers, _ = self.net_.weights(ae, 0.0, 0.0)
        if self.fused:
            pooled = self.net_.apply(layers, self.R_sparse_, row_means=True)
        else:  # the plain computation: the full reconstruction, then its mean over users
            pooled = self.net_.apply(layers, self.R_).mean(1)
        size = self.kernel_size
        return (pooled @ bank * self.resolved_params_["dot_scale"]).view(size, size)

    def _split_params(self, flat):
        n = self.net_.size
        return flat[:n], flat[n:].view(-1, self.kernel_size ** 2)

    #: above this many elements the shifted copies of R are not stored (conv_same instead)
    MAX_STACK_ELEMENTS = 100_000_000

    def _conv_input(self, gk):
        stack = getattr(self, "stack_", None)
        if stack is not None:
            x = torch.relu((gk.reshape(1, -1) @ stack).view(self.R_.shape))
        elif not self.fused:
            x = torch.relu(torch.nn.functional.conv2d(
                self.R_[None, None], gk[None, None], padding=self.kernel_size // 2)[0, 0])
        else:
            x = torch.relu(conv_same(self.R_, gk))
        for _ in range(self.conv_layers - 1):
            x = torch.relu(conv_same(x, gk))
        return x

    def _finetune_forward(self, flat):
        """Prediction and regulariser in fine-tuning: the kernels of the autoencoder are built
        once and serve both its pass over R (for the global kernel) and its pass over the
        convolved input."""
        hp = self.resolved_params_
        ae, _ = self._split_params(flat)
        layers, reg = self.net_.weights(ae, hp["reg"], hp["reg_kernel"], self.detach_reg)
        x = self._conv_input(self.global_kernel(flat, layers if self.fused else None))
        return self.net_.apply(layers, x), reg

    # --- training ---------------------------------------------------------------------------

    def _train(self) -> None:
        hp = self.resolved_params_
        ae = self._start_network()
        n_items = self.R_.shape[0]
        self.stack_ = None
        if self.fused and self.R_.numel() * self.kernel_size ** 2 <= self.MAX_STACK_ELEMENTS:
            self.stack_ = shifted_stack(self.R_, self.kernel_size)

        def pre_forward(x):
            return self.net_.forward(x, self.R_sparse_, hp["reg"], hp["reg_kernel"],
                                     self.detach_reg)

        self.stage_ = "pretrain"
        fun = self._objective(pre_forward)
        adam_state: dict = {}
        self.pretrain_curve_ = []
        for epoch in range(hp["n_pretrain_epochs"]):
            ae, _ = self._epoch(fun, ae, hp["n_pretrain_iterations"], adam_state)
            rounded, _ = self._score_epoch("pretrain", epoch, self._pred_at(ae), ae)
            self.pretrain_curve_.append(rounded)

        bank = torch.empty(n_items * self.kernel_size ** 2, dtype=self.torch_dtype_,
                           device=self.device_)
        torch.nn.init.trunc_normal_(bank, 0.0, 0.1, -0.2, 0.2, generator=self.generator_)
        flat = torch.cat([ae, bank])
        self.stage_ = "finetune"
        fun = self._objective(self._finetune_forward)
        adam_state = {}
        for epoch in range(hp["n_finetune_epochs"]):
            flat, _ = self._epoch(fun, flat, hp["n_finetune_iterations"], adam_state)
            self._record_epoch(epoch, flat)
        self.params_ = flat

    def _predict_matrix(self, flat):
        with torch.no_grad():
            if self.stage_ == "pretrain":
                pred, _ = self.net_.forward(flat, self.R_sparse_, 0.0, 0.0)
            else:
                pred, _ = self._finetune_forward(flat)
        return pred

    def _after_fit(self) -> None:
        with torch.no_grad():
            self.global_kernel_ = self.global_kernel(self.params_).cpu().numpy()
        del self.R_sparse_, self.stack_

    def report(self) -> dict:
        out = super().report()
        out["pretrain_curve"] = self.pretrain_curve_
        out["global_kernel"] = [[round(float(x), 5) for x in row] for row in self.global_kernel_]
        return out
