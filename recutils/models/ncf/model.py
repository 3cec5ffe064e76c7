"""Neural Collaborative Filtering (GMF, MLP, NeuMF) in PyTorch, behind the recutils contract.

NCF (He et al., WWW 2017) learns from implicit feedback with a pointwise log loss:
every training row ``(u, i)`` is a positive (label 1) and, **each epoch**, ``n_neg``
items the user never interacted with are drawn per positive (label 0), distinct
within a user while the user has enough unseen items, as Microsoft Recommenders'
NCF data loader draws them (:func:`~recutils.models.torch_cf.sample_unseen_per_user`;
seeded: epoch ``e`` of stage ``s`` draws from ``default_rng([seed, s, e])``). The network
(:class:`~recutils.models.ncf.network.NCFNetwork`) is ``gmf`` (generalized matrix
factorization), ``mlp`` or ``neumf`` (both, fused in the last layer). Adam minimises
the binary cross-entropy of the logits over shuffled mini-batches.

With ``pretrain=True`` (``model_type="neumf"`` only) a GMF and an MLP are trained
first (``pretrain_epochs`` each) and NeuMF starts from their weights with the last
layer ``h = [alpha h_GMF, (1 - alpha) h_MLP]``, as in the paper (which then trains
NeuMF with plain SGD; here the optimizer stays Adam at ``learning_rate``).

Ranking scores every item of a user with the logit (ranking-equivalent to the
probability, without its saturation); seen items are removed by the base class.

Policies: ratings are not read and a repeated pair counts once; users not seen in
training are skipped (one ``DataWarning``); see :mod:`recutils.models.torch_cf` for
seeding, devices and save/load.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase
from recutils.models.factors import (
    block_toy_case,
    check_bool,
    check_choice,
    check_number,
    check_positive_int,
)
from recutils.models.torch_cf import (
    TorchCFConfig,
    TorchCFRecommender,
    adam,
    check_layers,
    sample_unseen_per_user,
)
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Network types.
MODEL_TYPES = ("gmf", "mlp", "neumf")


@dataclass
class NCFConfig(TorchCFConfig):
    """Hyper-parameters of :class:`NCF`.

    The training schedule is the MovieLens benchmark's (``recutils/benchmark/specs/
    movielens.yaml``, Microsoft Recommenders' NCF benchmark): 15 epochs of batches of 1024
    at learning rate 1e-3 with 4 negatives per positive. Two of the benchmark's settings
    are not defaults: ``n_factors`` stays 8 (Microsoft's NCF default, the paper's
    smallest), which did better than the benchmark's 4 on MovieLens 100k (Microsoft's
    split, seed 42, NeuMF without pre-training: MAP 0.123 / nDCG@10 0.427 against 0.108 /
    0.392); ``pretrain`` stays False because it applies to ``neumf`` only (a default of
    True would reject ``model_type="gmf"``) and triples the training time. The schedule
    used before (50 epochs of batches of 256) took 7x as long there for MAP 0.104 /
    nDCG@10 0.388.

    Attributes:
        model_type: ``gmf``, ``mlp`` or ``neumf``.
        n_factors: GMF embedding width.
        layer_sizes: MLP widths; the first (even) is the concatenated user/item
            embedding, at least two entries.
        n_epochs: Training epochs (of NeuMF after pre-training).
        batch_size: Rows (positives and negatives) per Adam step.
        learning_rate: Adam step size.
        n_neg: Negatives drawn per positive, every epoch.
        l2: Weight decay of Adam (0: none, as in the paper).
        pretrain: NeuMF only: pre-train GMF and MLP and start from their weights.
        pretrain_epochs: Epochs of each pre-training (``None``: ``n_epochs``).
        alpha: Weight of GMF's last layer when fusing the pre-trained models.

    The run settings (``seed``, ``device``, ``num_threads``, ``model_dir``) and the
    validation settings (``valid_metric``, ``patience``) are those of
    :class:`~recutils.models.torch_cf.TorchCFConfig`; ``model_dir`` holds one sub-folder
    of per-epoch checkpoints per stage (``gmf``, ``mlp``, ``neumf``).
    """

    model_type: str = "neumf"
    n_factors: int = 8
    layer_sizes: list[int] = field(default_factory=lambda: [16, 8, 4])
    n_epochs: int = 15
    batch_size: int = 1024
    learning_rate: float = 1e-3
    n_neg: int = 4
    l2: float = 0.0
    pretrain: bool = False
    pretrain_epochs: int | None = None
    alpha: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("model_type", self.model_type, list(MODEL_TYPES))
        check_positive_int("n_factors", self.n_factors)
        self.layer_sizes = check_layers("layer_sizes", self.layer_sizes, minimum_length=2)
        if self.layer_sizes[0] % 2:
            raise ConfigError(
                f"layer_sizes[0] is the concatenated user and item embedding and "
                f"must be even, got {self.layer_sizes[0]}."
            )
        check_positive_int("n_epochs", self.n_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_positive_int("n_neg", self.n_neg)
        check_number("l2", self.l2)
        check_bool("pretrain", self.pretrain)
        if self.pretrain and self.model_type != "neumf":
            raise ConfigError(f"pretrain=True needs model_type='neumf', got {self.model_type!r}.")
        if self.pretrain_epochs is not None:
            check_positive_int("pretrain_epochs", self.pretrain_epochs)
        check_number("alpha", self.alpha)
        if self.alpha > 1:
            raise ConfigError(f"alpha must lie in [0, 1], got {self.alpha!r}.")


class NCF(TorchCFRecommender):
    """NCF: GMF, MLP or NeuMF (see the module docstring).

    Args:
        config: An :class:`NCFConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` /
            ``col_timestamp`` are accepted and ignored).
        progress: tqdm bars over epochs (fit) and scoring blocks.

    Fitted attributes: ``network_`` (:class:`~recutils.models.ncf.network.NCFNetwork`,
    CPU, eval mode), ``history_`` (one row per epoch: ``stage``, ``epoch``, ``loss``,
    ``seconds``), ``user_order_``, ``item_order_``, ``user_ids_``, ``item_ids_``, ``seen_``.

    Examples:
        >>> from recutils.models.ncf import NCF
        >>> model = NCF(model_type="neumf", n_factors=4, layer_sizes=[16, 8, 4], n_epochs=15,
        ...             batch_size=1024, learning_rate=1e-3, seed=42)  # doctest: +SKIP
        >>> top = model.fit(train).recommend_k_items(test, top_k=10)  # doctest: +SKIP
    """

    name: ClassVar[str] = "ncf"
    config_class: ClassVar[type[NCFConfig]] = NCFConfig
    config: NCFConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.ncf.network import NCFNetwork

        c = self.config
        return NCFNetwork(
            n_users,
            n_items,
            c.model_type,
            c.n_factors,
            c.layer_sizes,
            output_bias=float(np.log(1.0 / c.n_neg)),
        )

    def _train(
        self,
        network: Any,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        seed: int,
        device: Any,
    ) -> list[dict[str, Any]]:
        from recutils.models.ncf.network import NCFNetwork, neumf_from_pretrained

        c = self.config
        history: list[dict[str, Any]] = []
        if c.pretrain:
            epochs = c.pretrain_epochs or c.n_epochs
            parts = {}
            for stage in ("gmf", "mlp"):
                part = NCFNetwork(
                    n_users,
                    n_items,
                    stage,
                    c.n_factors,
                    c.layer_sizes,
                    output_bias=float(np.log(1.0 / c.n_neg)),
                ).to(device)
                history += self._train_stage(
                    part, users, items, n_items, seed, device, epochs, stage, stream=len(parts) + 1
                )
                parts[stage] = part
            fused = neumf_from_pretrained(parts["gmf"], parts["mlp"], c.alpha)
            network.load_state_dict(fused.state_dict())
        history += self._train_stage(
            network, users, items, n_items, seed, device, c.n_epochs, c.model_type, stream=0
        )
        return history

    def _train_stage(
        self,
        network: Any,
        users: np.ndarray,
        items: np.ndarray,
        n_items: int,
        seed: int,
        device: Any,
        n_epochs: int,
        stage: str,
        stream: int,
    ) -> list[dict[str, Any]]:
        """Train ``network`` for ``n_epochs`` with fresh negatives each epoch."""
        require("torch", "torch")
        c = self.config
        source = _NCFEpochs(
            users, items, n_items, c.n_neg, c.batch_size, seed, stream, stage, device
        )
        optimizer = adam(network.parameters(), device, c.learning_rate, c.l2)
        folder = None if c.model_dir is None else Path(c.model_dir) / stage
        return self._run_epochs(
            network,
            source,
            source.loss,
            optimizer,
            n_epochs,
            seed,
            model_dir=folder,
            desc=f"NCF {stage}",
            validate=stage == c.model_type,
        )

    def _score_internal(self, users: Any) -> Any:
        return self.network_.score_users(users)

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        torch = require("torch", "torch")
        u = torch.from_numpy(self.user_order_[user_idx])
        i = torch.from_numpy(self.item_order_[item_idx])
        out = np.empty(user_idx.size, dtype=np.float64)
        step = 1 << 16
        with torch.no_grad():
            for s in range(0, user_idx.size, step):
                out[s : s + step] = self.network_(u[s : s + step], i[s : s + step]).double().numpy()
        return out

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "n_factors": 4,
            "layer_sizes": [8, 4],
            "n_epochs": 2,
            "batch_size": 128,
            "learning_rate": 0.01,
            "seed": 0,
        }
        known = block_toy_case(
            {**params, "model_type": "gmf", "n_factors": 8, "n_epochs": 60, "learning_rate": 0.02}
        )
        return ContractCase(params=params, known_answer=known, stochastic=True)


class _NCFEpochs:
    """NCF's batch source and loss: the positives and, each epoch, ``n_neg`` fresh
    negatives per positive (distinct per user), drawn from ``default_rng([seed, stream,
    epoch])``, then the rows in a permutation drawn from the same generator; a batch is a
    slice of that permutation and its loss the binary cross-entropy of the logits."""

    #: History fields summed over the epoch's rows (added across data-parallel ranks).
    summed_fields = ("loss",)

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        n_items: int,
        n_neg: int,
        batch_size: int,
        seed: int,
        stream: int,
        stage: str,
        device: Any,
    ) -> None:
        import scipy.sparse as sp

        torch = require("torch", "torch")
        pos_keys = np.unique(users * n_items + items)
        users, items = pos_keys // n_items, pos_keys % n_items
        n_pos = users.size
        n_users = int(users.max()) + 1
        self.seen = sp.csr_matrix(
            (np.ones(n_pos, dtype=np.int8), (users, items)), shape=(n_users, n_items)
        )
        self.need = n_neg * np.bincount(users, minlength=n_users)
        neg_users = np.repeat(np.arange(n_users, dtype=np.int64), self.need)
        self.all_users = torch.from_numpy(np.concatenate([users, neg_users])).to(device)
        self.labels = torch.cat([torch.ones(n_pos), torch.zeros(neg_users.size)]).to(device)
        self.items_pos = torch.from_numpy(items)
        self.n = self.all_users.numel()
        self.batch_size, self.seed, self.stream, self.device = batch_size, seed, stream, device
        self.stage = MODEL_TYPES.index(stage)
        self.loss_fn = torch.nn.BCEWithLogitsLoss()
        self.all_items = self.total = None

    def epoch_batches(self, epoch: int) -> Iterator[Any]:
        torch = require("torch", "torch")
        rng = np.random.default_rng([self.seed, self.stream, epoch])
        _, negs = sample_unseen_per_user(self.seen, self.need, rng)
        self.all_items = torch.cat([self.items_pos, torch.from_numpy(negs)]).to(self.device)
        order = torch.from_numpy(rng.permutation(self.n)).to(self.device)
        self.total = torch.zeros((), device=self.device)
        for s in range(0, self.n, self.batch_size):
            yield order[s : s + self.batch_size]

    def loss(self, network: Any, idx: Any) -> Any:
        loss = self.loss_fn(network(self.all_users[idx], self.all_items[idx]), self.labels[idx])
        self.total += loss.detach() * idx.numel()
        return loss

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {"stage": self.stage, "epoch": epoch + 1, "loss": float(self.total) / self.n}


__all__ = ["MODEL_TYPES", "NCF", "NCFConfig"]
