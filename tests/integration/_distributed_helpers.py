"""Helpers of the multi-process training tests: a tiny click-through network on synthetic
rows, and a worker that trains it as one rank of a gloo process group (started with
:func:`torch.multiprocessing.spawn`, which imports this module in each child)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recutils.nn.data import DENSE, IDS, LABEL, TensorData
from recutils.nn.trainer import Trainer

N_IDS = 50


class TinyCTR(torch.nn.Module):
    """Logit = sum of the rows' id embeddings (dot a vector) + a linear term of the dense columns."""

    def __init__(self, sparse: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(N_IDS, 4, sparse=sparse)
        self.out = torch.nn.Linear(4, 1)
        self.dense = torch.nn.Linear(3, 1)
        self.drop = torch.nn.Dropout(dropout) if dropout else None
        #: with dropout: the weights seen by the first training step, and the keep-mask of
        #: each step's first row (what a test compares across ranks)
        self.first_weights: list[float] | None = None
        self.masks: list[list[bool]] = []

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        dense = [*self.out.parameters(), *self.dense.parameters()]
        return {
            "embedding": [self.emb.weight],
            "dense_weight": [p for p in dense if p.dim() >= 2],
            "dense_other": [p for p in dense if p.dim() < 2],
        }

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.emb(batch[IDS]).sum(1)
        if self.drop is not None and self.training:
            if self.first_weights is None:
                self.first_weights = self.emb.weight.detach().flatten()[:8].tolist()
            keep = self.drop(torch.ones_like(h))
            self.masks.append((keep[0] > 0).tolist())
            h = h * keep
        return (self.out(h) + self.dense(batch[DENSE])).squeeze(-1)


def tiny_data(n: int, seed: int) -> TensorData:
    """``n`` rows: two id columns, three dense columns and a label that depends on both."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, N_IDS, size=(n, 2))
    dense = rng.normal(size=(n, 3)).astype(np.float32)
    logit = np.sin(ids[:, 0]) + np.cos(ids[:, 1]) + dense[:, 0] - 0.5 * dense[:, 1]
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * logit))).astype(np.float32)
    return TensorData(
        {IDS: torch.from_numpy(ids), DENSE: torch.from_numpy(dense), LABEL: torch.from_numpy(label)}
    )


def config(**changes: Any) -> dict[str, Any]:
    """The training settings of the tests (global batch 64, 3 epochs, AUC every epoch)."""
    return {
        "batch_size": 64,
        "epochs": 3,
        "optimizers": [{"name": "adam", "lr": 0.02}],
        "patience": 10,
        "early_stopping_metric": "auc",
        "restore_best": False,
        "device": "cpu",
        "progress": False,
        "num_threads": 1,
        **changes,
    }


class StopAfter:
    """Stops training after ``steps`` steps (a run killed mid-epoch, after its last checkpoint)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __call__(self, step: int, trainer: Trainer) -> None:
        if step >= self.steps:
            trainer.stop_requested = True


def train(
    settings: dict[str, Any],
    model_dir: str | None = None,
    stop_after: int | None = None,
    sparse: bool = False,
    dropout: float = 0.0,
    init_by_rank: bool = False,
) -> dict[str, Any]:
    """Train :class:`TinyCTR` on the tiny rows (in whatever process group is current); with
    ``init_by_rank`` each rank initialises its weights from a different seed."""
    torch.manual_seed(int(os.environ.get("RANK", "0")) if init_by_rank else 0)
    model = TinyCTR(sparse=sparse, dropout=dropout)
    trainer = Trainer(
        model,
        settings,
        seed=7,
        model_dir=model_dir,
        callbacks=[StopAfter(stop_after)] if stop_after else None,
    )
    history = trainer.fit(tiny_data(1600, 1), tiny_data(800, 2))
    return {
        "history": history.to_dict("records"),
        "weights": {
            k: v.detach().to_dense().flatten()[:8].tolist() for k, v in model.state_dict().items()
        },
        "first_weights": model.first_weights,
        "masks": model.masks,
    }


def cf_frames() -> tuple[Any, Any]:
    """Tiny implicit-feedback data (60 users, 40 items, 900 rows): train and validation frames."""
    from recutils.datasets.synthetic import make_interactions
    from recutils.splitting import python_random_split

    df = make_interactions(60, 40, 900, seed=3).ratings
    return python_random_split(df, ratio=0.8, seed=3)


def fit_cf(model: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fit the registered CF model ``model`` with ``params`` on :func:`cf_frames` (validated
    every epoch; in whatever process group is current): its history and every weight."""
    from recutils.models import create_model

    train_df, valid_df = cf_frames()
    fitted = create_model(model, progress=False, **params).fit(train_df, valid=valid_df)
    return {
        "history": fitted.history_.drop(columns="seconds").to_dict("records"),
        "weights": {
            k: v.detach().flatten().tolist() for k, v in fitted.network_.state_dict().items()
        },
    }


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(
    rank: int,
    world: int,
    port: int,
    out: str,
    jobs: dict[str, dict[str, Any]],
    task: Callable[..., dict[str, Any]] = train,
) -> None:
    """One rank: join the gloo group as ``torchrun`` would set it up, run every job (keyword
    arguments of ``task``) and write ``<job>-rank<r>.json``."""
    from recutils.nn import distributed

    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    ctx = distributed.init_from_env("gloo", timeout_s=60)
    assert ctx is not None and ctx.world_size == world  # noqa: S101 - test helper
    try:
        for name, job in jobs.items():
            Path(out, f"{name}-rank{rank}.json").write_text(json.dumps(task(**job)))
    finally:
        distributed.shutdown()


def run_ranks(
    world: int,
    out: Path,
    jobs: dict[str, dict[str, Any]],
    task: Callable[..., dict[str, Any]] = train,
) -> dict[str, list[dict[str, Any]]]:
    """Run ``jobs`` (name -> keyword arguments of ``task``, a function of this module:
    :func:`train` or :func:`fit_cf`) on ``world`` spawned gloo ranks (one process group, the
    jobs one after the other); each job's results in rank order."""
    import torch.multiprocessing as mp

    out.mkdir(parents=True, exist_ok=True)
    mp.spawn(worker, args=(world, free_port(), str(out), jobs, task), nprocs=world, join=True)
    return {
        name: [json.loads((out / f"{name}-rank{r}.json").read_text()) for r in range(world)]
        for name in jobs
    }
