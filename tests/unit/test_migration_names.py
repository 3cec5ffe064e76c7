"""Every name of docs/migrating.md's table resolves in recutils with Microsoft Recommenders' keywords.

``THEIR_KEYWORDS`` lists the parameter names of Microsoft Recommenders 1.2.1's functions and
methods (read once from its signatures); each must be accepted by the recutils counterpart.
The docs' before/after snippet is run as well.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from tests._docsnippets import run_snippet

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"

THEIR_KEYWORDS = {
    "recutils.evaluation.rmse": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.mae": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.rsquared": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.exp_var": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.auc": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.logloss": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.merge_rating_true_pred": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ],
    "recutils.evaluation.merge_ranking_true_pred": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
    ],
    "recutils.evaluation.precision_at_k": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
    ],
    "recutils.evaluation.recall_at_k": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
    ],
    "recutils.evaluation.ndcg_at_k": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
        "score_type",
        "discfun_type",
    ],
    "recutils.evaluation.map_at_k": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
    ],
    "recutils.evaluation.mean_average_precision": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
    ],
    "recutils.evaluation.r_precision_at_k": [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
    ],
    "recutils.evaluation.get_top_k_items": ["dataframe", "col_user", "col_rating", "k"],
    "recutils.evaluation.catalog_coverage": ["train_df", "reco_df", "col_user", "col_item"],
    "recutils.evaluation.distributional_coverage": ["train_df", "reco_df", "col_user", "col_item"],
    "recutils.evaluation.novelty": ["train_df", "reco_df", "col_user", "col_item"],
    "recutils.evaluation.historical_item_novelty": ["train_df", "reco_df", "col_user", "col_item"],
    **{
        f"recutils.evaluation.{name}": [
            "train_df",
            "reco_df",
            "item_feature_df",
            "item_sim_measure",
            "col_item_features",
            "col_user",
            "col_item",
            "col_sim",
            "col_relevance",
        ]
        for name in (
            "diversity",
            "user_diversity",
            "serendipity",
            "user_serendipity",
            "user_item_serendipity",
        )
    },
    "recutils.splitting.python_random_split": ["data", "ratio", "seed"],
    "recutils.splitting.python_chrono_split": [
        "data",
        "ratio",
        "min_rating",
        "filter_by",
        "col_user",
        "col_item",
        "col_timestamp",
    ],
    "recutils.splitting.python_stratified_split": [
        "data",
        "ratio",
        "min_rating",
        "filter_by",
        "col_user",
        "col_item",
        "seed",
    ],
    "recutils.splitting.numpy_stratified_split": ["X", "ratio", "seed"],
    "recutils.splitting.min_rating_filter_pandas": [
        "data",
        "min_rating",
        "filter_by",
        "col_user",
        "col_item",
    ],
    "recutils.splitting.process_split_ratio": ["ratio"],
    "recutils.splitting.split_pandas_data_with_ratios": ["data", "ratios", "seed", "shuffle"],
    "recutils.datasets.user_item_pairs": [
        "user_df",
        "item_df",
        "user_col",
        "item_col",
        "user_item_filter_df",
        "shuffle",
        "seed",
    ],
    "recutils.datasets.movielens.load_spark_df": [
        "spark",
        "size",
        "header",
        "schema",
        "local_cache_path",
        "dbutils",
        "title_col",
        "genres_col",
        "year_col",
    ],
    "recutils.datasets.criteo.load_spark_df": [
        "spark",
        "size",
        "header",
        "local_cache_path",
        "dbfs_datapath",
        "dbutils",
    ],
    "recutils.datasets.filter_by": ["df", "filter_by_df", "filter_by_cols"],
    "recutils.datasets.negative_feedback_sampler": [
        "df",
        "col_user",
        "col_item",
        "col_label",
        "col_feedback",
        "ratio_neg_per_user",
        "pos_value",
        "neg_value",
        "seed",
    ],
    "recutils.datasets.LibffmConverter": ["filepath"],
    "recutils.datasets.AffinityMatrix": [
        "df",
        "items_list",
        "col_user",
        "col_item",
        "col_rating",
        "col_pred",
        "save_path",
    ],
    "recutils.datasets.AffinityMatrix.gen_affinity_matrix": [],
    "recutils.datasets.AffinityMatrix.map_back_sparse": ["X", "kind"],
    "recutils.models.sar.SAR": [
        "col_user",
        "col_item",
        "col_rating",
        "col_timestamp",
        "col_prediction",
        "similarity_type",
        "time_decay_coefficient",
        "time_now",
        "timedecay_formula",
        "threshold",
        "normalize",
    ],
    # methods: the first argument (their ``test``/``df`` frame) is passed by position
    "recutils.models.sar.SAR.fit": ["df"],
    "recutils.models.sar.SAR.recommend_k_items": ["top_k", "sort_top_k", "remove_seen"],
    "recutils.models.sar.SAR.predict": [],
    "recutils.models.sar.SAR.score": ["test", "remove_seen"],
    "recutils.models.sar.SAR.get_popularity_based_topk": ["top_k", "sort_top_k", "items"],
    "recutils.models.sar.SAR.get_item_based_topk": ["items", "top_k", "sort_top_k"],
    "recutils.models.sar.SAR.get_topk_most_similar_users": ["user", "top_k", "sort_top_k"],
    "recutils.utils.timer.Timer": [],
    "recutils.utils.notebook_utils.is_jupyter": [],
    "recutils.utils.notebook_utils.is_databricks": [],
    "recutils.utils.notebook_utils.execute_notebook": [
        "input_notebook",
        "output_notebook",
        "parameters",
        "kernel_name",
        "timeout",
    ],
    "recutils.utils.notebook_utils.store_metadata": ["name", "value"],
    "recutils.utils.notebook_utils.read_notebook": ["path"],
}


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("dotted", sorted(THEIR_KEYWORDS))
def test_name_exists_with_their_keywords(dotted):
    obj = _resolve(dotted)
    target = obj.__init__ if inspect.isclass(obj) else obj
    ours = set(inspect.signature(target).parameters)
    missing = [name for name in THEIR_KEYWORDS[dotted] if name not in ours]
    assert not missing, f"{dotted} lacks keyword(s) {missing}"


def _table_rows() -> list[tuple[list[str], str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Names", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        rows.append((re.findall(r"`([^`]+)`", cells[1]), cells[2]))
    return rows


def test_every_name_of_the_table_is_tested_and_resolves():
    rows = _table_rows()
    assert len(rows) >= 15
    for names, ours in rows:
        target = re.findall(r"`([^`]+)`", ours)
        if "the same methods" in ours or "the same attributes" in ours:
            prefix = "recutils.models.sar.SAR"
        else:
            prefix = target[0]
        obj = _resolve(prefix)
        if not inspect.ismodule(obj):  # a renamed or single object (map -> mean_average_precision)
            assert prefix in THEIR_KEYWORDS, prefix
            continue
        for name in names:
            if "the same attributes" in ours:
                from recutils.models.sar import SAR

                assert isinstance(getattr(SAR, name), property), name
                continue
            dotted = f"{prefix}.{name}"
            assert dotted in THEIR_KEYWORDS, (
                f"{dotted} is in docs/migrating.md but has no keyword test"
            )
            _resolve(dotted)


def test_before_after_snippet_runs(tmp_path):
    result = run_snippet(DOC, "before-after", cwd=tmp_path)
    assert "MAP " in result.stdout and "diversity " in result.stdout
    assert "itemID  prediction" in result.stdout  # popularity: their two columns
