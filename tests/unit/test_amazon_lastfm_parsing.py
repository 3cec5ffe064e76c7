"""Amazon (ReChorus format) and Last.fm HetRec loaders on tiny files in the exact formats.

The toy files are not the published ones, so the loaders run with ``verify=False`` here
(the digest checks are tested in test_hostile_data.py)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recutils.datasets import amazon, lastfm
from recutils.datasets import download as dl
from recutils.exceptions import ConfigError, CorruptDataError, DataError, DatasetUnavailableError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv(dl.ENV_DATA_MIRROR, raising=False)
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "home"))
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")


# ReChorus: tab-separated despite the .csv name, header, unix seconds, list-valued relations
TRAIN = "user_id\titem_id\ttime\n2177\t3\t965779200\n4161\t1\t1068249600\n2177\t1\t1068249601\n"
META = (
    "item_id\ti_category\tr_complement\tr_substitute\n"
    "1\t0\t[3, 2]\t[3]\n"
    "2\t5\t[]\t[]\n"
    "3\t0\t[1]\t[]\n"
)
# HetRec: tab-separated, header, CRLF line ends, latin-1 text
USER_ARTISTS = b"userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n3\t51\t1\r\n"
USER_FRIENDS = b"userID\tfriendID\r\n2\t3\r\n3\t2\r\n"
ARTISTS = (
    "id\tname\turl\tpictureURL\n51\tR\xf6yksopp\thttp://www.last.fm/music/R\xf6yksopp\t"
    "http://x/1.jpg\n52\tMALICE MIZER\thttp://www.last.fm/music/MALICE+MIZER\t\n"
).encode("latin-1")


def write_amazon(folder: Path, train: str = TRAIN, meta: str = META) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / amazon.INTERACTIONS_FILE).write_text(train)
    (folder / amazon.ITEM_META_FILE).write_text(meta)
    return folder


def write_lastfm(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / lastfm.USER_ARTISTS_FILE).write_bytes(USER_ARTISTS)
    (folder / lastfm.USER_FRIENDS_FILE).write_bytes(USER_FRIENDS)
    (folder / lastfm.ARTISTS_FILE).write_bytes(ARTISTS)
    return folder


# ----------------------------------------------------------------------------- Amazon


def test_amazon_interactions_and_categories_from_mirror(monkeypatch, tmp_path):
    write_amazon(tmp_path / "mirror" / "amazon-grocery-rechorus")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    df = amazon.load_pandas_df("grocery", col_category="category", progress=False, verify=False)
    assert list(df.columns) == ["userID", "itemID", "timestamp", "category"]
    assert df[["userID", "itemID", "timestamp"]].to_numpy().tolist() == [
        [2177, 3, 965779200],
        [4161, 1, 1068249600],
        [2177, 1, 1068249601],
    ]
    assert df["category"].tolist() == [0, 0, 0]
    assert all(df[c].dtype == np.int64 for c in ("userID", "itemID", "timestamp"))


def test_amazon_custom_columns_and_no_category(tmp_path):
    folder = write_amazon(tmp_path / "mine")
    df = amazon.load_pandas_df(
        local_cache_path=folder, col_user="u", col_item="i", col_timestamp="t", verify=False
    )
    assert list(df.columns) == ["u", "i", "t"] and len(df) == 3


def test_amazon_item_relations_parse_to_id_arrays(tmp_path):
    items = amazon.read_item_meta(write_amazon(tmp_path / "a") / amazon.ITEM_META_FILE)
    assert list(items.columns) == ["itemID", "category", "complements", "substitutes"]
    assert items["category"].tolist() == [0, 5, 0]
    assert [list(x) for x in items["complements"]] == [[3, 2], [], [1]]
    assert [list(x) for x in items["substitutes"]] == [[3], [], []]
    plain = amazon.load_item_df(local_cache_path=tmp_path / "a", relations=False, verify=False)
    assert list(plain.columns) == ["itemID", "category"]


@pytest.mark.parametrize(
    "train, match",
    [
        ("user_id,item_id,time\n1,2,3\n", "header"),  # comma-separated: wrong format
        ("user_id\titem_id\ttime\n1\t2\t\n", "time"),  # empty field
        ("user_id\titem_id\ttime\n1\tx\t3\n", "cannot parse"),  # non-integer id
    ],
)
def test_amazon_bad_files_raise_data_error(tmp_path, train, match):
    folder = write_amazon(tmp_path / "bad", train=train)
    with pytest.raises(DataError, match=match):
        amazon.read_interactions(folder / amazon.INTERACTIONS_FILE)


def test_amazon_bad_relation_list_raises(tmp_path):
    folder = write_amazon(
        tmp_path / "bad", meta="item_id\ti_category\tr_complement\tr_substitute\n1\t0\t[a, 2]\t[]\n"
    )
    with pytest.raises(DataError, match="lists of integer ids"):
        amazon.read_item_meta(folder / amazon.ITEM_META_FILE)


def test_amazon_unknown_category_and_clashing_columns(tmp_path):
    with pytest.raises(ConfigError, match="grocery"):
        amazon.load_pandas_df("beauty")
    with pytest.raises(ConfigError, match="distinct"):
        amazon.load_pandas_df(col_category="userID")


def test_amazon_offline_without_data_names_the_urls(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network touched while RECUTILS_OFFLINE=1")

    monkeypatch.setattr(dl.transfer, "_open_url", no_network)
    with pytest.raises(DatasetUnavailableError) as info:
        amazon.load_pandas_df()
    message = str(info.value)
    assert dl.ENV_DATA_MIRROR in message and "amazon-grocery-rechorus" in message
    assert "raw.githubusercontent.com/THUwangcy/ReChorus/" in message


def test_amazon_pins_commit_and_checksums():
    for remote in amazon._CATEGORIES["grocery"].files:
        assert amazon._RECHORUS_COMMIT in remote.url
        assert len(remote.sha256) == 64 and remote.size > 1_000_000


# ----------------------------------------------------------------------------- fetch_files


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _upstream(tmp_path: Path) -> list[dl.RemoteFile]:
    up = tmp_path / "upstream"
    up.mkdir()
    (up / "a.txt").write_bytes(b"alpha\n")
    (up / "b.txt").write_bytes(b"beta\n")
    return [
        dl.RemoteFile(n, (up / n).as_uri(), _sha((up / n).read_bytes()), (up / n).stat().st_size)
        for n in ("a.txt", "b.txt")
    ]


def test_fetch_files_downloads_verifies_then_uses_cache_offline(monkeypatch, tmp_path):
    files = _upstream(tmp_path)
    monkeypatch.delenv(dl.ENV_OFFLINE)
    folder = dl.fetch_files("toy", files, progress=False)
    assert folder == tmp_path / "home" / "toy"
    assert (folder / "a.txt").read_bytes() == b"alpha\n"
    (tmp_path / "upstream" / "a.txt").unlink()  # the cache is used from now on
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    assert dl.fetch_files("toy", files) == folder


def test_fetch_files_downloads_into_local_folder_when_given(monkeypatch, tmp_path):
    files = _upstream(tmp_path)
    monkeypatch.delenv(dl.ENV_OFFLINE)
    (tmp_path / "mine").mkdir()  # a local_cache_path must exist
    folder = dl.fetch_files("toy", files, tmp_path / "mine", progress=False)
    assert folder == tmp_path / "mine" / "toy" and (folder / "b.txt").read_bytes() == b"beta\n"
    assert not (tmp_path / "home" / "toy").exists()


def test_fetch_files_refetches_truncated_cached_file(monkeypatch, tmp_path):
    files = _upstream(tmp_path)
    monkeypatch.delenv(dl.ENV_OFFLINE)
    folder = dl.fetch_files("toy", files, progress=False)
    (folder / "b.txt").write_bytes(b"be")
    dl.fetch_files("toy", files, progress=False)
    assert (folder / "b.txt").read_bytes() == b"beta\n"


def test_fetch_files_checksum_mismatch_is_corrupt_and_leaves_nothing(monkeypatch, tmp_path):
    files = _upstream(tmp_path)
    wrong = [files[0], dl.RemoteFile("b.txt", files[1].url, "0" * 64)]
    monkeypatch.delenv(dl.ENV_OFFLINE)
    with pytest.raises(CorruptDataError, match="b.txt"):
        dl.fetch_files("toy", wrong, progress=False)
    assert not (tmp_path / "home" / "toy" / "b.txt").exists()
    assert not list((tmp_path / "home" / "toy").glob("*.part"))


def test_fetch_files_local_folder_and_mirror_come_first(monkeypatch, tmp_path):
    files = [dl.RemoteFile("a.txt", "https://example.invalid/a.txt")]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("x")
    assert dl.fetch_files("toy", files, mine) == mine
    (tmp_path / "mirror" / "toy").mkdir(parents=True)
    (tmp_path / "mirror" / "toy" / "a.txt").write_text("y")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    assert dl.fetch_files("toy", files) == tmp_path / "mirror" / "toy"


def test_fetch_files_download_failure_is_unavailable(monkeypatch, tmp_path):
    monkeypatch.delenv(dl.ENV_OFFLINE)
    missing = [dl.RemoteFile("a.txt", (tmp_path / "nowhere" / "a.txt").as_uri())]
    with pytest.raises(DatasetUnavailableError, match="a.txt"):
        dl.fetch_files("toy", missing, progress=False)


# ----------------------------------------------------------------------------- Last.fm


def test_lastfm_play_counts_friends_and_artists(tmp_path):
    folder = write_lastfm(tmp_path / "mine")
    df = lastfm.load_pandas_df(local_cache_path=folder, verify=False)
    assert list(df.columns) == ["userID", "itemID", "rating"]
    assert df.to_numpy().tolist() == [[2, 51, 13883], [2, 52, 11690], [3, 51, 1]]
    assert df["rating"].dtype == np.float64 and df["userID"].dtype == np.int64
    friends = lastfm.load_friends_df(local_cache_path=folder, col_friend="f", verify=False)
    assert friends.to_numpy().tolist() == [[2, 3], [3, 2]]
    assert list(friends.columns) == ["userID", "f"]
    artists = lastfm.load_item_df(local_cache_path=folder, verify=False)
    assert artists["name"].tolist() == ["Röyksopp", "MALICE MIZER"]  # latin-1 decoded
    assert list(artists.columns) == ["itemID", "name", "url"]


def test_lastfm_from_mirror_zip_is_checksummed(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / lastfm.ARCHIVE.filename, "w") as zf:
        zf.writestr("hetrec2011-lastfm-2k/user_artists.dat", USER_ARTISTS)
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    monkeypatch.setitem(lastfm.FILE_SHA256, lastfm.USER_ARTISTS_FILE, _sha(USER_ARTISTS))
    assert len(lastfm.load_pandas_df(progress=False)) == 3
    monkeypatch.setitem(lastfm.FILE_SHA256, lastfm.USER_ARTISTS_FILE, "0" * 64)
    with pytest.raises(CorruptDataError, match="sha256"):
        lastfm.load_pandas_df(progress=False)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"userID\tartistID\tweight\r\n2\t51\t0\r\n", "play counts"),
        (b"user\tartist\tweight\r\n2\t51\t3\r\n", "header"),
        (b"userID\tartistID\tweight\r\n2\tx\t3\r\n", "cannot parse"),
    ],
)
def test_lastfm_bad_user_artists_raise(tmp_path, content, match):
    path = tmp_path / "user_artists.dat"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        lastfm.read_user_artists(path)


def test_lastfm_clashing_columns_and_offline(tmp_path):
    with pytest.raises(ConfigError, match="distinct"):
        lastfm.load_pandas_df(col_item="userID")
    with pytest.raises(DatasetUnavailableError, match="hetrec2011-lastfm-2k.zip"):
        lastfm.load_pandas_df()


def test_lazy_submodules():
    import recutils.datasets as d

    assert d.amazon is amazon and d.lastfm is lastfm
    assert {"amazon", "lastfm"} <= set(d.__all__)
