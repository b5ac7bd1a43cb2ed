"""scikit-surprise models run on exactly the same split as ours, for side-by-side tables."""

from __future__ import annotations

import numpy as np

from ..splits import Split
from . import register
from .base import RatingModel, check_indices


class SurpriseModel(RatingModel):
    """Wraps a Surprise algorithm; extra keyword arguments go to the algorithm's constructor.

    Our user and item indices serve as Surprise's raw ids, so predictions line up with ours.
    """

    unseen_fallback = "Surprise's own: biases of known users or items, else the global mean"
    defaults: dict = {}

    def __init__(self, seed: int = 0, **options) -> None:
        self.seed = seed
        self.options = {**self.defaults, **options}

    def get_params(self) -> dict:
        return {"seed": self.seed, **self.options}

    def make_algorithm(self):
        raise NotImplementedError

    def fit(self, split: Split) -> SurpriseModel:
        import surprise

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
    defaults = {"bsl_options": {"method": "als"}}

    def make_algorithm(self):
        from surprise import BaselineOnly
        return BaselineOnly(verbose=False, **self.options)


@register("surprise-svd")
class SurpriseSVD(SurpriseModel):
    def make_algorithm(self):
        from surprise import SVD
        return SVD(random_state=self.seed, **self.options)


@register("surprise-svdpp")
class SurpriseSVDpp(SurpriseModel):
    def make_algorithm(self):
        from surprise import SVDpp
        return SVDpp(random_state=self.seed, **self.options)


@register("surprise-knnbaseline")
class SurpriseKNNBaseline(SurpriseModel):
    defaults = {"sim_options": {"name": "pearson_baseline", "user_based": False}}

    def make_algorithm(self):
        from surprise import KNNBaseline
        return KNNBaseline(verbose=False, **self.options)
