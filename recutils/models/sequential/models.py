"""The next-item models: SASRec (with CL4SRec), BERT4Rec, GRU4Rec, Caser, NextItNet, SSE-PT.

Each is a :class:`~recutils.models.sequential.base.SequentialRecommender` (ordering, losses,
serving, evaluation and the trainer are shared) with its config and network. The
defaults follow the papers' Amazon Beauty settings where they give them (embedding 64,
sequences of 50, dropout 0.2 to 0.5); the benchmark spec
(``recutils/benchmark/specs/beauty.yaml``) records the settings of the committed figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase, KnownAnswer
from recutils.models.factors import check_number, check_positive_int
from recutils.models.sequential.base import (
    ContrastiveConfig,
    SequentialConfig,
    SequentialRecommender,
)
from recutils.utils.deps import require


def cycle_toy_case(params: dict[str, Any], n_items: int = 8, length: int = 3) -> KnownAnswer:
    """A known answer for next-item models: items visited in a fixed cycle.

    User ``u`` (two per start item ``s``) visits ``s, s+1, ..., s+length-1`` (mod
    ``n_items``) in time order; every transition ``j -> j+1`` is in the data, so the item
    after a user's last one is ``s + length`` (top-1 with the history removed).
    """
    starts = np.repeat(np.arange(n_items), 2)
    users = np.repeat(np.arange(starts.size), length)
    steps = np.tile(np.arange(length), starts.size)
    items = (np.repeat(starts, length) + steps) % n_items
    train = pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "rating": 1.0,
            "timestamp": (users * 100 + steps).astype(np.int64),
        }
    )
    checked = [0, 5, 9, 14]
    expected = {int(u): [int((starts[u] + length) % n_items)] for u in checked}
    return KnownAnswer(
        train=train,
        users=checked,
        top_k=1,
        remove_seen=True,
        expected=expected,
        params=dict(params),
    )


_SMALL = {
    "max_len": 4,
    "embedding_dim": 16,
    "n_epochs": 3,
    "batch_size": 8,
    "seed": 0,
    "dropout": 0.0,
}


# ------------------------------------------------------------------------------- SASRec
@dataclass
class SASRecConfig(ContrastiveConfig, SequentialConfig):
    """SASRec's settings: those of :class:`~recutils.models.sequential.base.SequentialConfig`,
    CL4SRec's (:class:`~recutils.models.sequential.base.ContrastiveConfig`; ``cl_weight > 0``
    turns SASRec into CL4SRec), and

    Attributes:
        num_layers: Transformer blocks (2 in the paper).
        num_heads: Attention heads (1 in the paper).
    """

    num_layers: int = 2
    num_heads: int = 1

    def __post_init__(self) -> None:
        SequentialConfig.__post_init__(self)
        self.check_contrastive()
        check_positive_int("num_layers", self.num_layers)
        check_positive_int("num_heads", self.num_heads)
        if self.embedding_dim % self.num_heads:
            raise ConfigError(
                f"embedding_dim {self.embedding_dim} must be a multiple of num_heads "
                f"{self.num_heads}."
            )


class SASRec(SequentialRecommender):
    """SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

    Item + position embeddings, ``num_layers`` causal Transformer blocks, and the hidden
    state of each position scored against the (tied) item embeddings. With
    ``cl_weight > 0`` it is CL4SRec (Xie et al., ICDE 2022): an InfoNCE loss between two
    augmented views (crop / mask / reorder) of every training sequence is added.

    Examples:
        >>> from recutils.models.sequential import SASRec
        >>> model = SASRec(loss="sampled_softmax", n_negatives=256, n_epochs=50)  # doctest: +SKIP
        >>> model.fit(train, valid=valid)                                        # doctest: +SKIP
        >>> model.recommend_next({"new user": [12, 7, 31]}, top_k=10)            # doctest: +SKIP
    """

    name: ClassVar[str] = "sasrec"
    trims_padding: ClassVar[bool] = True
    config_class: ClassVar[type[SASRecConfig]] = SASRecConfig
    config: SASRecConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.sequential.networks import SASRecNetwork

        c = self.config
        return SASRecNetwork(
            self._n_tokens(n_items),
            c.embedding_dim,
            c.max_len,
            c.num_layers,
            c.num_heads,
            c.dropout,
            causal=True,
        )

    @classmethod
    def contract_case(cls) -> ContractCase:
        known = cycle_toy_case({**_SMALL, "n_epochs": 60, "learning_rate": 0.01, "num_layers": 1})
        return ContractCase(params={**_SMALL, "num_layers": 1}, known_answer=known, stochastic=True)


# ----------------------------------------------------------------------------- BERT4Rec
@dataclass
class BERT4RecConfig(SequentialConfig):
    """BERT4Rec's settings: those of :class:`~recutils.models.sequential.base.SequentialConfig`
    (default loss ``ce``: the paper's softmax over all items) and

    Attributes:
        num_layers, num_heads: Transformer blocks and heads (2 and 2 in the paper).
        mask_prob: Share of a sequence's items masked in training (the paper: 0.6 on Beauty).
    """

    num_layers: int = 2
    num_heads: int = 2
    mask_prob: float = 0.6
    loss: str = "ce"
    dropout: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("num_layers", self.num_layers)
        check_positive_int("num_heads", self.num_heads)
        check_number("mask_prob", self.mask_prob, strict=True)
        if self.mask_prob > 1:
            raise ConfigError(f"mask_prob must lie in (0, 1], got {self.mask_prob!r}.")
        if self.embedding_dim % self.num_heads:
            raise ConfigError(
                f"embedding_dim {self.embedding_dim} must be a multiple of num_heads "
                f"{self.num_heads}."
            )


class BERT4Rec(SequentialRecommender):
    """BERT4Rec (Sun et al., CIKM 2019): a bidirectional Transformer trained by the cloze task.

    In training a share ``mask_prob`` of each sequence's latest ``max_len`` items is
    replaced by a mask token (at least one per sequence) and the model predicts them from
    both sides; to recommend, a mask token is appended after the history and its output
    scores the next item.
    """

    name: ClassVar[str] = "bert4rec"
    trims_padding: ClassVar[bool] = True
    config_class: ClassVar[type[BERT4RecConfig]] = BERT4RecConfig
    config: BERT4RecConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.sequential.networks import SASRecNetwork

        c = self.config
        return SASRecNetwork(
            self._n_tokens(n_items),
            c.embedding_dim,
            c.max_len,
            c.num_layers,
            c.num_heads,
            c.dropout,
            causal=False,
            activation="gelu",
            ffn_dim=4 * c.embedding_dim,
        )

    def _training_positions(self, seq: Any, rng: np.random.Generator) -> tuple[Any, Any, Any]:
        torch = require("torch", "torch")
        items = seq[:, 1:]
        real = items != 0
        masked = (torch.rand(items.shape, device=items.device) < self.config.mask_prob) & real
        # every sequence predicts at least one item: its latest, when the draw masked none
        none = ~masked.any(dim=1)
        masked[:, -1] |= none & real[:, -1]
        inputs = torch.where(masked, torch.full_like(items, self._mask_token()), items)
        return inputs, items, masked

    def _scoring_input(self, histories: Any) -> Any:
        torch = require("torch", "torch")
        mask = torch.full_like(histories[:, :1], self._mask_token())
        return torch.cat([histories[:, 1:], mask], dim=1)

    @classmethod
    def contract_case(cls) -> ContractCase:
        # max_len 3 on sequences of 3: inference reads [s+1, s+2, MASK], a pattern the cloze
        # task trains (the latest of three items masked)
        known = cycle_toy_case(
            {
                **_SMALL,
                "n_epochs": 150,
                "learning_rate": 0.01,
                "num_layers": 1,
                "num_heads": 1,
                "mask_prob": 0.5,
                "max_len": 3,
            }
        )
        return ContractCase(
            params={**_SMALL, "num_layers": 1, "num_heads": 1}, known_answer=known, stochastic=True
        )


# ------------------------------------------------------------------------------ GRU4Rec
@dataclass
class GRU4RecConfig(SequentialConfig):
    """GRU4Rec's settings: :class:`~recutils.models.sequential.base.SequentialConfig` and

    Attributes:
        hidden_dim: GRU state width.
        num_layers: Stacked GRU layers.
    """

    hidden_dim: int = 64
    num_layers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("hidden_dim", self.hidden_dim)
        check_positive_int("num_layers", self.num_layers)


class GRU4Rec(SequentialRecommender):
    """GRU4Rec (Hidasi et al., ICLR 2016), trained on whole user sequences with the shared losses."""

    name: ClassVar[str] = "gru4rec"
    config_class: ClassVar[type[GRU4RecConfig]] = GRU4RecConfig
    config: GRU4RecConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.sequential.networks import GRU4RecNetwork

        c = self.config
        return GRU4RecNetwork(
            self._n_tokens(n_items),
            c.embedding_dim,
            c.max_len,
            c.hidden_dim,
            c.num_layers,
            c.dropout,
        )

    @classmethod
    def contract_case(cls) -> ContractCase:
        known = cycle_toy_case({**_SMALL, "n_epochs": 80, "learning_rate": 0.01})
        return ContractCase(params=dict(_SMALL), known_answer=known, stochastic=True)


# -------------------------------------------------------------------------------- Caser
@dataclass
class CaserConfig(SequentialConfig):
    """Caser's settings: :class:`~recutils.models.sequential.base.SequentialConfig` (default
    dropout 0.5 as the paper) and

    Attributes:
        window: Items per convolution image (the paper's ``L``: 5).
        n_h, n_v: Horizontal filters per height (16) and vertical filters (4).
        activation: ``relu`` or ``tanh``.
    """

    window: int = 5
    n_h: int = 16
    n_v: int = 4
    activation: str = "relu"
    dropout: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("window", "n_h", "n_v"):
            check_positive_int(name, getattr(self, name))
        if self.activation not in ("relu", "tanh"):
            raise ConfigError(f"activation must be 'relu' or 'tanh', got {self.activation!r}.")


class Caser(SequentialRecommender):
    """Caser (Tang & Wang, WSDM 2018): convolutional sequence embedding with a user embedding.

    Every position is predicted from the ``window`` items before it (horizontal and
    vertical convolutions) and the user's embedding; users without one (new users given to
    :meth:`recommend_next`) get the mean user embedding.
    """

    name: ClassVar[str] = "caser"
    config_class: ClassVar[type[CaserConfig]] = CaserConfig
    config: CaserConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.sequential.networks import CaserNetwork

        c = self.config
        return CaserNetwork(
            self._n_tokens(n_items),
            n_users,
            c.embedding_dim,
            c.max_len,
            c.window,
            c.n_h,
            c.n_v,
            c.dropout,
            c.activation,
        )

    @classmethod
    def contract_case(cls) -> ContractCase:
        known = cycle_toy_case({**_SMALL, "n_epochs": 80, "learning_rate": 0.01, "window": 2})
        return ContractCase(params={**_SMALL, "window": 2}, known_answer=known, stochastic=True)


# ---------------------------------------------------------------------------- NextItNet
@dataclass
class NextItNetConfig(SequentialConfig):
    """NextItNet's settings: :class:`~recutils.models.sequential.base.SequentialConfig` and

    Attributes:
        dilations: Dilation of each residual block (the paper's ``1, 2, 4, 8``).
        repeat: How many times the dilation stack repeats.
        kernel_size: Convolution width (3).
    """

    dilations: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    repeat: int = 1
    kernel_size: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.dilations, tuple):
            self.dilations = list(self.dilations)
        if not isinstance(self.dilations, list) or not self.dilations:
            raise ConfigError(
                f"dilations must be a non-empty list of positive integers, got {self.dilations!r}."
            )
        for value in self.dilations:
            check_positive_int("dilations", value)
        check_positive_int("repeat", self.repeat)
        check_positive_int("kernel_size", self.kernel_size, minimum=2)


class NextItNet(SequentialRecommender):
    """NextItNet (Yuan et al., WSDM 2019): stacked causal dilated residual convolutions."""

    name: ClassVar[str] = "nextitnet"
    config_class: ClassVar[type[NextItNetConfig]] = NextItNetConfig
    config: NextItNetConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.sequential.networks import NextItNetNetwork

        c = self.config
        return NextItNetNetwork(
            self._n_tokens(n_items),
            c.embedding_dim,
            c.max_len,
            c.dilations,
            c.repeat,
            c.kernel_size,
            c.dropout,
        )

    @classmethod
    def contract_case(cls) -> ContractCase:
        known = cycle_toy_case(
            {**_SMALL, "n_epochs": 60, "learning_rate": 0.01, "dilations": [1, 2]}
        )
        return ContractCase(
            params={**_SMALL, "dilations": [1, 2]}, known_answer=known, stochastic=True
        )


# -------------------------------------------------------------------------------- SSE-PT
@dataclass
class SSEPTConfig(SequentialConfig):
    """SSE-PT's settings: :class:`~recutils.models.sequential.base.SequentialConfig` and

    Attributes:
        user_dim: Width of the user embedding (the paper uses the item width).
        num_layers, num_heads: Transformer blocks and heads.
        sse_user_prob: Probability that a training sequence's user is replaced by a random
            user (stochastic shared embeddings; the paper: 0.92 keep, i.e. 0.08).
        sse_item_prob: Probability that a training input item is replaced by a random item.
    """

    user_dim: int = 64
    num_layers: int = 2
    num_heads: int = 1
    sse_user_prob: float = 0.08
    sse_item_prob: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("user_dim", "num_layers", "num_heads"):
            check_positive_int(name, getattr(self, name))
        for name in ("sse_user_prob", "sse_item_prob"):
            value = getattr(self, name)
            check_number(name, value)
            if value > 1:
                raise ConfigError(f"{name} must lie in [0, 1], got {value!r}.")
        if (self.embedding_dim + self.user_dim) % self.num_heads:
            raise ConfigError("embedding_dim + user_dim must be a multiple of num_heads.")


class SSEPT(SequentialRecommender):
    """SSE-PT (Wu et al., RecSys 2020): SASRec personalised with a user embedding at every
    position, regularised by stochastic shared embeddings (random user and item swaps in
    training). New users get the mean user embedding."""

    name: ClassVar[str] = "ssept"
    trims_padding: ClassVar[bool] = True
    config_class: ClassVar[type[SSEPTConfig]] = SSEPTConfig
    config: SSEPTConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.sequential.networks import SSEPTNetwork

        c = self.config
        return SSEPTNetwork(
            self._n_tokens(n_items),
            n_users,
            c.embedding_dim,
            c.user_dim,
            c.max_len,
            c.num_layers,
            c.num_heads,
            c.dropout,
        )

    def _training_positions(self, seq: Any, rng: np.random.Generator) -> tuple[Any, Any, Any]:
        from recutils.nn.components.sequence import stochastic_shared_embedding

        inputs, targets, where = super()._training_positions(seq, rng)
        inputs = stochastic_shared_embedding(
            inputs, self.config.sse_item_prob, 1, self.n_items_ + 1, keep=inputs == 0
        )
        return inputs, targets, where

    def _train_users(self, users: Any) -> Any:
        from recutils.nn.components.sequence import stochastic_shared_embedding

        return stochastic_shared_embedding(users, self.config.sse_user_prob, 0, self.n_users_)

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            **_SMALL,
            "user_dim": 8,
            "num_layers": 1,
            "sse_user_prob": 0.0,
            "sse_item_prob": 0.0,
        }
        known = cycle_toy_case({**params, "n_epochs": 60, "learning_rate": 0.01})
        return ContractCase(params=params, known_answer=known, stochastic=True)


__all__ = [
    "BERT4Rec",
    "BERT4RecConfig",
    "Caser",
    "CaserConfig",
    "GRU4Rec",
    "GRU4RecConfig",
    "NextItNet",
    "NextItNetConfig",
    "SASRec",
    "SASRecConfig",
    "SSEPT",
    "SSEPTConfig",
    "cycle_toy_case",
]
