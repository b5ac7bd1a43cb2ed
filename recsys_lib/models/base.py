"""The interface every rating model implements, and its parameter handling."""

from __future__ import annotations

import functools
import inspect
from typing import ClassVar

import numpy as np

from ..errors import NotFittedError
from ..params import Param, check_params
from ..splits import Split
from ..checks import check_indices  # noqa: F401  (models import it from here)


def pairs_by_user(users: np.ndarray, keep: np.ndarray | None = None):
    """``(user, positions)`` for every distinct user of the pairs (of those where ``keep`` is
    True): the positions of that user's pairs, so a model can score them in one step."""
    chosen = np.arange(len(users)) if keep is None else np.flatnonzero(keep)
    order = chosen[np.argsort(users[chosen], kind="stable")]
    distinct, starts = np.unique(users[order], return_index=True)
    return zip(distinct.tolist(), np.split(order, starts[1:]))


def row_chunks(positions: np.ndarray, width: int, budget: int = 1 << 22):
    """``positions`` cut into consecutive pieces of at most ``budget // width`` pairs (at
    least one), so that a (pairs, width) array built for one piece stays near ``budget``
    elements: what bounds the memory of a heavy user's whole-catalogue scores."""
    step = max(1, budget // max(width, 1))
    return (positions[start:start + step] for start in range(0, len(positions), step))


def top_k_stable(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest entries of each row of ``values`` (n, m), largest
    first, equal values in column order: ``sorted(row, reverse=True)[:k]`` (which is what
    ``heapq.nlargest`` returns) without sorting whole rows."""
    n, m = values.shape
    if m <= k:
        return np.argsort(-values, axis=1, kind="stable")
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1:k]   # the k-th largest of each row
    above, tied = values > kth, values == kth
    needed = k - above.sum(1, keepdims=True)                  # ties to take, first ones first
    take = above | (tied & (np.cumsum(tied, axis=1) <= needed))
    columns = np.nonzero(take)[1].reshape(n, k)               # in column order
    order = np.argsort(-np.take_along_axis(values, columns, 1), axis=1, kind="stable")
    return np.take_along_axis(columns, order, 1)


def _needs_fit(method):
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if not self.fitted():
            raise NotFittedError(f"{self.name or type(self).__name__} is not fitted: call "
                                 f"fit(split) before {method.__name__}()")
        return method(self, *args, **kwargs)

    checked._checks_fit = True
    return checked


class RatingModel:
    """A model that learns from ``split.train`` and predicts ratings for index pairs.

    Conventions (scikit-learn's): the constructor takes the hyperparameters as keyword
    arguments, checks them against :attr:`PARAMS` and stores each as given under its own name
    (:meth:`_init`); :meth:`set_params` runs the same checks; fitted state ends in ``_``.
    ``fit`` learns from ``split.train`` only; the test part may be *reported* (curves), never
    used to choose anything unless a protocol says so and the report names it
    (:mod:`recsys_lib.glossary`).
    """

    name: ClassVar[str] = ""
    #: the chapter that teaches the model (a file of ``notebooks/`` without ``.md``)
    chapter: ClassVar[str] = ""
    #: every constructor argument's type and range (:mod:`recsys_lib.params`)
    PARAMS: ClassVar[dict[str, Param]] = {}
    #: How the model predicts for a user or item with no training rating (shown in the docs).
    unseen_fallback: ClassVar[str] = ""
    #: Per-dataset defaults: ``{dataset: {param: value}}``, ``"*"`` for any other dataset.
    #: A parameter named here resolves at fit (:meth:`resolve_params`): given as None, it takes
    #: the dataset's value; the report keeps what was used under ``resolved_params``.
    DATASET_DEFAULTS: ClassVar[dict[str, dict]] = {}
    #: True when every sum of fit and predict runs in float64 (numpy, scipy, Surprise): on
    #: another machine only the last digits change (:func:`recsys_lib.reproduction.agreement`)
    float64: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        """Every ``predict`` and ``report`` a model defines first checks :meth:`fitted`, so a
        call before ``fit`` is one NotFittedError for every model."""
        super().__init_subclass__(**kwargs)
        for method in ("predict", "report"):
            if method in cls.__dict__ and not getattr(cls.__dict__[method], "_checks_fit",
                                                      False):
                setattr(cls, method, _needs_fit(cls.__dict__[method]))

    def fitted(self) -> bool:
        """Whether ``fit`` has run: fitted state is what ends in ``_`` (scikit-learn's rule)."""
        return any(name.endswith("_") and not name.startswith("_") for name in vars(self))

    def fit(self, split: Split) -> RatingModel:
        raise NotImplementedError

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings, shape (n,), for index arrays ``users`` and ``items`` of shape (n,).

        Predictions are not clipped: the metrics clip them to the rating scale.
        """
        raise NotImplementedError

    def report(self) -> dict:
        """Extra facts for the JSON summary, under the keys of :mod:`recsys_lib.glossary`."""
        return {}

    # --- parameters ----------------------------------------------------------------------

    def resolve_params(self, dataset: str) -> dict:
        """The value of every parameter of :attr:`DATASET_DEFAULTS` for a fit on ``dataset``:
        as given, or the dataset's default (``"*"``'s for a dataset not listed) where it is
        None. The one mechanism of per-dataset defaults; models report it as
        ``resolved_params``."""
        if not self.DATASET_DEFAULTS:
            return {}
        defaults = self.DATASET_DEFAULTS.get(dataset, self.DATASET_DEFAULTS["*"])
        return {name: default if getattr(self, name) is None else getattr(self, name)
                for name, default in defaults.items()}

    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's keyword arguments, in order."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def _init(self, values: dict) -> None:
        """Check and store every constructor argument found in ``values`` (the ``locals()``
        of a subclass ``__init__``)."""
        params = {name: values[name] for name in self.param_names() if name in values}
        self._check(params)
        for name, value in params.items():
            setattr(self, name, value)

    def _check(self, params: dict) -> None:
        check_params(self.name or type(self).__name__, self.PARAMS, params)
        self._check_together(params)

    def _check_together(self, params: dict) -> None:
        """Hook: rules that involve several parameters (each is already checked alone)."""

    def get_params(self) -> dict:
        """The constructor's keyword arguments and their current values."""
        return {name: getattr(self, name) for name in self.param_names() if hasattr(self, name)}

    def set_params(self, **params) -> RatingModel:
        """Change hyperparameters, with the constructor's checks; returns the model."""
        self._check({**self.get_params(), **params})
        for name, value in params.items():
            setattr(self, name, value)
        return self
