"""MIND loader (parsers, missing news, malformed impressions, vocabulary, GloVe, .vec files)
and the impression-level metrics against hand-computed values."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import mind
from recutils.evaluation.impressions import (
    evaluate_impressions,
    impression_metrics,
    mean_impression_metrics,
)
from recutils.exceptions import ConfigError, CorruptDataError, DataError

pytestmark = pytest.mark.unit

NEWS = (
    "N1\tsports\tsoccer\tGoal of the year\tA great goal.\thttp://x\t"
    '[{"Label": "Messi", "WikidataId": "Q615"}]\t[]\n'
    "N2\tfinance\tmarkets\tStocks fall\t\thttp://y\t[]\t[]\n"
    "N3\tfinance\tmarkets\t\tNo title here\thttp://z\t[]\t"
    '[{"WikidataId": "Q1"}, {"WikidataId": "Q2"}]\n'
)
BEHAVIORS = (
    "1\tU1\t11/11/2019 9:05:58 AM\tN1 N9\tN2-1 N3-0 N8-0\n"
    "2\tU2\t11/12/2019 6:11:30 PM\t\tN1-0 N2-1\n"
    "3\tU1\t11/13/2019 1:00:00 PM\tN1\tN7-1\n"
)


def _write(tmp_path, news: str = NEWS, behaviors: str = BEHAVIORS):
    (tmp_path / "news.tsv").write_text(news)
    (tmp_path / "behaviors.tsv").write_text(behaviors)
    return tmp_path


def _load(folder):
    news = mind.read_news(folder / "news.tsv")
    behaviors = mind.read_behaviors(folder / "behaviors.tsv")
    long = mind.explode_impressions(behaviors, path=folder / "behaviors.tsv")
    return news, behaviors, long


def test_parsers_read_news_entities_and_impressions(tmp_path) -> None:
    news, behaviors, long = _load(_write(tmp_path))
    assert news["itemID"].tolist() == ["N1", "N2", "N3"]
    assert news["title_entities"].tolist() == [("Q615",), (), ()]
    assert news["abstract_entities"].iloc[2] == ("Q1", "Q2")
    assert behaviors["time"].iloc[0] == pd.Timestamp("2019-11-11 09:05:58")
    assert long["itemID"].tolist() == ["N2", "N3", "N8", "N1", "N2", "N7"]
    assert long["label"].tolist() == [1, 0, 0, 0, 1, 1]
    assert long["position"].tolist() == [0, 1, 2, 0, 1, 0]
    assert long["impressionID"].tolist() == [1, 1, 1, 2, 2, 3]


def test_missing_news_are_counted_and_dropped(tmp_path) -> None:
    news, behaviors, long = _load(_write(tmp_path))
    _, kept, report = mind.clean_against_news(news, behaviors, long)
    assert report.missing_candidates == 2  # N8, N7
    assert report.missing_history_refs == 1  # N9
    assert report.missing_news_ids == ["N7", "N8", "N9"]
    assert report.impressions_without_candidates == 1  # impression 3 had only N7
    assert report.empty_titles == 1
    assert kept["itemID"].tolist() == ["N2", "N3", "N1", "N2"]
    assert kept["history"].tolist()[:2] == ["N1", "N1"]
    with pytest.raises(DataError, match="3 news id"):
        mind.clean_against_news(news, behaviors, long, drop_missing=False)


@pytest.mark.parametrize("token", ["N123-2", "N123", "N123-"])
def test_malformed_impression_is_refused_naming_line_and_token(tmp_path, token) -> None:
    bad = BEHAVIORS + f"4\tU3\t11/13/2019 1:00:00 PM\tN1\tN1-0 {token}\n"
    with pytest.raises(CorruptDataError, match=rf"line 4: malformed impression '{token}'"):
        _load(_write(tmp_path, behaviors=bad))


def test_vocabulary_encoding_counts_oov_words() -> None:
    news = pd.DataFrame({"title": ["Goal goal, the!", "Stocks"], "abstract": ["", "the"]})
    vocab = mind.WordVocabulary.build(news, ("title",))
    assert vocab.words.tolist() == ["<pad>", "<unk>", "goal", ",", "the", "!", "stocks"]
    ids, oov = vocab.encode(pd.Series(["the goal of stocks", ""]), 3)
    assert ids.tolist() == [[4, 2, mind.UNK], [0, 0, 0]]
    assert oov == 1


def test_glove_matrix_and_wrong_dimension(tmp_path) -> None:
    path = tmp_path / "g.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("the 1 2 3\ngoal 4 5 6\n")
    vocab = mind.WordVocabulary(pd.Index(["<pad>", "<unk>", "Goal", "zzz"]))
    init = mind.glove_matrix(path, vocab, 3)
    assert (init.found, init.missing) == (1, 1)
    assert init.matrix[2].tolist() == [4, 5, 6]
    assert not init.matrix[0].any()
    with pytest.raises(DataError, match="3-dimensional vectors, but dim=300"):
        mind.glove_matrix(path, vocab, 300)


def test_vec_file_and_entity_coverage(tmp_path) -> None:
    (tmp_path / "e.vec").write_text("Q615\t0.1\t0.2\t\nQ1\t0.3\t0.4\t\n")
    keys, vectors = mind.read_vectors(tmp_path / "e.vec", "\t")
    assert keys.tolist() == ["Q615", "Q1"] and vectors.shape == (2, 2)
    news = mind.read_news(_write(tmp_path) / "news.tsv")
    assert mind.entity_coverage(news, keys) == {
        "mentions": 3,
        "missing_mentions": 1,
        "distinct": 3,
        "missing_distinct": 1,
    }
    (tmp_path / "bad.vec").write_text("Q1\t0.1\t0.2\nQ2\t0.3\n")
    with pytest.raises(CorruptDataError, match="line 2: 1 values"):
        mind.read_vectors(tmp_path / "bad.vec", "\t")


def test_unknown_size_and_split() -> None:
    with pytest.raises(ConfigError, match="unknown MIND size"):
        mind.load_mind("huge")
    with pytest.raises(ConfigError, match="splits"):
        mind.load_mind("small-sample", "dev")


# ----------------------------------------------------------------- metrics
def test_impression_metrics_hand_computed() -> None:
    # impression 1: scores rank N_b (0), N_a (1), N_c (0): clicked one at rank 2
    # impression 2: two clicks at ranks 1 and 3 of 3
    imp = [1, 1, 1, 2, 2, 2]
    labels = [1, 0, 0, 1, 0, 1]
    scores = [0.5, 0.9, 0.1, 0.8, 0.6, 0.2]
    per = impression_metrics(imp, labels, scores)
    assert per.loc[1, "auc"] == pytest.approx(0.5)
    assert per.loc[1, "mrr"] == pytest.approx(0.5)
    assert per.loc[1, "ndcg@5"] == pytest.approx(1 / np.log2(3))
    assert per.loc[2, "auc"] == pytest.approx(0.5)
    assert per.loc[2, "mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert per.loc[2, "ndcg@10"] == pytest.approx((1 + 1 / 2) / (1 + 1 / np.log2(3)))
    means = mean_impression_metrics(imp, labels, scores)
    assert means["mrr"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert means["n_impressions_auc"] == 2


def test_ties_count_half_and_undefined_impressions_are_left_out() -> None:
    per = impression_metrics([1, 1, 2, 2], [1, 0, 0, 0], [0.3, 0.3, 0.1, 0.2])
    assert per.loc[1, "auc"] == 0.5
    assert np.isnan(per.loc[2, "auc"]) and np.isnan(per.loc[2, "mrr"])
    df = pd.DataFrame(
        {"impressionID": [1, 1, 2, 2], "label": [1, 0, 0, 0], "prediction": [0.3, 0.3, 0.1, 0.2]}
    )
    out = evaluate_impressions(df)
    assert out["auc"] == 0.5 and out["n_impressions_auc"] == 1


def test_metric_inputs_are_checked() -> None:
    with pytest.raises(DataError, match="0 .* or 1"):
        impression_metrics([1], [2], [0.1])
    with pytest.raises(DataError, match="NaN or infinite"):
        impression_metrics([1, 1], [1, 0], [0.1, np.nan])
    with pytest.raises(ConfigError, match="unknown impression metric"):
        impression_metrics([1, 1], [1, 0], [0.1, 0.2], ["hit@3"])
