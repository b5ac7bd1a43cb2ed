"""Minibatch training on one process or several, with torch's DistributedDataParallel.

The book writes no engine of its own: :func:`launch` starts ``world_size`` processes with
``torch.multiprocessing.spawn``, each joins a process group on 127.0.0.1 (gloo on the CPU,
NCCL on CUDA, one GPU per process) and runs the same training function; DDP all-reduces the
gradients after every backward pass, so every process takes the same optimiser step.

Why world size 2 equals world size 1: every process draws the same seeded order of the
training units (items, or rating triples) and the same *global* batches; process ``rank``
takes the slice ``batch[rank::world_size]`` (:func:`shard`). Its loss is its share of the
global batch's loss, scaled by ``world_size`` (DDP averages the gradients over the
processes), so the averaged gradient is the gradient of the whole global batch: only the order
of floating-point sums differs. With ``world_size=1`` no process is started and no group made.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from .errors import DistributedRunError, InvalidParameterError
from .machine import free_port  # the one free-port probe (Spark's local cluster uses it too)
from .selection import BestEpoch, end_epoch
from .torch_utils import check_finite, snapshot_of

HOST = "127.0.0.1"
__all__ = ["free_port", "launch", "run_epochs", "shard", "wrap", "check_world_size"]


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def max_world_size(device: torch.device) -> int:
    """How many processes may train at once: one per GPU on CUDA, one per core on the CPU,
    one on any other device (MPS has no process-group backend)."""
    if device.type == "cuda":
        return torch.cuda.device_count()
    return cpu_cores() if device.type == "cpu" else 1


def check_world_size(model: str, world_size: int, device: torch.device) -> None:
    """InvalidParameterError, in one line, when ``world_size`` exceeds :func:`max_world_size`."""
    limit = max_world_size(device)
    if world_size > limit:
        what = {"cuda": "CUDA devices", "cpu": "CPU cores"}.get(device.type,
                                                                f"process on {device.type}")
        raise InvalidParameterError(f"{model}: world_size {world_size} exceeds the {limit} "
                                    f"{what} of this machine")


def backend(device: torch.device) -> str:
    """The process-group backend for ``device``: NCCL for CUDA, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(device: torch.device, rank: int) -> torch.device:
    """The device of process ``rank``: the rank-th GPU on CUDA, else ``device`` itself."""
    return torch.device("cuda", rank) if device.type == "cuda" else device


def launch(worker: Callable, world_size: int, device: torch.device, *args):
    """``worker(rank, world_size, device, *args)`` on ``world_size`` processes; returns what
    rank 0 returned. ``worker`` must be a module-level function (the processes import it).
    ``world_size=1`` calls it here, with no process group. A process that fails is one
    :class:`~recsys_lib.errors.DistributedRunError` naming the failure."""
    if world_size == 1:
        return worker(0, 1, device, *args)
    with tempfile.TemporaryDirectory(prefix="recsys-ddp-") as folder:
        out = os.path.join(folder, "rank0.pt")
        try:
            mp.spawn(_entry, args=(world_size, free_port(), device, worker, args, out),
                     nprocs=world_size, join=True)
        except mp.ProcessRaisedException as exc:
            last = [line for line in str(exc).strip().splitlines() if line.strip()][-1]
            raise DistributedRunError(f"a training process failed: {last.strip()}") from None
        except mp.ProcessExitedException as exc:
            raise DistributedRunError(f"a training process died: {exc}") from None
        return torch.load(out, weights_only=False)


def _entry(rank, world_size, port, device, worker, args, out):
    """One spawned process: threads, device, process group, the worker, rank 0's result."""
    device = rank_device(device, rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.set_num_threads(max(1, cpu_cores() // world_size))
    dist.init_process_group(backend(device), init_method=f"tcp://{HOST}:{port}", rank=rank,
                            world_size=world_size)
    try:
        result = worker(rank, world_size, device, *args)
        if rank == 0:
            torch.save(result, out)
    finally:
        dist.destroy_process_group()


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Process ``rank``'s part of a global batch: every ``world_size``-th unit from ``rank``."""
    return batch[rank::world_size]


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` in DistributedDataParallel inside a process group, else as it is."""
    if not dist.is_initialized():
        return module
    return DistributedDataParallel(module, device_ids=[device.index]
                                   if device.type == "cuda" else None)


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """The sums over the processes of a few numbers (as they are without a group)."""
    if not dist.is_initialized():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def run_epochs(module: torch.nn.Module, optimizer: torch.optim.Optimizer, *, batches: Callable,
               step_loss: Callable, n_epochs: int, lr_decay: float, seed: int,
               tracker: BestEpoch | None,
               validation_rmse: Callable[[], float], rank: int, world_size: int,
               device: torch.device) -> tuple[list, list]:
    """The minibatch loop every process runs.

    ``batches(generator)`` gives one epoch's global batches (index tensors) from a generator
    seeded with ``seed`` in every process; ``step_loss(net, part, batch)`` gives this process's loss
    on its ``part`` of the global ``batch`` (already scaled, see the module's docstring), its
    sum of squared errors and its count of ratings. After each epoch the learning rate is
    multiplied by ``lr_decay`` and the epoch is closed by :func:`recsys_lib.selection.end_epoch`
    (every process scores the validation slice with the same parameters, so all stop at the
    same epoch). Returns the curve and the seconds of each epoch.
    """
    net = wrap(module, device)
    generator = torch.Generator().manual_seed(seed)
    curve, seconds = [], []
    for epoch in range(1, n_epochs + 1):
        start = time.perf_counter()
        net.train()
        sse = count = 0.0
        for batch in batches(generator):
            loss, part_sse, part_count = step_loss(net, shard(batch, rank, world_size), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sse, count = sse + part_sse, count + part_count
        sse, count = all_sum([sse, count], device)
        check_finite(sse, f"epoch {epoch}")
        for group in optimizer.param_groups:
            group["lr"] *= lr_decay
        seconds.append(time.perf_counter() - start)
        point = {"epoch": epoch, "train_rmse": math.sqrt(sse / max(count, 1.0))}
        net.eval()
        if end_epoch(curve, point, tracker, validation_rmse, snapshot_of(module)):
            break
    if tracker is not None and tracker.state is not None:
        module.load_state_dict(tracker.state)
    return curve, seconds
