"""Alternating least squares on Apache Spark: MLlib's ALS behind the book's model interface.

MLlib's ALS fits r_ui ~ x_u . y_i by alternating ridge regressions whose penalty grows with
each user's and item's number of ratings (ALS-WR, Zhou et al. 2008), on a cluster or, in local
mode, on this machine. The wrapper handles what users of Spark ALS keep tripping over:

* a checkpoint directory is always set, so a long run cuts its lineage instead of ending in a
  StackOverflowError (``checkpointInterval`` is ignored without one);
* the driver's memory is set before the JVM starts (a running JVM is restarted to change it);
* users and items go in as the split's contiguous integer indices;
* an unseen user or item, for which Spark predicts a float NaN, gets the baseline
  mu + b_u + b_i with the unseen side's bias 0, and the test set is never shrunk;
* the rank and the penalty are chosen on a validation slice of the training ratings, then
  fitted again on all: MLlib scales the penalty by each user's and item's count, so a value
  borrowed from an unscaled objective lands far off.

Spark computes the factors; predictions are the same dot products, taken locally from the
factors brought back to the driver (n_users + n_items rows of ``n_factors`` floats).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import rmse
from ..params import COMMON, Fraction, Int, Positive, Text
from ..spark_runtime import LOCAL_MASTER, MASTER_ENV, jvm_peak_gb, spark_session
from ..splits import Ratings, Split
from . import register
from .base import RatingModel, check_indices
from .baselines import fit_baseline_als

MASTER_PATTERN = r"local(\[(\d+|\*)(,\d+)?\])?|(spark|k8s|mesos)://\S+|yarn"
#: the candidates of the validation search: ranks, then penalties
FACTOR_GRID = (10, 25, 50)
REG_GRID = (0.05, 0.07, 0.1)
#: without a validation slice (validation_fraction=0), a rank or penalty given as None
FIXED_DEFAULTS = {"n_factors": 10, "reg": 0.05}


def ratings_frame(session, ratings: Ratings):
    """The ratings as a cached Spark DataFrame (user int, item int, rating double), cut into
    ``spark.default.parallelism`` (:data:`PARTITIONS`) partitions whatever the master."""
    frame = pd.DataFrame({"user": ratings.users.astype(np.int32),
                          "item": ratings.items.astype(np.int32),
                          "rating": ratings.ratings.astype(np.float64)})
    return session.createDataFrame(frame).cache()


@dataclass
class FactorModel:
    """Factors brought back from Spark and the baseline that stands in for unseen sides."""

    user_factors: np.ndarray   # (n_users, n_factors) float32; rows of unseen users are 0
    item_factors: np.ndarray   # (n_items, n_factors) float32
    seen_users: np.ndarray     # (n_users,) bool
    seen_items: np.ndarray     # (n_items,) bool
    baseline: tuple[float, np.ndarray, np.ndarray]  # mu, b_user (n_users,), b_item (n_items,)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """x_u . y_i where both sides were seen in training, the baseline elsewhere."""
        scores = np.einsum("nf,nf->n", self.user_factors[users].astype(np.float64),
                           self.item_factors[items].astype(np.float64))
        mu, b_user, b_item = self.baseline
        unseen = ~(self.seen_users[users] & self.seen_items[items])
        scores[unseen] = (mu + b_user[users[unseen]] + b_item[items[unseen]])
        return scores


def _factors(spark_factors, n_rows: int, n_factors: int) -> np.ndarray:
    """MLlib's (id, features) DataFrame as an (n_rows, n_factors) float32 array."""
    frame = spark_factors.toPandas()
    out = np.zeros((n_rows, n_factors), dtype=np.float32)
    if len(frame):
        out[frame["id"].to_numpy()] = np.stack(frame["features"].to_numpy())
    return out


@register("spark-als")
class SparkALS(RatingModel):
    """ALS on Apache Spark (MLlib, ALS-WR), rank and penalty chosen on a validation slice."""

    chapter = "14_spark_als"
    unseen_fallback = ("Spark predicts NaN for an unseen user or item; here the baseline "
                       "mu + b_u + b_i stands in, the unseen side's bias 0")
    PARAMS = {**COMMON, "n_factors": Int(none=True), "reg": Positive(none=True),
              "n_epochs": Int(), "validation_fraction": Fraction(low_open=False),
              "master": Text(MASTER_PATTERN, "a Spark master: local, local[N], local[*], "
                             "spark://HOST:PORT, k8s://..., yarn", none=True),
              "driver_memory": Text(r"\d+[kKmMgGtT]", "a JVM memory size such as '4g' or "
                                    "'512m'"),
              "checkpoint_interval": Int()}

    def __init__(self, n_factors: int | None = None, reg: float | None = None,
                 n_epochs: int = 10, validation_fraction: float = 0.1,
                 master: str | None = None, driver_memory: str = "4g",
                 checkpoint_interval: int = 5, seed: int = 0) -> None:
        self._init(locals())

    def spark_master(self) -> str:
        """``master``, else ``$SPARK_MASTER``, else every local core."""
        master = self.master or os.environ.get(MASTER_ENV) or LOCAL_MASTER
        return self.PARAMS["master"].check("master (or $SPARK_MASTER)", master)

    def candidates(self) -> list[tuple[int, float]]:
        """The (n_factors, reg) pairs to try: the grid, where a value is not given."""
        if self.validation_fraction == 0:
            return [(self.n_factors or FIXED_DEFAULTS["n_factors"],
                     self.reg or FIXED_DEFAULTS["reg"])]
        ranks = FACTOR_GRID if self.n_factors is None else (self.n_factors,)
        regs = REG_GRID if self.reg is None else (self.reg,)
        return [(rank, reg) for rank in ranks for reg in regs]

    def _fit_factors(self, split: Split, frame, baseline, n_factors: int, reg: float
                     ) -> FactorModel:
        """MLlib's ALS on ``frame`` (the cached training ratings of ``split``), with the
        split's baseline standing in for unseen sides."""
        from pyspark.ml.recommendation import ALS

        als = ALS(rank=n_factors, regParam=reg, maxIter=self.n_epochs, seed=self.seed,
                  userCol="user", itemCol="item", ratingCol="rating",
                  checkpointInterval=self.checkpoint_interval, coldStartStrategy="nan")
        fitted = als.fit(frame)
        return FactorModel(_factors(fitted.userFactors, split.n_users, n_factors),
                           _factors(fitted.itemFactors, split.n_items, n_factors),
                           *split.seen_in_train(), baseline)

    def _search(self, session, split: Split, candidates) -> tuple[int, float]:
        """The candidate with the lowest RMSE on a validation slice; every score kept in
        ``grid_``. The slice's ratings go to Spark, and its baseline is fitted, once."""
        carved = split.with_validation(self.validation_fraction, self.seed)
        frame, baseline = ratings_frame(session, carved.train), fit_baseline_als(carved)
        for n_factors, reg in candidates:
            model = self._fit_factors(carved, frame, baseline, n_factors, reg)
            score = rmse(carved.test.ratings,
                         model.predict(carved.test.users, carved.test.items),
                         split.rating_scale)
            self.grid_.append({"n_factors": n_factors, "reg": reg,
                               "validation_rmse": score})
        frame.unpersist()
        best = min(self.grid_, key=lambda point: point["validation_rmse"])
        return best["n_factors"], best["reg"]

    def fit(self, split: Split) -> SparkALS:
        self.master_ = self.spark_master()
        session = spark_session(self.master_, self.driver_memory)
        candidates = self.candidates()
        self.grid_ = []
        self.n_factors_, self.reg_ = (self._search(session, split, candidates)
                                      if len(candidates) > 1 else candidates[0])
        frame = ratings_frame(session, split.train)
        self.factors_ = self._fit_factors(split, frame, fit_baseline_als(split),
                                          self.n_factors_, self.reg_)
        frame.unpersist()
        java = session.sparkContext._jvm.System.getProperty("java.version")
        self.spark_version_ = f"{session.version} (Java {java})"
        self.jvm_peak_gb_ = jvm_peak_gb()
        self.shape_ = (split.n_users, split.n_items)
        return self

    def predict(self, users, items) -> np.ndarray:
        users, items = check_indices(self.shape_, users, items)
        return self.factors_.predict(users, items)

    def report(self) -> dict:
        facts = {"resolved_params": {"n_factors": self.n_factors_, "reg": self.reg_,
                                     "master": self.master_},
                 "spark_version": self.spark_version_, "jvm_peak_gb": self.jvm_peak_gb_}
        if self.grid_:
            facts["validation_grid"] = self.grid_
            facts["validation_rmse"] = min(p["validation_rmse"] for p in self.grid_)
        return facts
