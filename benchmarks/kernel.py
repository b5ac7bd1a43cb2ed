"""Time GLocal-K's (or Sparse FC's) faithful scipy L-BFGS-B path against the fast torch path,
or (``--gflops``) set the achieved GFLOP/s of the slow models' loss against the dense limit.

    python benchmarks/kernel.py                       # GLocal-K, ML-100K u1, seed 0, both paths
    python benchmarks/kernel.py --paths torch --dataset douban
    python benchmarks/kernel.py --model sparse-fc --dataset ml-1m --paths torch
    python benchmarks/kernel.py --gflops              # ML-1M random-90-10, two threads

The faithful path is scipy's L-BFGS-B with the plain computation (``fused=False``: dense
products with R, GLocal-K's global kernel from a separate full pass, ``conv2d``), as a direct
port of the authors' TF1 graph computes it; the fast path is the default (torch L-BFGS with the
fused computation). Both paths start from the same seed (same initial weights) and run the full
protocol of the dataset's defaults (ML-100K: 30 x 5 pre-training and 60 x 5 fine-tuning
iterations). Prints one line per path with the best-epoch and last-epoch test RMSE, the number
of function evaluations, the seconds and the machine's load average before and after (other
jobs share the cores, so say how loaded the machine was when quoting a time), then the speed
ratio. ``--out FILE`` appends the same facts as JSON lines.

``--gflops`` times one loss-and-gradient evaluation of GLocal-K (pre-training and fine-tuning
separately), Sparse FC and I-AutoRec with their default hyperparameters, exactly as training
calls it (the model's own objective, captured from its ``fit`` before the optimiser starts;
``--warmup`` evaluations, then the median of ``--evaluations``), on ``--threads`` torch threads
(2 by default). FLOPs are counted from the shapes (:func:`loss_flops`): a dense product
m x k @ k x n costs 2mkn forward and 2mkn more for each operand that needs a gradient (the
backward's ``dA = dC @ B^T`` and ``dB = A^T @ dC``), so 6mkn when both do; a sparse product
with ``nnz`` stored entries and a dense operand of ``width`` columns costs 2 nnz width per
product. Counted: every layer's product and its kernel ``u @ v^T`` (n_dim wide), GLocal-K's
global-kernel pass and its 3x3 convolution (a (1 x 9) @ (9 x rows*cols) product whose input R
needs no gradient); I-AutoRec's five sparse products (encoder, sampled decoder, and dW, dH, dV).
Elementwise work (activations, the kernel's ReLU, W * k, losses, regularisers) is not counted,
so the GFLOP/s are a lower bound of the work done. The dense limit is the median rate of
``--repeats`` ``torch.mm`` of two ``--size`` x ``--size`` float32 matrices on the same threads,
measured before and after the models (the higher is the limit; bfloat16 is shown for
information). Then the ML-1M records of the three models (and this script's ML-1M torch-path
runs in ``results/kernel/benchmark.jsonl``) are listed with the time a run's evaluations would
take at the dense float32 rate (the best a float32 run can do here) and the GFLOP/s its target
would need; GLocal-K records only its total evaluations, split between the stages in
proportion to their iterations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

#: the issue's targets for one ML-1M run on this machine, in minutes
TARGET_MINUTES = {"glocal-k": 15, "sparse-fc": 15, "i-autorec": 5}
#: what ``--gflops`` measures: (label, model, GLocal-K stage or None)
STAGES = {"glocal-k/pretrain": ("glocal-k", "pretrain"),
          "glocal-k/finetune": ("glocal-k", "finetune"),
          "sparse-fc": ("sparse-fc", None), "i-autorec": ("i-autorec", None)}
#: hyperparameters that set the shapes, at the models' defaults
SHAPE_DEFAULTS = {"n_hidden": 500, "n_layers": 2, "n_dim": 5, "kernel_size": 3,
                  "conv_layers": 1}


# --- FLOP counts --------------------------------------------------------------------------------

def matmul_flops(m: int, k: int, n: int, grads: int = 2) -> int:
    """m x k @ k x n: 2mkn forward plus 2mkn per operand that needs a gradient (0, 1 or 2)."""
    return 2 * m * k * n * (1 + grads)


def sparse_flops(nnz: int, width: int, products: int) -> int:
    """``products`` sparse-dense products over ``nnz`` stored entries, ``width`` columns."""
    return 2 * nnz * width * products


def autoencoder_flops(n_rows: int, n_in: int, nnz: int, n_hidden: int, n_layers: int,
                      n_dim: int, dense_input: bool) -> int:
    """One evaluation of the kernelised autoencoder n_in -> n_hidden x n_layers -> n_in on
    n_rows rows: the layers' kernels ``u @ v^T``, the first layer (sparse R: forward and dW;
    a dense input that depends on the parameters: all three products), the other layers."""
    sizes = [n_in] + [n_hidden] * n_layers + [n_in]
    total = sum(matmul_flops(a, n_dim, b) for a, b in zip(sizes[:-1], sizes[1:]))
    if dense_input:
        total += matmul_flops(n_rows, n_in, n_hidden)
    else:
        total += sparse_flops(nnz, n_hidden, products=2)
    return total + sum(matmul_flops(n_rows, a, b) for a, b in zip(sizes[1:-1], sizes[2:]))


def loss_flops(stage: str, n_rows: int, n_in: int, nnz: int, **shape) -> int:
    """FLOPs of one loss-and-gradient evaluation of a :data:`STAGES` entry on an
    n_rows x n_in training matrix (items x users) with ``nnz`` ratings; ``shape`` overrides
    :data:`SHAPE_DEFAULTS`."""
    hp = {**SHAPE_DEFAULTS, **shape}
    h, layers, dim = hp["n_hidden"], hp["n_layers"], hp["n_dim"]
    if stage in ("sparse-fc", "glocal-k/pretrain"):
        return autoencoder_flops(n_rows, n_in, nnz, h, layers, dim, dense_input=False)
    if stage == "i-autorec":
        return sparse_flops(nnz, h, products=5)
    if stage != "glocal-k/finetune":
        raise ValueError(f"unknown stage {stage!r}; use one of {sorted(STAGES)}")
    taps = hp["kernel_size"] ** 2
    total = autoencoder_flops(n_rows, n_in, nnz, h, layers, dim, dense_input=True)
    # the global kernel: the network on sparse R (kernels shared), the last layer as row means
    total += sparse_flops(nnz, h, products=2) + (layers - 1) * matmul_flops(n_rows, h, h)
    total += matmul_flops(n_rows, h, 1) + matmul_flops(1, n_rows, taps)  # pooled @ bank
    # the convolutions: the first has a constant input, the later ones do not
    total += matmul_flops(1, taps, n_rows * n_in, grads=1)
    total += (hp["conv_layers"] - 1) * matmul_flops(1, taps, n_rows * n_in)
    return total


# --- measurements -------------------------------------------------------------------------------

def dense_rate(dtype, size: int, repeats: int) -> tuple[float, float]:
    """(median, best) GFLOP/s of ``torch.mm`` on two size x size matrices (one warm-up)."""
    import torch
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    torch.mm(a, b)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        seconds.append(time.perf_counter() - start)
    flops = 2 * size ** 3
    return flops / statistics.median(seconds) / 1e9, flops / min(seconds) / 1e9


class _Captured(Exception):
    """Raised by a stand-in optimiser to hand back the objective that training built."""

    def __init__(self, evaluate, x):
        super().__init__("objective captured")
        self.evaluate, self.x = evaluate, x


def objective(stage: str, split):
    """``(evaluate, x, shape)``: one loss-and-gradient evaluation at the start point, as the
    model's training calls it, and the arguments of :func:`loss_flops` for it."""
    import torch

    from recsys_lib.models import autorec, create_model
    from recsys_lib.models.kernel.optimizers import _value_and_grad

    name, phase = STAGES[stage]
    if name == "i-autorec":
        # no validation slice: the one run is on the whole training split
        model = create_model(name, validation_fraction=0.0)

        def capture(fun, x0, *args, **kwargs):
            raise _Captured(fun, x0)

        saved = autorec.minimize_lbfgs_b, autorec.minimize_lbfgs_torch
        autorec.minimize_lbfgs_b = autorec.minimize_lbfgs_torch = capture
        try:
            model.fit(split)
        except _Captured as got:
            problem = got.evaluate.__self__  # the bound loss of the model's sparse problem
            return got.evaluate, got.x, {"n_rows": problem.n_rows, "n_in": problem.n_cols,
                                         "nnz": problem.targets.numel(),
                                         "n_hidden": problem.hidden}
        finally:
            autorec.minimize_lbfgs_b, autorec.minimize_lbfgs_torch = saved
        raise RuntimeError("I-AutoRec finished without calling its optimiser")

    # fine-tuning: no pre-training epoch, so the first epoch is the fine-tuning one
    model = create_model(name, **({"n_pretrain_epochs": 0} if phase == "finetune" else {}))

    def capture_epoch(fun, flat, iterations, adam_state):
        raise _Captured(lambda x: _value_and_grad(fun, x), flat)

    model._epoch = capture_epoch
    try:
        model.fit(split)
    except _Captured as got:
        n_rows, n_in = model.R_.shape
        shape = {key: getattr(model, key) for key in SHAPE_DEFAULTS if hasattr(model, key)}
        return got.evaluate, got.x, {"n_rows": n_rows, "n_in": n_in,
                                     "nnz": int(torch.count_nonzero(model.M_)), **shape}
    raise RuntimeError(f"{name} finished without an epoch")


def time_evaluations(evaluate, x, warmup: int, evaluations: int) -> list[float]:
    for _ in range(warmup):
        evaluate(x)
    seconds = []
    for _ in range(evaluations):
        start = time.perf_counter()
        evaluate(x)
        seconds.append(time.perf_counter() - start)
    return seconds


# --- the ML-1M records --------------------------------------------------------------------------

def _number(row: dict, key: str):
    value = row.get(key)
    return None if value is None or value != value else value


def evaluation_parts(row: dict) -> tuple[list[tuple[str, float, float]], str]:
    """A run's loss evaluations as ``[(stage, count, share of the ratings)]`` and as text.

    GLocal-K records only the total: it is split between the stages in proportion to their
    iterations. I-AutoRec's selection run sees the training ratings less the validation slice.
    """
    from recsys_lib.models.kernel.glocal_k import GlocalK

    params = row.get("params") if isinstance(row.get("params"), dict) else {}
    if row["model"] == "i-autorec":
        refit = _number(row, "lbfgs.evaluations") or 0
        chosen = _number(row, "selection_lbfgs.evaluations") or 0
        fraction = params.get("validation_fraction") or 0.0
        text = f"{int(chosen)}+{int(refit)}" if chosen else f"{int(refit)}"
        return [("i-autorec", refit, 1.0), ("i-autorec", chosen, 1.0 - fraction)], text
    total = _number(row, "function_evaluations")
    if row["model"] == "sparse-fc":
        return [("sparse-fc", total, 1.0)], f"{int(total)}"
    hp = {**GlocalK.DATASET_DEFAULTS["ml-1m"],
          **{k[len("resolved_params."):]: v for k, v in row.items()
             if k.startswith("resolved_params.") and v == v}}
    pre = hp["n_pretrain_epochs"] * hp["n_pretrain_iterations"]
    fine = hp["n_finetune_epochs"] * hp["n_finetune_iterations"]
    pre_count, fine_count = total * pre / (pre + fine), total * fine / (pre + fine)
    return ([("glocal-k/pretrain", pre_count, 1.0), ("glocal-k/finetune", fine_count, 1.0)],
            f"{int(total)} (~{round(pre_count)}+{round(fine_count)})")


def ml1m_runs() -> list[dict]:
    """The ML-1M train records of the three models (:func:`recsys_lib.records.collect_records`)
    and the ML-1M torch-path runs of this script kept in ``results/kernel/benchmark.jsonl``
    (``source`` says which), each with the training matrix's shape."""
    from recsys_lib.ledger import read_entries
    from recsys_lib.records import collect_records, results_dir

    try:
        runs = collect_records(results_dir())
    except FileNotFoundError:  # no recorded runs at all
        return []
    runs = runs[(runs["dataset"] == "ml-1m") & runs["model"].isin(list(TARGET_MINUTES))]
    rows = [{**row.to_dict(), "source": "train"} for _, row in runs.iterrows()]
    bench = results_dir() / "kernel" / "benchmark.jsonl"
    if rows and bench.exists():  # shapes from a train record of the same split
        shape = {k: rows[0][k] for k in ("n_items", "n_users", "n_train")}
        for entry in read_entries(bench):
            if entry.get("dataset") == "ml-1m" and entry.get("path") == "torch" and \
                    entry.get("split") == rows[0]["split"]:
                rows.append({**entry, **shape, "source": "benchmark", "defaults": True,
                             "fit_seconds": entry["seconds"],
                             "machine.load_average_1min": entry["loadavg_before"][0]})
    return rows


def record_rows(dense_gflops: float, measured: dict) -> list[dict]:
    """:func:`ml1m_runs` with the time their loss evaluations would take at ``dense_gflops``,
    the GFLOP/s a run would need to meet its target with the same evaluations, the rate it
    achieved over its whole fit, and (when ``measured`` maps every stage to ML-1M seconds per
    evaluation) the time at the measured seconds."""
    out = []
    for row in ml1m_runs():
        params = row.get("params") if isinstance(row.get("params"), dict) else {}
        shape = {k: params[k] for k in SHAPE_DEFAULTS if params.get(k) is not None}
        parts, evaluations = evaluation_parts(row)
        flops = sum(count * loss_flops(stage, row["n_items"], row["n_users"],
                                       round(row["n_train"] * share), **shape)
                    for stage, count, share in parts)
        at_measured = None
        if measured and all(stage in measured for stage, _, _ in parts):
            at_measured = sum(count * share * measured[stage] for stage, count, share in parts)
        target = TARGET_MINUTES[row["model"]]
        out.append({"model": row["model"], "source": row["source"], "seed": int(row["seed"]),
                    "defaults": bool(row["defaults"]), "rmse": row["rmse"],
                    "fit_seconds": row["fit_seconds"], "evaluations": evaluations,
                    "load_1min": _number(row, "machine.load_average_1min"),
                    "target_minutes": target, "flops": flops,
                    "best_f32_seconds": flops / (dense_gflops * 1e9),
                    "run_gflops": flops / row["fit_seconds"] / 1e9,
                    "needed_gflops": flops / (target * 60) / 1e9,
                    "at_measured_seconds": at_measured})
    return out


def print_records(records: list[dict], limit: float) -> None:
    print(f"\nML-1M runs on record (minutes). best f32: the run's loss evaluations x FLOPs per "
          f"evaluation / {limit:.1f} GFLOP/s,\nall other work free; at measured: x the s/eval "
          "above; run GF/s: the run's FLOPs / its fit time; need GF/s: to meet the target")
    print(f"{'model':10s} {'source':9s} {'def':>3s} {'rmse':>6s} {'fit':>5s} "
          f"{'evaluations':>17s} {'load':>5s} {'target':>6s} {'best f32':>8s} "
          f"{'at measured':>11s} {'run GF/s':>8s} {'need GF/s':>9s}")
    if not records:
        print("(no ML-1M record of these models under results/)")
    for rec in records:
        measured_min = "-" if rec["at_measured_seconds"] is None \
            else f"{rec['at_measured_seconds'] / 60:.1f}"
        load = "-" if rec["load_1min"] is None else f"{rec['load_1min']:.2f}"
        print(f"{rec['model']:10s} {rec['source']:9s} {'yes' if rec['defaults'] else 'no':>3s} "
              f"{rec['rmse']:6.4f} {rec['fit_seconds'] / 60:5.1f} {rec['evaluations']:>17s} "
              f"{load:>5s} {rec['target_minutes']:6d} {rec['best_f32_seconds'] / 60:8.1f} "
              f"{measured_min:>11s} {rec['run_gflops']:8.1f} {rec['needed_gflops']:9.1f}")
    print("(GLocal-K's evaluations are split between the stages in proportion to their "
          "iterations; I-AutoRec's\nare selection+refit, the selection on the training ratings "
          "less the validation slice; load: 1-min average)")


# --- the two modes ------------------------------------------------------------------------------

def _load_split(args):
    from recsys_lib.splits import load_split
    split_name = args.split or ("u1" if args.dataset == "ml-100k" else None)
    return load_split(args.dataset, split_name)


def gflops_mode(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    print(f"threads {torch.get_num_threads()}  cpus {os.cpu_count()}  torch {torch.__version__}"
          f"  OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', '(unset)')}  load average "
          f"{' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    f32_before = dense_rate(torch.float32, args.size, args.repeats)
    split = _load_split(args)
    print(f"{split.dataset} {split.name}: {split.n_items} items x {split.n_users} users, "
          f"{len(split.train.ratings)} training ratings", flush=True)
    rows = []
    for stage in args.stages:
        evaluate, x, shape = objective(stage, split)
        seconds = time_evaluations(evaluate, x, args.warmup, args.evaluations)
        flops = loss_flops(stage, **shape)
        rows.append({"stage": stage, "flops": flops, "seconds": statistics.median(seconds),
                     "best_seconds": min(seconds), "shape": shape})
        del evaluate, x
    f32_after = dense_rate(torch.float32, args.size, args.repeats)
    bf16 = dense_rate(torch.bfloat16, args.size, args.repeats)
    limit = max(f32_before[0], f32_after[0])
    load_after = os.getloadavg()

    print(f"\ndense torch.mm {args.size}x{args.size} @ {args.size}x{args.size}, median of "
          f"{args.repeats}: float32 {f32_before[0]:.1f} GFLOP/s before, {f32_after[0]:.1f} "
          f"after (limit: {limit:.1f}); bfloat16 {bf16[0]:.1f} (information only)")
    print(f"{'stage':19s} {'GFLOP/eval':>10s} {'s/eval':>8s} {'GFLOP/s':>8s} "
          f"{'ratio':>6s} {'s/eval at limit':>15s}")
    for row in rows:
        rate = row["flops"] / row["seconds"] / 1e9
        row.update(gflops=rate, ratio=rate / limit, limit_seconds=row["flops"] / limit / 1e9)
        print(f"{row['stage']:19s} {row['flops'] / 1e9:10.2f} {row['seconds']:8.3f} "
              f"{rate:8.1f} {row['ratio']:6.2f} {row['limit_seconds']:15.3f}")
    print("ratio (achieved / dense float32 limit): " +
          ", ".join(f"{row['stage']} {row['ratio']:.2f}" for row in rows))
    print(f"(median of {args.evaluations} evaluations after {args.warmup} warm-up; load average "
          f"{load_before[0]:.2f} -> {load_after[0]:.2f})")

    measured = {row["stage"]: row["seconds"] for row in rows} \
        if split.dataset == "ml-1m" else {}
    print_records(record_rows(limit, measured), limit)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({
                    "dataset": split.dataset, "split": split.name, "threads": args.threads,
                    "dense_f32_gflops": limit, "dense_bf16_gflops": bf16[0],
                    "loadavg_before": load_before[0], "loadavg_after": load_after[0],
                    **row}) + "\n")
    return 0


def paths_mode(args) -> int:
    import torch

    from recsys_lib.training import run

    if args.threads:
        torch.set_num_threads(args.threads)
    split = _load_split(args)
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
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
    if len(rows) == 2:
        print(f"speed-up of the torch path: {rows[0]['seconds'] / rows[1]['seconds']:.2f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="glocal-k", choices=["glocal-k", "sparse-fc"])
    parser.add_argument("--dataset", default=None,
                        help="default: ml-100k (ml-1m with --gflops)")
    parser.add_argument("--split", default=None, help="default: u1 for ml-100k, else canonical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paths", nargs="+", default=["scipy", "torch"],
                        choices=["scipy", "torch"])
    parser.add_argument("--out", default=None, help="append JSON lines to this file")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (--gflops: 2 by default; else torch's default)")
    gflops = parser.add_argument_group("--gflops")
    gflops.add_argument("--gflops", action="store_true",
                        help="achieved GFLOP/s of a loss evaluation against the dense limit")
    gflops.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    gflops.add_argument("--evaluations", type=int, default=5)
    gflops.add_argument("--warmup", type=int, default=1)
    gflops.add_argument("--size", type=int, default=4096, help="of the dense matmul")
    gflops.add_argument("--repeats", type=int, default=3, help="of the dense matmul")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.gflops:
        args.dataset = args.dataset or "ml-1m"
        args.threads = args.threads or 2
        return gflops_mode(args)
    args.dataset = args.dataset or "ml-100k"
    return paths_mode(args)


if __name__ == "__main__":
    raise SystemExit(main())
