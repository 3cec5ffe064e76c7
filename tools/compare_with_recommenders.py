"""Check recutils.evaluation against Microsoft Recommenders on the same data.

Builds MovieLens-like synthetic data (skewed item popularity, ratings 1-5, scores
with ties, users only in the truth or only in the predictions), computes every
metric the two libraries share in both, and prints a table with the absolute
differences. Exit status 1 if any difference exceeds the tolerance (1e-9).

Usage (the peer runs in its own interpreter, e.g. a venv with recommenders==1.2.1):

    python tools/compare_with_recommenders.py --peer-python /path/to/refvenv/bin/python

Microsoft Recommenders is never imported by recutils; this script only talks to it
through a subprocess.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import recutils.evaluation as ev

TOL = 1e-9

# (label, function name in recutils, function name in MS, kwargs); frames by name
RANKING_CASES: list[tuple[str, str, str, dict]] = []
for _k in (1, 5, 10, 50):
    for _ours, _theirs in (
        ("precision_at_k", "precision_at_k"),
        ("recall_at_k", "recall_at_k"),
        ("map_at_k", "map_at_k"),
        ("mean_average_precision", "map"),
        ("r_precision_at_k", "r_precision_at_k"),
        ("ndcg_at_k", "ndcg_at_k"),
    ):
        RANKING_CASES.append((f"{_ours}@{_k}", _ours, _theirs, {"k": _k}))
for _st in ("binary", "raw", "exp"):
    for _df in ("loge", "log2"):
        RANKING_CASES.append(
            (
                f"ndcg_at_k@10 {_st}/{_df}",
                "ndcg_at_k",
                "ndcg_at_k",
                {"k": 10, "score_type": _st, "discfun_type": _df},
            )
        )
for _ours, _theirs in (
    ("precision_at_k", "precision_at_k"),
    ("recall_at_k", "recall_at_k"),
    ("map_at_k", "map_at_k"),
    ("mean_average_precision", "map"),
    ("r_precision_at_k", "r_precision_at_k"),
    ("ndcg_at_k", "ndcg_at_k"),
):
    RANKING_CASES.append(
        (
            f"{_ours} by_threshold(5)@10",
            _ours,
            _theirs,
            {"k": 10, "relevancy_method": "by_threshold", "threshold": 5},
        )
    )
    RANKING_CASES.append(
        (
            f"{_ours} None@10",
            _ours,
            _theirs,
            {"k": 10, "relevancy_method": None, "_pred": "pred_topk"},
        )
    )

RATING_CASES = [
    ("rmse", {}),
    ("mae", {}),
    ("rsquared", {}),
    ("exp_var", {}),
    ("auc", {"_true": "true_bin", "_pred": "pred_prob"}),
    ("logloss", {"_true": "true_bin", "_pred": "pred_prob"}),
]

BEYOND_SCALAR = [
    "catalog_coverage",
    "distributional_coverage",
    "novelty",
    "diversity",
    "serendipity",
]
BEYOND_FRAMES = [
    ("user_diversity", "user_diversity"),
    ("user_serendipity", "user_serendipity"),
    ("user_item_serendipity", "user_item_serendipity"),
    ("historical_item_novelty", "item_novelty"),
]


def make_data(seed: int = 42, n_users: int = 300, n_items: int = 400) -> dict[str, pd.DataFrame]:
    """MovieLens-like frames: train, truth (test), scored candidates, top-k lists, features."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop /= pop.sum()
    rows = []
    for u in range(n_users):
        n = int(rng.integers(20, 80))
        items = rng.choice(n_items, size=n, replace=False, p=pop)
        rows.append(
            pd.DataFrame(
                {
                    "userID": u,
                    "itemID": items,
                    "rating": rng.integers(1, 6, size=n).astype(np.float64),
                }
            )
        )
    data = pd.concat(rows, ignore_index=True)
    is_test = rng.random(len(data)) < 0.25
    train, true = data[~is_test].reset_index(drop=True), data[is_test].reset_index(drop=True)
    true = true[true["userID"] % 29 != 0]  # some users only in predictions
    true = pd.concat(
        [
            true,
            pd.DataFrame(
                {"userID": [n_users + 1, n_users + 1], "itemID": [0, 1], "rating": [4.0, 5.0]}
            ),
        ],
        ignore_index=True,
    )  # truth only
    # candidates: every item a user has not rated in train; scores rounded to get ties
    users = np.repeat(np.arange(n_users), n_items)
    items = np.tile(np.arange(n_items), n_users)
    seen = set(zip(train["userID"], train["itemID"]))
    keep = np.array([(u, i) not in seen for u, i in zip(users, items)])
    users, items = users[keep], items[keep]
    score = np.round(rng.random(users.size) * 5 + pop[items] * 200, 1)
    pred = pd.DataFrame({"userID": users, "itemID": items, "prediction": score})
    pred = pred.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # shuffled rows
    pred_topk = ev.get_top_k_items(pred, col_rating="prediction", k=10).drop(columns="rank")
    # rating-metric frames: predictions for the test pairs plus noise rows
    pred_rating = true[["userID", "itemID"]].copy()
    pred_rating["prediction"] = true["rating"].to_numpy() + rng.normal(0, 1, len(true))
    true_bin = true.copy()
    true_bin["rating"] = (true["rating"] >= 4).astype(np.float64)
    pred_prob = pred_rating.copy()
    pred_prob["prediction"] = 1 / (1 + np.exp(-(pred_rating["prediction"].to_numpy() - 3)))
    reco = pred_topk.copy()
    reco["relevance"] = rng.integers(0, 2, len(reco)).astype(np.float64)
    feats = rng.random((n_items, 8))
    return {
        "train": train,
        "true": true,
        "pred": pred,
        "pred_topk": pred_topk,
        "pred_rating": pred_rating,
        "true_bin": true_bin,
        "pred_prob": pred_prob,
        "reco": reco,
        "feat_matrix": pd.DataFrame(feats, columns=[f"f{j}" for j in range(8)]),
    }


def _frames_ours(data):
    feats = pd.DataFrame(
        {
            "itemID": np.arange(len(data["feat_matrix"])),
            "features": list(data["feat_matrix"].to_numpy()),
        }
    )
    return feats


PEER_SCRIPT = r"""
import json, sys, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
from recommenders.evaluation import python_evaluation as pe
def load(p):
    with np.load(p, allow_pickle=False) as z:
        return pd.DataFrame({c: z[c] for c in z.files})
paths, cases = json.loads(sys.argv[1]), json.loads(sys.argv[2])
D = {k: load(v) for k, v in paths.items()}
F = D["feat_matrix"].to_numpy()
feats = pd.DataFrame({"itemID": np.arange(len(F)), "features": list(F)})
out = {}
for label, fn, kw in cases["ranking"] + cases["rating"]:
    kw = dict(kw); t = D[kw.pop("_true", "true")]
    p = D[kw.pop("_pred", "pred_rating" if label in dict(cases["rating_names"]) else "pred")]
    out[label] = float(getattr(pe, fn)(t, p, **kw))
for label, fn, kw in cases["beyond"]:
    kw = dict(kw); reco = D["reco"] if kw.pop("_rel", False) else D["reco"][["userID", "itemID"]]
    if kw.pop("_feat", False):
        kw.update(item_feature_df=feats, item_sim_measure="item_feature_vector")
    res = getattr(pe, fn)(D["train"][["userID", "itemID"]], reco, **kw)
    if isinstance(res, pd.DataFrame):
        col = [c for c in res.columns if c not in ("userID", "itemID")][0]
        out[label] = {"keys": res.drop(columns=[col]).astype(float).to_numpy().tolist(),
                      "values": res[col].astype(float).tolist()}
    else:
        out[label] = float(res)
top = pe.get_top_k_items(D["pred"], col_rating="prediction", k=10)
out["get_top_k_items"] = top[["userID", "itemID", "rank"]].astype(float).to_numpy().tolist()
print("PEER_RESULT " + json.dumps(out))
"""


def beyond_cases() -> list[tuple[str, str, dict]]:
    cases = []
    for feat in (False, True):
        tag = " (features)" if feat else ""
        for name in BEYOND_SCALAR:
            if name in ("catalog_coverage", "distributional_coverage", "novelty") and feat:
                continue
            kw = {"_feat": True} if feat else {}
            cases.append((name + tag, name, kw))
        for name, _ in BEYOND_FRAMES:
            if name == "historical_item_novelty" and feat:
                continue
            cases.append((name + tag, name, {"_feat": True} if feat else {}))
    cases.append(
        ("serendipity (relevance)", "serendipity", {"_rel": True, "col_relevance": "relevance"})
    )
    cases.append(
        (
            "user_item_serendipity (relevance)",
            "user_item_serendipity",
            {"_rel": True, "col_relevance": "relevance"},
        )
    )
    return cases


def ours(data: dict[str, pd.DataFrame]) -> dict:
    feats = _frames_ours(data)
    out = {}
    for label, fn, _theirs, kw in RANKING_CASES:
        kw = dict(kw)
        t, p = data[kw.pop("_true", "true")], data[kw.pop("_pred", "pred")]
        out[label] = float(getattr(ev, fn)(t, p, **kw))
    for label, kw in RATING_CASES:
        kw = dict(kw)
        t, p = data[kw.pop("_true", "true")], data[kw.pop("_pred", "pred_rating")]
        out[label] = float(getattr(ev, label)(t, p, **kw))
    for label, fn, kw in beyond_cases():
        kw = dict(kw)
        reco = data["reco"] if kw.pop("_rel", False) else data["reco"][["userID", "itemID"]]
        if kw.pop("_feat", False):
            kw.update(item_feature_df=feats, item_sim_measure="item_feature_vector")
        res = getattr(ev, fn)(data["train"][["userID", "itemID"]], reco, **kw)
        if isinstance(res, pd.DataFrame):
            col = [c for c in res.columns if c not in ("userID", "itemID")][0]
            out[label] = {
                "keys": res.drop(columns=[col]).astype(float).to_numpy().tolist(),
                "values": res[col].astype(float).tolist(),
            }
        else:
            out[label] = float(res)
    top = ev.get_top_k_items(data["pred"], col_rating="prediction", k=10)
    out["get_top_k_items"] = top[["userID", "itemID", "rank"]].astype(float).to_numpy().tolist()
    return out


def peer(python: str, data: dict[str, pd.DataFrame]) -> dict:
    cases = {
        "ranking": [(label, theirs, kw) for label, _o, theirs, kw in RANKING_CASES],
        "rating": [(label, label, kw) for label, kw in RATING_CASES],
        "rating_names": [(label, 1) for label, _ in RATING_CASES],
        "beyond": beyond_cases(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, df in data.items():
            path = Path(tmp) / f"{name}.npz"
            np.savez(path, **{str(c): df[c].to_numpy() for c in df.columns})
            paths[name] = str(path)
        proc = subprocess.run(
            [python, "-c", PEER_SCRIPT, json.dumps(paths), json.dumps(cases)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-5000:])
        raise RuntimeError(f"peer run failed with exit code {proc.returncode}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PEER_RESULT "))
    return json.loads(line[len("PEER_RESULT ") :])


def _diff(a, b) -> float:
    if isinstance(a, dict):
        if a["keys"] != b["keys"] or len(a["values"]) != len(b["values"]):
            return float("inf")
        return float(np.max(np.abs(np.subtract(a["values"], b["values"])), initial=0.0))
    if isinstance(a, list):
        return 0.0 if a == b else float("inf")
    if np.isnan(a) and np.isnan(b):
        return 0.0
    return abs(a - b)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer-python", required=True, help="interpreter with recommenders installed")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    data = make_data(args.seed)
    mine, theirs = ours(data), peer(args.peer_python, data)
    rows = []
    for label, value in mine.items():
        d = _diff(value, theirs[label])

        def show(v):
            if isinstance(v, float):
                return f"{v:.12f}"
            return f"[{len(v['values']) if isinstance(v, dict) else len(v)} rows]"

        rows.append(
            {
                "metric": label,
                "recutils": show(value),
                "recommenders": show(theirs[label]),
                "abs diff": d,
                "ok": d <= TOL,
            }
        )
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.to_string(index=False))
    bad = table[~table["ok"]]
    print(f"\n{len(table) - len(bad)}/{len(table)} metrics agree within {TOL:g}")
    return 1 if len(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
