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
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import DataError
from recutils.nn.config import OptimizerConfig, TrainConfig
from recutils.nn.data import LABEL, TensorData
from recutils.nn.losses import get_loss
from recutils.utils.deps import require

torch = require("torch", "torch")

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "ckpt-"
_COUPLED_DECAY = ("adam", "adagrad", "sgd", "rmsprop")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


def metric_value(name: str, labels: np.ndarray, predictions: np.ndarray) -> float:
    """A ``recutils.evaluation`` rating metric of one-row-per-pair labels and predictions."""
    from recutils.evaluation import get_metric

    spec = get_metric(name)
    n = len(labels)
    rows = np.arange(n)
    true = pd.DataFrame({"userID": rows, "itemID": np.zeros(n, dtype=np.int64), "rating": labels})
    pred = pd.DataFrame({"userID": rows, "itemID": np.zeros(n, dtype=np.int64), "prediction": predictions})
    return float(spec.function(true, pred))


class Trainer:
    """Trains a network whose ``forward(batch)`` returns outputs ``[B]``.

    Args:
        model: The network. Optional methods: ``parameter_groups()`` (``embedding`` /
            ``dense_weight`` / ``dense_other`` lists; default: all dense),
            ``regularization_loss()`` (added to the loss each step) and attribute
            ``l2_regularization`` (coupled weight decay ``2 * l2`` on ``dense_weight``,
            the gradient of ``l2 * sum(W**2)``).
        config: A :class:`~recutils.nn.config.TrainConfig` (or a mapping).
        seed: Seed of the batch order, dropout and everything random in training.
        model_dir: Folder for checkpoints (``ckpt-<step>.pt``); None: no checkpoints.
        callbacks: Functions ``(step, trainer)`` called after each step (tests use them
            to slow a run down or stop it).
    """

    def __init__(self, model: torch.nn.Module, config: TrainConfig | Mapping[str, Any] | None = None, *,
                 seed: int = 42, model_dir: str | Path | None = None,
                 callbacks: list[Callable[[int, Trainer], None]] | None = None) -> None:
        self.config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config or {})
        self.model = model
        self.seed = int(seed)
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.callbacks = list(callbacks or [])
        self.device = resolve_device(self.config.device)
        self.loss_fn, self.to_prediction = get_loss(self.config.loss)
        self.history_: pd.DataFrame | None = None
        self.stop_requested = False

    # ------------------------------------------------------------ optimizers
    def _param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        if hasattr(self.model, "parameter_groups"):
            return self.model.parameter_groups()
        return {"embedding": [], "dense_weight": [p for p in self.model.parameters() if p.dim() >= 2],
                "dense_other": [p for p in self.model.parameters() if p.dim() < 2]}

    def _make_optimizers(self) -> list[torch.optim.Optimizer]:
        groups = self._param_groups()
        l2 = float(getattr(self.model, "l2_regularization", 0.0))
        optimizers = []
        for oc in self.config.optimizers:
            pgs = []
            if oc.params in ("all", "embedding") and groups["embedding"]:
                pgs.append({"params": groups["embedding"], "weight_decay": oc.weight_decay})
            if oc.params in ("all", "dense"):
                extra = 2.0 * l2 if oc.name in _COUPLED_DECAY else l2
                if groups["dense_weight"]:
                    pgs.append({"params": groups["dense_weight"], "weight_decay": oc.weight_decay + extra})
                if groups["dense_other"]:
                    pgs.append({"params": groups["dense_other"], "weight_decay": oc.weight_decay})
            if pgs:
                optimizers.append(self._optimizer(oc, pgs))
        return optimizers

    def _optimizer(self, oc: OptimizerConfig, groups: list[dict]) -> torch.optim.Optimizer:
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
        if oc.name == "adam":
            return torch.optim.Adam(groups, lr=oc.lr, **fused)
        if oc.name == "adamw":
            return torch.optim.AdamW(groups, lr=oc.lr, **fused)
        if oc.name == "adagrad":
            return torch.optim.Adagrad(groups, lr=oc.lr, **({"fused": True} if self.device.type == "cpu" else {}))
        if oc.name == "sgd":
            return torch.optim.SGD(groups, lr=oc.lr, momentum=oc.momentum, **fused)
        return torch.optim.RMSprop(groups, lr=oc.lr, momentum=oc.momentum)

    # ------------------------------------------------------------ checkpoints
    def checkpoints(self) -> list[Path]:
        """Checkpoint files in ``model_dir``, oldest first."""
        if self.model_dir is None or not self.model_dir.is_dir():
            return []
        found = [p for p in self.model_dir.glob(f"{CHECKPOINT_PREFIX}*.pt") if p.stem[len(CHECKPOINT_PREFIX):].isdigit()]
        return sorted(found, key=lambda p: int(p.stem[len(CHECKPOINT_PREFIX):]))

    def _save_checkpoint(self, step: int, state: dict[str, Any]) -> Path:
        assert self.model_dir is not None  # noqa: S101 - internal invariant
        self.model_dir.mkdir(parents=True, exist_ok=True)
        path = self.model_dir / f"{CHECKPOINT_PREFIX}{step}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        for old in self.checkpoints()[:-self.config.keep_checkpoints]:
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
            batch = {k: v.to(self.device) for k, v in data.batch(slice(start, start + bs)).items()}
            outs.append(self.to_prediction(self.model(batch)).float().cpu())
        self.model.train()
        return torch.cat(outs).numpy().astype(np.float64) if outs else np.empty(0)

    def evaluate(self, data: TensorData) -> float:
        """The early-stopping metric on ``data``."""
        if not data.has_label:
            raise DataError("validation data needs labels.")
        return metric_value(self.config.early_stopping_metric or "logloss",
                            data.tensors[LABEL].numpy().astype(np.float64), self.predict(data))

    # ------------------------------------------------------------------ fit
    def fit(self, train: TensorData, valid: TensorData | None = None, *, resume: bool = True) -> pd.DataFrame:
        """Train; return the history (one row per evaluation) as a DataFrame.

        Args:
            train: Training rows with labels.
            valid: Validation rows for early stopping (``early_stopping_metric``).
            resume: Continue from the latest checkpoint in ``model_dir`` when there is one.
        """
        if not train.has_label:
            raise DataError("training data needs a label tensor.")
        if len(train) == 0:
            raise DataError("cannot train on zero rows.")
        threads = torch.get_num_threads()
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        try:
            with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
                torch.manual_seed(self.seed)
                return self._fit(train, valid, resume)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, train: TensorData, valid: TensorData | None, resume: bool) -> pd.DataFrame:
        cfg = self.config
        metric_name = cfg.early_stopping_metric if valid is not None else None
        higher = True
        if metric_name is not None:
            from recutils.evaluation import get_metric

            higher = get_metric(metric_name).higher_is_better
        self.model.to(self.device)
        self.model.train()
        optimizers = self._make_optimizers()
        total = compute_num_steps(len(train), cfg)
        factor = _lr_factor(cfg, total)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]
        n = len(train)
        per_epoch = math.ceil(n / cfg.batch_size)
        eval_every = cfg.eval_every_steps or per_epoch
        step, best, best_state, bad, history = 0, None, None, 0, []
        resumed_done = False
        if resume and self.checkpoints():
            path = self.checkpoints()[-1]
            state = torch.load(path, weights_only=True, map_location=self.device)
            self.model.load_state_dict(state["model"])
            for o, s in zip(optimizers, state["optimizers"]):
                o.load_state_dict(s)
            for sch, s in zip(schedulers, state["schedulers"]):
                sch.load_state_dict(s)
            torch.set_rng_state(state["rng"])
            step, bad = int(state["step"]), int(state["bad"])
            best = None if state["best"] is None else float(state["best"])
            best_state = state["best_state"]
            history = list(state["history"])
            resumed_done = bool(state.get("done", False))
            logger.info("resumed from %s at step %d", path, step)
        train_dev = train.to(self.device) if self.device.type != "cpu" else train
        valid_dev = valid
        label = train_dev.tensors[LABEL]
        perm: torch.Tensor | None = None
        perm_epoch = -1
        loss_sum = torch.zeros((), device=self.device)
        loss_count = 0
        start_time = time.perf_counter()
        stopped = resumed_done
        bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=step, desc="train", unit="step", mininterval=0.5, leave=False)
        try:
            while step < total and not stopped:
                epoch = step // per_epoch
                if epoch != perm_epoch:
                    order = np.random.default_rng([self.seed, epoch]).permutation(n)
                    perm = torch.from_numpy(order).to(self.device)
                    perm_epoch = epoch
                pos = (step % per_epoch) * cfg.batch_size
                idx = perm[pos:pos + cfg.batch_size]  # type: ignore[index]
                batch = train_dev.batch(idx)
                out = self.model(batch)
                loss = self.loss_fn(out, batch[LABEL] if LABEL in batch else label[idx])
                reg = self.model.regularization_loss() if hasattr(self.model, "regularization_loss") else None
                total_loss = loss if reg is None else loss + reg
                for o in optimizers:
                    o.zero_grad(set_to_none=True)
                total_loss.backward()
                for o in optimizers:
                    o.step()
                for sch in schedulers:
                    sch.step()
                loss_sum += loss.detach()
                loss_count += 1
                step += 1
                if bar is not None:
                    bar.update(1)
                last = step == total
                if step % eval_every == 0 or last:
                    row: dict[str, Any] = {"step": step, "epoch": step / per_epoch,
                                           "train_loss": float(loss_sum) / max(loss_count, 1),
                                           "lr": float(optimizers[0].param_groups[0]["lr"]),
                                           "seconds": time.perf_counter() - start_time}
                    loss_sum.zero_()
                    loss_count = 0
                    if metric_name is not None:
                        value = self.evaluate(valid_dev)  # type: ignore[arg-type]
                        row[f"valid_{metric_name}"] = value
                        better = best is None or (value > best + cfg.min_delta if higher
                                                  else value < best - cfg.min_delta)
                        if better:
                            best, bad = value, 0
                            best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                        else:
                            bad += 1
                            if bad > cfg.patience:
                                stopped = True
                                logger.info("early stopping at step %d (best %s=%.5f)", step, metric_name, best)
                        if bar is not None:
                            bar.set_postfix({metric_name: f"{value:.4f}"})
                    history.append(row)
                    logger.info("step %d: %s", step, row)
                if self.model_dir is not None and cfg.checkpoint_every_steps and (
                        step % cfg.checkpoint_every_steps == 0 or last or stopped):
                    self._save_checkpoint(step, {
                        "model": self.model.state_dict(),
                        "optimizers": [o.state_dict() for o in optimizers],
                        "schedulers": [s.state_dict() for s in schedulers],
                        "rng": torch.get_rng_state(), "step": step, "bad": bad,
                        "best": best, "best_state": best_state, "history": history,
                        "done": bool(last or stopped),
                    })
                for cb in self.callbacks:
                    cb(step, self)
                if self.stop_requested:
                    break
        finally:
            if bar is not None:
                bar.close()
        if cfg.restore_best and best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        self.history_ = pd.DataFrame(history)
        self.best_metric_ = best
        return self.history_


__all__ = ["Trainer", "TrainConfig", "OptimizerConfig", "compute_num_steps", "metric_value", "resolve_device"]
