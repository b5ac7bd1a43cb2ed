"""GLocal-K (Han, Lim, Hwang, Choi and Poon, CIKM 2021): global and local kernels.

1. Pre-training: the kernelised autoencoder of :mod:`.kernel_layers` (the *local* kernels) on
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

from . import register
from ._factorisation import to_csr
from .base import check_positive_int
from .kernel_layers import (KernelAutoencoder, KernelModelBase, conv_same,
                            shifted_stack)


@register("glocal-k")
class GlocalK(KernelModelBase):
    """GLocal-K: kernelised autoencoder pre-trained, then fine-tuned on a global-kernel convolution."""

    # MODELS.md, from the authors' code: per-dataset regularisation and schedules.
    DEFAULTS = {
        "ml-100k": {"lambda_2": 20.0, "lambda_s": 0.006, "pretrain_iterations": 5,
                    "finetune_iterations": 5, "pretrain_epochs": 30, "finetune_epochs": 60,
                    "dot_scale": 1.0},
        "ml-1m": {"lambda_2": 70.0, "lambda_s": 0.018, "pretrain_iterations": 50,
                  "finetune_iterations": 10, "pretrain_epochs": 20, "finetune_epochs": 30,
                  "dot_scale": 0.5},
        "douban": {"lambda_2": 10.0, "lambda_s": 0.022, "pretrain_iterations": 5,
                   "finetune_iterations": 5, "pretrain_epochs": 20, "finetune_epochs": 60,
                   "dot_scale": 2.0},
    }
    DEFAULTS["*"] = DEFAULTS["ml-100k"]

    def __init__(self, lambda_2: float | None = None, lambda_s: float | None = None,
                 pretrain_epochs: int | None = None, finetune_epochs: int | None = None,
                 pretrain_iterations: int | None = None, finetune_iterations: int | None = None,
                 dot_scale: float | None = None, kernel_size: int = 3, conv_layers: int = 1,
                 n_hidden: int = 500, n_layers: int = 2, n_dim: int = 5,
                 optimizer: str = "torch", history: int = 10, protocol: str = "paper",
                 validation_fraction: float = 0.1, train_ratio: float = 1.0,
                 loss: str = "half_sse", detach_reg: bool = False, adam_lr: float = 1e-3,
                 dtype: str = "float32", fallback: str = "network", fused: bool = True,
                 seed: int = 0, device: str | None = None) -> None:
        self._store_params(locals())
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd positive integer, got {kernel_size!r}")
        check_positive_int(conv_layers=conv_layers)

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
        return (pooled @ bank * self.hp_["dot_scale"]).view(size, size)

    def _split_params(self, flat):
        n = self.net_.size
        return flat[:n], flat[n:].view(-1, self.kernel_size ** 2)

    #: above this many elements the shifted copies of R are not stored (conv_same instead)
    MAX_STACK_ELEMENTS = 100_000_000

    def _conv_input(self, gk):
        import torch

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
        hp = self.hp_
        ae, _ = self._split_params(flat)
        layers, reg = self.net_.weights(ae, hp["lambda_2"], hp["lambda_s"], self.detach_reg)
        x = self._conv_input(self.global_kernel(flat, layers if self.fused else None))
        return self.net_.apply(layers, x), reg

    # --- training ---------------------------------------------------------------------------

    def _train(self) -> None:
        import torch

        hp = self.hp_
        if hp["finetune_epochs"] < 1:
            raise ValueError("glocal-k needs finetune_epochs >= 1")
        if hp["pretrain_iterations"] < 1 or hp["finetune_iterations"] < 1:
            raise ValueError("glocal-k needs pretrain_iterations and finetune_iterations >= 1")
        n_items, n_users = self.R_.shape
        self.net_ = KernelAutoencoder(n_users, self.n_hidden, self.n_layers, self.n_dim)
        ae = self.net_.init(self.generator_, self.torch_dtype_, self.device_)

        # R is mostly empty: its products with the first layer run as sparse (CSR) products.
        self.R_sparse_ = to_csr(self.R_) if self.fused else self.R_
        self.stack_ = None
        if self.fused and self.R_.numel() * self.kernel_size ** 2 <= self.MAX_STACK_ELEMENTS:
            self.stack_ = shifted_stack(self.R_, self.kernel_size)

        def pre_forward(x):
            return self.net_.forward(x, self.R_sparse_, hp["lambda_2"], hp["lambda_s"],
                                     self.detach_reg)

        self.stage_ = "pretrain"
        fun = self._objective(pre_forward)
        adam_state: dict = {}
        self.pretrain_curve_ = []
        for epoch in range(hp["pretrain_epochs"]):
            ae, _ = self._epoch(fun, ae, hp["pretrain_iterations"], adam_state)
            scores = self._score_epoch("pretrain", epoch, self._pred_at(ae), False, ae)
            self.pretrain_curve_.append(round(scores["test"], 5))

        bank = torch.empty(n_items * self.kernel_size ** 2, dtype=self.torch_dtype_,
                           device=self.device_)
        torch.nn.init.trunc_normal_(bank, 0.0, 0.1, -0.2, 0.2, generator=self.generator_)
        flat = torch.cat([ae, bank])
        self.stage_ = "finetune"
        fun = self._objective(self._finetune_forward)
        adam_state = {}
        for epoch in range(hp["finetune_epochs"]):
            flat, _ = self._epoch(fun, flat, hp["finetune_iterations"], adam_state)
            self._score_epoch("finetune", epoch, self._pred_at(flat), True, flat)
        self.params_ = flat

    def _predict_matrix(self, flat):
        import torch

        with torch.no_grad():
            if self.stage_ == "pretrain":
                pred, _ = self.net_.forward(flat, self.R_sparse_, 0.0, 0.0)
            else:
                pred, _ = self._finetune_forward(flat)
        return pred

    def _after_fit(self) -> None:
        import torch

        with torch.no_grad():
            self.global_kernel_ = self.global_kernel(self.params_).cpu().numpy()
        del self.R_sparse_, self.stack_

    def report(self) -> dict:
        out = super().report()
        out["pretrain_test_curve"] = self.pretrain_curve_
        out["global_kernel"] = [[round(float(x), 5) for x in row] for row in self.global_kernel_]
        return out
