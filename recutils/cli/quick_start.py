"""``recutils quickstart``: SAR, popularity and item-KNN on MovieLens, compared.

Loads MovieLens (cache, mirror or download; the synthetic MovieLens-like set, clearly
labelled, when none is available), splits it with Microsoft Recommenders' protocol
(stratified by item, 75/25), trains SAR, popularity and item-KNN, prints MAP, nDCG,
precision, recall, catalog coverage and timings, and writes every model's top-k lists
to a CSV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from recutils.cli._args import positive_int

logger = logging.getLogger(__name__)

NAME = "quickstart"
HELP = "train SAR, popularity and item-KNN on MovieLens and compare them"
DESCRIPTION = (
    "Load MovieLens (cache, $RECUTILS_DATA_MIRROR or download; a synthetic "
    "MovieLens-like set, labelled as such, when none is available), split it "
    "75/25 stratified by item (Microsoft Recommenders' protocol), train SAR "
    "(jaccard, 30-day time decay), popularity and item-KNN, print ranking metrics "
    "and timings, and write the top-k lists to a CSV."
)
DEFAULT_OUTPUT = "quickstart_top10.csv"
#: Ratings of the synthetic stand-in when the requested MovieLens size is unavailable.
SYNTHETIC_SIZE = "mock100000"
SYNTHETIC_LABEL = "SYNTHETIC"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``recutils quickstart``."""
    parser.add_argument(
        "--size",
        default="100k",
        help="MovieLens size: 100k (default), 1m, 10m, 20m, latest-small, "
        "or mock<N> for N synthetic ratings",
    )
    parser.add_argument("--top-k", type=positive_int, default=10, help="list length (default 10)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(DEFAULT_OUTPUT),
        help=f"CSV of the top-k lists (default ./{DEFAULT_OUTPUT})",
    )
    parser.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def load_quickstart_data(size: str, progress: bool, seed: int) -> tuple[Any, str, str | None]:
    """MovieLens ratings, a label, and why the synthetic set was used (or ``None``).

    Returns:
        ``(ratings, label, fallback_reason)``; the label says ``SYNTHETIC`` for
        synthetic data (a ``mock<N>`` size, or the fallback).
    """
    from recutils.datasets.movielens import load_pandas_df
    from recutils.exceptions import DatasetUnavailableError

    if size.strip().lower().startswith("mock"):
        data = load_pandas_df(size, seed=seed, progress=progress)
        return data, f"{SYNTHETIC_LABEL} data ({size}, MovieLens-like, not real ratings)", None
    try:
        data = load_pandas_df(size, progress=progress)
    except DatasetUnavailableError as err:
        data = load_pandas_df(SYNTHETIC_SIZE, seed=seed, progress=progress)
        return (
            data,
            f"{SYNTHETIC_LABEL} data ({SYNTHETIC_SIZE}, MovieLens-like, not real ratings)",
            str(err),
        )
    return data, f"MovieLens {size}", None


def _quickstart_models(progress: bool) -> dict[str, Any]:
    from recutils.models.baselines import ItemKNN, Popularity
    from recutils.models.sar import SAR

    return {
        "sar": SAR(
            similarity_type="jaccard",
            time_decay_coefficient=30,
            timedecay_formula=True,
            progress=progress,
        ),
        "popularity": Popularity(progress=progress),
        "itemknn": ItemKNN(progress=progress),
    }


def _format_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: ``columns`` are (key, header, format)."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        cells.append([format(row[key], fmt) if fmt else str(row[key]) for key, _, fmt in columns])
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def quickstart(args: argparse.Namespace, out: TextIO) -> int:
    """Run the quick start (see the module docstring); return the exit status."""
    import pandas as pd

    from recutils.evaluation import evaluate
    from recutils.exceptions import RecUtilsError
    from recutils.splitting import python_stratified_split
    from recutils.utils.timer import Timer

    progress = not args.no_progress
    k = args.top_k
    try:
        data, label, reason = load_quickstart_data(args.size, progress, args.seed)
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if reason is not None:
        print(
            f"MovieLens {args.size} is not available, so the quick start runs on SYNTHETIC "
            f"data instead.\n  Why: {reason}\n",
            file=out,
        )
    print(f"Data: {label}", file=out)
    print(
        f"  {len(data):,} ratings, {data['userID'].nunique():,} users, "
        f"{data['itemID'].nunique():,} items",
        file=out,
    )
    train, test = python_stratified_split(
        data, ratio=0.75, min_rating=1, filter_by="item", seed=args.seed
    )
    print(
        f"  split: stratified by item, ratio 0.75, seed {args.seed}: {len(train):,} train / "
        f"{len(test):,} test rows\n",
        file=out,
    )

    metrics = [
        f"mean_average_precision@{k}",
        f"ndcg@{k}",
        f"precision@{k}",
        f"recall@{k}",
        f"catalog_coverage@{k}",
    ]
    rows, tops = [], []
    for name, model in _quickstart_models(progress).items():
        logger.info("quickstart: fitting %s", name)
        with Timer() as fit_t:
            model.fit(train)
        with Timer() as rec_t:
            top = model.recommend_k_items(test, top_k=k, remove_seen=True)
        values = evaluate(test, top, metrics, train_df=train, k=k)
        rows.append(
            {
                "model": name,
                **dict(zip(("map", "ndcg", "precision", "recall", "coverage"), values.values())),
                "fit_s": fit_t.interval,
                "recommend_s": rec_t.interval,
            }
        )
        tops.append(top.assign(model=name))

    title = f"Top-{k} recommendations on {label}"
    print(title, file=out)
    print("=" * len(title), file=out)
    print(
        _format_table(
            rows,
            [
                ("model", "model", ""),
                ("map", "MAP", ".4f"),
                ("ndcg", f"nDCG@{k}", ".4f"),
                ("precision", f"Precision@{k}", ".4f"),
                ("recall", f"Recall@{k}", ".4f"),
                ("coverage", f"Coverage@{k}", ".4f"),
                ("fit_s", "fit (s)", ".2f"),
                ("recommend_s", "recommend (s)", ".2f"),
            ],
        ),
        file=out,
    )
    print(
        "\nMAP is Microsoft Recommenders' mean average precision (`map`); coverage is the "
        "share of training items recommended to someone.",
        file=out,
    )

    frame = pd.concat(tops, ignore_index=True)[["model", "userID", "itemID", "prediction", "rank"]]
    output = Path(args.output)
    if output.parent != Path(""):
        output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    print(
        f"\nWrote {len(frame):,} rows (model, userID, itemID, prediction, rank) to {output}",
        file=out,
    )
    if label.startswith(SYNTHETIC_LABEL):
        print("Note: these figures are on SYNTHETIC data, not MovieLens.", file=out)
    return 0


run_command = quickstart

__all__ = [
    "DEFAULT_OUTPUT",
    "SYNTHETIC_LABEL",
    "SYNTHETIC_SIZE",
    "add_arguments",
    "load_quickstart_data",
    "quickstart",
]
