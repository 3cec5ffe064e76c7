"""From a validated :class:`~recutils.nn.config.ModelConfig` to a module graph.

:func:`build_rank_network` turns the config and the fitted feature specs into a
:class:`RankNetwork`: one :class:`~recutils.nn.components.input_layer.InputLayer` per
(feature group, options), one component per ``layer`` block, run in dependency order.
Building runs a two-row dummy batch through the graph block by block, which both
infers each component's input width and checks shapes: a failure is a
:class:`~recutils.exceptions.ConfigError` naming the block, the shapes it received
and what to change.

Block semantics (EasyRec's): a block's inputs are feature groups (through the group's
default input layer: concatenated embeddings) or other blocks' outputs, each optionally
transformed by its ``input_fn``. With ``merge_inputs_into_list`` the component gets the
list of inputs; otherwise a single input is passed as it is and several inputs are
concatenated along the last axis. ``concat_blocks`` are concatenated into the backbone
output; the rank head adds a ``Linear(d, 1)`` when that output is wider than 1.

A ``SEQUENCE`` feature group's input layer outputs a
:class:`~recutils.nn.components.sequence_input.SequenceFeatures` (the history position by
position, its mask, the target's embedding) that only components registered with
``sequence_input`` read, each in a block whose only input is that group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from recutils import limits
from recutils.exceptions import ConfigError
from recutils.limits import check_parameter_count, limits_enabled
from recutils.nn.components.registry import check_layer_params, component_class, get_component_spec
from recutils.nn.config import BlockConfig, ModelConfig
from recutils.nn.data import BatchLayout
from recutils.nn.expressions import compile_input_fn
from recutils.nn.features import FeatureSpec
from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn

from recutils.nn.components._fields import input_dims_of  # noqa: E402
from recutils.nn.components.input_layer import EmbeddingBank, GroupFeature, InputLayer  # noqa: E402
from recutils.nn.components.sequence_input import SequenceFeatures, SequenceInputLayer  # noqa: E402
from recutils.nn.eager import BudgetExceeded, allocation_budget, shapes_only  # noqa: E402

logger = logging.getLogger(__name__)

Value = Any  # a tensor or a list of tensors
NetT = TypeVar("NetT", bound="nn.Module")
# key of the per-forward dict, inside the input-layer cache, through which input layers
# share their embedding gathers (see InputLayer.forward)
_SHARED = "\0shared_gathers"


def _shape(value: Value) -> Any:
    if isinstance(value, (list, tuple)):
        return [_shape(v) for v in value]
    return list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _cat_last(values: list[Value]) -> torch.Tensor:
    flat: list[torch.Tensor] = []
    for v in values:
        flat.extend(v if isinstance(v, (list, tuple)) else [v])
    return flat[0] if len(flat) == 1 else torch.cat(flat, dim=-1)


def block_matrix(value: Value, where: str) -> torch.Tensor:
    """A block's output as one ``[batch, width]`` tensor (a list concatenated on the last axis).

    Raises:
        ConfigError: the output is not two-dimensional (``where`` names what needs it).
    """
    if isinstance(value, (list, tuple)):
        value = _cat_last(list(value))
    if not isinstance(value, torch.Tensor) or value.dim() != 2:
        raise ConfigError(f"{where} must output a [batch, width] tensor, got {_shape(value)}.")
    return value


class Backbone(nn.Module):
    """The block graph. Use :func:`build_rank_network` to build one.

    ``forward(batch)`` returns the concatenated outputs of ``concat_blocks`` ``[B, d]``.
    """

    def __init__(
        self,
        config: ModelConfig,
        specs: Mapping[str, FeatureSpec],
        layout: BatchLayout,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.layout = layout
        self.order = [b.name for b in config.block_order()]
        self.blocks_cfg: dict[str, BlockConfig] = {b.name: b for b in config.backbone.blocks}
        self.concat_blocks = list(config.backbone.concat_blocks)
        groups = config.groups
        missing = sorted({f for g in groups.values() for f in g.feature_names if f not in specs})
        if missing:
            raise ConfigError(
                f"feature group(s) name feature(s) {missing} that have no feature config "
                f"or column; known features: {sorted(specs)}."
            )
        # input layers: (group, wide_dim, as_list) -> layer
        wanted: dict[str, tuple[str, int, bool]] = {}
        self._group_default: dict[str, str] = {}
        self._block_layer: dict[str, str] = {}
        for block in config.backbone.blocks:
            for inp in block.inputs:
                if inp.feature_group_name is None:
                    continue
                group = groups[inp.feature_group_name]
                opts = block.input_layer
                if opts is not None:
                    key = (
                        group.group_name,
                        opts.wide_output_dim or 1,
                        opts.only_output_feature_list,
                    )
                else:
                    key = (group.group_name, 1, False)
                name = f"{key[0]}|{key[1]}|{int(key[2])}"
                wanted[name] = key
                if opts is not None:
                    self._block_layer[block.name] = name
                else:
                    self._group_default[group.group_name] = name
        self.bank = EmbeddingBank()
        features_of: dict[str, list[GroupFeature]] = {}
        for name, (gname, wide_dim, _) in wanted.items():
            group = groups[gname]
            wide = group.wide_deep == "WIDE"
            feats = []
            for fname in group.feature_names:
                spec = specs[fname]
                dim = wide_dim if wide else spec.embedding_dim
                if spec.kind == "series":
                    if group.wide_deep != "SEQUENCE":
                        raise ConfigError(
                            f"feature group {gname!r}: {fname!r} is a numeric sequence, read position by "
                            "position by a SEQUENCE group only; move it to the group of its history."
                        )
                    feats.append(GroupFeature(fname, "series", -1, None, 1))
                    continue
                if spec.kind == "dense":
                    feats.append(
                        GroupFeature(
                            fname,
                            "dense",
                            layout.dense_column(fname),
                            None,
                            wide_dim if wide else 1,
                        )
                    )
                    continue
                table_key = f"{'wide' if wide else 'deep'}/{spec.table}/{dim}"
                self.bank.register(table_key, spec.num_embeddings, dim)
                column = layout.id_column(fname) if spec.kind == "id" else -1
                feats.append(GroupFeature(fname, spec.kind, column, table_key, dim, spec.pooling))
            features_of[name] = feats
        self.bank.finalize(generator)
        self.input_layers = nn.ModuleDict(
            {
                name.replace("|", "_"): self._sequence_layer(
                    groups[key[0]].group_name, features_of[name], specs
                )
                if groups[key[0]].wide_deep == "SEQUENCE"
                else InputLayer(
                    features_of[name],
                    self.bank,
                    wide=groups[key[0]].wide_deep == "WIDE",
                    wide_output_dim=key[1],
                    only_output_feature_list=key[2],
                )
                for name, key in wanted.items()
            }
        )
        self._fns = {}
        for block in config.backbone.blocks:
            for i, inp in enumerate(block.inputs):
                if inp.input_fn:
                    self._fns[(block.name, i)] = compile_input_fn(inp.input_fn)
        self.layers = nn.ModuleDict()
        self._list_input: dict[str, bool] = {}
        self._build_layers(specs, generator)

    # ------------------------------------------------------------ building
    def _sequence_layer(
        self, group: str, features: list[GroupFeature], specs: Mapping[str, FeatureSpec]
    ) -> SequenceInputLayer:
        """The input layer of a SEQUENCE group, after checking what the group holds."""
        where = f"feature group {group!r} (SEQUENCE)"
        history = [f for f in features if f.kind == "bag" and specs[f.name].type == "sequence"]
        query = [f for f in features if f.kind == "id"]
        times = [f for f in features if f.kind == "series"]
        if len(times) > 1:
            raise ConfigError(
                f"{where}: at most one numeric sequence (the times), got {[f.name for f in times]}."
            )
        other = [
            f"{f.name} ({specs[f.name].type})"
            for f in features
            if f not in history and f not in query and f not in times
        ]
        if other:
            raise ConfigError(
                f"{where}: {other} cannot be in a SEQUENCE group, which holds sequence features "
                "(the history) and single-id features (the target); put them in a DEEP group."
            )
        if not history:
            raise ConfigError(
                f"{where} has no sequence feature; give it the history as `type: sequence` "
                "features, or make it a DEEP group."
            )
        lengths = {f.name: specs[f.name].length for f in history + times}
        if len(set(lengths.values())) > 1:
            raise ConfigError(
                f"{where}: its sequences are read position by position, so they need one "
                f"max_length; got {lengths}."
            )
        return SequenceInputLayer(history, query, self.bank, times[0] if times else None)

    def _dummy_batch(self, specs: Mapping[str, FeatureSpec]) -> dict[str, torch.Tensor]:
        batch = {"ids": torch.ones((2, len(self.layout.id_features)), dtype=torch.int64)}
        if self.layout.dense_features:
            batch["dense"] = torch.zeros((2, len(self.layout.dense_features)))
        for f in self.layout.bag_features:
            batch[self.layout.bag_key(f)] = torch.ones((2, specs[f].length), dtype=torch.int64)
        for f in self.layout.series_features:
            batch[self.layout.series_key(f)] = torch.zeros((2, specs[f].length))
        return batch

    def _build_layers(
        self, specs: Mapping[str, FeatureSpec], generator: torch.Generator | None
    ) -> None:
        batch = self._dummy_batch(specs)
        outputs: dict[str, Value] = {}
        cache: dict[str, Value] = {}
        self.eval()
        with torch.no_grad():
            for name in self.order:
                block = self.blocks_cfg[name]
                try:
                    inputs = self._gather(block, batch, outputs, cache)
                except ConfigError:
                    raise
                except Exception as err:  # noqa: BLE001 - any failure is a config problem here
                    raise ConfigError(
                        f"block {name!r}: its input_fn failed on inputs of shapes "
                        f"{[_shape(outputs.get(i.block_name)) for i in block.inputs if i.block_name]}: "
                        f"{err}. Fix the input_fn or the inputs."
                    ) from None
                if block.input_layer is not None:
                    outputs[name] = inputs
                    continue
                layer = block.layer
                spec = get_component_spec(layer.class_name)  # type: ignore[union-attr]
                params = check_layer_params(layer.class_name, layer.params).to_dict()  # type: ignore[union-attr]
                x = self._merge(block, inputs, spec.list_input)
                if isinstance(x, SequenceFeatures) != spec.sequence_input:
                    group = block.inputs[0].feature_group_name
                    if spec.sequence_input:
                        raise ConfigError(
                            f"block {name!r}: {spec.name} reads a behaviour sequence, but its input is "
                            f"{_shape(x)}; give it exactly one input, a feature group with wide_deep: SEQUENCE."
                        )
                    raise ConfigError(
                        f"block {name!r}: {spec.name} needs [batch, width] tensors, but group {group!r} is a "
                        "SEQUENCE group (a history position by position); read it with a sequence component "
                        "(SequencePooling, TargetAttention, ...) in a block of its own, or make the group DEEP "
                        "to have its sequences pooled."
                    )
                if spec.sequence_input:
                    params[spec.input_dim_arg] = int(x.seq.shape[-1])
                    if spec.query_dim_arg:
                        params[spec.query_dim_arg] = (
                            0 if x.query is None else int(x.query.shape[-1])
                        )
                    if spec.time_input_arg:
                        params[spec.time_input_arg] = x.times is not None
                elif spec.input_dim_arg:
                    if not isinstance(x, torch.Tensor) or x.dim() != 2:
                        raise ConfigError(
                            f"block {name!r}: {spec.name} needs one [batch, width] tensor but gets "
                            f"{_shape(x)}; concatenate the inputs (merge_inputs_into_list: false) or "
                            "pick a list-taking component."
                        )
                    params[spec.input_dim_arg] = int(x.shape[-1])
                elif spec.input_dims_arg:
                    try:
                        params[spec.input_dims_arg] = input_dims_of(x)
                    except ValueError as err:
                        raise ConfigError(
                            f"block {name!r}: {spec.name} takes field tensors: {err}"
                        ) from None
                try:
                    module = component_class(spec.name)(**params)
                except (TypeError, ValueError) as err:
                    raise ConfigError(
                        f"block {name!r}: cannot build {spec.name} with {params}: {err}"
                    ) from None
                if generator is not None:
                    _init_from(module, generator)
                module.eval()
                try:
                    outputs[name] = module(x)
                except (RuntimeError, ValueError, IndexError, TypeError) as err:
                    raise ConfigError(
                        f"block {name!r}: {spec.name} does not accept inputs of shape {_shape(x)}: {err}. "
                        "Make the inputs' shapes agree (e.g. an MLP ending in the right width, or an "
                        "input_fn such as 'lambda x: tf.add_n(x)')."
                    ) from None
                self.layers[name] = module
                self._list_input[name] = spec.list_input
            for name in self.concat_blocks:
                out = outputs[name]
                try:
                    value = _cat_last([out])
                except RuntimeError as err:
                    raise ConfigError(
                        f"concat_blocks: block {name!r} output {_shape(out)} cannot be "
                        f"concatenated: {err}"
                    ) from None
                if value.dim() != 2:
                    raise ConfigError(
                        f"concat_blocks: block {name!r} outputs {_shape(out)}; a rank model "
                        "needs [batch, width] outputs."
                    )
            try:
                self.output_dim = int(_cat_last([outputs[n] for n in self.concat_blocks]).shape[-1])
            except RuntimeError as err:
                raise ConfigError(
                    f"concat_blocks {self.concat_blocks}: outputs "
                    f"{[_shape(outputs[n]) for n in self.concat_blocks]} do not concatenate: "
                    f"{err}"
                ) from None
        self.train()

    # ------------------------------------------------------------- running
    def _group_value(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, Value]
    ) -> Value:
        name = self._group_default[group]
        if name not in cache:
            cache[name] = self.input_layers[name.replace("|", "_")](
                batch, cache.setdefault(_SHARED, {})
            )
        return cache[name]

    def _gather(
        self,
        block: BlockConfig,
        batch: Mapping[str, torch.Tensor],
        outputs: Mapping[str, Value],
        cache: dict[str, Value],
    ) -> list[Value] | Value:
        if block.input_layer is not None:
            name = self._block_layer[block.name]
            if name not in cache:
                cache[name] = self.input_layers[name.replace("|", "_")](
                    batch, cache.setdefault(_SHARED, {})
                )
            return cache[name]
        values = []
        for i, inp in enumerate(block.inputs):
            if inp.feature_group_name is not None:
                value = self._group_value(inp.feature_group_name, batch, cache)
            else:
                value = outputs[inp.block_name]  # type: ignore[index]
            fn = self._fns.get((block.name, i))
            values.append(fn(value) if fn is not None else value)
        return values

    @staticmethod
    def _merge(block: BlockConfig, values: list[Value], list_input: bool) -> Value:
        if len(values) == 1 and isinstance(values[0], SequenceFeatures):
            return values[0]
        if block.merge_inputs_into_list:
            return list(values)
        if len(values) == 1:
            value = values[0]
            if list_input and not isinstance(value, (list, tuple)):
                return [value]
            return (
                value
                if list_input or not isinstance(value, (list, tuple))
                else _cat_last(list(value))
            )
        merged = _cat_last(values)
        return [merged] if list_input else merged

    def needed_blocks(self, targets: list[str]) -> list[str]:
        """The blocks ``targets`` read, directly or through others, and themselves, in run order."""
        wanted: set[str] = set()
        stack = list(targets)
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            wanted.add(name)
            stack.extend(
                i.block_name for i in self.blocks_cfg[name].inputs if i.block_name is not None
            )
        return [n for n in self.order if n in wanted]

    def block_outputs(
        self, batch: Mapping[str, torch.Tensor], targets: list[str] | None = None
    ) -> dict[str, Value]:
        """The blocks' outputs (a tensor or a list of tensors) for ``batch``, by block name:
        every block, or only those ``targets`` need (:meth:`needed_blocks`)."""
        outputs: dict[str, Value] = {}
        cache: dict[str, Value] = {}
        for name in self.order if targets is None else self.needed_blocks(targets):
            block = self.blocks_cfg[name]
            inputs = self._gather(block, batch, outputs, cache)
            if block.input_layer is not None:
                outputs[name] = inputs
            else:
                outputs[name] = self.layers[name](
                    self._merge(block, inputs, self._list_input[name])
                )
        return outputs

    def dummy_block_outputs(self, specs: Mapping[str, FeatureSpec]) -> dict[str, Value]:
        """:meth:`block_outputs` of a small all-default batch in eval mode (shapes for building
        what reads the backbone); the module's train/eval mode is restored."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self.block_outputs(self._dummy_batch(specs))
        finally:
            self.train(was_training)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        outputs = self.block_outputs(batch)
        return _cat_last([outputs[n] for n in self.concat_blocks])


def _init_from(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialize Linear layers from ``generator`` (Glorot-uniform weights, zero biases)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = (6.0 / (m.in_features + m.out_features)) ** 0.5
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()


class BackboneNetwork(nn.Module):
    """A network around a :class:`Backbone`: its regularization and parameter groups.

    Attributes:
        l2_regularization: Coefficient of ``sum(W**2)`` over the dense layers' weight
            matrices (applied by the trainer as coupled weight decay ``2 * l2``).
        embedding_regularization: Coefficient of ``sum(e**2) / 2`` over looked-up
            embeddings (see :meth:`regularization_loss`).
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone
        self.l2_regularization = float(backbone.config.model_params.l2_regularization)
        self.embedding_regularization = float(backbone.config.embedding_regularization)
        backbone.bank.regularize = self.embedding_regularization > 0

    def regularization_loss(self) -> torch.Tensor | None:
        """Embedding penalty of the last training forward pass plus the auxiliary losses its
        components recorded (DIEN's; ``auxiliary_loss`` attributes, each read once), or None."""
        reg = self.backbone.bank.pop_regularization()
        total = None if reg is None else self.embedding_regularization * reg
        for module in self.backbone.layers.modules():
            aux = getattr(module, "auxiliary_loss", None)
            if aux is not None:
                module.auxiliary_loss = None
                aux = float(getattr(module, "auxiliary_loss_weight", 1.0)) * aux
                total = aux if total is None else total + aux
        return total

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``embedding`` (tables), ``dense_weight`` (matrices, L2-regularized), ``dense_other``."""
        emb = {id(p) for p in self.backbone.bank.parameters()}
        groups: dict[str, list[nn.Parameter]] = {
            "embedding": [],
            "dense_weight": [],
            "dense_other": [],
        }
        for name, p in self.named_parameters():
            if id(p) in emb:
                groups["embedding"].append(p)
            elif p.dim() >= 2 and "dense_weight" not in name:
                groups["dense_weight"].append(p)
            else:
                groups["dense_other"].append(p)
        return groups


class RankNetwork(BackboneNetwork):
    """Backbone plus the rank head: ``forward(batch) -> logits [B]`` (regularization and
    parameter groups: :class:`BackboneNetwork`)."""

    def __init__(self, backbone: Backbone, generator: torch.Generator | None = None) -> None:
        super().__init__(backbone)
        self.head = nn.Linear(backbone.output_dim, 1) if backbone.output_dim != 1 else None
        if self.head is not None and generator is not None:
            _init_from(self.head, generator)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = self.backbone(batch)
        if self.head is not None:
            out = self.head(out)
        return out.squeeze(-1)


def _check_size(config: ModelConfig, specs: Mapping[str, FeatureSpec], layout: BatchLayout) -> None:
    """Refuse a network above :data:`recutils.limits.MAX_PARAMETERS` before any weight exists.

    The network is built on the ``meta`` device (shapes only, no memory, no random draws,
    see :func:`recutils.nn.eager.shapes_only`) and its parameters are counted exactly.
    """
    if not limits_enabled():
        return
    with torch.random.fork_rng(devices=[]), shapes_only():
        backbone = Backbone(config, specs, layout)
    embedding = sum(p.numel() for p in backbone.bank.parameters())
    total = sum(p.numel() for p in backbone.parameters())
    head = backbone.output_dim + 1 if backbone.output_dim != 1 else 0
    check_parameter_count(
        total + head,
        what=f"model {config.model_name!r}",
        detail=f" ({embedding:,} in embedding tables, {total + head - embedding:,} in "
        "dense layers)",
    )


def build_network_with_limits(
    config: ModelConfig,
    specs: Mapping[str, FeatureSpec],
    make: Callable[[Backbone, Mapping[str, FeatureSpec], torch.Generator | None], NetT],
    *,
    seed: int | None = None,
) -> NetT:
    """Build ``make(backbone, specs, generator)`` around the config's backbone, within the limits.

    No tensor that would take the network past :data:`recutils.limits.MAX_PARAMETERS` is
    ever allocated: the build runs under an allocation budget, and a network that trips it
    is counted exactly on the ``meta`` device; above the limit it is a :class:`ConfigError`
    (``RECUTILS_CONFIG_LIMITS=off`` lifts the limit). Weights are drawn from a private
    generator seeded with ``seed``; the caller's global RNG is left untouched.
    """
    used = config.feature_names
    missing = [f for f in used if f not in specs]
    if missing:
        raise ConfigError(
            f"feature group(s) name feature(s) {missing} with no feature config; "
            f"known features: {sorted(specs)}."
        )
    specs = {n: specs[n] for n in used}
    layout = BatchLayout.from_specs(specs)

    def build() -> NetT:
        generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        # module constructors draw default weights from the global RNG: keep the caller's intact
        with torch.random.fork_rng(devices=[]):
            if seed is not None:  # components' own parameters (not re-drawn from `generator`)
                torch.manual_seed(int(seed))
            backbone = Backbone(config, specs, layout, generator)
            return make(backbone, specs, generator)

    if not limits_enabled():
        net = build()
    else:
        # Build for real under an allocation budget (a tensor that would pass the limit is
        # refused before it exists); only a network that trips it is counted exactly, on
        # the meta device, which raises the ConfigError (or, when temporaries tripped the
        # budget of a network within the limit, lets it be built without one).
        try:
            with allocation_budget(limits.MAX_PARAMETERS):
                net = build()
        except BudgetExceeded:
            _check_size(config, specs, layout)
            net = build()
    logger.info(
        "built %s: %d parameters", config.model_name, sum(p.numel() for p in net.parameters())
    )
    return net


def build_rank_network(
    config: ModelConfig, specs: Mapping[str, FeatureSpec], *, seed: int | None = None
) -> RankNetwork:
    """Validate ``config`` against the fitted feature ``specs`` and build the network.

    The build is bounded by :data:`recutils.limits.MAX_PARAMETERS` (see
    :func:`build_network_with_limits`).

    Args:
        config: The model config (``model_class: RankModel`` without ``model_params.rocket``;
            every config class: :func:`recutils.nn.networks.build_network`).
        specs: Fitted feature specs (:attr:`recutils.nn.features.FeatureEncoder.specs`).
        seed: Seed of the weight initialization (a private generator; global RNG untouched).

    Raises:
        ConfigError: any config problem, naming the block and the fix, or a network
            above the parameter limit.
    """
    if config.model_class != "RankModel":
        raise ConfigError(
            f"model_class {config.model_class!r} is not a rank model; build a MultiTaskModel with "
            "recutils.nn.multitask.build_multitask_network (or a multi-task model such as 'mmoe')."
        )
    if config.model_params.rocket is not None:
        raise ConfigError(
            "a Rocket Launching config (model_params.rocket) builds two nets: use "
            "recutils.nn.networks.build_network (or recutils.nn.rocket.build_rocket_network)."
        )
    return build_network_with_limits(
        config, specs, lambda backbone, _, gen: RankNetwork(backbone, gen), seed=seed
    )


__all__ = [
    "Backbone",
    "BackboneNetwork",
    "RankNetwork",
    "block_matrix",
    "build_network_with_limits",
    "build_rank_network",
]
