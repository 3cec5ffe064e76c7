"""The zoo model ``ffm``: its shipped layout, and rows with a field missing.

Documented behaviour (``recutils.models.deep.model``): a field missing from a row (NaN or
None, or a context column absent from the frame) is encoded as the feature's missing value,
whose ``[n_fields, k]`` block of the embedding table is learned like any other, so the row is
still scored; an embedding width that is not ``n_fields * k`` is a ``ConfigError`` naming the
width to use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from recutils.exceptions import ConfigError, DataError  # noqa: E402
from recutils.models import create_model  # noqa: E402

FAST = {
    "epochs": 2,
    "batch_size": 128,
    "validation_fraction": 0.0,
    "early_stopping_metric": None,
    "progress": False,
    "num_threads": 1,
}


def movielens_like(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    genres = np.array(["Action", "Comedy", "Drama", "Action|Comedy", "Horror"])
    df = pd.DataFrame(
        {
            "userID": rng.integers(1, 40, n),
            "itemID": rng.integers(1, 60, n),
            "occupation": rng.choice(["artist", "doctor", "student"], n),
            "age": rng.integers(7, 74, n).astype(float),
            "gender": rng.choice(["M", "F"], n),
            "year": rng.integers(1930, 1999, n).astype(float),
            "genres": rng.choice(genres, n),
        }
    )
    df["label"] = ((df["userID"] % 3 == 0) ^ (df["itemID"] % 2 == 0)).astype(float)
    return df


@pytest.fixture(scope="module")
def fitted():
    df = movielens_like()
    return df, create_model("ffm", col_rating="label", seed=0, train=FAST).fit(df)


def test_shipped_layout_is_seven_fields_of_k4(fitted):
    _, model = fitted
    ffm = model.network_.backbone.layers["ffm_logit"]
    assert (ffm.num_features, ffm.num_fields, ffm.k) == (7, 7, 4)


def test_rows_with_a_missing_field_are_scored(fitted):
    df, model = fitted
    rows = df.iloc[:5].copy()
    complete = model.predict(rows, score_unknown=True)["prediction"].to_numpy()
    rows["occupation"] = rows["occupation"].astype(object)
    rows.loc[rows.index[0], "occupation"] = None
    rows.loc[rows.index[1], "age"] = np.nan
    rows.loc[rows.index[2], "genres"] = None
    rows.loc[rows.index[3], "gender"] = np.nan
    with_missing = model.predict(rows, score_unknown=True)["prediction"].to_numpy()
    assert np.isfinite(with_missing).all()
    # only the rows with a missing field change, and each of them does
    assert (with_missing[:4] != complete[:4]).all()
    assert with_missing[4] == complete[4]


def test_a_field_missing_from_every_training_row_is_refused():
    df = movielens_like().assign(occupation=None)
    with pytest.raises(DataError, match="job_id"):
        create_model("ffm", col_rating="label", train=FAST).fit(df)


def test_embedding_width_that_is_not_fields_times_k_names_the_fix():
    df = movielens_like()
    with pytest.raises(ConfigError, match="embedding_dim to 7 \\* k"):
        create_model("ffm", col_rating="label", default_embedding_dim=16, train=FAST).fit(df)
    # three fields: 28 is not 3 * k either
    with pytest.raises(ConfigError, match="embedding_dim to 3 \\* k"):
        create_model(
            "ffm",
            col_rating="label",
            train=FAST,
            feature_groups={"deep": ["user_id", "movie_id", "gender"]},
        ).fit(df)
    # 3 fields * k = 5
    model = create_model(
        "ffm",
        col_rating="label",
        default_embedding_dim=15,
        train=FAST,
        feature_groups={"deep": ["user_id", "movie_id", "gender"]},
    ).fit(df)
    assert model.network_.backbone.layers["ffm_logit"].k == 5
