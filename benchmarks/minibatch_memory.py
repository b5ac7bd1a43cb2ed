"""Peak memory of sparse-i-autorec against the dense i-autorec as the ratings grow.

    python benchmarks/minibatch_memory.py                     # every shape, 3 batches each
    python benchmarks/minibatch_memory.py --shapes ml-1m --out results/scale/minibatch_memory.jsonl

Each case runs in a fresh process (``--case``), so its peak resident memory (``ru_maxrss``)
is its own. The process first builds the ratings (a real split, or a MovieLens-shaped random
set of the given counts, made from a seed without a dense matrix) and notes its resident
memory; then it trains, with the model's own code, ``--batches`` minibatches of
sparse-i-autorec (ItemRows, ItemAutoencoder, Adam, batch_loss: the steps of one epoch) or
``--iterations`` L-BFGS iterations of the dense i-autorec (its _SparseAutoRecProblem and the
scipy L-BFGS-B it calls). ``model_gb`` is the peak less the memory before training: what the
model adds to the data. The dense model is run only where its state (the parameters, the
gradient and L-BFGS's ``2 * history`` correction vectors, float64, plus the full-batch hidden
layer) fits under half of the machine's memory; elsewhere that arithmetic is printed and
recorded as ``estimate_gb`` and the case is not run. ``dense_matrix_gb`` is what the item x
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

#: name -> (users, items, ratings); the MovieLens counts of the GroupLens READMEs
SHAPES = {"ml-100k": None, "ml-1m": None,
          "ml-10m-shape": (69_878, 10_677, 10_000_054),
          "ml-25m-shape": (162_541, 59_047, 25_000_095)}


def machine_gb() -> float:
    """The memory this process may use, in GB: MemTotal, or the cgroup limit when lower."""
    with open("/proc/meminfo") as info:
        total = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    limit = total * 1024
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text != "max":
            limit = min(limit, int(text))
    except OSError:
        pass
    return limit / 1e9


def rss_gb() -> float:
    """The resident memory of this process now, in GB."""
    with open("/proc/self/status") as status:
        kb = int(next(line for line in status if line.startswith("VmRSS")).split()[1])
    return kb * 1024 / 1e9


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def ratings_of(shape: str, seed: int):
    """(items, users, ratings, n_items, n_users): a real split's training part, or random
    ratings with heavy-tailed user and item activity, duplicates dropped, never dense."""
    import numpy as np

    if SHAPES[shape] is None:
        from recsys_lib.splits import load_split

        split = load_split(shape)
        train = split.train
        return train.items, train.users, train.ratings, split.n_items, split.n_users
    n_users, n_items, n_ratings = SHAPES[shape]
    rng = np.random.default_rng(seed)
    item_weight = np.minimum(rng.lognormal(0.0, 1.6, n_items), 400.0)
    user_weight = rng.lognormal(0.0, 1.0, n_users)
    items = rng.choice(n_items, n_ratings, p=item_weight / item_weight.sum())
    users = rng.choice(n_users, n_ratings, p=user_weight / user_weight.sum())
    keys = np.unique(items.astype(np.int64) * n_users + users)
    items, users = keys // n_users, keys % n_users
    ratings = rng.integers(1, 11, len(keys)).astype(np.float32) / 2
    return items, users, ratings, n_items, n_users


def dense_estimate_gb(n_users: int, n_items: int, n_hidden: int, history: int = 10) -> float:
    """The dense i-autorec's state: 2 * history + 4 float64 vectors of its parameters, and
    its full-batch hidden layer and gradient (n_items x n_hidden, float32, twice)."""
    n_params = 2 * n_users * n_hidden + n_hidden + n_users
    return ((2 * history + 4) * n_params * 8 + 2 * n_items * n_hidden * 4) / 1e9


def run_case(model: str, shape: str, batch_size: int, n_hidden: int, batches: int,
             iterations: int, seed: int) -> dict:
    """One case, in this process: the facts of one line of the table."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    items, users, ratings, n_items, n_users = ratings_of(shape, seed)
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
    return {"shape": shape, "model": model, "n_users": int(n_users), "n_items": int(n_items),
            "n_ratings": int(len(ratings)), "batch_size": batch_size if
            model == "sparse-i-autorec" else None, "n_hidden": n_hidden,
            "steps": int(done), "seconds": round(seconds, 2),
            "data_gb": round(before, 3), "peak_gb": round(peak_gb(), 3),
            "model_gb": round(peak_gb() - before, 3),
            "dense_matrix_gb": round(n_users * n_items * 4 / 1e9, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-hidden", type=int, default=500)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(*args.case, args.batch_size, args.n_hidden, args.batches,
                                  args.iterations, args.seed)))
        return 0
    limit = machine_gb()
    lines = []
    for shape in args.shapes:
        for model in ("sparse-i-autorec", "i-autorec"):
            counts = SHAPES[shape]
            line = None
            if model == "i-autorec" and counts is not None:
                estimate = dense_estimate_gb(counts[0], counts[1], args.n_hidden)
                if estimate > limit / 2:
                    line = {"shape": shape, "model": model, "n_users": counts[0],
                            "n_items": counts[1], "n_ratings": counts[2],
                            "n_hidden": args.n_hidden, "estimate_gb": round(estimate, 1),
                            "dense_matrix_gb": round(counts[0] * counts[1] * 4 / 1e9, 3)}
            if line is None:
                command = [sys.executable, __file__, "--case", model, shape,
                           "--batch-size", str(args.batch_size), "--n-hidden",
                           str(args.n_hidden), "--batches", str(args.batches),
                           "--iterations", str(args.iterations), "--seed", str(args.seed)]
                done = subprocess.run(command, capture_output=True, text=True,
                                      env=dict(os.environ, PYTHONPATH=str(ROOT)))
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
                line = json.loads(done.stdout.strip().splitlines()[-1])
            line["machine_gb"] = round(limit, 1)
            lines.append(line)
            print(json.dumps(line), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as out:
            for line in lines:
                out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
