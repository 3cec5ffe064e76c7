"""The training loop: mini-batches from column tensors, several optimizers, LR schedule,
regularization, early stopping, checkpoints and resume, determinism under a seed.

Determinism: the network is trained inside :func:`torch.random.fork_rng` seeded with
``seed`` (the caller's global RNG is left as it was); epoch ``e`` visits rows in the
order of a permutation drawn from ``numpy.random.default_rng([seed, e])``. A checkpoint
holds the weights, the optimizers' and schedulers' states, the torch RNG state, the
early-stopping state and the history, so a run resumed from it ends with the same
weights as an uninterrupted one (tested by killing a training process).

Checkpoints are written with :func:`torch.save` and read with ``weights_only=True``
(tensors and plain containers only, no arbitrary unpickling).

Speed: the rows of an epoch are gathered in its permuted order once per chunk of up
to :data:`CHUNK_ROWS` rows, and each step takes a contiguous slice of that chunk (no
per-step gather, no ``DataLoader``); the loss is summed on the device and read only
when a history row is written (no per-step host synchronization); gradients are reset
with ``set_to_none``; dense optimizers use PyTorch's fused kernels; a constant
learning rate skips the scheduler. ``TrainConfig.num_threads`` sets torch's CPU
threads for the duration of :meth:`Trainer.fit` only.

Weight averaging: with ``TrainConfig.ema_decay`` the trainer keeps an exponential moving
average of the parameters (:class:`WeightAverage`), evaluates and early-stops on it, and
leaves the averaged weights in the model (saved in checkpoints too).

Callbacks: a plain function ``(step, trainer)`` is called after every step; a
:class:`Callback` may also define ``on_evaluate(row, trainer)``, called after each
evaluation with the history row (``step``, ``epoch``, ``train_loss``, ``lr``,
``seconds`` and ``valid_<metric>`` when there is validation data); it stops training
by returning True (the run then ends as after early stopping) or by raising (the
exception leaves :meth:`Trainer.fit`; :mod:`recutils.tuning` raises Optuna's
``TrialPruned`` this way).

Models that draw their training data anew every epoch (the CF models: negatives per
epoch, whole user rows) train through :meth:`Trainer.fit_epochs` instead of
:meth:`Trainer.fit`: they bring a :class:`BatchSource` (``epoch_batches(epoch)``, and
optionally ``epoch_row(epoch)`` for the history row) and a loss ``(model, batch) ->
tensor``; the trainer brings the same optimizer steps, callbacks, per-epoch checkpoints
with resume, and early stopping on a validation function. Both loops share the
checkpoint files (``ckpt-<n>.pt``), the callback hooks and the early-stopping rule
(:class:`EarlyStopping`).

Divergence: both loops keep the sum of the step losses on the device (no per-step host
synchronization) and, at the end of every epoch and at every history row, check that
sum and then every floating-point weight of the network for NaN, infinite or
overflowing values (:func:`check_finite_weights`, one reduction per tensor); a run that
diverged stops there with :class:`~recutils.exceptions.ModelFitError` naming the epoch,
the steps since the last check, the bad quantity (the loss, or the first bad parameter)
and the likely cause, instead of returning a model whose scores are NaN. The checks
draw no random numbers and change no weight, so a good run is unchanged.

Several processes: when the process group of a ``torchrun`` run is initialized
(:func:`recutils.nn.distributed.init_from_env`), both loops train data-parallel: the
config's ``batch_size`` is the global batch, each rank takes its shard of every global
batch, gradients are averaged across ranks (:class:`~torch.nn.parallel.DistributedDataParallel`
in :meth:`Trainer.fit`), validation predictions are gathered, and only rank 0 writes
checkpoints, which any number of ranks can resume (see :mod:`recutils.nn.distributed`).

Devices and precision: ``device: auto`` trains on CUDA when present (``cuda:<LOCAL_RANK>``
under ``torchrun``); ``precision: bf16 | fp16`` runs the forward pass and the loss under
:func:`torch.autocast` (``fp16`` with a :class:`torch.amp.GradScaler`); on CUDA, host
tensors reach the GPU from pinned memory (``pin_memory``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError, ModelFitError
from recutils.nn.config import OptimizerConfig, TrainConfig
from recutils.nn.data import LABEL, SOFT_LABEL, TensorData
from recutils.nn.distributed import (
    DistributedContext,
    average_gradients,
    broadcast_state,
    check_sparse_backend,
    combine_rows,
    gather_rows,
    local_cuda_device,
    mean_across,
    seed_rank,
    shard,
    shard_bounds,
)
from recutils.nn.distributed import current as distributed_context
from recutils.nn.eager import optimizer_class
from recutils.nn.losses import get_loss
from recutils.nn.run import RunConfig, resolve_seed
from recutils.utils.deps import require
from recutils.utils.progress import progress_bar

torch = require("torch", "torch")

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "ckpt-"
_COUPLED_DECAY = ("adam", "adagrad", "sgd", "rmsprop")
#: Rows gathered at once in an epoch's permuted order (steps slice this chunk).
CHUNK_ROWS = 1 << 18


#: The likely cause of a diverged run, said in every divergence error.
DIVERGENCE_HINT = (
    "the learning rate is likely too high, or the inputs hold huge values: lower the learning "
    "rate, or scale / clip the large inputs"
)


def _diverged(what: str, where: str, detail: str) -> ModelFitError:
    """The error of a diverged run: ``what`` went non-finite ``where``."""
    return ModelFitError(f"training of {what} diverged {where}: {detail}; {DIVERGENCE_HINT}.")


def _where(epoch: int, first_step: int, last_step: int) -> str:
    """``in epoch E (step S)`` or ``in epoch E (steps A to B)``, all counted from 1."""
    steps = f"step {last_step}" if first_step >= last_step else f"steps {first_step} to {last_step}"
    return f"in epoch {epoch} ({steps})"


def check_finite_loss(loss_sum: torch.Tensor | float, what: str, where: str) -> None:
    """Raise :class:`~recutils.exceptions.ModelFitError` when ``loss_sum`` (a running sum of
    step losses: once a step's loss is NaN or infinite, so is the sum) is not finite."""
    value = float(loss_sum)
    if not math.isfinite(value):
        raise _diverged(what, where, f"the training loss became {value}")


def weight_limit(dtype: torch.dtype) -> float:
    """The largest weight magnitude a sane network of ``dtype`` holds: the square root of the
    dtype's largest value (beyond it, the product of two such weights overflows to inf)."""
    return math.sqrt(torch.finfo(dtype).max)


def check_finite_weights(model: torch.nn.Module, what: str, where: str) -> None:
    """Raise :class:`~recutils.exceptions.ModelFitError` naming the first floating-point
    parameter (or buffer) of ``model`` that holds a NaN, an infinite value, or a value
    beyond :func:`weight_limit` (about 1.8e19 in float32: a weight that large comes only
    from a diverged step, and the next product with it overflows, which a run whose last
    step diverged would otherwise leave to the scoring).

    One ``abs().amax()`` reduction per tensor (NaN propagates through it) and a single
    host synchronization.
    """
    named = [
        (name, t.detach())
        for name, t in (*model.named_parameters(), *model.named_buffers())
        if t.is_floating_point() and t.numel()
    ]
    if not named:
        return
    ok = torch.stack([t.abs().amax() <= weight_limit(t.dtype) for _, t in named])
    if bool(ok.all()):
        return
    bad = [(name, t) for (name, t), good in zip(named, ok.tolist()) if not good]
    name, tensor = bad[0]
    more = f" (and {len(bad) - 1} more: {[n for n, _ in bad[1:4]]})" if len(bad) > 1 else ""
    raise _diverged(
        what,
        where,
        f"parameter {name!r} holds NaN, infinite or overflowing values (largest "
        f"magnitude {float(tensor.abs().amax()):.3g}){more}",
    )


def checkpoint_number(path: Path) -> int | None:
    """The step (or epoch) a checkpoint file was written at, ``None`` for another file."""
    number = path.stem[len(CHECKPOINT_PREFIX) :]
    if path.suffix != ".pt" or not path.stem.startswith(CHECKPOINT_PREFIX) or not number.isdigit():
        return None
    return int(number)


def checkpoint_files(folder: str | Path | None) -> list[Path]:
    """The checkpoint files a trainer wrote in ``folder``, oldest first (none for ``None``
    or a missing folder)."""
    if folder is None or not Path(folder).is_dir():
        return []
    found = [
        p for p in Path(folder).glob(f"{CHECKPOINT_PREFIX}*.pt") if checkpoint_number(p) is not None
    ]
    return sorted(found, key=checkpoint_number)


class Callback:
    """A training callback; override the hooks you need (both default to doing nothing).

    A plain function ``(step, trainer)`` given as a callback is called as :meth:`on_step`.
    """

    def on_step(self, step: int, trainer: Trainer) -> None:
        """After every optimization step (``step`` counts from 1)."""

    def on_evaluate(self, row: Mapping[str, Any], trainer: Trainer) -> bool | None:
        """After each evaluation, with the new history row; return True to stop training."""
        return None


def _hooks(
    callbacks: list[Any],
) -> tuple[
    list[Callable[[int, Trainer], None]], list[Callable[[Mapping[str, Any], Trainer], bool | None]]
]:
    """``(step hooks, evaluation hooks)`` of callbacks (objects or plain functions)."""
    on_step, on_evaluate = [], []
    for cb in callbacks:
        step_fn, eval_fn = getattr(cb, "on_step", None), getattr(cb, "on_evaluate", None)
        if step_fn is None and eval_fn is None:
            if not callable(cb):
                raise ConfigError(
                    f"a callback must be a function (step, trainer) or an object with "
                    f"on_step / on_evaluate methods, got {cb!r}."
                )
            on_step.append(cb)
            continue
        if step_fn is not None and getattr(type(cb), "on_step", None) is not Callback.on_step:
            on_step.append(step_fn)
        if (
            eval_fn is not None
            and getattr(type(cb), "on_evaluate", None) is not Callback.on_evaluate
        ):
            on_evaluate.append(eval_fn)
    return on_step, on_evaluate


@runtime_checkable
class Validator(Protocol):
    """Computes a trainer's early-stopping value from the model itself (see :class:`Trainer`).

    ``name`` becomes the history column ``valid_<name>``; ``__call__(model)`` returns the
    value and any other figures to record (``{"<name>": value}``, each a ``valid_`` column).
    It must leave the model in the mode it found it in.
    """

    name: str
    higher_is_better: bool

    def __call__(
        self, model: torch.nn.Module
    ) -> tuple[float, dict[str, float]]:  # pragma: no cover
        ...


@runtime_checkable
class BatchSource(Protocol):
    """Where :meth:`Trainer.fit_epochs` gets each epoch's batches.

    ``epoch_batches(epoch)`` (``epoch`` counts from 0) returns the epoch's batches, in
    order; anything the loss understands is a batch. A source that draws data per
    epoch should seed the draws from the epoch (e.g. ``default_rng([seed, epoch])``) so
    that a resumed fit draws what an uninterrupted one does. A source may also define
    ``epoch_row(epoch) -> mapping``: the fields of the epoch's history row (default:
    ``epoch`` and the mean ``loss`` of its steps).

    In a data-parallel fit each rank's source sees only that rank's shard of every batch,
    so the trainer combines the ranks' rows (:func:`recutils.nn.distributed.combine_rows`):
    a source lists in ``summed_fields`` the fields that are a sum over the rows it trained
    on divided by the epoch's row count (each rank holds its share of the one-process
    value; they are added across ranks); every other floating-point field the ranks
    disagree on is averaged. ``loss``, unless summed, is the mean over the epoch's steps of
    the global batch's loss, as in one process.
    """

    def epoch_batches(self, epoch: int) -> Iterable[Any]:
        """The batches of ``epoch``."""
        ...


#: ``(model, batch) -> scalar loss tensor`` minimised by :meth:`Trainer.fit_epochs`.
LossFn = Callable[[Any, Any], Any]


class EarlyStopping:
    """The trainer's early-stopping rule: ``patience`` evaluations in a row without an
    improvement of at least ``min_delta`` (in the metric's direction) are tolerated, the
    next one without an improvement stops training, so the last epoch run is
    ``patience + 1`` after the best.

    Attributes:
        best: The best value so far (``None`` before the first).
        bad: Evaluations since the best.
        best_state: A copy of the model's ``state_dict`` at the best value.
    """

    def __init__(self, higher_is_better: bool, patience: int, min_delta: float = 0.0) -> None:
        self.higher = bool(higher_is_better)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best: float | None = None
        self.bad = 0
        self.best_state: dict[str, Any] | None = None

    def is_better(self, value: float) -> bool:
        """Whether ``value`` improves on the best."""
        best = self.best
        return best is None or (
            value > best + self.min_delta if self.higher else value < best - self.min_delta
        )

    def keep(self, model: torch.nn.Module) -> None:
        """Copy ``model``'s weights as the best state."""
        self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def record(self, value: float, better: bool) -> bool:
        """Count ``value`` (``better``: from :meth:`is_better`); True when training should stop."""
        if better:
            self.best, self.bad = value, 0
            return False
        self.bad += 1
        return self.bad > self.patience

    def state(self) -> dict[str, Any]:
        """Checkpointable state."""
        return {"best": self.best, "bad": self.bad, "best_state": self.best_state}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.best = None if state["best"] is None else float(state["best"])
        self.bad = int(state["bad"])
        self.best_state = state["best_state"]


class WeightAverage:
    """Exponential moving average of a model's floating-point parameters.

    After :meth:`update` number ``t`` the average is ``a <- d * a + (1 - d) * w`` with
    ``d = min(decay, (1 + t) / (10 + t))`` (a short ramp, so early averages are not
    dominated by the initialization). Buffers (batch-norm statistics) are not averaged.

    Args:
        model: The network whose parameters are averaged.
        decay: The decay ``d`` once the ramp is over, in ``(0, 1)``.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.params = [p for p in model.parameters() if p.is_floating_point()]
        self.shadow = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current parameters into the average."""
        self.updates += 1
        weight = 1.0 - min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for avg, p in zip(self.shadow, self.params):
            avg.lerp_(p.detach(), weight)

    @torch.no_grad()
    def _swap(self) -> None:
        for avg, p in zip(self.shadow, self.params):
            current = p.detach().clone()
            p.copy_(avg)
            avg.copy_(current)

    @contextmanager
    def averaged(self) -> Iterator[None]:
        """Within the block the model holds the averaged weights; the raw ones come back after."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Replace the model's parameters by the average (the end of training)."""
        for avg, p in zip(self.shadow, self.params):
            p.copy_(avg)

    def state(self) -> dict[str, Any]:
        """Checkpointable state (tensors and an int)."""
        return {"shadow": [a.clone() for a in self.shadow], "updates": self.updates}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`."""
        with torch.no_grad():
            for avg, saved in zip(self.shadow, state["shadow"]):
                avg.copy_(saved)
        self.updates = int(state["updates"])


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; plain ``cuda`` in a ``torchrun`` run of
    several processes -> ``cuda:<LOCAL_RANK>`` (each process its own GPU)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        return local_cuda_device()
    return torch.device(name)


#: ``TrainConfig.precision`` -> the autocast dtype (None: float32, no autocast).
AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def compute_num_steps(n_rows: int, config: TrainConfig) -> int:
    """EasyRec's rule: ``ceil(rows * epochs / batch_size / num_workers)`` unless ``num_steps``."""
    if config.num_steps is not None:
        return int(config.num_steps)
    return max(1, math.ceil(n_rows * config.epochs / config.batch_size / config.num_workers))


def _lr_factor(config: TrainConfig, total: int) -> Callable[[int], float]:
    warm = config.warmup_steps

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        s = step - warm
        if config.lr_schedule == "exponential":
            return config.lr_decay_rate ** (s / config.lr_decay_steps)
        if config.lr_schedule == "step":
            return config.lr_decay_rate ** (s // config.lr_decay_steps)
        if config.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(s, total) / max(1, total - warm)))
        return 1.0

    return factor


def best_epoch(history: pd.DataFrame, column: str, best: float | None) -> int | None:
    """The epoch (from 1) of the first ``history`` row whose ``column`` equals ``best``, the
    value early stopping kept; ``None`` without validation values."""
    if best is None or column not in history.columns or "epoch" not in history.columns:
        return None
    hits = history.index[history[column].to_numpy() == best]
    return int(history.at[hits[0], "epoch"]) if len(hits) else None


def metric_value(name: str, labels: np.ndarray, predictions: np.ndarray) -> float:
    """A ``recutils.evaluation`` point-wise metric of aligned labels and predictions."""
    from recutils.evaluation import score_arrays

    return score_arrays(name, labels, predictions)


def _step_optimizers(optimizers: Sequence[Any], scaler: Any | None) -> None:
    """One optimizer step of every optimizer, through the fp16 gradient scaler when there is one."""
    for o in optimizers:
        if scaler is None:
            o.step()
        else:
            scaler.step(o)
    if scaler is not None:
        scaler.update()


class Trainer:
    """Trains a network whose ``forward(batch)`` returns outputs ``[B]``.

    Args:
        model: The network. Optional methods: ``parameter_groups()`` (``embedding`` /
            ``dense_weight`` / ``dense_other`` lists; default: all dense),
            ``regularization_loss()`` (added to the loss each step) and attribute
            ``l2_regularization`` (coupled weight decay ``2 * l2`` on ``dense_weight``,
            the gradient of ``l2 * sum(W**2)``). A network with its own
            ``compute_loss(outputs, labels)`` and ``to_prediction(outputs)`` (a multi-task
            network, :class:`recutils.nn.multitask.MultiTaskNetwork`) is trained with those
            instead of ``config.loss``; with ``evaluate_tasks(labels, predictions)`` it also
            names the early-stopping value (``stopping_metric``, ``stopping_higher_is_better``)
            and every task's validation metrics join the history.
        config: A :class:`~recutils.nn.config.TrainConfig` (or a mapping).
        seed: Seed of the batch order, dropout and everything random in training.
        model_dir: Folder for checkpoints (``ckpt-<step>.pt``); None: no checkpoints.
        callbacks: :class:`Callback` objects (``on_step`` / ``on_evaluate``) or functions
            ``(step, trainer)`` called after each step (see the module docstring).
        distillation: ``(outputs, soft_labels) -> loss`` added to each step's loss, with
            the training rows' ``soft_label`` tensor (knowledge distillation:
            :class:`recutils.nn.distill.DistillationObjective`); None: none.
        validator: Computes the early-stopping value itself (:class:`Validator`, e.g. a
            retrieval model's recall@k over the whole catalogue) instead of scoring
            ``valid`` rows; used when ``config.early_stopping_metric`` is set.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig | Mapping[str, Any] | None = None,
        *,
        seed: int = 42,
        model_dir: str | Path | None = None,
        callbacks: list[Callback | Callable[[int, Trainer], None]] | None = None,
        distillation: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        validator: Validator | None = None,
    ) -> None:
        self.config = (
            config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config or {})
        )
        self.distillation = distillation
        self.validator = validator
        self.model = model
        self.seed = int(seed)
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.callbacks = list(callbacks or [])
        _hooks(self.callbacks)  # validates them
        self.device = resolve_device(self.config.device)
        if callable(getattr(model, "compute_loss", None)) and callable(
            getattr(model, "to_prediction", None)
        ):
            # a network with its own loss and predictions (a multi-task network)
            self.loss_fn, self.to_prediction = model.compute_loss, model.to_prediction
        else:
            self.loss_fn, self.to_prediction = get_loss(self.config.loss)
        self._task_metrics = callable(getattr(model, "evaluate_tasks", None))
        self.history_: pd.DataFrame | None = None
        self.best_epoch_: int | None = None
        self.stop_requested = False
        self._dist: DistributedContext | None = None  # set while a data-parallel fit runs

    @classmethod
    def from_run(
        cls,
        model: torch.nn.Module,
        run: RunConfig,
        *,
        seed: int | None = None,
        model_dir: str | Path | None = None,
        callbacks: list[Callback | Callable[[int, Trainer], None]] | None = None,
        **train: Any,
    ) -> Trainer:
        """A trainer with a model's :class:`~recutils.nn.run.RunConfig`.

        ``run.device`` and ``run.num_threads`` become the training settings of those names,
        ``run.seed`` the seed (a fresh one when ``None``) unless ``seed`` is given, and
        ``run.model_dir`` the checkpoint folder unless ``model_dir`` is given; ``train``
        holds any other :class:`~recutils.nn.config.TrainConfig` field (``progress``,
        ``patience`` ...).
        """
        config = TrainConfig.from_dict(
            {
                "early_stopping_metric": None,
                **train,
                "device": run.device or "auto",
                "num_threads": run.num_threads,
            }
        )
        return cls(
            model,
            config,
            seed=resolve_seed(run.seed) if seed is None else seed,
            model_dir=run.model_dir if model_dir is None else model_dir,
            callbacks=callbacks,
        )

    @contextmanager
    def _torch_context(self, seed_torch: bool = True) -> Iterator[None]:
        """torch's CPU threads for the fit and, with ``seed_torch``, torch's RNG seeded with
        ``seed`` inside :func:`torch.random.fork_rng` (the caller's RNG is left as it was)."""
        threads = torch.get_num_threads()
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        try:
            if not seed_torch:
                yield
                return
            with torch.random.fork_rng(
                devices=[self.device.index or 0] if self.device.type == "cuda" else []
            ):
                torch.manual_seed(self.seed)
                yield
        finally:
            torch.set_num_threads(threads)

    # ------------------------------------------------------------ optimizers
    def _param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        if hasattr(self.model, "parameter_groups"):
            return self.model.parameter_groups()
        return {
            "embedding": [],
            "dense_weight": [p for p in self.model.parameters() if p.dim() >= 2],
            "dense_other": [p for p in self.model.parameters() if p.dim() < 2],
        }

    def _sparse_embeddings(self) -> bool:
        """Whether the embedding tables' optimizer needs sparse gradients."""
        return any(oc.sparse for oc in self.config.optimizers)

    def _make_optimizers(self) -> list[torch.optim.Optimizer]:
        groups = self._param_groups()
        l2 = float(getattr(self.model, "l2_regularization", 0.0))
        optimizers, used = [], []
        for oc in self.config.optimizers:
            pgs = []
            if oc.params in ("all", "embedding") and groups["embedding"]:
                pgs.append({"params": groups["embedding"], "weight_decay": oc.weight_decay})
            if oc.params in ("all", "dense"):
                extra = 2.0 * l2 if oc.name in _COUPLED_DECAY else l2
                if groups["dense_weight"]:
                    pgs.append(
                        {"params": groups["dense_weight"], "weight_decay": oc.weight_decay + extra}
                    )
                if groups["dense_other"]:
                    pgs.append({"params": groups["dense_other"], "weight_decay": oc.weight_decay})
            if pgs:
                optimizers.append(self._optimizer(oc, pgs))
                used.append(oc)
        self._optimizer_configs = used
        return optimizers

    def _optimizer(self, oc: OptimizerConfig, groups: list[dict]) -> torch.optim.Optimizer:
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
        optim = torch.optim
        if oc.name == "sparse_adam":
            return optimizer_class(optim.SparseAdam)(
                [{"params": g["params"]} for g in groups], lr=oc.lr
            )
        if oc.sparse:  # adagrad over sparse gradients (the fused kernel takes dense ones only)
            return optimizer_class(optim.Adagrad)(groups, lr=oc.lr, foreach=False)
        if oc.name == "adam":
            return optimizer_class(optim.Adam)(groups, lr=oc.lr, **fused)
        if oc.name == "adamw":
            return optimizer_class(optim.AdamW)(groups, lr=oc.lr, **fused)
        if oc.name == "adagrad":
            return optimizer_class(optim.Adagrad)(
                groups, lr=oc.lr, **({"fused": True} if self.device.type == "cpu" else {})
            )
        if oc.name == "sgd":
            return optimizer_class(optim.SGD)(groups, lr=oc.lr, momentum=oc.momentum, **fused)
        return optimizer_class(optim.RMSprop)(groups, lr=oc.lr, momentum=oc.momentum)

    # ------------------------------------------------------------ checkpoints
    def checkpoints(self) -> list[Path]:
        """Checkpoint files in ``model_dir``, oldest first."""
        return checkpoint_files(self.model_dir)

    def _load_checkpoint(
        self, optimizers: Sequence[torch.optim.Optimizer]
    ) -> dict[str, Any] | None:
        """Load the newest checkpoint into the model, ``optimizers`` and torch's CPU RNG;
        return the whole state (``None`` without a checkpoint)."""
        found = self.checkpoints()
        if not found:
            return None
        state = torch.load(found[-1], weights_only=True, map_location=self.device)
        self.model.load_state_dict(state["model"])
        for o, s in zip(optimizers, state["optimizers"]):
            o.load_state_dict(s)
        torch.set_rng_state(state["rng"])
        logger.info("resumed from %s", found[-1])
        return state

    def _save_checkpoint(self, step: int, state: dict[str, Any]) -> Path:
        assert self.model_dir is not None  # noqa: S101 - internal invariant
        self.model_dir.mkdir(parents=True, exist_ok=True)
        path = self.model_dir / f"{CHECKPOINT_PREFIX}{step}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        for old in self.checkpoints()[: -self.config.keep_checkpoints]:
            old.unlink(missing_ok=True)
        logger.info("checkpoint written: %s", path)
        return path

    # ----------------------------------------------------------------- eval
    @torch.no_grad()
    def predict(self, data: TensorData, batch_size: int | None = None) -> np.ndarray:
        """Predictions (probabilities for classification losses) for every row of ``data``."""
        self.model.eval()
        bs = batch_size or max(self.config.batch_size, 8192)
        outs = []
        for start in range(0, len(data), bs):
            batch = self._to_device(data.batch(slice(start, start + bs)))
            outs.append(self.to_prediction(self.model(batch)).float().cpu())
        self.model.train()
        return torch.cat(outs).numpy().astype(np.float64) if outs else np.empty(0)

    def _to_device(self, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``tensors`` on the training device (on CUDA from pinned memory, without blocking,
        when ``pin_memory``)."""
        if self.device.type != "cuda":
            return {k: v.to(self.device) for k, v in tensors.items()}
        pin = self.config.pin_memory
        return {
            k: (v.pin_memory() if pin and v.device.type == "cpu" else v).to(
                self.device, non_blocking=pin
            )
            for k, v in tensors.items()
        }

    def _predict_gathered(self, data: TensorData) -> np.ndarray:
        """:meth:`predict` of every row of ``data``; in a data-parallel fit each rank
        predicts its shard and the shards are gathered (every rank gets all the rows)."""
        ctx = self._dist
        if ctx is None:
            return self.predict(data)
        start, stop = shard_bounds(len(data), ctx.rank, ctx.world_size)
        local = self.predict(TensorData(data.batch(slice(start, stop))))
        return gather_rows(local, ctx)

    def _autocast(self) -> Any:
        """The mixed-precision context of ``config.precision`` (a null context for fp32)."""
        dtype = AUTOCAST_DTYPES[self.config.precision]
        if dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def evaluate(self, data: TensorData) -> float:
        """The early-stopping metric on ``data``."""
        return self._evaluate(data)[0]

    def _evaluate(self, data: TensorData) -> tuple[float, dict[str, float]]:
        """The early-stopping value on ``data`` and, for a network with ``evaluate_tasks``
        (multi-task), every task's metrics (``{"<task>_<metric>": value}``)."""
        if not data.has_label:
            raise DataError("validation data needs labels.")
        labels = data.tensors[LABEL].cpu().numpy().astype(np.float64)
        if self._task_metrics:
            return self.model.evaluate_tasks(labels, self.predict(data))
        return metric_value(
            self.config.early_stopping_metric or "logloss", labels, self._predict_gathered(data)
        ), {}

    # ------------------------------------------------------------------ fit
    def fit(
        self, train: TensorData, valid: TensorData | None = None, *, resume: bool = True
    ) -> pd.DataFrame:
        """Train; return the history (one row per evaluation) as a DataFrame.

        History columns: ``step``, ``epoch`` (a whole number from 1: the epoch the step
        belongs to, also for the last epoch, which EasyRec's step count can end a few
        steps short of a full pass), ``train_loss``, ``lr``, ``seconds`` and, with
        validation data, ``valid_<metric>``. Afterwards ``best_epoch_`` is the epoch of
        the best validation value (the weights kept with ``restore_best``), or ``None``.

        Args:
            train: Training rows with labels.
            valid: Validation rows for early stopping (``early_stopping_metric``).
            resume: Continue from the latest checkpoint in ``model_dir`` when there is one.

        Raises:
            DataError: ``train`` without labels or rows.
            ModelFitError: the loss or a weight became NaN or infinite (module docstring).
        """
        if not train.has_label:
            raise DataError("training data needs a label tensor.")
        if len(train) == 0:
            raise DataError("cannot train on zero rows.")
        with self._torch_context():
            self._dist = distributed_context()
            try:
                return self._fit(train, valid, resume)
            finally:
                self._dist = None

    def _set_sparse(self, sparse: bool) -> None:
        from recutils.nn.components.input_layer import EmbeddingBank

        for module in self.model.modules():
            if isinstance(module, EmbeddingBank):
                module.sparse = sparse

    def _check_sparse_gradients(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """After the first backward pass: a sparse optimizer got only sparse gradients."""
        for oc, opt in zip(self._optimizer_configs, optimizers):
            if not oc.sparse:
                continue
            dense = [
                tuple(p.shape)
                for g in opt.param_groups
                for p in g["params"]
                if p.grad is not None and not p.grad.is_sparse
            ]
            if dense:
                raise ConfigError(
                    f"optimizer {oc.name!r} (sparse) got dense gradients for parameter(s) of shape {dense}: "
                    "only the model's EmbeddingBank tables give sparse gradients; use a dense optimizer "
                    "(adam, adagrad without sparse) for this model's embeddings."
                )

    def _fit(self, train: TensorData, valid: TensorData | None, resume: bool) -> pd.DataFrame:
        cfg = self.config
        metric_name = (
            cfg.early_stopping_metric if (valid is not None or self.validator is not None) else None
        )
        higher = True
        if metric_name is not None and self.validator is not None:
            metric_name = str(self.validator.name)
            higher = bool(self.validator.higher_is_better)
        elif (
            metric_name is not None and self._task_metrics
        ):  # the network names its stopping metric
            metric_name = str(self.model.stopping_metric)
            higher = bool(self.model.stopping_higher_is_better)
        elif metric_name is not None:
            from recutils.evaluation import get_metric

            higher = get_metric(metric_name).higher_is_better
        step_hooks, eval_hooks = _hooks(self.callbacks)
        self.model.to(self.device)
        self.model.train()
        self._set_sparse(self._sparse_embeddings())
        ctx = self._dist
        check_sparse_backend(ctx, self._sparse_embeddings())
        if ctx is not None and cfg.batch_size < ctx.world_size:
            raise ConfigError(
                f"train: batch_size {cfg.batch_size} is the global batch and must be at least the "
                f"number of processes ({ctx.world_size})."
            )
        optimizers = self._make_optimizers()
        scaler = torch.amp.GradScaler(self.device.type) if cfg.precision == "fp16" else None
        total = compute_num_steps(len(train), cfg)
        factor = _lr_factor(cfg, total)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]
        ema = WeightAverage(self.model, cfg.ema_decay) if cfg.ema_decay is not None else None
        constant_lr = cfg.lr_schedule == "constant" and not cfg.warmup_steps
        n = len(train)
        bs = cfg.batch_size
        per_epoch = math.ceil(n / bs)
        eval_every = cfg.eval_every_steps or per_epoch
        chunk_steps = max(1, min(per_epoch, CHUNK_ROWS // bs))
        step, history = 0, []
        stopper = EarlyStopping(higher, cfg.patience, cfg.min_delta)
        resumed_done = False
        state = self._load_checkpoint(optimizers) if resume else None
        if state is not None:
            saved_bs = state.get("batch_size")
            if saved_bs is not None and int(saved_bs) != bs:
                raise ConfigError(
                    f"the checkpoint in {self.model_dir} was written with a global batch size of {int(saved_bs)} "
                    f"(train.batch_size, on {int(state.get('world_size', 1))} process(es)); this run has "
                    f"{bs}: resume with train.batch_size={int(saved_bs)} on any number of processes, or "
                    "start in an empty model folder."
                )
            if scaler is not None and state.get("scaler") is not None:
                scaler.load_state_dict(state["scaler"])
            for sch, s in zip(schedulers, state["schedulers"]):
                sch.load_state_dict(s)
            step = int(state["step"])
            stopper.load_state(state)
            history = list(state["history"])
            resumed_done = bool(state.get("done", False))
            if ema is not None and state.get("ema") is not None:
                ema.load_state(state["ema"])
            logger.info("resumed at step %d", step)
        train_dev = (
            TensorData(self._to_device(train.tensors)) if self.device.type != "cpu" else train
        )
        forward = self.model
        if ctx is not None:
            forward = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
            seed_rank(self.seed, ctx, step)  # same weights, each rank its own dropout masks
        valid_dev = valid
        perm: torch.Tensor | None = None
        perm_epoch = -1
        chunk: dict[str, torch.Tensor] = {}
        chunk_key = (-1, -1)
        loss_sum = torch.zeros((), device=self.device)
        loss_count = 0
        start_time = time.perf_counter()
        stopped = resumed_done
        checked_sparse = False
        checked_step = step  # divergence checked up to this step
        what = type(self.model).__name__
        bar = None
        if cfg.progress:
            bar = progress_bar(
                total=total, initial=step, desc="train", unit="step", mininterval=0.5, leave=False
            )
        try:
            while step < total and not stopped:
                epoch, in_epoch = divmod(step, per_epoch)
                if epoch != perm_epoch:
                    order = np.random.default_rng([self.seed, epoch]).permutation(n)
                    perm = torch.from_numpy(order).to(self.device)
                    perm_epoch = epoch
                c = in_epoch // chunk_steps
                if chunk_key != (epoch, c):  # this chunk's rows, gathered once in permuted order
                    rows = perm[c * chunk_steps * bs : (c + 1) * chunk_steps * bs]  # type: ignore[index]
                    chunk = train_dev.batch(rows)
                    chunk_key = (epoch, c)
                pos = (in_epoch - c * chunk_steps) * bs
                batch = {k: v[pos : pos + bs] for k, v in chunk.items()}
                weight = None
                if ctx is not None:  # this rank's shard of the global batch
                    batch, weight = shard(batch, ctx)
                with self._autocast():
                    out = forward(batch)
                    loss = self.loss_fn(out, batch[LABEL])
                    if self.distillation is not None:
                        loss = loss + self.distillation(out, batch[SOFT_LABEL])
                    if weight is not None:
                        loss = loss * weight
                    reg = (
                        self.model.regularization_loss()
                        if hasattr(self.model, "regularization_loss")
                        else None
                    )
                    total_loss = loss if reg is None else loss + reg
                for o in optimizers:
                    o.zero_grad(set_to_none=True)
                (total_loss if scaler is None else scaler.scale(total_loss)).backward()
                if not checked_sparse:
                    self._check_sparse_gradients(optimizers)
                    checked_sparse = True
                _step_optimizers(optimizers, scaler)
                if ema is not None:
                    ema.update()
                if not constant_lr:
                    for sch in schedulers:
                        sch.step()
                loss_sum += loss.detach()
                loss_count += 1
                step += 1
                if bar is not None:
                    bar.update(1)
                last = step == total
                at_row = step % eval_every == 0 or last
                if at_row or step % per_epoch == 0:  # before any evaluation or checkpoint
                    self._check_diverged(
                        loss_sum, what, math.ceil(step / per_epoch), checked_step, step
                    )
                    checked_step = step
                if at_row:
                    # the epoch (from 1) this step belongs to: EasyRec's step count can end
                    # the last epoch a few steps short of a full pass, still that epoch
                    summed = (
                        loss_sum if ctx is None else mean_across(loss_sum)
                    )  # ranks: the global batches
                    row: dict[str, Any] = {
                        "step": step,
                        "epoch": math.ceil(step / per_epoch),
                        "train_loss": float(summed) / max(loss_count, 1),
                        "lr": float(optimizers[0].param_groups[0]["lr"]),
                        "seconds": time.perf_counter() - start_time,
                    }
                    loss_sum.zero_()
                    loss_count = 0
                    if metric_name is not None:
                        with ema.averaged() if ema is not None else nullcontext():
                            value, details = (
                                self.validator(self.model)
                                if self.validator is not None
                                else self._evaluate(valid_dev)
                            )  # type: ignore[arg-type]
                            better = stopper.is_better(value)
                            if better:
                                stopper.keep(self.model)
                        row[f"valid_{metric_name}"] = value
                        row.update({f"valid_{k}": v for k, v in details.items()})
                        if stopper.record(value, better):
                            stopped = True
                            logger.info(
                                "early stopping at step %d (best %s=%.5f)",
                                step,
                                metric_name,
                                stopper.best,
                            )
                        if bar is not None:
                            bar.set_postfix({metric_name: f"{value:.4f}"})
                    history.append(row)
                    logger.info("step %d: %s", step, row)
                    if self._run_eval_hooks(eval_hooks, row):
                        stopped = True
                        logger.info("a callback stopped training at step %d", step)
                if (
                    self.model_dir is not None
                    and cfg.checkpoint_every_steps
                    and (ctx is None or ctx.is_main)
                    and (step % cfg.checkpoint_every_steps == 0 or last or stopped)
                ):
                    self._save_checkpoint(
                        step,
                        {
                            "model": self.model.state_dict(),
                            "optimizers": [o.state_dict() for o in optimizers],
                            "schedulers": [s.state_dict() for s in schedulers],
                            "rng": torch.get_rng_state(),
                            "step": step,
                            **stopper.state(),
                            "history": history,
                            "done": bool(last or stopped),
                            "ema": None if ema is None else ema.state(),
                            # world-size independent: steps count global batches of this size
                            "batch_size": bs,
                            "world_size": 1 if ctx is None else ctx.world_size,
                            "scaler": None if scaler is None else scaler.state_dict(),
                        },
                    )
                for hook in step_hooks:
                    hook(step, self)
                if self.stop_requested:
                    break
            if checked_step < step:  # stopped by a callback between two checks
                self._check_diverged(
                    loss_sum, what, math.ceil(step / per_epoch), checked_step, step
                )
        finally:
            if bar is not None:
                bar.close()
        if cfg.restore_best and stopper.best_state is not None:
            self.model.load_state_dict(stopper.best_state)
        elif ema is not None:
            ema.copy_to_model()
        self.model.eval()
        self.history_ = pd.DataFrame(history)
        self.best_metric_ = stopper.best
        self.best_epoch_ = best_epoch(self.history_, f"valid_{metric_name}", stopper.best)
        return self.history_

    def _check_diverged(
        self, loss_sum: torch.Tensor, what: str, epoch: int, checked_step: int, step: int
    ) -> None:
        """The divergence check (module docstring) of the steps after ``checked_step`` up to
        ``step`` of ``epoch`` (from 1): ``loss_sum`` (the losses summed since it was last
        reset, which happens only after a check), then the weights."""
        where = _where(epoch, checked_step + 1, step)
        check_finite_loss(loss_sum, what, where)
        check_finite_weights(self.model, what, where)

    def _run_eval_hooks(
        self,
        hooks: list[Callable[[Mapping[str, Any], Trainer], bool | None]],
        row: Mapping[str, Any],
    ) -> bool:
        """Call every evaluation hook with a copy of ``row``; True when one asks to stop."""
        stop = False
        for hook in hooks:
            if hook(dict(row), self):
                stop = True
        return stop

    # ----------------------------------------------------------- fit_epochs
    def fit_epochs(
        self,
        source: BatchSource,
        loss: LossFn,
        epochs: int,
        *,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
        validate: Callable[[], float] | None = None,
        metric: str = "metric",
        higher_is_better: bool = True,
        early_stopping: bool = False,
        seed_torch: bool = True,
        resume: bool = True,
        desc: str = "train",
    ) -> pd.DataFrame:
        """Train ``epochs`` epochs of ``source``'s batches; return the history (one row per epoch).

        Each step: ``loss(model, batch)``, zero the gradients, backward, step every
        optimizer, then the callbacks' ``on_step``. After each epoch: the history row
        (``source.epoch_row(epoch)`` when the source has it, else ``epoch`` and the mean
        ``loss``; then ``seconds`` and, with ``validate``, ``valid_<metric>``), the
        callbacks' ``on_evaluate`` (True or an exception ends training), the early-stopping
        rule, and a checkpoint in ``model_dir`` (a later call resumes after the newest one:
        the weights, the optimizers' states, torch's CPU RNG state, the history and the
        early-stopping state are restored, so a resumed fit ends where an uninterrupted one
        does when ``source`` seeds its draws by epoch).

        Mixed precision: with ``config.precision`` ``bf16`` or ``fp16`` the loss is computed
        under :func:`torch.autocast` (weights stay float32); ``fp16`` adds a
        :class:`torch.amp.GradScaler`, whose state the checkpoints keep.

        Args:
            source: The :class:`BatchSource`.
            loss: ``(model, batch) -> scalar tensor`` to minimise.
            epochs: Epochs in all (a resumed fit trains the ones left).
            optimizers: Optimizers over the model's parameters (default: built from the
                config's ``optimizers`` as in :meth:`fit`); the learning rate is constant.
            validate: ``() -> float`` computed after each epoch (on the model as it is;
                the trainer puts the model in eval mode around the call).
            metric: Name of the validation value (the column ``valid_<metric>``).
            higher_is_better: Direction of ``metric``.
            early_stopping: Stop once more than ``config.patience`` epochs in a row bring
                no improvement of ``config.min_delta`` (:class:`EarlyStopping`) and, with
                ``config.restore_best``, end with the best epoch's weights (needs
                ``validate``).
            seed_torch: Seed torch's RNG with ``seed`` inside :func:`torch.random.fork_rng`.
                False: train in the caller's torch RNG stream (a caller that seeded it to
                build the network in the same stream, as the CF models do).
            resume: Continue from the newest checkpoint in ``model_dir`` when there is one.
            desc: Label of the progress bar.

        Raises:
            ConfigError: ``early_stopping`` without ``validate``.
            ModelFitError: an epoch's loss or a weight became NaN or infinite (checked at
                the end of every epoch, before ``validate``).
        """
        if early_stopping and validate is None:
            raise ConfigError("early_stopping needs a validate function.")
        with self._torch_context(seed_torch):
            self._dist = distributed_context()
            try:
                return self._fit_epochs(
                    source,
                    loss,
                    int(epochs),
                    optimizers,
                    validate,
                    metric,
                    higher_is_better,
                    early_stopping,
                    resume,
                    desc,
                )
            finally:
                self._dist = None

    def _fit_epochs(
        self,
        source: BatchSource,
        loss: LossFn,
        epochs: int,
        optimizers: Sequence[torch.optim.Optimizer] | None,
        validate: Callable[[], float] | None,
        metric: str,
        higher: bool,
        early_stopping: bool,
        resume: bool,
        desc: str,
    ) -> pd.DataFrame:
        cfg = self.config
        step_hooks, eval_hooks = _hooks(self.callbacks)
        self.model.to(self.device)
        optimizers = list(optimizers) if optimizers is not None else self._make_optimizers()
        stopper = EarlyStopping(higher, cfg.patience, cfg.min_delta)
        done, step, history, stopped = 0, 0, [], False
        state = self._load_checkpoint(optimizers) if resume else None
        if state is not None:
            done, step = int(state["epoch"]), int(state["step"])
            history = [dict(row) for row in state["history"]]
            stopper.load_state(state)
            stopped = bool(state["done"])
        scaler = torch.amp.GradScaler(self.device.type) if cfg.precision == "fp16" else None
        if scaler is not None and state is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        ctx = self._dist
        params = [p for p in self.model.parameters() if p.requires_grad]
        summed = frozenset(getattr(source, "summed_fields", ()))
        if ctx is not None:
            check_sparse_backend(
                ctx, any(getattr(m, "sparse", False) is True for m in self.model.modules())
            )
            broadcast_state(self.model)  # every rank starts from rank 0's weights
            seed_rank(self.seed, ctx, step)  # ... and draws its own dropout masks
        self.model.train()
        epoch_row = getattr(source, "epoch_row", None)
        key = f"valid_{metric}"
        what = type(self.model).__name__ if desc == "train" else desc
        bar = None
        if cfg.progress:
            bar = progress_bar(total=epochs, initial=done, desc=desc, unit="epoch", leave=False)
        try:
            for epoch in range(done, epochs):
                if stopped or self.stop_requested:
                    break
                start = time.perf_counter()
                loss_sum, n_steps = torch.zeros((), device=self.device), 0
                for batch in source.epoch_batches(epoch):
                    with self._autocast():
                        if ctx is None:
                            value = loss(self.model, batch)
                        else:  # this rank's shard, weighted so that the ranks' mean is the batch's mean loss
                            part, weight = shard(batch, ctx)
                            value = loss(self.model, part) * weight
                    for o in optimizers:
                        o.zero_grad(set_to_none=True)
                    (value if scaler is None else scaler.scale(value)).backward()
                    if ctx is not None:
                        average_gradients(params, ctx)
                    _step_optimizers(optimizers, scaler)
                    step += 1
                    loss_sum += value.detach()
                    n_steps += 1
                    for hook in step_hooks:
                        hook(step, self)
                    if self.stop_requested:
                        break
                self._check_diverged(loss_sum, what, epoch + 1, step - n_steps, step)
                row: dict[str, Any] = (
                    dict(epoch_row(epoch))
                    if epoch_row is not None
                    else {"epoch": epoch + 1, "loss": float(loss_sum) / max(n_steps, 1)}
                )
                if ctx is not None:  # the row of the whole epoch, from every rank's shards
                    row = combine_rows(row, ctx, summed)
                    if (
                        "loss" in row and "loss" not in summed
                    ):  # the mean over steps of the global batches' loss
                        row["loss"] = float(mean_across(loss_sum)) / max(n_steps, 1)
                row["seconds"] = time.perf_counter() - start
                if validate is not None:
                    self.model.eval()
                    try:
                        row[key] = float(validate())
                    finally:
                        self.model.train()
                    if early_stopping:
                        better = stopper.is_better(row[key])
                        if better:
                            stopper.keep(self.model)
                        if stopper.record(row[key], better):
                            stopped = True
                            logger.info(
                                "early stopping after epoch %d (best %s=%.5f)",
                                epoch + 1,
                                key,
                                stopper.best,
                            )
                history.append(row)
                logger.debug("%s epoch %d: %s", desc, epoch + 1, row)
                if bar is not None:
                    bar.update(1)
                if self._run_eval_hooks(eval_hooks, row):
                    stopped = True
                    logger.info("a callback stopped training after epoch %d", epoch + 1)
                if self.model_dir is not None and (ctx is None or ctx.is_main):
                    self._save_checkpoint(
                        epoch + 1,
                        {
                            "model": self.model.state_dict(),
                            "optimizers": [o.state_dict() for o in optimizers],
                            "rng": torch.get_rng_state(),
                            "epoch": epoch + 1,
                            "step": step,
                            **stopper.state(),
                            "history": history,
                            "done": stopped,
                            "world_size": 1 if ctx is None else ctx.world_size,
                            "scaler": None if scaler is None else scaler.state_dict(),
                        },
                    )
        finally:
            if bar is not None:
                bar.close()
        if early_stopping and cfg.restore_best and stopper.best_state is not None:
            self.model.load_state_dict(stopper.best_state)
        self.model.eval()
        self.history_ = pd.DataFrame(history)
        self.best_metric_ = stopper.best
        self.best_epoch_ = best_epoch(self.history_, key, stopper.best)
        return self.history_


__all__ = [
    "AUTOCAST_DTYPES",
    "CHUNK_ROWS",
    "BatchSource",
    "Callback",
    "EarlyStopping",
    "LossFn",
    "RunConfig",
    "Trainer",
    "TrainConfig",
    "Validator",
    "OptimizerConfig",
    "WeightAverage",
    "best_epoch",
    "check_finite_loss",
    "checkpoint_files",
    "checkpoint_number",
    "check_finite_weights",
    "compute_num_steps",
    "metric_value",
    "resolve_device",
    "weight_limit",
]
