"""MovieLens loaders on tiny hand-written files in the original formats (no network).

The toy files are not GroupLens' published ones, so the loaders run with ``verify=False``
here (the digest checks are tested in test_hostile_data.py)."""

from __future__ import annotations

import dataclasses
import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.datasets import movielens as ml
from recutils.exceptions import (
    ConfigError,
    CorruptDataError,
    DataError,
    DatasetUnavailableError,
    DataWarning,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv(dl.ENV_DATA_MIRROR, raising=False)
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "home"))
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")


def flags(*on: int) -> str:
    row = ["0"] * 19
    for i in on:
        row[i] = "1"
    return "|".join(row)


U_DATA = "1\t10\t4\t881250949\n2\t10\t5\t881250950\n2\t20\t1\t881250951\n"
U_ITEM = (
    f"10|Misérables, Les (1995)|01-Jan-1995||http://x|{flags(8, 12)}\n"
    f"20|unknown||||{flags(0)}\n"
    f"30|Land Before Time III (1995) (V)|01-Jan-1995||http://y|{flags()}\n"
).encode("latin-1")
U_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n"


def write_100k(root: Path) -> Path:
    folder = root / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(U_DATA)
    (folder / "u.item").write_bytes(U_ITEM)
    (folder / "u.user").write_text(U_USER)
    return folder


def write_1m(root: Path, with_ratings: bool = True) -> Path:
    folder = root / "ml-1m"
    folder.mkdir(parents=True)
    if with_ratings:
        (folder / "ratings.dat").write_text("1::1193::5::978300760\n2::661::3::978302109\n")
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::Café au Lait (1993)::Comedy|Children's\n".encode("latin-1")
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def write_latest_small(root: Path) -> Path:
    folder = root / "ml-latest-small"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n"
        "7,31,0.5,1260759180\n"
    )
    (folder / "movies.csv").write_text(
        'movieId,title,genres\n31,"American President, The (1995)",Comedy|Drama|Romance\n'
        "1029,Dumbo (1941),Animation|Children\n55,Hyena Road,(no genres listed)\n",
        encoding="utf-8",
    )
    return folder


# ----------------------------------------------------------------------------- ratings


def test_100k_default_header_and_dtypes(tmp_path):
    write_100k(tmp_path)
    df = ml.load_pandas_df("100k", local_cache_path=tmp_path, verify=False)
    assert list(df.columns) == ["userID", "itemID", "rating", "timestamp"]
    assert df.shape == (3, 4)
    assert df["rating"].dtype == np.float64 and df["userID"].dtype == np.int64
    assert df["timestamp"].tolist() == [881250949, 881250950, 881250951]


def test_short_and_custom_header(tmp_path):
    write_100k(tmp_path)
    df = ml.load_pandas_df("100k", header=["u", "i"], local_cache_path=tmp_path, verify=False)
    assert list(df.columns) == ["u", "i"]
    df3 = ml.load_pandas_df("100k", header=("u", "i", "r"), local_cache_path=tmp_path, verify=False)
    assert df3["r"].tolist() == [4.0, 5.0, 1.0]


def test_long_header_warns_and_bad_header_raises(tmp_path):
    write_100k(tmp_path)
    with pytest.warns(DataWarning, match="keeping"):
        df = ml.load_pandas_df(
            "100k", header=list("abcde"), local_cache_path=tmp_path, verify=False
        )
    assert list(df.columns) == list("abcd")
    with pytest.raises(ConfigError, match="at least the user and item"):
        ml.load_pandas_df("100k", header=["u"], local_cache_path=tmp_path, verify=False)
    with pytest.raises(ConfigError, match="duplicate"):
        ml.load_pandas_df("100k", header=["u", "u"], local_cache_path=tmp_path, verify=False)


def test_item_features_merged_under_given_names(tmp_path):
    write_100k(tmp_path)
    df = ml.load_pandas_df(
        "100k",
        header=["u", "movie"],
        local_cache_path=tmp_path,
        verify=False,
        title_col="T",
        genres_col="G",
        year_col="Y",
    )
    assert list(df.columns) == ["u", "movie", "T", "G", "Y"]
    first = df.iloc[0]
    assert first["T"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert first["G"] == "Drama|Musical"
    assert first["Y"] == 1995
    last = df.iloc[2]
    assert last["G"] == "unknown" and pd.isna(last["Y"])
    only_genres = ml.load_pandas_df(
        "100k", local_cache_path=tmp_path, verify=False, genres_col="genre"
    )
    assert list(only_genres.columns) == ["userID", "itemID", "rating", "timestamp", "genre"]


def test_feature_name_clash_is_config_error(tmp_path):
    write_100k(tmp_path)
    with pytest.raises(ConfigError, match="clash"):
        ml.load_pandas_df("100k", local_cache_path=tmp_path, verify=False, title_col="rating")


def test_1m_double_colon_files(tmp_path):
    write_1m(tmp_path)
    df = ml.load_pandas_df(
        "1m", local_cache_path=tmp_path, verify=False, title_col="title", genres_col="genres"
    )
    assert df["itemID"].tolist() == [1193, 661]
    assert df["title"].tolist()[1] == "Café au Lait (1993)"
    assert df["genres"].tolist()[1] == "Comedy|Children's"


def test_latest_small_half_stars_and_quoted_titles(tmp_path):
    write_latest_small(tmp_path)
    df = ml.load_pandas_df(
        "latest-small", local_cache_path=tmp_path, verify=False, title_col="title", year_col="year"
    )
    assert df["rating"].tolist() == [2.5, 3.0, 0.5]
    assert df["title"].iloc[0] == "American President, The (1995)"
    items = ml.load_item_df("latest-small", local_cache_path=tmp_path, verify=False)
    row = items.set_index("itemID").loc[55]
    assert row["genres"] == "" and pd.isna(row["year"])


def test_read_ratings_double_colon_gzip(tmp_path):
    path = tmp_path / "ratings_prefix.dat.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(
            "".join(
                f"{u}::{i}::{(u + i) % 5 + 1}::{978300760 + i}\n"
                for u in range(1, 21)
                for i in range(1, 51)
            )
        )
    df = ml.read_ratings(path, sep="::")
    assert df.shape == (1000, 4)
    assert df["userID"].nunique() == 20 and df["itemID"].max() == 50
    assert df.iloc[0].tolist() == [1, 1, 3.0, 978300761]


def test_read_ratings_bad_file_is_data_error(tmp_path):
    path = tmp_path / "bad.dat"
    path.write_text("1::x::3::4\n")
    with pytest.raises(DataError, match="bad.dat"):
        ml.read_ratings(path, sep="::")


# ----------------------------------------------------------------------------- items & users


def test_item_df_100k(tmp_path):
    write_100k(tmp_path)
    items = ml.load_item_df("100k", local_cache_path=tmp_path, verify=False)
    assert list(items.columns) == ["itemID", "title", "genres", "year"]
    assert str(items["year"].dtype) == "Int64"
    assert items["year"].tolist()[2] == 1995  # last "(YYYY)" even with a "(V)" suffix
    assert items["genres"].tolist() == ["Drama|Musical", "unknown", ""]


def test_user_df_100k_and_1m(tmp_path):
    write_100k(tmp_path)
    write_1m(tmp_path)
    u100 = ml.load_user_df("100k", local_cache_path=tmp_path, verify=False, col_user="uid")
    assert list(u100.columns) == ["uid", "age", "gender", "occupation", "zip_code"]
    assert u100["occupation"].tolist() == ["technician", "other"]
    u1m = ml.load_user_df("1m", local_cache_path=tmp_path, verify=False)
    assert u1m["age"].tolist() == [1, 56]
    assert u1m["occupation"].tolist() == ["K-12 student", "self-employed"]
    assert u1m["zip_code"].tolist() == ["48067", "70072"]


def test_user_df_missing_for_size(tmp_path):
    with pytest.raises(ConfigError, match="100k"):
        ml.load_user_df("latest-small", local_cache_path=tmp_path, verify=False)


def test_unknown_size_lists_allowed():
    with pytest.raises(ConfigError, match="latest-small") as info:
        ml.load_pandas_df("3m")
    assert "mock" in str(info.value) and "100k" in str(info.value)
    with pytest.raises(ConfigError):
        ml.load_pandas_df("mock0")


# ----------------------------------------------------------------------------- resolution


def test_mirror_extracted_folder(monkeypatch, tmp_path):
    write_100k(tmp_path / "mirror")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    assert len(ml.load_pandas_df("100k", verify=False)) == 3


def test_mirror_zip_archive(monkeypatch, tmp_path):
    src = write_100k(tmp_path / "src")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w") as zf:
        for f in src.iterdir():
            zf.write(f, f"ml-100k/{f.name}")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    # the real ml-100k.zip's MD5 and size are pinned: a toy archive is refused as corrupt ...
    with pytest.raises(CorruptDataError, match="ml-100k.zip"):
        ml.load_user_df("100k")
    # ... and accepted by a spec that pins nothing
    spec = ml._SIZES["100k"]
    unpinned = dataclasses.replace(spec.archive, md5=None, size=None)
    monkeypatch.setitem(ml._SIZES, "100k", dataclasses.replace(spec, archive=unpinned))
    users = ml.load_user_df("100k", verify=False)  # toy files, not the published ones
    assert len(users) == 2
    assert (tmp_path / "home" / "ml-100k" / "u.user").is_file()


def test_1m_features_load_but_ratings_unavailable_offline(monkeypatch, tmp_path):
    write_1m(tmp_path / "mirror", with_ratings=False)
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    assert len(ml.load_item_df("1m", verify=False)) == 2
    assert len(ml.load_user_df("1m", verify=False)) == 2
    with pytest.raises(DatasetUnavailableError, match="ratings.dat"):
        ml.load_pandas_df("1m")


def test_nothing_available_offline():
    with pytest.raises(DatasetUnavailableError, match="RECUTILS_DATA_MIRROR"):
        ml.load_pandas_df("100k")


# ----------------------------------------------------------------------------- mock


def test_mock100_schema_and_determinism():
    df = ml.load_pandas_df("mock100", title_col="title", genres_col="genres", year_col="year")
    assert len(df) == 100
    assert list(df.columns) == [
        "userID",
        "itemID",
        "rating",
        "timestamp",
        "title",
        "genres",
        "year",
    ]
    assert df["rating"].between(1, 5).all() and df["title"].notna().all()
    assert not df.duplicated(["userID", "itemID"]).any()
    pd.testing.assert_frame_equal(
        df, ml.load_pandas_df("mock100", title_col="title", genres_col="genres", year_col="year")
    )
    other = ml.load_pandas_df("mock100", seed=7)
    assert not other[["userID", "itemID"]].equals(df[["userID", "itemID"]])
    assert set(df["itemID"]) <= set(ml.load_item_df("mock100")["itemID"])
    assert set(df["userID"]) <= set(ml.load_user_df("mock100")["userID"])
    assert len(ml.load_pandas_df("mock2000")) == 2000
