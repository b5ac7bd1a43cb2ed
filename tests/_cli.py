"""Helpers of the tests that drive ``python -m recsys_lib`` as a user would: a subprocess
on this checkout, the one-line error contract, and root without its file-mode override."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import recsys_lib

ROOT = Path(recsys_lib.__file__).resolve().parents[1]


def child_env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.setdefault("RECSYS_DATA_MIRROR", "/work/shared/datasets")
    return env


def cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m recsys_lib ARGS`` in a subprocess (this checkout, any working folder)."""
    return subprocess.run([sys.executable, "-m", "recsys_lib", *args], capture_output=True,
                          text=True, cwd=cwd, env=child_env(), timeout=timeout)


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str,
                      children: bool = False) -> str:
    """Exit 2, exactly one ``error:`` line (the last on stderr), no traceback. With
    ``children`` (rerun), the runs it started may print their own errors above."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert lines[-1].startswith("error:"), result.stderr
    assert children or len(errors) == 1, result.stderr
    errors = errors[-1:]
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def setpriv() -> list[str]:
    """A prefix running a command as root without the capabilities that ignore file modes."""
    probe = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,"
                            "-dac_read_search", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("setpriv cannot drop capabilities here; root would ignore file modes")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
