"""Data-parallel training across processes (``torch.distributed``), as the trainer uses it.

A run is distributed when its processes were started by ``torchrun`` (or by Spark's
``TorchDistributor``, which runs ``torchrun``), which sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. :func:`init_from_env` joins the
process group from those variables (gloo on CPU, NCCL on GPUs), and
:class:`~recutils.nn.trainer.Trainer` then trains data-parallel by itself:

* **Same global batch.** ``train.batch_size`` is the *global* batch: every rank walks the
  same seeded permutation of the rows (``default_rng([seed, epoch])``), and each global
  batch is cut into ``world_size`` contiguous shards (:func:`shard_bounds`); rank ``r``
  takes shard ``r``. The per-rank batch is therefore ``batch_size / world_size``.
* **Gradients.** :meth:`Trainer.fit` wraps the network in
  :class:`~torch.nn.parallel.DistributedDataParallel` (gradients averaged across ranks
  during the backward pass). Each rank's loss is weighted by its share of the global
  batch (:func:`shard`), so the averaged gradient is the gradient of the global batch's
  mean loss, as in one process. :meth:`Trainer.fit_epochs` (the collaborative-filtering
  models, whose losses call the network's own methods, e.g. LightGCN's propagation, and
  not ``forward``, which DDP's hooks need) averages the gradients itself after each
  backward pass (:func:`average_gradients`, one all-reduce per gradient).
* **Sparse embedding gradients** are all-reduced by DDP under gloo (checked by the tests);
  NCCL has no sparse all-reduce, so a sparse optimizer under NCCL is refused
  (:func:`check_sparse_backend`): use a dense optimizer (``adam``, ``adagrad``) there.
* **Metrics.** The trainer's validation predictions are computed on each rank's shard of
  the validation rows and gathered (:func:`gather_rows`), so every rank computes the
  same AUC on all the rows; training losses are averaged across ranks, and the
  per-epoch history fields of a collaborative-filtering model's batch source are
  combined across ranks (:func:`combine_rows`), so a row describes the whole epoch.
* **Random draws.** The weights are the same on every rank (rank 0's are broadcast before
  the first step, and DDP checks it), but each rank draws its own dropout masks and other
  torch random numbers: once the weights agree, ranks ``r > 0`` re-seed torch's RNG with
  :func:`rank_seed` ``(seed, r, step)`` (:func:`seed_rank`), while rank 0 keeps the stream
  one process would have (so a 2-rank run's rank 0 draws what a 1-process run draws). With
  the same seed on every rank, every shard would be trained with the same masks: the noise
  dropout adds would be repeated ``world_size`` times instead of averaged.
* **Checkpoints** are written by rank 0 only; they hold the global step (in global
  batches), the global batch size and the world size, so a run resumes on any number of
  ranks (the epoch permutation depends on the seed and the epoch only). A checkpoint of a
  different global batch size is refused with a message saying which size to use.
* **A rank that cannot reach the others** fails after ``timeout_s`` seconds with
  :class:`DistributedTimeoutError` (never hangs).

This module imports torch; :func:`world_from_env` reads the environment without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from recutils.exceptions import ConfigError, ModelFitError
from recutils.utils.deps import require

torch = require("torch", "torch")

logger = logging.getLogger(__name__)

#: Variables ``torchrun`` sets for each process.
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: Seconds a rank waits for the others (joining the group, then every collective).
DEFAULT_TIMEOUT_S = 300.0
#: Accepted ``backend`` values.
BACKENDS = ("auto", "gloo", "nccl")


class DistributedTimeoutError(ModelFitError):
    """A rank could not reach the others within the timeout."""


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a data-parallel run.

    Attributes:
        rank: This process's rank, from 0.
        world_size: Processes in the run.
        local_rank: Rank on this machine (the GPU index under NCCL).
        backend: ``gloo`` or ``nccl``.
    """

    rank: int
    world_size: int
    local_rank: int = 0
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the one that prints and writes files)."""
        return self.rank == 0


def world_from_env(env: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the ``torchrun`` variables (``(0, 1, 0)`` without them).

    Raises:
        ConfigError: a variable is not a whole number, or the rank is outside the world.
    """
    env = os.environ if env is None else env
    try:
        rank = int(env.get("RANK", "0"))
        world = int(env.get("WORLD_SIZE", "1"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise ConfigError(f"RANK / WORLD_SIZE / LOCAL_RANK must be whole numbers: {err}.") from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(
            f"RANK={rank} and WORLD_SIZE={world}: the rank must be in [0, WORLD_SIZE)."
        )
    return rank, world, local


def resolve_backend(backend: str = "auto") -> str:
    """``auto`` -> ``nccl`` when CUDA is available, else ``gloo``.

    Raises:
        ConfigError: an unknown backend, or ``nccl`` without a CUDA device.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"distributed backend {backend!r}; allowed: {list(BACKENDS)}.")
    if backend == "auto":
        return "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl" and not torch.cuda.is_available():
        raise ConfigError(
            "the nccl backend needs CUDA GPUs, and this process sees none "
            "(torch.cuda.is_available() is False): use backend 'gloo' (or 'auto') on CPUs."
        )
    return backend


def current() -> DistributedContext | None:
    """The context of the initialized process group of more than one rank, else ``None``."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    world = torch.distributed.get_world_size()
    if world < 2:
        return None
    _, _, local = world_from_env()
    return DistributedContext(
        torch.distributed.get_rank(), world, local, str(torch.distributed.get_backend())
    )


def init_from_env(
    backend: str = "auto",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> DistributedContext | None:
    """Join the process group ``torchrun`` describes in the environment.

    Returns ``None`` (nothing to join) when ``WORLD_SIZE`` is unset or 1; the current
    context when the group is already initialized.

    Args:
        backend: ``auto`` (NCCL with CUDA, else gloo), ``gloo`` or ``nccl``.
        timeout_s: Seconds to wait for the other ranks (also the timeout of every
            collective operation afterwards).
        env: The variables (default ``os.environ``).

    Raises:
        ConfigError: a bad backend, NCCL without GPUs, or ``MASTER_ADDR`` / ``MASTER_PORT``
            missing.
        DistributedTimeoutError: the ranks did not all join within ``timeout_s``.
    """
    env = os.environ if env is None else env
    rank, world, local = world_from_env(env)
    if world == 1:
        return None
    if torch.distributed.is_initialized():
        return current()
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not env.get(k)]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={world} but {missing} unset: start the processes with torchrun "
            "(torchrun --nproc-per-node N ...), which sets them."
        )
    chosen = resolve_backend(backend)
    if chosen == "nccl":
        torch.cuda.set_device(local)
    where = f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
    try:
        torch.distributed.init_process_group(
            chosen,
            init_method=f"tcp://{where}",
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=float(timeout_s)),
        )
    except torch.distributed.DistError as err:
        raise DistributedTimeoutError(
            f"rank {rank} of {world} could not reach the other ranks at {where} within {timeout_s:g} s "
            f"({type(err).__name__}: {str(err).splitlines()[0]}). Check that all {world} processes were "
            "started, that MASTER_ADDR / MASTER_PORT name rank 0's machine and a free port reachable from "
            "every machine (firewall), or raise the timeout."
        ) from None
    logger.info("joined the %s process group as rank %d of %d", chosen, rank, world)
    return current()


def shutdown() -> None:
    """Leave the process group (nothing when none is initialized)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[start, stop)`` of rank ``rank``'s contiguous shard of ``n`` rows (the first
    ``n % world_size`` ranks take one row more)."""
    base, extra = divmod(int(n), int(world_size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _rows(batch: Any) -> int:
    if isinstance(batch, Mapping):
        return _rows(next(iter(batch.values())))
    if isinstance(batch, (tuple, list)):
        return _rows(batch[0])
    return int(batch.shape[0])


def _slice(batch: Any, start: int, stop: int) -> Any:
    if isinstance(batch, Mapping):
        return {k: _slice(v, start, stop) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_slice(v, start, stop) for v in batch)
    return batch[start:stop]


def shard(batch: Any, context: DistributedContext) -> tuple[Any, float]:
    """This rank's part of a global ``batch`` and the weight of its mean loss.

    ``batch``: a tensor or array (rows first), or a mapping / tuple of them. The weight
    ``local_rows * world_size / global_rows`` makes the average of the ranks' weighted
    mean losses the mean loss of the global batch. A rank whose shard would be empty
    (a last batch with fewer rows than ranks) gets the batch's first row and weight 0, so
    that it still joins the gradient all-reduce.
    """
    n = _rows(batch)
    start, stop = shard_bounds(n, context.rank, context.world_size)
    if stop == start:
        return _slice(batch, 0, 1), 0.0
    return _slice(batch, start, stop), (stop - start) * context.world_size / n


def average_gradients(parameters: Sequence[Any], context: DistributedContext) -> None:
    """Replace every parameter's gradient by its mean over the ranks (dense gradients in
    one flat all-reduce; sparse ones one by one, under gloo)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    dense = [g for g in grads if not g.is_sparse]
    if dense:
        flat = torch._utils._flatten_dense_tensors(dense)
        torch.distributed.all_reduce(flat)
        flat /= context.world_size
        for g, synced in zip(dense, torch._utils._unflatten_dense_tensors(flat, dense)):
            g.copy_(synced)
    for p in parameters:
        if p.grad is not None and p.grad.is_sparse:
            g = p.grad.coalesce()
            torch.distributed.all_reduce(g)
            p.grad = g.coalesce() / context.world_size


def broadcast_state(module: Any) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            torch.distributed.broadcast(tensor.data, src=0)


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The torch seed of rank ``rank`` (> 0) from step ``step`` on: drawn from
    ``numpy.random.SeedSequence([seed, rank, step])``, so that ranks, seeds and resumed
    steps give unrelated streams (and none replays the stream that initialised the weights)."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(step)]).generate_state(1)[0])


def seed_rank(seed: int, context: DistributedContext | None, step: int = 0) -> None:
    """Give this rank its own torch random stream (dropout masks, sampled negatives) once the
    weights agree across ranks: ranks ``r > 0`` seed torch (every device) with
    :func:`rank_seed`; rank 0 and a single process keep their stream. ``step`` is the step
    training starts at (a resumed run restores rank 0's stream from the checkpoint)."""
    if context is None or context.rank == 0:
        return
    torch.manual_seed(rank_seed(seed, context.rank, step))


def mean_across(value: Any) -> Any:
    """The mean over the ranks of a scalar tensor (a new tensor)."""
    out = value.detach().clone().reshape(1).float()
    torch.distributed.all_reduce(out)
    return out[0] / torch.distributed.get_world_size()


def gather_rows(local: np.ndarray, context: DistributedContext) -> np.ndarray:
    """Concatenate the ranks' 1-d float arrays in rank order (shards of different lengths)."""
    t = torch.from_numpy(np.ascontiguousarray(local, dtype=np.float64))
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(context.world_size)]
    torch.distributed.all_gather(sizes, torch.tensor([t.numel()], dtype=torch.int64))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, dtype=torch.float64)
    padded[: t.numel()] = t
    parts = [torch.zeros(longest, dtype=torch.float64) for _ in range(context.world_size)]
    torch.distributed.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes)]).numpy()


def combine_rows(
    row: Mapping[str, Any], context: DistributedContext, summed: Collection[str] = ()
) -> dict[str, Any]:
    """One history row for all the ranks from each rank's ``row`` (the same keys on every rank).

    Each floating-point field (and each field named in ``summed``) is gathered from every
    rank: a field in ``summed`` (each rank's share of a sum over the epoch's rows, e.g. the
    loss summed over the rows this rank trained on divided by the epoch's row count) becomes
    the sum over the ranks; any other field the ranks disagree on becomes their mean, and a
    field every rank holds the same value of (the epoch's ``beta``, a learning rate) is kept
    as it is. Other fields (whole numbers, text) are left as they are (the same on every rank).
    """
    keys = [k for k, v in row.items() if k in summed or isinstance(v, (float, np.floating))]
    out = dict(row)
    if not keys:
        return out
    local = torch.tensor([float(row[k]) for k in keys], dtype=torch.float64)
    parts = [torch.zeros_like(local) for _ in range(context.world_size)]
    torch.distributed.all_gather(parts, local)
    values = torch.stack(parts)  # [world, fields]
    for j, key in enumerate(keys):
        column = values[:, j]
        if key in summed:
            out[key] = float(column.sum())
        elif not bool((column == column[0]).all()):
            out[key] = float(column.mean())
    return out


def barrier() -> None:
    """Wait for every rank (nothing outside a process group)."""
    if current() is not None:
        torch.distributed.barrier()


def check_sparse_backend(context: DistributedContext | None, sparse: bool) -> None:
    """:class:`ConfigError` for sparse gradients under NCCL (which cannot all-reduce them)."""
    if context is not None and sparse and context.backend == "nccl":
        raise ConfigError(
            "a sparse optimizer (sparse gradients) cannot train under the nccl backend, which has "
            "no sparse all-reduce: use a dense optimizer for the embeddings (adam, adagrad without "
            "sparse) on GPUs, or the gloo backend."
        )


def local_cuda_device() -> Any:
    """``cuda:<LOCAL_RANK>`` (the GPU of this process in a ``torchrun`` run)."""
    return torch.device("cuda", world_from_env()[2] % max(torch.cuda.device_count(), 1))


__all__ = [
    "BACKENDS",
    "DEFAULT_TIMEOUT_S",
    "ENV_VARS",
    "DistributedContext",
    "DistributedTimeoutError",
    "average_gradients",
    "barrier",
    "broadcast_state",
    "rank_seed",
    "seed_rank",
    "check_sparse_backend",
    "combine_rows",
    "current",
    "gather_rows",
    "init_from_env",
    "local_cuda_device",
    "mean_across",
    "resolve_backend",
    "shard",
    "shard_bounds",
    "shutdown",
    "world_from_env",
]
