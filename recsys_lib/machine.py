"""The machine a run ran on: the facts a record keeps, and its arithmetic fingerprint.

Float32 training adds its sums in an order that depends on the CPU's vector instructions,
the BLAS library, the library versions, the thread count and the device. Two runs with one
seed give the same figure only when all of these match: the *fingerprint*
(:data:`FINGERPRINT`). :func:`machine_facts` reads them here, for every new record line;
a fact a record lacks (lines made before it was recorded) is unknown, never guessed, and a
fingerprint with an unknown fact matches no other.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
import sys

from .glossary import MACHINE_KEYS

#: the facts that decide a float32 run's arithmetic, each a key of a record's ``machine``
FINGERPRINT = tuple(MACHINE_KEYS)

#: the CPU flags that change which vector kernels the libraries run
_VECTOR_FLAG = re.compile(r"^(avx\w*|fma\w*|amx\w*|sse4\w*|f16c|neon|asimd\w*|sve\w*)$")


def machine_facts() -> dict:
    """This process's machine: CPU count, 1-minute load, Python, and the fingerprint.

    torch is not imported just for this: when the process has not loaded it, torch's
    version is read from the package metadata, and its SIMD level, BLAS, threads and device
    are left out (the run used none of them).
    """
    facts = {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
             "python": platform.python_version(), **_cpu(), **_numeric_libraries()}
    torch = sys.modules.get("torch")
    if torch is not None:
        facts.update(torch=torch.__version__, torch_simd=torch.backends.cpu.get_cpu_capability(),
                     torch_blas=_torch_blas(torch),
                     device="cuda" if torch.cuda.is_available() else "cpu",
                     torch_threads=torch.get_num_threads())  # float32 sums depend on it
    elif _installed_torch() is not None:
        facts["torch"] = _installed_torch()
    return facts


def fingerprint(machine: dict | None) -> dict:
    """The :data:`FINGERPRINT` facts of a record's ``machine`` (None where unknown)."""
    machine = machine if isinstance(machine, dict) else {}
    return {key: _known(machine.get(key)) for key in FINGERPRINT}


def compare_fingerprints(recorded: dict | None, live: dict | None
                         ) -> tuple[list[str], list[str]]:
    """(the fingerprint facts in which two machines differ, those either does not know);
    both empty when their arithmetic is the same."""
    old, new = fingerprint(recorded), fingerprint(live)
    unknown = [key for key in FINGERPRINT if old[key] is None or new[key] is None]
    return [key for key in FINGERPRINT if key not in unknown and old[key] != new[key]], unknown


def recorded_machine(entry) -> dict:
    """The machine a record line or live summary ran on: its ``machine`` dict, or the
    ``machine.*`` columns of a flattened record row, with the device the model itself
    reports (a summary's ``device``) in place of the default device."""
    machine = entry.get("machine")
    if not isinstance(machine, dict):
        machine = {key[len("machine."):]: value for key, value in dict(entry).items()
                   if isinstance(key, str) and key.startswith("machine.")}
    machine = {key: _known(value) for key, value in machine.items()}
    device = entry.get("device")
    return {**machine, "device": device} if isinstance(device, str) else machine


def recorded_threads(entry) -> int:
    """The torch thread count a record line or row names (2 when it names none)."""
    threads = recorded_machine(entry).get("torch_threads")
    return int(threads) if threads is not None else 2


def _known(value):
    return None if value is None or value != value else value  # NaN: a flattened absence


@functools.lru_cache(maxsize=1)
def _cpu() -> dict:
    """The CPU's model name and its vector-instruction flags (Linux); the model alone
    elsewhere (flags unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            info = handle.read()
    except OSError:
        return {"cpu": platform.processor() or platform.machine() or None, "cpu_flags": None}
    fields = dict(re.findall(r"^(model name|flags|Features)\s*:\s*(.*)$", info, re.M))
    flags = (fields.get("flags") or fields.get("Features") or "").split()
    return {"cpu": fields.get("model name") or platform.machine() or None,
            "cpu_flags": " ".join(sorted(f for f in set(flags) if _VECTOR_FLAG.match(f)))
            or None}


@functools.lru_cache(maxsize=1)
def _numeric_libraries() -> dict:
    """numpy's and scipy's versions and the BLAS numpy calls (library, version, kernel)."""
    import numpy
    import scipy
    from threadpoolctl import threadpool_info

    libraries = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    blas = next((lib for lib in libraries if "numpy" in (lib.get("filepath") or "")),
                libraries[0] if libraries else None)
    described = None
    if blas is not None:
        described = " ".join(str(part) for part in (blas.get("internal_api"), blas.get(
            "version"), blas.get("architecture")) if part)
    return {"numpy": numpy.__version__, "scipy": scipy.__version__, "numpy_blas": described}


def _torch_blas(torch) -> str | None:
    """The BLAS torch was built with (``mkl``, ``open``, ``accelerate``, ...)."""
    found = re.search(r"BLAS_INFO=([\w.-]+)", torch.__config__.show())
    return found.group(1) if found else None


@functools.lru_cache(maxsize=1)
def _installed_torch() -> str | None:
    """torch's version from the package metadata (read once: ~2 ms), None if absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no process is listening on at this moment (the caller
    binds it next: a local Spark master, or torch.distributed's rendezvous)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
