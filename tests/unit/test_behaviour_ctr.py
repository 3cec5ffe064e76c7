"""Click-through samples with behaviour histories: exact rows on toy logs, negatives, errors."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.behaviour_ctr import (
    GROUP_COL,
    TIME_GAP_COL,
    history_column,
    history_samples,
    leave_last_out_samples,
)
from recutils.evaluation import gauc, mrr_at_k, ndcg_at_k
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError
from recutils.nn.features import FeatureConfig, FeatureEncoder

H = 3600  # one hour in seconds
HIST_ITEMS, HIST_CATS, HIST_BEHAVIORS = (
    history_column(c) for c in ("itemID", "category", "behavior")
)
CATEGORY = {10: 100, 11: 101, 12: 100, 13: 102, 14: 101, 15: 103}


@pytest.fixture
def log() -> pd.DataFrame:
    """User 1: five behaviours, 12 and 13 at the same second; user 2: one; user 3: two.
    Rows shuffled, so the builders must sort them."""
    rows = [  # user, item, behaviour, hours
        (1, 10, "pv", 0),
        (1, 11, "cart", 1),
        (1, 12, "pv", 3),
        (1, 13, "buy", 3),
        (1, 14, "pv", 5),
        (2, 15, "pv", 2),
        (3, 11, "pv", 0),
        (3, 10, "fav", 2),
    ]
    df = pd.DataFrame(rows, columns=["userID", "itemID", "behavior", "hours"])
    df["category"] = df["itemID"].map(CATEGORY)
    df["timestamp"] = 1_500_000_000 + df.pop("hours") * H
    return df.iloc[[7, 2, 5, 0, 4, 6, 1, 3]].reset_index(drop=True)


def _positives(out: pd.DataFrame) -> pd.DataFrame:
    return out[out["label"] == 1].reset_index(drop=True)


def _history_rows(out: pd.DataFrame) -> list[tuple]:
    return list(zip(out["userID"], out["itemID"], out[HIST_ITEMS], out[TIME_GAP_COL]))


# --------------------------------------------------------------------------- history_samples
def test_history_samples_exact_rows_strictly_earlier_and_truncated(log):
    out = history_samples(log, max_len=2, n_negatives=0)
    assert list(out.columns) == [
        "userID",
        "itemID",
        "category",
        "timestamp",
        HIST_ITEMS,
        HIST_CATS,
        HIST_BEHAVIORS,
        TIME_GAP_COL,
        "label",
    ]
    assert _history_rows(out) == [
        (1, 11, [10], [1.0]),
        (1, 12, [10, 11], [3.0, 2.0]),
        (1, 13, [10, 11], [3.0, 2.0]),  # 12 happened at the same second: not earlier
        (1, 14, [12, 13], [2.0, 2.0]),  # max_len=2 keeps the two latest, oldest first
        (3, 10, [11], [2.0]),
    ]
    assert out[HIST_CATS].tolist() == [[100], [100, 101], [100, 101], [100, 102], [101]]
    assert out[HIST_BEHAVIORS].tolist() == [
        ["pv"],
        ["pv", "cart"],
        ["pv", "cart"],
        ["pv", "buy"],
        ["pv"],
    ]
    assert out["category"].tolist() == [101, 100, 102, 101, 100]
    assert out["timestamp"].tolist() == (1_500_000_000 + np.array([1, 3, 3, 5, 2]) * H).tolist()
    assert (out["label"] == 1).all() and out.index.equals(pd.RangeIndex(5))


def test_history_samples_by_position_when_not_strict(log):
    out = history_samples(log, max_len=3, n_negatives=0, strict_time=False)
    rows = _history_rows(out)
    assert rows[2] == (1, 13, [10, 11, 12], [3.0, 2.0, 0.0])  # the tie comes in, gap 0
    assert rows[3] == (1, 14, [11, 12, 13], [4.0, 2.0, 2.0])


def test_history_samples_min_history_and_skipped_users_logged(log, caplog):
    with caplog.at_level(logging.INFO, logger="recutils.datasets.behaviour_ctr"):
        out = history_samples(log, n_negatives=0, min_history=2)
    assert out["itemID"].tolist() == [12, 13, 14]
    assert "skipped 2 user(s)" in caplog.text  # users 2 and 3 have no such target
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recutils.datasets.behaviour_ctr"):
        history_samples(log, n_negatives=0)
    assert "skipped 1 user(s)" in caplog.text  # user 2, one behaviour


def test_history_samples_negatives(log):
    out = history_samples(log, n_negatives=3, seed=7)
    assert len(out) == 5 * 4
    assert out["label"].tolist() == [1, 0, 0, 0] * 5
    block = np.repeat(np.arange(5), 4)
    pos = _positives(out)
    for b in range(5):
        rows = out[block == b]
        negatives = rows["itemID"].to_numpy()[1:]
        assert pos.loc[b, "itemID"] not in negatives  # never the target
        assert len(set(negatives)) == 3 and set(negatives) <= set(CATEGORY)
        # the negative's category is the item's; the history is the positive's
        assert rows["category"].tolist()[1:] == [CATEGORY[i] for i in negatives]
        for col in (HIST_ITEMS, HIST_CATS, HIST_BEHAVIORS, TIME_GAP_COL, "userID", "timestamp"):
            assert all(v == pos.loc[b, col] for v in rows[col])


def test_history_samples_deterministic_under_seed(log):
    a = history_samples(log, n_negatives=2, seed=3)
    # another row order (behaviours at the same second keep theirs: 12 before 13)
    b = history_samples(log.sort_values("timestamp", kind="stable"), n_negatives=2, seed=3)
    pd.testing.assert_frame_equal(a, b)
    draws = {tuple(history_samples(log, n_negatives=2, seed=s)["itemID"]) for s in range(6)}
    assert len(draws) > 1  # the seed matters


def test_history_samples_uniform_over_the_catalogue():
    """Every item other than the target is drawn about equally often."""
    df = pd.DataFrame(
        {
            "userID": np.repeat(np.arange(200), 2),
            "itemID": np.tile([0, 1], 200),
            "timestamp": np.tile([0, 60], 200),
        }
    )
    df.loc[::7, "itemID"] = 5  # a popular item must not be favoured under uniform sampling
    cat = pd.DataFrame({"itemID": np.arange(6), "x": 0})
    every_item = cat.assign(userID=999, timestamp=np.arange(6))[df.columns]
    df = pd.concat([df, every_item], ignore_index=True)
    out = history_samples(df, n_negatives=4, col_category=None, col_behavior=None, seed=0)
    neg = out.loc[out["label"] == 0, "itemID"].to_numpy()
    pos = out.loc[out["label"] == 1, "itemID"].to_numpy()
    assert not (neg == np.repeat(pos, 4)).any()
    counts = np.bincount(neg, minlength=6)
    expected = np.array([(pos != i).sum() for i in range(6)]) * 4 / 5  # 4 of the 5 other items
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_history_samples_against_a_reference_on_a_random_log():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "userID": rng.integers(0, 30, n),
            "itemID": rng.integers(0, 50, n),
            "timestamp": rng.integers(0, 40, n) * 600,
        }
    )
    df["category"] = df["itemID"] % 7
    for strict in (True, False):
        out = _positives(
            history_samples(df, max_len=4, n_negatives=1, col_behavior=None, strict_time=strict)
        )
        expected = []
        ordered = df.sort_values(["userID", "timestamp"], kind="stable")
        for user, rows in ordered.groupby("userID"):
            items, times = rows["itemID"].tolist(), rows["timestamp"].tolist()
            for i in range(len(items)):
                earlier = [j for j in range(i) if not strict or times[j] < times[i]]
                if earlier:
                    hist = earlier[-4:]
                    expected.append(
                        (
                            user,
                            items[i],
                            [items[j] for j in hist],
                            [(times[i] - times[j]) / H for j in hist],
                        )
                    )
        assert _history_rows(out) == expected
        gaps = np.concatenate(out[TIME_GAP_COL].map(np.asarray).to_numpy())
        assert (gaps > 0).all() if strict else (gaps >= 0).all()


def test_history_samples_datetimes_and_other_column_names(log):
    renamed = log.rename(
        columns={"userID": "u", "itemID": "i", "category": "c", "behavior": "b", "timestamp": "t"}
    )
    renamed["t"] = pd.to_datetime(renamed["t"], unit="s", utc=True)
    out = history_samples(
        renamed,
        col_user="u",
        col_item="i",
        col_category="c",
        col_behavior="b",
        col_timestamp="t",
        col_label="y",
    )
    ref = history_samples(log)
    assert list(out.columns) == [
        "u",
        "i",
        "c",
        "t",
        "hist_i",
        "hist_c",
        "hist_b",
        TIME_GAP_COL,
        "y",
    ]
    assert out["i"].tolist() == ref["itemID"].tolist()
    assert out[TIME_GAP_COL].tolist() == ref[TIME_GAP_COL].tolist()


def test_history_samples_do_not_mutate_input(log):
    before = log.copy()
    history_samples(log)
    pd.testing.assert_frame_equal(log, before)


def test_history_lists_feed_the_feature_encoder(log):
    out = history_samples(log, max_len=3, n_negatives=1)
    enc = FeatureEncoder(
        [
            FeatureConfig(name="item", column="itemID"),
            FeatureConfig(
                name="hist", column=HIST_ITEMS, type="sequence", max_length=2, embedding_name="item"
            ),
        ]
    ).fit(out)
    x = enc.transform(out)
    item_id = dict(zip(out["itemID"], x["item"]))
    assert x["hist"].shape == (len(out), 2)
    # the last positive (user 3, history [11]) and user 1's last ([11, 12, 13] -> last two)
    assert x["hist"][-2].tolist() == [item_id[11], 0]
    assert x["hist"][6].tolist() == [item_id[12], item_id[13]]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"max_len": 0}, ConfigError),
        ({"max_len": 2.5}, ConfigError),
        ({"min_history": 0}, ConfigError),
        ({"n_negatives": -1}, ConfigError),
        ({"seed": None}, ConfigError),
        ({"negative_sampling": "zipf"}, ConfigError),
        ({"strict_time": "yes"}, ConfigError),
        ({"col_behavior": "action"}, ColumnMismatchError),
        ({"col_label": "category"}, ConfigError),
        ({"n_negatives": 6}, DataError),  # 6 items: at most 5 are not the target
    ],
)
def test_history_samples_refuse_bad_parameters(log, kwargs, error):
    with pytest.raises(error):
        history_samples(log, **kwargs)


def test_history_samples_refuse_bad_timestamps(log):
    with pytest.raises(ColumnMismatchError, match="timestamp"):
        history_samples(log.drop(columns="timestamp"))
    with pytest.raises(DataError, match="missing timestamp"):
        history_samples(log.assign(timestamp=log["timestamp"].where(log.index != 3)))
    with pytest.raises(DataError, match="unix seconds"):
        history_samples(log.assign(timestamp="yesterday"))
    with pytest.raises(DataError, match="no rows"):
        history_samples(log.iloc[:0])
    with pytest.raises(DataError, match="missing"):
        history_samples(log.assign(userID=log["userID"].where(log.index != 0)))


# --------------------------------------------------------------------------- leave_last_out_samples
def test_leave_last_out_exact_split(log):
    train, valid, test = leave_last_out_samples(
        log, n_train_negatives=0, n_valid_negatives=0, n_test_negatives=0
    )
    assert _history_rows(train) == [(1, 11, [10], [1.0]), (1, 12, [10, 11], [3.0, 2.0])]
    assert _history_rows(valid) == [(1, 13, [10, 11, 12], [3.0, 2.0, 0.0])]
    # user 3 has two behaviours: the first has no history, so only a test target
    assert _history_rows(test) == [
        (1, 14, [10, 11, 12, 13], [5.0, 4.0, 2.0, 2.0]),
        (3, 10, [11], [2.0]),
    ]
    for frame in (train, valid, test):
        assert frame.columns[0] == GROUP_COL and HIST_BEHAVIORS not in frame.columns
        assert frame[GROUP_COL].tolist() == frame["userID"].tolist()


def test_leave_last_out_max_len_and_strict_time(log):
    _, valid, test = leave_last_out_samples(
        log,
        max_len=2,
        strict_time=True,
        n_train_negatives=0,
        n_valid_negatives=0,
        n_test_negatives=0,
    )
    assert _history_rows(valid) == [(1, 13, [10, 11], [3.0, 2.0])]
    assert _history_rows(test)[0] == (1, 14, [12, 13], [2.0, 2.0])


def test_leave_last_out_negatives_and_group_metrics(log):
    train, valid, test = leave_last_out_samples(
        log, n_train_negatives=1, n_valid_negatives=2, n_test_negatives=3, seed=5
    )
    assert (len(train), len(valid), len(test)) == (2 * 2, 1 * 3, 2 * 4)
    for frame, n in ((train, 1), (valid, 2), (test, 3)):
        assert frame["label"].tolist() == ([1] + [0] * n) * (len(frame) // (n + 1))
        block = np.repeat(np.arange(len(frame) // (n + 1)), n + 1)
        for b in np.unique(block):
            items = frame.loc[block == b, "itemID"].tolist()
            assert len(set(items)) == n + 1  # negatives distinct and never the target
    # a group is one positive with its negatives: per-group metrics from recutils.evaluation
    pred = test.assign(prediction=test["label"] + 0.1 * np.arange(len(test)) / len(test))
    kw = {
        "col_user": GROUP_COL,
        "col_item": "itemID",
        "col_rating": "label",
        "col_prediction": "prediction",
    }
    assert gauc(test, pred, **kw) == 1.0
    truth = test[test["label"] == 1]
    assert mrr_at_k(truth, pred, k=4, **kw) == 1.0
    assert ndcg_at_k(truth, pred, k=4, **kw) == 1.0
    worst = test.assign(prediction=-test["label"].astype(float))
    assert gauc(test, worst, **kw) == 0.0


def test_leave_last_out_deterministic_and_sample_rate(log):
    # the training negatives come from the 3 items of the training behaviours
    a = leave_last_out_samples(log, n_train_negatives=2, n_test_negatives=3, seed=11)
    b = leave_last_out_samples(
        log.sort_values("timestamp", kind="stable"),
        n_train_negatives=2,
        n_test_negatives=3,
        seed=11,
    )
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    train, valid, test = leave_last_out_samples(
        log, sample_rate=0.5, n_train_negatives=1, n_valid_negatives=1, n_test_negatives=1, seed=2
    )
    kept = set(pd.concat([train, valid, test])["itemID"]) | {
        i for f in (train, valid, test) for h in f[HIST_ITEMS] for i in h
    }
    assert len(kept) == 3  # int(6 items * 0.5), the negatives drawn among them too
    again = leave_last_out_samples(
        log, sample_rate=0.5, n_train_negatives=1, n_valid_negatives=1, n_test_negatives=1, seed=2
    )
    pd.testing.assert_frame_equal(test, again[2])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"sample_rate": 0.0}, ConfigError),
        ({"sample_rate": 1.5}, ConfigError),
        ({"n_test_negatives": -1}, ConfigError),
        ({"max_len": 0}, ConfigError),
        ({"col_category": "genre"}, ColumnMismatchError),
        ({"n_test_negatives": 9}, DataError),  # the default: more than the 6-item catalogue allows
        ({"sample_rate": 0.1}, DataError),  # keeps no item
    ],
)
def test_leave_last_out_refuses_bad_input(log, kwargs, error):
    with pytest.raises(error):
        leave_last_out_samples(log, **kwargs)


def test_contemporary_negatives_come_from_behaviours_near_the_target():
    """Each negative is the item of a behaviour in the window up to its target's time."""
    from recutils.datasets.behaviour_ctr import history_samples

    rng = np.random.default_rng(0)
    n = 600
    day = rng.integers(0, 3, n)  # three days; every day has its own items
    log = pd.DataFrame(
        {
            "userID": rng.integers(0, 40, n),
            "itemID": day * 100 + rng.integers(0, 20, n),
            "timestamp": day * 86400 + rng.integers(0, 3600, n),
        }
    )
    out = history_samples(
        log,
        n_negatives=2,
        negative_sampling="contemporary",
        negative_window_hours=2.0,
        seed=3,
        col_category=None,
        col_behavior=None,
    )
    pos = out[out["label"] == 1].reset_index(drop=True)
    neg = out[out["label"] == 0].reset_index(drop=True)
    target_day = np.repeat(pos["itemID"].to_numpy() // 100, 2)
    neg_day = neg["itemID"].to_numpy() // 100
    # the window looks back only: an item of the target's day, or (the day's first targets,
    # with too few items before them that day) of an earlier day; never of a later day
    assert (neg_day <= target_day).all()
    assert (neg_day == target_day).mean() > 0.95
    assert (neg["itemID"].to_numpy() != np.repeat(pos["itemID"].to_numpy(), 2)).all()
    pairs = neg["itemID"].to_numpy().reshape(-1, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    again = history_samples(
        log,
        n_negatives=2,
        negative_sampling="contemporary",
        negative_window_hours=2.0,
        seed=3,
        col_category=None,
        col_behavior=None,
    )
    pd.testing.assert_frame_equal(out, again)
    with pytest.raises(ConfigError, match="negative_window_hours"):
        history_samples(
            log,
            negative_sampling="contemporary",
            negative_window_hours=0,
            col_category=None,
            col_behavior=None,
        )


@pytest.mark.parametrize("window_hours", [1.0, 24.0, 1000.0])
def test_contemporary_negatives_never_come_from_the_future(window_hours):
    """Regression: the window was centred on the target, so training rows of a split by time
    held, as label-0 negatives, items that first appear in the later test period. A model
    then learned the test period's new items as negatives and scored the test day below
    chance. Every negative must be the item of a behaviour at or before its target's time."""
    from recutils.datasets.behaviour_ctr import history_samples

    rng = np.random.default_rng(1)
    n = 3000
    t = np.sort(rng.integers(0, 10 * 86400, n))
    # items drift: the items of a day are mostly new that day
    items = (t // 86400) * 1000 + rng.integers(0, 300, n)
    log = pd.DataFrame({"userID": rng.integers(0, 60, n), "itemID": items, "timestamp": t})
    out = history_samples(
        log,
        n_negatives=3,
        negative_sampling="contemporary",
        negative_window_hours=window_hours,
        seed=7,
        col_category=None,
        col_behavior=None,
    )
    first_seen = log.groupby("itemID")["timestamp"].min()
    neg = out[out["label"] == 0]
    assert (neg["itemID"].map(first_seen).to_numpy() <= neg["timestamp"].to_numpy()).all()
    # a split by time: no training row holds an item first seen in the test period
    cutoff = 9 * 86400
    train = out[out["timestamp"] < cutoff]
    assert not (train["itemID"].map(first_seen) >= cutoff).any()


def test_leave_last_out_training_negatives_come_from_training_behaviours():
    """Regression: training negatives were drawn over the whole log, so the training rows
    held, as label-0 rows, items whose behaviours are the held-out last ones (valid, test);
    a model learned those items as negatives and scored the test groups below chance."""
    rng = np.random.default_rng(5)
    n_users, per_user = 80, 8
    users = np.repeat(np.arange(n_users), per_user)
    position = np.tile(np.arange(per_user), n_users)
    # the last two behaviours of every user are items 1000+, never seen earlier
    items = np.where(
        position >= per_user - 2,
        1000 + rng.integers(0, 30, users.size),
        rng.integers(0, 60, users.size),
    )
    log = pd.DataFrame(
        {"userID": users, "itemID": items, "category": items % 7, "timestamp": position * 3600}
    )
    train, valid, test = leave_last_out_samples(log, seed=3)
    assert (train.loc[train["label"] == 0, "itemID"] < 1000).all()
    # valid and test negatives are drawn over every behaviour, as in Microsoft's files
    assert (test.loc[test["label"] == 0, "itemID"] >= 1000).any()
    assert (train["label"] == 0).sum() == 4 * (train["label"] == 1).sum()
