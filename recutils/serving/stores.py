"""Stores of precomputed recommendations: SQLite (embedded default, one file) and Redis.

A store holds *sets* of recommendations, one per batch run. A writer fills a new,
versioned set while readers keep reading the current one; :meth:`StoreWriter.commit`
then moves the store's pointer to the new set in one atomic step and drops the old
set. Readers therefore see the old set or the new one, never a mix, and a writer that
dies midway (killed, crashed, out of memory) leaves the previous set served whole: its
half-written set is never pointed to and is cleaned up by the next writer.

* **SQLite** (``sqlite:///path/to/recs.db``): one table per set,
  ``recs_v<N>(user_id TEXT PRIMARY KEY, payload TEXT)``, and a ``recutils_meta`` table
  holding the pointer ``current`` and each set's metadata. The database runs in WAL
  mode; a read is one read transaction (pointer + row), so it sees one snapshot even
  while a commit drops the old table.
* **Redis** (``redis://host:port/db?prefix=recutils``): one hash per set,
  ``<prefix>:v<N>:recs`` (field user id -> payload), its metadata at
  ``<prefix>:v<N>:meta`` and the pointer at ``<prefix>:current``. A set being written
  carries an expiry (so an abandoned one disappears on its own) that the commit removes
  in the same ``MULTI``/``EXEC`` transaction that moves the pointer; a read is one Lua
  script (pointer + ``HGET``), atomic on the server.

A payload is the JSON list ``[[item_id, score], ...]`` in rank order. Each set also
records a fallback list (popularity) for users it does not hold, the types of the ids
(``int`` or ``str``: HTTP ids are parsed accordingly) and free metadata (model name,
artifact digest, ...).

One writer at a time per store is assumed (a batch job); a second concurrent writer's
commit fails with :class:`StoreError` if the first one dropped its set.

**Errors.** Every failure of the backend (a file that is not a SQLite database or is
corrupt, a set whose metadata or payloads do not decode, a Redis server that cannot be
reached) raises :class:`StoreError` naming the store, never the driver's own exception;
the HTTP service answers it with a JSON 503. A SQLite file locked by another process is
waited for ``timeout`` seconds (:data:`DEFAULT_SQLITE_TIMEOUT_S`; ``?timeout=SECONDS`` in
the URL), then :class:`StoreBusyError` is raised.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RANK_COL,
    DEFAULT_USER_COL,
)
from recutils.exceptions import ConfigError, DataError, RecUtilsError
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Seconds an unfinished Redis set lives before Redis drops it by itself.
REDIS_PENDING_TTL_S = 24 * 3600
#: Seconds a SQLite store waits for a lock held by another process before giving up.
DEFAULT_SQLITE_TIMEOUT_S = 5.0
_PREFIX_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class StoreError(RecUtilsError, RuntimeError):
    """A store cannot be opened, written or read."""


class StoreBusyError(StoreError):
    """A store stayed locked by another process longer than its timeout (retry later)."""


Recs = list[tuple[Any, float]]


@dataclass(frozen=True)
class StoreSetInfo:
    """The current set of a store.

    Attributes:
        version: Set number (increases with each commit).
        created_at: ISO 8601 UTC time of the commit.
        n_users: Users in the set.
        top_k: Longest list stored.
        user_id_type, item_id_type: ``"int"`` or ``"str"``.
        fallback: The fallback list (popularity) for users not in the set.
        metadata: Free metadata given at commit (model, artifact digest, ...).
    """

    version: int
    created_at: str
    n_users: int
    top_k: int
    user_id_type: str
    item_id_type: str
    fallback: Recs = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | bytes) -> StoreSetInfo:
        """Parse :meth:`to_json`'s text.

        Raises:
            StoreError: the text is not a set's metadata (a corrupt store).
        """
        try:
            data = json.loads(text)
            data["fallback"] = [(item, float(score)) for item, score in data.get("fallback", [])]
            return cls(**data)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise StoreError(
                f"the store's set metadata is corrupt ({type(err).__name__}: {str(err)[:200]})."
            ) from err

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "created_at": self.created_at,
                "n_users": self.n_users,
                "top_k": self.top_k,
                "user_id_type": self.user_id_type,
                "item_id_type": self.item_id_type,
                "fallback": [list(p) for p in self.fallback],
                "metadata": self.metadata,
            },
            allow_nan=False,
            default=_json_default,
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _id_type(values: pd.Series | pd.Index) -> str:
    dtype = values.dtype
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return "int"
    return "str"


def _payloads(
    frame: pd.DataFrame, col_user: str, col_item: str, col_prediction: str, col_rank: str
) -> tuple[list[tuple[str, str]], int, str, str]:
    """``(user key, JSON payload)`` per user of a long ranking frame; max list length; id types."""
    if frame.empty:
        return [], 0, "int", "int"
    missing = [c for c in (col_user, col_item, col_prediction) if c not in frame.columns]
    if missing:
        raise DataError(f"ranking frame lacks column(s) {missing}; it has {list(frame.columns)}.")
    sort_cols = [col_user, col_rank] if col_rank in frame.columns else [col_user]
    frame = frame.sort_values(sort_cols, kind="stable")
    users = frame[col_user].to_numpy()
    items = frame[col_item].tolist()
    scores = frame[col_prediction].to_numpy(dtype=np.float64)
    codes, uniques = pd.factorize(users, sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [codes.size]])
    out: list[tuple[str, str]] = []
    longest = 0
    for s, e in zip(starts, ends):
        idx = order[s:e]
        pairs = [[items[i], (float(scores[i]) if math.isfinite(scores[i]) else None)] for i in idx]
        longest = max(longest, len(pairs))
        out.append(
            (
                str(uniques[codes[idx[0]]]),
                json.dumps(pairs, separators=(",", ":"), default=_json_default),
            )
        )
    return out, longest, _id_type(frame[col_user]), _id_type(frame[col_item])


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class StoreWriter(ABC):
    """Fills one new set; :meth:`commit` publishes it atomically, :meth:`abort` drops it.

    Use as a context manager: leaving the block without ``commit`` (an exception)
    aborts. Column names default to recutils' constants.
    """

    def __init__(
        self,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        col_rank: str = DEFAULT_RANK_COL,
    ) -> None:
        self.col_user, self.col_item = col_user, col_item
        self.col_prediction, self.col_rank = col_prediction, col_rank
        self.n_users = 0
        self.top_k = 0
        self.user_id_type: str | None = None
        self.item_id_type: str | None = None
        self._done = False

    def write_frame(self, frame: pd.DataFrame) -> int:
        """Add the users of a long ranking frame ``[user, item, prediction, rank]``.

        Every user's rows must be in one frame (batch scoring writes whole users).

        Returns:
            Users written.
        """
        if self._done:
            raise StoreError("this writer has already committed or aborted.")
        rows, longest, utype, itype = _payloads(
            frame, self.col_user, self.col_item, self.col_prediction, self.col_rank
        )
        if not rows:
            return 0
        for attr, value in (("user_id_type", utype), ("item_id_type", itype)):
            seen = getattr(self, attr)
            if seen is None:
                setattr(self, attr, value)
            elif seen != value:
                setattr(self, attr, "str")
        self._write_rows(rows)
        self.n_users += len(rows)
        self.top_k = max(self.top_k, longest)
        return len(rows)

    def commit(
        self,
        fallback: Sequence[tuple[Any, float]] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> StoreSetInfo:
        """Publish the set (atomic pointer swap) and drop the previous one.

        Args:
            fallback: ``[(item_id, score), ...]`` served to users not in the set.
            metadata: Free JSON-able metadata (model, artifact digest, ...).
        """
        if self._done:
            raise StoreError("this writer has already committed or aborted.")
        info = StoreSetInfo(
            version=self.version,
            created_at=_utc_now(),
            n_users=self.n_users,
            top_k=self.top_k,
            user_id_type=self.user_id_type or "int",
            item_id_type=self.item_id_type or "int",
            fallback=[(item, float(score)) for item, score in (fallback or [])],
            metadata=dict(metadata or {}),
        )
        self._commit(info)
        self._done = True
        logger.info(
            "store set v%d committed: %d users, top %d", info.version, info.n_users, info.top_k
        )
        return info

    def abort(self) -> None:
        """Drop the unfinished set (the current one stays served)."""
        if not self._done:
            self._done = True
            self._abort()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None or not self._done:
            self.abort()

    version: int

    @abstractmethod
    def _write_rows(self, rows: list[tuple[str, str]]) -> None: ...

    @abstractmethod
    def _commit(self, info: StoreSetInfo) -> None: ...

    @abstractmethod
    def _abort(self) -> None: ...


class RecommendationStore(ABC):
    """Read/write access to a store of precomputed recommendations (thread-safe reads)."""

    url: str

    @abstractmethod
    def writer(self, **columns: str) -> StoreWriter:
        """A writer of a new set (``col_user=``, ``col_item=``... override column names)."""

    @abstractmethod
    def info(self) -> StoreSetInfo | None:
        """The current set's metadata, or ``None`` when nothing was committed yet."""

    @abstractmethod
    def lookup(self, user_key: str) -> tuple[StoreSetInfo | None, Recs | None]:
        """``(current set info, the user's list or None)`` read in one atomic step."""

    def get(self, user_id: Any) -> Recs | None:
        """The stored list ``[(item_id, score), ...]`` of a user, or ``None``."""
        return self.lookup(str(user_id))[1]

    def get_many(self, user_ids: Iterable[Any]) -> dict[str, Recs | None]:
        """:meth:`get` for several users (same set for all: one read)."""
        return {str(u): self.get(u) for u in user_ids}

    def write(
        self,
        frames: Iterable[pd.DataFrame] | pd.DataFrame,
        fallback: Sequence[tuple[Any, float]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **columns: str,
    ) -> StoreSetInfo:
        """Write a whole new set from ranking frames and publish it atomically."""
        if isinstance(frames, pd.DataFrame):
            frames = [frames]
        with self.writer(**columns) as w:
            for frame in frames:
                w.write_frame(frame)
            return w.commit(fallback=fallback, metadata=metadata)

    def close(self) -> None:  # noqa: B027 (optional hook: stores without connections keep it)
        """Release connections."""

    def __enter__(self) -> RecommendationStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _decode_payload(text: str | bytes | None) -> Recs | None:
    if text is None:
        return None
    try:
        return [(item, score) for item, score in json.loads(text)]
    except (TypeError, ValueError) as err:
        raise StoreError(
            f"a stored recommendation list is corrupt ({type(err).__name__}: {str(err)[:200]})."
        ) from err


def _check_timeout(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"a store timeout must be a number of seconds >= 0, got {value!r}.")
    return seconds


def _redact(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def _is_busy(err: sqlite3.Error) -> bool:
    """Whether a SQLite error means "locked by another connection" (SQLITE_BUSY/LOCKED)."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(err).lower()
    return "locked" in text or "busy" in text


# ----------------------------------------------------------------- SQLite
def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class _SQLiteWriter(StoreWriter):
    def __init__(self, store: SQLiteStore, **columns: str) -> None:
        super().__init__(**columns)
        self._store = store
        with store._errors("starting a new set"):
            self._conn = conn = store._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute("SELECT value FROM recutils_meta WHERE key='next'").fetchone()
                self.version = int(row[0]) if row else 1
                conn.execute(
                    "INSERT OR REPLACE INTO recutils_meta(key, value) VALUES ('next', ?)",
                    (str(self.version + 1),),
                )
                conn.execute(f"DROP TABLE IF EXISTS {self._table}")
                conn.execute(
                    f"CREATE TABLE {self._table} (user_id TEXT PRIMARY KEY, "
                    "payload TEXT NOT NULL) WITHOUT ROWID"
                )
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                conn.close()
                raise

    @property
    def _table(self) -> str:
        return f"recs_v{int(self.version)}"

    def _write_rows(self, rows: list[tuple[str, str]]) -> None:
        conn = self._conn
        with self._store._errors("writing a set"):
            conn.execute("BEGIN")
            try:
                conn.executemany(f"INSERT INTO {self._table}(user_id, payload) VALUES (?, ?)", rows)
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as err:
                _rollback(conn)
                raise DataError(f"a user was written twice to the same store set: {err}") from err
            except BaseException:
                _rollback(conn)
                raise

    def _commit(self, info: StoreSetInfo) -> None:
        conn = self._conn
        with self._store._errors("committing a set"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                exists = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self._table,)
                ).fetchone()
                if not exists:
                    raise StoreError(f"set v{self.version} disappeared (a concurrent writer?).")
                conn.execute(
                    "INSERT OR REPLACE INTO recutils_meta(key, value) VALUES (?, ?)",
                    (f"meta:{self.version}", info.to_json()),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO recutils_meta(key, value) VALUES ('current', ?)",
                    (str(self.version),),
                )
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        try:
            self._store._drop_stale(conn, keep=self.version)
        except sqlite3.Error as err:  # the set is published; the next writer cleans up
            logger.warning("could not drop the stale sets of %s: %s", self._store.path, err)
        conn.close()

    def _abort(self) -> None:
        try:
            self._conn.execute(f"DROP TABLE IF EXISTS {self._table}")
        except sqlite3.Error as err:  # pragma: no cover - best effort
            logger.warning("could not drop unfinished set %s: %s", self._table, err)
        self._conn.close()


class SQLiteStore(RecommendationStore):
    """Recommendations in one SQLite file (WAL mode; per-thread read connections).

    Args:
        path: The database file (created with its folder if needed).
        timeout: Seconds to wait for a lock held by another process before raising
            :class:`StoreBusyError` (a reader never waits for a writer in WAL mode).

    Raises:
        StoreError: the file cannot be created, is not a SQLite database or is corrupt.
        StoreBusyError: the file stayed locked for ``timeout`` seconds.
        ConfigError: ``timeout`` is not a finite number >= 0.
    """

    def __init__(self, path: str | Path, timeout: float = DEFAULT_SQLITE_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.timeout = _check_timeout(timeout)
        self._local = threading.local()
        with self._errors("opening"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS recutils_meta (key TEXT PRIMARY KEY, "
                    "value TEXT NOT NULL)"
                )
            finally:
                conn.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn SQLite (and file system) failures into :class:`StoreError` naming the file."""
        try:
            yield
        except sqlite3.Error as err:
            if _is_busy(err):
                raise StoreBusyError(
                    f"SQLite store {str(self.path)!r} is locked by another process: gave up "
                    f"{doing} after {self.timeout:g} s ({err}). Retry later, or give a longer "
                    "timeout (sqlite:///path.db?timeout=SECONDS)."
                ) from err
            raise StoreError(
                f"SQLite store {str(self.path)!r} failed while {doing}: {err} "
                "(is the file a recutils store, and intact?)."
            ) from err
        except OSError as err:
            raise StoreError(
                f"SQLite store {str(self.path)!r} failed while {doing}: {err}."
            ) from err

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            self._local.info = None
        return conn

    def _forget_reader(self) -> None:
        """Drop this thread's read connection (after an error: the next read reconnects)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        self._local.info = None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def writer(self, **columns: str) -> StoreWriter:
        return _SQLiteWriter(self, **columns)

    def _drop_stale(self, conn: sqlite3.Connection, keep: int) -> None:
        """Drop every set table but ``keep`` (old sets and sets of killed writers)."""
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'recs_v%'"
            )
        ]
        for name in names:
            if name != f"recs_v{keep}":
                conn.execute(f"DROP TABLE IF EXISTS {name}")
                conn.execute(
                    "DELETE FROM recutils_meta WHERE key=?",
                    (f"meta:{name.removeprefix('recs_v')}",),
                )
                logger.info("dropped stale store set %s", name)

    def _read(self, user_key: str | None) -> tuple[StoreSetInfo | None, Recs | None]:
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            row = conn.execute("SELECT value FROM recutils_meta WHERE key='current'").fetchone()
            if row is None:
                return None, None
            version = int(row[0])
            cached = self._local.info
            if cached is None or cached.version != version:
                meta = conn.execute(
                    "SELECT value FROM recutils_meta WHERE key=?", (f"meta:{version}",)
                ).fetchone()
                if meta is None:
                    raise StoreError(
                        f"SQLite store {str(self.path)!r} points at set "
                        f"v{version}, which has no metadata (a corrupt store)."
                    )
                cached = StoreSetInfo.from_json(meta[0])
                self._local.info = cached
            recs = None
            if user_key is not None:
                hit = conn.execute(
                    f"SELECT payload FROM recs_v{version} WHERE user_id=?", (user_key,)
                ).fetchone()
                recs = _decode_payload(hit[0]) if hit else None
            return cached, recs
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def _guarded_read(self, user_key: str | None) -> tuple[StoreSetInfo | None, Recs | None]:
        try:
            with self._errors("reading"):
                try:
                    return self._lookup_once(user_key)
                except ValueError as err:  # a set pointer that is not a number
                    raise StoreError(
                        f"SQLite store {str(self.path)!r} has a corrupt set pointer ({err})."
                    ) from err
        except StoreError:
            self._forget_reader()
            raise

    def info(self) -> StoreSetInfo | None:
        return self._guarded_read(None)[0]

    def lookup(self, user_key: str) -> tuple[StoreSetInfo | None, Recs | None]:
        return self._guarded_read(user_key)

    def _lookup_once(self, user_key: str | None) -> tuple[StoreSetInfo | None, Recs | None]:
        # Fast path: when no other connection has committed since this thread last read
        # the pointer (PRAGMA data_version unchanged), one SELECT on the cached set's
        # table is a consistent read by itself. A commit landing in between can only
        # drop that table ("no such table"): then the full read below answers.
        conn = self._reader()
        cached = self._local.info
        if cached is not None and user_key is not None:
            dv = conn.execute("PRAGMA data_version").fetchone()[0]
            if dv == getattr(self._local, "data_version", None):
                try:
                    hit = conn.execute(
                        f"SELECT payload FROM recs_v{cached.version} WHERE user_id=?", (user_key,)
                    ).fetchone()
                except sqlite3.OperationalError:
                    hit = None
                else:
                    return cached, (_decode_payload(hit[0]) if hit else None)
            self._local.data_version = dv
        return self._read(user_key)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# ----------------------------------------------------------------- Redis
_LOOKUP_LUA = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
local recs = false
if ARGV[2] ~= '' then recs = redis.call('HGET', ARGV[1] .. ':v' .. v .. ':recs', ARGV[2]) end
return {v, recs}
"""


class _RedisWriter(StoreWriter):
    def __init__(self, store: RedisStore, **columns: str) -> None:
        super().__init__(**columns)
        self._store = store
        self._r = store._client
        with store._errors("starting a new set"):
            self.version = int(self._r.incr(store._key("next")))
        self._recs = store._set_key(self.version, "recs")

    def _write_rows(self, rows: list[tuple[str, str]]) -> None:
        with self._store._errors("writing a set"):
            pipe = self._r.pipeline(transaction=False)
            for start in range(0, len(rows), 1000):
                pipe.hset(self._recs, mapping=dict(rows[start : start + 1000]))
            pipe.expire(self._recs, REDIS_PENDING_TTL_S)
            pipe.execute()

    def _commit(self, info: StoreSetInfo) -> None:
        r = self._r
        with self._store._errors("committing a set"):
            held = int(r.hlen(self._recs))
            if info.n_users and held != info.n_users:
                raise StoreError(
                    f"set v{self.version} holds {held} users, "
                    f"{info.n_users} were written (expired or overwritten?)."
                )
            pipe = r.pipeline(transaction=True)
            pipe.set(self._store._set_key(self.version, "meta"), info.to_json())
            pipe.persist(self._recs)
            pipe.set(self._store._key("current"), str(self.version))
            pipe.execute()
        try:
            self._store._drop_stale(keep=self.version)
        except self._store._redis.RedisError as err:  # published; the next writer cleans up
            logger.warning("could not drop the stale sets under %s: %s", self._store.prefix, err)

    def _abort(self) -> None:
        try:
            self._r.unlink(self._recs)
        except self._store._redis.RedisError as err:  # it expires by itself
            logger.warning("could not drop unfinished set %s: %s", self._recs, err)


class RedisStore(RecommendationStore):
    """Recommendations in a Redis server (see the module docstring for the key layout).

    Args:
        url: ``redis://host:port/db`` (``rediss://`` for TLS); a ``prefix=`` query
            parameter names the key space (default ``recutils``).
        prefix: Overrides the URL's prefix.
        socket_timeout: Seconds per Redis call.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str | None = None,
        socket_timeout: float = 5.0,
    ) -> None:
        redis = require("redis", "serving")
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        prefix = prefix or (query.pop("prefix", ["recutils"])[0])
        if not prefix or not set(prefix) <= _PREFIX_OK or len(prefix) > 100:
            raise ConfigError(f"Redis key prefix {prefix!r} must be 1-100 chars of [A-Za-z0-9_.-].")
        rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
        self.url = url
        self.prefix = prefix
        self._redis = redis
        try:
            self._client = redis.Redis.from_url(
                urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")),
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                health_check_interval=30,
            )
        except ValueError as err:
            raise ConfigError(f"bad Redis URL {_redact(url)!r}: {err}") from err
        self._lookup = self._client.register_script(_LOOKUP_LUA)
        self._info_lock = threading.Lock()
        self._info: StoreSetInfo | None = None
        try:
            self._client.ping()
        except redis.RedisError as err:
            raise StoreError(f"cannot reach Redis at {_redact(url)!r}: {err}") from err

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn Redis failures (connection refused, timeouts, ...) into :class:`StoreError`."""
        try:
            yield
        except self._redis.RedisError as err:
            raise StoreError(
                f"Redis store {_redact(self.url)!r} failed while {doing}: {err}"
            ) from err

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def _set_key(self, version: int, what: str) -> str:
        return f"{self.prefix}:v{int(version)}:{what}"

    def writer(self, **columns: str) -> StoreWriter:
        return _RedisWriter(self, **columns)

    def _drop_stale(self, keep: int) -> None:
        keep_keys = {self._set_key(keep, "recs"), self._set_key(keep, "meta")}
        stale = [
            k
            for k in self._client.scan_iter(match=f"{self.prefix}:v*", count=1000)
            if (k.decode() if isinstance(k, bytes) else k) not in keep_keys
        ]
        if stale:
            self._client.unlink(*stale)
            logger.info("dropped %d stale Redis key(s) under %s", len(stale), self.prefix)

    def _set_info(self, version: int) -> StoreSetInfo | None:
        cached = self._info
        if cached is not None and cached.version == version:
            return cached
        raw = self._client.get(self._set_key(version, "meta"))
        if raw is None:
            return None
        info = StoreSetInfo.from_json(raw)
        with self._info_lock:
            self._info = info
        return info

    def lookup(self, user_key: str) -> tuple[StoreSetInfo | None, Recs | None]:
        with self._errors("reading"):
            return self._lookup_once(user_key)

    def _lookup_once(self, user_key: str) -> tuple[StoreSetInfo | None, Recs | None]:
        for _ in range(3):
            out = self._lookup(keys=[self._key("current")], args=[self.prefix, user_key])
            if not out:
                return None, None
            try:
                version, payload = int(out[0]), out[1]
            except ValueError as err:
                raise StoreError(
                    f"Redis store {_redact(self.url)!r} has a corrupt set pointer {out[0][:40]!r}."
                ) from err
            info = self._set_info(version)
            if info is not None:
                return info, _decode_payload(payload) if payload else None
            time.sleep(0.001)  # pointer moved between the two reads; read again
        raise StoreError("the store's current set changed three times during one read.")

    def info(self) -> StoreSetInfo | None:
        with self._errors("reading"):
            raw = self._client.get(self._key("current"))
            try:
                version = None if raw is None else int(raw)
            except ValueError as err:
                raise StoreError(
                    f"Redis store {_redact(self.url)!r} has a corrupt set pointer {raw[:40]!r}."
                ) from err
            return None if version is None else self._set_info(version)

    def close(self) -> None:
        self._client.close()


def _sqlite_options(text: str, query: str) -> dict[str, Any]:
    """``SQLiteStore`` keywords from a ``sqlite:///`` URL's query (only ``timeout``)."""
    if not query:
        return {}
    try:
        options = parse_qs(query, strict_parsing=True)
    except ValueError:
        options = {}
    if not options or set(options) - {"timeout"} or len(options["timeout"]) != 1:
        raise ConfigError(
            f"store URL {text!r}: the only query parameter of a SQLite store is "
            "timeout=SECONDS (e.g. sqlite:///recs.db?timeout=2)."
        )
    return {"timeout": _check_timeout(options["timeout"][0])}


def open_store(url: str | Path) -> RecommendationStore:
    """Open a store from a URL: ``sqlite:///path.db[?timeout=SECONDS]``, a plain
    ``.db``/``.sqlite`` path, or ``redis://host:port/db?prefix=...``.

    Raises:
        ConfigError: an unknown scheme or a bad query parameter.
        StoreError: the store cannot be opened (see :class:`SQLiteStore`, :class:`RedisStore`).
    """
    text = str(url)
    parts = urlsplit(text)
    if parts.scheme == "sqlite":
        location, _, query = text.partition("?")
        path = location[len("sqlite:///") :] if location.startswith("sqlite:///") else parts.path
        if location.startswith("sqlite:////"):
            path = "/" + location[len("sqlite:////") :]
        if not path:
            raise ConfigError(f"store URL {text!r} names no file; use sqlite:///path/to/recs.db.")
        return SQLiteStore(path, **_sqlite_options(text, query))
    if parts.scheme in ("redis", "rediss", "unix"):
        return RedisStore(text)
    if parts.scheme == "" and text.endswith((".db", ".sqlite", ".sqlite3")):
        return SQLiteStore(text)
    raise ConfigError(
        f"unknown store URL {text!r}; use sqlite:///path/to/recs.db or "
        "redis://host:port/db?prefix=NAME."
    )


__all__ = [
    "RecommendationStore",
    "RedisStore",
    "DEFAULT_SQLITE_TIMEOUT_S",
    "SQLiteStore",
    "StoreBusyError",
    "StoreError",
    "StoreSetInfo",
    "StoreWriter",
    "open_store",
]
