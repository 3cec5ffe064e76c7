"""SAR quality on MovieLens 100k, and Microsoft Recommenders' SAR on the same split.

    python tools/benchmarks/quality_sar_movielens.py
    python tools/benchmarks/quality_sar_movielens.py --peer-python PEER_PYTHON  # an interpreter with recommenders==1.2.1

Protocol of Microsoft Recommenders' SAR quick start: ``python_stratified_split(data,
ratio=0.75, min_rating=1, filter_by="item", seed=42)``, SAR with
``similarity_type="jaccard", time_decay_coefficient=30, timedecay_formula=True``,
top 10 with seen items removed. Metrics come from :mod:`recutils.evaluation` for
both models (``map`` = :func:`mean_average_precision`, Microsoft's ``map``; ``map@k``
= :func:`map_at_k`). With ``--peer-python`` Microsoft's SAR is fit on *our*
split in that interpreter and its top-k lists are scored here, so the two models
are compared on identical data. The real data comes from the data mirror
(``RECUTILS_DATA_MIRROR``, default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.datasets.movielens import load_pandas_df
from recutils.evaluation import (
    map_at_k,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from recutils.models.sar import SAR
from recutils.splitting import python_stratified_split

TOP_K = 10
PARAMS = {"similarity_type": "jaccard", "time_decay_coefficient": 30, "timedecay_formula": True}
# Microsoft Recommenders 1.2.1 on its own split (its SAR quick start / benchmark table).
MS_PUBLISHED = {"map": 0.1140, "ndcg@10": 0.3938, "precision@10": 0.3406, "recall@10": 0.1854}


def split_movielens(seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens 100k, split as in Microsoft's SAR quick start."""
    data = load_pandas_df("100k", progress=False)
    train, test = python_stratified_split(
        data, ratio=0.75, min_rating=1, filter_by="item", seed=seed
    )
    return train, test


def metrics(test: pd.DataFrame, top: pd.DataFrame, k: int = TOP_K) -> dict[str, float]:
    """The quick-start ranking metrics of ``top`` against ``test``."""
    args = dict(col_user="userID", col_item="itemID", col_prediction="prediction", k=k)
    return {
        "map": mean_average_precision(test, top, **args),
        f"map@{k}": map_at_k(test, top, **args),
        f"ndcg@{k}": ndcg_at_k(test, top, **args),
        f"precision@{k}": precision_at_k(test, top, **args),
        f"recall@{k}": recall_at_k(test, top, **args),
    }


def recutils_top_k(train: pd.DataFrame, test: pd.DataFrame, **params) -> pd.DataFrame:
    """Our SAR's top-k lists for the test users."""
    model = SAR(**{**PARAMS, **params}).fit(train)
    return model.recommend_k_items(test, top_k=TOP_K, remove_seen=True)


_PEER = """
import numpy as np, pandas as pd
from recommenders.models.sar import SAR
with np.load({train!r}, allow_pickle=False) as z:
    train = pd.DataFrame({{c: z[c] for c in z.files}})
with np.load({test!r}, allow_pickle=False) as z:
    test = pd.DataFrame({{c: z[c] for c in z.files}})
model = SAR(**{params!r})
model.fit(train)
top = model.recommend_k_items(test, top_k={k}, remove_seen=True)
np.savez({out!r}, userID=top["userID"].to_numpy(), itemID=top["itemID"].to_numpy(),
         prediction=top["prediction"].to_numpy())
"""


def peer_top_k(python: str, train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Microsoft's SAR top-k lists on the same split, computed in ``python``."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, df in (("train", train), ("test", test)):
            paths[name] = str(Path(tmp) / f"{name}.npz")
            np.savez(
                paths[name],
                **{c: df[c].to_numpy() for c in ("userID", "itemID", "rating", "timestamp")},
            )
        out = str(Path(tmp) / "top.npz")
        code = textwrap.dedent(_PEER).format(
            train=paths["train"], test=paths["test"], params=PARAMS, k=TOP_K, out=out
        )
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise RuntimeError(f"peer run failed with exit code {proc.returncode}")
        with np.load(out, allow_pickle=False) as z:
            return pd.DataFrame({c: z[c] for c in z.files})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer-python", default=None)
    args = p.parse_args()
    if "RECUTILS_DATA_MIRROR" not in os.environ:
        default = Path(__file__).resolve().parents[3] / "shared" / "data"
        if default.is_dir():
            os.environ["RECUTILS_DATA_MIRROR"] = str(default)
    train, test = split_movielens()
    rows = {
        "MS 1.2.1, its own split (published)": MS_PUBLISHED,
        "recutils SAR (float32 scores)": metrics(test, recutils_top_k(train, test)),
        "recutils SAR (float64 scores)": metrics(
            test, recutils_top_k(train, test, score_dtype="float64")
        ),
    }
    if args.peer_python:
        rows["MS 1.2.1 SAR, same split"] = metrics(test, peer_top_k(args.peer_python, train, test))
    table = pd.DataFrame(rows).T
    with pd.option_context("display.width", 200):
        print(f"train {len(train):,} rows, test {len(test):,} rows")
        print(table.to_string(float_format=lambda x: f"{x:0.4f}"))


if __name__ == "__main__":
    main()
