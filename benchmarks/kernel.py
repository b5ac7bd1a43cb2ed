"""Time GLocal-K's (or Sparse FC's) faithful scipy L-BFGS-B path against the fast torch path.

    python benchmarks/kernel.py                       # GLocal-K, ML-100K u1, seed 0, both paths
    python benchmarks/kernel.py --paths torch --dataset douban
    python benchmarks/kernel.py --model sparse-fc --dataset ml-1m --paths torch

The faithful path is scipy's L-BFGS-B with the plain computation (``fused=False``: dense
products with R, GLocal-K's global kernel from a separate full pass, ``conv2d``), as a direct
port of the authors' TF1 graph computes it; the fast path is the default (torch L-BFGS with the
fused computation). Both paths start from the same seed (same initial weights) and run the full protocol of the
dataset's defaults (ML-100K: 30 x 5 pre-training and 60 x 5 fine-tuning iterations). Prints one
line per path with the best-epoch and last-epoch test RMSE, the number of function evaluations,
the seconds and the machine's load average before and after (other jobs share the cores, so
say how loaded the machine was when quoting a time), then the speed ratio. ``--out FILE``
appends the same facts as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="glocal-k", choices=["glocal-k", "sparse-fc"])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--split", default=None, help="default: u1 for ml-100k, else canonical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paths", nargs="+", default=["scipy", "torch"],
                        choices=["scipy", "torch"])
    parser.add_argument("--out", default=None, help="append JSON lines to this file")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    from recsys_lib.splits import load_split
    from recsys_lib.training import run

    split_name = args.split or ("u1" if args.dataset == "ml-100k" else None)
    split = load_split(args.dataset, split_name)
    rows = []
    for path in args.paths:
        load_before = os.getloadavg()
        start = time.perf_counter()
        params = {"optimizer": "scipy", "fused": False} if path == "scipy" else {}
        summary = run(args.model, args.dataset, split, seed=args.seed, params=params)
        seconds = time.perf_counter() - start
        row = {"model": args.model, "dataset": args.dataset, "split": split.name,
               "seed": args.seed, "path": path, "seconds": round(seconds, 1),
               "paper_best_test_rmse": round(summary["paper_best_test_rmse"], 5),
               "paper_best_test_epoch": summary["paper_best_test_epoch"],
               "rmse": round(summary["rmse"], 5),
               "function_evaluations": summary["function_evaluations"],
               "loadavg_before": [round(x, 2) for x in load_before],
               "loadavg_after": [round(x, 2) for x in os.getloadavg()],
               "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
        rows.append(row)
        print(f"{path:6s} best test epoch (paper) {row['paper_best_test_rmse']:.4f} (epoch "
              f"{row['paper_best_test_epoch']})  last-epoch RMSE {row['rmse']:.4f}  "
              f"{row['function_evaluations']} evaluations  {seconds:7.1f} s  "
              f"load {row['loadavg_before'][0]:.1f} -> {row['loadavg_after'][0]:.1f}",
              flush=True)
        if args.out:
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
    if len(rows) == 2:
        print(f"speed-up of the torch path: {rows[0]['seconds'] / rows[1]['seconds']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
