"""The interface every rating model implements."""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np

from ..errors import InvalidParameterError
from ..splits import Split
from ..validation import check_indices  # noqa: F401  (models import it from here)


class RatingModel:
    """A model that learns from ``split.train`` and predicts ratings for index pairs.

    Subclasses take their hyperparameters as keyword arguments of ``__init__`` and store each
    under the same attribute name, so :meth:`get_params` can report them. ``fit`` must use only
    ``split.train`` to learn (models may *report* per-epoch test curves from ``split.test``,
    never choose anything with them unless a protocol says so and the report says it).
    """

    name: ClassVar[str] = ""
    #: How the model predicts for a user or item with no training rating (shown in the docs).
    unseen_fallback: ClassVar[str] = ""

    def fit(self, split: Split) -> RatingModel:
        raise NotImplementedError

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings, shape (n,), for index arrays ``users`` and ``items`` of shape (n,).

        Predictions are not clipped: the metrics clip them to the rating scale.
        """
        raise NotImplementedError

    def report(self) -> dict:
        """Extra facts for the JSON summary (training curves, selected epoch, ...)."""
        return {}

    def _keep_params(self, values: dict) -> None:
        """Store each constructor argument found in ``values`` (the ``locals()`` of a subclass
        ``__init__``) under its own name, as :meth:`get_params` expects."""
        for name in inspect.signature(type(self).__init__).parameters:
            if name != "self" and name in values:
                setattr(self, name, values[name])

    def get_params(self) -> dict:
        """The constructor's keyword arguments and their current values."""
        signature = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in signature.parameters
                if name != "self" and hasattr(self, name)}


def check_positive_int(**values) -> None:
    """Raise InvalidParameterError naming the first value that is not an integer >= 1
    (booleans are refused too, although Python counts them as integers)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}")
