"""Shared machinery of the news models (NRMS, NAML, LSTUR, NPA), trained on impression logs.

**Data.** ``fit(df, news=None)`` takes a long impressions frame, one row per
(impression, candidate), as :func:`recutils.datasets.mind.load_mind` returns it:

* ``col_user``, ``col_item`` (the news id);
* ``col_label`` (``"label"``: 1 clicked, 0 shown and not clicked; absent: every row is
  a click);
* ``col_impression`` (``"impressionID"``; absent: negatives are drawn from every news);
* ``col_history`` (``"history"``: the impression's clicked history, space-separated news
  ids; absent: a user's history is their clicked training rows, in ``col_timestamp``
  order when the frame has it, without the positive being predicted);

and a news table ``news`` (``col_item``, ``title``, ``abstract``, ``category``,
``subcategory``; any of the text columns may be absent). Without ``news``, those columns
are read from ``df`` when it has them, else each news is its id (a one-word title): an
id-only model, which is what the contract suite checks. News of the table that no
training row shows are added to the catalogue (``item_ids_``), so fresh news can be
ranked from their text.

**Encoding.** A word vocabulary is built from titles (and abstracts) of the catalogue
(:class:`~recutils.datasets.mind.WordVocabulary`; 0 pads, 1 is the unknown word), titles
are cut / padded to ``title_size`` words, abstracts to ``body_size`` (NAML), categories
and subcategories get ids (0 unknown). ``glove_path`` initialises the word embeddings
from a GloVe text file of dimension ``word_emb_dim`` (:func:`~recutils.datasets.mind.glove_matrix`).
Histories keep their latest ``his_size`` news, right-aligned (padding first), as
Microsoft Recommenders does.

**Training** (Wu et al.'s "negative sampling as a (1+K)-way classification"): every
clicked row is one sample, with ``npratio`` (K) non-clicked candidates of the same
impression drawn without replacement (all of them, then news drawn uniformly from the
catalogue, when the impression has fewer), softmax cross-entropy over the 1+K scores.
Negatives and batch order are drawn per epoch from ``default_rng([seed, epoch])``. The
loop is the shared trainer's :meth:`~recutils.nn.trainer.Trainer.fit_epochs` (callbacks,
checkpoints with resume, divergence checks) through
:class:`~recutils.models.torch_cf.TorchCFRecommender`.

**Scoring.** ``score(user, news) = <user vector, news vector>``. ``recommend_k_items``
ranks the catalogue for each user's stored history (the latest training row's
history, or their clicks); ``predict(df)`` scores (impression, news) rows and, when
``df`` has ``col_history``, uses each row's history, so users not seen in training are
scored too (NPA's and LSTUR's user embeddings are then zeros).

**Fresh news.** :meth:`NewsRecommender.add_news` encodes news published after ``fit`` with
the fitted vocabulary and category ids (unknown words and categories map to the unknown
id) and puts them in the catalogue, so they are ranked and scored without retraining.

**Save/load.** The network weights, the encoded news features and the users' histories
go to ``arrays.npz``; the vocabulary and the category values to the manifest, so a loaded
model adds fresh news too.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_LABEL_COL
from recutils.datasets.mind import (
    HISTORY_COL,
    IMPRESSION_COL,
    WordVocabulary,
    encode_texts,
    glove_matrix,
)
from recutils.exceptions import ConfigError, DataError, DataWarning, StateError
from recutils.models import persistence
from recutils.models.base import ContractCase, TrainData, _positions
from recutils.models.factors import appearance_order
from recutils.models.torch_cf import TorchCFConfig, TorchCFRecommender, adam
from recutils.utils.deps import require
from recutils.utils.validation import check_columns, check_number, check_positive_int

logger = logging.getLogger(__name__)

TEXT_COLS: tuple[str, ...] = ("title", "abstract", "category", "subcategory")


@dataclass
class NewsConfig(TorchCFConfig):
    """Hyper-parameters every news model shares (defaults: Microsoft Recommenders' MIND yaml).

    Attributes:
        title_size: Title words read (30).
        body_size: Abstract words read (NAML: 50; the others read no abstract).
        his_size: Clicked news per user history (50).
        word_emb_dim: Word embedding width (300, GloVe's).
        attention_hidden_dim: Hidden width of the additive attentions (200).
        dropout: Dropout rate (0.2).
        npratio: Non-clicked candidates per click in training (K = 4).
        n_epochs: Passes over the clicks.
        batch_size: Clicks per optimizer step.
        learning_rate: Adam step size (1e-4).
        glove_path: A GloVe text file (plain or ``.gz``) initialising the word embeddings;
            ``None``: random initialisation.
        vocab_min_count: Words seen fewer times are unknown.
        vocab_abstracts: Build the vocabulary from abstracts too.
    """

    title_size: int = 30
    body_size: int = 0
    his_size: int = 50
    word_emb_dim: int = 300
    attention_hidden_dim: int = 200
    dropout: float = 0.2
    npratio: int = 4
    n_epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-4
    glove_path: str | None = None
    vocab_min_count: int = 1
    vocab_abstracts: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "title_size",
            "his_size",
            "word_emb_dim",
            "attention_hidden_dim",
            "npratio",
            "n_epochs",
            "batch_size",
            "vocab_min_count",
        ):
            check_positive_int(name, getattr(self, name), owner=type(self).__name__)
        check_positive_int("body_size", self.body_size, minimum=0, owner=type(self).__name__)
        check_number("dropout", self.dropout, maximum=0.99, owner=type(self).__name__)
        check_number("learning_rate", self.learning_rate, strict=True, owner=type(self).__name__)
        if self.glove_path is not None and not (
            isinstance(self.glove_path, str) and self.glove_path
        ):
            raise ConfigError(f"glove_path must be None or a file path, got {self.glove_path!r}.")


def _parse_histories(
    histories: pd.Series, item_ids: pd.Index, item_order: np.ndarray, his_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct history strings -> right-aligned news numbers (``item_order[code] + 1``; 0 pads).

    Returns:
        ``(matrix [n_distinct, his_size], inverse [len(histories)])``; ids not in
        ``item_ids`` are left out.
    """
    codes, uniques = pd.factorize(histories.fillna("").astype(str), sort=False)
    refs = pd.Series(uniques).str.split().explode()
    refs = refs[refs.notna()]
    pos = item_ids.get_indexer(refs.to_numpy())
    rows = refs.index.to_numpy(dtype=np.int64)[pos >= 0]
    return _right_aligned(rows, item_order[pos[pos >= 0]] + 1, len(uniques), his_size), codes


def _right_aligned(rows: np.ndarray, values: np.ndarray, n_rows: int, width: int) -> np.ndarray:
    """Each row's latest ``width`` values (``rows`` sorted, values in order), padding first."""
    out = np.zeros((n_rows, width), dtype=np.int64)
    if rows.size == 0:
        return out
    counts = np.bincount(rows, minlength=n_rows)
    ends = np.cumsum(counts)
    from_end = ends[rows] - np.arange(rows.size)  # 1 for the row's last value
    keep = from_end <= width
    out[rows[keep], width - from_end[keep]] = values[keep]
    return out


class _ImpressionEpochs:
    """The batch source: clicks with ``npratio`` negatives of their impression, per epoch."""

    def __init__(
        self,
        model: NewsRecommender,
        users: np.ndarray,
        positives: np.ndarray,
        histories: np.ndarray,
        neg_items: np.ndarray,
        neg_offsets: np.ndarray,
        pos_group: np.ndarray,
        n_items: int,
        seed: int,
        device: Any,
    ) -> None:
        self.model, self.users, self.positives, self.histories = model, users, positives, histories
        self.neg_items, self.neg_offsets, self.pos_group = neg_items, neg_offsets, pos_group
        self.n_items, self.seed, self.device = n_items, seed, device

    def negatives(self, rng: np.random.Generator) -> np.ndarray:
        """``[n_positives, K]`` negative news numbers (code + 1)."""
        k = self.model.config.npratio
        n = self.positives.size
        out = (
            rng.integers(0, self.n_items - 1, (n, k))
            if self.n_items > 1
            else np.zeros((n, k), np.int64)
        )
        # uniform fallback: skip the positive itself
        out = out + (out >= self.positives[:, None] - 1)
        out = np.minimum(out, self.n_items - 1) + 1
        if self.pos_group is None:
            return out
        start = self.neg_offsets[self.pos_group]
        count = self.neg_offsets[self.pos_group + 1] - start
        width = int(count.max()) if count.size else 0
        if width == 0:
            return out
        keys = rng.random((n, width))
        keys[np.arange(width)[None, :] >= count[:, None]] = np.inf
        order = np.argsort(keys, axis=1, kind="stable")[:, :k]
        take = order < count[:, None]
        if order.shape[1] < k:
            take = np.pad(take, ((0, 0), (0, k - order.shape[1])))
            order = np.pad(order, ((0, 0), (0, k - order.shape[1])))
        chosen = self.neg_items[np.minimum(start[:, None] + order, max(self.neg_items.size - 1, 0))]
        return np.where(take, chosen, out)

    def epoch_batches(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        torch = require("torch", "torch")
        rng = np.random.default_rng([self.seed, epoch])
        negatives = self.negatives(rng)
        order = rng.permutation(self.positives.size)
        feats = self.model._features_tensor(self.device)
        size = self.model.config.batch_size
        for s in range(0, order.size, size):
            rows = order[s : s + size]
            cand = np.concatenate([self.positives[rows, None], negatives[rows]], axis=1)
            hist = torch.from_numpy(self.histories[rows]).to(self.device)
            yield (
                torch.from_numpy(self.users[rows]).to(self.device),
                feats[hist],
                hist > 0,
                feats[torch.from_numpy(cand).to(self.device)],
            )

    @staticmethod
    def loss(network: Any, batch: tuple[Any, ...]) -> Any:
        torch = require("torch", "torch")
        logits = network(*batch)
        return torch.nn.functional.cross_entropy(
            logits, torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        )


class NewsRecommender(TorchCFRecommender):
    """Base of the news models (see the module docstring).

    A subclass sets ``name`` and ``config_class`` and supplies ``_network(word_init)``.

    Args:
        config: The model's config, a mapping or YAML; keyword arguments override it.
        col_label: Click label column of the training frame (1 clicked, 0 not).
        col_impression: Impression id column.
        col_history: Clicked-history column (space-separated news ids).
        **params: Column names, ``progress``, ``callbacks`` and config fields.
    """

    duplicates: ClassVar[str] = "keep"
    epochs_field: ClassVar[str | None] = "n_epochs"
    config_class: ClassVar[type[NewsConfig]] = NewsConfig

    def __init__(
        self,
        config: Any = None,
        *,
        col_label: str = DEFAULT_LABEL_COL,
        col_impression: str = IMPRESSION_COL,
        col_history: str = HISTORY_COL,
        **params: Any,
    ) -> None:
        super().__init__(config, **params)
        self.col_label = col_label
        self.col_impression = col_impression
        self.col_history = col_history

    # ------------------------------------------------------------------ hooks
    def _network(self, word_init: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_network(self, n_users: int, n_items: int) -> Any:
        return self._network(self.__dict__.get("_word_init"))

    def _side_columns(self) -> list[str]:
        return [
            self.col_label,
            self.col_impression,
            self.col_history,
            self.col_timestamp,
            *TEXT_COLS,
        ]

    # -------------------------------------------------------------------- fit
    def fit(
        self, df: pd.DataFrame, news: pd.DataFrame | None = None, valid: pd.DataFrame | None = None
    ) -> NewsRecommender:
        """Fit on a long impressions frame and a news table (module docstring); return ``self``.

        Args:
            df: One row per (impression, candidate) (or per click).
            news: The news table (``col_item`` and text columns), or ``None``.
            valid: Validation rows for the per-epoch ``valid_metric`` (see
                :class:`~recutils.models.torch_cf.TorchCFRecommender`).

        Raises:
            ColumnMismatchError: ``news`` without ``col_item``.
            DataError: repeated news ids in ``news``, labels other than 0/1, or no click.
        """
        if news is not None:
            check_columns(news, [self.col_item], name="news")
            if news[self.col_item].duplicated().any():
                raise DataError(
                    f"news has repeated {self.col_item} values, e.g. "
                    f"{news.loc[news[self.col_item].duplicated(), self.col_item].iloc[0]!r}."
                )
        if valid is not None:
            check_columns(valid, [self.col_user, self.col_item], name="valid")
        self.__dict__["_valid_frame"] = valid
        try:
            self._fit_frames(df, item_features=news)
        finally:
            self.__dict__.pop("_valid_frame", None)
            self.__dict__.pop("_word_init", None)
        return self

    def _with_side_frames(self, data: TrainData) -> TrainData:
        """Add the news table's unseen news to the catalogue and encode every news."""
        frame, news = data.frame, data.item_features
        if news is not None:
            extra = pd.Index(pd.unique(news[self.col_item]))
            extra = extra[self.item_ids_.get_indexer(extra) < 0]
            if len(extra):
                self.item_ids_ = self.item_ids_.append(extra)
                data = replace(data, n_items=len(self.item_ids_))
            table = news.set_index(self.col_item)
        else:
            cols = [c for c in TEXT_COLS if c in frame.columns]
            table = frame.drop_duplicates(self.col_item).set_index(self.col_item)[cols]
        # internal numbering by first appearance (rows, then the news table's extra news), so a
        # seeded fit does not depend on how the ids sort
        self.user_order_ = appearance_order(data.user_idx, data.n_users)[1]
        _, first = np.unique(data.item_idx, return_index=True)
        by_appearance = np.r_[
            np.unique(data.item_idx)[np.argsort(first)], np.arange(first.size, data.n_items)
        ]
        self.item_order_ = np.empty(data.n_items, dtype=np.int64)
        self.item_order_[by_appearance] = np.arange(data.n_items)
        table = table.reindex(self.item_ids_[by_appearance])
        if not any(c in table.columns for c in ("title", "abstract")):
            table = table.assign(title=table.index.astype(str).str.replace(r"\W", "_", regex=True))
        self._encode_news(table)
        return data

    def _encode_news(self, table: pd.DataFrame) -> None:
        c = self.config
        text = pd.DataFrame(
            {
                f: table[f].fillna("").astype(str).to_numpy() if f in table.columns else ""
                for f in TEXT_COLS
            }
        )
        fields = ("title", "abstract") if c.vocab_abstracts else ("title",)
        vocab = WordVocabulary.build(text, fields, min_count=c.vocab_min_count)
        title, oov_t = encode_texts(text["title"], vocab, c.title_size)
        body, oov_b = (
            encode_texts(text["abstract"], vocab, c.body_size)
            if c.body_size
            else (np.zeros((len(text), 0), np.int64), 0)
        )
        factorized = [
            pd.factorize(text[f].replace("", np.nan)) for f in ("category", "subcategory")
        ]
        cats = [codes + 1 for codes, _ in factorized]
        feats = np.column_stack([title, body, cats[0], cats[1]]).astype(np.int64)
        self.news_features_ = np.vstack([np.zeros((1, feats.shape[1]), np.int64), feats])
        self.vocabulary_ = vocab
        self.category_values_ = [pd.Index(values.astype(str)) for _, values in factorized]
        self.n_words_ = len(vocab)
        self.n_categories_ = int(cats[0].max()) + 1 if len(cats[0]) else 1
        self.n_subcategories_ = int(cats[1].max()) + 1 if len(cats[1]) else 1
        empty = int((title == 0).all(axis=1).sum())
        if empty or oov_t or oov_b:
            logger.info(
                "news encoding: %d news with an empty title, %d out-of-vocabulary words",
                empty,
                oov_t + oov_b,
            )
        if c.glove_path is not None:
            init = glove_matrix(c.glove_path, vocab, c.word_emb_dim, seed=int(c.seed or 0))
            logger.info("GloVe: %d of %d words found", init.found, len(vocab) - 2)
            self.__dict__["_word_init"] = init.matrix

    def _encode_fresh(self, text: pd.DataFrame) -> np.ndarray:
        """Feature rows of new news with the fitted vocabulary and category ids."""
        c = self.config
        title, oov_t = encode_texts(text["title"], self.vocabulary_, c.title_size)
        body, oov_b = (
            encode_texts(text["abstract"], self.vocabulary_, c.body_size)
            if c.body_size
            else (np.zeros((len(text), 0), np.int64), 0)
        )
        # unknown categories -> 0, and never above the embedding tables' sizes
        cats = [
            np.minimum(values.get_indexer(text[f].astype(str)) + 1, limit - 1)
            for f, values, limit in zip(
                ("category", "subcategory"),
                self.category_values_,
                (self.n_categories_, self.n_subcategories_),
            )
        ]
        empty = int((title == 0).all(axis=1).sum())
        if empty or oov_t or oov_b:
            logger.info(
                "fresh news: %d with an empty title, %d out-of-vocabulary words",
                empty,
                oov_t + oov_b,
            )
        return np.column_stack([title, body, cats[0], cats[1]]).astype(np.int64)

    def add_news(self, news: pd.DataFrame) -> NewsRecommender:
        """Put news published after ``fit`` in the catalogue, encoded from their text; return ``self``.

        The news are encoded with the fitted vocabulary and category ids (words and
        categories the model has not seen map to the unknown id) and are then ranked by
        :meth:`recommend_k_items`, scored by :meth:`predict` and kept by :meth:`save`, never
        "seen" by any user. The network is not retrained.

        Args:
            news: One row per new news: ``col_item`` and any of ``title``, ``abstract``,
                ``category``, ``subcategory``.

        Raises:
            NotFittedError: before ``fit``.
            ColumnMismatchError: ``news`` lacks ``col_item``.
            DataError: a repeated id, or an id already in the catalogue.
            StateError: a model loaded from an artifact saved without its vocabulary.
        """
        self._check_fitted()
        check_columns(news, [self.col_item], name="news")
        ids = pd.Index(news[self.col_item])
        if ids.has_duplicates:
            raise DataError(
                f"news repeats id(s) {ids[ids.duplicated()][:5].tolist()}; give one row per news."
            )
        known = self.item_ids_.get_indexer(ids) >= 0
        if known.any():
            raise DataError(
                f"news {ids[known][:5].tolist()} are already in the catalogue; add_news takes new news only."
            )
        if self.__dict__.get("vocabulary_") is None:
            raise StateError(
                "this model was saved without its vocabulary; fit it again to add news."
            )
        if ids.empty:
            return self
        text = pd.DataFrame(
            {
                f: news[f].fillna("").astype(str).to_numpy()
                if f in news.columns
                else np.full(len(news), "")
                for f in TEXT_COLS
            }
        )
        self.news_features_ = np.vstack([self.news_features_, self._encode_fresh(text)])
        n_old = len(self.item_ids_)
        self.item_ids_ = self.item_ids_.append(ids)
        self.item_order_ = np.concatenate([self.item_order_, np.arange(n_old, n_old + len(ids))])
        seen = self.seen_
        self.seen_ = sp.csr_matrix(
            (seen.data, seen.indices, seen.indptr), shape=(seen.shape[0], len(self.item_ids_))
        )
        self._after_fit()
        return self

    def _labels(self, frame: pd.DataFrame | None, n: int) -> np.ndarray:
        if frame is None or self.col_label not in frame.columns:
            return np.ones(n, dtype=np.int64)
        labels = frame[self.col_label].to_numpy()
        if not np.isin(labels, (0, 1)).all():
            raise DataError(
                f"{self.col_label} must be 0 (not clicked) or 1 (clicked); found "
                f"{pd.unique(labels[~np.isin(labels, (0, 1))])[:3].tolist()}."
            )
        return labels.astype(np.int64)

    def _fit(self, data: TrainData) -> None:
        require("torch", "torch")
        from recutils.models.torch_cf import torch_seed_context
        from recutils.nn.run import resolve_seed
        from recutils.nn.trainer import resolve_device

        frame = data.frame
        labels = self._labels(frame, data.user_idx.size)
        clicked = labels == 1
        if not clicked.any():
            raise DataError(f"the training frame has no click ({self.col_label} == 1).")
        n_users = data.n_users
        item_num = self.item_order_[data.item_idx] + 1
        user_num = self.user_order_[data.user_idx] + 1
        # each user's stored history: the latest row's history column, else their clicks
        order = np.arange(data.user_idx.size)
        if frame is not None and self.col_timestamp in frame.columns:
            order = np.lexsort((order, frame[self.col_timestamp].to_numpy()))
        if frame is not None and self.col_history in frame.columns:
            matrix, inverse = _parse_histories(
                frame[self.col_history], self.item_ids_, self.item_order_, self.config.his_size
            )
            last = np.zeros(n_users, dtype=np.int64)
            last[data.user_idx[order]] = order  # the latest row of each user wins
            self.user_history_ = matrix[inverse[last]]
            row_hist = matrix[inverse[clicked]]
        else:
            rows = order[clicked[order]]
            by_user = rows[np.argsort(data.user_idx[rows], kind="stable")]
            self.user_history_ = _right_aligned(
                data.user_idx[by_user], item_num[by_user], n_users, self.config.his_size
            )
            row_hist = self.user_history_[data.user_idx[clicked]].copy()
            row_hist[row_hist == item_num[clicked][:, None]] = 0
        pos_group, neg_items, neg_offsets = None, None, None
        if frame is not None and self.col_impression in frame.columns:
            group = pd.factorize(frame[self.col_impression])[0]
            neg = np.flatnonzero(~clicked)
            neg = neg[np.argsort(group[neg], kind="stable")]
            n_groups = int(group.max()) + 1
            neg_items = item_num[neg]
            neg_offsets = np.r_[0, np.cumsum(np.bincount(group[neg], minlength=n_groups))]
            pos_group = group[clicked]
        seed = resolve_seed(self.config.seed)
        device = resolve_device(self.config.device)
        with torch_seed_context(seed, device, self.config.num_threads):
            network = self._build_network(n_users, data.n_items).to(device)
            source = _ImpressionEpochs(
                self,
                user_num[clicked],
                item_num[clicked],
                row_hist,
                neg_items,
                neg_offsets,
                pos_group,
                data.n_items,
                seed,
                device,
            )
            history = self._run_epochs(
                network,
                source,
                source.loss,
                adam(network.parameters(), device, self.config.learning_rate),
                self.config.n_epochs,
                seed,
                model_dir=self.config.model_dir,
                desc=type(self).__name__,
            )
        self.network_ = network.cpu().eval()
        self.history_ = pd.DataFrame(history)
        self._after_fit()

    def _features_tensor(self, device: Any) -> Any:
        torch = require("torch", "torch")
        cached = self.__dict__.get("_feats_cache")
        if cached is None or cached.device != device:
            cached = torch.from_numpy(self.news_features_).to(device)
            self.__dict__["_feats_cache"] = cached
        return cached

    def _after_fit(self) -> None:
        self.__dict__.pop("_feats_cache", None)
        self.__dict__.pop("_news_cache", None)

    # ---------------------------------------------------------------- scoring
    def _news_vectors(self, users: Any | None = None) -> Any:
        """Vectors of every catalogue news ``[n_items, D]`` (cached unless personalised)."""
        torch = require("torch", "torch")
        net = self.network_
        feats = self._features_tensor(next(net.parameters()).device)[1:]
        if users is not None:
            n, m = users.shape[0], feats.shape[0]
            return net.encode_news(feats.repeat(n, 1), users.repeat_interleave(m)).view(n, m, -1)
        cached = self.__dict__.get("_news_cache")
        if cached is None:
            with torch.no_grad():
                cached = torch.cat(
                    [net.encode_news(feats[s : s + 4096]) for s in range(0, feats.shape[0], 4096)]
                )
            self.__dict__["_news_cache"] = cached
        return cached

    def _score_histories(
        self, users: np.ndarray, histories: np.ndarray, items: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores ``[B, n_items]`` in code order (``items`` None) or ``[B]`` of ``items``
        (internal numbers, from 0) for users (internal numbers + 1, 0 unknown) with
        ``histories`` (news numbers, right-aligned)."""
        torch = require("torch", "torch")
        net = self.network_
        device = next(net.parameters()).device
        feats = self._features_tensor(device)
        u = torch.from_numpy(np.asarray(users, dtype=np.int64)).to(device)
        h = torch.from_numpy(np.asarray(histories, dtype=np.int64)).to(device)
        with torch.no_grad():
            if net.personalised:
                b, length = h.shape
                hist = net.encode_news(
                    feats[h].reshape(b * length, -1), u.repeat_interleave(length)
                )
                user_vec = net.encode_user(hist.view(b, length, -1), h > 0, u)
                if items is None:
                    news = self._news_vectors(u)
                    scores = torch.bmm(news, user_vec.unsqueeze(-1)).squeeze(-1)
                    return scores.double().cpu().numpy()[:, self.item_order_]
                cand = net.encode_news(feats[torch.from_numpy(items + 1).to(device)], u)
                return (cand * user_vec).sum(-1).double().cpu().numpy()
            news = self._news_vectors()
            hist = torch.cat([news.new_zeros(1, news.shape[1]), news])[h]
            user_vec = net.encode_user(hist, h > 0, u)
            if items is None:
                return (user_vec @ news.T).double().cpu().numpy()[:, self.item_order_]
            return (
                (news[torch.from_numpy(items).to(device)] * user_vec).sum(-1).double().cpu().numpy()
            )

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        user_idx = np.asarray(user_idx, dtype=np.int64)
        return self._score_histories(self.user_order_[user_idx] + 1, self.user_history_[user_idx])

    def predict(self, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        """Score each (user, news) row of ``df``; with ``col_history``, by each row's history.

        With a history column, rows of users not seen in training are scored from their
        history; rows of news not in the catalogue get ``NaN`` with one
        :class:`DataWarning`. Without it, see
        :meth:`~recutils.models.base.BaseRecommender.predict`.
        """
        if self.col_history not in df.columns:
            return super().predict(df, **kwargs)
        self._check_fitted()
        check_columns(df, [self.col_user, self.col_item], name="df")
        u = _positions(self.user_ids_, df[self.col_user])
        i = _positions(self.item_ids_, df[self.col_item])
        pred = np.full(len(df), np.nan, dtype=np.float64)
        rows = np.flatnonzero(i >= 0)
        if rows.size:
            matrix, inverse = _parse_histories(
                df[self.col_history].iloc[rows],
                self.item_ids_,
                self.item_order_,
                self.config.his_size,
            )
            users = np.where(u[rows] >= 0, self.user_order_[u[rows]] + 1, 0)
            for s in range(0, rows.size, 8192):
                sl = slice(s, s + 8192)
                pred[rows[sl]] = self._score_histories(
                    users[sl], matrix[inverse[sl]], self.item_order_[i[rows[sl]]]
                )
        n_unknown = int((i < 0).sum())
        if n_unknown:
            warnings.warn(
                f"{n_unknown} of {len(df)} row(s) have news not in the catalogue; their "
                f"{self.col_prediction} is NaN.",
                DataWarning,
                stacklevel=2,
            )
        return pd.DataFrame(
            {
                self.col_user: df[self.col_user].to_numpy(),
                self.col_item: df[self.col_item].to_numpy(),
                self.col_prediction: pred,
            }
        )

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        arrays.update(news_features=self.news_features_, user_history=self.user_history_)
        meta.update(
            n_words=self.n_words_,
            n_categories=self.n_categories_,
            n_subcategories=self.n_subcategories_,
            vocabulary=self.vocabulary_.words.tolist(),
            categories=[values.tolist() for values in self.category_values_],
        )
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        arrays = dict(arrays)
        n_items, n_users = len(self.item_ids_), len(self.user_ids_)
        self.n_words_ = int(meta["n_words"])
        self.n_categories_ = int(meta["n_categories"])
        self.n_subcategories_ = int(meta["n_subcategories"])
        words, categories = meta.get("vocabulary"), meta.get("categories")
        if words is not None:
            if (
                not isinstance(words, list)
                or len(words) != self.n_words_
                or not all(isinstance(w, str) for w in words)
            ):
                raise persistence.ArtifactError("the saved vocabulary does not match n_words.")
            self.vocabulary_ = WordVocabulary(pd.Index(words, dtype=object))
        if categories is not None:
            if (
                not isinstance(categories, list)
                or len(categories) != 2
                or not all(
                    isinstance(v, list) and all(isinstance(x, str) for x in v) for v in categories
                )
            ):
                raise persistence.ArtifactError("the saved category values are malformed.")
            self.category_values_ = [pd.Index(v, dtype=object) for v in categories]
        width = self.config.title_size + self.config.body_size + 2
        feats = persistence.check_array(
            arrays,
            "news_features",
            persistence.INTEGER,
            (n_items + 1, width),
            bounds=(0, max(self.n_words_, self.n_categories_, self.n_subcategories_)),
        )
        hist = persistence.check_array(
            arrays,
            "user_history",
            persistence.INTEGER,
            (n_users, self.config.his_size),
            bounds=(0, n_items + 1),
        )
        self.news_features_ = np.asarray(feats, dtype=np.int64)
        self.user_history_ = np.asarray(hist, dtype=np.int64)
        del arrays["news_features"], arrays["user_history"]
        super()._set_state(arrays, meta)

    # -------------------------------------------------------------- contract
    #: Small parameters shared by the subclasses' contract cases.
    _TINY: ClassVar[dict[str, Any]] = {
        "title_size": 4,
        "his_size": 6,
        "word_emb_dim": 8,
        "attention_hidden_dim": 4,
        "n_epochs": 2,
        "batch_size": 64,
        "learning_rate": 0.01,
        "dropout": 0.0,
    }

    #: A subclass's own small parameters, on top of ``_TINY``.
    _contract_params: ClassVar[dict[str, Any]] = {}

    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(params={**cls._TINY, **cls._contract_params}, stochastic=True)


def tiny_news_corpus(
    n_news: int = 24, n_users: int = 12, n_impressions: int = 40, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic news corpus and impression log with a learnable signal (for tests).

    News belong to two topics (``sports`` / ``finance``), with topic words in their
    titles; each user likes one topic, and in each impression clicks the candidates of it.

    Returns:
        ``(impressions, news)`` in :func:`recutils.datasets.mind.load_mind`'s layout.
    """
    rng = np.random.default_rng(seed)
    topic = np.arange(n_news) % 2
    words = np.array([["goal", "match", "team", "cup"], ["stock", "bank", "market", "rate"]])
    titles = [" ".join(rng.choice(words[t], 3)) + f" story{i}" for i, t in enumerate(topic)]
    news = pd.DataFrame(
        {
            "itemID": [f"N{i}" for i in range(n_news)],
            "title": titles,
            "abstract": [t + " more" for t in titles],
            "category": np.where(topic == 0, "sports", "finance"),
            "subcategory": np.where(topic == 0, "soccer", "markets"),
        }
    )
    likes = np.arange(n_users) % 2
    imp_user = rng.integers(0, n_users, n_impressions)
    cands = np.stack([rng.choice(n_news, 5, replace=False) for _ in range(n_impressions)])
    hist = [" ".join(f"N{j}" for j in np.flatnonzero(topic == likes[u])[:4]) for u in imp_user]
    rows = np.repeat(np.arange(n_impressions), 5)
    items = cands.ravel()
    impressions = pd.DataFrame(
        {
            "impressionID": rows + 1,
            "userID": [f"U{u}" for u in imp_user[rows]],
            "itemID": [f"N{j}" for j in items],
            "label": (topic[items] == likes[imp_user[rows]]).astype(np.int64),
            "history": np.array(hist, dtype=object)[rows],
        }
    )
    return impressions, news


__all__ = ["NewsConfig", "NewsRecommender", "tiny_news_corpus"]
