"""Our classical models against scikit-surprise on the same split, in one process.

    python benchmarks/classical.py [--dataset ml-100k] [--split u1] [--seed 0] [--out FILE]

Trains each pair (ours, Surprise's) on exactly the same training ratings, scores both with
recsys_lib.metrics, and prints a table of RMSE and fit seconds with the speed ratio
(Surprise's fit seconds divided by ours). The machine's load average is printed too: timings on
a shared machine are noisy, but both models of a row run back to back under the same load.
Surprise is single-threaded; ours uses torch's threads (the count is printed). ``--out FILE``
appends one JSON line per row (with the load averages and thread count) for the chapters.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone

import torch

from recsys_lib.splits import load_split
from recsys_lib.training import run

PAIRS = [  # (row label, our model, Surprise's model)
    ("biased MF (Surprise SVD settings)", "biased-mf-sgd", "surprise-svd"),
    ("SVD++", "svdpp", "surprise-svdpp"),
    ("item kNN, baseline Pearson", "knn-pearson", "surprise-knnbaseline"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--split", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="append JSON lines to this file")
    args = parser.parse_args()
    split = load_split(args.dataset, args.split)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print(f"{args.dataset} {split.name}: {len(split.train):,} train / {len(split.test):,} test; "
          f"load average before: {os.getloadavg()[0]:.2f}; torch threads: "
          f"{torch.get_num_threads()}")
    header = (f"{'model':36s} {'ours RMSE':>9s} {'ours fit s':>10s} {'Surprise RMSE':>13s} "
              f"{'Surprise fit s':>14s} {'speed ratio':>11s}")
    print(header)
    print("-" * len(header))
    rows = []
    for label, ours, theirs in PAIRS:
        mine = run(ours, args.dataset, split, seed=args.seed)
        other = run(theirs, args.dataset, split, seed=args.seed)
        ratio = other["fit_seconds"] / mine["fit_seconds"]
        rows.append({"model": label, "ours": ours, "surprise": theirs, "split": split.name,
                     "recorded_on": stamp, "seed": args.seed,
                     "torch_threads": torch.get_num_threads(),
                     "load_average_1min": round(os.getloadavg()[0], 2),
                     "ours_rmse": mine["rmse"], "ours_fit_seconds": mine["fit_seconds"],
                     "surprise_rmse": other["rmse"], "surprise_fit_seconds": other["fit_seconds"],
                     "speed_ratio": ratio})
        print(f"{label:36s} {mine['rmse']:9.4f} {mine['fit_seconds']:10.2f} "
              f"{other['rmse']:13.4f} {other['fit_seconds']:14.2f} {ratio:10.1f}x", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(json.dumps({"dataset": args.dataset, "split": split.name, "rows": rows}))
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({"dataset": args.dataset, **row}) + "\n")


if __name__ == "__main__":
    main()
