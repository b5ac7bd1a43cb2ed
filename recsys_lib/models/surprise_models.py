"""scikit-surprise models run on exactly the same split as ours, for side-by-side tables."""

from __future__ import annotations

import inspect
import os
import tempfile

import numpy as np

from ..errors import InvalidParameterError, MissingDependencyError
from ..params import COMMON
from ..splits import Split
from . import register
from .base import RatingModel, check_indices, pairs_by_user, row_chunks, top_k_stable


def _import_surprise():
    """Import Surprise without touching HOME: its import creates ``~/.surprise_data`` (or
    ``$SURPRISE_DATA_FOLDER``) for its built-in datasets, which we never use. Unless that
    folder is set or exists, the import is pointed at the temporary folder (which exists, so
    nothing is created) and the environment is restored; a read-only or missing HOME then
    works. A folder set by the user that cannot be made is one clear error."""
    home_folder = os.path.join(os.path.expanduser("~"), ".surprise_data")
    borrowed = "SURPRISE_DATA_FOLDER" not in os.environ and not os.path.isdir(home_folder)
    if borrowed:
        os.environ["SURPRISE_DATA_FOLDER"] = tempfile.gettempdir()
    try:
        import surprise
    except OSError as exc:
        raise MissingDependencyError(
            f"Surprise cannot be imported: it makes its data folder "
            f"{os.environ.get('SURPRISE_DATA_FOLDER', home_folder)} at import and got "
            f"{exc.strerror or exc}; set SURPRISE_DATA_FOLDER to a writable folder") from None
    finally:
        if borrowed:
            del os.environ["SURPRISE_DATA_FOLDER"]
    return surprise


surprise = _import_surprise()


class SurpriseModel(RatingModel):
    """Wraps a Surprise algorithm; from Python, extra keyword arguments go to the algorithm's
    constructor (``create_model("surprise-svd", n_factors=50)``; Surprise checks the values).

    The command line promises none of them: ``train`` takes only ``--seed`` for a wrapper
    (:func:`recsys_lib.command.parse_params` says so), so every recorded wrapper run uses
    Surprise's defaults with the wrapper's :attr:`defaults`. Our user and item indices serve as
    Surprise's raw ids, so predictions line up with ours.
    """

    float64 = True

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

    def _inner_ids(self, users: np.ndarray, items: np.ndarray):
        """Surprise's inner ids of our user and item indices, -1 for one not in training."""
        trainset = self.algorithm_.trainset

        def lookup(raw, mapping, size):
            table = np.full(size, -1, dtype=np.int64)
            table[np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))] = \
                np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
            return table[raw]

        return (lookup(users, trainset._raw2inner_id_users, self.shape_[0]),
                lookup(items, trainset._raw2inner_id_items, self.shape_[1]))

    def _biases(self, inner_users: np.ndarray, inner_items: np.ndarray) -> np.ndarray:
        """``mu (+ b_u if the user is known) (+ b_i if the item is known)``, added in the order
        of Surprise's ``estimate``; shape (n,)."""
        algorithm = self.algorithm_
        est = np.full(len(inner_users), algorithm.trainset.global_mean)
        known_user, known_item = inner_users >= 0, inner_items >= 0
        est[known_user] += algorithm.bu[inner_users[known_user]]
        est[known_item] += algorithm.bi[inner_items[known_item]]
        return est


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

    def predict(self, users, items) -> np.ndarray:
        """Surprise's biased ``SVD.estimate`` for many pairs at once (equal to its per-pair
        ``predict`` up to the rounding of the dot product; tests: 1e-12)."""
        if not self.algorithm_.biased:
            return super().predict(users, items)
        users, items = check_indices(self.shape_, users, items)
        inner_users, inner_items = self._inner_ids(users, items)
        est = self._biases(inner_users, inner_items)
        known = np.flatnonzero((inner_users >= 0) & (inner_items >= 0))
        qi, pu = self.algorithm_.qi, self.algorithm_.pu
        # a few million factor products at a time: ML-1M's top-N scores 22 M pairs at once
        for piece in row_chunks(known, qi.shape[1]):
            est[piece] += (qi[inner_items[piece]] * pu[inner_users[piece]]).sum(1)
        return est


@register("surprise-svdpp")
class SurpriseSVDpp(SurpriseModel):
    """Surprise's SVDpp (SGD), for the speed and accuracy comparison with ``svdpp``."""

    chapter = "05_svdpp"

    @staticmethod
    def algorithm_class():
        return surprise.SVDpp

    def _algorithm_options(self) -> dict:
        return {"random_state": self.seed, **self.options}

    def predict(self, users, items) -> np.ndarray:
        """Surprise's ``SVDpp.estimate`` for many pairs at once: the implicit-feedback sum of
        a user is formed once (exactly as Surprise forms it), then one matrix-vector product
        scores all of that user's items. Equal to Surprise's own ``predict`` up to the
        rounding of the dot product (tests: 1e-12); what makes top-N over all items
        affordable on ML-1M (per pair, Surprise takes about 50 microseconds)."""
        users, items = check_indices(self.shape_, users, items)
        algorithm = self.algorithm_
        inner_users, inner_items = self._inner_ids(users, items)
        est = self._biases(inner_users, inner_items)
        known = (inner_users >= 0) & (inner_items >= 0)
        for user, positions in pairs_by_user(inner_users, known):
            rated = algorithm.trainset.ur[user]
            implicit = sum(algorithm.yj[j] for (j, _) in rated) / np.sqrt(len(rated))
            est[positions] += algorithm.qi[inner_items[positions]] @ (
                algorithm.pu[user] + implicit)
        return est


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

    def predict(self, users, items) -> np.ndarray:
        """Surprise's item-based ``KNNBaseline.estimate`` for many pairs at once: per user,
        the k most similar rated items of every target (ties in the order of Surprise's
        list of the user's ratings, as its ``heapq.nlargest`` keeps them) and the sums in
        Surprise's order, a few million similarities at a time (:func:`row_chunks`). Equal
        to Surprise's own ``predict`` (tests: 1e-12); per pair, Surprise takes about 130
        microseconds on ML-1M."""
        if self.algorithm_.sim_options.get("user_based", True):
            return super().predict(users, items)
        users, items = check_indices(self.shape_, users, items)
        algorithm = self.algorithm_
        mu = algorithm.trainset.global_mean
        inner_users, inner_items = self._inner_ids(users, items)
        est = self._biases(inner_users, inner_items)
        known = (inner_users >= 0) & (inner_items >= 0)
        for user, positions in pairs_by_user(inner_users, known):
            rated = algorithm.trainset.ur[user]
            neighbours = np.fromiter((j for j, _ in rated), dtype=np.int64, count=len(rated))
            ratings = np.fromiter((r for _, r in rated), dtype=np.float64, count=len(rated))
            residuals = ratings - (mu + algorithm.bi[neighbours] + algorithm.bu[user])
            for piece in row_chunks(positions, len(neighbours)):
                est[piece] += self._offsets(algorithm.sim[inner_items[piece][:, None],
                                                          neighbours], residuals)
        return est

    def _offsets(self, sims: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """The neighbourhood term of each row of ``sims`` (targets, items the user rated),
        given the user's baseline ``residuals`` (items the user rated,)."""
        algorithm = self.algorithm_
        chosen = top_k_stable(sims, algorithm.k)                   # (n, min(k, n_rated))
        top = np.take_along_axis(sims, chosen, 1)
        positive = top > 0
        sum_sim = np.where(positive, top, 0.0).cumsum(1)[:, -1]      # sequential, as Surprise
        weighted = np.where(positive, top * residuals[chosen], 0.0).cumsum(1)[:, -1]
        used = positive.sum(1)
        weighted[used < algorithm.min_k] = 0.0
        return np.divide(weighted, sum_sim, out=np.zeros_like(weighted), where=used > 0)
