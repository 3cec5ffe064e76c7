"""Content-based recommendation from item text with scikit-learn's TF-IDF.

Each item is a document: the values of its text columns (``text_cols``, default
``title``, ``genres``, ``tags``) joined with spaces, turned into an L2-normalised
TF-IDF vector ``x_i`` by :class:`sklearn.feature_extraction.text.TfidfVectorizer`.
Item-item similarity is the cosine ``s_ij = x_i . x_j`` (non-negative).

Scores (a rating prediction, so the model is judged against the bias baseline):

* baseline ``b_ui = mu + b_u + b_i`` (regularised biases, as :class:`~recutils.models.baselines.BiasBaseline`);
* the user's **profile** ``p_u = sum_{j in I_u} (r_uj - b_uj) x_j`` (residual-weighted sum of
  the vectors of the items they rated) and **mass** ``m_u = sum_{j in I_u} x_j``;
* ``score(u, i) = b_ui + (p_u . x_i) / (m_u . x_i + shrinkage)``, i.e. the
  similarity-weighted mean residual of the user's rated items, with every rated item a
  neighbour (``sum_j s_ij (r_uj - b_uj) / (sum_j s_ij + shrinkage)``), computed through the
  profile so that no item-item matrix is formed.

Where the text comes from: ``fit(df, item_features=frame)`` takes one row per item
(``col_item`` and the text columns; :func:`recutils.datasets.movielens_text.movielens_item_text`
builds it for MovieLens); without a frame, the text columns of ``df`` itself are read
(the first row of each item). Items of ``item_features`` without ratings join the
catalog (**cold start**): they are scored from their text alone (``b_i = 0``).

Missing text: NaN and empty (or blank) strings count as no text in that column. An item
with no text in any column gets an empty document, a zero vector: it has no similar
items and scores its baseline (``missing_text="empty"``, the default; fit warns once with
:class:`~recutils.exceptions.DataWarning` with the count); ``missing_text="error"`` raises
:class:`~recutils.exceptions.DataError` naming such items instead. A text column that is
not a string column (numbers, lists) is refused with a ``DataError``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError, DataError, DataWarning
from recutils.models import persistence
from recutils.models.base import BaseRecommender, ContractCase, KnownAnswer, TrainData
from recutils.models.baselines.bias import fit_biases
from recutils.models.factors import check_number, check_positive_int
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

_MISSING = ("empty", "error")


@dataclass
class TfidfConfig(BaseConfig):
    """Hyper-parameters of :class:`TfidfRecommender`.

    Attributes:
        text_cols: Text columns of the item frame (or of the training frame), joined into
            each item's document.
        ngram_max: Longest word n-gram (``ngram_range=(1, ngram_max)``).
        min_df: Fewest documents a term must appear in.
        max_features: Keep the most frequent terms only (``None``: all).
        sublinear_tf: ``1 + log(tf)`` instead of raw counts.
        stop_words: ``"english"`` or ``None``.
        shrinkage: Added to the similarity mass in the score's denominator (>= 0).
        reg_user, reg_item: Regularisation of the baseline's biases (>= 0).
        missing_text: ``"empty"`` or ``"error"`` (module docstring).
    """

    text_cols: list[str] = field(default_factory=lambda: ["title", "genres", "tags"])
    ngram_max: int = 1
    min_df: int = 1
    max_features: int | None = None
    sublinear_tf: bool = True
    stop_words: str | None = "english"
    shrinkage: float = 1.0
    reg_user: float = 15.0
    reg_item: float = 10.0
    missing_text: str = "empty"

    def __post_init__(self) -> None:
        if isinstance(self.text_cols, (tuple, str)):
            self.text_cols = (
                [self.text_cols] if isinstance(self.text_cols, str) else list(self.text_cols)
            )
        if (
            not isinstance(self.text_cols, list)
            or not self.text_cols
            or not all(isinstance(c, str) and c for c in self.text_cols)
        ):
            raise ConfigError(
                f"text_cols must be a non-empty list of column names, got {self.text_cols!r}."
            )
        check_positive_int("ngram_max", self.ngram_max)
        check_positive_int("min_df", self.min_df)
        if self.max_features is not None:
            check_positive_int("max_features", self.max_features)
        if not isinstance(self.sublinear_tf, bool):
            raise ConfigError(f"sublinear_tf must be True or False, got {self.sublinear_tf!r}.")
        if self.stop_words not in ("english", None):
            raise ConfigError(f"stop_words must be 'english' or None, got {self.stop_words!r}.")
        for name in ("shrinkage", "reg_user", "reg_item"):
            check_number(name, getattr(self, name))
        if self.missing_text not in _MISSING:
            raise ConfigError(f"missing_text={self.missing_text!r}; allowed: {list(_MISSING)}.")


def item_documents(frame: pd.DataFrame, text_cols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Documents of the rows of ``frame``: the non-missing text columns joined by spaces.

    Returns:
        ``(documents, empty)``: object array of strings and a boolean mask of the rows
        whose every text column is NaN or blank.

    Raises:
        DataError: a text column holds something other than strings (NaN aside).
    """
    parts = []
    for col in text_cols:
        values = frame[col]
        present = values.notna().to_numpy()
        kinds = values[present].map(type).unique() if present.any() else []
        bad = [k.__name__ for k in kinds if k is not str]
        if bad:
            raise DataError(f"text column {col!r} must hold strings (or NaN), found {bad}.")
        parts.append(values.fillna("").astype("str").str.strip())
    if not parts:
        return np.full(len(frame), "", dtype=object), np.ones(len(frame), dtype=bool)
    joined = parts[0]
    for p in parts[1:]:
        joined = joined.str.cat(p, sep=" ")
    docs = joined.str.strip()
    return docs.to_numpy(dtype=object), docs.eq("").to_numpy()


class TfidfRecommender(BaseRecommender):
    """Content-based recommender on TF-IDF item vectors (see the module docstring).

    ``fit(df, item_features=None)``; :meth:`similar_items` lists an item's nearest items
    by text. Scores are rating predictions (``needs_rating``).

    Fitted attributes:
        item_vectors_: TF-IDF matrix (CSR, one L2-normalised row per item of ``item_ids_``).
        vocabulary_: The terms, in column order.
        profiles_, masses_: ``p_u`` and ``m_u`` (CSR, one row per user).
        global_mean_, user_bias_, item_bias_: The baseline.
        cold_items_: Items that joined from ``item_features`` without ratings.
        empty_items_: Items whose document is empty.

    Examples:
        >>> from recutils.datasets.movielens_text import movielens_item_text  # doctest: +SKIP
        >>> model = TfidfRecommender().fit(ratings, item_features=movielens_item_text())  # doctest: +SKIP
        >>> model.similar_items([1], top_k=5)  # doctest: +SKIP
    """

    name: ClassVar[str] = "tfidf"
    config_class: ClassVar[type[TfidfConfig]] = TfidfConfig
    duplicates: ClassVar[str] = "error"
    needs_rating: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("sklearn",)
    config: TfidfConfig

    def fit(self, df: pd.DataFrame, item_features: pd.DataFrame | None = None) -> TfidfRecommender:
        """Fit on ratings ``df`` and the item text (``item_features`` or ``df``'s text columns).

        Raises:
            ColumnMismatchError: a required column is missing.
            DataError: ``item_features`` is not a frame or repeats an item; a text column
                holds non-strings; with ``missing_text="error"``, an item without text.
        """
        if item_features is not None:
            if not isinstance(item_features, pd.DataFrame):
                raise DataError(
                    f"item_features must be a DataFrame or None, got "
                    f"{type(item_features).__name__}."
                )
            from recutils.utils.validation import check_columns

            check_columns(item_features, [self.col_item], name="item_features")
            if item_features[self.col_item].duplicated().any():
                raise DataError(
                    f"item_features repeats item id(s), e.g. "
                    f"{item_features.loc[item_features[self.col_item].duplicated(), self.col_item].iloc[0]!r}."
                )
        self._fit_frames(df, item_features=item_features)
        return self

    def _side_columns(self) -> list[str]:
        return list(self.config.text_cols)

    def _with_side_frames(self, data: TrainData) -> TrainData:
        """Items of ``item_features`` without ratings join the id map (sorted when possible)."""
        self.cold_items_ = self.item_ids_[:0]
        if data.item_features is None:
            return data
        old = self.item_ids_
        extra = pd.Index(pd.unique(data.item_features[self.col_item])).difference(old, sort=False)
        if extra.empty:
            return data
        try:
            new = old.append(extra).sort_values()
        except TypeError:
            new = old.append(extra)
        self.item_ids_ = new
        self.cold_items_ = extra
        return replace(
            data, item_idx=new.get_indexer(old)[data.item_idx].astype(np.int64), n_items=len(new)
        )

    def _documents(self, data: TrainData) -> np.ndarray:
        cols = self.config.text_cols
        if data.item_features is not None:
            source = data.item_features
            idx = self.item_ids_.get_indexer(source[self.col_item])
        elif data.frame is not None:
            source = data.frame
            idx = data.item_idx
        else:  # pragma: no cover - the model always declares side columns
            source, idx = pd.DataFrame(index=range(0)), np.empty(0, dtype=np.int64)
        present = [c for c in cols if c in source.columns]
        if not present:
            warnings.warn(
                f"none of the text columns {cols} was given; every item has an empty "
                f"document and scores its baseline.",
                DataWarning,
                stacklevel=4,
            )
        docs, _ = item_documents(source, present)
        out = np.full(data.n_items, "", dtype=object)
        first = np.unique(idx, return_index=True)[1] if idx.size else np.empty(0, dtype=np.int64)
        keep = idx[first] >= 0
        out[idx[first][keep]] = docs[first][keep]
        return out

    def _fit(self, data: TrainData) -> None:
        require("sklearn", "sklearn")
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.config
        docs = self._documents(data)
        empty = np.array([not d.strip() for d in docs], dtype=bool)
        if empty.any():
            names = self.item_ids_[empty][:5].tolist()
            if c.missing_text == "error" and any(col for col in c.text_cols):
                raise DataError(
                    f"{int(empty.sum())} item(s) have no text in {c.text_cols} "
                    f"(NaN or empty), e.g. {names}; fill them or set "
                    f"missing_text='empty'."
                )
            if not empty.all():
                warnings.warn(
                    f"{int(empty.sum())} item(s) have no text (e.g. {names}): they have "
                    f"no similar items and score their baseline.",
                    DataWarning,
                    stacklevel=4,
                )
        self.empty_items_ = self.item_ids_[empty]
        if empty.all():
            self.item_vectors_ = sp.csr_matrix((data.n_items, 0), dtype=np.float64)
            self.vocabulary_ = np.empty(0, dtype=str)
        else:
            vec = TfidfVectorizer(
                ngram_range=(1, c.ngram_max),
                min_df=c.min_df,
                max_features=c.max_features,
                sublinear_tf=c.sublinear_tf,
                stop_words=c.stop_words,
                dtype=np.float64,
            )
            try:
                self.item_vectors_ = sp.csr_matrix(vec.fit_transform(list(docs)))
            except ValueError as err:  # only stop words, or min_df too high
                raise DataError(
                    f"the item text gives no terms ({err}); lower min_df or set stop_words=None."
                ) from err
            self.vocabulary_ = np.asarray(vec.get_feature_names_out(), dtype=str)
        mu, b_u, b_i, _ = fit_biases(
            data.user_idx,
            data.item_idx,
            data.rating,
            data.n_users,
            data.n_items,
            float(c.reg_user),
            float(c.reg_item),
        )
        self.global_mean_, self.user_bias_, self.item_bias_ = float(mu), b_u, b_i
        resid = data.rating - (mu + b_u[data.user_idx] + b_i[data.item_idx])
        self._set_profiles(data.user_idx, data.item_idx, resid, data.n_users, data.n_items)

    def _set_profiles(
        self, users: np.ndarray, items: np.ndarray, resid: np.ndarray, n_users: int, n_items: int
    ) -> None:
        r = sp.csr_matrix((resid, (users, items)), shape=(n_users, n_items))
        ones = sp.csr_matrix((np.ones(users.size), (users, items)), shape=(n_users, n_items))
        self.profiles_ = sp.csr_matrix(r @ self.item_vectors_)
        self.masses_ = sp.csr_matrix(ones @ self.item_vectors_)
        self.residuals_ = resid.astype(np.float64)

    # ---------------------------------------------------------------- scoring
    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        xt = self.item_vectors_.T
        num = np.asarray((self.profiles_[user_idx] @ xt).todense())
        den = np.asarray((self.masses_[user_idx] @ xt).todense()) + float(self.config.shrinkage)
        with np.errstate(invalid="ignore", divide="ignore"):
            adj = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        return (
            self.global_mean_ + self.user_bias_[user_idx][:, None] + self.item_bias_[None, :] + adj
        )

    def similar_items(
        self, items: Sequence[Any] | np.ndarray | pd.Series, top_k: int = 10
    ) -> pd.DataFrame:
        """The ``top_k`` items most similar to each of ``items`` by text (the item itself
        and items of similarity 0 left out).

        Returns:
            ``DataFrame[col_item, "similar_item", "similarity", col_rank]``.

        Raises:
            NotFittedError: before fit. DataError: an unknown item id.
        """
        from recutils.models.topk import check_top_k, top_k_per_row

        self._check_fitted()
        k = check_top_k(top_k)
        wanted = pd.Index(pd.unique(pd.Series(list(items))))
        idx = self.item_ids_.get_indexer(wanted)
        if (idx < 0).any():
            raise DataError(f"unknown item id(s) {wanted[idx < 0][:5].tolist()}.")
        sims = np.asarray((self.item_vectors_[idx] @ self.item_vectors_.T).todense())
        sims[np.arange(idx.size), idx] = -np.inf
        sims[sims <= 0] = -np.inf
        top, val = top_k_per_row(sims, k)
        keep = np.isfinite(val) & (top >= 0)
        rows = np.broadcast_to(np.arange(idx.size)[:, None], top.shape)[keep]
        out = pd.DataFrame(
            {
                self.col_item: wanted[rows].to_numpy(),
                "similar_item": self.item_ids_[top[keep]].to_numpy(),
                "similarity": val[keep].astype(np.float64),
            }
        )
        out[self.col_rank] = out.groupby(self.col_item, sort=False).cumcount().astype(np.int64) + 1
        return out

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        x = self.item_vectors_
        arrays = {
            "x_data": x.data,
            "x_indices": x.indices,
            "x_indptr": x.indptr,
            "user_bias": self.user_bias_,
            "item_bias": self.item_bias_,
            "residuals": self.residuals_,
            "empty_items": np.isin(
                np.arange(len(self.item_ids_)), self.item_ids_.get_indexer(self.empty_items_)
            ),
            "cold_items": np.isin(
                np.arange(len(self.item_ids_)), self.item_ids_.get_indexer(self.cold_items_)
            ),
        }
        return arrays, {"global_mean": self.global_mean_, "vocabulary": self.vocabulary_.tolist()}

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        n_users, n_items = self.seen_.shape
        vocab = np.asarray(meta.get("vocabulary", []), dtype=str)
        indptr, indices = persistence.check_csr(
            arrays, "x_indptr", "x_indices", (n_items, vocab.size)
        )
        data = persistence.check_array(arrays, "x_data", persistence.NUMBER, (indices.size,))
        self.item_vectors_ = sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), indices, indptr), shape=(n_items, vocab.size)
        )
        self.vocabulary_ = vocab
        self.user_bias_ = np.asarray(
            persistence.check_array(arrays, "user_bias", persistence.NUMBER, (n_users,)),
            dtype=np.float64,
        )
        self.item_bias_ = np.asarray(
            persistence.check_array(arrays, "item_bias", persistence.NUMBER, (n_items,)),
            dtype=np.float64,
        )
        resid = persistence.check_array(arrays, "residuals", persistence.NUMBER, (self.seen_.nnz,))
        self.global_mean_ = float(meta["global_mean"])
        flags = {}
        for name in ("empty_items", "cold_items"):
            flags[name] = np.asarray(
                persistence.check_array(arrays, name, "b", (n_items,)), dtype=bool
            )
        self.empty_items_ = self.item_ids_[flags["empty_items"]]
        self.cold_items_ = self.item_ids_[flags["cold_items"]]
        users = np.repeat(np.arange(n_users), np.diff(self.seen_.indptr))
        self._set_profiles(
            users,
            self.seen_.indices.astype(np.int64),
            np.asarray(resid, dtype=np.float64),
            n_users,
            n_items,
        )

    # --------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        # users 0-2 like the "space" movies and dislike the "love" ones; item 5 (space) is
        # unseen by user 0 and must outrank item 6 (love)
        train = pd.DataFrame(
            {
                "userID": [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
                "itemID": [1, 2, 3, 4, 1, 2, 5, 6, 3, 4, 5, 6],
                "rating": [5.0, 5.0, 1.0, 1.0, 5.0, 5.0, 4.0, 2.0, 1.0, 1.0, 4.0, 2.0],
                "genres": ["space war", "space robots", "love drama", "love paris"] * 3,
            }
        )
        train["genres"] = train["itemID"].map(
            {
                1: "space war",
                2: "space robots",
                3: "love drama",
                4: "love paris",
                5: "space station",
                6: "love letters",
            }
        )
        known = KnownAnswer(
            train=train,
            users=[0],
            top_k=2,
            remove_seen=True,
            expected={0: [5, 6]},
            params={"text_cols": ["genres"]},
        )
        return ContractCase(params={}, known_answer=known)


__all__ = ["TfidfConfig", "TfidfRecommender", "item_documents"]
