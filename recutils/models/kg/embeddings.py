"""Knowledge-graph embeddings in PyTorch: TransE and RotatE, link prediction, embedding tables.

* **TransE** (Bordes et al., NIPS 2013): entities and relations are vectors and a triple
  ``(h, r, t)`` scores ``-||e_h + e_r - e_t||_p`` (``norm`` 1 or 2). Entity vectors are
  renormalised to unit L2 norm before every step (the paper's constraint), relations are
  initialised on the unit sphere once.
* **RotatE** (Sun et al., ICLR 2019): entities are complex vectors (``embedding_dim``
  complex numbers, stored as real and imaginary halves), a relation is a rotation by the
  phases ``theta_r`` and a triple scores ``-sum_k |h_k * exp(i theta_rk) - t_k|``. Trained
  here with the same margin loss as TransE (the paper's self-adversarial sampling is not
  implemented).

Training minimises the margin ranking loss ``mean(relu(margin - s(h, r, t) + s(h', r, t')))``
over each training triple and ``n_negatives`` corruptions of it, the head or the tail
(each with probability 1/2) replaced by a uniformly drawn entity, drawn every epoch from
``default_rng([seed, epoch])``, with Adam, through the shared trainer
(:meth:`recutils.nn.trainer.Trainer.fit_epochs`: checkpoints in ``model_dir``, callbacks,
divergence checks).

Link prediction (:meth:`KGEmbedding.link_prediction`) scores, for every test triple, all
entities as the tail of ``(h, r, ?)`` and as the head of ``(?, r, t)``, in batches of test
triples (one ``[batch, n_entities]`` score matrix at a time, never a Python loop over
triples), and ranks the true entity: ``rank = 1 + #entities scoring higher``. The
**filtered** setting (Bordes et al.) first removes the other entities that make a known
triple (train, validation and test), so a model is not penalised for ranking another
true answer first. Reported: mean rank, MRR and Hits@1/3/10, both settings, averaged over
the head and tail queries. :func:`random_link_prediction` gives the exact expectation of
the same metrics for a scorer that ranks uniformly at random (same filter).

The embeddings are saved as a table other models load (:meth:`KGEmbedding.save`,
:func:`load_embedding_table`): ``entity_embeddings.npy`` / ``relation_embeddings.npy``
(float32, row = id), ``entities.txt`` / ``relations.txt`` (one label per line, the row's
entity or relation) and ``kge.json`` (config and sizes); :func:`write_vec` writes the
``label<TAB>v1 v2 ...`` text format that DKN-style news data uses for entity vectors.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.datasets.kg import HEAD, RELATION, TAIL, KnowledgeGraph
from recutils.exceptions import ConfigError, DataError, NotFittedError
from recutils.models.factors import check_number, check_positive_int
from recutils.nn.run import RunConfig, resolve_seed
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Embedding models :class:`KGEmbedding` trains.
MODELS = ("transe", "rotate")
_TABLE_FORMAT = 1


@dataclass
class KGEConfig(RunConfig):
    """Hyper-parameters of :class:`KGEmbedding`.

    Attributes:
        model: ``"transe"`` or ``"rotate"``.
        embedding_dim: Width of the entity vectors (RotatE: complex numbers, so the stored
            entity rows are ``2 * embedding_dim`` wide).
        norm: TransE's distance, 1 (L1) or 2 (L2).
        margin: Margin of the ranking loss.
        n_negatives: Corrupted triples per training triple and epoch.
        n_epochs: Training epochs (one pass over the triples each).
        batch_size: Training triples per Adam step.
        learning_rate: Adam step size.
        eval_batch_size: Test triples scored at once against all entities.

    The run settings ``seed``, ``device``, ``num_threads`` (default 1) and ``model_dir``
    are those of :class:`~recutils.nn.run.RunConfig`.
    """

    seed: int | None = 42
    device: str | None = "cpu"
    num_threads: int | None = 1
    model: str = "transe"
    embedding_dim: int = 64
    norm: int = 1
    margin: float = 1.0
    n_negatives: int = 1
    n_epochs: int = 50
    batch_size: int = 1024
    learning_rate: float = 0.01
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        self.check_run()
        if self.model not in MODELS:
            raise ConfigError(f"model={self.model!r}; allowed: {list(MODELS)}.")
        if self.norm not in (1, 2):
            raise ConfigError(f"norm must be 1 (L1) or 2 (L2), got {self.norm!r}.")
        for name in ("embedding_dim", "n_negatives", "n_epochs", "batch_size", "eval_batch_size"):
            check_positive_int(name, getattr(self, name))
        check_number("margin", self.margin, strict=True)
        check_number("learning_rate", self.learning_rate, strict=True)


def _network(config: KGEConfig, n_entities: int, n_relations: int) -> Any:
    torch = require("torch", "torch")

    class TransE(torch.nn.Module):
        """TransE scores (see the module docstring)."""

        def __init__(self) -> None:
            super().__init__()
            dim = config.embedding_dim
            bound = 6.0 / dim**0.5
            self.entity = torch.nn.Embedding(n_entities, dim)
            self.relation = torch.nn.Embedding(n_relations, dim)
            torch.nn.init.uniform_(self.entity.weight, -bound, bound)
            torch.nn.init.uniform_(self.relation.weight, -bound, bound)
            with torch.no_grad():
                self.relation.weight.div_(self.relation.weight.norm(dim=1, keepdim=True))
            self.p = float(config.norm)

        def constrain(self) -> None:
            with torch.no_grad():
                w = self.entity.weight
                w.div_(w.norm(dim=1, keepdim=True).clamp_min(1e-12))

        def forward(self, h: Any, r: Any, t: Any) -> Any:
            return -(self.entity(h) + self.relation(r) - self.entity(t)).norm(p=self.p, dim=-1)

        def tails(self, h: Any, r: Any) -> Any:
            q = self.entity(h) + self.relation(r)
            return -torch.cdist(q, self.entity.weight, p=self.p)

        def heads(self, r: Any, t: Any) -> Any:
            q = self.entity(t) - self.relation(r)
            return -torch.cdist(q, self.entity.weight, p=self.p)

    class RotatE(torch.nn.Module):
        """RotatE scores (see the module docstring)."""

        def __init__(self) -> None:
            super().__init__()
            dim = config.embedding_dim
            bound = (config.margin + 2.0) / dim
            self.dim = dim
            self.entity = torch.nn.Embedding(n_entities, 2 * dim)
            self.relation = torch.nn.Embedding(n_relations, dim)
            torch.nn.init.uniform_(self.entity.weight, -bound, bound)
            torch.nn.init.uniform_(self.relation.weight, -np.pi, np.pi)

        def constrain(self) -> None:
            return None

        def _rotate(self, e: Any, r: Any, inverse: bool = False) -> tuple[Any, Any]:
            re, im = e[..., : self.dim], e[..., self.dim :]
            phase = self.relation(r)
            c, s = torch.cos(phase), torch.sin(phase) * (-1.0 if inverse else 1.0)
            return re * c - im * s, re * s + im * c

        def _distance(self, q_re: Any, q_im: Any, e: Any) -> Any:
            return torch.sqrt(
                (q_re - e[..., : self.dim]) ** 2 + (q_im - e[..., self.dim :]) ** 2 + 1e-12
            ).sum(-1)

        def forward(self, h: Any, r: Any, t: Any) -> Any:
            q_re, q_im = self._rotate(self.entity(h), r)
            return -self._distance(q_re, q_im, self.entity(t))

        def _all(self, q_re: Any, q_im: Any) -> Any:
            out, w = [], self.entity.weight
            step = max(1, (1 << 22) // max(q_re.shape[0] * self.dim, 1))
            for s in range(0, w.shape[0], step):  # blocks of entities bound the memory
                out.append(
                    -self._distance(q_re[:, None, :], q_im[:, None, :], w[None, s : s + step])
                )
            return torch.cat(out, dim=1)

        def tails(self, h: Any, r: Any) -> Any:
            return self._all(*self._rotate(self.entity(h), r))

        def heads(self, r: Any, t: Any) -> Any:
            return self._all(*self._rotate(self.entity(t), r, inverse=True))

    return TransE() if config.model == "transe" else RotatE()


def _as_triples(
    triples: pd.DataFrame | np.ndarray, n_entities: int, n_relations: int, what: str
) -> np.ndarray:
    """``[n, 3]`` int64 array of ``(head, relation, tail)`` ids, checked against the sizes."""
    arr = (
        triples[[HEAD, RELATION, TAIL]].to_numpy()
        if isinstance(triples, pd.DataFrame)
        else np.asarray(triples)
    )
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"{what} must be integer (head, relation, tail) triples, got shape {arr.shape}, "
            f"dtype {arr.dtype}."
        )
    arr = arr.astype(np.int64)
    ent = arr[:, [0, 2]]
    if arr.size and (
        ent.min() < 0
        or ent.max() >= n_entities
        or arr[:, 1].min() < 0
        or arr[:, 1].max() >= n_relations
    ):
        raise DataError(
            f"{what} hold ids outside [0, {n_entities}) entities / [0, {n_relations}) relations."
        )
    return arr


def split_triples(
    triples: pd.DataFrame, test_fraction: float = 0.1, *, seed: int | None = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``test_fraction`` of the triples at random for link prediction.

    A held-out triple whose head, tail or relation occurs in no training triple is put
    back into training (its entity would have no learned vector), so the test part may be
    slightly smaller than asked. Note that a KG with inverse relations (the ml-100k KG
    has most relations both ways) keeps each test triple's inverse in training: link
    prediction on it is easier than on a KG without them.

    Returns:
        ``(train, test)``, each in the input's row order.
    """
    check_number("test_fraction", test_fraction, strict=True)
    if test_fraction >= 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    rng = np.random.default_rng(seed)
    n = len(triples)
    test = np.zeros(n, dtype=bool)
    test[rng.permutation(n)[: int(round(n * test_fraction))]] = True
    tr = triples[~test]
    ents = np.union1d(tr[HEAD].to_numpy(), tr[TAIL].to_numpy())
    rels = np.unique(tr[RELATION].to_numpy())
    unseen = test & ~(
        np.isin(triples[HEAD], ents)
        & np.isin(triples[TAIL], ents)
        & np.isin(triples[RELATION], rels)
    )
    test &= ~unseen
    return triples[~test], triples[test]


class _Filter:
    """For ``(h, r)`` (tails) or ``(r, t)`` (heads) queries: every known answer, as CSR ranges."""

    def __init__(self, known: np.ndarray, n_entities: int, n_relations: int, tails: bool) -> None:
        a, b, answer = (
            (known[:, 0], known[:, 1], known[:, 2])
            if tails
            else (known[:, 2], known[:, 1], known[:, 0])
        )
        self.n_relations = n_relations
        keys = a * n_relations + b
        order = np.argsort(keys, kind="stable")
        self.keys, self.answers = keys[order], answer[order]

    def pairs(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(row, entity)`` of every known answer of the queries ``(a[row], b[row])``."""
        q = a * self.n_relations + b
        start = np.searchsorted(self.keys, q, side="left")
        stop = np.searchsorted(self.keys, q, side="right")
        counts = stop - start
        rows = np.repeat(np.arange(q.size), counts)
        offsets = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.answers[np.repeat(start, counts) + offsets]

    def counts(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Known answers per query."""
        q = a * self.n_relations + b
        return np.searchsorted(self.keys, q, side="right") - np.searchsorted(
            self.keys, q, side="left"
        )


def _summary(raw: np.ndarray, filtered: np.ndarray | None, ks: tuple[int, ...]) -> dict[str, float]:
    """Mean rank, MRR and Hits@k of rank arrays (``filt_`` prefix for the filtered ones)."""
    out: dict[str, float] = {}
    for prefix, ranks in (("", raw), ("filt_", filtered)):
        if ranks is None:
            continue
        ranks = ranks.astype(np.float64)
        out[f"{prefix}mean_rank"] = float(ranks.mean())
        out[f"{prefix}mrr"] = float((1.0 / ranks).mean())
        for k in ks:
            out[f"{prefix}hits@{k}"] = float((ranks <= k).mean())
    return out


def random_link_prediction(
    test: pd.DataFrame | np.ndarray,
    known: pd.DataFrame | np.ndarray,
    n_entities: int,
    n_relations: int,
    ks: tuple[int, ...] = (1, 3, 10),
) -> dict[str, float]:
    """The expected link-prediction metrics of a scorer ranking entities uniformly at random.

    Exact expectations, not a sample: with ``M`` candidates left (``n_entities`` raw, minus
    the other known answers filtered), the true entity's rank is uniform on ``1..M``, so
    its expected reciprocal rank is ``H_M / M`` and ``P(rank <= k) = min(k, M) / M``. The
    keys are those of :meth:`KGEmbedding.link_prediction`.
    """
    test_arr = _as_triples(test, n_entities, n_relations, "test")
    known_arr = _as_triples(known, n_entities, n_relations, "known")
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n_entities + 1))])
    out: dict[str, float] = {}
    m_raw = np.full(2 * len(test_arr), n_entities, dtype=np.int64)
    others = np.concatenate(
        [
            _Filter(known_arr, n_entities, n_relations, True).counts(
                test_arr[:, 0], test_arr[:, 1]
            ),
            _Filter(known_arr, n_entities, n_relations, False).counts(
                test_arr[:, 2], test_arr[:, 1]
            ),
        ]
    )
    # the true answer is one of the known ones when test is in known
    m_filt = n_entities - np.maximum(others - 1, 0)
    for prefix, m in (("", m_raw), ("filt_", m_filt)):
        out[f"{prefix}mean_rank"] = float(((m + 1) / 2).mean())
        out[f"{prefix}mrr"] = float((harmonic[m] / m).mean())
        for k in ks:
            out[f"{prefix}hits@{k}"] = float((np.minimum(k, m) / m).mean())
    return out


class KGEmbedding:
    """TransE / RotatE knowledge-graph embeddings (see the module docstring).

    Args:
        config: A :class:`KGEConfig`, a mapping or YAML; keyword arguments override it.
        progress: Show a progress bar over epochs.
        callbacks: Trainer callbacks (:class:`~recutils.nn.trainer.Callback`).

    Fitted attributes: ``network_``, ``entity_embeddings_`` / ``relation_embeddings_``
    (float32 numpy, row = id), ``history_`` (``epoch``, ``loss``, ``seconds``),
    ``entities_`` / ``relations_`` (labels, when fitted on a :class:`KnowledgeGraph`).

    Examples:
        >>> from recutils.datasets.kg import load_kg
        >>> from recutils.models.kg import KGEmbedding, split_triples
        >>> kg = load_kg("ml-100k")  # doctest: +SKIP
        >>> train, test = split_triples(kg.triples, 0.1, seed=0)  # doctest: +SKIP
        >>> kge = KGEmbedding(model="transe", n_epochs=50).fit(train, kg.n_entities, kg.n_relations)  # doctest: +SKIP
        >>> kge.link_prediction(test, known=kg.triples)["filt_hits@10"]  # doctest: +SKIP
    """

    def __init__(
        self,
        config: Any = None,
        *,
        progress: bool = False,
        callbacks: list[Any] | None = None,
        **params: Any,
    ) -> None:
        from recutils.config import load_config

        base = load_config(config, KGEConfig)
        self.config = base.replace(**params) if params else base
        self.progress = progress
        self.callbacks = list(callbacks or [])

    def _check_fitted(self) -> None:
        if "network_" not in self.__dict__:
            raise NotFittedError("this KGEmbedding is not fitted yet: call fit() first.")

    def fit(
        self,
        triples: KnowledgeGraph | pd.DataFrame | np.ndarray,
        n_entities: int | None = None,
        n_relations: int | None = None,
    ) -> KGEmbedding:
        """Train on ``triples`` (a :class:`KnowledgeGraph`, or integer triples with the sizes).

        Raises:
            DataError: no triple, ids outside the sizes, or sizes missing for raw triples.
            ModelFitError: the loss or a weight became NaN or infinite.
        """
        torch = require("torch", "torch")
        from recutils.models.torch_cf import torch_seed_context
        from recutils.nn.trainer import Trainer, resolve_device

        if isinstance(triples, KnowledgeGraph):
            self.entities_, self.relations_ = triples.entities, triples.relations
            n_entities, n_relations, triples = (
                triples.n_entities,
                triples.n_relations,
                triples.triples,
            )
        elif n_entities is None or n_relations is None:
            raise DataError("fit on raw triples needs n_entities and n_relations.")
        arr = _as_triples(triples, int(n_entities), int(n_relations), "triples")
        if len(arr) == 0:
            raise DataError("cannot fit knowledge-graph embeddings on no triple.")
        c = self.config
        seed = resolve_seed(c.seed)
        device = resolve_device(c.device or "auto")
        self.n_entities_, self.n_relations_ = int(n_entities), int(n_relations)
        with torch_seed_context(seed, device, c.num_threads):
            network = _network(c, self.n_entities_, self.n_relations_).to(device)
            source = _CorruptedTriples(
                arr, self.n_entities_, c.batch_size, c.n_negatives, c.margin, seed, device
            )
            optimizer = torch.optim.Adam(network.parameters(), lr=c.learning_rate)
            trainer = Trainer.from_run(
                network, c, seed=seed, callbacks=self.callbacks, progress=self.progress
            )
            history = trainer.fit_epochs(
                source,
                source.loss,
                c.n_epochs,
                optimizers=[optimizer],
                seed_torch=False,
                desc=c.model,
            )
            network.constrain()
        self.network_ = network.cpu().eval()
        self.history_ = history
        self._cache()
        return self

    def _cache(self) -> None:
        self.entity_embeddings_ = self.network_.entity.weight.detach().numpy().astype(np.float32)
        self.relation_embeddings_ = (
            self.network_.relation.weight.detach().numpy().astype(np.float32)
        )

    def score(self, triples: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The score of each triple (higher: more plausible), float64."""
        torch = require("torch", "torch")
        self._check_fitted()
        arr = torch.from_numpy(_as_triples(triples, self.n_entities_, self.n_relations_, "triples"))
        with torch.no_grad():
            return self.network_(arr[:, 0], arr[:, 1], arr[:, 2]).double().numpy()

    def link_prediction(
        self,
        test: pd.DataFrame | np.ndarray,
        known: pd.DataFrame | np.ndarray | None = None,
        ks: tuple[int, ...] = (1, 3, 10),
    ) -> dict[str, float]:
        """Raw and filtered mean rank, MRR and Hits@k of ``test`` (see the module docstring).

        Args:
            test: The triples to rank.
            known: Every true triple to filter out (train, validation and test);
                ``None``: raw metrics only.
            ks: The cut-offs of Hits@k.

        Returns:
            ``mean_rank``, ``mrr``, ``hits@k`` (raw) and ``filt_...`` (filtered), each the
            mean over the head and tail queries of every test triple.
        """
        torch = require("torch", "torch")
        self._check_fitted()
        test_arr = _as_triples(test, self.n_entities_, self.n_relations_, "test")
        if len(test_arr) == 0:
            raise DataError("link prediction needs at least one test triple.")
        filters = None
        if known is not None:
            known_arr = _as_triples(known, self.n_entities_, self.n_relations_, "known")
            filters = (
                _Filter(known_arr, self.n_entities_, self.n_relations_, True),
                _Filter(known_arr, self.n_entities_, self.n_relations_, False),
            )
        raw, filt = [], []
        step = self.config.eval_batch_size
        net = self.network_
        with torch.no_grad():
            for s in range(0, len(test_arr), step):  # batches of test triples
                b = test_arr[s : s + step]
                h, r, t = (torch.from_numpy(b[:, i]) for i in range(3))
                for side, scores, truth in (
                    (0, net.tails(h, r), b[:, 2]),
                    (1, net.heads(r, t), b[:, 0]),
                ):
                    scores = scores.double().numpy()
                    rows = np.arange(len(b))
                    true = scores[rows, truth]
                    raw.append(1 + (scores > true[:, None]).sum(1))
                    if filters is not None:
                        fr, fe = (
                            filters[0].pairs(b[:, 0], b[:, 1])
                            if side == 0
                            else filters[1].pairs(b[:, 2], b[:, 1])
                        )
                        scores[fr, fe] = -np.inf
                        filt.append(1 + (scores > true[:, None]).sum(1))
        return _summary(np.concatenate(raw), np.concatenate(filt) if filt else None, ks)

    def nearest_entities(self, entity_ids: Any, k: int = 5, candidates: Any = None) -> pd.DataFrame:
        """The ``k`` entities closest (cosine) to each of ``entity_ids``, among ``candidates`` (entity
        ids; default all): ``[entity, neighbour, rank, similarity]``, with labels where known."""
        self._check_fitted()
        ids = np.asarray(entity_ids, dtype=np.int64)
        pool = (
            np.arange(self.n_entities_)
            if candidates is None
            else np.asarray(candidates, dtype=np.int64)
        )
        emb = self.entity_embeddings_.astype(np.float64)
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        sim = emb[ids] @ emb[pool].T
        sim[pool[None, :] == ids[:, None]] = -np.inf  # never an entity itself
        k = min(k, pool.size - 1)
        top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        labels = self.__dict__.get("entities_")
        name = (lambda x: labels[x]) if labels is not None else (lambda x: x)
        return pd.DataFrame(
            {
                "entity": np.repeat(name(ids), k),
                "neighbour": name(pool[top.ravel()]),
                "rank": np.tile(np.arange(1, k + 1), ids.size),
                "similarity": np.take_along_axis(sim, top, 1).ravel(),
            }
        )

    # ------------------------------------------------------------------ the table
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the embedding table (see the module docstring) and the weights; return the folder."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "entity_embeddings.npy", self.entity_embeddings_)
        np.save(folder / "relation_embeddings.npy", self.relation_embeddings_)
        entities = self.__dict__.get("entities_", pd.RangeIndex(self.n_entities_))
        relations = self.__dict__.get("relations_", pd.RangeIndex(self.n_relations_))
        for name, labels in (("entities.txt", entities), ("relations.txt", relations)):
            (folder / name).write_text(
                "".join(f"{x}\n" for x in labels.astype(str)), encoding="utf-8"
            )
        meta = {
            "format": _TABLE_FORMAT,
            "config": self.config.to_dict(),
            "n_entities": self.n_entities_,
            "n_relations": self.n_relations_,
            "labels": "entities_" in self.__dict__,
        }
        (folder / "kge.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> KGEmbedding:
        """Rebuild a fitted :class:`KGEmbedding` from :meth:`save`'s folder (no pickle)."""
        torch = require("torch", "torch")
        meta = json.loads((Path(folder) / "kge.json").read_text(encoding="utf-8"))
        table = load_embedding_table(folder)
        model = cls(meta["config"])
        model.n_entities_, model.n_relations_ = int(meta["n_entities"]), int(meta["n_relations"])
        if meta.get("labels"):
            model.entities_, model.relations_ = table.entities, table.relations
        with torch.random.fork_rng(devices=[]):
            network = _network(model.config, model.n_entities_, model.n_relations_)
        network.entity.weight.data = torch.from_numpy(table.entity_vectors.copy())
        network.relation.weight.data = torch.from_numpy(table.relation_vectors.copy())
        model.network_ = network.eval()
        model.history_ = pd.DataFrame()
        model._cache()
        return model


@dataclass(frozen=True)
class EmbeddingTable:
    """Entity and relation vectors with their labels (row ``i`` is ``entities[i]``)."""

    entities: pd.Index
    entity_vectors: np.ndarray
    relations: pd.Index
    relation_vectors: np.ndarray

    def lookup(self, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of ``labels`` (zeros where unknown) and a mask of the ones found."""
        pos = self.entities.get_indexer(pd.Index(pd.Series(labels).astype(str)))
        found = pos >= 0
        out = np.zeros((pos.size, self.entity_vectors.shape[1]), dtype=self.entity_vectors.dtype)
        out[found] = self.entity_vectors[pos[found]]
        return out, found


def load_embedding_table(folder: str | os.PathLike) -> EmbeddingTable:
    """Read a table written by :meth:`KGEmbedding.save` (labels as strings).

    Raises:
        DataError: a file is missing or the labels and rows disagree in number.
    """
    folder = Path(folder)
    try:
        ent = np.load(folder / "entity_embeddings.npy", allow_pickle=False)
        rel = np.load(folder / "relation_embeddings.npy", allow_pickle=False)
        entities = pd.Index((folder / "entities.txt").read_text(encoding="utf-8").splitlines())
        relations = pd.Index((folder / "relations.txt").read_text(encoding="utf-8").splitlines())
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the embedding table in {folder}: {err}") from err
    if len(entities) != len(ent) or len(relations) != len(rel):
        raise DataError(
            f"{folder}: {len(entities)} entity labels for {len(ent)} rows, {len(relations)} "
            f"relation labels for {len(rel)} rows."
        )
    return EmbeddingTable(entities, ent, relations, rel)


def write_vec(path: str | os.PathLike, labels: Any, vectors: np.ndarray) -> Path:
    """Write ``label<TAB>v1 v2 ...`` lines (the entity ``.vec`` format of DKN's data)."""
    path = Path(path)
    values = pd.DataFrame(np.asarray(vectors, dtype=np.float64))
    first = pd.Series(pd.Index(labels).astype(str)).str.cat(
        values[0].map("{:.6g}".format), sep="\t"
    )
    frame = pd.concat([first.rename("first"), values.iloc[:, 1:]], axis=1)
    frame.to_csv(
        path,
        sep=" ",
        header=False,
        index=False,
        quoting=csv.QUOTE_NONE,
        float_format="%.6g",
        escapechar="\\",
    )
    return path


class _CorruptedTriples:
    """Batches of training triples with ``n_negatives`` corruptions each, and the margin loss."""

    def __init__(
        self,
        triples: np.ndarray,
        n_entities: int,
        batch_size: int,
        n_negatives: int,
        margin: float,
        seed: int,
        device: Any,
    ) -> None:
        torch = require("torch", "torch")
        self.triples = torch.from_numpy(triples).to(device)
        self.n, self.n_entities, self.batch_size = len(triples), n_entities, batch_size
        self.n_negatives, self.margin, self.seed, self.device = n_negatives, margin, seed, device
        self.torch = torch

    def epoch_batches(self, epoch: int) -> Any:
        torch = self.torch
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.n)
        shape = (self.n, self.n_negatives)
        corrupt_head = torch.from_numpy(rng.random(shape) < 0.5).to(self.device)
        replacement = torch.from_numpy(
            rng.integers(0, self.n_entities, size=shape, dtype=np.int64)
        ).to(self.device)
        for s in range(0, self.n, self.batch_size):
            idx = torch.from_numpy(order[s : s + self.batch_size]).to(self.device)
            yield idx, corrupt_head[idx], replacement[idx]

    def loss(self, network: Any, batch: Any) -> Any:
        idx, corrupt_head, replacement = batch
        network.constrain()
        h, r, t = self.triples[idx, 0], self.triples[idx, 1], self.triples[idx, 2]
        pos = network(h, r, t)
        hn = self.torch.where(corrupt_head, replacement, h[:, None])
        tn = self.torch.where(corrupt_head, t[:, None], replacement)
        neg = network(hn, r[:, None].expand_as(hn), tn)
        return self.torch.relu(self.margin - pos[:, None] + neg).mean()


__all__ = [
    "MODELS",
    "EmbeddingTable",
    "KGEConfig",
    "KGEmbedding",
    "load_embedding_table",
    "random_link_prediction",
    "split_triples",
    "write_vec",
]
