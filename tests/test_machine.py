"""recsys_lib.machine: the facts a record keeps about the machine that ran it."""

from __future__ import annotations

import json
import sys

import pytest

from recsys_lib import machine
from recsys_lib.cli import main
from recsys_lib.ledger import read_entries
from recsys_lib.machine import FINGERPRINT, compare_fingerprints, fingerprint, machine_facts


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo")
def test_a_new_kernel_record_names_its_cpu_and_the_whole_fingerprint(tmp_path, capsys):
    record = tmp_path / "runs.jsonl"
    assert main(["train", "sparse-fc", "--dataset", "ml-100k", "--split", "u1",
                 "--param", "n_hidden=8", "--param", "n_epochs=1", "--param",
                 "n_iterations=2", "--record", str(record)]) == 0
    facts = read_entries(record)[0]["machine"]
    assert all(facts[key] not in (None, "") for key in FINGERPRINT), facts
    assert facts["cpu"] == machine._cpu()["cpu"] and "sse4_2" in facts["cpu_flags"]
    assert facts["torch_simd"] in ("DEFAULT", "VSX", "ZVECTOR", "AVX2", "AVX512", "SVE256")
    assert facts["numpy_blas"].split()[0] in ("openblas", "mkl", "blis", "accelerate")
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["model"] == "sparse-fc"


def test_unknown_facts_never_match():
    here = machine_facts()
    assert compare_fingerprints(here, dict(here)) == ([], [])
    old = {"cpus": 2, "torch": here.get("torch"), "device": "cpu"}   # a record of last month
    differ, unknown = compare_fingerprints(old, here)
    assert differ == [] and "cpu" in unknown and "torch" not in unknown
    assert fingerprint({"cpu": float("nan")})["cpu"] is None   # a flattened absence
    other = {**here, "torch_threads": 1 if here.get("torch_threads") != 1 else 2}
    assert compare_fingerprints(other, here)[0] == ["torch_threads"]


def test_threads_and_device_are_read_from_a_record_or_a_flattened_row():
    assert machine.recorded_threads({"machine": {"torch_threads": 1}}) == 1
    assert machine.recorded_threads({"machine": {"torch_threads": None}}) == 2
    row = {"machine.torch_threads": 1.0, "machine.device": "cuda", "device": "cpu"}
    assert machine.recorded_threads(row) == 1
    assert machine.recorded_machine(row)["device"] == "cpu"   # the device the model used
