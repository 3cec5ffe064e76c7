"""MIND against DSSM on MovieLens 100k: a paired test of per-user recall@50, and MIND's validation choice.

Paired test (default): reads the retrieval benchmark's per-user values (written by
``tools/benchmarks/movielens.py --spec retrieval``, protocol ``chrono80``, seeds 1..3), averages
each user's recall@50 over the seeds, and prints both models' mean, the mean difference with
its 95% t-interval, and the paired t-test and Wilcoxon p-values
(:func:`recutils.benchmark.paired_tests`)::

    python tools/benchmarks/mind_vs_dssm.py \\
        --per-user notebooks/06_benchmarks/results_retrieval_per_user.csv.gz

Validation (``--validation``): the shipped ``mind`` preset reads the user's history and
profile (id, age, gender, occupation); ``--validation`` fits it and a history-only variant on
the chrono80 *training* part of MovieLens 100k split again per user in time (80/20), and prints
each variant's recall@50 on that validation part (never the test part)::

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/mind_vs_dssm.py --validation --seed 1
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import run_cli  # noqa: E402

METRIC = "recall@50"


def paired_recall(
    per_user: pd.DataFrame, model: str = "mind", reference: str = "dssm", protocol: str = "chrono80"
) -> dict[str, float]:
    """Mean per-user recall@50 of ``model`` and ``reference`` (each user's mean over the seeds),
    the mean difference, its 95% t-interval and the paired t-test / Wilcoxon p-values."""
    from scipy import stats

    from recutils.benchmark import paired_tests

    part = per_user[(per_user["protocol"] == protocol) & per_user["model"].isin([model, reference])]
    test = paired_tests(part, reference=reference, metrics=[METRIC]).iloc[0]
    joined = part.pivot_table(index=["seed", "userID"], columns="model", values=METRIC).dropna()
    diff = joined.groupby(level="userID").mean().eval(f"{model} - {reference}").to_numpy()
    half = stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size)
    return {
        "n_users": int(test["n_users"]),
        "n_seeds": int(test["n_seeds"]),
        f"{model}_{METRIC}": float(test["mean_model"]),
        f"{reference}_{METRIC}": float(test["mean_reference"]),
        "mean_diff": float(test["mean_diff"]),
        "ci95_low": float(diff.mean() - half),
        "ci95_high": float(diff.mean() + half),
        "t_pvalue": float(test["t_pvalue"]),
        "wilcoxon_pvalue": float(test["wilcoxon_pvalue"]),
    }


def _capsule(**params: object) -> dict:
    return {"model_config": {"backbone": {"blocks": {"0": {"layer": {"params": params}}}}}}


HISTORY_ONLY = {"feature_groups": {"user": ["hist_movie_id"]}}
#: name -> overrides of the shipped preset (history and profile, K = 4, attention_pow 2).
VARIANTS: dict[str, dict] = {
    "history+profile": {},
    "history+user_id": {"feature_groups": {"user": ["hist_movie_id", "user_id"]}},
    "history": HISTORY_ONLY,
    "history+profile, K=1": _capsule(num_interests=1),
    "history, K=1": {**HISTORY_ONLY, **_capsule(num_interests=1)},
    "history, K=2": {**HISTORY_ONLY, **_capsule(num_interests=2)},
    "history, pow=1": {**HISTORY_ONLY, "attention_pow": 1.0},
    "history, K=2, pow=1": {**HISTORY_ONLY, **_capsule(num_interests=2), "attention_pow": 1.0},
    "history+profile, K=2": _capsule(num_interests=2),
}


def validation_recall(
    seed: int, epochs: int | None = None, names: list[str] | None = None
) -> pd.DataFrame:
    """recall@50 on a per-user 80/20 time split of the chrono80 training part of MIND variants
    (:data:`VARIANTS`, default all): the user's profile and history (the shipped preset), the
    history with the user id or alone, fewer interests, a softer attention."""
    from recutils.constants import DEFAULT_LABEL_COL
    from recutils.datasets.movielens_features import movielens_ctr_frame
    from recutils.evaluation import recall_at_k
    from recutils.models import create_model
    from recutils.splitting import python_chrono_split

    data = movielens_ctr_frame("100k").drop(columns=[DEFAULT_LABEL_COL])
    train, _ = python_chrono_split(data, ratio=0.8, filter_by="user")
    fit_part, valid = python_chrono_split(train, ratio=0.8, filter_by="user")
    base = {
        "seed": seed,
        "train": {"progress": False, "num_threads": 1, **({"epochs": epochs} if epochs else {})},
    }
    variants = {name: VARIANTS[name] for name in (names or VARIANTS)}
    rows = []
    for name, extra in variants.items():
        model = create_model("mind", **copy.deepcopy({**base, **extra})).fit(fit_part)
        top = model.recommend_k_items(valid["userID"].unique(), top_k=50, remove_seen=True)
        rows.append(
            {
                "variant": name,
                "seed": seed,
                METRIC: recall_at_k(valid, top, k=50),
                "best_epoch": model.best_epoch_,
            }
        )
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--per-user",
        default="notebooks/06_benchmarks/results_retrieval_per_user.csv.gz",
        help="per-user values of the retrieval benchmark",
    )
    p.add_argument("--model", default="mind")
    p.add_argument("--reference", default="dssm")
    p.add_argument(
        "--validation", action="store_true", help="compare MIND's user towers on a validation split"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the validation fits")
    p.add_argument(
        "--epochs", type=int, default=None, help="at most this many epochs (validation fits)"
    )
    p.add_argument(
        "--variants", nargs="*", default=None, choices=sorted(VARIANTS), help="validation variants"
    )
    args = p.parse_args(argv)
    if args.validation:
        print(validation_recall(args.seed, args.epochs, args.variants).to_string(index=False))
        return 0
    result = paired_recall(pd.read_csv(args.per_user), args.model, args.reference)
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
