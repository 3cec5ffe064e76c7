"""The news models: NRMS, NAML, LSTUR and NPA (see :mod:`recutils.models.news.base`).

Defaults follow Microsoft Recommenders' MIND configurations (``nrms.yaml``, ``naml.yaml``,
``lstur.yaml``, ``npa.yaml``): titles of 30 words, histories of 50 news, 300-d words,
attention hidden width 200, dropout 0.2, K = 4 negatives, Adam at 1e-4; NRMS 20 heads of
20, the CNN models 400 filters of window 3, LSTUR a 400-unit GRU, NPA 100-d user
embeddings, NAML 100-d category embeddings, 50 abstract words, batches of 64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from recutils.exceptions import ConfigError
from recutils.models.news.base import NewsConfig, NewsRecommender
from recutils.utils.validation import check_positive_int


def _word_init(matrix: Any) -> Any:
    if matrix is None:
        return None
    import torch

    return torch.from_numpy(matrix)


@dataclass
class NRMSConfig(NewsConfig):
    """NRMS: ``head_num`` self-attention heads of ``head_dim`` (news vectors of their product)."""

    head_num: int = 20
    head_dim: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("head_num", "head_dim"):
            check_positive_int(name, getattr(self, name), owner="NRMSConfig")


class NRMS(NewsRecommender):
    """NRMS (Wu et al., "Neural News Recommendation with Multi-Head Self-Attention", EMNLP 2019)."""

    name: ClassVar[str] = "nrms"
    config_class: ClassVar[type[NRMSConfig]] = NRMSConfig

    def _network(self, word_init: Any) -> Any:
        from recutils.models.news.networks import NRMSNetwork

        c = self.config
        return NRMSNetwork(
            self.n_words_,
            c.word_emb_dim,
            c.title_size,
            c.head_num,
            c.head_dim,
            c.attention_hidden_dim,
            c.dropout,
            _word_init(word_init),
        )

    _contract_params: ClassVar[dict[str, Any]] = dict(head_num=2, head_dim=3)


@dataclass
class CNNNewsConfig(NewsConfig):
    """The CNN title encoder's ``filter_num`` filters of ``window_size`` words (odd)."""

    filter_num: int = 400
    window_size: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("filter_num", self.filter_num, owner=type(self).__name__)
        check_positive_int("window_size", self.window_size, owner=type(self).__name__)
        if self.window_size % 2 == 0:
            raise ConfigError(
                f"window_size must be odd (same-length convolution), got {self.window_size}."
            )


@dataclass
class NAMLConfig(CNNNewsConfig):
    """NAML: abstract words (``body_size``) and category / subcategory embeddings."""

    body_size: int = 50
    category_dim: int = 100
    batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("category_dim", self.category_dim, owner="NAMLConfig")


class NAML(NewsRecommender):
    """NAML (Wu et al., "Neural News Recommendation with Attentive Multi-View Learning", IJCAI 2019)."""

    name: ClassVar[str] = "naml"
    config_class: ClassVar[type[NAMLConfig]] = NAMLConfig

    def _network(self, word_init: Any) -> Any:
        from recutils.models.news.networks import NAMLNetwork

        c = self.config
        return NAMLNetwork(
            self.n_words_,
            c.word_emb_dim,
            c.title_size,
            c.body_size,
            self.n_categories_,
            self.n_subcategories_,
            c.category_dim,
            c.filter_num,
            c.window_size,
            c.attention_hidden_dim,
            c.dropout,
            _word_init(word_init),
        )

    _contract_params: ClassVar[dict[str, Any]] = dict(body_size=4, category_dim=3, filter_num=6)


@dataclass
class LSTURConfig(CNNNewsConfig):
    """LSTUR: a ``gru_unit`` GRU; ``long_short`` ``ini`` (user embedding as the GRU's initial
    state) or ``con`` (concatenated with its last state)."""

    gru_unit: int = 400
    long_short: str = "ini"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("gru_unit", self.gru_unit, owner="LSTURConfig")
        if self.long_short not in ("ini", "con"):
            raise ConfigError(f"long_short must be 'ini' or 'con', got {self.long_short!r}.")


class LSTUR(NewsRecommender):
    """LSTUR (An et al., "Neural News Recommendation with Long- and Short-term User
    Representations", ACL 2019)."""

    name: ClassVar[str] = "lstur"
    config_class: ClassVar[type[LSTURConfig]] = LSTURConfig

    def _network(self, word_init: Any) -> Any:
        from recutils.models.news.networks import LSTURNetwork

        c = self.config
        return LSTURNetwork(
            self.n_words_,
            c.word_emb_dim,
            c.title_size,
            len(self.user_ids_) + 1,
            self.n_categories_,
            self.n_subcategories_,
            c.filter_num,
            c.window_size,
            c.gru_unit,
            c.long_short,
            c.attention_hidden_dim,
            c.dropout,
            _word_init(word_init),
        )

    _contract_params: ClassVar[dict[str, Any]] = dict(filter_num=6, gru_unit=5)


@dataclass
class NPAConfig(CNNNewsConfig):
    """NPA: ``user_emb_dim``-wide user embeddings that query both attentions."""

    user_emb_dim: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("user_emb_dim", self.user_emb_dim, owner="NPAConfig")


class NPA(NewsRecommender):
    """NPA (Wu et al., "NPA: Neural News Recommendation with Personalized Attention", KDD 2019)."""

    name: ClassVar[str] = "npa"
    config_class: ClassVar[type[NPAConfig]] = NPAConfig

    def _network(self, word_init: Any) -> Any:
        from recutils.models.news.networks import NPANetwork

        c = self.config
        return NPANetwork(
            self.n_words_,
            c.word_emb_dim,
            c.title_size,
            len(self.user_ids_) + 1,
            c.user_emb_dim,
            c.filter_num,
            c.window_size,
            c.attention_hidden_dim,
            c.dropout,
            _word_init(word_init),
        )

    _contract_params: ClassVar[dict[str, Any]] = dict(filter_num=6, user_emb_dim=3)


__all__ = [
    "LSTUR",
    "LSTURConfig",
    "NAML",
    "NAMLConfig",
    "NPA",
    "NPAConfig",
    "NRMS",
    "NRMSConfig",
    "CNNNewsConfig",
]
