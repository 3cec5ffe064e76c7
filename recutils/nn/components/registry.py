"""The component registry: name -> spec (params dataclass + ``"module:Class"``), no torch.

Adding a component is one entry in :data:`_COMPONENTS`. A spec carries the params
dataclass (defaults and strict keys, checked before anything is built), the class as a
lazily imported ``"module:Class"`` string, the constructor argument that receives the
input width (``input_dim_arg``), whether the component takes a list of tensors, and the
name of its EasyRec sub-message (``mlp`` in ``keras_layer { class_name: 'MLP' mlp {...} }``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError
from recutils.limits import (
    MAX_EXPERTS,
    MAX_HEADS,
    MAX_HIDDEN_UNITS,
    MAX_LAYERS,
    MAX_RATIO,
    MAX_SEQUENCE_LENGTH,
    check_all_at_most,
    check_at_most,
)
from recutils.utils.validation import (
    check_bool,
    check_number,
    check_positive_ints,
    check_probability,
    check_type,
    is_int,
    is_number,
)

ACTIVATIONS = (
    "relu",
    "sigmoid",
    "tanh",
    "gelu",
    "leaky_relu",
    "elu",
    "selu",
    "silu",
    "swish",
    "prelu",
    "linear",
    "none",
)


def _positive_ints(owner: str, name: str, values: Any) -> list[int]:
    """Layer widths: positive, each at most ``MAX_HIDDEN_UNITS``, at most ``MAX_LAYERS`` of them."""
    widths = check_positive_ints(name, values, owner=owner)
    check_all_at_most(name, widths, MAX_HIDDEN_UNITS, max_count=MAX_LAYERS, owner=owner)
    return widths


def _activation(owner: str, name: str, value: Any) -> str:
    value = "linear" if value is None else str(value).lower()
    if value not in ACTIVATIONS:
        raise ConfigError(f"{owner}: {name} {value!r} is unknown; allowed: {list(ACTIVATIONS)}.")
    return value


def _flag(owner: str, name: str, value: Any) -> None:
    check_bool(name, value, owner=owner)


@dataclass
class MLPParams(BaseConfig):
    """Parameters of :class:`recutils.nn.components.mlp.MLP` (EasyRec's ``mlp`` message).

    One deliberate difference from EasyRec: ``use_bn`` (batch norm on the hidden layers)
    defaults to False. On MovieLens 100k the requirements' Wide & Deep with batch norm in
    its 256-256-256 tower memorizes the id embeddings within two epochs (test AUC 0.76,
    below logistic regression's 0.774); without it, it reaches the AUC bar. Write
    ``use_bn: true`` to get EasyRec's behaviour.
    """

    hidden_units: list[int] = field(default_factory=list)
    activation: str = "relu"
    dropout_ratio: float | list[float] = 0.0
    use_bn: bool = False
    use_final_bn: bool = True
    final_activation: str = "relu"
    use_bias: bool = True
    use_final_bias: bool = True

    def __post_init__(self) -> None:
        self.hidden_units = _positive_ints("MLP", "hidden_units", self.hidden_units)
        self.activation = _activation("MLP", "activation", self.activation)
        self.final_activation = _activation("MLP", "final_activation", self.final_activation)
        for name in ("use_bn", "use_final_bn", "use_bias", "use_final_bias"):
            _flag("MLP", name, getattr(self, name))
        rates = (
            self.dropout_ratio
            if isinstance(self.dropout_ratio, (list, tuple))
            else [self.dropout_ratio]
        )
        if not all(is_number(r) and 0 <= r < 1 for r in rates):
            raise ConfigError(
                f"MLP: dropout_ratio must be in [0, 1) (or a list of such), got {self.dropout_ratio!r}."
            )
        if isinstance(self.dropout_ratio, (list, tuple)) and len(rates) not in (
            1,
            len(self.hidden_units),
        ):
            raise ConfigError(
                f"MLP: dropout_ratio has {len(rates)} values for {len(self.hidden_units)} layers."
            )


@dataclass
class NoParams(BaseConfig):
    """Components without parameters (``Add``, ``Multiply``)."""


@dataclass
class ConcatParams(BaseConfig):
    """Parameters of ``Concat``."""

    axis: int = -1

    def __post_init__(self) -> None:
        check_type("axis", self.axis, int, "an integer", owner="Concat")


@dataclass
class FMParams(BaseConfig):
    """Parameters of ``FM``: ``reduce_sum`` False returns the ``[B, d]`` interaction vector."""

    reduce_sum: bool = True

    def __post_init__(self) -> None:
        _flag("FM", "reduce_sum", self.reduce_sum)


@dataclass
class FFMParams(BaseConfig):
    """Parameters of ``FFM``: the field of each input (default: each input its own field) and
    ``reduce_sum`` (False returns the ``[B, k]`` interaction vector)."""

    field_ids: list[int] | None = None
    reduce_sum: bool = True

    def __post_init__(self) -> None:
        _flag("FFM", "reduce_sum", self.reduce_sum)
        if self.field_ids is not None:
            if (
                not isinstance(self.field_ids, (list, tuple))
                or not self.field_ids
                or not all(is_int(f) and f >= 0 for f in self.field_ids)
            ):
                raise ConfigError(
                    f"FFM: field_ids must be a non-empty list of integers >= 0 (one per input "
                    f"feature) or null, got {self.field_ids!r}."
                )
            check_at_most("field_ids", max(self.field_ids), MAX_HIDDEN_UNITS, owner="FFM")
            self.field_ids = [int(f) for f in self.field_ids]


def _int_at_least(
    owner: str,
    name: str,
    value: Any,
    minimum: int = 1,
    allow_none: bool = False,
    maximum: int | None = None,
) -> None:
    """An integer >= ``minimum`` (or null with ``allow_none``) and <= the size limit ``maximum``."""
    if value is None and allow_none:
        return
    if not is_int(value) or value < minimum:
        raise ConfigError(
            f"{owner}: {name} must be an integer >= {minimum}"
            f"{' or null' if allow_none else ''}, got {value!r}."
        )
    if maximum is not None:
        check_at_most(name, value, maximum, owner=owner)


def _rate(owner: str, name: str, value: Any) -> None:
    check_probability(name, value, open_right=True, owner=owner)


def _number(
    owner: str, name: str, value: Any, positive: bool = False, maximum: float | None = None
) -> None:
    check_number(name, value, minimum=0.0 if positive else -math.inf, strict=positive, owner=owner)
    if maximum is not None:
        check_at_most(name, value, maximum, owner=owner)


@dataclass
class FirstOrderParams(BaseConfig):
    """Parameters of ``FirstOrder``: the wide outputs' width and whether to add a bias."""

    output_dim: int = 1
    use_bias: bool = True

    def __post_init__(self) -> None:
        _int_at_least("FirstOrder", "output_dim", self.output_dim, maximum=MAX_HIDDEN_UNITS)
        _flag("FirstOrder", "use_bias", self.use_bias)


@dataclass
class CrossParams(BaseConfig):
    """Parameters of ``Cross`` (DCN)."""

    num_layers: int = 3

    def __post_init__(self) -> None:
        _int_at_least("Cross", "num_layers", self.num_layers, maximum=MAX_LAYERS)


@dataclass
class CrossV2Params(BaseConfig):
    """Parameters of ``CrossV2`` (DCN-v2): full rank when ``low_rank`` is null."""

    num_layers: int = 3
    low_rank: int | None = None
    num_experts: int = 1
    activation: str = "linear"

    def __post_init__(self) -> None:
        _int_at_least("CrossV2", "num_layers", self.num_layers, maximum=MAX_LAYERS)
        _int_at_least(
            "CrossV2", "low_rank", self.low_rank, allow_none=True, maximum=MAX_HIDDEN_UNITS
        )
        _int_at_least("CrossV2", "num_experts", self.num_experts, maximum=MAX_EXPERTS)
        if self.num_experts > 1 and self.low_rank is None:
            raise ConfigError(
                "CrossV2: num_experts > 1 needs low_rank (a mixture of low-rank experts)."
            )
        self.activation = _activation("CrossV2", "activation", self.activation)


@dataclass
class CINParams(BaseConfig):
    """Parameters of ``CIN`` (xDeepFM)."""

    layer_sizes: list[int] = field(default_factory=lambda: [64, 64])
    split_half: bool = True
    activation: str = "linear"

    def __post_init__(self) -> None:
        self.layer_sizes = _positive_ints("CIN", "layer_sizes", self.layer_sizes)
        _flag("CIN", "split_half", self.split_half)
        if self.split_half and any(s % 2 for s in self.layer_sizes[:-1]):
            raise ConfigError(
                f"CIN: split_half needs even layer_sizes before the last, got {self.layer_sizes}."
            )
        self.activation = _activation("CIN", "activation", self.activation)


@dataclass
class MultiHeadSelfAttentionParams(BaseConfig):
    """Parameters of ``MultiHeadSelfAttention`` (AutoInt's interacting layers)."""

    head_num: int = 2
    head_dim: int = 16
    num_layers: int = 2
    use_residual: bool = True
    scale: bool = True
    flatten: bool = True

    def __post_init__(self) -> None:
        for name, maximum in (
            ("head_num", MAX_HEADS),
            ("head_dim", MAX_HIDDEN_UNITS),
            ("num_layers", MAX_LAYERS),
        ):
            _int_at_least("MultiHeadSelfAttention", name, getattr(self, name), maximum=maximum)
        for name in ("use_residual", "scale", "flatten"):
            _flag("MultiHeadSelfAttention", name, getattr(self, name))


@dataclass
class SENetParams(BaseConfig):
    """Parameters of ``SENet`` (FiBiNet's squeeze-excitation)."""

    reduction_ratio: int = 3

    def __post_init__(self) -> None:
        _int_at_least("SENet", "reduction_ratio", self.reduction_ratio)


@dataclass
class BilinearParams(BaseConfig):
    """Parameters of ``Bilinear``: ``field_all``, ``field_each`` or ``field_interaction``."""

    bilinear_type: str = "field_interaction"

    def __post_init__(self) -> None:
        allowed = ("field_all", "field_each", "field_interaction")
        if self.bilinear_type not in allowed:
            raise ConfigError(
                f"Bilinear: bilinear_type {self.bilinear_type!r}; allowed: {list(allowed)}."
            )


@dataclass
class MaskBlockParams(BaseConfig):
    """Parameters of ``MaskBlock``."""

    output_dim: int = 64
    aggregation_ratio: float = 2.0
    layer_norm_input: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _int_at_least("MaskBlock", "output_dim", self.output_dim, maximum=MAX_HIDDEN_UNITS)
        _number(
            "MaskBlock",
            "aggregation_ratio",
            self.aggregation_ratio,
            positive=True,
            maximum=MAX_RATIO,
        )
        _flag("MaskBlock", "layer_norm_input", self.layer_norm_input)
        _rate("MaskBlock", "dropout", self.dropout)


@dataclass
class MaskNetParams(BaseConfig):
    """Parameters of ``MaskNet``: ``serial`` or ``parallel`` mask blocks."""

    num_blocks: int = 3
    block_dim: int = 64
    mode: str = "serial"
    aggregation_ratio: float = 2.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _int_at_least("MaskNet", "num_blocks", self.num_blocks, maximum=MAX_LAYERS)
        _int_at_least("MaskNet", "block_dim", self.block_dim, maximum=MAX_HIDDEN_UNITS)
        if self.mode not in ("serial", "parallel"):
            raise ConfigError(f"MaskNet: mode {self.mode!r}; allowed: ['serial', 'parallel'].")
        _number(
            "MaskNet", "aggregation_ratio", self.aggregation_ratio, positive=True, maximum=MAX_RATIO
        )
        _rate("MaskNet", "dropout", self.dropout)


@dataclass
class DotInteractionParams(BaseConfig):
    """Parameters of ``DotInteraction`` (DLRM)."""

    self_interaction: bool = False
    concat_first: bool = True

    def __post_init__(self) -> None:
        _flag("DotInteraction", "self_interaction", self.self_interaction)
        _flag("DotInteraction", "concat_first", self.concat_first)


@dataclass
class HighwayParams(BaseConfig):
    """Parameters of ``Highway``."""

    num_layers: int = 2
    activation: str = "relu"
    carry_bias: float = -1.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _int_at_least("Highway", "num_layers", self.num_layers, maximum=MAX_LAYERS)
        self.activation = _activation("Highway", "activation", self.activation)
        _number("Highway", "carry_bias", self.carry_bias)
        _rate("Highway", "dropout", self.dropout)


@dataclass
class PPNetParams(BaseConfig):
    """Parameters of ``PPNet`` (gated MLP personalized by its second input)."""

    hidden_units: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    gate_hidden_dim: int = 64
    dropout_ratio: float = 0.0
    detach_general: bool = True

    def __post_init__(self) -> None:
        self.hidden_units = _positive_ints("PPNet", "hidden_units", self.hidden_units)
        self.activation = _activation("PPNet", "activation", self.activation)
        _int_at_least("PPNet", "gate_hidden_dim", self.gate_hidden_dim, maximum=MAX_HIDDEN_UNITS)
        _rate("PPNet", "dropout_ratio", self.dropout_ratio)
        _flag("PPNet", "detach_general", self.detach_general)


@dataclass
class MultiInterestCapsuleParams(BaseConfig):
    """Parameters of ``MultiInterestCapsule`` (MIND's multi-interest extractor): ``num_interests``
    (K, at least 1), the capsules' width (null: the history's), ``routing_iters``, ``adaptive``
    (K_u = max(1, min(K, log2(n))) for a history of n behaviours), ``max_len`` (the longest
    history), the per-interest MLP (``hidden_units``, empty: none; ``activation``) and the
    ``seed`` / ``init_std`` of the fixed routing logits."""

    num_interests: int = 4
    interest_dim: int | None = None
    routing_iters: int = 3
    adaptive: bool = True
    max_len: int = 50
    hidden_units: list[int] = field(default_factory=list)
    activation: str = "relu"
    seed: int = 0
    init_std: float = 1.0

    def __post_init__(self) -> None:
        owner = "MultiInterestCapsule"
        _int_at_least(owner, "num_interests", self.num_interests, maximum=MAX_EXPERTS)
        _int_at_least(
            owner, "interest_dim", self.interest_dim, allow_none=True, maximum=MAX_HIDDEN_UNITS
        )
        _int_at_least(owner, "routing_iters", self.routing_iters, maximum=MAX_LAYERS)
        _flag(owner, "adaptive", self.adaptive)
        _int_at_least(owner, "max_len", self.max_len, maximum=MAX_SEQUENCE_LENGTH)
        self.hidden_units = (
            _positive_ints(owner, "hidden_units", self.hidden_units) if self.hidden_units else []
        )
        self.activation = _activation(owner, "activation", self.activation)
        _int_at_least(owner, "seed", self.seed, minimum=0)
        _number(owner, "init_std", self.init_std, positive=True)


@dataclass
class SequencePoolingParams(BaseConfig):
    """Parameters of ``SequencePooling`` (a SEQUENCE group pooled over its real positions)."""

    mode: str = "mean"
    concat_query: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("mean", "sum", "max", "last"):
            raise ConfigError(
                f"SequencePooling: mode must be mean, sum, max or last, got {self.mode!r}."
            )
        _flag("SequencePooling", "concat_query", self.concat_query)


@dataclass
class TransformerEncoderParams(BaseConfig):
    """Parameters of ``TransformerEncoder`` (SASRec's causal and BERT4Rec's bidirectional blocks)."""

    num_layers: int = 2
    num_heads: int = 1
    ffn_dim: int | None = None
    dropout: float = 0.2
    causal: bool = True
    activation: str = "relu"

    def __post_init__(self) -> None:
        _int_at_least("TransformerEncoder", "num_layers", self.num_layers, maximum=MAX_LAYERS)
        _int_at_least("TransformerEncoder", "num_heads", self.num_heads, maximum=MAX_HEADS)
        _int_at_least(
            "TransformerEncoder", "ffn_dim", self.ffn_dim, allow_none=True, maximum=MAX_HIDDEN_UNITS
        )
        _rate("TransformerEncoder", "dropout", self.dropout)
        _flag("TransformerEncoder", "causal", self.causal)
        if self.activation not in ("relu", "gelu"):
            raise ConfigError(
                f"TransformerEncoder: activation must be 'relu' or 'gelu', got {self.activation!r}."
            )


@dataclass
class GRUEncoderParams(BaseConfig):
    """Parameters of ``GRUEncoder`` (GRU4Rec)."""

    hidden_dim: int = 64
    num_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _int_at_least("GRUEncoder", "hidden_dim", self.hidden_dim, maximum=MAX_HIDDEN_UNITS)
        _int_at_least("GRUEncoder", "num_layers", self.num_layers, maximum=MAX_LAYERS)
        _rate("GRUEncoder", "dropout", self.dropout)


@dataclass
class CaserConvParams(BaseConfig):
    """Parameters of ``CaserConv`` (window ``L``, horizontal / vertical filters)."""

    window: int = 5
    n_h: int = 16
    n_v: int = 4
    output_dim: int | None = None
    dropout: float = 0.5
    activation: str = "relu"

    def __post_init__(self) -> None:
        _int_at_least("CaserConv", "window", self.window, maximum=MAX_LAYERS)
        _int_at_least("CaserConv", "n_h", self.n_h, maximum=MAX_HIDDEN_UNITS)
        _int_at_least("CaserConv", "n_v", self.n_v, maximum=MAX_HIDDEN_UNITS)
        _int_at_least(
            "CaserConv", "output_dim", self.output_dim, allow_none=True, maximum=MAX_HIDDEN_UNITS
        )
        _rate("CaserConv", "dropout", self.dropout)
        if self.activation not in ("relu", "tanh"):
            raise ConfigError(
                f"CaserConv: activation must be 'relu' or 'tanh', got {self.activation!r}."
            )


@dataclass
class NextItNetEncoderParams(BaseConfig):
    """Parameters of ``NextItNetEncoder`` (dilations of the residual blocks, repeated)."""

    dilations: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    repeat: int = 1
    kernel_size: int = 3

    def __post_init__(self) -> None:
        self.dilations = check_positive_ints("dilations", self.dilations, owner="NextItNetEncoder")
        check_all_at_most(
            "dilations", self.dilations, 1024, max_count=MAX_LAYERS, owner="NextItNetEncoder"
        )
        _int_at_least("NextItNetEncoder", "repeat", self.repeat, maximum=MAX_LAYERS)
        _int_at_least("NextItNetEncoder", "kernel_size", self.kernel_size, minimum=2, maximum=64)


def _choice(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` (a string, case-insensitive) if it is one of ``allowed``, lower-cased."""
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ConfigError(f"{owner}: {name} {value!r} is unknown; allowed: {list(allowed)}.")
    return value.lower()


@dataclass
class TargetAttentionParams(BaseConfig):
    """Parameters of ``TargetAttention`` (DIN's activation unit): its hidden widths and
    activation (``dice``, ``sigmoid`` or ``relu``), ``normalization`` of the weights
    (``none``: the paper's weighted sum, or ``softmax``) and ``concat_query``."""

    hidden_units: list[int] = field(default_factory=lambda: [80, 40])
    activation: str = "dice"
    normalization: str = "none"
    concat_query: bool = False

    def __post_init__(self) -> None:
        self.hidden_units = _positive_ints("TargetAttention", "hidden_units", self.hidden_units)
        self.activation = _choice(
            "TargetAttention", "activation", self.activation, ("dice", "sigmoid", "relu")
        )
        self.normalization = _choice(
            "TargetAttention", "normalization", self.normalization, ("none", "softmax")
        )
        _flag("TargetAttention", "concat_query", self.concat_query)


@dataclass
class InterestEvolutionParams(BaseConfig):
    """Parameters of ``InterestEvolution`` (DIEN): the interest states' width (null: the
    history's), ``concat_query`` and the weight of the auxiliary loss in the training loss
    (the paper's alpha; 0 turns it off)."""

    hidden_dim: int | None = None
    concat_query: bool = False
    auxiliary_loss_weight: float = 1.0

    def __post_init__(self) -> None:
        _int_at_least(
            "InterestEvolution",
            "hidden_dim",
            self.hidden_dim,
            allow_none=True,
            maximum=MAX_HIDDEN_UNITS,
        )
        _flag("InterestEvolution", "concat_query", self.concat_query)
        check_number(
            "auxiliary_loss_weight",
            self.auxiliary_loss_weight,
            minimum=0.0,
            owner="InterestEvolution",
        )


@dataclass
class BSTBlockParams(BaseConfig):
    """Parameters of ``BSTBlock`` (BST): the longest history ``max_len`` and the Transformer layers."""

    max_len: int = 50
    num_layers: int = 1
    num_heads: int = 1
    ffn_dim: int | None = None
    dropout: float = 0.1
    activation: str = "relu"

    def __post_init__(self) -> None:
        _int_at_least("BSTBlock", "max_len", self.max_len, maximum=MAX_SEQUENCE_LENGTH)
        _int_at_least("BSTBlock", "num_layers", self.num_layers, maximum=MAX_LAYERS)
        _int_at_least("BSTBlock", "num_heads", self.num_heads, maximum=MAX_HEADS)
        _int_at_least(
            "BSTBlock", "ffn_dim", self.ffn_dim, allow_none=True, maximum=MAX_HIDDEN_UNITS
        )
        _rate("BSTBlock", "dropout", self.dropout)
        self.activation = _choice("BSTBlock", "activation", self.activation, ("relu", "gelu"))


@dataclass
class HistoryGRUParams(BaseConfig):
    """Parameters of ``HistoryGRU``: the state width (null: the history's) and whether the
    target's features are appended to the state."""

    hidden_dim: int | None = None
    concat_query: bool = False

    def __post_init__(self) -> None:
        _int_at_least(
            "HistoryGRU", "hidden_dim", self.hidden_dim, allow_none=True, maximum=MAX_HIDDEN_UNITS
        )
        _flag("HistoryGRU", "concat_query", self.concat_query)


@dataclass
class TimeAwareLSTMParams(BaseConfig):
    """Parameters of ``TimeAwareLSTM`` (SLi-Rec's time4LSTM): the state width (null: the history's)."""

    hidden_dim: int | None = None

    def __post_init__(self) -> None:
        _int_at_least(
            "TimeAwareLSTM",
            "hidden_dim",
            self.hidden_dim,
            allow_none=True,
            maximum=MAX_HIDDEN_UNITS,
        )


@dataclass
class AttentiveAsyncSVDParams(BaseConfig):
    """Parameters of ``AttentiveAsyncSVD`` (A2SVD): the attention score MLP."""

    hidden_units: list[int] = field(default_factory=lambda: [32])
    activation: str = "tanh"

    def __post_init__(self) -> None:
        self.hidden_units = _positive_ints("AttentiveAsyncSVD", "hidden_units", self.hidden_units)
        self.activation = _activation("AttentiveAsyncSVD", "activation", self.activation)


@dataclass
class SLiRecParams(BaseConfig):
    """Parameters of ``SLiRec``: the score MLP of its two attentions."""

    hidden_units: list[int] = field(default_factory=lambda: [32])
    activation: str = "tanh"

    def __post_init__(self) -> None:
        self.hidden_units = _positive_ints("SLiRec", "hidden_units", self.hidden_units)
        self.activation = _activation("SLiRec", "activation", self.activation)


@dataclass
class UserMemoryParams(BaseConfig):
    """Parameters of ``UserMemory`` (SUM): the number of memory channels."""

    n_channels: int = 4

    def __post_init__(self) -> None:
        _int_at_least("UserMemory", "n_channels", self.n_channels, maximum=MAX_EXPERTS)


#: Most tasks a multi-task component (MMoE, CGC, PLE) serves.
MAX_TASKS = 64


def _mlp_params(owner: str, name: str, value: Any) -> dict[str, Any]:
    """A nested MLP config (``expert_mlp``, ``gate_mlp``), validated as :class:`MLPParams`, as a plain dict."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{owner}: {name} must be a mapping of MLP parameters (e.g. {{hidden_units: [64]}}), "
            f"got {value!r}."
        )
    try:
        return MLPParams.from_dict(dict(value)).to_dict()
    except ConfigError as err:
        raise ConfigError(f"{owner}: {name}: {err}") from None


@dataclass
class MMoEParams(BaseConfig):
    """Parameters of ``MMoE``: tasks, shared experts, each expert's MLP and an optional MLP
    inside each gate (null: the paper's ``softmax(Linear(x))``)."""

    num_task: int = 2
    num_expert: int = 4
    expert_mlp: dict[str, Any] = field(default_factory=lambda: {"hidden_units": [64]})
    gate_mlp: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _int_at_least("MMoE", "num_task", self.num_task, maximum=MAX_TASKS)
        _int_at_least("MMoE", "num_expert", self.num_expert, maximum=MAX_EXPERTS)
        self.expert_mlp = _mlp_params("MMoE", "expert_mlp", self.expert_mlp)
        if self.gate_mlp is not None:
            self.gate_mlp = _mlp_params("MMoE", "gate_mlp", self.gate_mlp)


def _check_extraction(owner: str, params: CGCParams) -> None:
    """The checks ``CGC`` and ``PLE`` share: tasks, expert counts (some experts), expert MLP."""
    _int_at_least(owner, "num_task", params.num_task, maximum=MAX_TASKS)
    for name in ("num_expert_share", "num_expert_per_task"):
        _int_at_least(owner, name, getattr(params, name), minimum=0, maximum=MAX_EXPERTS)
    if params.num_expert_share == 0 and params.num_expert_per_task == 0:
        raise ConfigError(
            f"{owner}: num_expert_share and num_expert_per_task are both 0; give the tasks "
            "experts of their own, shared experts, or both."
        )
    check_at_most(
        "experts per level (num_task * num_expert_per_task + num_expert_share)",
        params.num_task * params.num_expert_per_task + params.num_expert_share,
        MAX_EXPERTS,
        owner=owner,
    )
    params.expert_mlp = _mlp_params(owner, "expert_mlp", params.expert_mlp)


@dataclass
class CGCParams(BaseConfig):
    """Parameters of ``CGC`` (one PLE extraction layer): tasks, shared experts, experts of
    each task and each expert's MLP."""

    num_task: int = 2
    num_expert_share: int = 2
    num_expert_per_task: int = 2
    expert_mlp: dict[str, Any] = field(default_factory=lambda: {"hidden_units": [64]})

    def __post_init__(self) -> None:
        _check_extraction("CGC", self)


@dataclass
class PLEParams(CGCParams):
    """Parameters of ``PLE``: those of ``CGC`` plus the number of stacked levels."""

    num_level: int = 2

    def __post_init__(self) -> None:
        _check_extraction("PLE", self)
        _int_at_least("PLE", "num_level", self.num_level, maximum=MAX_LAYERS)


@dataclass(frozen=True)
class ComponentSpec:
    """How the backbone builds a component.

    ``input_dim_arg`` receives the width of a ``[B, d]`` input; ``input_dims_arg``
    (list-taking components) receives the list of the inputs' field widths (a
    ``[B, d]`` tensor is one field, a ``[B, n, d]`` tensor ``n`` fields).
    ``sequence_input`` components read a ``SEQUENCE`` group's
    :class:`~recutils.nn.components.sequence_input.SequenceFeatures`; ``query_dim_arg``
    and ``time_input_arg`` receive its query width (0 without a query) and whether it has
    times, where the component takes them.
    """

    name: str
    target: str
    params: type[BaseConfig]
    input_dim_arg: str | None = None
    list_input: bool = False
    easyrec_field: str | None = None
    input_dims_arg: str | None = None
    sequence_input: bool = False
    query_dim_arg: str | None = None
    time_input_arg: str | None = None


_PKG = "recutils.nn.components"

#: name -> spec. Keep it sorted.
_COMPONENTS: dict[str, ComponentSpec] = {
    "AITMTransfer": ComponentSpec(
        "AITMTransfer",
        f"{_PKG}.multitask:AITMTransfer",
        NoParams,
        list_input=True,
        input_dims_arg="input_dims",
    ),
    "Add": ComponentSpec("Add", f"{_PKG}.merge:Add", NoParams, list_input=True),
    "AttentiveAsyncSVD": ComponentSpec(
        "AttentiveAsyncSVD",
        f"{_PKG}.behaviour:AttentiveAsyncSVD",
        AttentiveAsyncSVDParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
    "BSTBlock": ComponentSpec(
        "BSTBlock",
        f"{_PKG}.behaviour:BSTBlock",
        BSTBlockParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
    "Bilinear": ComponentSpec(
        "Bilinear",
        f"{_PKG}.fibinet:Bilinear",
        BilinearParams,
        list_input=True,
        input_dims_arg="input_dims",
    ),
    "CGC": ComponentSpec("CGC", f"{_PKG}.multitask:CGC", CGCParams, input_dim_arg="input_dim"),
    "CIN": ComponentSpec(
        "CIN", f"{_PKG}.cin:CIN", CINParams, list_input=True, input_dims_arg="input_dims"
    ),
    "CaserConv": ComponentSpec(
        "CaserConv", f"{_PKG}.sequence:CaserConv", CaserConvParams, input_dim_arg="input_dim"
    ),
    "Concat": ComponentSpec("Concat", f"{_PKG}.merge:Concat", ConcatParams, list_input=True),
    "Cross": ComponentSpec("Cross", f"{_PKG}.cross:Cross", CrossParams, input_dim_arg="input_dim"),
    "CrossV2": ComponentSpec(
        "CrossV2", f"{_PKG}.cross:CrossV2", CrossV2Params, input_dim_arg="input_dim"
    ),
    "DotInteraction": ComponentSpec(
        "DotInteraction",
        f"{_PKG}.dlrm:DotInteraction",
        DotInteractionParams,
        list_input=True,
        input_dims_arg="input_dims",
    ),
    "FFM": ComponentSpec(
        "FFM", f"{_PKG}.ffm:FFM", FFMParams, list_input=True, input_dims_arg="input_dims"
    ),
    "FM": ComponentSpec("FM", f"{_PKG}.fm:FM", FMParams, list_input=True, easyrec_field="fm"),
    "FirstOrder": ComponentSpec(
        "FirstOrder", f"{_PKG}.linear:FirstOrder", FirstOrderParams, list_input=True
    ),
    "GRUEncoder": ComponentSpec(
        "GRUEncoder", f"{_PKG}.sequence:GRUEncoder", GRUEncoderParams, input_dim_arg="input_dim"
    ),
    "Gate": ComponentSpec(
        "Gate", f"{_PKG}.multitask:Gate", NoParams, list_input=True, input_dims_arg="input_dims"
    ),
    "Highway": ComponentSpec(
        "Highway", f"{_PKG}.highway:Highway", HighwayParams, input_dim_arg="input_dim"
    ),
    "HistoryGRU": ComponentSpec(
        "HistoryGRU",
        f"{_PKG}.behaviour:HistoryGRU",
        HistoryGRUParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
    "InterestEvolution": ComponentSpec(
        "InterestEvolution",
        f"{_PKG}.behaviour:InterestEvolution",
        InterestEvolutionParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
    "MLP": ComponentSpec(
        "MLP", f"{_PKG}.mlp:MLP", MLPParams, input_dim_arg="in_features", easyrec_field="mlp"
    ),
    "MMoE": ComponentSpec("MMoE", f"{_PKG}.multitask:MMoE", MMoEParams, input_dim_arg="input_dim"),
    "MaskBlock": ComponentSpec(
        "MaskBlock",
        f"{_PKG}.masknet:MaskBlock",
        MaskBlockParams,
        list_input=True,
        input_dims_arg="input_dims",
    ),
    "MaskNet": ComponentSpec(
        "MaskNet", f"{_PKG}.masknet:MaskNet", MaskNetParams, input_dim_arg="input_dim"
    ),
    "MultiHeadSelfAttention": ComponentSpec(
        "MultiHeadSelfAttention",
        f"{_PKG}.attention:MultiHeadSelfAttention",
        MultiHeadSelfAttentionParams,
        list_input=True,
        input_dims_arg="input_dims",
    ),
    "MultiInterestCapsule": ComponentSpec(
        "MultiInterestCapsule",
        f"{_PKG}.capsule:MultiInterestCapsule",
        MultiInterestCapsuleParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
    "Multiply": ComponentSpec("Multiply", f"{_PKG}.merge:Multiply", NoParams, list_input=True),
    "NextItNetEncoder": ComponentSpec(
        "NextItNetEncoder",
        f"{_PKG}.sequence:NextItNetEncoder",
        NextItNetEncoderParams,
        input_dim_arg="input_dim",
    ),
    "PLE": ComponentSpec("PLE", f"{_PKG}.multitask:PLE", PLEParams, input_dim_arg="input_dim"),
    "PPNet": ComponentSpec(
        "PPNet", f"{_PKG}.ppnet:PPNet", PPNetParams, list_input=True, input_dims_arg="input_dims"
    ),
    "SENet": ComponentSpec(
        "SENet", f"{_PKG}.fibinet:SENet", SENetParams, list_input=True, input_dims_arg="input_dims"
    ),
    "SLiRec": ComponentSpec(
        "SLiRec",
        f"{_PKG}.behaviour:SLiRec",
        SLiRecParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
        time_input_arg="time_input",
    ),
    "SequencePooling": ComponentSpec(
        "SequencePooling",
        f"{_PKG}.sequence_input:SequencePooling",
        SequencePoolingParams,
        input_dim_arg="input_dim",
        sequence_input=True,
        query_dim_arg="query_dim",
    ),
    "TargetAttention": ComponentSpec(
        "TargetAttention",
        f"{_PKG}.behaviour:TargetAttention",
        TargetAttentionParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
    "TimeAwareLSTM": ComponentSpec(
        "TimeAwareLSTM",
        f"{_PKG}.behaviour:TimeAwareLSTM",
        TimeAwareLSTMParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        time_input_arg="time_input",
    ),
    "TransformerEncoder": ComponentSpec(
        "TransformerEncoder",
        f"{_PKG}.sequence:TransformerEncoder",
        TransformerEncoderParams,
        input_dim_arg="input_dim",
    ),
    "UserMemory": ComponentSpec(
        "UserMemory",
        f"{_PKG}.behaviour:UserMemory",
        UserMemoryParams,
        sequence_input=True,
        input_dim_arg="input_dim",
        query_dim_arg="query_dim",
    ),
}


def list_components() -> list[str]:
    """Names of the registered components, sorted."""
    return sorted(_COMPONENTS)


def get_component_spec(name: str) -> ComponentSpec:
    """The spec of component ``name``; unknown names list the known ones."""
    if not isinstance(name, str) or name not in _COMPONENTS:
        raise ConfigError(
            f"unknown component class_name {name!r}; known components: {list_components()}."
        )
    return _COMPONENTS[name]


def register_component(spec: ComponentSpec, *, overwrite: bool = False) -> None:
    """Add a component (for extensions outside recutils)."""
    if spec.name in _COMPONENTS and not overwrite:
        raise ConfigError(f"component {spec.name!r} is already registered; pass overwrite=True.")
    _COMPONENTS[spec.name] = spec


def check_layer_params(name: str, params: Mapping[str, Any]) -> BaseConfig:
    """Validated params of component ``name`` (unknown keys raise :class:`ConfigError`)."""
    spec = get_component_spec(name)
    try:
        return spec.params.from_dict(dict(params))
    except ConfigError as err:
        raise ConfigError(f"component {name!r}: {err}") from None


def component_class(name: str) -> type:
    """The component's class (imports torch)."""
    module, cls = get_component_spec(name).target.split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = [
    "ComponentSpec",
    "check_layer_params",
    "component_class",
    "get_component_spec",
    "list_components",
    "register_component",
]
