"""``DeepRankModel``: a config-built PyTorch ranking network as a recutils Recommender.

The model takes an interactions frame with a label (or rating) column and any feature
columns the config names, learns a :class:`~recutils.nn.features.FeatureEncoder`
on it, builds the network with :func:`recutils.nn.backbone.build_rank_network` and
trains it with :class:`recutils.nn.trainer.Trainer` (early stopping on a held-out
``train.validation_fraction`` of the rows).

Scoring:

* ``predict(df)`` scores each row; feature columns present in ``df`` are encoded
  from it, user / item features absent from ``df`` are looked up from the tables
  learned at fit (each user's / item's training value), context features absent from
  ``df`` count as missing.
* ``recommend_k_items(users)`` scores every training item for each user with the
  user's and the items' features (probabilities, higher is better).

``save`` writes the config, the fitted encoder (vocabularies as arrays), the user /
item feature tables and the weights into the standard ``manifest.json`` +
``arrays.npz`` (no pickle).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import DataError
from recutils.models import persistence
from recutils.models.base import BaseRecommender, ContractCase, TrainData
from recutils.models.deep.config import DeepRankConfig, example_config_path
from recutils.nn.config_io import load_config_with, merge_config
from recutils.nn.features import FeatureConfig, FeatureEncoder, infer_feature_configs
from recutils.utils.deps import require
from recutils.utils.validation import check_columns

torch = require("torch", "torch")

from recutils.nn.data import SOFT_LABEL, TensorData  # noqa: E402
from recutils.nn.networks import build_network  # noqa: E402
from recutils.nn.trainer import Callback, Trainer  # noqa: E402

logger = logging.getLogger(__name__)

_SCORE_ROWS = 1 << 18  # rows scored per forward pass
_RECOMMENDER_KWARGS = (
    "col_user",
    "col_item",
    "col_rating",
    "col_timestamp",
    "col_prediction",
    "progress",
    "n_jobs",
)


class DeepRankModel(BaseRecommender):
    """A ranking (click-through) network composed from config; see the module docstring.

    Args:
        config: A :class:`DeepRankConfig`, a mapping, YAML text or a YAML file path, or
            EasyRec text or a ``.config`` file (its features, if any, become ``features``);
            read by :func:`recutils.nn.config_io.load_config_with`.
        col_user, col_item, col_rating, col_timestamp, col_prediction: Column names;
            ``col_rating`` holds the label (or a rating with ``label_threshold``).
        callbacks: Training callbacks passed to :class:`~recutils.nn.trainer.Trainer`
            (:class:`~recutils.nn.trainer.Callback` objects, e.g. with an
            ``on_evaluate(row, trainer)`` hook after each validation, or functions
            ``(step, trainer)``); not part of the saved config.
        **params: Config fields, e.g. ``model_config=<EasyRec text>``, ``seed=7``.
            Mappings are merged into ``config`` (see :func:`recutils.nn.config_io.merge_config`):
            ``train={"epochs": 3}`` keeps the config's other training settings, and
            ``train={"optimizers": {"0": {"lr": 0.01}}}`` changes the first optimizer.

    Fitted attributes: ``encoder_``, ``network_``, ``history_`` (DataFrame, one row per
    evaluation: ``step``, ``epoch`` as a whole number from 1, ``train_loss``, ``lr``,
    ``seconds``, ``valid_<metric>``), ``best_epoch_`` (the epoch whose weights early
    stopping kept, ``None`` without validation), ``user_table_`` / ``item_table_`` (encoded per-user / per-item features).
    """

    name: ClassVar[str] = "deep_rank"
    config_class: ClassVar[type[DeepRankConfig]] = DeepRankConfig
    duplicates: ClassVar[str] = "keep"
    #: Takes trainer ``callbacks`` (tuning reports per-epoch validation values through them).
    evaluation_callbacks: ClassVar[bool] = True

    def __init__(
        self,
        config: DeepRankConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        callbacks: list[Callback | Any] | None = None,
        **params: Any,
    ) -> None:
        kwargs = {k: params.pop(k) for k in _RECOMMENDER_KWARGS if k in params}
        super().__init__(load_config_with(config, self.config_class, params), **kwargs)
        self.callbacks = list(callbacks or [])

    # ----------------------------------------------------------------- build
    @classmethod
    def from_easyrec(cls, source: str | Path, **params: Any) -> DeepRankModel:
        """A model whose ``model_config`` (and features, if any) come from EasyRec text or a file.

        An EasyRec file has no training section: training settings come from ``train=``
        (e.g. the ``train`` section of a YAML config) and, for every setting not given
        there, :class:`~recutils.nn.config.TrainConfig`'s defaults.
        """
        from recutils.nn.easyrec import load_easyrec_config

        loaded = load_easyrec_config(source)
        if loaded.features and "features" not in params:
            params["features"] = loaded.features
        return cls(model_config=loaded.model_config, **params)

    @classmethod
    def from_example(cls, name: str = "wide_deep_movielens.yaml", **params: Any) -> DeepRankModel:
        """A model from a shipped config, by file name (YAML or EasyRec text; see
        :func:`~recutils.models.deep.example_config_path`)."""
        return cls(config=example_config_path(name), **params)

    # ------------------------------------------------------------------ fit
    def _side_columns(self) -> list[str]:
        """The source column of every feature the network reads (``@user`` / ``@item``
        mapped to the id columns; a feature without a config reads the column of its name).
        """
        configured = {f.name: f for f in self.config.features}
        ids = {"@user": self.col_user, "@item": self.col_item}
        columns = []
        for name in self.config.model_config.feature_names:
            feature = configured.get(name)
            column = (feature.column or feature.name) if feature is not None else name
            columns.append(ids.get(column, column))
        if self.config.kd:
            columns.extend(c for c in self._teacher_columns() if c not in columns)
        return columns

    def _labels(self, rating: np.ndarray) -> np.ndarray:
        """The training labels of ``rating`` (``rating >= label_threshold`` when set).

        Raises:
            DataError: a classification loss with labels outside ``[0, 1]``, or with one
                label value on every row (a single class: see :meth:`_check_two_classes`).
        """
        thr = self.config.label_threshold
        classification = self.config.train.loss in ("sigmoid_cross_entropy", "CLASSIFICATION")
        if thr is not None:
            labels = (rating >= thr).astype(np.float32)
        else:
            if classification and ((rating < 0).any() or (rating > 1).any()):
                raise DataError(
                    f"{self.col_rating} holds values outside [0, 1] ({rating.min()}..{rating.max()}); "
                    "give 0/1 labels or set label_threshold (e.g. 4.0 for 'rating >= 4')."
                )
            labels = rating.astype(np.float32)
        if classification:
            self._check_two_classes(labels)
        return labels

    def _fit_labels(self, data: TrainData) -> np.ndarray:
        """The training labels of ``data`` (from its ratings, see :meth:`_labels`)."""
        return self._labels(data.rating)

    def _check_two_classes(self, labels: np.ndarray) -> None:
        """Refuse labels of a single class (all 0 or all 1) under a classification loss.

        Such a fit is an error, not a warning: the network can only learn the constant
        that matches the one class, so every pair would get (nearly) the same score and the
        recommendations would carry no information, while the fit itself looks normal.
        The usual causes are positive-only (implicit) data without sampled negatives, or
        a ``label_threshold`` above (or below) every rating.
        """
        if labels.size == 0 or labels.min() != labels.max():
            return
        value = float(labels[0])
        thr = self.config.label_threshold
        negatives = (
            "negative rows (e.g. from recutils.datasets.sample_negatives for implicit feedback)"
        )
        if thr is not None:
            fix = (
                f"label_threshold={thr} makes {'every' if value >= 1 else 'no'} row positive: choose a "
                f"threshold between the smallest and the largest rating, or add {negatives}"
            )
        else:
            fix = f"Add {negatives}"
        raise DataError(
            f"every training label ({self.col_rating}) is {value:g}, on all {labels.size} rows: a "
            f"click-through model needs both positive (1) and negative (0) rows, or it learns one "
            f"constant score for every pair. {fix}."
        )

    def _resolve_features(self, df: pd.DataFrame) -> list[FeatureConfig]:
        cfg = self.config
        configured = {f.name: f for f in cfg.features}
        names = cfg.model_config.feature_names
        missing = [n for n in names if n not in configured]
        inferred = infer_feature_configs(df, missing) if missing else []
        by_name = {**configured, **{f.name: f for f in inferred}}
        return [by_name[n] for n in names]

    def _fit(self, data: TrainData) -> None:
        df = data.frame
        if df is None:  # pragma: no cover - the model always declares side columns
            raise DataError("DeepRankModel needs the training frame (TrainData.frame).")
        cfg = self.config
        labels = self._fit_labels(data)
        features = self._resolve_features(df)
        encoder = FeatureEncoder(
            features,
            column_map={"@user": self.col_user, "@item": self.col_item},
            default_embedding_dim=cfg.default_embedding_dim,
        )
        encoder.fit(df, col_user=self.col_user, col_item=self.col_item)
        self._check_parallel_sequences(encoder, df)
        encoded = encoder.transform(df)
        network = self._build_network(encoder.specs)
        layout = network.backbone.layout
        full = TensorData.from_encoded(encoded, layout, labels)
        rng = np.random.default_rng(cfg.seed)
        valid = None
        train_rows = np.arange(len(labels))
        frac = cfg.train.validation_fraction
        if frac > 0 and cfg.train.early_stopping_metric is not None:
            order = rng.permutation(len(labels))
            n_valid = int(round(frac * len(labels)))
            v_rows, t_rows = np.sort(order[:n_valid]), np.sort(order[n_valid:])
            if n_valid > 0 and len(t_rows) > 0 and len(np.unique(labels[v_rows])) > 1:
                valid, train_rows = full.subset(v_rows), t_rows
            else:
                logger.warning("validation part too small or one-class: early stopping is off")
        soft = self._soft_labels(data)
        if soft is not None:
            full.tensors[SOFT_LABEL] = torch.from_numpy(soft)
            if valid is not None:
                valid = full.subset(v_rows)
        train = full.subset(train_rows) if valid is not None else full
        trainer = Trainer(
            network,
            cfg.train,
            seed=cfg.seed,
            model_dir=cfg.model_dir,
            callbacks=self.__dict__.get("callbacks"),
            distillation=self._distillation(network),
        )
        self.history_ = trainer.fit(train, valid)
        self.best_epoch_ = trainer.best_epoch_
        self.network_ = network.eval()
        self.encoder_ = encoder
        self.user_table_ = self._side_table(encoded, data.user_idx, data.n_users, "user")
        self.item_table_ = self._side_table(encoded, data.item_idx, data.n_items, "item")

    # ------------------------------------------------------- distillation
    def _teachers(self) -> list[Any]:
        """The loaded teacher models of the ``kd`` terms (None for a teacher column), loaded once."""
        cache = self.__dict__.setdefault("_teacher_cache", {})
        out = []
        for term in self.config.kd:
            if term.teacher_model is None:
                out.append(None)
                continue
            if term.teacher_model not in cache:
                from recutils.models import load_model

                cache[term.teacher_model] = load_model(term.teacher_model)
            out.append(cache[term.teacher_model])
        return out

    def _teacher_columns(self) -> list[str]:
        """The frame columns the ``kd`` terms read: teacher columns and the teachers' own inputs."""
        columns: list[str] = []
        for term, teacher in zip(self.config.kd, self._teachers()):
            if teacher is None:
                columns.append(term.teacher_column)  # type: ignore[arg-type]
            else:
                columns.extend(
                    c
                    for c in teacher._side_columns()
                    if c not in (teacher.col_user, teacher.col_item)
                )
        return columns

    def _soft_labels(self, data: TrainData) -> np.ndarray | None:
        """The teacher probabilities ``[rows, terms]`` of the training rows, or None without ``kd``.

        Raises:
            ColumnMismatchError: a teacher column is missing.
            DataError: NaN soft labels or values outside [0, 1], naming the teacher.
        """
        if not self.config.kd:
            return None
        from recutils.nn.distill import check_teacher_probabilities

        frame = data.frame
        columns = []
        for term, teacher in zip(self.config.kd, self._teachers()):
            if teacher is None:
                name = term.teacher_column
                check_columns(
                    frame if frame is not None else pd.DataFrame(), [name], name="training frame"
                )
                values = frame[name]  # type: ignore[index]
                if not pd.api.types.is_numeric_dtype(values):
                    raise DataError(
                        f"kd: teacher column {name!r} must be numeric, got dtype {values.dtype}."
                    )
                columns.append(
                    check_teacher_probabilities(
                        values.to_numpy(dtype=np.float64, na_value=np.nan),
                        f"teacher column {name!r}",
                    )
                )
                continue
            rows = pd.DataFrame(
                {
                    teacher.col_user: self.user_ids_[data.user_idx],
                    teacher.col_item: self.item_ids_[data.item_idx],
                }
            )
            if frame is not None:
                extra = [c for c in frame.columns if c not in rows.columns]
                rows = pd.concat([rows, frame[extra].reset_index(drop=True)], axis=1)
            pred = teacher.predict(rows)[teacher.col_prediction].to_numpy(dtype=np.float64)
            columns.append(
                check_teacher_probabilities(
                    pred, f"teacher model {term.teacher_model!r}'s predictions"
                )
            )
        return np.stack(columns, axis=1)

    def _distillation(self, network: torch.nn.Module) -> Any:
        """The :class:`~recutils.nn.distill.DistillationObjective` of the ``kd`` terms, or None."""
        if not self.config.kd:
            return None
        from recutils.nn.distill import DistillationObjective

        tasks = list(getattr(network, "task_names", []))
        rocket = network.__class__.__name__ == "RocketNetwork"
        index = [
            tasks.index(t.task or tasks[0]) if tasks else (0 if rocket else None)
            for t in self.config.kd
        ]
        return DistillationObjective(self.config.kd, index)

    def _build_network(self, specs: Mapping[str, Any]) -> torch.nn.Module:
        """The untrained network of the config for the fitted feature ``specs``."""
        return build_network(self.config.model_config, specs, seed=self.config.seed)

    def _scores(self, outputs: torch.Tensor) -> torch.Tensor:
        """The scores of the network's outputs (probabilities)."""
        return torch.sigmoid(outputs)

    def _side_table(
        self, encoded: Mapping[str, np.ndarray], idx: np.ndarray, n: int, side: str
    ) -> dict[str, np.ndarray]:
        """Encoded value of each ``side`` feature per user/item (from its first training row)."""
        _, first = np.unique(idx, return_index=True)  # codes are 0..n-1, all present
        return {
            name: values[first]
            for name, values in encoded.items()
            if self.encoder_.side_of(name) == side
        }

    # -------------------------------------------------------------- scoring
    def _context_default(self, name: str, n: int) -> np.ndarray:
        spec = self.encoder_.specs[name]
        if spec.kind == "dense":
            return np.zeros(n, dtype=np.float32)
        if spec.kind == "bag":
            return np.zeros((n, spec.length), dtype=np.int64)
        if spec.kind == "series":
            return np.zeros((n, spec.length), dtype=np.float32)
        return np.zeros(n, dtype=np.int64)

    def _forward(self, encoded: Mapping[str, np.ndarray]) -> np.ndarray:
        layout = self.network_.backbone.layout
        data = TensorData.from_encoded(encoded, layout)
        device = next(self.network_.parameters()).device
        out = []
        self.network_.eval()
        with torch.no_grad():
            for start in range(0, len(data), _SCORE_ROWS):
                batch = {
                    k: v.to(device)
                    for k, v in data.batch(slice(start, start + _SCORE_ROWS)).items()
                }
                out.append(self._scores(self.network_(batch)).double().cpu())
        return torch.cat(out).numpy() if out else np.empty(0)

    def _check_parallel_sequences(self, encoder: FeatureEncoder, frame: pd.DataFrame) -> None:
        """Refuse rows whose parallel histories differ in length.

        The sequence features of one ``SEQUENCE`` group describe the same behaviours position
        by position (an item list, its categories, its times): a row whose lists have
        different lengths would pair an item with another behaviour's category or time once
        they are right-aligned and cut to ``max_length``, silently. Groups whose columns are
        not all in ``frame`` are not checked (their values come from the fitted tables).

        Raises:
            DataError: names the group, its columns, the number of rows and the first one.
        """
        for group in self.config.model_config.feature_groups:
            if group.wide_deep != "SEQUENCE":
                continue
            names = [
                n
                for n in group.feature_names
                if n in encoder.features and encoder.features[n].type == "sequence"
            ]
            columns = [encoder.column_of(n) for n in names]
            if len(names) < 2 or any(c not in frame.columns for c in columns):
                continue
            lengths = np.stack(
                [encoder.sequence_lengths(n, frame[c]) for n, c in zip(names, columns)]
            )
            bad = np.flatnonzero((lengths != lengths[0]).any(axis=0))
            if bad.size:
                first = int(bad[0])
                found = ", ".join(f"{c}: {int(k)}" for c, k in zip(columns, lengths[:, first]))
                raise DataError(
                    f"SEQUENCE group {group.group_name!r}: the lists of {columns} describe the same "
                    f"behaviours and must have one value each per behaviour, but {bad.size} row(s) "
                    f"differ in length (first: row {first}, {found}). Build them together (e.g. "
                    "recutils.datasets.behaviour_ctr.history_samples) or fix the rows."
                )

    def _rows_features(
        self, user_idx: np.ndarray, item_idx: np.ndarray, frame: pd.DataFrame | None = None
    ) -> dict[str, np.ndarray]:
        """Encoded features of rows: from ``frame`` when it has the column, else the
        user / item tables (index ``-1``: unknown, counts as missing), else missing."""
        if frame is not None:
            self._check_parallel_sequences(self.encoder_, frame)
        layout = self.network_.backbone.layout
        encoded = {}
        for name in (
            layout.id_features
            + layout.dense_features
            + layout.bag_features
            + layout.series_features
        ):
            column = self.encoder_.column_of(name)
            side = self.encoder_.side_of(name)
            if frame is not None and column in frame.columns:
                encoded[name] = self.encoder_.encode_feature(name, frame[column])
                continue
            idx, table = {
                "user": (user_idx, self.user_table_),
                "item": (item_idx, self.item_table_),
            }.get(side, (None, None))
            default = self._context_default(name, len(user_idx))
            if idx is None:
                encoded[name] = default
            else:
                known = idx >= 0
                values = table[name][np.where(known, idx, 0)]
                if not known.all():
                    values[~known] = default[~known]
                encoded[name] = values
        return encoded

    def _score_pairs(
        self,
        user_idx: np.ndarray,
        item_idx: np.ndarray,
        *,
        frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Probabilities of the pairs; features from ``frame`` (the scoring rows) where it has them."""
        return self._forward(self._rows_features(user_idx, item_idx, frame))

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        n_items = len(self.item_ids_)
        users = np.repeat(np.asarray(user_idx, dtype=np.int64), n_items)
        items = np.tile(np.arange(n_items, dtype=np.int64), len(user_idx))
        return self._forward(self._rows_features(users, items)).reshape(len(user_idx), n_items)

    def predict(self, df: pd.DataFrame, score_unknown: bool = False, **kwargs: Any) -> pd.DataFrame:
        """Probability per row of ``df`` (same length and order); see the module docstring.

        Args:
            df: Rows with ``col_user``, ``col_item`` and any feature columns.
            score_unknown: Also score rows whose user or item was not in training (their
                ids fall in the out-of-vocabulary bucket; their other features are read
                from ``df``). Default: such rows get NaN with one ``DataWarning``, as for
                every recutils model.
        """
        if not score_unknown:
            return super().predict(df, **kwargs)
        self._check_fitted()
        check_columns(df, [self.col_user, self.col_item], name="df")
        u = self.user_ids_.get_indexer(pd.Index(df[self.col_user]))
        i = self.item_ids_.get_indexer(pd.Index(df[self.col_item]))
        pred = self._forward(self._rows_features(u, i, self._side_frame(df)))
        return pd.DataFrame(
            {
                self.col_user: df[self.col_user].to_numpy(),
                self.col_item: df[self.col_item].to_numpy(),
                self.col_prediction: pred,
            }
        )

    # ---------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        enc_arrays, enc_meta = self.encoder_.state()
        arrays.update({f"enc__{k}": v for k, v in enc_arrays.items()})
        weights = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        arrays.update({f"w__{k}": v for k, v in weights.items()})
        arrays.update({f"ut__{k}": v for k, v in self.user_table_.items()})
        arrays.update({f"it__{k}": v for k, v in self.item_table_.items()})
        history = {
            "columns": [str(c) for c in self.history_.columns],
            "values": self.history_.astype(float).to_numpy().tolist(),
        }
        return arrays, {
            "encoder": enc_meta,
            "history": history,
            "best_epoch": getattr(self, "best_epoch_", None),
        }

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

        for key in [k for k in arrays if k.startswith("enc__")]:  # vocabularies
            persistence.check_array(arrays, key, persistence.IDS, (None,))
        self.encoder_ = FeatureEncoder.from_state(part("enc__"), meta["encoder"])
        network = self._build_network(self.encoder_.specs)
        persistence.check_weights(
            arrays, {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()}, "w__"
        )
        network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in part("w__").items()})
        self.network_ = network.eval()
        self._check_side_tables(arrays, "ut__", "user", len(self.user_ids_))
        self._check_side_tables(arrays, "it__", "item", len(self.item_ids_))
        self.user_table_ = part("ut__")
        self.item_table_ = part("it__")
        history = meta.get("history") or {"columns": [], "values": []}
        self.history_ = pd.DataFrame(history["values"], columns=history["columns"])
        if "epoch" in self.history_.columns:  # saved as floats with the other columns
            self.history_["epoch"] = np.ceil(self.history_["epoch"]).astype("int64")
        best = meta.get("best_epoch")
        self.best_epoch_ = None if best is None else int(best)

    def _check_side_tables(
        self, arrays: Mapping[str, np.ndarray], prefix: str, side: str, n: int
    ) -> None:
        """The saved per-user (per-item) feature tables: one for each ``side`` feature of
        the encoder, ``n`` rows, ids inside the feature's embedding table, finite values."""
        specs = self.encoder_.specs
        expected = {name for name in specs if self.encoder_.side_of(name) == side}
        saved = {k[len(prefix) :] for k in arrays if k.startswith(prefix)}
        if saved != expected:
            raise persistence.ArtifactArrayError(
                f"{getattr(arrays, 'source', persistence.ARRAYS)}: the {side} feature tables "
                f"{sorted(saved)} do not match the encoder's {side} features {sorted(expected)}."
            )
        for name in sorted(expected):
            spec = specs[name]
            if spec.kind in ("dense", "series"):
                persistence.check_array(
                    arrays,
                    prefix + name,
                    persistence.FLOAT,
                    (n,) if spec.kind == "dense" else (n, spec.length),
                )
            else:
                shape = (n, spec.length) if spec.kind == "bag" else (n,)
                persistence.check_array(
                    arrays,
                    prefix + name,
                    persistence.INTEGER,
                    shape,
                    bounds=(0, max(spec.num_embeddings, 1)),
                )

    # -------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        """Small settings for the contract suite (ratings 1..5 -> label rating >= 4)."""
        return ContractCase(
            params={
                "label_threshold": 4.0,
                "default_embedding_dim": 4,
                "train": {
                    "epochs": 2,
                    "batch_size": 64,
                    "validation_fraction": 0.0,
                    "early_stopping_metric": None,
                    "progress": False,
                },
            },
            known_answer=None,
            stochastic=True,
        )


__all__ = ["DeepRankModel", "DeepRankConfig", "merge_config"]
