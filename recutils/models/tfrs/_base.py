"""What the TFRS wrappers share: config fields, per-id features, training, SavedModel I/O.

A fitted wrapper holds a TensorFlow module (``module_``) whose ``tf.function`` s score
integer codes; ``save`` writes it with ``tf.saved_model.save`` into ``saved_model/``
beside recutils' manifest, which records the size and SHA-256 of every file of that
folder. ``load`` checks them before TensorFlow reads anything (a changed file raises
:class:`~recutils.models.persistence.ArtifactIntegrityError`) and scores with the
functions TensorFlow restores (no Keras class is rebuilt).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError, DataError
from recutils.models import persistence
from recutils.models.base import BaseRecommender, TrainData
from recutils.models.factors import appearance_order
from recutils.utils.progress import progress_bar
from recutils.utils.tensorflow import import_tfrs
from recutils.utils.validation import (
    check_choice,
    check_number,
    check_positive_int,
    check_seed,
)

logger = logging.getLogger(__name__)

#: Folder of TensorFlow's SavedModel inside a saved wrapper.
SAVED_MODEL_DIR = "saved_model"
OPTIMIZERS = ("adagrad", "adam", "sgd")


def check_columns_list(name: str, value: Any) -> list[str]:
    """``value`` as a list of distinct column names, else :class:`ConfigError`."""
    if isinstance(value, tuple):
        value = list(value)
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v for v in value)
        or len(set(value)) != len(value)
    ):
        raise ConfigError(f"{name} must be a list of distinct column names, got {value!r}.")
    return value


@dataclass
class TFRSBaseConfig(BaseConfig):
    """Options both TFRS wrappers share.

    Attributes:
        embedding_dim: Size of every embedding (ids and features).
        user_features, item_features: Categorical columns of the training frame
            describing a user / an item (one value per id: its first row's); their
            embeddings join the id's in the tower.
        epochs: Passes over the training rows.
        batch_size: Rows per step (for retrieval also the in-batch softmax's negatives).
        learning_rate: Step size of ``optimizer``.
        optimizer: ``adagrad`` (TFRS' tutorials), ``adam`` or ``sgd``.
        num_threads: TensorFlow's intra/inter-op threads (``0``: its default); set once
            per process, before TensorFlow's first operation.
        seed: ``tf.keras.utils.set_random_seed`` before building the network, and the
            epoch shuffles; ``None``: not reproducible.
    """

    embedding_dim: int = 32
    user_features: list[str] = field(default_factory=list)
    item_features: list[str] = field(default_factory=list)
    epochs: int = 5
    batch_size: int = 256
    learning_rate: float = 0.1
    optimizer: str = "adagrad"
    num_threads: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("embedding_dim", self.embedding_dim)
        self.user_features = check_columns_list("user_features", self.user_features)
        self.item_features = check_columns_list("item_features", self.item_features)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_positive_int("num_threads", self.num_threads, minimum=0)
        check_seed(self.seed)


def _per_id_codes(
    frame: pd.DataFrame, codes: np.ndarray, n: int, columns: list[str]
) -> tuple[np.ndarray, list[int]]:
    """``[n, len(columns)]`` feature codes (first row of each id; ``0``: missing, values
    ``1..``) and the size of each feature's code space."""
    out = np.zeros((n, len(columns)), dtype=np.int64)
    sizes = []
    for j, col in enumerate(columns):
        first = frame[col].groupby(codes, sort=True).first().reindex(range(n))
        values, _ = pd.factorize(first, sort=False)
        out[:, j] = values + 1  # factorize gives -1 for missing
        sizes.append(int(values.max(initial=-1)) + 2)
    return out, sizes


class TFRSRecommender(BaseRecommender):
    """Shared machinery of :class:`TFRSRetrieval` and :class:`TFRSRanking`.

    A subclass supplies ``_network(tf_modules, data, codes)`` (the ``tfrs.Model``),
    ``_train_arrays(data)``, ``_export(net)`` (the ``tf.Module`` to save),
    ``_signatures(module)`` and ``_prepare()`` (caches from ``module_`` for scoring).
    """

    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("tensorflow", "tensorflow_recommenders")
    config: TFRSBaseConfig

    def _side_columns(self) -> list[str]:
        return list(dict.fromkeys(self.config.user_features + self.config.item_features))

    def _feature_codes(self, data: TrainData) -> None:
        c = self.config
        frame = data.frame
        missing = [col for col in self._side_columns() if frame is None or col not in frame.columns]
        if missing:
            raise DataError(f"feature column(s) {missing} are not in the training frame.")
        if frame is None:
            frame = pd.DataFrame(index=range(data.user_idx.size))
        self.user_feature_codes_, self.user_feature_sizes_ = _per_id_codes(
            frame, data.user_idx, data.n_users, c.user_features
        )
        self.item_feature_codes_, self.item_feature_sizes_ = _per_id_codes(
            frame, data.item_idx, data.n_items, c.item_features
        )
        # the network numbers users and items by first appearance in the training rows, so
        # that a seeded fit does not depend on how the ids sort (string or integer ids)
        self.user_rows_ = appearance_order(data.user_idx, data.n_users)[1]
        self.item_rows_ = appearance_order(data.item_idx, data.n_items)[1]

    def _fit(self, data: TrainData) -> None:
        c = self.config
        import_tfrs(c.num_threads)
        from recutils.models.tfrs import _networks as nets
        from recutils.utils.tensorflow import seeded

        self._feature_codes(data)
        rng = np.random.default_rng(c.seed)
        with seeded(nets.tf, c.seed):
            net = self._network(nets, data)
            history = nets.train(
                net,
                self._train_arrays(data),
                epochs=c.epochs,
                batch_size=c.batch_size,
                opt=nets.optimizer(c.optimizer, c.learning_rate),
                rng=rng,
                epoch_iter=lambda it: progress_bar(
                    it,
                    total=c.epochs,
                    desc=type(self).__name__,
                    unit="epoch",
                    enabled=self.progress,
                ),
            )
        if not np.isfinite(history).all():
            from recutils.exceptions import ModelFitError

            raise ModelFitError(f"{type(self).__name__}: the training loss diverged ({history}).")
        self.loss_history_ = [float(v) for v in history]
        self.module_ = self._export(net)
        self._prepare()

    # --------------------------------------------------------- to implement
    def _network(self, nets: Any, data: TrainData) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _train_arrays(self, data: TrainData) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _export(self, net: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _signatures(self, module: Any) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _towers(
        self, nets: Any, data: TrainData, hidden: list[int], output_dim: int | None
    ) -> tuple[Any, Any]:
        """The user and item towers (their inputs are network rows, :attr:`user_rows_`)."""
        d = self.config.embedding_dim
        towers = []
        for what, n in (("user", data.n_users), ("item", data.n_items)):
            codes = getattr(self, f"{what}_feature_codes_")
            by_row = np.empty_like(codes)
            by_row[getattr(self, f"{what}_rows_")] = codes
            towers.append(
                nets.Tower(
                    n,
                    by_row,
                    getattr(self, f"{what}_feature_sizes_"),
                    d,
                    hidden,
                    output_dim,
                    name=f"{what}_tower",
                )
            )
        return towers[0], towers[1]

    # ------------------------------------------------------------ save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "user_feature_codes": self.user_feature_codes_,
            "item_feature_codes": self.item_feature_codes_,
            "user_rows": self.user_rows_,
            "item_rows": self.item_rows_,
        }
        meta = {
            "user_feature_sizes": list(self.user_feature_sizes_),
            "item_feature_sizes": list(self.item_feature_sizes_),
            "loss_history": list(self.loss_history_),
            "saved_model": self.__dict__.get("_saved_files"),
        }
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        for what, n, cols in (
            ("user", len(self.user_ids_), self.config.user_features),
            ("item", len(self.item_ids_), self.config.item_features),
        ):
            sizes = [int(s) for s in meta[f"{what}_feature_sizes"]]
            if len(sizes) != len(cols):
                raise persistence.ArtifactArrayError(
                    f"{what}_feature_sizes has {len(sizes)} entries for {len(cols)} features."
                )
            codes = persistence.check_array(
                arrays, f"{what}_feature_codes", persistence.INTEGER, (n, len(cols))
            )
            if codes.size and ((codes < 0).any() or (codes >= np.asarray(sizes)[None, :]).any()):
                raise persistence.ArtifactArrayError(
                    f"array '{what}_feature_codes' holds codes outside the feature sizes."
                )
            setattr(self, f"{what}_feature_codes_", np.asarray(codes, dtype=np.int64))
            rows = persistence.check_permutation(arrays, f"{what}_rows", n)
            setattr(self, f"{what}_rows_", np.asarray(rows, dtype=np.int64))
            setattr(self, f"{what}_feature_sizes_", sizes)
        self.loss_history_ = [float(v) for v in meta.get("loss_history", [])]

    def save(self, path: str | Path) -> Path:
        """Write the manifest, ``arrays.npz`` and TensorFlow's SavedModel (``saved_model/``).

        The manifest's ``state.saved_model`` records each SavedModel file's size and SHA-256.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        if not self.is_fitted:
            return super().save(folder)
        from recutils.models.tfrs import _networks as nets

        target = folder / SAVED_MODEL_DIR
        if target.exists():
            shutil.rmtree(target)
        nets.save(self.module_, str(target), self._signatures(self.module_))
        files = persistence.list_files(target)
        self.__dict__["_saved_files"] = {
            "folder": SAVED_MODEL_DIR,
            "tensorflow_version": nets.tf.__version__,
            "files": {
                rel: {"bytes": p.stat().st_size, "sha256": persistence.sha256_file(p)}
                for rel, p in sorted(files.items())
            },
        }
        try:
            return super().save(folder)
        finally:
            self.__dict__.pop("_saved_files", None)

    @classmethod
    def _from_saved(cls, folder: Path, manifest: Mapping[str, Any]) -> TFRSRecommender:
        """Rebuild from a checked folder: arrays, then the SavedModel once every file's
        size and SHA-256 match the manifest.

        Raises:
            ArtifactIntegrityError: a SavedModel file is missing, added or changed.
        """
        model = super()._from_saved(folder, manifest)
        if not manifest.get("fitted"):
            return model
        info = manifest.get("state", {}).get("saved_model")
        if not isinstance(info, Mapping) or not isinstance(info.get("files"), Mapping):
            raise persistence.ArtifactError(f"{folder}: the manifest has no saved_model section.")
        target = folder / persistence.check_relative_path(info.get("folder"))
        check_saved_files(target, info["files"])
        import_tfrs(model.config.num_threads)
        from recutils.models.tfrs import _networks as nets

        model.module_ = nets.load(str(target))
        model._prepare()
        return model


def check_saved_files(folder: Path, recorded: Mapping[str, Any]) -> None:
    """Every file of ``folder`` is recorded, with its size and SHA-256, and none is missing.

    Raises:
        ArtifactIntegrityError: a file is missing, added, truncated or modified.
    """
    if not folder.is_dir():
        raise persistence.ArtifactIntegrityError(f"{folder}: TensorFlow's SavedModel is missing.")
    present = persistence.list_files(folder)
    added = sorted(set(present) - set(recorded))
    missing = sorted(set(recorded) - set(present))
    if added or missing:
        raise persistence.ArtifactIntegrityError(
            f"{folder}: files added {added[:5]} or missing {missing[:5]} since it was saved."
        )
    for rel, entry in recorded.items():
        path = present[rel]
        if (
            not isinstance(entry, Mapping)
            or path.stat().st_size != entry.get("bytes")
            or persistence.sha256_file(path) != entry.get("sha256")
        ):
            raise persistence.ArtifactIntegrityError(
                f"{path}: does not match the size and SHA-256 recorded in the manifest "
                "(altered or truncated)."
            )


__all__ = [
    "OPTIMIZERS",
    "SAVED_MODEL_DIR",
    "TFRSBaseConfig",
    "TFRSRecommender",
    "check_saved_files",
]
