"""What Sparse FC and GLocal-K share as rating models: parameters, the two protocols, the
per-epoch curves, the unseen-user/item fallback and prediction.

Protocols, set by ``validation_fraction`` as for every model: 0 (the default) is the papers'
protocol, a fixed length: training for the published number of epochs returns the last
epoch's model (the test curve is reported beside it, and its minimum is reported as the
*paper-protocol* figure ``paper_best_test_rmse``); a fraction above 0 carves that share of the
training ratings as a validation slice and returns the parameters of the epoch with the
lowest validation RMSE (:class:`recsys_lib.selection.BestEpoch`, no refit). Per-dataset
defaults: :attr:`~recsys_lib.models.base.RatingModel.DATASET_DEFAULTS`.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from ...metrics import rmse as metric_rmse
from ...params import TORCH, Bool, Choice, Fraction, Int, Positive, Real
from ...selection import BY_VALIDATION_RESTORE, FIXED, BestEpoch
from ...splits import Split
from ...torch_utils import check_finite, pick_device, to_csr
from ..base import RatingModel, check_indices
from .layers import LOSSES, KernelAutoencoder, data_loss
from .optimizers import OPTIMIZERS, run_epoch

log = logging.getLogger(__name__)

FALLBACKS = ("mean", "network")

#: parameters of both kernel models (the per-dataset ones are None by default)
KERNEL_PARAMS = {
    **TORCH,
    "reg": Real(none=True), "reg_kernel": Real(none=True),
    "n_hidden": Int(), "n_layers": Int(), "n_dim": Int(),
    "optimizer": Choice(*OPTIMIZERS), "history": Int(),
    "validation_fraction": Fraction(low_open=False), "train_ratio": Fraction(high_open=False),
    "loss": Choice(*LOSSES), "detach_reg": Bool(), "lr": Positive(),
    "dtype": Choice("float32", "float64"), "fallback": Choice(*FALLBACKS), "fused": Bool(),
}


class KernelModelBase(RatingModel):
    """Shared machinery; subclasses define DATASET_DEFAULTS, ``_train`` and
    ``_predict_matrix``."""

    unseen_fallback = ("fallback='network' (default, as in the authors' code): an item with no "
                       "training rating (an empty input row) gets the network's output, which "
                       "the trained output biases turn into a per-user default; a user with no "
                       "training rating gets the mean training rating, since that user's output "
                       "unit never sees an error and its bias stays at its random start. "
                       "fallback='mean': the mean training rating for any pair whose user or "
                       "item is unseen")

    # --- fitting --------------------------------------------------------------------------

    def fit(self, split: Split):
        self.resolved_params_ = self.resolve_params(split.dataset)
        self.device_ = pick_device(self.device)
        self.torch_dtype_ = torch.float64 if self.dtype == "float64" else torch.float32
        self.generator_ = torch.Generator().manual_seed(self.seed)
        self.shape_ = (split.n_users, split.n_items)

        data = split.subsample_train(self.train_ratio, seed=self.seed) \
            if self.train_ratio < 1.0 else split
        if self.validation_fraction > 0:
            fit_split = data.with_validation(self.validation_fraction, seed=self.seed)
            monitor = {"validation": fit_split.test, "test": split.test}
        else:
            fit_split = data
            monitor = {"test": split.test}
        self.user_seen_, self.item_seen_ = fit_split.seen_in_train()
        self.mean_ = float(np.mean(fit_split.train.ratings, dtype=np.float64))
        self.rating_scale_ = split.rating_scale

        R, M = fit_split.dense("train")
        self.R_ = torch.from_numpy(R).to(self.device_, self.torch_dtype_)
        self.M_ = torch.from_numpy(M).to(self.device_, self.torch_dtype_)
        self.monitor_ = monitor
        self.curve_, self.test_curve_ = [], []  # rounded points; unrounded test RMSEs
        self.evals_ = 0
        self.best_ = BestEpoch()  # the epoch of lowest validation RMSE (with a slice)
        start = time.perf_counter()
        self._train()
        self.train_seconds_ = time.perf_counter() - start
        if self.validation_fraction > 0 and self.best_.state is not None:
            self.params_ = self.best_.state
        self.pred_ = self._predict_matrix(self.params_).cpu().numpy()
        self._after_fit()
        del self.R_, self.M_
        return self

    def _start_network(self):
        """Build the autoencoder over the training matrix's columns and return its initial
        flat parameters; R, mostly empty, also gets a sparse (CSR) copy for the first layer's
        products (``fused``)."""
        self.net_ = KernelAutoencoder(self.R_.shape[1], self.n_hidden, self.n_layers,
                                      self.n_dim)
        self.R_sparse_ = to_csr(self.R_) if self.fused else self.R_
        return self.net_.init(self.generator_, self.torch_dtype_, self.device_)

    def _after_fit(self) -> None:
        """Hook: facts to keep from the final parameters while the training matrix is loaded."""

    def _objective(self, forward):
        """The closure the optimisers minimise: data loss plus regulariser at a flat vector."""
        def fun(flat):
            pred, reg = forward(flat)
            # a copy: Adam updates its parameter tensor in place after this evaluation
            self._last_pred = (flat.detach().clone(), pred.detach())
            return data_loss(pred, self.R_, self.M_, self.loss) + reg
        return fun

    def _epoch(self, fun, flat, iterations: int, adam_state: dict):
        flat, f, evals = run_epoch(self.optimizer, fun, flat, iterations, self.history,
                                   self.lr, adam_state, check_finite)
        check_finite(f, f"the end of an epoch of {self.name}")
        self.evals_ += evals
        return flat, f

    def _pred_at(self, flat):
        """The prediction matrix at ``flat``: the last evaluation's when it was at ``flat``."""
        cached = getattr(self, "_last_pred", None)
        self._last_pred = None
        if cached is not None and cached[0].shape == flat.shape and torch.equal(cached[0], flat):
            return cached[1]
        return self._predict_matrix(flat)

    def _score_epoch(self, phase: str, epoch: int, pred_matrix, flat) -> dict:
        """This epoch's RMSE on each monitored part (test: under both fallbacks), as a curve
        point; in the selectable phase the validation score goes to :attr:`best_`."""
        pred = pred_matrix.detach().cpu().numpy()
        point = {"epoch": epoch + 1}
        for name, part in self.monitor_.items():
            values = self._lookup(pred, part.users, part.items)
            point[f"{name}_rmse"] = metric_rmse(part.ratings, values, self.rating_scale_)
        test = self.monitor_["test"]
        other = self._lookup(pred, test.users, test.items, other_fallback=True)
        point["test_rmse_other_fallback"] = metric_rmse(test.ratings, other, self.rating_scale_)
        if phase != "pretrain" and self.validation_fraction > 0:
            self.best_.update(epoch + 1, point["validation_rmse"],
                              lambda: flat.detach().clone())
        log.info("%s %s epoch %d: %s (%d evaluations so far)", self.name, phase, epoch + 1,
                 {k: round(v, 5) for k, v in point.items() if k != "epoch"}, self.evals_)
        return {k: (v if k == "epoch" else round(v, 5)) for k, v in point.items()}, point

    def _lookup(self, pred: np.ndarray, users, items, other_fallback: bool = False
                ) -> np.ndarray:
        """Entries of an (items x users) prediction matrix, with the unseen fallback."""
        users, items = check_indices(self.shape_, users, items)
        values = pred[items, users].astype(np.float64)
        fallback = self.fallback
        if other_fallback:
            fallback = "mean" if fallback == "network" else "network"
        unseen = ~self.user_seen_[users]
        if fallback == "mean":
            unseen |= ~self.item_seen_[items]
        values[unseen] = self.mean_
        return values

    def _record_epoch(self, epoch: int, flat) -> None:
        """Score an epoch of the phase whose model is returned and keep it on the curve."""
        rounded, point = self._score_epoch("train", epoch, self._pred_at(flat), flat)
        self.curve_.append(rounded)
        self.test_curve_.append(point["test_rmse"])

    def predict(self, users, items) -> np.ndarray:
        return self._lookup(self.pred_, users, items)

    # --- reporting ------------------------------------------------------------------------

    def report(self) -> dict:
        out = {"resolved_params": self.resolved_params_, "function_evaluations": self.evals_,
               "train_seconds": self.train_seconds_, "curve": self.curve_,
               "device": str(self.device_)}
        test = self.test_curve_
        best = int(np.argmin(test))
        out.update(paper_best_test_rmse=test[best], paper_best_test_epoch=best + 1)
        if self.validation_fraction > 0:
            out.update(selected_by=BY_VALIDATION_RESTORE, selected_epoch=self.best_.epoch,
                       validation_rmse=self.best_.rmse)
        else:
            out.update(selected_by=FIXED, selected_epoch=len(test))
        return out
