"""The metric registry: one explicit table of every metric ``evaluate()`` knows.

A metric is named in text as ``"<name>"`` or ``"<name>@<k>"`` (``"ndcg@10"``,
``"rmse"``, ``"catalog_coverage@20"``). :func:`parse_metric` turns such a string into
its :class:`MetricSpec` and ``k`` with a regular expression (never ``eval``); unknown
names raise :class:`recutils.exceptions.ConfigError` listing the known ones.

The table holds the functions themselves rather than ``"module:function"`` strings
(the convention for model registries): every metric lives in this package, which is
already imported, so lazy import would buy nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from recutils.evaluation import beyond, calibration, ranking, rating
from recutils.exceptions import ConfigError

RATING = "rating"
RANKING = "ranking"
BEYOND = "beyond"
KINDS = (RATING, RANKING, BEYOND)


@dataclass(frozen=True)
class MetricSpec:
    """What the tuning, benchmark and evaluate code need to know about a metric.

    Attributes:
        name: Canonical name (``"ndcg"``, ``"rmse"`` ...).
        function: The public function (``recutils.evaluation.ndcg_at_k`` ...).
        kind: ``"rating"``, ``"ranking"`` or ``"beyond"``.
        higher_is_better: Direction for optimisation and model selection.
        takes_k: Whether the metric depends on a list length ``k`` (``"@k"``).
        bounds: ``(low, high)`` when the value is bounded, else None.
        kernel: Internal function computing a ranking metric from shared prepared
            data, or None (point-wise and beyond-accuracy metrics).
        array_kernel: Internal function computing a point-wise metric from the arrays
            ``(y_true, y_pred)`` of the joined pairs (see
            :func:`recutils.evaluation.score_arrays`), or None (other metrics).
    """

    name: str
    function: Callable
    kind: str
    higher_is_better: bool
    takes_k: bool
    bounds: tuple[float, float] | None
    kernel: Callable | None = None
    array_kernel: Callable | None = None

    @property
    def pointwise(self) -> bool:
        """Whether the metric is a function of the (true, predicted) pairs alone."""
        return self.array_kernel is not None


_SPECS = [
    MetricSpec("rmse", rating.rmse, RATING, False, False, None, array_kernel=rating._rmse),
    MetricSpec("mae", rating.mae, RATING, False, False, None, array_kernel=rating._mae),
    MetricSpec(
        "rsquared", rating.rsquared, RATING, True, False, None, array_kernel=rating._rsquared
    ),
    MetricSpec("exp_var", rating.exp_var, RATING, True, False, None, array_kernel=rating._exp_var),
    MetricSpec("auc", rating.auc, RATING, True, False, (0.0, 1.0), array_kernel=rating._auc),
    MetricSpec("logloss", rating.logloss, RATING, False, False, None, array_kernel=rating._logloss),
    MetricSpec(
        "ece",
        calibration.expected_calibration_error,
        RATING,
        False,
        False,
        (0.0, 1.0),
        array_kernel=calibration._ece,
    ),
    MetricSpec(
        "precision", ranking.precision_at_k, RANKING, True, True, (0.0, 1.0), ranking._precision
    ),
    MetricSpec("recall", ranking.recall_at_k, RANKING, True, True, (0.0, 1.0), ranking._recall),
    MetricSpec("ndcg", ranking.ndcg_at_k, RANKING, True, True, (0.0, 1.0), ranking._ndcg),
    MetricSpec("map", ranking.map_at_k, RANKING, True, True, (0.0, 1.0), ranking._map_at_k),
    MetricSpec(
        "mean_average_precision",
        ranking.mean_average_precision,
        RANKING,
        True,
        True,
        (0.0, 1.0),
        ranking._map,
    ),
    MetricSpec(
        "r_precision",
        ranking.r_precision_at_k,
        RANKING,
        True,
        True,
        (0.0, 1.0),
        ranking._r_precision,
    ),
    MetricSpec(
        "hit_ratio", ranking.hit_ratio_at_k, RANKING, True, True, (0.0, 1.0), ranking._hit_ratio
    ),
    MetricSpec("mrr", ranking.mrr_at_k, RANKING, True, True, (0.0, 1.0), ranking._mrr),
    MetricSpec("gauc", ranking.gauc, RANKING, True, False, (0.0, 1.0), ranking._gauc),
    MetricSpec("catalog_coverage", beyond.catalog_coverage, BEYOND, True, True, None),
    MetricSpec("distributional_coverage", beyond.distributional_coverage, BEYOND, True, True, None),
    MetricSpec("novelty", beyond.novelty, BEYOND, True, True, None),
    MetricSpec("diversity", beyond.diversity, BEYOND, True, True, (0.0, 1.0)),
    MetricSpec("serendipity", beyond.serendipity, BEYOND, True, True, None),
]

#: name -> spec, the registry itself.
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}

#: other accepted spellings -> canonical name.
ALIASES: dict[str, str] = {
    "precision_at_k": "precision",
    "recall_at_k": "recall",
    "ndcg_at_k": "ndcg",
    "map_at_k": "map",
    "r_precision_at_k": "r_precision",
    "hit_ratio_at_k": "hit_ratio",
    "hr": "hit_ratio",
    "mrr_at_k": "mrr",
    "r2": "rsquared",
    "expected_calibration_error": "ece",
}

_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:@\s*([0-9]+))?\s*$")


def known_metrics(kind: str | None = None) -> list[str]:
    """Canonical metric names, optionally of one kind (``"rating"``, ``"ranking"``, ``"beyond"``)."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"kind={kind!r} is not a metric kind; use one of {list(KINDS)}.")
    return [name for name, spec in METRICS.items() if kind is None or spec.kind == kind]


def get_metric(name: str) -> MetricSpec:
    """The spec registered under ``name`` (or an alias); ``"@k"`` suffixes are allowed."""
    return parse_metric(name)[0]


def parse_metric(text: str) -> tuple[MetricSpec, int | None]:
    """Parse ``"name"`` or ``"name@k"`` into (spec, k); k is None when not given.

    Raises:
        ConfigError: Malformed text, unknown name (the message lists the known ones),
            ``@k`` on a metric that takes no k, or k < 1.
    """
    if not isinstance(text, str):
        raise ConfigError(f"metric names are strings like 'ndcg@10', got {text!r}.")
    match = _NAME.match(text)
    if match is None:
        raise ConfigError(
            f"cannot parse metric {text!r}; write 'name' or 'name@k' (e.g. 'ndcg@10'). "
            f"Known metrics: {', '.join(known_metrics())}."
        )
    name = match.group(1).lower()
    name = ALIASES.get(name, name)
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric {match.group(1)!r} in {text!r}. Known metrics: {', '.join(known_metrics())} "
            f"(aliases: {', '.join(sorted(ALIASES))})."
        )
    spec = METRICS[name]
    k = int(match.group(2)) if match.group(2) is not None else None
    if k is not None and not spec.takes_k:
        raise ConfigError(f"metric {name!r} takes no '@k' (got {text!r}).")
    if k is not None and k < 1:
        raise ConfigError(f"k must be at least 1 in {text!r}.")
    return spec, k


__all__ = [
    "MetricSpec",
    "METRICS",
    "ALIASES",
    "KINDS",
    "known_metrics",
    "get_metric",
    "parse_metric",
]
