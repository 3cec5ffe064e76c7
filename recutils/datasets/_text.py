"""Delimited text files of the data sets, read with each row's line number and field count.

The loaders read small-to-large ``sep``-separated files (MovieLens, ReChorus, HetRec,
Criteo) with pandas' C parser. Before parsing, the raw bytes are scanned once with
numpy to find each line's number and field count, so a damaged file is reported as
"``<file>``, line N: ..." instead of loading padded rows or failing with a message
that names no line. Nothing here loops over rows in Python.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.exceptions import CorruptDataError, DataError

_FREE_SEPS = (b"\t", b"\x1f", b"\x1e", b"\x1d")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def read_bytes(path: Path, nrows: int | None = None) -> bytes:
    """The file's bytes (decompressed for ``.gz``, ``.bz2``, ``.xz``); with ``nrows``,
    only its first ``nrows`` lines.

    Raises:
        DataError: the file cannot be read (missing, a truncated archive, ...).
    """
    opener = _OPENERS.get(path.suffix.lower(), open)
    try:
        with opener(path, "rb") as fh:
            if nrows is None:
                return fh.read()
            return b"".join(islice(fh, nrows))
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise DataError(f"cannot read {path}: {err}") from err


def decode(raw: bytes) -> str:
    """UTF-8 when valid, else latin-1 (the encoding of the ml-100k/ml-1m/HetRec text files)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def single_byte_sep(raw: bytes, sep: str) -> tuple[bytes, bytes]:
    """Turn a multi-character separator (``"::"``) into one byte pandas' C parser reads."""
    sep_bytes = sep.encode()
    if len(sep_bytes) == 1:
        return raw, sep_bytes
    for candidate in _FREE_SEPS:
        if candidate not in raw:
            return raw.replace(sep_bytes, candidate), candidate
    raise DataError(f"cannot find a free one-character separator to replace {sep!r}.")


@dataclass(frozen=True)
class Layout:
    """Where the non-blank lines of a file are: their 1-based numbers and field counts."""

    lines: np.ndarray
    fields: np.ndarray


def layout(raw: bytes, sep: bytes) -> Layout:
    """Line numbers and field counts (separators + 1) of the non-blank lines of ``raw``.

    Blank lines (empty, or a lone ``\\r``) are left out, as pandas skips them, so the
    i-th entry belongs to the i-th row pandas reads (before any header is skipped).
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    ends = newlines if len(buf) and buf[-1] == ord("\n") else np.append(newlines, len(buf))
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    counts = np.concatenate(([0], np.cumsum(buf == sep[0], dtype=np.int64)))
    fields = counts[ends] - counts[starts] + 1
    length = ends - starts
    first = buf[np.minimum(starts, max(len(buf) - 1, 0))] if len(buf) else np.zeros(0, np.uint8)
    blank = (length == 0) | ((length == 1) & (first == ord("\r")))
    numbers = np.arange(1, len(ends) + 1, dtype=np.int64)
    return Layout(lines=numbers[~blank], fields=fields[~blank])


def corrupt(path: Path, line: int, message: str) -> CorruptDataError:
    """The error for a bad line: ``<path>, line <line>: <message>``."""
    return CorruptDataError(f"{path}, line {line}: {message}")


def check_rows(
    path: Path, lines: np.ndarray, bad: np.ndarray | pd.Series, describe: Callable[[int], str]
) -> None:
    """Raise :func:`corrupt` at the first row where ``bad`` is true.

    ``describe(row)`` (``row``: 0-based data row) says what is wrong with it.
    """
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise corrupt(path, int(lines[row]), describe(row))


@dataclass(frozen=True)
class Table:
    """A parsed file and the 1-based file line of each of its rows."""

    frame: pd.DataFrame
    lines: np.ndarray

    def check(
        self, path: Path, bad: np.ndarray | pd.Series, describe: Callable[[int], str]
    ) -> None:
        """:func:`check_rows` on this table's rows."""
        check_rows(path, self.lines, bad, describe)


def read_table(
    path: Path,
    sep: str,
    names: Sequence[str],
    *,
    header: Sequence[str] | None = None,
    skiprows: int = 0,
    dtype: dict | None = None,
    quoting_csv: bool = False,
    fields: tuple[int, int] | None = None,
    nrows: int | None = None,
    empty_ok: bool = True,
) -> Table:
    """Parse a ``sep``-separated text file into ``names``, checking its shape first.

    Args:
        path: The file (plain or ``.gz``).
        sep: The separator (one or more characters; ``"::"`` is supported).
        names: Column names of the output, one per field.
        header: The header line the file must start with (checked, then skipped).
        skiprows: Lines to skip first without checking them.
        dtype: pandas dtypes by column.
        quoting_csv: Fields may be double-quoted (CSV); field counts are then left
            to pandas, since a quoted field may hold the separator.
        fields: ``(fewest, most)`` fields a data line may have; default exactly
            ``len(names)``. Shorter lines are padded with missing values.
        nrows: Read only the first ``nrows`` data lines.
        empty_ok: Allow a file with no data line (else :class:`CorruptDataError`).

    Raises:
        CorruptDataError: a line has the wrong number of fields, the header differs, or
            the file holds no data (``empty_ok=False``); the message names file and line.
        DataError: pandas cannot parse a value (a non-number in a number column).
    """
    skip = skiprows + (1 if header is not None else 0)
    raw = read_bytes(path, None if nrows is None else nrows + skip)
    raw, sep1 = single_byte_sep(raw, sep)
    where = layout(raw, sep1)
    if header is not None:
        first = decode(raw.split(b"\n", 1)[0]).rstrip("\r").split(sep1.decode())
        if first != list(header):
            raise CorruptDataError(
                f"{path}: expected the header {list(header)} ({sep!r}-separated), found {first}."
            )
    lines, counts = where.lines[skip:], where.fields[skip:]
    if not empty_ok and len(lines) == 0:
        raise CorruptDataError(f"{path} holds no data rows (empty or truncated file).")
    if not quoting_csv:
        fewest, most = fields if fields is not None else (len(names), len(names))
        bad = (counts < fewest) | (counts > most)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            allowed = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            raise corrupt(
                path,
                int(lines[row]),
                f"{counts[row]} fields, expected {allowed} ({sep!r}-separated {list(names)}).",
            )
    try:
        frame = pd.read_csv(
            io.StringIO(decode(raw)),
            sep=sep1.decode(),
            header=None,
            names=list(names),
            skiprows=skip,
            dtype=dtype,
            engine="c",
            quoting=0 if quoting_csv else 3,
            keep_default_na=False,
            na_values=[""],
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot parse {path} as {sep!r}-separated {list(names)}: {err}") from err
    if len(frame) != len(lines):  # a quoted field spanning lines: keep pandas' rows
        lines = np.arange(skip + 1, skip + 1 + len(frame), dtype=np.int64)
    return Table(frame=frame, lines=lines)


__all__ = [
    "Layout",
    "Table",
    "check_rows",
    "corrupt",
    "decode",
    "layout",
    "read_bytes",
    "read_table",
    "single_byte_sep",
]
