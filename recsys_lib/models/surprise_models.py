"""scikit-surprise models run on exactly the same split as ours, for side-by-side tables."""

from __future__ import annotations

import inspect

import numpy as np
import surprise

from ..errors import InvalidParameterError
from ..params import COMMON
from ..splits import Split
from . import register
from .base import RatingModel, check_indices


class SurpriseModel(RatingModel):
    """Wraps a Surprise algorithm; extra keyword arguments go to the algorithm's constructor.

    Our user and item indices serve as Surprise's raw ids, so predictions line up with ours.
    """

    unseen_fallback = "Surprise's own: biases of known users or items, else the global mean"
    PARAMS = COMMON
    defaults: dict = {}

    def __init__(self, seed: int = 0, **options) -> None:
        self._check({"seed": seed, **options})
        self.seed = seed
        self.options = {**self.defaults, **options}

    def _check(self, params: dict) -> None:
        """``seed`` is ours; every other name must be an argument of the Surprise algorithm,
        whose values Surprise itself checks when it fits."""
        options = {k: v for k, v in params.items() if k != "seed"}
        super()._check({"seed": params.get("seed", 0)})
        accepted = inspect.signature(self.algorithm_class().__init__).parameters
        unknown = sorted(set(options) - set(accepted) - {"self"})
        if unknown:
            raise InvalidParameterError(
                f"{self.name} has no parameter {unknown[0]!r}; Surprise's "
                f"{self.algorithm_class().__name__} takes {', '.join(sorted(accepted))}")

    def get_params(self) -> dict:
        return {"seed": self.seed, **self.options}

    def set_params(self, **params) -> SurpriseModel:
        self._check({**self.get_params(), **params})
        self.seed = params.pop("seed", self.seed)
        self.options.update(params)
        return self

    @staticmethod
    def algorithm_class():
        """The Surprise algorithm class this model wraps."""
        raise NotImplementedError

    def make_algorithm(self):
        return self.algorithm_class()(**self._algorithm_options())

    def _algorithm_options(self) -> dict:
        return dict(self.options)

    def fit(self, split: Split) -> SurpriseModel:
        reader = surprise.Reader(rating_scale=split.rating_scale)
        frame = split.train.to_frame()
        trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
        self.shape_ = (split.n_users, split.n_items)
        self.algorithm_ = self.make_algorithm()
        self.algorithm_.fit(trainset)
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        predict = self.algorithm_.predict
        return np.array([predict(int(u), int(i), clip=False).est for u, i in zip(users, items)])


@register("surprise-baseline")
class SurpriseBaseline(SurpriseModel):
    """Surprise's BaselineOnly (ALS), for parity with ``baseline``."""

    chapter = "03_svd_baselines"
    defaults = {"bsl_options": {"method": "als"}}

    @staticmethod
    def algorithm_class():
        return surprise.BaselineOnly

    def _algorithm_options(self) -> dict:
        return {"verbose": False, **self.options}


@register("surprise-svd")
class SurpriseSVD(SurpriseModel):
    """Surprise's SVD (Funk-SVD by SGD), for parity with ``biased-mf-sgd``."""

    chapter = "03_svd_baselines"

    @staticmethod
    def algorithm_class():
        return surprise.SVD

    def _algorithm_options(self) -> dict:
        return {"random_state": self.seed, **self.options}


@register("surprise-svdpp")
class SurpriseSVDpp(SurpriseModel):
    """Surprise's SVDpp (SGD), for the speed and accuracy comparison with ``svdpp``."""

    chapter = "05_svdpp"

    @staticmethod
    def algorithm_class():
        return surprise.SVDpp

    def _algorithm_options(self) -> dict:
        return {"random_state": self.seed, **self.options}


@register("surprise-knnbaseline")
class SurpriseKNNBaseline(SurpriseModel):
    """Surprise's KNNBaseline (item-based, Pearson-baseline), for parity with knn-pearson."""

    chapter = "04_neighbourhood"
    defaults = {"sim_options": {"name": "pearson_baseline", "user_based": False}}

    @staticmethod
    def algorithm_class():
        return surprise.KNNBaseline

    def _algorithm_options(self) -> dict:
        return {"verbose": False, **self.options}
