"""The ``recutils`` command line (also ``python -m recutils``).

Subcommands:

* ``recutils quickstart``: load MovieLens (cache, mirror or download; the
  synthetic MovieLens-like set, clearly labelled, when none is available), split
  it with Microsoft Recommenders' protocol (stratified by item, 75/25), train SAR,
  popularity and item-KNN, print MAP, nDCG, precision, recall, catalog coverage
  and timings, and write every model's top-k lists to a CSV.
* ``recutils models``: list the registered models.
* ``recutils serve --artifact PATH | --store URL``: the HTTP recommendation service
  (:mod:`recutils.serving.app`).

The library never prints; this module is where recutils talks to a terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = "quickstart_top10.csv"
#: Ratings of the synthetic stand-in when the requested MovieLens size is unavailable.
SYNTHETIC_SIZE = "mock100000"
SYNTHETIC_LABEL = "SYNTHETIC"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``recutils`` command."""
    from recutils import __version__

    parser = argparse.ArgumentParser(
        prog="recutils",
        description="recutils: recommender systems toolkit. Try `recutils quickstart`.")
    parser.add_argument("--version", action="version", version=f"recutils {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log progress (-v: info, -vv: debug) to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    qs = sub.add_parser(
        "quickstart",
        help="train SAR, popularity and item-KNN on MovieLens and compare them",
        description=(
            "Load MovieLens (cache, $RECUTILS_DATA_MIRROR or download; a synthetic "
            "MovieLens-like set, labelled as such, when none is available), split it "
            "75/25 stratified by item (Microsoft Recommenders' protocol), train SAR "
            "(jaccard, 30-day time decay), popularity and item-KNN, print ranking metrics "
            "and timings, and write the top-k lists to a CSV."))
    qs.add_argument("--size", default="100k",
                    help="MovieLens size: 100k (default), 1m, 10m, 20m, latest-small, "
                         "or mock<N> for N synthetic ratings")
    qs.add_argument("--top-k", type=_positive_int, default=10, help="list length (default 10)")
    qs.add_argument("--output", type=Path, default=Path(DEFAULT_OUTPUT),
                    help=f"CSV of the top-k lists (default ./{DEFAULT_OUTPUT})")
    qs.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    qs.add_argument("--no-progress", action="store_true", help="no progress bars")
    qs.set_defaults(func=quickstart)

    models = sub.add_parser("models", help="list the registered models")
    models.set_defaults(func=_list_models)

    serve = sub.add_parser(
        "serve", help="serve recommendations over HTTP from an artifact and/or a store",
        description="Start the recommendation service (FastAPI + uvicorn; the `serving` extra). "
                    "Give --artifact (a folder written by recutils.serving.save_artifact, scored "
                    "on the fly) and/or --store (sqlite:///recs.db or redis://host:port/0).")
    serve.add_argument("--artifact", type=Path, default=None, help="artifact folder")
    serve.add_argument("--store", default=None, help="store URL of precomputed recommendations")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--trust", action="store_true",
                       help="allow artifacts with pickled files (trusted sources only)")
    serve.add_argument("--max-k", type=_positive_int, default=100, help="largest k (default 100)")
    serve.add_argument("--max-batch", type=_positive_int, default=1000,
                       help="most users or pairs per POST (default 1000)")
    serve.add_argument("--artifact-root", type=Path, default=None,
                       help="enable POST /v1/admin/artifact for artifacts under this folder "
                            "(needs an admin token as well)")
    serve.add_argument("--admin-token-file", type=Path, default=None,
                       help="file whose first line is the admin token (header X-Admin-Token); "
                            "default: $RECUTILS_ADMIN_TOKEN. Without a token the admin "
                            "routes are off")
    serve.add_argument("--admin-token", default=None,
                       help="the admin token itself (visible in `ps`: prefer "
                            "--admin-token-file or $RECUTILS_ADMIN_TOKEN)")
    serve.add_argument("--log-level", default="warning", help="uvicorn log level")
    serve.set_defaults(func=_serve)
    return parser


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``recutils serve`` until interrupted; return the exit status."""
    from recutils.exceptions import RecUtilsError

    if args.artifact is None and args.store is None:
        print("error: give --artifact PATH and/or --store URL", file=sys.stderr)
        return 2
    try:
        from recutils.serving.app import create_app
        from recutils.utils.deps import require

        from recutils.serving.service import resolve_admin_token

        uvicorn = require("uvicorn", "serving")
        token = resolve_admin_token(args.admin_token, args.admin_token_file)
        app = create_app(artifact=args.artifact, store=args.store, trust=args.trust,
                         max_k=args.max_k, max_batch=args.max_batch,
                         artifact_root=args.artifact_root, admin_token=token)
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.artifact_root is not None and token is None:
        print("note: admin routes are off: --artifact-root needs an admin token "
              "($RECUTILS_ADMIN_TOKEN or --admin-token-file).", file=sys.stderr)
    print(f"recutils serve: {app.state.service.mode} on http://{args.host}:{args.port} "
          "(docs at /docs)", file=out, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=False)
    return 0


def _list_models(args: argparse.Namespace, out: TextIO) -> int:
    from recutils.models import list_models

    for name in list_models():
        print(name, file=out)
    return 0


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
        return (data, f"{SYNTHETIC_LABEL} data ({SYNTHETIC_SIZE}, MovieLens-like, not real "
                      "ratings)", str(err))
    return data, f"MovieLens {size}", None


def _quickstart_models(progress: bool) -> dict[str, Any]:
    from recutils.models.baselines import ItemKNN, Popularity
    from recutils.models.sar import SAR

    return {
        "sar": SAR(similarity_type="jaccard", time_decay_coefficient=30, timedecay_formula=True,
                   progress=progress),
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
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths))))
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
        print(f"MovieLens {args.size} is not available, so the quick start runs on SYNTHETIC "
              f"data instead.\n  Why: {reason}\n", file=out)
    print(f"Data: {label}", file=out)
    print(f"  {len(data):,} ratings, {data['userID'].nunique():,} users, "
          f"{data['itemID'].nunique():,} items", file=out)
    train, test = python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item",
                                          seed=args.seed)
    print(f"  split: stratified by item, ratio 0.75, seed {args.seed}: {len(train):,} train / "
          f"{len(test):,} test rows\n", file=out)

    metrics = [f"mean_average_precision@{k}", f"ndcg@{k}", f"precision@{k}", f"recall@{k}",
               f"catalog_coverage@{k}"]
    rows, tops = [], []
    for name, model in _quickstart_models(progress).items():
        logger.info("quickstart: fitting %s", name)
        with Timer() as fit_t:
            model.fit(train)
        with Timer() as rec_t:
            top = model.recommend_k_items(test, top_k=k, remove_seen=True)
        values = evaluate(test, top, metrics, train_df=train, k=k)
        rows.append({"model": name, **dict(zip(("map", "ndcg", "precision", "recall",
                                                "coverage"), values.values())),
                     "fit_s": fit_t.interval, "recommend_s": rec_t.interval})
        tops.append(top.assign(model=name))

    title = f"Top-{k} recommendations on {label}"
    print(title, file=out)
    print("=" * len(title), file=out)
    print(_format_table(rows, [
        ("model", "model", ""), ("map", "MAP", ".4f"), ("ndcg", f"nDCG@{k}", ".4f"),
        ("precision", f"Precision@{k}", ".4f"), ("recall", f"Recall@{k}", ".4f"),
        ("coverage", f"Coverage@{k}", ".4f"), ("fit_s", "fit (s)", ".2f"),
        ("recommend_s", "recommend (s)", ".2f"),
    ]), file=out)
    print("\nMAP is Microsoft Recommenders' mean average precision (`map`); coverage is the "
          "share of training items recommended to someone.", file=out)

    frame = pd.concat(tops, ignore_index=True)[["model", "userID", "itemID", "prediction", "rank"]]
    output = Path(args.output)
    if output.parent != Path(""):
        output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    print(f"\nWrote {len(frame):,} rows (model, userID, itemID, prediction, rank) to {output}",
          file=out)
    if label.startswith(SYNTHETIC_LABEL):
        print("Note: these figures are on SYNTHETIC data, not MovieLens.", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recutils`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args, sys.stdout))


__all__ = ["build_parser", "load_quickstart_data", "main", "quickstart"]
