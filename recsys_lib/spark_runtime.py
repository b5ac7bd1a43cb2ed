"""Apache Spark's runtime for the Scale part: Java, the local driver, a test cluster.

Spark runs in a JVM. This module finds a Java new enough for Spark 4, starts (or restarts)
the driver with its memory set before the JVM starts, always sets a checkpoint folder, sends
the JVM's own output to a log instead of a notebook or the command line, and starts a small
standalone cluster on this machine for trying a cluster address. The model that uses it is
:mod:`recsys_lib.models.spark_als`.
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
from pathlib import Path

from .errors import InvalidParameterError, MissingDependencyError, RecsysError
from .machine import free_port

#: where a cluster address comes from when ``master`` is None
MASTER_ENV = "SPARK_MASTER"
#: a checkpoint directory every executor can reach (required off local mode)
CHECKPOINT_ENV = "SPARK_CHECKPOINT_DIR"
LOCAL_MASTER = "local[*]"
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
    port = free_port()
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
