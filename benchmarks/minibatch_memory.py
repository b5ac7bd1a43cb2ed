"""Peak memory of sparse-i-autorec against the dense i-autorec as the ratings grow.

    python benchmarks/minibatch_memory.py                     # every dataset, 3 batches each
    python benchmarks/minibatch_memory.py --datasets ml-1m --out results/scale/minibatch_memory.jsonl

Each case runs in a fresh process (``--case``), so its peak resident memory (``ru_maxrss``)
is its own. The process first loads the training ratings of the dataset's default split (ML-100K
and ML-1M, or the synthetic MovieLens-shaped stand-ins of chapter 13, ``synthetic-ml10m``
and ``synthetic-ml25m``) and notes its resident memory; then it trains, with the model's own code, ``--batches`` minibatches of
sparse-i-autorec (ItemRows, ItemAutoencoder, Adam, batch_loss: the steps of one epoch) or
``--iterations`` L-BFGS iterations of the dense i-autorec (its _SparseAutoRecProblem and the
scipy L-BFGS-B it calls). ``model_gb`` is the peak less the memory before training: what the
model adds to the data. The dense model is run only where its state (the parameters, the
gradient and L-BFGS's ``2 * history`` correction vectors, float64, plus the full-batch hidden
layer) fits under half of the machine's memory; elsewhere that arithmetic is printed and
recorded as ``estimate_gb`` and nothing is trained. ``dense_matrix_gb`` is what the item x
user matrix alone would take in float32. The machine's limit (``machine_gb``) is MemTotal of
/proc/meminfo, or the cgroup's limit when lower.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: the datasets measured, smallest first
DATASETS = ("ml-100k", "ml-1m", "synthetic-ml10m", "synthetic-ml25m")


def machine_gb() -> float:
    """The memory this process may use, in GB: MemTotal, or the cgroup limit when lower."""
    with open("/proc/meminfo", encoding="utf-8") as info:
        total = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    limit = total * 1024
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text(encoding="utf-8").strip()
        if text != "max":
            limit = min(limit, int(text))
    except OSError:
        pass
    return limit / 1e9


def rss_gb() -> float:
    """The resident memory of this process now, in GB."""
    with open("/proc/self/status", encoding="utf-8") as status:
        kb = int(next(line for line in status if line.startswith("VmRSS")).split()[1])
    return kb * 1024 / 1e9


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def ratings_of(dataset: str):
    """(items, users, ratings, n_items, n_users) of the dataset's default training part."""
    from recsys_lib.splits import load_split

    split = load_split(dataset)
    train = split.train
    return train.items, train.users, train.ratings, split.n_items, split.n_users


def dense_estimate_gb(n_users: int, n_items: int, n_hidden: int, history: int = 10) -> float:
    """The dense i-autorec's state: 2 * history + 4 float64 vectors of its parameters, and
    its full-batch hidden layer and gradient (n_items x n_hidden, float32, twice)."""
    n_params = 2 * n_users * n_hidden + n_hidden + n_users
    return ((2 * history + 4) * n_params * 8 + 2 * n_items * n_hidden * 4) / 1e9


def run_case(model: str, dataset: str, batch_size: int, n_hidden: int, batches: int,
             iterations: int, seed: int) -> dict:
    """One case, in this process: the facts of one line of the table."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    items, users, ratings, n_items, n_users = ratings_of(dataset)
    facts = {"dataset": dataset, "model": model, "n_users": int(n_users),
             "n_items": int(n_items), "n_ratings": int(len(ratings)), "n_hidden": n_hidden,
             "dense_matrix_gb": round(n_users * n_items * 4 / 1e9, 3),
             "machine_gb": round(machine_gb(), 1)}
    if model == "i-autorec":
        estimate = dense_estimate_gb(n_users, n_items, n_hidden)
        if estimate > machine_gb() / 2:
            return {**facts, "estimate_gb": round(estimate, 1)}
    before = rss_gb()
    start = time.perf_counter()
    if model == "sparse-i-autorec":
        from recsys_lib.models.autorec import initial_weights
        from recsys_lib.models.minibatch import ItemAutoencoder, ItemRows, batch_loss

        rows = ItemRows(items, users, ratings, n_items, n_users)
        del items, users
        module = ItemAutoencoder(initial_weights(n_users, n_hidden, seed, 3.5, "authors"),
                                 "sigmoid", "identity", (1.0, 5.0))
        optimizer = torch.optim.Adam(module.parameters(), lr=3e-3, fused=True)
        penalty = 200.0 / (2 * len(ratings))
        order = np.random.default_rng(seed).permutation(rows.rated)
        for step in range(batches):
            batch = order[step * batch_size:(step + 1) * batch_size]
            loss = batch_loss(module, module, rows, batch, batch, penalty, 1, "cpu")[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        done = batches
    else:
        from recsys_lib.models.autorec import _SparseAutoRecProblem
        from recsys_lib.torch_utils import minimize_lbfgs_b

        problem = _SparseAutoRecProblem(items, users, ratings, n_items, n_users, n_hidden,
                                        200.0, "sigmoid", "identity", (1.0, 5.0),
                                        torch.float32, "cpu")
        theta0 = problem.init_theta(seed, 3.5, "authors")
        _, info = minimize_lbfgs_b(problem.loss_grad, theta0, iterations)
        done = info["iterations"]
    seconds = time.perf_counter() - start
    return {**facts, "batch_size": batch_size if model == "sparse-i-autorec" else None,
            "steps": int(done), "seconds": round(seconds, 2), "data_gb": round(before, 3),
            "peak_gb": round(peak_gb(), 3), "model_gb": round(peak_gb() - before, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-hidden", type=int, default=500)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "DATASET"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(*args.case, args.batch_size, args.n_hidden, args.batches,
                                  args.iterations, args.seed)))
        return 0
    lines = []
    for dataset in args.datasets:
        for model in ("sparse-i-autorec", "i-autorec"):
            command = [sys.executable, __file__, "--case", model, dataset,
                       "--batch-size", str(args.batch_size), "--n-hidden",
                       str(args.n_hidden), "--batches", str(args.batches),
                       "--iterations", str(args.iterations), "--seed", str(args.seed)]
            done = subprocess.run(command, capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            lines.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(lines[-1]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", encoding="utf-8") as out:
            for line in lines:
                out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
