"""benchmarks/kernel.py --gflops: the analytic FLOP count and a quick run of the report."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "kernel.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmarks_kernel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_matmul_and_sparse_counts(bench):
    assert bench.matmul_flops(2, 3, 4) == 144  # 48 forward, 48 per operand gradient
    assert bench.matmul_flops(2, 3, 4, grads=1) == 96
    assert bench.matmul_flops(2, 3, 4, grads=0) == 48
    assert bench.sparse_flops(nnz=5, width=2, products=3) == 60


def test_loss_flops_on_tiny_shapes(bench):
    # 3 items x 4 users, 5 ratings, one hidden layer of 2 units, 1-d kernel vectors
    tiny = dict(n_rows=3, n_in=4, nnz=5, n_hidden=2, n_layers=1, n_dim=1)
    # kernels 4x1@1x2 and 2x1@1x4: 48 + 48; sparse first layer 2*5*2*2 = 40; output 3x2@2x4: 144
    assert bench.loss_flops("sparse-fc", **tiny) == 96 + 40 + 144
    assert bench.loss_flops("glocal-k/pretrain", **tiny) == 280
    # dense first layer 3x4@4x2: 144; global kernel: sparse 40, row means 3x2@2x1: 36,
    # pooled @ bank 1x3@3x9: 162; 3x3 convolution of a constant input: 2*9*12*2 = 432
    assert bench.loss_flops("glocal-k/finetune", **tiny) == 96 + 144 + 144 + 40 + 36 + 162 + 432
    # five sparse products of width 2 over 5 ratings
    assert bench.loss_flops("i-autorec", **tiny) == 100
    deeper = {**tiny, "n_layers": 2}
    # kernels 48 + 24 + 48; sparse 40; hidden 3x2@2x2: 72; output 144
    assert bench.loss_flops("sparse-fc", **deeper) == 376
    # autoencoder 120 + 144 + 72 + 144; global 40 + 72 + 36 + 162; convolutions 432 + 648
    assert bench.loss_flops("glocal-k/finetune", conv_layers=2, **deeper) == 1870
    with pytest.raises(ValueError):
        bench.loss_flops("deep-ae", **tiny)


def test_gflops_report_runs_and_prints_the_ratio(bench, tiny_split, monkeypatch, capsys,
                                                  keep_threads):
    monkeypatch.setattr(bench, "_load_split", lambda args: tiny_split)
    assert bench.main(["--gflops", "--threads", "1", "--size", "64", "--repeats", "1",
                       "--warmup", "0", "--evaluations", "1"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("ratio (achieved / dense float32"))
    for stage in bench.STAGES:
        assert re.search(rf"{re.escape(stage)} \d+\.\d\d", line), (stage, line)
    assert "float32" in out and "bfloat16" in out and "load average" in out
