"""The next-item benchmark: sequential models on a leave-one-out split, full and sampled metrics.

The protocol of SASRec and BERT4Rec: each user's last item is the test target, the one
before it the validation target, the rest trains (:func:`recutils.splitting.sequences.sequential_split`);
the model is fitted on the training rows (the validation rows can drive early stopping)
and ranks each user's test item after the user's training and validation history. Every
run reports HR@k, NDCG@k and MRR@k under **full ranking** (all items, history masked)
and under **sampled ranking** (the target against ``n_negatives`` items drawn by
popularity over the whole data set, BERT4Rec's evaluation). The negatives are drawn once
per seed and shared by every model of that seed, so sampled figures compare models on the
same items. Per-user ranks are kept for paired tests (CL4SRec against SASRec, every model
against the reference).

A spec is YAML (``recutils/benchmark/specs/beauty.yaml`` is built in)::

    dataset: beauty
    seeds: [1, 2, 3]
    k: [10]
    n_negatives: 100
    sampling: popularity
    reference: sasrec
    models:
      - name: popularity
      - name: sasrec
        params: {loss: bce, n_epochs: 200}

``popularity`` (training counts of the history rows) is built in; every other entry names
a registered next-item model (:class:`~recutils.models.sequential.base.SequentialRecommender`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.benchmark.spec import ModelSpec
from recutils.config import BaseConfig, load_config
from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError
from recutils.utils.timer import Timer
from recutils.utils.validation import check_positive_int, is_int

logger = logging.getLogger(__name__)

#: Built-in next-item specs (name -> file in ``recutils/benchmark/specs``).
BUILTIN_NEXT_ITEM_SPECS = {"beauty": "beauty.yaml"}
#: The baseline every spec may name without a registry entry.
POPULARITY = "popularity"
_METRICS = ("hr", "ndcg", "mrr")


def _load_beauty() -> pd.DataFrame:
    from recutils.datasets.beauty import load_pandas_df

    return load_pandas_df(progress=False)


#: name -> loader of an interaction frame ``[userID, itemID, timestamp]`` in sequence order.
NEXT_ITEM_DATASETS: dict[str, Callable[[], pd.DataFrame]] = {"beauty": _load_beauty}


@dataclass
class Bar(BaseConfig):
    """A quality bar of a next-item spec, checked on the means over seeds.

    Attributes:
        model: The spec entry the bar is for.
        metric: With ``at_least``: a result column such as ``sampled_HR@10``.
        at_least: The figure the mean must reach.
        beats: Instead of a figure: a model whose mean the entry must exceed on every
            full and sampled metric.
        source: Where the figure comes from (shown in the report).
    """

    model: str = ""
    metric: str | None = None
    at_least: float | None = None
    beats: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("a bar needs the model it is for.")
        if (self.at_least is None) == (self.beats is None):
            raise ConfigError(
                f"bar for {self.model!r}: give either at_least (with metric) or beats."
            )
        if self.at_least is not None:
            if not isinstance(self.metric, str) or not self.metric.startswith(
                ("full_", "sampled_")
            ):
                raise ConfigError(
                    f"bar for {self.model!r}: metric must be a result column such as "
                    f"'sampled_HR@10', got {self.metric!r}."
                )
            if isinstance(self.at_least, bool) or not isinstance(self.at_least, (int, float)):
                raise ConfigError(
                    f"bar for {self.model!r}: at_least must be a number, got {self.at_least!r}."
                )


@dataclass
class NextItemSpec(BaseConfig):
    """A next-item benchmark.

    Attributes:
        dataset: A name of :data:`NEXT_ITEM_DATASETS`.
        seeds: Model seeds (the leave-one-out split does not depend on them; the negatives do).
        k: Cut-offs of HR@k, NDCG@k, MRR@k.
        n_negatives: Negatives per user of the sampled ranking.
        sampling: ``popularity`` (BERT4Rec) or ``uniform``.
        reference: Model every other is tested against user by user, or ``None``.
        validation: Pass the validation rows to ``fit(valid=...)`` (early stopping with a
            model's ``patience``).
        validation_users: Pass only this many users' validation rows (drawn once, the same
            for every model and seed), which keeps the per-epoch evaluation cheap; ``None``:
            every user's.
        models: The :class:`~recutils.benchmark.spec.ModelSpec` entries.
        bars: Quality bars the report checks (:class:`Bar`).
    """

    dataset: str = "beauty"
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    k: list[int] = field(default_factory=lambda: [10])
    n_negatives: int = 100
    sampling: str = "popularity"
    reference: str | None = None
    validation: bool = False
    validation_users: int | None = None
    models: list[ModelSpec] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.dataset not in NEXT_ITEM_DATASETS:
            raise ConfigError(
                f"unknown next-item dataset {self.dataset!r}; known: {sorted(NEXT_ITEM_DATASETS)}."
            )
        if (
            not isinstance(self.seeds, list)
            or not self.seeds
            or not all(is_int(s) for s in self.seeds)
        ):
            raise ConfigError(f"seeds must be a non-empty list of integers, got {self.seeds!r}.")
        if isinstance(self.k, int):
            self.k = [self.k]
        if not isinstance(self.k, list) or not self.k:
            raise ConfigError(f"k must be a non-empty list of positive integers, got {self.k!r}.")
        for value in self.k:
            check_positive_int("k", value)
        check_positive_int("n_negatives", self.n_negatives)
        if self.sampling not in ("popularity", "uniform"):
            raise ConfigError(f"sampling must be 'popularity' or 'uniform', got {self.sampling!r}.")
        if not isinstance(self.validation, bool):
            raise ConfigError(f"validation must be true or false, got {self.validation!r}.")
        if self.validation_users is not None:
            check_positive_int("validation_users", self.validation_users)
        models = [
            m if isinstance(m, ModelSpec) else ModelSpec.from_dict(dict(m)) for m in self.models
        ]
        names = [m.name for m in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"model names must be unique; repeated: {dupes}.")
        if self.reference is not None and self.reference not in names:
            raise ConfigError(f"reference {self.reference!r} is not one of the models {names}.")
        self.models = models
        if not isinstance(self.bars, list):
            raise ConfigError(f"bars must be a list, got {self.bars!r}.")
        bars = [b if isinstance(b, Bar) else Bar.from_dict(dict(b)) for b in self.bars]
        for bar in bars:
            unknown = sorted({bar.model, bar.beats} - set(names) - {None})
            if unknown:
                raise ConfigError(f"bar names {unknown}, which are not models of the spec {names}.")
        self.bars = bars

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["models"] = [m.to_dict() for m in self.models]
        out["bars"] = [b.to_dict() for b in self.bars]
        return out


def load_next_item_spec(source: str | Path | Mapping[str, Any] | NextItemSpec) -> NextItemSpec:
    """A :class:`NextItemSpec` from a built-in name (``"beauty"``), a YAML file or text, or a mapping."""
    if isinstance(source, NextItemSpec):
        return source
    if isinstance(source, str) and source in BUILTIN_NEXT_ITEM_SPECS:
        text = (
            resources.files("recutils.benchmark")
            .joinpath("specs", BUILTIN_NEXT_ITEM_SPECS[source])
            .read_text()
        )
        return load_config(text, NextItemSpec)
    return load_config(source, NextItemSpec)


def _key(m: ModelSpec) -> str:
    return json.dumps({"model": m.model, "params": m.params}, sort_keys=True, default=str)


def _done(path: Path | None) -> pd.DataFrame | None:
    return pd.read_csv(path) if path is not None and path.exists() else None


class _RunClock:
    """Wall seconds of one run across the processes that trained it (a run interrupted and
    resumed from its checkpoints): ``elapsed.json`` in the run's checkpoint folder maps each
    finished epoch to the seconds spent on the run by the end of it."""

    def __init__(self, folder: Path | None) -> None:
        import time

        self._now = time.perf_counter
        self.folder, self.path = folder, None if folder is None else folder / "elapsed.json"
        self.before = 0.0
        if self.path is not None and self.path.exists():
            from recutils.nn.trainer import checkpoint_files, checkpoint_number

            found = checkpoint_files(folder)
            if found:
                # the newest checkpoint is where the fit resumes: the time up to its epoch counts
                seen = json.loads(self.path.read_text())
                self.before = float(seen.get(str(checkpoint_number(found[-1])), 0.0))
        self.start = self._now()

    def seconds(self) -> float:
        """Seconds of the run so far, earlier processes included."""
        return self.before + self._now() - self.start

    def on_evaluate(self, row: Mapping[str, Any], trainer: Any) -> None:
        """Trainer callback: record the time at the end of each epoch."""
        if self.path is None:
            return None
        seen = json.loads(self.path.read_text()) if self.path.exists() else {}
        seen[str(int(row["epoch"]))] = self.seconds()
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(seen))
        os.replace(tmp, self.path)
        return None


def _run_folder(root: Path, m: ModelSpec, seed: int) -> Path:
    """The checkpoint folder of one run: the entry's name, the seed and its parameters' hash
    (a changed entry never resumes from another configuration's checkpoints)."""
    import hashlib

    digest = hashlib.sha256(_key(m).encode()).hexdigest()[:12]
    return root / f"{m.name}-seed{seed}-{digest}"


def run_next_item_benchmark(
    spec: Any,
    *,
    data: pd.DataFrame | None = None,
    results_path: str | os.PathLike | None = None,
    per_user_path: str | os.PathLike | None = None,
    progress: bool = True,
    num_threads: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Run every model of ``spec`` for every seed; return one row per run.

    Rows already in ``results_path`` (same model, parameters and seed) are kept and not
    rerun, so an interrupted run resumes. Each finished run is appended to the CSV at once.

    Args:
        spec: A :class:`NextItemSpec`, a built-in name, a YAML file or a mapping.
        data: The interactions (default: the spec's data set).
        results_path: CSV of the results (read to resume, appended to).
        per_user_path: gzip CSV of every user's full and sampled rank per run.
        progress: Progress bars.
        num_threads: torch CPU threads of every fit (a run setting: not part of a run's key,
            so a run resumed with another value is not repeated); ``None``: the models' default.
        checkpoint_dir: Folder for per-epoch checkpoints, one sub-folder per run (entry,
            seed, parameters' hash): a run killed part-way resumes at its last finished
            epoch when the benchmark is started again (a run setting, like
            ``num_threads``); the sub-folder is removed once the run's row is written. Its
            ``fit_s`` then counts the time of every process that trained it.

    Returns:
        ``model, seed, full_HR@k..., sampled_HR@k..., fit_s, eval_s, n_users, params``.
    """
    from recutils.models import create_model
    from recutils.splitting.sequences import sequential_split

    spec = load_next_item_spec(spec)
    checkpoint_root = None if checkpoint_dir is None else Path(checkpoint_dir)
    results_path = None if results_path is None else Path(results_path)
    per_user_path = None if per_user_path is None else Path(per_user_path)
    previous = _done(results_path)
    done = (
        set()
        if previous is None
        else set(zip(previous["model"], previous["seed"], previous["params"]))
    )
    data = NEXT_ITEM_DATASETS[spec.dataset]() if data is None else data
    train, valid, test = sequential_split(data)
    history = pd.concat([train, valid])
    if spec.validation_users is not None:
        users = valid[DEFAULT_USER_COL].unique()
        if spec.validation_users < len(users):
            keep = np.random.default_rng(0).choice(users, spec.validation_users, replace=False)
            valid = valid[valid[DEFAULT_USER_COL].isin(keep)]
    items = pd.Index(np.sort(data[DEFAULT_ITEM_COL].unique()))
    popularity = data[DEFAULT_ITEM_COL].value_counts()
    rows = [] if previous is None else previous.to_dict("records")
    negatives_by_seed: dict[int, Any] = {}
    for seed in spec.seeds:
        for m in spec.models:
            if (m.name, seed, _key(m)) in done:
                continue
            params = dict(m.params)
            folder = None
            if m.model != POPULARITY:
                params.setdefault("progress", progress)
                params["seed"] = seed
                if num_threads is not None:
                    params["num_threads"] = num_threads
                if checkpoint_root is not None:
                    folder = _run_folder(checkpoint_root, m, seed)
                    params["model_dir"] = str(folder)
            logger.info("next-item benchmark: %s, seed %d", m.name, seed)
            clock = _RunClock(folder)
            if clock.before:
                logger.info("resuming %s after %.0f s of earlier runs", folder, clock.before)
            if m.model == POPULARITY:
                counts = (
                    history[DEFAULT_ITEM_COL].value_counts().reindex(items).fillna(0).to_numpy()
                )
                model = None
            else:
                model = create_model(m.model, callbacks=[clock], **params)
                model.fit(train, valid=valid if spec.validation else None, items=items)
            fit_seconds = clock.seconds()
            with Timer() as t_eval:
                if model is None:
                    result = _popularity_result(
                        counts, items, history, test, popularity, spec, seed, negatives_by_seed
                    )
                else:
                    result = model.evaluate_next(
                        history,
                        test,
                        k=spec.k,
                        n_negatives=spec.n_negatives,
                        sampling=spec.sampling,
                        popularity=popularity,
                        seed=seed,
                        negatives=negatives_by_seed.get(seed),
                        progress=progress,
                    )
                    negatives_by_seed[seed] = result.negatives
            row = {"model": m.name, "registry": m.model, "dataset": spec.dataset, "seed": seed}
            for ranking in ("full", "sampled"):
                row.update(
                    {f"{ranking}_{name}": value for name, value in result.metrics(ranking).items()}
                )
            row.update(
                {
                    "fit_s": fit_seconds,
                    "eval_s": t_eval.interval,
                    "n_users": len(result.full_ranks),
                    "epochs": None if model is None else len(model.history_),
                    "params": _key(m),
                }
            )
            rows.append(row)
            if results_path is not None:
                pd.DataFrame([row]).to_csv(
                    results_path, mode="a", header=not results_path.exists(), index=False
                )
            if per_user_path is not None:
                ranks = pd.DataFrame(
                    {
                        "model": m.name,
                        "seed": seed,
                        DEFAULT_USER_COL: result.extra["users"],
                        "full_rank": result.full_ranks,
                        "sampled_rank": result.sampled_ranks,
                    }
                )
                ranks.to_csv(
                    per_user_path,
                    mode="a",
                    header=not per_user_path.exists(),
                    index=False,
                    compression="gzip",
                )
            if folder is not None:  # the run is in the results: its checkpoints are spent
                shutil.rmtree(folder, ignore_errors=True)
    return pd.DataFrame(rows)


def _popularity_result(
    counts: np.ndarray,
    items: pd.Index,
    history: pd.DataFrame,
    test: pd.DataFrame,
    popularity: pd.Series,
    spec: NextItemSpec,
    seed: int,
    negatives_by_seed: dict,
) -> Any:
    """The popularity baseline's ranks (history items masked), on the seed's shared negatives."""
    import scipy.sparse as sp

    from recutils.evaluation.next_item import draw_negatives, evaluate_next_item

    test = test[test[DEFAULT_ITEM_COL].isin(items)]
    users = pd.Index(test[DEFAULT_USER_COL].unique())
    hist = history[history[DEFAULT_USER_COL].isin(users)]
    rows = users.get_indexer(hist[DEFAULT_USER_COL])
    seen = sp.csr_matrix(
        (np.ones(len(hist), dtype=bool), (rows, items.get_indexer(hist[DEFAULT_ITEM_COL]))),
        shape=(len(users), len(items)),
    )
    targets = items.get_indexer(test.set_index(DEFAULT_USER_COL).loc[users, DEFAULT_ITEM_COL])
    negatives = negatives_by_seed.get(seed)
    if negatives is None:
        forbid = seen + sp.csr_matrix(
            (np.ones(len(users), dtype=bool), (np.arange(len(users)), targets)), shape=seen.shape
        )
        weights = popularity.reindex(items).fillna(0).to_numpy(dtype=np.float64)
        negatives = draw_negatives(
            len(items),
            forbid,
            spec.n_negatives,
            spec.sampling,
            weights if spec.sampling == "popularity" else None,
            seed=seed,
        )
        negatives_by_seed[seed] = negatives
    scores = counts.astype(np.float32)
    result = evaluate_next_item(
        lambda r: np.broadcast_to(scores, (len(r), len(items))),
        targets,
        len(items),
        exclude=seen,
        negatives=negatives,
        k=spec.k,
    )
    result.extra["users"] = users.to_numpy()
    return result


__all__ = [
    "Bar",
    "BUILTIN_NEXT_ITEM_SPECS",
    "NEXT_ITEM_DATASETS",
    "NextItemSpec",
    "POPULARITY",
    "load_next_item_spec",
    "run_next_item_benchmark",
]
