"""Choosing the training length on a validation slice: the one helper every model uses.

The protocol (chapter 2): carve a seeded slice of the *training* ratings, train on the rest
for up to ``n_epochs`` epochs, score the slice after each epoch, keep the epoch with the
lowest validation RMSE and stop once ``patience`` epochs in a row have not improved on the
best; then either refit on all training ratings for the chosen number of epochs, or restore
the parameters of the chosen epoch. The test set is never used to choose.

The report keys it produces (``selected_by``, ``selected_epoch``, ``validation_rmse``,
``curve``, ``refit_curve``) are defined in :mod:`recsys_lib.glossary`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .splits import Ratings, Split  # noqa: F401  (Ratings: in TrainFunction)

#: ``selected_by`` values
BY_VALIDATION_REFIT = "validation, refit"
BY_VALIDATION_RESTORE = "validation, restore"
FIXED = "fixed"


@dataclass
class BestEpoch:
    """The best validation RMSE seen so far, its epoch and a snapshot of its parameters.

    ``update(epoch, rmse, snapshot)`` records one score; the lowest score wins (the first
    epoch on ties) and ``snapshot()`` is called only then. :attr:`stop` turns true once
    ``patience`` scores in a row fail to beat the last improvement by more than
    ``min_delta``; ``patience=None`` never stops.
    """

    patience: int | None = None
    min_delta: float = 0.0
    epoch: int | None = None
    rmse: float = math.inf
    state: object = None
    since: int = 0
    reference: float = field(default=math.inf, repr=False)

    def update(self, epoch: int, rmse: float, snapshot: Callable[[], object] | None = None
               ) -> bool:
        """Record the score of ``epoch``; True when it is the best so far."""
        if rmse < self.reference - self.min_delta:
            self.reference, self.since = rmse, 0
        else:
            self.since += 1
        if rmse < self.rmse:
            self.epoch, self.rmse = epoch, rmse
            self.state = snapshot() if snapshot is not None else None
            return True
        return False

    @property
    def stop(self) -> bool:
        return self.patience is not None and self.since >= self.patience


def end_epoch(curve: list, point: dict, tracker: BestEpoch | None,
              validation_rmse: Callable[[], float], snapshot: Callable[[], object]) -> bool:
    """Close an epoch of a training loop: with a ``tracker``, score the validation slice into
    ``point`` and hand it to the tracker; append ``point`` to ``curve``. True when the loop
    should stop (patience ran out)."""
    if tracker is not None:
        point["validation_rmse"] = validation_rmse()
        tracker.update(point["epoch"], point["validation_rmse"], snapshot)
    curve.append(point)
    return tracker is not None and tracker.stop


#: ``train(data, validation, n_epochs, tracker) -> curve``: train on ``data.train`` for up to
#: ``n_epochs`` epochs; with a ``validation`` part, score it after each scored epoch through
#: ``tracker.update``, stop when ``tracker.stop`` and end with the tracked best parameters.
TrainFunction = Callable[[Split, "Ratings | None", int, "BestEpoch | None"], list]  # noqa


def choose_then_refit(split: Split, train: TrainFunction, *, n_epochs: int,
                      validation_fraction: float, patience: int, refit: bool, seed: int,
                      min_delta: float = 0.0) -> dict:
    """Choose the number of epochs on a validation slice of ``split.train``, then refit.

    With ``validation_fraction == 0`` nothing is chosen: one run of ``n_epochs`` on all the
    training ratings. Otherwise ``train`` runs on the rest of the training ratings with the
    slice as ``validation``; with ``refit`` it runs again on all training ratings for the
    chosen number of epochs, else the model keeps the chosen epoch's parameters.
    Returns the selection's report (glossary keys).
    """
    if validation_fraction == 0:
        curve = train(split, None, n_epochs, None)
        return {"selected_by": FIXED, "selected_epoch": n_epochs, "curve": curve}
    carved = split.with_validation(validation_fraction, seed=seed)
    tracker = BestEpoch(patience, min_delta)
    curve = train(carved, carved.test, n_epochs, tracker)
    report = {"selected_by": BY_VALIDATION_REFIT if refit else BY_VALIDATION_RESTORE,
              "selected_epoch": tracker.epoch, "validation_rmse": tracker.rmse, "curve": curve}
    if refit:
        report["refit_curve"] = train(split, None, tracker.epoch, None)
    return report


def fit_with_selection(model, split: Split, min_delta: float = 0.0) -> dict:
    """:func:`choose_then_refit` with ``model._train`` and the model's own ``n_epochs``,
    ``validation_fraction``, ``patience``, ``refit`` and ``seed`` (the glossary's names)."""
    return choose_then_refit(split, model._train, n_epochs=model.n_epochs,
                             validation_fraction=model.validation_fraction,
                             patience=model.patience, refit=model.refit, seed=model.seed,
                             min_delta=min_delta)
