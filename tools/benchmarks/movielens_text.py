"""The news models against DeepFM without text on the MovieLens 100k click-through task.

The task is :func:`recutils.datasets.movielens_news.load_movielens_click_task`: a row per
rating, clicked when the rating is at least 4, item text = the movie's name and genres,
category = its first genre, subcategory = its genre list, entities from the ml-100k KG
links (KB4Rec Freebase ids), histories = the user's earlier likes, the last 20% of each
user's ratings held out. The models (``--models``, default all six, in this order), each
over ``--seeds`` on the same split:

* ``deepfm``: the zoo's DeepFM on the user and movie ids only (no text, no history): the
  reference every other model is tested against, so it is always run;
* ``nrms``: NRMS on the titles and the histories (4 heads of ``--dim / 4``);
* ``naml``: NAML on the titles, categories and subcategories and the histories (no
  abstract view: the task has none);
* ``lstur``: LSTUR on the titles, categories, subcategories and histories, with a user-id
  embedding as the GRU's initial state;
* ``npa``: NPA on the titles and histories, with a user-id embedding querying both
  attentions;
* ``dkn``: DKN on the titles, the entities and their KG neighbours (context), entity
  vectors from TransE on the ml-100k KG (:mod:`recutils.models.kg`; ``--no-kg``: no
  entities, DKN on words only; the ``entity_init`` column says which).

Every width of the news models is ``--dim`` (words, the CNN models' filters, NAML's
category embeddings, LSTUR's GRU, NPA's user embeddings; DKN: ``--filters`` per width);
attention layers are 64 wide; all train ``--epochs`` epochs with Adam at 1e-3 in batches
of 64.

Metrics on the test rows of movies seen in training (DeepFM gives the others ``NaN``): ``auc`` over all rows, and ``user_auc``, the mean over users of
each user's AUC (users with both a click and a non-click). The paired test compares each
user's AUC (averaged over the seeds) of a model with DeepFM's
(:func:`recutils.benchmark.paired_tests`: t-test and Wilcoxon, Holm-adjusted); DeLong's
test compares the pooled AUCs seed by seed (:func:`recutils.benchmark.stats.delong_test`,
``delong_p_max``: the largest p-value of the seeds). Writes one row per model to
``--out`` (default ``notebooks/06_benchmarks/results_movielens_text.csv``) and prints it::

    RECUTILS_DATA_MIRROR=../shared/data nice -n 10 python tools/benchmarks/movielens_text.py \\
        --users 60 --epochs 2

``--users N`` keeps the first N users (by id) for a run of minutes; the default is all 943.
The committed run: ``--users 60 --epochs 2 --seeds 1 2 3 --transe-epochs 10``.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import MachineRecord, run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "notebooks" / "06_benchmarks" / "results_movielens_text.csv"
#: Every model the script runs, in the order of the table; ``deepfm`` is the reference.
MODELS = ("deepfm", "nrms", "naml", "lstur", "npa", "dkn")
REFERENCE = "deepfm"
IDS_ONLY = {
    "features": [
        {"name": "user_id", "column": "@user", "min_count": 3},
        {"name": "movie_id", "column": "@item", "min_count": 3},
    ],
    "feature_groups": {"wide": ["user_id", "movie_id"], "deep": ["user_id", "movie_id"]},
}


def _entity_vectors(kg: Any, dim: int, epochs: int, seed: int, folder: Path) -> str:
    """TransE vectors of the KG, written as a ``.vec`` file (DKN's ``entity_vec_path``)."""
    from recutils.models.kg import KGEmbedding, write_vec

    kge = KGEmbedding(model="transe", embedding_dim=dim, n_epochs=epochs, seed=seed)
    kge.fit(kg)
    return str(write_vec(folder / "entity_embedding.vec", kg.entities, kge.entity_embeddings_))


def _models(args: Any, seed: int, files: dict[str, str | None]) -> dict[str, Any]:
    from recutils.models import create_model

    run = {"seed": seed, "num_threads": 1, "progress": False}
    cnn = {"filter_num": args.dim, "attention_hidden_dim": 64}
    text = {
        "title_size": args.title_size,
        "his_size": args.his_size,
        "word_emb_dim": args.dim,
        "n_epochs": args.epochs,
        "batch_size": 64,
        "learning_rate": 1e-3,
    }
    return {
        "deepfm": lambda: create_model(
            "deepfm",
            col_rating="label",
            seed=seed,
            num_threads=1,
            progress=False,
            train={"epochs": max(args.epochs, 10), "progress": False},
            **IDS_ONLY,
        ),
        "nrms": lambda: create_model(
            "nrms", **run, **text, head_num=4, head_dim=args.dim // 4, attention_hidden_dim=64
        ),
        "naml": lambda: create_model(
            "naml", **run, **text, **cnn, body_size=0, category_dim=args.dim
        ),
        "lstur": lambda: create_model(
            "lstur", **run, **text, **cnn, gru_unit=args.dim, long_short="ini"
        ),
        "npa": lambda: create_model("npa", **run, **text, **cnn, user_emb_dim=args.dim),
        "dkn": lambda: create_model(
            "dkn",
            **run,
            **text,
            entity_emb_dim=args.dim,
            filter_num=args.filters,
            attention_hidden_dim=64,
            layer_sizes=[64],
            entity_vec_path=files["entity_vec"],
            kg_neighbours_path=files["neighbours"],
        ),
    }


def _fit_predict(name: str, model: Any, task: Any) -> np.ndarray:
    if name == "deepfm":
        cols = ["userID", "itemID", "label"]
        model.fit(task.train[cols])
        return model.predict(task.test[["userID", "itemID"]])["prediction"].to_numpy()
    model.fit(task.train, task.news)
    return model.predict(task.test)["prediction"].to_numpy()


def run(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        help=f"models to run (default: all; {REFERENCE}, the reference, is always run)",
    )
    p.add_argument("--users", type=int, default=None, help="keep the first N users (by id)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=int, default=3, help="news models' epochs")
    p.add_argument("--dim", type=int, default=64, help="word / entity / news vector width")
    p.add_argument("--filters", type=int, default=32, help="DKN filters per width (3 widths)")
    p.add_argument("--title-size", type=int, default=16)
    p.add_argument("--his-size", type=int, default=20)
    p.add_argument("--transe-epochs", type=int, default=20)
    p.add_argument("--no-kg", action="store_true", help="no entities (DKN on words only)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    names = [m for m in MODELS if m == REFERENCE or m in args.models]

    from recutils.benchmark import paired_tests
    from recutils.benchmark.stats import delong_test
    from recutils.datasets import movielens
    from recutils.datasets.movielens_news import movielens_click_task
    from recutils.evaluation.impressions import impression_metrics

    ratings = movielens.load_pandas_df("100k", progress=False)
    if args.users:
        keep = np.sort(ratings["userID"].unique())[: args.users]
        ratings = ratings[ratings["userID"].isin(keep)]
    items = movielens.load_item_df("100k", progress=False)
    kg = None
    if not args.no_kg:
        from recutils.datasets.kg import load_kg

        kg = load_kg("ml-100k", progress=False)
    task = movielens_click_task(ratings, items, kg, his_size=args.his_size)
    print("task:", task.report)
    record = MachineRecord(
        args.out, "tools/benchmarks/movielens_text.py", list(argv or sys.argv[1:])
    )

    folder = Path(tempfile.mkdtemp(prefix="ml_text_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the TransE vectors are scratch
    files: dict[str, str | None] = {"entity_vec": None, "neighbours": None}
    if kg is not None and "dkn" in names:
        import json

        files["neighbours"] = str(folder / "neighbours.json")
        Path(files["neighbours"]).write_text(json.dumps(task.neighbours))
        start = time.perf_counter()
        files["entity_vec"] = _entity_vectors(kg, args.dim, args.transe_epochs, 1, folder)
        print(f"TransE: {time.perf_counter() - start:.0f} s")
    entity_init = "transe" if files["entity_vec"] else ("random" if kg is not None else "none")

    # DeepFM cannot score movies it never saw in training (NaN): every model is scored on
    # the test rows of movies seen in training
    warm = task.test["itemID"].isin(task.train["itemID"]).to_numpy()
    print(f"{int((~warm).sum())} of {warm.size} test rows are of movies not in training (left out)")
    labels = task.test["label"].to_numpy()[warm]
    users = task.test["userID"].to_numpy()[warm]
    rows, per_user, scores = [], [], {}
    for seed in args.seeds:
        makers = _models(args, seed, files)
        for name in names:
            make = makers[name]
            start = time.perf_counter()
            pred = _fit_predict(name, make(), task)[warm]
            seconds = time.perf_counter() - start
            scores[name, seed] = pred
            by_user = impression_metrics(users, labels, pred, metrics=("auc",))
            per_user.append(
                pd.DataFrame(
                    {
                        "userID": by_user.index,
                        "auc": by_user["auc"].to_numpy(),
                        "model": name,
                        "seed": seed,
                    }
                )
            )
            auc = float(
                impression_metrics(np.zeros(labels.size), labels, pred, ("auc",))["auc"].iloc[0]
            )
            rows.append(
                {
                    "model": name,
                    "seed": seed,
                    "auc": auc,
                    "user_auc": float(by_user["auc"].mean()),
                    "seconds": seconds,
                }
            )
            print(
                f"seed {seed} {name:7s} auc {auc:.4f} user_auc {rows[-1]['user_auc']:.4f} "
                f"({seconds:.0f} s)"
            )
    runs = pd.DataFrame(rows)
    frame = pd.concat(per_user, ignore_index=True)
    frame = frame.assign(dataset="ml-100k-text", protocol="chrono80")
    tests = paired_tests(
        frame[["dataset", "protocol", "model", "seed", "userID", "auc"]],
        reference=REFERENCE,
        metrics=["auc"],
    )
    summary = runs.groupby("model", sort=False).agg(
        auc_mean=("auc", "mean"),
        auc_std=("auc", "std"),
        user_auc_mean=("user_auc", "mean"),
        user_auc_std=("user_auc", "std"),
        seconds_mean=("seconds", "mean"),
        n_seeds=("seed", "nunique"),
    )
    delong = {
        name: max(
            delong_test(labels, scores[name, s], scores[REFERENCE, s])["pvalue"] for s in args.seeds
        )
        for name in names
        if name != REFERENCE
    }
    tests = tests.set_index("model")
    summary["user_auc_diff_vs_deepfm"] = tests["mean_diff"]
    summary["t_pvalue_holm"] = tests["t_pvalue_holm"]
    summary["wilcoxon_pvalue_holm"] = tests["wilcoxon_pvalue_holm"]
    summary["n_users_paired"] = tests["n_users"]
    summary["delong_p_max"] = pd.Series(delong)
    summary["entity_init"] = np.where(summary.index == "dkn", entity_init, "")
    summary["n_users"] = task.report["n_users"]
    summary["n_train"] = task.report["n_train"]
    summary["n_test"] = int(warm.sum())
    summary["epochs"] = args.epochs
    summary = summary.reset_index()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(args.out, index=False, float_format="%.6g")
    record.finish(len(summary))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.to_string(index=False, float_format=lambda x: f"{x:0.4f}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
