"""Damaged or tampered data folders: what the loaders let through, and what they now refuse.

Each test builds a damaged copy of a data set in ``tmp_path``: from the real files of the
mirror (``$RECUTILS_DATA_MIRROR``) when they are there, else from synthetic files in the
same format whose digests stand in for the published ones. Nothing here downloads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import amazon, criteo, lastfm
from recutils.datasets import download as dl
from recutils.datasets import movielens as ml
from recutils.datasets.download import integrity
from recutils.exceptions import ConfigError, CorruptDataError, DataError, DatasetUnavailableError

_MIRROR_ENV = os.environ.get(dl.ENV_DATA_MIRROR)
MIRROR = Path(_MIRROR_ENV) if _MIRROR_ENV else None


def _real(name: str) -> Path | None:
    """The data set folder ``name`` of the mirror, or ``None``."""
    if MIRROR is None or not (MIRROR / name).is_dir():
        return None
    return MIRROR / name


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv(dl.ENV_DATA_MIRROR, raising=False)
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "home"))
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    dl.clear_digest_cache()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _synthetic_100k(folder: Path) -> None:
    """u.data, u.item, u.user in the ml-100k format (tab / ``|``, latin-1), 2,000 ratings."""
    rng = np.random.default_rng(0)
    users, items = rng.integers(1, 51, 2000), rng.integers(1, 101, 2000)
    ratings, stamps = rng.integers(1, 6, 2000), rng.integers(874_724_710, 893_286_638, 2000)
    lines = [f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in zip(users, items, ratings, stamps)]
    (folder / "u.data").write_text("".join(lines))
    flags = "|".join(["0"] * 18 + ["1"])
    (folder / "u.item").write_bytes(
        "".join(
            f"{i}|Film {i} (199{i % 10})|01-Jan-1995||http://x/{i}|{flags}\n" for i in range(1, 101)
        ).encode("latin-1")
    )
    (folder / "u.user").write_text("".join(f"{u}|30|M|other|55555\n" for u in range(1, 51)))


@pytest.fixture
def ml100k_copy(tmp_path, monkeypatch) -> Path:
    """A good copy of ml-100k in ``tmp_path/data/ml-100k`` (real, else synthetic and pinned)."""
    folder = tmp_path / "data" / "ml-100k"
    folder.mkdir(parents=True)
    real = _real("ml-100k")
    if real is not None:
        for name in ("u.data", "u.item", "u.user"):
            shutil.copyfile(real / name, folder / name)
    else:
        _synthetic_100k(folder)
        spec = ml._SIZES["100k"]
        pins = {n: dl.PublishedFile(n, (_sha(folder / n),)) for n in ("u.data", "u.item", "u.user")}
        n_ratings = len((folder / "u.data").read_text().splitlines())
        monkeypatch.setitem(
            ml._SIZES, "100k", dataclasses.replace(spec, published=pins, n_ratings=n_ratings)
        )
    return folder


def _load(folder: Path, **kw) -> pd.DataFrame:
    return ml.load_pandas_df("100k", local_cache_path=folder, progress=False, **kw)


# ----------------------------------------------------------------------------- probe 1


def test_good_copy_loads_as_before(ml100k_copy):
    df = _load(ml100k_copy)
    assert list(df.dtypes) == [np.int64, np.int64, np.float64, np.int64]
    raw = pd.read_csv(ml100k_copy / "u.data", sep="\t", header=None).to_numpy()
    np.testing.assert_array_equal(df.to_numpy(), raw)  # same rows, same order
    assert len(ml.load_item_df("100k", local_cache_path=ml100k_copy)) > 0


def test_bug_truncated_u_data_loaded_with_a_corrupt_last_timestamp(ml100k_copy):
    data = ml100k_copy / "u.data"
    data.write_bytes(data.read_bytes()[:-5])  # cut inside the last timestamp
    with pytest.raises(CorruptDataError) as info:
        _load(ml100k_copy)
    message = str(info.value)
    assert str(data) in message and _sha(data) in message  # the file and its actual digest
    assert ml._SIZES["100k"].published["u.data"].digests[0] in message  # the expected one
    assert "delete the folder" in message


def test_bug_truncated_u_data_is_caught_by_row_count_without_digest_pin(ml100k_copy, monkeypatch):
    spec = ml._SIZES["100k"]
    monkeypatch.setitem(ml._SIZES, "100k", dataclasses.replace(spec, published={}))
    data = ml100k_copy / "u.data"
    raw = data.read_bytes()
    data.write_bytes(raw[: raw.rindex(b"\n", 0, len(raw) - 1) + 1])  # the last line lost
    with pytest.raises(CorruptDataError, match=f"published holds {spec.n_ratings}"):
        _load(ml100k_copy)
    assert len(_load(ml100k_copy, verify=False)) == spec.n_ratings - 1  # a subset on purpose


def test_bug_rating_of_9_loaded(ml100k_copy):
    data = ml100k_copy / "u.data"
    lines = data.read_text().splitlines(keepends=True)
    user, item, _, stamp = lines[41].split("\t")
    lines[41] = f"{user}\t{item}\t9\t{stamp}"
    data.write_text("".join(lines))
    with pytest.raises(CorruptDataError, match="u.data"):
        _load(ml100k_copy)  # not the published file
    with pytest.raises(CorruptDataError, match=r"u\.data, line 42: rating 9\.0 is outside"):
        _load(ml100k_copy, verify=False)  # and out of the 1..5 scale, on line 42


@pytest.mark.parametrize(
    "line, match",
    [
        ("1\t2\t3\n", r"line \d+: 3 fields, expected 4"),
        ("1\t2\t3\t4\t5\n", r"line \d+: 5 fields, expected 4"),
        ("0\t2\t3\t881250949\n", r"line \d+: user and item ids must be positive"),
        ("1\t2\t3\t-5\n", r"line \d+: timestamps must be seconds since 1970"),
        ("1\t2\t2.5\t881250949\n", r"line \d+: rating 2\.5 is outside the published scale"),
    ],
)
def test_malformed_rating_lines_name_file_and_line(ml100k_copy, line, match):
    data = ml100k_copy / "u.data"
    with open(data, "a") as fh:
        fh.write(line)
    with pytest.raises(CorruptDataError, match=match) as info:
        _load(ml100k_copy, verify=False)
    assert str(data) in str(info.value)


def test_bug_empty_u_data_gave_an_empty_frame(ml100k_copy, tmp_path):
    (ml100k_copy / "u.data").write_bytes(b"")
    with pytest.raises(CorruptDataError, match="no data rows"):
        _load(ml100k_copy, verify=False)
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"\n")
    with pytest.raises(CorruptDataError, match="no data rows"):
        ml.read_ratings(empty)


def test_bug_truncated_u_item_gave_nan_titles(ml100k_copy):
    item = ml100k_copy / "u.item"
    raw = item.read_bytes()
    item.write_bytes(raw[: raw.rindex(b"|", 0, len(raw) - 60)])  # cut inside the last line
    with pytest.raises(CorruptDataError, match="u.item"):
        ml.load_item_df("100k", local_cache_path=ml100k_copy)
    n_lines = raw.count(b"\n")
    expected = rf"u\.item, line {n_lines}: \d+ fields, expected 24"
    with pytest.raises(CorruptDataError, match=expected):
        ml.load_item_df("100k", local_cache_path=ml100k_copy, verify=False)


def test_item_titles_and_genre_flags_must_be_present(ml100k_copy):
    item = ml100k_copy / "u.item"
    lines = item.read_bytes().split(b"\n")
    fields = lines[2].split(b"|")
    item.write_bytes(
        b"\n".join([*lines[:2], b"|".join([fields[0], b"  ", *fields[2:]]), *lines[3:]])
    )
    with pytest.raises(CorruptDataError, match="line 3: the title field is empty"):
        ml.load_item_df("100k", local_cache_path=ml100k_copy, verify=False)
    fields[-1] = b""
    item.write_bytes(b"\n".join([*lines[:2], b"|".join(fields), *lines[3:]]))
    with pytest.raises(CorruptDataError, match="line 3: the 19 genre flags must be 0 or 1"):
        ml.load_item_df("100k", local_cache_path=ml100k_copy, verify=False)


def test_movies_csv_genres_must_be_present(tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n")
    (folder / "movies.csv").write_text('movieId,title,genres\n31,"Dangerous Minds (1995)"\n')
    with pytest.raises(CorruptDataError, match="line 2: the genres field is empty"):
        ml.load_item_df("latest-small", local_cache_path=tmp_path, verify=False)


# ----------------------------------------------------------------------------- probe 4


def test_bug_missing_local_cache_path_was_silently_ignored(ml100k_copy, monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(ml100k_copy.parent))  # the data is elsewhere
    typo = tmp_path / "my-data-typo"
    with pytest.raises(DatasetUnavailableError, match=f"local_cache_path {typo} does not exist"):
        _load(typo)
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        criteo.load_pandas_df(local_cache_path=tmp_path / "nope.tar.gz")


def test_missing_mirror_folder_is_a_config_error_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "no-such-mirror"))
    with pytest.raises(ConfigError, match="no-such-mirror does not exist"):
        _load(None)
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "a-file"))
    with pytest.raises(ConfigError, match="is not a folder"):
        amazon.load_pandas_df()


# ----------------------------------------------------------------------------- probe 2


def test_tampered_mirror_file_is_refused_and_good_mirror_is_used(ml100k_copy, monkeypatch):
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(ml100k_copy.parent))
    good = ml.load_user_df("100k")
    user = ml100k_copy / "u.user"
    user.write_bytes(user.read_bytes().replace(b"|M|", b"|F|", 1))  # same size, other content
    with pytest.raises(CorruptDataError, match="u.user"):
        ml.load_user_df("100k")
    assert len(ml.load_user_df("100k", verify=False)) == len(good)


def test_each_file_is_hashed_once_per_process_until_it_changes(ml100k_copy, monkeypatch):
    calls = []
    real_digest = integrity._digest
    monkeypatch.setattr(
        integrity,
        "_digest",
        lambda path, *a: calls.append(Path(path).name) or real_digest(path, *a),
    )
    _load(ml100k_copy)
    _load(ml100k_copy)
    ml.load_item_df("100k", local_cache_path=ml100k_copy)
    assert calls == ["u.data", "u.item"]
    data = ml100k_copy / "u.data"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    _load(ml100k_copy)
    assert calls == ["u.data", "u.item", "u.data"]


def test_git_blob_digest_matches_git_hash_object(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    assert dl.file_digest(path, "git-blob") == "ce013625030ba8dba906f756967f9e9ca394464a"
    with pytest.raises(ConfigError, match="algorithm"):
        dl.PublishedFile("x", ("00",), "md5sum")
    pinned = ml._SIZES["1m"].published["ratings.dat"]
    assert pinned.algorithm == "git-blob" and pinned.digests == (
        "77a7c4b150f588c23bb9e1f068aa996c0b413695",
    )


def test_pinned_digests_are_those_of_the_mirror_copies():
    """The mirror holds GroupLens' published ml-100k, ml-latest-small (2016) and ml-1m
    metadata files: each pin must match them."""
    for size, name in (("100k", "ml-100k"), ("latest-small", "ml-latest-small"), ("1m", "ml-1m")):
        real = _real(name)
        if real is None:
            continue
        for published in ml._SIZES[size].published.values():
            if (real / published.name).is_file():
                dl.check_published(real, published, dataset=name)


def _zip_folder(folder: Path, archive: Path, name: str) -> str:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"{name}/{path.name}")
    return hashlib.md5(archive.read_bytes()).hexdigest()


def test_reissued_latest_small_is_trusted_only_from_a_checked_archive(monkeypatch, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n")
    (src / "movies.csv").write_text("movieId,title,genres\n31,Dangerous Minds (1995),Drama\n")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    md5 = _zip_folder(src, mirror / "ml-latest-small.zip", "ml-latest-small")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    spec = ml._SIZES["latest-small"]
    # a newer release whose archive MD5 was checked: accepted though no pin matches
    checked = dataclasses.replace(spec.archive, md5=md5)
    monkeypatch.setitem(ml._SIZES, "latest-small", dataclasses.replace(spec, archive=checked))
    assert ml.load_pandas_df("latest-small")["rating"].tolist() == [2.5]
    # the same files in a folder made by hand: not a known release, refused
    shutil.copytree(src, tmp_path / "hand" / "ml-latest-small")
    with pytest.raises(CorruptDataError, match="ratings.csv"):
        ml.load_pandas_df("latest-small", local_cache_path=tmp_path / "hand")


def test_ml10m_without_digest_is_checked_by_its_published_row_count(tmp_path):
    folder = tmp_path / "ml-10m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::122::5::838985046\n1::185::4.5::838983525\n")
    with pytest.raises(CorruptDataError, match="holds 2 ratings.*10000054"):
        ml.load_pandas_df("10m", local_cache_path=tmp_path)
    df = ml.load_pandas_df("10m", local_cache_path=tmp_path, verify=False)
    assert df["rating"].tolist() == [5.0, 4.5]  # half stars are on the 10m scale


# ----------------------------------------------------------------------------- Amazon, Last.fm


def _amazon_copy(tmp_path) -> Path:
    folder = tmp_path / "amazon-grocery-rechorus"
    folder.mkdir()
    real = _real("amazon-grocery-rechorus")
    if real is None:
        pytest.skip("amazon-grocery-rechorus not in the mirror (its pins are the real files')")
    for name in (amazon.INTERACTIONS_FILE, amazon.ITEM_META_FILE):
        shutil.copyfile(real / name, folder / name)
    return folder


def test_tampered_amazon_file_is_refused(tmp_path):
    folder = _amazon_copy(tmp_path)
    assert len(amazon.load_pandas_df(local_cache_path=folder)) == 121_892
    train = folder / amazon.INTERACTIONS_FILE
    train.write_bytes(train.read_bytes()[:-3])
    with pytest.raises(CorruptDataError, match=rf"{amazon.INTERACTIONS_FILE}.*expected sha256"):
        amazon.load_pandas_df(local_cache_path=folder)


@pytest.mark.parametrize(
    "train, match",
    [
        ("user_id\titem_id\ttime\n1\t2\t3\n1\t2\n", r"line 3: 2 fields, expected 3"),
        ("user_id\titem_id\ttime\n1\t2\t3\n1\t2\t3\t4\n", r"line 3: 4 fields, expected 3"),
        ("user_id\titem_id\ttime\n0\t2\t3\n", r"line 2: 'user_id' must be >= 1"),
        ("user_id\titem_id\ttime\n1\t2\t-3\n", r"line 2: 'time' must be >= 0"),
    ],
)
def test_malformed_amazon_lines_name_the_line(tmp_path, train, match):
    path = tmp_path / "train.csv"
    path.write_text(train)
    with pytest.raises(CorruptDataError, match=match):
        amazon.read_interactions(path)


def test_bug_lastfm_mirror_copy_was_trusted_as_it_is(monkeypatch, tmp_path):
    real = _real("hetrec2011-lastfm-2k")
    mirror = tmp_path / "mirror"
    folder = mirror / "hetrec2011-lastfm-2k"
    folder.mkdir(parents=True)
    if real is not None:
        shutil.copyfile(real / lastfm.USER_ARTISTS_FILE, folder / lastfm.USER_ARTISTS_FILE)
    else:
        (folder / lastfm.USER_ARTISTS_FILE).write_bytes(
            b"userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n"
        )
        monkeypatch.setitem(
            lastfm.FILE_SHA256, lastfm.USER_ARTISTS_FILE, _sha(folder / lastfm.USER_ARTISTS_FILE)
        )
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    good = lastfm.load_pandas_df(progress=False)
    path = folder / lastfm.USER_ARTISTS_FILE
    path.write_bytes(path.read_bytes().replace(b"\t13883\r\n", b"\t99999\r\n", 1))
    with pytest.raises(CorruptDataError, match="user_artists.dat"):
        lastfm.load_pandas_df(progress=False)
    assert len(lastfm.load_pandas_df(progress=False, verify=False)) == len(good)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"userID\tartistID\tweight\r\n2\t51\r\n", r"line 2: 2 fields, expected 3"),
        (b"userID\tartistID\tweight\r\n-2\t51\t3\r\n", r"line 2: 'userID' must be a positive id"),
        (b"userID\tartistID\tweight\r\n2\t51\t3\r\n2\t52\t2.5\r\n", r"line 3: play counts must be"),
    ],
)
def test_malformed_lastfm_lines_name_the_line(tmp_path, content, match):
    path = tmp_path / "user_artists.dat"
    path.write_bytes(content)
    with pytest.raises(CorruptDataError, match=match):
        lastfm.read_user_artists(path)


# ----------------------------------------------------------------------------- Criteo


def _dac_lines() -> list[str]:
    real = _real("criteo")
    if real is not None:
        return (real / "dac_train_head1000.txt").read_text().splitlines(keepends=True)
    row = "\t".join(["1", *map(str, range(13)), *(f"{i:08x}" for i in range(26))]) + "\n"
    return [row] * 50


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda last: "\t".join(last.split("\t")[:5]), r"5 fields, expected 14 to 40"),  # cut early
        (lambda last: last.rstrip("\n")[:-5], r"C\d+ must be 8 hex digits"),  # cut in a hash
        (lambda last: "2" + last[1:], r"label must be 0 or 1"),
        (lambda last: last.rstrip("\n") + "\textra\n", r"41 fields, expected 14 to 40"),
    ],
)
def test_damaged_last_dac_line_names_file_and_line(tmp_path, damage, match):
    lines = _dac_lines()
    path = tmp_path / "dac.txt"
    path.write_text("".join([*lines[:-1], damage(lines[-1])]))
    with pytest.raises(CorruptDataError, match=rf"dac\.txt, line {len(lines)}: .*{match}"):
        criteo.read_dac(path)
    assert len(criteo.read_dac(path, nrows=len(lines) - 1)) == len(lines) - 1


def test_fractional_dac_count_is_refused(tmp_path):
    lines = _dac_lines()
    fields = lines[0].split("\t")
    fields[3] = "2.5"
    path = tmp_path / "dac.txt"
    path.write_text("\t".join(fields))
    with pytest.raises(CorruptDataError, match="line 1: integer features must be whole"):
        criteo.read_dac(path)


@pytest.mark.parametrize(
    "read, content",
    [
        (amazon.read_interactions, b"user_id\titem_id\ttime\n"),
        (lastfm.read_user_artists, b"userID\tartistID\tweight\r\n"),
        (criteo.read_dac, b""),
    ],
)
def test_files_without_data_rows_raise(tmp_path, read, content):
    path = tmp_path / "f.txt"
    path.write_bytes(content)
    with pytest.raises(CorruptDataError, match="no data rows"):
        read(path)


def test_value_errors_stay_data_errors(tmp_path):
    path = tmp_path / "bad.dat"
    path.write_text("1::x::3::4\n")
    with pytest.raises(DataError, match="bad.dat"):
        ml.read_ratings(path, sep="::")
