"""Download, cache, mirror and archive checks, with file:// URLs only (never the network)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import time
import urllib.error
import zipfile
from pathlib import Path

import pytest

from recutils.datasets import download as dl
from recutils.exceptions import ConfigError, CorruptDataError, DatasetUnavailableError

FILES = {"a.txt": b"alpha\n", "b.txt": b"beta\n" * 100}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No mirror, a private cache, offline unless a test says otherwise, no sleeping."""
    monkeypatch.delenv(dl.ENV_DATA_MIRROR, raising=False)
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "home"))
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)


def make_zip(path: Path, folder: str = "toy", files: dict[str, bytes] = FILES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}" if folder else name, data)
    return path


def make_spec(url: str, **kw) -> dl.RemoteArchive:
    return dl.RemoteArchive(name="toy", url=url, **kw)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def online(monkeypatch):
    monkeypatch.delenv(dl.ENV_OFFLINE, raising=False)


# ----------------------------------------------------------------------------- settings


def test_data_home_env_and_xdg_default(monkeypatch, tmp_path):
    assert dl.get_data_home() == tmp_path / "home"
    assert (tmp_path / "home").is_dir()
    monkeypatch.delenv(dl.ENV_DATA_HOME)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dl.get_data_home() == tmp_path / "xdg" / "recutils"
    assert dl.get_data_home(tmp_path / "explicit") == tmp_path / "explicit"


def test_mirror_and_offline_switches(monkeypatch, tmp_path):
    assert dl.get_mirror() is None
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path))
    assert dl.get_mirror() == tmp_path
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "nope"))
    assert dl.get_mirror() is None
    assert dl.is_offline()
    monkeypatch.setenv(dl.ENV_OFFLINE, "0")
    assert not dl.is_offline()


# ----------------------------------------------------------------------------- download_file


def test_download_file_atomic_and_verified(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 5000)
    dest = tmp_path / "out" / "copy.bin"
    out = dl.download_file(src.as_uri(), dest, size=5000, md5=md5(src), progress=False)
    assert out == dest and dest.read_bytes() == src.read_bytes()
    assert not (tmp_path / "out" / "copy.bin.part").exists()


@pytest.mark.parametrize("kw", [{"md5": "0" * 32}, {"size": 1}, {"sha256": "f" * 64}])
def test_download_file_checksum_mismatch_raises_corrupt_naming_file(tmp_path, kw):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    dest = tmp_path / "copy.bin"
    with pytest.raises(CorruptDataError, match="copy.bin"):
        dl.download_file(src.as_uri(), dest, progress=False, **kw)
    assert not dest.exists()
    assert not (tmp_path / "copy.bin.part").exists()


def test_download_missing_file_fails_at_once_without_retry(tmp_path, monkeypatch):
    calls = []
    real = dl._open_url
    monkeypatch.setattr(dl, "_open_url", lambda u, t: calls.append(u) or real(u, t))
    with pytest.raises(DatasetUnavailableError, match="could not download"):
        dl.download_file((tmp_path / "missing.zip").as_uri(), tmp_path / "x.zip", progress=False)
    assert len(calls) == 1


def test_download_retries_transient_errors(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"data")
    calls = []
    real = dl._open_url

    def flaky(url, timeout):
        calls.append(timeout)
        if len(calls) < 3:
            raise urllib.error.URLError(TimeoutError("timed out"))
        return real(url, timeout)

    monkeypatch.setattr(dl, "_open_url", flaky)
    dl.download_file(src.as_uri(), tmp_path / "d.bin", retries=2, timeout=3, progress=False)
    assert calls == [3, 3, 3]
    assert (tmp_path / "d.bin").read_bytes() == b"data"


def test_download_gives_up_after_retries(tmp_path, monkeypatch):
    calls = []

    def down(url, timeout):
        calls.append(url)
        raise urllib.error.URLError(ConnectionResetError("reset"))

    monkeypatch.setattr(dl, "_open_url", down)
    with pytest.raises(DatasetUnavailableError):
        dl.download_file("https://example.invalid/x.zip", tmp_path / "x.zip", retries=2,
                         progress=False)
    assert len(calls) == 3
    assert not (tmp_path / "x.zip.part").exists()


def test_unresolvable_host_is_not_retried(monkeypatch, tmp_path):
    import socket

    calls = []

    def no_dns(url, timeout):
        calls.append(url)
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(dl, "_open_url", no_dns)
    with pytest.raises(DatasetUnavailableError):
        dl.download_file("https://example.invalid/x.zip", tmp_path / "x.zip", progress=False)
    assert len(calls) == 1


def test_download_rejects_unknown_scheme(tmp_path):
    with pytest.raises(ConfigError, match="allowed schemes"):
        dl.download_file("ftp://host/x.zip", tmp_path / "x.zip")


def test_fetch_md5_parses_both_styles(tmp_path):
    digest = "0123456789abcdef0123456789abcdef"
    bsd = tmp_path / "a.md5"
    bsd.write_text(f"MD5 (ml-100k.zip) = {digest}\n")
    gnu = tmp_path / "b.md5"
    gnu.write_text(f"{digest.upper()}  ml-100k.zip\n")
    assert dl.fetch_md5(bsd.as_uri()) == digest
    assert dl.fetch_md5(gnu.as_uri()) == digest
    assert dl.fetch_md5((tmp_path / "none.md5").as_uri()) is None


# ----------------------------------------------------------------------------- archives


def test_check_archive_detects_truncated_and_garbage(tmp_path):
    good = make_zip(tmp_path / "good.zip")
    dl.check_archive(good)
    truncated = tmp_path / "trunc.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CorruptDataError, match="trunc.zip"):
        dl.check_archive(truncated)
    # flip bytes inside a member: CRC check fails
    raw = bytearray(make_zip(tmp_path / "crc.zip", files={"a.txt": b"z" * 2000}).read_bytes())
    zipfile.ZipFile(tmp_path / "crc.zip").close()
    start = raw.find(b"a.txt") + len(b"a.txt") + 2
    raw[start : start + 4] = b"\xff\xff\xff\xff"
    (tmp_path / "crc.zip").write_bytes(bytes(raw))
    with pytest.raises(CorruptDataError, match="crc.zip"):
        dl.check_archive(tmp_path / "crc.zip")
    tgz = tmp_path / "t.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        info = tarfile.TarInfo("f.txt")
        payload = b"q" * 100_000
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    dl.check_archive(tgz)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tgz.read_bytes()[:-40])
    with pytest.raises(CorruptDataError, match="cut.tar.gz"):
        dl.check_archive(cut)


def test_extract_refuses_path_traversal(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", b"x")
    with pytest.raises(CorruptDataError, match="outside"):
        dl.extract_archive(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()


# ----------------------------------------------------------------------------- fetch_dataset


def test_local_cache_path_folder_with_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"x")
    spec = make_spec("https://example.invalid/toy.zip")
    assert dl.fetch_dataset(spec, ["a.txt"], folder) == folder


def test_local_cache_path_archive_is_extracted(tmp_path):
    archive = make_zip(tmp_path / "somewhere" / "toy.zip")
    spec = make_spec("https://example.invalid/toy.zip")
    folder = dl.fetch_dataset(spec, ["a.txt", "b.txt"], archive)
    assert (folder / "b.txt").read_bytes() == FILES["b.txt"]
    folder2 = dl.fetch_dataset(spec, ["a.txt"], tmp_path / "somewhere")
    assert (folder2 / "a.txt").read_bytes() == FILES["a.txt"]


def test_mirror_extracted_folder_is_used_in_place(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "a.txt").write_bytes(b"m")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    spec = make_spec("https://example.invalid/toy.zip")
    assert dl.fetch_dataset(spec, ["a.txt"]) == mirror / "toy"


def test_mirror_archive_extracts_to_cache_then_cache_is_used(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    make_zip(mirror / "toy.zip", folder="Toy-Upstream")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    spec = make_spec("https://example.invalid/toy.zip", archive_folder="Toy-Upstream")
    folder = dl.fetch_dataset(spec, ["a.txt"])
    assert folder == tmp_path / "home" / "toy"
    assert (folder / "a.txt").read_bytes() == FILES["a.txt"]
    (mirror / "toy.zip").unlink()
    assert dl.fetch_dataset(spec, ["a.txt"]) == folder


def test_corrupt_mirror_archive_raises(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.zip").write_bytes(b"not a zip at all")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    with pytest.raises(CorruptDataError, match="toy.zip"):
        dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["a.txt"])


def test_download_with_published_md5_and_sidecar(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    md5_file = tmp_path / "upstream" / "toy.zip.md5"
    md5_file.write_text(f"MD5 (toy.zip) = {md5(upstream)}\n")
    spec = make_spec(upstream.as_uri(), md5_url=md5_file.as_uri())
    folder = dl.fetch_dataset(spec, ["a.txt", "b.txt"], progress=False)
    home = tmp_path / "home"
    assert folder == home / "toy"
    assert (home / "toy.zip").is_file()
    assert md5(upstream) in (home / "toy.zip.md5").read_text()
    assert not list(home.glob("*.part")) and not list(home.glob(".toy-*"))


def test_download_md5_mismatch_raises_corrupt_and_removes_file(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    md5_file = tmp_path / "upstream" / "toy.zip.md5"
    md5_file.write_text("0" * 32 + "  toy.zip\n")
    spec = make_spec(upstream.as_uri(), md5_url=md5_file.as_uri())
    with pytest.raises(CorruptDataError, match="toy.zip"):
        dl.fetch_dataset(spec, ["a.txt"], progress=False)
    assert not (tmp_path / "home" / "toy.zip").exists()


def test_download_of_garbage_raises_corrupt(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = tmp_path / "upstream" / "toy.zip"
    upstream.parent.mkdir()
    upstream.write_bytes(b"<html>captive portal</html>")
    with pytest.raises(CorruptDataError, match="toy.zip"):
        dl.fetch_dataset(make_spec(upstream.as_uri()), ["a.txt"], progress=False)
    assert not (tmp_path / "home" / "toy.zip").exists()


def test_corrupt_cached_archive_is_refetched(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    home = tmp_path / "home"
    home.mkdir()
    (home / "toy.zip").write_bytes(upstream.read_bytes()[:100])  # truncated
    folder = dl.fetch_dataset(make_spec(upstream.as_uri()), ["a.txt"], progress=False)
    assert (folder / "a.txt").read_bytes() == FILES["a.txt"]
    assert (home / "toy.zip").read_bytes() == upstream.read_bytes()


def test_cached_archive_with_wrong_sidecar_md5_is_refetched(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    home = tmp_path / "home"
    make_zip(home / "toy.zip", files={"a.txt": b"stale"})  # valid zip, wrong content
    (home / "toy.zip.md5").write_text(md5(upstream))
    folder = dl.fetch_dataset(make_spec(upstream.as_uri()), ["a.txt"], progress=False)
    assert (folder / "a.txt").read_bytes() == FILES["a.txt"]


def test_valid_cached_archive_is_used_offline(tmp_path):
    make_zip(tmp_path / "home" / "toy.zip")
    folder = dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["b.txt"])
    assert (folder / "b.txt").read_bytes() == FILES["b.txt"]


def test_download_into_local_cache_path_folder(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    target = tmp_path / "mycache"
    folder = dl.fetch_dataset(make_spec(upstream.as_uri()), ["a.txt"], target, progress=False)
    assert folder == target / "toy"
    assert (target / "toy.zip").is_file()


def test_tar_gz_with_top_level_files(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = tmp_path / "upstream" / "sample.tar.gz"
    upstream.parent.mkdir()
    with tarfile.open(upstream, "w:gz") as tf:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    spec = dl.RemoteArchive(name="sample", url=upstream.as_uri(), archive_folder="")
    folder = dl.fetch_dataset(spec, ["a.txt"], progress=False)
    assert folder == tmp_path / "home" / "sample"
    assert (folder / "b.txt").read_bytes() == FILES["b.txt"]


def test_archive_without_required_file(monkeypatch, tmp_path):
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    with pytest.raises(DatasetUnavailableError, match="missing.txt"):
        dl.fetch_dataset(make_spec(upstream.as_uri()), ["missing.txt"], progress=False)


def test_offline_without_data_says_what_to_set_and_never_connects(monkeypatch, tmp_path):
    def boom(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(dl, "_open_url", boom)
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "a.txt").write_bytes(b"only a")  # partial folder: b.txt missing
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["a.txt", "b.txt"])
    assert time.perf_counter() - start < 2
    message = str(info.value)
    for needle in ("RECUTILS_DATA_MIRROR", "RECUTILS_DATA_HOME", "local_cache_path",
                   "RECUTILS_OFFLINE", "b.txt", str(mirror)):
        assert needle in message


def test_failed_download_becomes_unavailable_with_instructions(monkeypatch, tmp_path):
    online(monkeypatch)
    spec = make_spec((tmp_path / "nowhere" / "toy.zip").as_uri())
    with pytest.raises(DatasetUnavailableError, match="RECUTILS_DATA_MIRROR"):
        dl.fetch_dataset(spec, ["a.txt"], progress=False)


def test_import_is_light():
    code = (
        "import sys, recutils.datasets as d; "
        "bad = [m for m in ('torch', 'pyspark', 'tensorflow', 'scipy', "
        "'recutils.datasets.movielens') if m in sys.modules]; "
        "assert not bad, bad; "
        "d.make_interactions; assert 'recutils.datasets.synthetic' in sys.modules; "
        "d.movielens.load_pandas_df; "
        "bad = [m for m in ('torch', 'pyspark', 'tensorflow') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
