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

import atexit
import functools
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError, MissingDependencyError, RecsysError
from ..metrics import rmse
from ..params import COMMON, Fraction, Int, Positive, Text
from ..splits import Ratings, Split
from . import register
from .base import RatingModel, check_indices
from .baselines import fit_baseline_als

#: where a cluster address comes from when ``master`` is None
MASTER_ENV = "SPARK_MASTER"
#: a checkpoint directory every executor can reach (required off local mode)
CHECKPOINT_ENV = "SPARK_CHECKPOINT_DIR"
LOCAL_MASTER = "local[*]"
MASTER_PATTERN = r"local(\[(\d+|\*)(,\d+)?\])?|(spark|k8s|mesos)://\S+|yarn"
#: the candidates of the validation search: ranks, then penalties
FACTOR_GRID = (10, 25, 50)
REG_GRID = (0.05, 0.07, 0.1)
#: without a validation slice (validation_fraction=0), a rank or penalty given as None
FIXED_DEFAULTS = {"n_factors": 10, "reg": 0.05}
#: the driver's log settings (errors only), and where a local driver's JVM writes its log
LOG_CONFIG = Path(__file__).with_name("spark_log4j2.properties")
DRIVER_LOG = Path(tempfile.gettempdir()) / "recsys-spark-driver.log"
#: input and shuffle partitions, fixed so that local[1] and local[N] add in the same order
PARTITIONS = 8
JAVA_MAJOR = 17


def java_major_version() -> int | None:
    """The major version of the ``java`` that Spark would start (JAVA_HOME first, then the
    PATH), or None when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    return _java_major(os.path.realpath(java))


@functools.lru_cache(maxsize=None)
def _java_major(java: str) -> int | None:
    """``java -version``'s major version, asked once per binary (every fit checks it)."""
    try:
        banner = subprocess.run([java, "-version"], capture_output=True, text=True,
                                timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2)) if major == 1 and found.group(2) else major


def require_spark() -> None:
    """Raise :class:`MissingDependencyError` in one line unless pyspark and Java 17 or newer
    are installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "spark-als needs pyspark: run `make install`, or pip install -e '.[scale]'"
        ) from None
    major = java_major_version()
    if major is None or major < JAVA_MAJOR:
        found = "no java" if major is None else f"Java {major}"
        raise MissingDependencyError(
            f"spark-als needs Java {JAVA_MAJOR} or newer and found {found}: run `make "
            f"install` (it installs Debian's openjdk-17-jre-headless) or set JAVA_HOME")


def checkpoint_dir(master: str) -> str:
    """``$SPARK_CHECKPOINT_DIR``, or in local mode a temporary folder removed at exit."""
    given = os.environ.get(CHECKPOINT_ENV)
    if given:
        return given
    if not master.startswith("local"):
        raise InvalidParameterError(
            f"spark-als on {master} needs {CHECKPOINT_ENV}: a folder every executor can "
            f"reach (hdfs://..., s3a://...)")
    folder = tempfile.mkdtemp(prefix="recsys-spark-checkpoints-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _stop_jvm(session) -> None:
    """Stop ``session`` and the JVM behind it, so the next session starts a fresh JVM (the
    only way a new driver memory takes effect)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    session.stop()
    if gateway is not None:
        gateway.shutdown()
        process = getattr(gateway, "proc", None)
        if process is not None:
            process.stdin.close()  # the JVM exits when its parent's pipe closes
            process.wait(timeout=60)
    SparkContext._gateway = SparkContext._jvm = None


def spark_session(master: str, driver_memory: str):
    """A SparkSession on ``master`` with ``driver_memory``: the running one when it matches,
    else a new one (restarting the JVM), whose own output goes to :data:`DRIVER_LOG`."""
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        conf = active.sparkContext.getConf()
        if (conf.get("spark.master") == master
                and conf.get("spark.driver.memory") == driver_memory):
            return active
        _stop_jvm(active)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter
    # pyspark 4.3 warns about pandas 3, which it converts correctly for the int and double
    # columns used here
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"pyspark\.")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # no notice when the JVM closes
    with _output_to(DRIVER_LOG):
        session = _start(master, driver_memory)
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(checkpoint_dir(master))
    return session


@contextmanager
def _output_to(path: Path):
    """Point this process's standard output and error (descriptors 1 and 2) at ``path``
    while a child starts, so that the child keeps writing there: the JVM's start-up
    notices, its native BLAS probes and its logged stack traces go to the driver log, never
    into a notebook or onto the command line's one JSON line (errors reach Python as
    exceptions)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(path, "ab") as log:
        for fd in saved:
            os.dup2(log.fileno(), fd)
    try:
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def _start(master: str, driver_memory: str):
    """A new session: quiet (errors only, no UI or progress bars), fixed partitions."""
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName("recsys_lib")
               .config("spark.driver.memory", driver_memory)
               .config("spark.driver.extraJavaOptions",
                       f"-Dlog4j.configurationFile=file:{LOG_CONFIG}")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.default.parallelism", str(PARTITIONS))
               .config("spark.sql.shuffle.partitions", str(PARTITIONS))
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    try:
        return builder.getOrCreate()
    except PySparkRuntimeError as error:  # the JVM exited before it answered
        raise RecsysError(f"spark-als: Spark's driver did not start ({error}); its log is "
                          f"{DRIVER_LOG}") from None


@contextmanager
def standalone_cluster(cores: int = 1, worker_memory: str = "2g", timeout: float = 120):
    """A Spark standalone cluster on this machine, for trying a cluster address without a
    cluster: a master and one worker, each its own JVM (Spark's ``spark-class``), logging to
    :data:`DRIVER_LOG`. Yields the master's address, ``spark://127.0.0.1:PORT``; stops both
    on exit. A run on it needs ``SPARK_CHECKPOINT_DIR`` (any local folder will do here)."""
    require_spark()
    from pyspark.find_spark_home import _find_spark_home

    spark_class = os.path.join(_find_spark_home(), "bin", "spark-class")
    with socket.socket() as probe:  # a free port for the master
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"spark://127.0.0.1:{port}"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    commands = [["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                 str(port), "--webui-port", "0"],
                ["org.apache.spark.deploy.worker.Worker", address, "--host", "127.0.0.1",
                 "--cores", str(cores), "--memory", worker_memory, "--webui-port", "0"]]
    with open(DRIVER_LOG, "ab") as log:
        daemons = [subprocess.Popen([spark_class, *commands[0]], stdout=log, stderr=log,
                                    env=env)]
        try:
            _wait_for_port(port, timeout)
            daemons.append(subprocess.Popen([spark_class, *commands[1]], stdout=log,
                                            stderr=log, env=env))
            yield address
        finally:
            for daemon in reversed(daemons):
                daemon.terminate()
                daemon.wait(timeout=60)


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RecsysError(f"the local Spark master did not open port {port} within {timeout:g} "
                      f"s; its log is {DRIVER_LOG}")


def jvm_peak_gb() -> float | None:
    """The peak resident memory (GB) of the local driver JVM since it started, or None when
    the JVM is not a child of this process (a cluster's driver) or /proc is missing."""
    from pyspark import SparkContext

    process = getattr(SparkContext._gateway, "proc", None)
    try:
        status = open(f"/proc/{process.pid}/status", encoding="ascii").read()
    except (AttributeError, OSError):
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 2**20 if found else None


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
