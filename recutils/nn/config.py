"""Model configuration: feature groups, backbone blocks, model params (no torch needed).

The structure follows EasyRec's ``model_config`` so that EasyRec configs map onto it
one to one (see :mod:`recutils.nn.easyrec`); YAML is the native format::

    model_name: WideAndDeep
    model_class: RankModel
    feature_groups:
      - {group_name: wide, feature_names: [user_id, movie_id], wide_deep: WIDE}
      - {group_name: deep, feature_names: [user_id, movie_id], wide_deep: DEEP}
    backbone:
      blocks:
        - name: wide
          inputs: [{feature_group_name: wide}]
          input_layer: {only_output_feature_list: true, wide_output_dim: 1}
        - name: deep_logit
          inputs: [{feature_group_name: deep}]
          layer: {class_name: MLP, params: {hidden_units: [64, 1], final_activation: linear}}
        - name: final_logit
          inputs: [{block_name: wide, input_fn: "lambda x: tf.add_n(x)"}, {block_name: deep_logit}]
          merge_inputs_into_list: true
          layer: {class_name: Add}
      concat_blocks: [final_logit]
    model_params: {l2_regularization: 1.0e-4}
    embedding_regularization: 1.0e-4

:meth:`ModelConfig.validate` checks, before any tensor exists, the things that do not
depend on data: unique names, that every input names a known feature group or block,
that blocks form no cycle, that each block has exactly one of ``input_layer`` /
``layer``, that ``class_name`` is a known component and its ``params`` are parameters
it takes, and that every ``input_fn`` is inside the expression whitelist. Errors are
:class:`~recutils.exceptions.ConfigError` naming the block and the fix. Shapes are
checked when the network is built (:func:`recutils.nn.backbone.build_rank_network`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError
from recutils.limits import MAX_EMBEDDING_DIM, check_at_most
from recutils.utils.validation import check_bool, check_number, check_probability, check_type

WIDE_DEEP = ("WIDE", "DEEP", "SEQUENCE")
MODEL_CLASSES = ("RankModel", "MultiTaskModel", "MatchModel")
#: A task tower's loss: ``classification`` (sigmoid cross-entropy on a 0/1 label) or
#: ``regression`` (mean squared error); EasyRec's names are accepted.
TASK_LOSSES = {
    "classification": "classification",
    "CLASSIFICATION": "classification",
    "sigmoid_cross_entropy": "classification",
    "regression": "regression",
    "L2_LOSS": "regression",
    "mse": "regression",
}
LOSS_WEIGHTINGS = ("fixed", "uncertainty")
#: Most task towers of one multi-task model.
MAX_TASKS = 64


class NestedConfig(BaseConfig):
    """A :class:`BaseConfig` whose fields may hold other configs (or lists of them).

    Subclasses declare ``_nested = {"field": (ConfigClass, is_list)}``; ``from_dict``
    builds those from mappings (errors name the path), ``to_dict`` flattens them back.
    """

    _nested: ClassVar[dict[str, tuple[type[BaseConfig], bool]]] = {}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None, **overrides: Any):  # type: ignore[override]
        """Build the config, its nested configs from mappings (errors name the path).

        A nested field may be null only where its default is null (``input_layer``,
        ``layer``); elsewhere null is a :class:`ConfigError` (leave the key out to get
        the default).
        """
        merged = cls._checked_values(values, overrides)
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for name, (sub, is_list) in cls._nested.items():
            if name not in merged:
                continue
            value = merged[name]
            if value is None:
                if defaults.get(name) is None:
                    continue
                what = "a list of mappings" if is_list else "a mapping"
                raise ConfigError(
                    f"{cls.__name__}.{name} is null; give {what} or leave the key out "
                    "for the default."
                )
            try:
                if is_list:
                    if isinstance(value, (Mapping, str)) or not hasattr(value, "__iter__"):
                        raise ConfigError(f"{cls.__name__}.{name} must be a list, got {value!r}.")
                    merged[name] = [v if isinstance(v, sub) else sub.from_dict(v) for v in value]
                elif not isinstance(value, sub):
                    merged[name] = sub.from_dict(value)
            except ConfigError as err:
                raise ConfigError(f"{cls.__name__}.{name}: {err}") from None
        try:
            return cls(**merged)
        except TypeError as err:  # pragma: no cover - defensive
            raise ConfigError(f"{cls.__name__}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, BaseConfig):
                value = value.to_dict()
            elif isinstance(value, list):
                value = [v.to_dict() if isinstance(v, BaseConfig) else v for v in value]
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        return out


@dataclass
class FeatureGroupConfig(NestedConfig):
    """A named list of features with a role: ``WIDE`` (wide embeddings), ``DEEP`` (each feature
    embedded, multi-valued ones pooled, concatenated) or ``SEQUENCE`` (a behaviour history kept
    position by position for the sequence components, with the target's features as the query:
    :mod:`recutils.nn.components.sequence_input`)."""

    group_name: str = ""
    feature_names: list[str] = field(default_factory=list)
    wide_deep: str = "DEEP"

    def __post_init__(self) -> None:
        if not isinstance(self.group_name, str) or not self.group_name:
            raise ConfigError(
                f"a feature group needs a non-empty group_name, got {self.group_name!r}."
            )
        where = f"feature group {self.group_name!r}"
        if isinstance(self.feature_names, str):
            self.feature_names = [self.feature_names]
        if (
            not isinstance(self.feature_names, list)
            or not self.feature_names
            or not all(isinstance(n, str) and n for n in self.feature_names)
        ):
            raise ConfigError(f"{where}: feature_names must be a non-empty list of names.")
        dup = sorted({n for n in self.feature_names if self.feature_names.count(n) > 1})
        if dup:
            raise ConfigError(f"{where}: feature(s) {dup} listed twice.")
        self.wide_deep = str(self.wide_deep).upper()
        if self.wide_deep not in WIDE_DEEP:
            raise ConfigError(
                f"{where}: wide_deep must be one of {list(WIDE_DEEP)}, got {self.wide_deep!r}."
            )


@dataclass
class BlockInput(NestedConfig):
    """One input of a block: a feature group or another block, optionally through ``input_fn``."""

    feature_group_name: str | None = None
    block_name: str | None = None
    input_fn: str | None = None

    def __post_init__(self) -> None:
        if (self.feature_group_name is None) == (self.block_name is None):
            raise ConfigError(
                "a block input needs exactly one of feature_group_name or block_name, got "
                f"feature_group_name={self.feature_group_name!r}, block_name={self.block_name!r}."
            )
        if self.input_fn is not None and not isinstance(self.input_fn, str):
            raise ConfigError(
                f"input_fn must be a string such as 'lambda x: x[0]', got {self.input_fn!r}."
            )

    @property
    def source(self) -> str:
        return self.feature_group_name if self.feature_group_name is not None else self.block_name  # type: ignore[return-value]


@dataclass
class InputLayerOptions(NestedConfig):
    """Options of an ``input_layer`` block.

    Attributes:
        only_output_feature_list: Output the list of per-feature tensors ``[B, d_f]``
            instead of their concatenation ``[B, sum d_f]``.
        wide_output_dim: Embedding size of the features in a ``WIDE`` group (default 1).
    """

    only_output_feature_list: bool = False
    wide_output_dim: int | None = None

    def __post_init__(self) -> None:
        check_type(
            "only_output_feature_list",
            self.only_output_feature_list,
            bool,
            "true or false",
            owner="input_layer",
        )
        if self.wide_output_dim is not None:
            check_type(
                "wide_output_dim",
                self.wide_output_dim,
                int,
                "a positive integer",
                owner="input_layer",
            )
            if self.wide_output_dim < 1:
                raise ConfigError(
                    f"input_layer: wide_output_dim must be >= 1, got {self.wide_output_dim}."
                )
            check_at_most(
                "wide_output_dim", self.wide_output_dim, MAX_EMBEDDING_DIM, owner="input_layer"
            )


@dataclass
class LayerConfig(NestedConfig):
    """A component: its registered ``class_name`` and constructor ``params``."""

    class_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.class_name, str) or not self.class_name:
            raise ConfigError(f"a layer needs a class_name, got {self.class_name!r}.")
        if self.params is None:
            self.params = {}
        if not isinstance(self.params, Mapping):
            raise ConfigError(
                f"layer {self.class_name!r}: params must be a mapping, got {self.params!r}."
            )
        self.params = dict(self.params)


@dataclass
class BlockConfig(NestedConfig):
    """A named node of the backbone graph."""

    _nested: ClassVar = {
        "inputs": (BlockInput, True),
        "input_layer": (InputLayerOptions, False),
        "layer": (LayerConfig, False),
    }

    name: str = ""
    inputs: list[BlockInput] = field(default_factory=list)
    input_layer: InputLayerOptions | None = None
    layer: LayerConfig | None = None
    merge_inputs_into_list: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a block needs a non-empty name, got {self.name!r}.")
        check_type(
            "merge_inputs_into_list",
            self.merge_inputs_into_list,
            bool,
            "true or false",
            owner=f"block {self.name!r}",
        )


@dataclass
class BackboneConfig(NestedConfig):
    """The blocks and the blocks whose outputs form the backbone output."""

    _nested: ClassVar = {"blocks": (BlockConfig, True)}

    blocks: list[BlockConfig] = field(default_factory=list)
    concat_blocks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.concat_blocks, str):
            self.concat_blocks = [self.concat_blocks]
        if not isinstance(self.concat_blocks, list) or not all(
            isinstance(n, str) for n in self.concat_blocks
        ):
            raise ConfigError(
                f"backbone: concat_blocks must be a list of block names, got {self.concat_blocks!r}."
            )


def _tower_mlp(where: str, name: str, value: Any) -> dict[str, Any] | None:
    """A tower's MLP params (the ``MLP`` component's keys), checked; None stays None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: {name} must be a mapping of MLP params such as "
            f"{{hidden_units: [64, 32]}}, got {value!r}."
        )
    from recutils.nn.components.registry import check_layer_params

    try:
        check_layer_params("MLP", value)
    except ConfigError as err:
        raise ConfigError(f"{where}: {name}: {err}") from None
    return dict(value)


@dataclass
class TaskTowerConfig(NestedConfig):
    """One task of a ``MultiTaskModel``: its label, tower, loss and how it depends on others.

    Attributes:
        tower_name: The task's name (history columns ``valid_<tower_name>_<metric>``,
            prediction column, ONNX output).
        label_name: The label column of the training frame (``@rating``: the model's
            rating column).
        label_threshold: Label = ``column >= label_threshold`` (e.g. 4.0 on ratings);
            None: the column must already hold 0/1 labels (or targets, for regression).
        input: The backbone block the tower reads; None: the backbone output. When that
            output is a list of as many tensors as there are towers (an ``MMoE`` or
            ``PLE`` block), tower ``t`` reads element ``t``; otherwise the whole
            (concatenated) output, as a shared bottom.
        mlp: The tower's hidden layers (``MLP`` params); None: the logit is linear in
            the input. A final linear layer gives the task's logit.
        loss_type: ``classification`` or ``regression`` (EasyRec's ``CLASSIFICATION`` /
            ``L2_LOSS`` accepted).
        weight: The task's loss weight (with ``loss_weighting: fixed``) and its weight in
            the early-stopping sum.
        metrics: Validation metrics recorded per evaluation (``recutils.evaluation``
            rating metrics); the first is the task's early-stopping metric. Default
            ``[auc]`` for classification, ``[rmse]`` for regression.
        entire_space_of: ESMM (Ma et al. 2018): the name of an earlier classification
            task ``r`` (CTR); this task's tower models ``p(label | r's label = 1)``
            (CVR), and its prediction and loss use ``p_r * p_task`` (CTCVR) on every
            row, so that the tower trains over the entire space, never on clicked rows
            only.
        transfer_from: AITM (Xi et al. 2021): an earlier task whose tower's hidden
            output flows into this tower through an ``AITMTransfer`` unit (both towers'
            last hidden widths must agree).
        calibration_weight: AITM's behavioural expectation calibrator: this weight times
            ``mean(max(p_task - p_from, 0))`` is added to the loss (a conversion cannot
            be likelier than the click before it); needs ``transfer_from``.
        relation_tower_names: DBMTL (Bayesian multi-task): earlier tasks whose relation
            outputs join this tower's hidden output before its relation MLP.
        relation_mlp: DBMTL's relation MLP params (None: concatenation only).
    """

    tower_name: str = ""
    label_name: str = ""
    label_threshold: float | None = None
    input: str | None = None
    mlp: dict[str, Any] | None = None
    loss_type: str = "classification"
    weight: float = 1.0
    metrics: list[str] = field(default_factory=list)
    entire_space_of: str | None = None
    transfer_from: str | None = None
    calibration_weight: float = 0.0
    relation_tower_names: list[str] = field(default_factory=list)
    relation_mlp: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tower_name, str) or not self.tower_name.isidentifier():
            raise ConfigError(
                f"a task tower needs a tower_name that is a plain identifier (letters, digits, "
                f"underscores), got {self.tower_name!r}."
            )
        where = f"task tower {self.tower_name!r}"
        if not isinstance(self.label_name, str) or not self.label_name:
            raise ConfigError(
                f"{where}: label_name must name the label column, got {self.label_name!r}."
            )
        if self.label_threshold is not None:
            check_number(
                "label_threshold", self.label_threshold, minimum=-float("inf"), owner=where
            )
        if self.input is not None and (not isinstance(self.input, str) or not self.input):
            raise ConfigError(f"{where}: input must be a block name or null, got {self.input!r}.")
        self.mlp = _tower_mlp(where, "mlp", self.mlp)
        self.relation_mlp = _tower_mlp(where, "relation_mlp", self.relation_mlp)
        if self.loss_type not in TASK_LOSSES:
            raise ConfigError(
                f"{where}: loss_type {self.loss_type!r} is unknown; allowed: {sorted(TASK_LOSSES)}."
            )
        self.loss_type = TASK_LOSSES[self.loss_type]
        check_number("weight", self.weight, owner=where)
        check_number("calibration_weight", self.calibration_weight, owner=where)
        if isinstance(self.metrics, str):
            self.metrics = [self.metrics]
        if not isinstance(self.metrics, list) or not all(
            isinstance(m, str) and m for m in self.metrics
        ):
            raise ConfigError(
                f"{where}: metrics must be a list of metric names, got {self.metrics!r}."
            )
        if not self.metrics:
            self.metrics = ["auc"] if self.loss_type == "classification" else ["rmse"]
        from recutils.evaluation import get_metric

        for name in self.metrics:
            spec = get_metric(name)
            if spec.kind != "rating":
                raise ConfigError(
                    f"{where}: metric {name!r} is a {spec.kind} metric; use rating metrics such as "
                    "'auc', 'logloss' or 'rmse'."
                )
        for name in ("entire_space_of", "transfer_from"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(
                    f"{where}: {name} must name an earlier task tower or be null, got {value!r}."
                )
        if isinstance(self.relation_tower_names, str):
            self.relation_tower_names = [self.relation_tower_names]
        if not isinstance(self.relation_tower_names, list) or not all(
            isinstance(n, str) and n for n in self.relation_tower_names
        ):
            raise ConfigError(
                f"{where}: relation_tower_names must be a list of tower names, "
                f"got {self.relation_tower_names!r}."
            )
        if self.calibration_weight and self.transfer_from is None:
            raise ConfigError(
                f"{where}: calibration_weight needs transfer_from (the task it is calibrated "
                "against)."
            )
        if self.entire_space_of is not None and self.loss_type != "classification":
            raise ConfigError(f"{where}: entire_space_of (ESMM) needs a classification task.")

    def depends_on(self) -> list[str]:
        """Names of the towers this one reads (they must come earlier in the list)."""
        named = [self.entire_space_of, self.transfer_from, *self.relation_tower_names]
        return [n for n in named if n is not None]


#: How a distillation term compares the student with the teacher (see :class:`DistillationConfig`).
KD_LOSSES = ("bce", "mse", "kl")


@dataclass
class DistillationConfig(NestedConfig):
    """One knowledge-distillation term (a ``kd`` entry of a deep model's config).

    The model's training loss becomes ``hard loss + sum_k loss_weight_k * KD_k``, where
    ``KD_k`` compares the student's output with soft labels from a teacher
    (:class:`recutils.nn.losses.DistillationLoss`, scaled by ``temperature ** 2``):

    * ``bce``: cross-entropy between ``sigmoid(z / T)`` and the teacher's probability
      softened the same way, ``sigmoid(logit(p_teacher) / T)``;
    * ``mse``: squared error between the student's logit and the teacher's logit;
    * ``kl``: KL divergence of the two Bernoulli distributions at temperature ``T``.

    Attributes:
        teacher_column: A column of the training frame holding the teacher's
            probabilities (in [0, 1]).
        teacher_model: The folder of a saved recutils model (``model.save``) whose
            predictions on the training rows are the soft labels (loaded with
            :func:`recutils.models.load_model`; artifacts are verified). Exactly one of
            ``teacher_column`` / ``teacher_model``.
        task: For a multi-task model, the task the term distils into (default its
            first task); must be null for a one-task model.
        temperature: ``T`` > 0.
        loss_weight: The term's weight (>= 0).
        loss_type: ``bce``, ``mse`` or ``kl``.
    """

    teacher_column: str | None = None
    teacher_model: str | None = None
    task: str | None = None
    temperature: float = 1.0
    loss_weight: float = 1.0
    loss_type: str = "bce"

    def __post_init__(self) -> None:
        where = "kd"
        if (self.teacher_column is None) == (self.teacher_model is None):
            raise ConfigError(
                f"{where}: give exactly one of teacher_column (a frame column of the teacher's "
                "probabilities) or teacher_model (a saved model folder), got "
                f"teacher_column={self.teacher_column!r}, teacher_model={self.teacher_model!r}."
            )
        for name in ("teacher_column", "teacher_model", "task"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(
                    f"{where}: {name} must be a non-empty string or null, got {value!r}."
                )
        check_number("temperature", self.temperature, owner=where)
        if self.temperature <= 0:
            raise ConfigError(f"{where}: temperature must be > 0, got {self.temperature!r}.")
        check_number("loss_weight", self.loss_weight, owner=where)
        if self.loss_type not in KD_LOSSES:
            raise ConfigError(
                f"{where}: loss_type {self.loss_type!r} is unknown; allowed: {list(KD_LOSSES)}."
            )


@dataclass
class RocketConfig(NestedConfig):
    """Rocket Launching (Zhou et al. 2018): a light net and a booster net trained together.

    Both are blocks of the backbone (sharing whatever blocks they both read, typically the
    embeddings); each ends in its own logit. Training minimises the hard loss of both plus
    ``hint_weight * mean((z_light - stopgrad(z_booster))**2)``: the light net learns from
    the booster's logits while the booster learns from the labels only (the gradient
    block of the paper). In eval mode the network runs the light net alone (only the
    blocks it reads), which is what ``predict``, ``save`` and the ONNX export serve.

    Attributes:
        light_block: The block whose output feeds the light net's logit.
        booster_block: The block whose output feeds the booster net's logit.
        hint_weight: Weight of the hint loss (>= 0).
    """

    light_block: str = ""
    booster_block: str = ""
    hint_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("light_block", "booster_block"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"rocket: {name} must name a backbone block, got {value!r}.")
        if self.light_block == self.booster_block:
            raise ConfigError(
                f"rocket: light_block and booster_block are both {self.light_block!r}; the light "
                "and the booster net need blocks of their own."
            )
        check_number("hint_weight", self.hint_weight, owner="rocket")


#: Similarities of a two-tower model's user and item embeddings.
MATCH_SIMILARITIES = ("dot", "cosine")
#: Losses of a two-tower model (see :class:`MatchConfig`).
MATCH_LOSSES = ("in_batch_softmax", "sampled_softmax", "bpr", "hinge", "circle")
#: How sampled negatives are drawn.
NEGATIVE_SAMPLERS = ("uniform", "popularity")


@dataclass
class MatchConfig(NestedConfig):
    """A two-tower retrieval model (``model_class: MatchModel``): towers, similarity, loss.

    The user tower is the backbone block ``user_block`` (and every block it reads), the
    item tower the block ``item_block``; the two must read disjoint feature groups (the
    user tower only user-side features, the item tower only item-side ones), so that item
    embeddings are computed once per item and users are scored against all of them with
    one matrix product (or an approximate-nearest-neighbour index). Each tower's output
    goes through a linear layer to ``output_dim`` (``output_dim: null`` keeps the tower's
    width; both widths must agree then).

    Losses, over a batch of positive (user, item) rows:

    * ``in_batch_softmax``: softmax over the batch's items for each user, the other rows'
      items as negatives (Yi et al. 2019), with ``logq_correction`` (each logit minus the
      log of its item's share of the training rows, so that popular items are not
      over-penalised for being sampled more often) and ``remove_accidental_hits`` (an
      item that is also the row's own positive is not counted as a negative);
    * ``sampled_softmax``: the same over ``num_negatives`` items drawn per batch
      (``negative_sampling``: ``uniform`` or ``popularity``; the logQ correction uses the
      sampler's probabilities) plus the batch's items; ``hard_negatives`` > 0 keeps only
      the hardest (highest-scoring) sampled negatives of each row;
    * ``bpr`` / ``hinge``: pairwise against one sampled negative per row
      (``-log sigmoid(s+ - s-)``, ``max(0, margin - s+ + s-)``);
    * ``circle``: item-to-item metric learning (:func:`recutils.nn.losses.circle_loss`, with
      ``margin`` and ``gamma``). The model has the item tower only (``user_block`` empty):
      a batch holds (anchor item, positive item) pairs, both embedded by the item tower;
      every item of the batch is an anchor whose pair partner is its positive and whose
      negatives are the batch's other items. Needs ``similarity: cosine``.

    Attributes:
        user_block, item_block: The towers' output blocks (``user_block`` empty: an
            item-to-item model, ``loss: circle``).
        output_dim: The embedding width (a linear layer after each tower), or null.
        similarity: ``dot`` or ``cosine`` (L2-normalised embeddings).
        temperature: Logits are ``similarity / temperature``.
        loss: One of :data:`MATCH_LOSSES`.
        logq_correction, remove_accidental_hits: See above (softmax losses).
        num_negatives: Items drawn per batch (``sampled_softmax``).
        negative_sampling: ``uniform`` or ``popularity`` (``sampled_softmax``, ``bpr``, ``hinge``).
        hard_negatives: With ``sampled_softmax``, keep the top-scoring this many sampled
            negatives per row (0: all).
        margin: ``hinge``'s margin, or ``circle``'s relaxation margin.
        gamma: ``circle``'s scale.
    """

    user_block: str = ""
    item_block: str = ""
    output_dim: int | None = 32
    similarity: str = "dot"
    temperature: float = 1.0
    loss: str = "in_batch_softmax"
    logq_correction: bool = True
    remove_accidental_hits: bool = True
    num_negatives: int = 256
    negative_sampling: str = "popularity"
    hard_negatives: int = 0
    margin: float = 1.0
    gamma: float = 64.0

    @property
    def item_to_item(self) -> bool:
        """An item-tower-only model (``user_block`` empty, ``loss: circle``)."""
        return not self.user_block

    def __post_init__(self) -> None:
        where = "match"
        for name in ("user_block", "item_block"):
            value = getattr(self, name)
            if not isinstance(value, str) or not (value or name == "user_block"):
                raise ConfigError(f"{where}: {name} must name a backbone block, got {value!r}.")
        if self.item_to_item != (self.loss == "circle"):
            raise ConfigError(
                f"{where}: loss {self.loss!r} with user_block {self.user_block!r}: loss circle learns "
                "item-to-item similarity from the item tower alone (user_block empty), and a model without "
                f"a user tower needs loss: circle; set both or neither."
            )
        if self.loss == "circle" and self.similarity != "cosine":
            raise ConfigError(
                f"{where}: loss circle compares cosine similarities; set similarity: cosine "
                f"(got {self.similarity!r})."
            )
        if self.user_block == self.item_block:
            raise ConfigError(
                f"{where}: user_block and item_block are both {self.user_block!r}; each tower needs "
                "a block of its own."
            )
        if self.output_dim is not None:
            _pos_int(where, "output_dim", self.output_dim)
            check_at_most("output_dim", self.output_dim, MAX_EMBEDDING_DIM, owner=where)
        for name, allowed in (
            ("similarity", MATCH_SIMILARITIES),
            ("loss", MATCH_LOSSES),
            ("negative_sampling", NEGATIVE_SAMPLERS),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{where}: {name} {getattr(self, name)!r} is unknown; allowed: {list(allowed)}."
                )
        check_number("temperature", self.temperature, owner=where)
        if self.temperature <= 0:
            raise ConfigError(f"{where}: temperature must be > 0, got {self.temperature!r}.")
        check_bool("logq_correction", self.logq_correction, owner=where)
        check_bool("remove_accidental_hits", self.remove_accidental_hits, owner=where)
        _pos_int(where, "num_negatives", self.num_negatives)
        check_at_most("num_negatives", self.num_negatives, 1 << 20, owner=where)
        _pos_int(where, "hard_negatives", self.hard_negatives, minimum=0)
        if self.hard_negatives and self.loss != "sampled_softmax":
            raise ConfigError(f"{where}: hard_negatives needs loss: sampled_softmax.")
        if self.hard_negatives > self.num_negatives:
            raise ConfigError(
                f"{where}: hard_negatives ({self.hard_negatives}) cannot exceed num_negatives "
                f"({self.num_negatives})."
            )
        check_number("margin", self.margin, owner=where)
        check_number("gamma", self.gamma, strict=True, owner=where)


@dataclass
class ModelParams(NestedConfig):
    """``model_params``: L2 penalty on the dense layers' weight matrices and, for a
    ``MultiTaskModel``, its task towers.

    Attributes:
        l2_regularization: Coefficient of ``sum(W**2)`` over dense weight matrices.
        task_towers: The tasks of a ``MultiTaskModel`` (:class:`TaskTowerConfig`), in
            dependency order.
        loss_weighting: ``fixed`` (sum of ``weight * loss``) or ``uncertainty`` (Kendall
            et al. 2018: a learned log-variance ``s_t`` per task, loss
            ``sum_t exp(-s_t) * L_t + s_t``).
        early_stopping_task: The task whose first metric early stopping follows; None: the
            ``weight``-weighted sum of every task's first metric (all of one direction).
        rank_task: The task whose probability ranks items in ``predict`` /
            ``recommend_k_items``; None: the first tower.
        rocket: Rocket Launching's light and booster nets (:class:`RocketConfig`), for a
            ``RankModel``; None: one network.
        match: The towers, similarity and loss of a ``MatchModel`` (:class:`MatchConfig`).
    """

    _nested: ClassVar = {
        "task_towers": (TaskTowerConfig, True),
        "rocket": (RocketConfig, False),
        "match": (MatchConfig, False),
    }

    l2_regularization: float = 0.0
    task_towers: list[TaskTowerConfig] = field(default_factory=list)
    rocket: RocketConfig | None = None
    match: MatchConfig | None = None
    loss_weighting: str = "fixed"
    early_stopping_task: str | None = None
    rank_task: str | None = None

    def __post_init__(self) -> None:
        check_number("l2_regularization", self.l2_regularization, owner="model_params")
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            raise ConfigError(
                f"model_params: loss_weighting {self.loss_weighting!r}; allowed: "
                f"{list(LOSS_WEIGHTINGS)}."
            )
        if len(self.task_towers) > MAX_TASKS:
            raise ConfigError(
                f"model_params: {len(self.task_towers)} task towers; at most {MAX_TASKS}."
            )
        names = [t.tower_name for t in self.task_towers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"model_params: task tower name(s) {dup} are used twice.")
        for i, tower in enumerate(self.task_towers):
            for other in tower.depends_on():
                if other == tower.tower_name:
                    raise ConfigError(f"task tower {tower.tower_name!r} depends on itself.")
                if other not in names:
                    raise ConfigError(
                        f"task tower {tower.tower_name!r} names task {other!r}, which does not "
                        f"exist; known tasks: {names}."
                    )
                if other not in names[:i]:
                    raise ConfigError(
                        f"task tower {tower.tower_name!r} depends on {other!r}, which comes "
                        "after it; list the towers in dependency order."
                    )
            if tower.entire_space_of is not None:
                base = self.task_towers[names.index(tower.entire_space_of)]
                if base.loss_type != "classification":
                    raise ConfigError(
                        f"task tower {tower.tower_name!r}: entire_space_of {base.tower_name!r} "
                        "must be a classification task."
                    )
        if self.task_towers and not any(t.weight > 0 for t in self.task_towers):
            raise ConfigError(
                f"model_params: every task tower has weight 0 ({names}); at least one task must "
                "carry loss weight."
            )
        for name in ("early_stopping_task", "rank_task"):
            value = getattr(self, name)
            if value is not None and value not in names:
                raise ConfigError(
                    f"model_params: {name} {value!r} is not a task tower; known tasks: {names}."
                )
        if self.early_stopping_task is None and self.task_towers:
            from recutils.evaluation import get_metric

            directions = {get_metric(t.metrics[0]).higher_is_better for t in self.task_towers}
            if len(directions) > 1:
                raise ConfigError(
                    "model_params: the towers' first metrics mix higher- and lower-is-better "
                    f"({[t.metrics[0] for t in self.task_towers]}); set early_stopping_task, or give every "
                    "tower a first metric of the same direction."
                )


@dataclass
class ModelConfig(NestedConfig):
    """EasyRec's ``model_config``: feature groups, backbone, regularization.

    Attributes:
        model_name: A free name (``"WideAndDeep"``).
        model_class: ``"RankModel"`` (one logit), ``"MultiTaskModel"`` (one tower and
            logit per entry of ``model_params.task_towers``, built by
            :func:`recutils.nn.multitask.build_multitask_network`) or ``"MatchModel"`` (a
            user tower and an item tower, ``model_params.match``, built by
            :func:`recutils.nn.match.build_match_network`).
        feature_groups, backbone, model_params, embedding_regularization: As in EasyRec.
            ``embedding_regularization`` is the L2 coefficient on the embedding rows looked
            up in each batch (``coef * sum(e**2) / 2``, summed over the batch, as EasyRec).
        num_class: Outputs of the head (1 for click-through rate).
    """

    _nested: ClassVar = {
        "feature_groups": (FeatureGroupConfig, True),
        "backbone": (BackboneConfig, False),
        "model_params": (ModelParams, False),
    }

    model_name: str = "DeepModel"
    model_class: str = "RankModel"
    feature_groups: list[FeatureGroupConfig] = field(default_factory=list)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    model_params: ModelParams = field(default_factory=ModelParams)
    embedding_regularization: float = 0.0
    num_class: int = 1

    def __post_init__(self) -> None:
        check_type("model_name", self.model_name, str, "a string", owner="model_config")
        if self.model_class not in MODEL_CLASSES:
            raise ConfigError(
                f"model_class {self.model_class!r} is not supported; allowed: {list(MODEL_CLASSES)}."
            )
        check_number(
            "embedding_regularization", self.embedding_regularization, owner="model_config"
        )
        if self.num_class != 1:
            raise ConfigError(
                f"model_config: num_class must be 1 (binary ranking), got {self.num_class!r}."
            )
        towers = self.model_params.task_towers
        if self.model_class == "MultiTaskModel" and not towers:
            raise ConfigError(
                "model_config: a MultiTaskModel needs model_params.task_towers (one per task)."
            )
        if self.model_class != "MultiTaskModel" and towers:
            raise ConfigError(
                f"model_config: task_towers need model_class: MultiTaskModel, not "
                f"{self.model_class!r}."
            )
        if self.model_params.rocket is not None and self.model_class != "RankModel":
            raise ConfigError(
                "model_config: model_params.rocket (Rocket Launching) is for a RankModel."
            )
        if (self.model_class == "MatchModel") != (self.model_params.match is not None):
            raise ConfigError(
                "model_config: a MatchModel needs model_params.match (its towers), and "
                "model_params.match belongs to model_class: MatchModel."
            )
        if self.feature_groups or self.backbone.blocks:
            self.validate()

    # --------------------------------------------------------------- checks
    @property
    def groups(self) -> dict[str, FeatureGroupConfig]:
        return {g.group_name: g for g in self.feature_groups}

    @property
    def feature_names(self) -> list[str]:
        """Every feature named in a group, in order of first mention."""
        seen: dict[str, None] = {}
        for g in self.feature_groups:
            seen.update(dict.fromkeys(g.feature_names))
        return list(seen)

    def block_order(self) -> list[BlockConfig]:
        """Blocks in dependency order (Kahn's algorithm, stable in declaration order).

        Raises:
            ConfigError: a cycle (naming its blocks).
        """
        blocks = {b.name: b for b in self.backbone.blocks}
        deps = {
            b.name: [i.block_name for i in b.inputs if i.block_name is not None]
            for b in self.backbone.blocks
        }
        order: list[BlockConfig] = []
        done: set[str] = set()
        pending = list(blocks)
        while pending:
            ready = [n for n in pending if all(d in done for d in deps[n])]
            if not ready:
                raise ConfigError(
                    f"the backbone blocks {pending} form a cycle (each waits for another's output); "
                    "make the block graph acyclic."
                )
            for n in ready:
                order.append(blocks[n])
                done.add(n)
            pending = [n for n in pending if n not in done]
        return order

    def validate(self) -> None:
        """Data-independent checks (see the module docstring). Raises :class:`ConfigError`."""
        from recutils.nn.components.registry import check_layer_params
        from recutils.nn.expressions import compile_input_fn

        groups = [g.group_name for g in self.feature_groups]
        dup = sorted({g for g in groups if groups.count(g) > 1})
        if dup:
            raise ConfigError(
                f"feature group name(s) {dup} are used twice; group names must be unique."
            )
        names = [b.name for b in self.backbone.blocks]
        if not names:
            raise ConfigError("backbone.blocks is empty: a model needs at least one block.")
        dup = sorted({b for b in names if names.count(b) > 1})
        if dup:
            raise ConfigError(f"block name(s) {dup} are used twice; block names must be unique.")
        for block in self.backbone.blocks:
            where = f"block {block.name!r}"
            if not block.inputs:
                raise ConfigError(
                    f"{where} has no inputs; add 'inputs' with a feature_group_name or block_name."
                )
            if (block.input_layer is None) == (block.layer is None):
                raise ConfigError(
                    f"{where} needs exactly one of 'input_layer' or 'layer' (EasyRec: keras_layer); "
                    f"it has {'both' if block.layer else 'neither'}."
                )
            for inp in block.inputs:
                if inp.feature_group_name is not None and inp.feature_group_name not in groups:
                    raise ConfigError(
                        f"{where}: unknown feature group {inp.feature_group_name!r}; known groups: {groups}."
                    )
                if inp.block_name is not None:
                    if inp.block_name not in names:
                        raise ConfigError(
                            f"{where}: unknown block {inp.block_name!r} in inputs; known blocks: {names}."
                        )
                    if inp.block_name == block.name:
                        raise ConfigError(
                            f"{where} takes its own output as input (a cycle); remove it."
                        )
                if inp.input_fn is not None:
                    try:
                        compile_input_fn(inp.input_fn)
                    except ConfigError as err:
                        raise ConfigError(f"{where}, input {inp.source!r}: {err}") from None
            sequence_inputs = [
                i.feature_group_name
                for i in block.inputs
                if getattr(self.groups.get(i.feature_group_name or ""), "wide_deep", "")
                == "SEQUENCE"
            ]
            if sequence_inputs and (
                len(block.inputs) != 1
                or block.inputs[0].input_fn is not None
                or block.input_layer is not None
            ):
                raise ConfigError(
                    f"{where}: the SEQUENCE group {sequence_inputs[0]!r} must be the block's only input, "
                    "without input_fn or input_layer options: give it a block of its own with a sequence "
                    "component (e.g. TargetAttention) and feed that block's output onward."
                )
            if block.input_layer is not None:
                if len(block.inputs) != 1 or block.inputs[0].feature_group_name is None:
                    raise ConfigError(
                        f"{where}: an input_layer block takes exactly one feature_group_name input."
                    )
            else:
                try:
                    check_layer_params(block.layer.class_name, block.layer.params)  # type: ignore[union-attr]
                except ConfigError as err:
                    raise ConfigError(f"{where}: {err}") from None
        self.block_order()
        if not self.backbone.concat_blocks:
            raise ConfigError(
                f"backbone.concat_blocks is empty; name the output block(s), e.g. [{names[-1]!r}]."
            )
        for name in self.backbone.concat_blocks:
            if name not in names:
                raise ConfigError(
                    f"concat_blocks names unknown block {name!r}; known blocks: {names}."
                )
        rocket = self.model_params.rocket
        for name in [rocket.light_block, rocket.booster_block] if rocket is not None else []:
            if name not in names:
                raise ConfigError(f"rocket: block {name!r} does not exist; known blocks: {names}.")
        match = self.model_params.match
        for name in (
            [b for b in (match.user_block, match.item_block) if b] if match is not None else []
        ):
            if name not in names:
                raise ConfigError(f"match: block {name!r} does not exist; known blocks: {names}.")
        for tower in self.model_params.task_towers:
            if tower.input is not None and tower.input not in names:
                raise ConfigError(
                    f"task tower {tower.tower_name!r}: input {tower.input!r} is not a block; "
                    f"known blocks: {names}."
                )


OPTIMIZERS = ("adam", "adamw", "adagrad", "sgd", "rmsprop", "sparse_adam")
#: Optimizers that can update the embedding tables from sparse gradients.
SPARSE_OPTIMIZERS = ("adagrad", "sparse_adam")
PARAM_SETS = ("all", "embedding", "dense")
LR_SCHEDULES = ("constant", "exponential", "step", "cosine")


@dataclass
class OptimizerConfig(NestedConfig):
    """One optimizer over a set of parameters.

    Several optimizers split a model's parameters, e.g. sparse Adam (or Adagrad) for the
    embedding tables and Adam for the dense layers::

        optimizers:
          - {name: sparse_adam, lr: 0.001, params: embedding}   # or {name: adagrad, sparse: true, ...}
          - {name: adam, lr: 0.001, params: dense}

    Attributes:
        name: ``adam``, ``adamw``, ``adagrad``, ``sgd``, ``rmsprop`` or ``sparse_adam``
            (:class:`torch.optim.SparseAdam`: embeddings only, sparse gradients).
        lr: Learning rate (before the schedule).
        params: ``all``, ``embedding`` (the embedding tables) or ``dense`` (the rest).
        weight_decay: Extra weight decay (the model's ``l2_regularization`` is added on
            the dense weight matrices).
        momentum: SGD / RMSprop momentum.
        sparse: Sparse embedding gradients: each step touches only the rows looked up
            in the batch (``adagrad`` on ``params: embedding`` without weight decay;
            always on for ``sparse_adam``). Use the model's ``embedding_regularization``
            instead of weight decay.
    """

    name: str = "adam"
    lr: float = 1e-3
    params: str = "all"
    weight_decay: float = 0.0
    momentum: float = 0.0
    sparse: bool = False

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.name!r} is unknown; allowed: {list(OPTIMIZERS)}.")
        if self.params not in PARAM_SETS:
            raise ConfigError(f"optimizer params {self.params!r}; allowed: {list(PARAM_SETS)}.")
        if not isinstance(self.sparse, bool):
            raise ConfigError(
                f"optimizer {self.name!r}: sparse must be true or false, got {self.sparse!r}."
            )
        if self.name == "sparse_adam":
            self.sparse = True
        if self.sparse:
            if self.name not in SPARSE_OPTIMIZERS:
                raise ConfigError(
                    f"optimizer {self.name!r} cannot take sparse gradients; sparse optimizers: "
                    f"{list(SPARSE_OPTIMIZERS)}."
                )
            if self.params != "embedding":
                raise ConfigError(
                    f"optimizer {self.name!r} with sparse gradients updates embedding tables "
                    f"only: set params: embedding (got {self.params!r}) and add a dense "
                    "optimizer for the rest."
                )
            if self.weight_decay:
                raise ConfigError(
                    f"optimizer {self.name!r} with sparse gradients takes no weight_decay "
                    f"(got {self.weight_decay}); use the model's embedding_regularization."
                )
        owner = f"optimizer {self.name!r}"
        check_number("lr", self.lr, strict=True, owner=owner)
        check_number("weight_decay", self.weight_decay, owner=owner)
        check_number("momentum", self.momentum, owner=owner)


def _pos_int(owner: str, name: str, value: Any, allow_none: bool = False, minimum: int = 1) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{owner}: {name} must be an integer >= {minimum}"
            f"{' or null' if allow_none else ''}, got {value!r}."
        )


#: ``TrainConfig.precision`` values (float32, or mixed precision in bfloat16 / float16).
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class TrainConfig(NestedConfig):
    """Training loop settings (see :class:`recutils.nn.trainer.Trainer`).

    Attributes:
        batch_size: Rows per step.
        epochs: Passes over the data (ignored when ``num_steps`` is set).
        num_steps: Total steps; default EasyRec's rule
            ``ceil(rows * epochs / batch_size / num_workers)``.
        num_workers: Data-parallel workers (for the ``num_steps`` rule).
        optimizers: One or more optimizers covering every parameter once.
        lr_schedule: ``constant``, ``exponential`` (``lr * rate ** (step / decay_steps)``),
            ``step`` (``lr * rate ** floor(step / decay_steps)``) or ``cosine`` (to 0).
        lr_decay_rate, lr_decay_steps: Schedule parameters.
        warmup_steps: Linear warm-up steps.
        loss: A loss of :data:`recutils.nn.losses.LOSSES`.
        early_stopping_metric: A ``recutils.evaluation`` rating metric (``auc``,
            ``logloss``, ``rmse`` ...) computed on the validation data, or null.
        patience: Evaluations in a row without improvement that are tolerated; the next
            one without improvement stops training.
        min_delta: Smallest change that counts as an improvement.
        validation_fraction: Share of the training rows held out for early stopping by
            the Recommender wrapper (0 disables).
        eval_every_steps: Evaluate every N steps (default: every epoch).
        checkpoint_every_steps: Write a checkpoint every N steps (needs a model dir).
        keep_checkpoints: Checkpoints kept on disk.
        restore_best: Restore the best validation weights at the end.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:i]``.
        progress: Show a tqdm progress bar.
        num_threads: CPU threads torch uses during training (restored afterwards);
            None leaves torch's setting alone.
        precision: ``fp32`` (default), ``bf16`` or ``fp16``: mixed precision, the forward
            pass and the loss under :func:`torch.autocast` in that type (weights and
            optimizer states stay float32); ``fp16`` also scales the loss with a
            :class:`torch.amp.GradScaler` (skipping steps whose gradients overflow).
        pin_memory: On CUDA, copy host tensors to the GPU from pinned (page-locked)
            memory, asynchronously; ignored on CPU.
        ema_decay: Keep an exponential moving average of the weights with this decay
            (e.g. ``0.999``, about the last 1,000 steps); validation, early stopping, the
            restored best state and the trained model then use the averaged weights.
            The decay ramps up as ``min(ema_decay, (1 + t) / (10 + t))`` at step ``t`` so
            that the first evaluations do not see the random initialization. Each step
            pays one pass over every parameter (embedding tables included). None: off.
    """

    _nested: ClassVar = {"optimizers": (OptimizerConfig, True)}

    batch_size: int = 1024
    epochs: int = 10
    num_steps: int | None = None
    num_workers: int = 1
    optimizers: list[OptimizerConfig] = field(default_factory=lambda: [OptimizerConfig()])
    lr_schedule: str = "constant"
    lr_decay_rate: float = 0.5
    lr_decay_steps: int = 1000
    warmup_steps: int = 0
    loss: str = "sigmoid_cross_entropy"
    early_stopping_metric: str | None = "auc"
    patience: int = 2
    min_delta: float = 0.0
    validation_fraction: float = 0.1
    eval_every_steps: int | None = None
    checkpoint_every_steps: int | None = None
    keep_checkpoints: int = 2
    restore_best: bool = True
    device: str = "auto"
    progress: bool = True
    num_threads: int | None = None
    ema_decay: float | None = None
    precision: str = "fp32"
    pin_memory: bool = True

    def __post_init__(self) -> None:
        _pos_int("train", "num_threads", self.num_threads, allow_none=True)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train: precision {self.precision!r}; allowed: {list(PRECISIONS)}.")
        check_bool("pin_memory", self.pin_memory, owner="train")
        if self.ema_decay is not None and (
            isinstance(self.ema_decay, bool)
            or not isinstance(self.ema_decay, (int, float))
            or not 0.0 < float(self.ema_decay) < 1.0
        ):
            raise ConfigError(
                f"train: ema_decay must be a number in (0, 1) or null, got {self.ema_decay!r}."
            )
        _pos_int("train", "batch_size", self.batch_size)
        _pos_int("train", "epochs", self.epochs)
        _pos_int("train", "num_steps", self.num_steps, allow_none=True)
        _pos_int("train", "num_workers", self.num_workers)
        _pos_int("train", "lr_decay_steps", self.lr_decay_steps)
        _pos_int("train", "warmup_steps", self.warmup_steps, minimum=0)
        _pos_int("train", "patience", self.patience, minimum=0)
        _pos_int("train", "eval_every_steps", self.eval_every_steps, allow_none=True)
        _pos_int("train", "checkpoint_every_steps", self.checkpoint_every_steps, allow_none=True)
        _pos_int("train", "keep_checkpoints", self.keep_checkpoints)
        if not self.optimizers:
            raise ConfigError(
                "train: optimizers is empty; give at least one, e.g. [{name: adam, lr: 0.001}]."
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"train: lr_schedule {self.lr_schedule!r}; allowed: {list(LR_SCHEDULES)}."
            )
        check_probability(
            "validation_fraction", self.validation_fraction, open_right=True, owner="train"
        )
        check_number("lr_decay_rate", self.lr_decay_rate, owner="train")
        check_number("min_delta", self.min_delta, owner="train")
        check_bool("restore_best", self.restore_best, owner="train")
        check_bool("progress", self.progress, owner="train")
        if not (
            isinstance(self.device, str)
            and (self.device in ("auto", "cpu") or self.device.startswith("cuda"))
        ):
            raise ConfigError(
                f"train: device must be 'auto', 'cpu' or 'cuda[:i]', got {self.device!r}."
            )
        if self.early_stopping_metric is not None:
            from recutils.evaluation import get_metric

            spec = get_metric(self.early_stopping_metric)
            if spec.kind != "rating":
                raise ConfigError(
                    f"train: early_stopping_metric {self.early_stopping_metric!r} is a "
                    f"{spec.kind} metric; use a rating metric such as 'auc' or 'logloss'."
                )
        sets = [o.params for o in self.optimizers]
        if "all" in sets and len(sets) > 1 or len(set(sets)) != len(sets):
            raise ConfigError(
                f"train: optimizers must cover each parameter once: use one 'all', or one "
                f"'embedding' and one 'dense'; got {sets}."
            )
        if sets == ["embedding"] or sets == ["dense"]:
            raise ConfigError(
                f"train: optimizers cover only {sets[0]!r} parameters; add the other set."
            )


def __getattr__(name: str) -> Any:
    # ``load_model_config`` moved to :mod:`recutils.nn.config_io` (which reads every kind of
    # source); this old import path resolves it on first use.
    if name == "load_model_config":
        from recutils.nn.config_io import load_model_config

        return load_model_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OPTIMIZERS",
    "OptimizerConfig",
    "PRECISIONS",
    "SPARSE_OPTIMIZERS",
    "TrainConfig",
    "BackboneConfig",
    "BlockConfig",
    "BlockInput",
    "DistillationConfig",
    "FeatureGroupConfig",
    "InputLayerOptions",
    "LayerConfig",
    "MatchConfig",
    "ModelConfig",
    "ModelParams",
    "NestedConfig",
    "RocketConfig",
    "TaskTowerConfig",
    "load_model_config",  # noqa: F822 (resolved lazily by the module __getattr__)
]
