"""Download, cache, mirror and archive checks, with file:// URLs only (never the network)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
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
    monkeypatch.setattr(time, "sleep", lambda s: None)


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
    with pytest.raises(ConfigError, match="nope"):  # a mistyped mirror is reported
        dl.get_mirror()
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
    real = dl.transfer._open_url
    monkeypatch.setattr(dl.transfer, "_open_url", lambda u, t: calls.append(u) or real(u, t))
    with pytest.raises(DatasetUnavailableError, match="could not download"):
        dl.download_file((tmp_path / "missing.zip").as_uri(), tmp_path / "x.zip", progress=False)
    assert len(calls) == 1


def test_download_retries_transient_errors(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"data")
    calls = []
    real = dl.transfer._open_url

    def flaky(url, timeout):
        calls.append(timeout)
        if len(calls) < 3:
            raise urllib.error.URLError(TimeoutError("timed out"))
        return real(url, timeout)

    monkeypatch.setattr(dl.transfer, "_open_url", flaky)
    dl.download_file(src.as_uri(), tmp_path / "d.bin", retries=2, timeout=3, progress=False)
    assert calls == [3, 3, 3]
    assert (tmp_path / "d.bin").read_bytes() == b"data"


def test_download_gives_up_after_retries(tmp_path, monkeypatch):
    calls = []

    def down(url, timeout):
        calls.append(url)
        raise urllib.error.URLError(ConnectionResetError("reset"))

    monkeypatch.setattr(dl.transfer, "_open_url", down)
    with pytest.raises(DatasetUnavailableError):
        dl.download_file(
            "https://example.invalid/x.zip", tmp_path / "x.zip", retries=2, progress=False
        )
    assert len(calls) == 3
    assert not (tmp_path / "x.zip.part").exists()


def test_unresolvable_host_is_not_retried(monkeypatch, tmp_path):
    import socket

    calls = []

    def no_dns(url, timeout):
        calls.append(url)
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(dl.transfer, "_open_url", no_dns)
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
    target.mkdir()  # a local_cache_path must exist
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

    monkeypatch.setattr(dl.transfer, "_open_url", boom)
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "a.txt").write_bytes(b"only a")  # partial folder: b.txt missing
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["a.txt", "b.txt"])
    assert time.perf_counter() - start < 2
    message = str(info.value)
    for needle in (
        "RECUTILS_DATA_MIRROR",
        "RECUTILS_DATA_HOME",
        "local_cache_path",
        "RECUTILS_OFFLINE",
        "b.txt",
        str(mirror),
    ):
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


# ----------------------------------------------------------------------------- local HTTP servers


class _Server:
    """A raw-socket HTTP server on 127.0.0.1; ``handler(conn, n)`` answers the n-th request."""

    def __init__(self, handler):
        self.handler = handler
        self.hits = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/toy.zip"

    def _loop(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            threading.Thread(target=self._serve, args=(conn, self.hits), daemon=True).start()

    def _serve(self, conn, n):
        try:
            conn.settimeout(5)
            conn.recv(65536)
            self.handler(conn, n)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def serve():
    servers = []

    def start(handler) -> _Server:
        servers.append(_Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _ok(payload: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
        + payload
    )


def _pause(seconds: float) -> None:
    threading.Event().wait(seconds)  # time.sleep is patched out by _isolated


def test_cut_connection_short_read_is_retried_and_part_removed(serve, tmp_path):
    payload = b"p" * 50_000

    def cut_then_ok(conn, n):
        if n == 1:  # announces 50,000 bytes, sends 5,000, hangs up
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n" + payload[:5000])
        else:
            conn.sendall(_ok(payload))

    server = serve(cut_then_ok)
    dest = dl.download_file(server.url, tmp_path / "toy.zip", progress=False, retries=2)
    assert dest.read_bytes() == payload and server.hits == 2
    assert not (tmp_path / "toy.zip.part").exists()


def test_incomplete_chunked_read_is_retried_then_unavailable(serve, tmp_path):
    def chunked_cut(conn, n):  # http.client.IncompleteRead on every attempt
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + b"x" * 100)

    server = serve(chunked_cut)
    with pytest.raises(DatasetUnavailableError, match="IncompleteRead") as info:
        dl.download_file(server.url, tmp_path / "toy.zip", progress=False, retries=2)
    assert server.hits == 3 and "3 attempt" in str(info.value)
    assert not list(tmp_path.iterdir())  # no .part, no file


def test_server_hanging_up_without_answer_is_a_recutils_error(serve, tmp_path):
    server = serve(lambda conn, n: None)  # RemoteDisconnected (an http.client.HTTPException)
    with pytest.raises(DatasetUnavailableError):
        dl.download_file(server.url, tmp_path / "toy.zip", progress=False, retries=1)
    assert server.hits == 2 and not list(tmp_path.iterdir())


def _drip(conn, n):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(2000):  # one byte every 10 ms: each read is far faster than the timeout
        conn.sendall(b"x")
        _pause(0.01)


def test_trickling_server_hits_the_total_deadline_not_a_hang(serve, tmp_path):
    server = serve(_drip)
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError, match="max_seconds=1") as info:
        dl.download_file(
            server.url, tmp_path / "toy.zip", progress=False, timeout=5, max_seconds=1.0, min_rate=0
        )
    assert time.monotonic() - start < 4
    assert dl.ENV_MAX_SECONDS in str(info.value) and server.hits == 1  # not retried
    assert not list(tmp_path.iterdir())


def test_transfer_below_min_rate_is_abandoned(serve, tmp_path):
    server = serve(_drip)
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError, match="min_rate"):
        dl.download_file(
            server.url,
            tmp_path / "toy.zip",
            progress=False,
            timeout=0.2,
            max_seconds=30,
            min_rate=10_000,
        )
    assert time.monotonic() - start < 4


def test_default_deadline_is_finite_and_settable(monkeypatch):
    assert dl.default_max_seconds(10) == 300 and dl.default_max_seconds(0.5) == 60
    monkeypatch.setenv(dl.ENV_MAX_SECONDS, "5")
    assert dl.default_max_seconds() == 5
    monkeypatch.setenv(dl.ENV_MAX_SECONDS, "soon")
    with pytest.raises(ConfigError, match=dl.ENV_MAX_SECONDS):
        dl.default_max_seconds()


# ----------------------------------------------------------------------------- extraction once


def _count_calls(monkeypatch, module, name: str) -> list:
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_mirror_zip_is_extracted_once_not_on_every_load(monkeypatch, tmp_path):
    """Bug: a mirror .zip was re-verified and re-extracted (rmtree + replace) on every load."""
    mirror = tmp_path / "mirror"
    archive = make_zip(mirror / "toy.zip")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    spec = make_spec("https://example.invalid/toy.zip", md5=md5(archive))
    extracts = _count_calls(monkeypatch, dl.cache, "extract_into")
    hashes = _count_calls(monkeypatch, dl.archives, "file_hash")
    folder = dl.fetch_dataset(spec, ["a.txt"])
    inode = (folder / "a.txt").stat().st_ino
    for _ in range(3):
        assert dl.fetch_dataset(spec, ["a.txt"]) == folder
    assert len(extracts) == 1 and len(hashes) == 1  # pinned md5 checked once
    assert (folder / "a.txt").stat().st_ino == inode
    marker = json.loads((folder / dl.MARKER).read_text())
    assert marker["md5"] == md5(archive) and marker["files"] == {"a.txt": 6, "b.txt": 500}
    # a new archive in the mirror (other size/mtime) is extracted again
    new = make_zip(mirror / "toy.zip", files={"a.txt": b"new\n"})
    spec = make_spec("https://example.invalid/toy.zip", md5=md5(new))
    assert (dl.fetch_dataset(spec, ["a.txt"]) / "a.txt").read_bytes() == b"new\n"
    assert len(extracts) == 2 and len(hashes) == 2
    assert not list((tmp_path / "home").glob(".toy*old*"))


def test_pinned_md5_mismatch_in_mirror_archive_raises(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    make_zip(mirror / "toy.zip")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    with pytest.raises(CorruptDataError, match="md5"):
        dl.fetch_dataset(make_spec("https://example.invalid/toy.zip", md5="0" * 32), ["a.txt"])
    assert not (tmp_path / "home" / "toy").exists()


def test_local_archive_path_is_extracted_next_to_it_not_over_shared_cache(tmp_path):
    """Bug: local_cache_path=<archive> was extracted over the shared cache's folder."""
    home = tmp_path / "home"
    (home / "toy").mkdir(parents=True)
    (home / "toy" / "a.txt").write_bytes(b"cached copy")
    archive = make_zip(tmp_path / "mine" / "toy-custom.zip")
    spec = make_spec("https://example.invalid/toy.zip")
    folder = dl.fetch_dataset(spec, ["a.txt"], archive)
    assert folder == tmp_path / "mine" / "toy"
    assert (folder / "a.txt").read_bytes() == FILES["a.txt"]
    assert (home / "toy" / "a.txt").read_bytes() == b"cached copy"
    with pytest.MonkeyPatch.context() as mp:
        extracts = _count_calls(mp, dl.cache, "extract_into")
        assert dl.fetch_dataset(spec, ["a.txt"], archive) == folder and not extracts


def test_local_archive_in_read_only_folder_goes_to_a_cache_folder_named_after_it(
    monkeypatch, tmp_path
):
    archive = make_zip(tmp_path / "ro" / "toy.zip")
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path / "ro")
    folder = dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["a.txt"], archive)
    assert folder.parent.parent == tmp_path / "home" / "local"
    assert folder.parent.name.startswith("toy.zip-") and (folder / "a.txt").is_file()
    assert not (tmp_path / "ro" / "toy").exists() and not (tmp_path / "home" / "toy").exists()


def test_truncated_file_in_extracted_cache_is_detected_and_reextracted(tmp_path):
    """Bug: SETUP.md promised corruption detection, but a truncated extracted file was read."""
    home = tmp_path / "home"
    make_zip(home / "toy.zip")
    spec = make_spec("https://example.invalid/toy.zip")
    folder = dl.fetch_dataset(spec, ["b.txt"])
    (folder / "b.txt").write_bytes(FILES["b.txt"][:37])  # cut mid-line
    assert (dl.fetch_dataset(spec, ["b.txt"]) / "b.txt").read_bytes() == FILES["b.txt"]
    (folder / "a.txt").unlink()  # a deleted file is noticed too
    assert (dl.fetch_dataset(spec, ["b.txt"]) / "a.txt").read_bytes() == FILES["a.txt"]


def test_damaged_extracted_cache_without_archive_is_downloaded_again(monkeypatch, tmp_path):
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    spec = make_spec(upstream.as_uri())
    online(monkeypatch)
    folder = dl.fetch_dataset(spec, ["b.txt"], progress=False)
    (tmp_path / "home" / "toy.zip").unlink()
    (folder / "b.txt").write_bytes(b"short")
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    with pytest.raises(DatasetUnavailableError, match="damaged"):
        dl.fetch_dataset(spec, ["b.txt"])
    online(monkeypatch)
    assert (dl.fetch_dataset(spec, ["b.txt"], progress=False) / "b.txt").read_bytes() == FILES[
        "b.txt"
    ]


def test_replace_folder_survives_another_process_winning(monkeypatch, tmp_path):
    target = tmp_path / "toy"
    target.mkdir()
    (target / "f").write_bytes(b"old")
    with open(target / "f", "rb") as reader:  # a reader of the old folder keeps working
        source = tmp_path / "new"
        source.mkdir()
        (source / "f").write_bytes(b"new")
        dl.cache.replace_folder(source, target)
        assert reader.read() == b"old"
    assert (target / "f").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]
    real = os.replace

    def won(src, dst):
        if Path(dst) == target:
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", won)
    source = tmp_path / "again"
    source.mkdir()
    dl.cache.replace_folder(source, target)  # no error: the other copy is kept


def test_lock_file_fallback_without_fcntl(monkeypatch, tmp_path):
    monkeypatch.setattr(dl.locking, "fcntl", None)
    mirror = tmp_path / "mirror"
    make_zip(mirror / "toy.zip")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    folder = dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["a.txt"])
    assert (folder / "a.txt").is_file()
    assert not list((tmp_path / "home").glob(".toy.lockfile"))
    held = tmp_path / "home" / ".busy.lockfile"
    held.write_text("123")
    with pytest.raises(DatasetUnavailableError, match="delete it"):
        with dl.locking.file_lock(tmp_path / "home", "busy", wait=0.2):
            pass
    os.utime(held, (0, 0))  # left over from a crash long ago: taken over
    with dl.locking.file_lock(tmp_path / "home", "busy", wait=0.2):
        assert held.exists()
    assert not held.exists()


_CONCURRENT = """
import sys
from recutils.datasets import download as dl
calls = []
real = dl.cache.extract_into
dl.cache.extract_into = lambda *a, **k: calls.append(1) or real(*a, **k)
spec = dl.RemoteArchive(name="toy", url="https://example.invalid/toy.zip")
for _ in range(15):
    folder = dl.fetch_dataset(spec, ["a.txt", "b.txt"])
    assert (folder / "b.txt").read_bytes() == b"beta\\n" * 100
print(len(calls))
"""


def test_concurrent_loads_from_zip_mirror_all_succeed(tmp_path):
    """Bug: 29 of 90 concurrent loads from a zip mirror failed (rmtree of a live folder)."""
    mirror = tmp_path / "mirror"
    make_zip(mirror / "toy.zip")
    env = {
        **os.environ,
        dl.ENV_DATA_MIRROR: str(mirror),
        dl.ENV_DATA_HOME: str(tmp_path / "home"),
        dl.ENV_OFFLINE: "1",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-800:] for _, err in results]
    assert sum(int(out) for out, _ in results) == 1  # extracted exactly once
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == [".toy.lock", "toy"]


# ----------------------------------------------------------------------------- checksums


def test_grouplens_archives_pin_their_published_md5():
    from recutils.datasets import movielens as ml

    specs = {s.archive.name: s.archive for s in ml._SIZES.values()}
    assert specs["ml-100k"].md5 == "0e33842e24a9c977be4e0107933c0723"
    assert specs["ml-100k"].size == 4_924_029
    assert specs["ml-1m"].md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert specs["ml-10m"].md5 == "ce571fd55effeba0271552578f2648bd"
    assert specs["ml-20m"].md5 == "cd245b17a1ae2cc31bb14903e1204af3"
    assert specs["ml-latest-small"].md5 is None
    assert specs["ml-latest-small"].md5_url.endswith("ml-latest-small.zip.md5")


def test_failed_md5_fetch_refuses_download_unless_allowed(monkeypatch, tmp_path):
    """Bug: a failed fetch of the published .md5 silently skipped the checksum."""
    online(monkeypatch)
    upstream = make_zip(tmp_path / "upstream" / "toy.zip")
    spec = make_spec(upstream.as_uri(), md5_url=(tmp_path / "upstream" / "gone.md5").as_uri())
    downloads = _count_calls(monkeypatch, dl.transfer, "download_file")
    with pytest.raises(DatasetUnavailableError, match=dl.ENV_ALLOW_UNVERIFIED):
        dl.fetch_dataset(spec, ["a.txt"], progress=False)
    assert not downloads and not (tmp_path / "home" / "toy.zip").exists()
    folder = dl.fetch_dataset(spec, ["a.txt"], progress=False, allow_unverified=True)
    assert (folder / "a.txt").is_file()
    shutil.rmtree(tmp_path / "home")
    monkeypatch.setenv(dl.ENV_ALLOW_UNVERIFIED, "1")
    assert (dl.fetch_dataset(spec, ["a.txt"], progress=False) / "a.txt").is_file()


# ----------------------------------------------------------------------------- old Pythons


def _tar(path: Path, members) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name, data=b"x", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in kw.items():
        setattr(info, key, value)
    return info, data


@pytest.mark.parametrize("has_filter", [True, False])
def test_tar_extraction_is_safe_with_and_without_tar_filters(monkeypatch, tmp_path, has_filter):
    """Bug: extractall(filter="data") needs Python >= 3.10.12/3.11.4; python_requires is 3.10."""
    monkeypatch.setattr(dl.archives, "_TAR_HAS_FILTER", has_filter)
    if not has_filter:
        monkeypatch.setattr(tarfile.TarFile, "extractall", _no_filter_extractall)
    good = _tar(
        tmp_path / "good.tar.gz",
        [
            _member("d/f.txt", b"hello"),
            _member("d/link", b"", type=tarfile.SYMTYPE, linkname="f.txt"),
        ],
    )
    out = dl.extract_archive(good, tmp_path / "out")
    assert (out / "d" / "f.txt").read_bytes() == b"hello"
    assert (out / "d" / "link").read_bytes() == b"hello"
    for i, members in enumerate(
        [
            [_member("../evil.txt")],
            [_member("/abs_evil.txt")],
            [_member("link", b"", type=tarfile.SYMTYPE, linkname="/etc"), _member("link/evil")],
            [_member("up", b"", type=tarfile.SYMTYPE, linkname="../../outside")],
        ]
    ):
        bad = _tar(tmp_path / f"bad{i}.tar.gz", members)
        with pytest.raises(CorruptDataError):
            dl.extract_archive(bad, tmp_path / f"dest{i}")
    assert not list(tmp_path.rglob("*evil*"))


_real_extractall = tarfile.TarFile.extractall


def _no_filter_extractall(self, path=".", members=None, *, numeric_owner=False, **kw):
    if "filter" in kw:  # an old Python's signature
        raise TypeError("extractall() got an unexpected keyword argument 'filter'")
    return _real_extractall(
        self, path, members, numeric_owner=numeric_owner, filter="fully_trusted"
    )


# ----------------------------------------------------------------------------- one lookup cascade


def _three_places(tmp_path: Path, name: str, filename: str) -> tuple[Path, Path, Path]:
    """The same file in a local folder, a mirror and the cache, each with its own content."""
    places = (tmp_path / "local", tmp_path / "mirror", tmp_path / "home")
    for place in places:
        (place / name).mkdir(parents=True)
        (place / name / filename).write_bytes(place.name.encode())
    return places


def _fetch_archive(local):
    return dl.fetch_dataset(make_spec("https://example.invalid/toy.zip"), ["a.txt"], local)


def _fetch_files(local):
    remote = dl.RemoteFile("a.txt", "https://example.invalid/a.txt")
    return dl.fetch_files("toy", [remote], local)


@pytest.mark.parametrize(
    "fetch", [_fetch_archive, _fetch_files], ids=["fetch_dataset", "fetch_files"]
)
def test_lookup_order_local_path_beats_mirror_beats_cache(monkeypatch, tmp_path, fetch):
    local, mirror, _home = _three_places(tmp_path, "toy", "a.txt")
    resolved = _count_calls(monkeypatch, dl.lookup, "resolve")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    assert (fetch(local / "toy") / "a.txt").read_bytes() == b"local"
    assert (fetch(None) / "a.txt").read_bytes() == b"mirror"
    monkeypatch.delenv(dl.ENV_DATA_MIRROR)
    assert (fetch(None) / "a.txt").read_bytes() == b"home"
    (tmp_path / "empty").mkdir()
    assert (fetch(tmp_path / "empty") / "a.txt").read_bytes() == b"home"  # local misses: go on
    assert len(resolved) == 4  # both functions go through the one cascade


@pytest.mark.parametrize(
    "fetch", [_fetch_archive, _fetch_files], ids=["fetch_dataset", "fetch_files"]
)
def test_lookup_offline_miss_lists_every_place_in_order(monkeypatch, tmp_path, fetch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    (tmp_path / "mine").mkdir()
    with pytest.raises(DatasetUnavailableError, match=dl.ENV_OFFLINE) as info:
        fetch(tmp_path / "mine")
    message = str(info.value)
    places = [
        str(tmp_path / "mine"),
        f"{dl.ENV_DATA_MIRROR}={mirror}",
        f"cache {tmp_path / 'home'}",
    ]
    positions = [message.index(place) for place in places]
    assert positions == sorted(positions)
