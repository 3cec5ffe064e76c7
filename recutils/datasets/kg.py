"""Item knowledge graphs: triples with entity/relation vocabularies and item -> entity links.

Two published KGs are read, each with the same lookup and checks as the other loaders
(:func:`recutils.datasets.download.fetch_files`: ``local_cache_path``,
``$RECUTILS_DATA_MIRROR/<folder>/``, the cache, then a download from the publisher's
repository at a pinned commit; every file checked against its published SHA-256 unless
``verify=False``):

* ``"ml-100k"`` (folder ``ml-100k-kg-recbole``): the KB4Rec linkage of MovieLens-100K to
  Freebase as RecBole packages it: ``ml-100k.kg`` (``head_id:token relation_id:token
  tail_id:token``, 91,631 triples, 24 relations, 34,628 entities named by Freebase MIDs)
  and ``ml-100k.link`` (``item_id:token entity_id:token``: 1,598 of the 1,682 ml-100k
  item ids, the ids of :mod:`recutils.datasets.movielens`). Most relations come with
  their inverse (``film.film.genre`` / ``film.film_genre.films_in_this_genre``).
* ``"mkr-movie"``, ``"mkr-book"``, ``"mkr-music"`` (folder ``kg-mkr``): the Microsoft
  Satori KGs of MKR / RippleNet / KGCN (Wang et al., WWW 2019): ``<kind>/kg.txt``
  (``head<TAB>relation<TAB>tail``, integer entity indices) and
  ``<kind>/item_index2entity_id.txt`` (raw item id -> entity index). Movie items are
  MovieLens-1M ``MovieID``s (the ids of ``movielens.load_pandas_df("1m")``), music items
  Last.fm HetRec ``artistID``s, book items ISBN-10 strings. Movie and book files end lines
  with CRLF.

What a loader returns is a :class:`KnowledgeGraph`: ``triples`` as an int64 frame
``[head, relation, tail]`` of entity/relation ids, the vocabularies ``entities`` and
``relations`` (``pd.Index`` of the labels in the files; an id is a position), and
``links`` ``[col_item, entity]`` mapping the data set's item ids to entity ids.
Entity ids are given in the order: linked item entities first (in link-file order), then
the other entities sorted by label, so ``entities[:n_linked]`` are the items'.

Bad input is counted, dropped and reported, never silently kept: malformed lines (wrong
field count, empty fields), duplicate triples, links whose entity occurs in no triple
("missing link targets"), items linked twice (the first link is kept) and ids that do
not parse. The counts are in :attr:`KnowledgeGraph.report` and, when any is non-zero,
in one :class:`~recutils.exceptions.DataWarning`; ``errors="raise"`` turns the first bad
line into a :class:`~recutils.exceptions.CorruptDataError` naming file and line instead.

The data is research-only (Freebase CC-BY 2.5, KB4Rec research use, Satori unstated; the
item ids fall under the rating data's terms); recutils never ships it.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL
from recutils.datasets._text import corrupt, decode, layout, read_bytes
from recutils.datasets.download import PublishedFile, RemoteFile, check_published, fetch_files
from recutils.exceptions import ConfigError, CorruptDataError, DataError, DataWarning

logger = logging.getLogger(__name__)

HEAD, RELATION, TAIL = "head", "relation", "tail"
ENTITY = "entity"

_RECBOLE_COMMIT = "7b02be5ec80a88310f2d04a27a82adfcbb5dc211"
_RECBOLE_URL = f"https://raw.githubusercontent.com/RUCAIBox/RecBole/{_RECBOLE_COMMIT}/recbole/dataset_example/ml-100k"
_MKR_COMMIT = "d6bb77c426960bc04f5d88c39f09d87a844776b4"
_MKR_URL = f"https://raw.githubusercontent.com/hwwang55/MKR/{_MKR_COMMIT}/data"

RECBOLE_KG_HEADER = ("head_id:token", "relation_id:token", "tail_id:token")
RECBOLE_LINK_HEADER = ("item_id:token", "entity_id:token")


@dataclass(frozen=True)
class KGSource:
    """Where one published KG lives: its folder, its two files and their SHA-256."""

    name: str
    folder: str
    kg_file: RemoteFile
    link_file: RemoteFile
    fmt: str  # "recbole" (typed header) or "mkr" (no header)
    numeric_items: bool = True


def _remote(path: str, url: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(path, url, sha256, size)


#: The KGs :func:`load_kg` knows, by name.
SOURCES: dict[str, KGSource] = {
    "ml-100k": KGSource(
        "ml-100k",
        "ml-100k-kg-recbole",
        _remote(
            "ml-100k.kg",
            f"{_RECBOLE_URL}/ml-100k.kg",
            "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
            3_515_608,
        ),
        _remote(
            "ml-100k.link",
            f"{_RECBOLE_URL}/ml-100k.link",
            "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
            21_507,
        ),
        "recbole",
    ),
    "mkr-movie": KGSource(
        "mkr-movie",
        "kg-mkr",
        _remote(
            "movie/kg.txt",
            f"{_MKR_URL}/movie/kg.txt",
            "60d0a28e8646423654b47a36b4438dcd70a87ac90a7d1512ef0cf59f19c869a9",
            576_426,
        ),
        _remote(
            "movie/item_index2entity_id.txt",
            f"{_MKR_URL}/movie/item_index2entity_id.txt",
            "ba88da11d2fffdcea4fc0d73f1fd16f5478d8fcfb362e16331dc30cceea81f60",
            24_062,
        ),
        "mkr",
    ),
    "mkr-book": KGSource(
        "mkr-book",
        "kg-mkr",
        _remote(
            "book/kg.txt",
            f"{_MKR_URL}/book/kg.txt",
            "7428883f6003d60c2fca567784aaf8d6b931f99c51ab85c93d07017ce1a24aac",
            811_002,
        ),
        _remote(
            "book/item_index2entity_id.txt",
            f"{_MKR_URL}/book/item_index2entity_id.txt",
            "e77bbc7fd784c75436ee2df2b0c56d914b6aefc4bc428a27defd16cb9aaa953c",
            257_270,
        ),
        "mkr",
        numeric_items=False,
    ),
    "mkr-music": KGSource(
        "mkr-music",
        "kg-mkr",
        _remote(
            "music/kg.txt",
            f"{_MKR_URL}/music/kg.txt",
            "aa899f22a7a3b313e0baa22113fcd5fa040675fde44822152afed9900d33325f",
            582_424,
        ),
        _remote(
            "music/item_index2entity_id.txt",
            f"{_MKR_URL}/music/item_index2entity_id.txt",
            "496475ddc39b0e15956c58b86d0566bce96bf51c7daaa49d66bc1b9fefaeef1a",
            38_568,
        ),
        "mkr",
    ),
}


@dataclass(frozen=True)
class KnowledgeGraph:
    """An item knowledge graph in integer ids (see the module docstring).

    Attributes:
        triples: int64 frame ``[head, relation, tail]`` (entity, relation, entity ids),
            distinct rows in file order.
        entities: Entity labels; entity id ``e`` is ``entities[e]``.
        relations: Relation labels; relation id ``r`` is ``relations[r]``.
        links: ``[col_item, entity]``: the data set's item id and its entity id (int64),
            one row per linked item, in link-file order.
        report: Counts of the input read and dropped (``triples_read``,
            ``malformed_triple_lines``, ``duplicate_triples``, ``links_read``,
            ``malformed_link_lines``, ``missing_link_targets``, ``duplicate_links``).
        name: The KG's name (``"ml-100k"``, ``"mkr-movie"`` ... or the file name).
    """

    triples: pd.DataFrame
    entities: pd.Index
    relations: pd.Index
    links: pd.DataFrame
    report: dict[str, int] = field(default_factory=dict)
    name: str = ""

    @property
    def n_entities(self) -> int:
        """Number of entities."""
        return len(self.entities)

    @property
    def n_relations(self) -> int:
        """Number of relations."""
        return len(self.relations)

    @property
    def col_item(self) -> str:
        """The item column of :attr:`links`."""
        return str(self.links.columns[0])

    def item_entities(self, items: Any) -> np.ndarray:
        """Entity id of each of ``items`` (a sequence of item ids); ``-1`` where unlinked."""
        index = pd.Index(self.links[self.col_item])
        pos = index.get_indexer(pd.Index(items))
        out = np.full(pos.size, -1, dtype=np.int64)
        found = pos >= 0
        out[found] = self.links[ENTITY].to_numpy()[pos[found]]
        return out

    def labelled(self, triples: pd.DataFrame | None = None) -> pd.DataFrame:
        """``triples`` (default: all) with labels instead of ids."""
        t = self.triples if triples is None else triples
        return pd.DataFrame(
            {
                HEAD: self.entities[t[HEAD].to_numpy()],
                RELATION: self.relations[t[RELATION].to_numpy()],
                TAIL: self.entities[t[TAIL].to_numpy()],
            }
        )


def _read_lines(
    path: Path, n_fields: int, header: tuple[str, ...] | None, errors: str
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The well-formed lines of a tab-separated file as ``n_fields`` string columns.

    Returns the frame, the file line numbers of its rows and the number of malformed
    lines dropped (wrong field count or an empty field).
    """
    raw = read_bytes(path)
    where = layout(raw, b"\t")
    skip = 0
    if header is not None:
        first = decode(raw.split(b"\n", 1)[0]).rstrip("\r").split("\t")
        if first != list(header):
            raise CorruptDataError(
                f"{path}: expected the header {list(header)} (tab-separated), found {first}."
            )
        skip = 1
    lines, counts = where.lines[skip:], where.fields[skip:]
    if len(lines) == 0:
        raise CorruptDataError(f"{path} holds no data rows (empty or truncated file).")
    width = int(max(counts.max(), n_fields))
    try:
        frame = pd.read_csv(
            io.StringIO(decode(raw)),
            sep="\t",
            header=None,
            names=list(range(width)),
            skiprows=skip,
            dtype=str,
            engine="c",
            quoting=3,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot parse {path} as tab-separated text: {err}") from err
    if len(frame) != len(lines):  # pragma: no cover - layout and pandas agree on blank lines
        raise DataError(f"{path}: {len(frame)} rows parsed but {len(lines)} non-blank lines found.")
    frame = frame.iloc[:, :n_fields]
    frame = frame.apply(lambda c: c.str.strip())
    bad = (
        (counts != n_fields)
        | frame.isna().any(axis=1).to_numpy()
        | (frame == "").any(axis=1).to_numpy()
    )
    if bad.any() and errors == "raise":
        row = int(np.flatnonzero(bad)[0])
        raise corrupt(
            path,
            int(lines[row]),
            f"{counts[row]} field(s) or an empty field, expected "
            f"{n_fields} non-empty tab-separated fields.",
        )
    keep = ~bad
    frame = frame[keep].reset_index(drop=True)
    frame.columns = list(range(n_fields))
    return frame, lines[keep], int(bad.sum())


def _as_int(values: pd.Series, path: Path, lines: np.ndarray, what: str, errors: str) -> np.ndarray:
    """``values`` as int64 with ``-1`` where a value is not a non-negative integer."""
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna().to_numpy() | (num.to_numpy(dtype=np.float64, na_value=np.nan) < 0)
    if bad.any() and errors == "raise":
        row = int(np.flatnonzero(bad)[0])
        raise corrupt(
            path,
            int(lines[row]),
            f"{what} must be a non-negative integer, found {values.iloc[row]!r}.",
        )
    out = np.full(len(values), -1, dtype=np.int64)
    out[~bad] = num.to_numpy()[~bad].astype(np.int64)
    return out


def build_kg(
    triples: pd.DataFrame,
    links: pd.DataFrame,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    name: str = "",
    report: dict[str, int] | None = None,
    warn: bool = True,
) -> KnowledgeGraph:
    """A :class:`KnowledgeGraph` from labelled triples and item links.

    Args:
        triples: ``[head, relation, tail]`` of labels (any hashable; entities labelled
            consistently between heads, tails and links).
        links: Two columns: item id, entity label.
        col_item: Name of the item column of the result's ``links``.
        name: The KG's name.
        report: Counts already gathered while reading (malformed lines ...), extended here.
        warn: Emit one :class:`DataWarning` when anything was dropped.

    Raises:
        DataError: no triple, or a frame without the expected columns.
    """
    for frame, cols, what in ((triples, [HEAD, RELATION, TAIL], "triples"), (links, None, "links")):
        if cols is not None and not set(cols) <= set(frame.columns):
            raise DataError(f"{what} must have the columns {cols}, got {list(frame.columns)}.")
        if cols is None and frame.shape[1] != 2:
            raise DataError(
                f"links must have two columns (item, entity), got {list(frame.columns)}."
            )
    if len(triples) == 0:
        raise DataError(f"the knowledge graph {name!r} has no triple.")
    report = dict(report or {})
    dup = triples.duplicated([HEAD, RELATION, TAIL]).to_numpy()
    report["duplicate_triples"] = report.get("duplicate_triples", 0) + int(dup.sum())
    triples = triples[~dup]
    item_col, ent_col = links.columns[0], links.columns[1]
    known = pd.Index(
        pd.unique(np.concatenate([triples[HEAD].to_numpy(), triples[TAIL].to_numpy()]))
    )
    in_kg = known.get_indexer(pd.Index(links[ent_col])) >= 0
    report["missing_link_targets"] = report.get("missing_link_targets", 0) + int((~in_kg).sum())
    links = links[in_kg]
    twice = links[item_col].duplicated().to_numpy()
    report["duplicate_links"] = report.get("duplicate_links", 0) + int(twice.sum())
    links = links[~twice]
    # linked entities first (link order, each once), then the rest sorted by label
    linked = pd.Index(pd.unique(links[ent_col].to_numpy()))
    rest = known.difference(linked)
    try:
        rest = rest.sort_values()
    except TypeError:  # labels of mixed types: keep first appearance
        pass
    entities = linked.append(rest)
    relations = pd.Index(pd.unique(triples[RELATION].to_numpy()))
    try:
        relations = relations.sort_values()
    except TypeError:
        pass
    coded = pd.DataFrame(
        {
            HEAD: entities.get_indexer(pd.Index(triples[HEAD])).astype(np.int64),
            RELATION: relations.get_indexer(pd.Index(triples[RELATION])).astype(np.int64),
            TAIL: entities.get_indexer(pd.Index(triples[TAIL])).astype(np.int64),
        }
    )
    link_frame = pd.DataFrame(
        {
            col_item: links[item_col].to_numpy(),
            ENTITY: entities.get_indexer(pd.Index(links[ent_col])).astype(np.int64),
        }
    )
    dropped = {k: v for k, v in report.items() if v and k not in ("triples_read", "links_read")}
    if dropped and warn:
        warnings.warn(
            f"knowledge graph {name!r}: dropped bad input {dropped}.", DataWarning, stacklevel=3
        )
    logger.info(
        "knowledge graph %r: %d triples, %d entities, %d relations, %d linked items; dropped %s",
        name,
        len(coded),
        len(entities),
        len(relations),
        len(link_frame),
        dropped,
    )
    return KnowledgeGraph(coded, entities, relations, link_frame, report, name)


def _check_errors(errors: str) -> None:
    if errors not in ("report", "raise"):
        raise ConfigError(
            f"errors={errors!r}; allowed: 'report' (count and drop bad lines), 'raise'."
        )


def read_kg_files(
    kg_path: str | os.PathLike,
    link_path: str | os.PathLike,
    *,
    fmt: str = "recbole",
    col_item: str = DEFAULT_ITEM_COL,
    numeric_items: bool = True,
    errors: str = "report",
    name: str | None = None,
) -> KnowledgeGraph:
    """Parse a triple file and an item link file into a :class:`KnowledgeGraph`.

    Args:
        kg_path: ``head<TAB>relation<TAB>tail`` lines.
        link_path: ``item<TAB>entity`` lines.
        fmt: ``"recbole"`` (RecBole atomic files: the typed header
            :data:`RECBOLE_KG_HEADER` / :data:`RECBOLE_LINK_HEADER` first, entity tokens)
            or ``"mkr"`` (no header, integer entity indices).
        col_item: Name of the item column of ``links``.
        numeric_items: Item ids are integers (MovieLens, Last.fm); ``False`` keeps them as
            strings (ISBNs).
        errors: ``"report"``: count and drop bad lines (:attr:`KnowledgeGraph.report`, one
            warning); ``"raise"``: raise at the first one.
        name: The KG's name (default: the triple file's name).

    Raises:
        ConfigError: an unknown ``fmt`` or ``errors``.
        CorruptDataError: another header, an empty file, or (``errors="raise"``) a bad line,
            naming file and line.
    """
    _check_errors(errors)
    if fmt not in ("recbole", "mkr"):
        raise ConfigError(f"fmt={fmt!r}; allowed: 'recbole', 'mkr'.")
    kg_path, link_path = Path(kg_path), Path(link_path)
    recbole = fmt == "recbole"
    t, t_lines, t_bad = _read_lines(kg_path, 3, RECBOLE_KG_HEADER if recbole else None, errors)
    links, l_lines, l_bad = _read_lines(
        link_path, 2, RECBOLE_LINK_HEADER if recbole else None, errors
    )
    report = {
        "triples_read": len(t) + t_bad,
        "malformed_triple_lines": t_bad,
        "links_read": len(links) + l_bad,
        "malformed_link_lines": l_bad,
    }
    heads, tails = t[0], t[2]
    if not recbole:
        h = _as_int(heads, kg_path, t_lines, "a head entity index", errors)
        tl = _as_int(tails, kg_path, t_lines, "a tail entity index", errors)
        ok = (h >= 0) & (tl >= 0)
        report["malformed_triple_lines"] += int((~ok).sum())
        t, heads, tails = t[ok], h[ok], tl[ok]
    triples = pd.DataFrame(
        {HEAD: np.asarray(heads), RELATION: t[1].to_numpy(), TAIL: np.asarray(tails)}
    )
    items: Any = links[0]
    entities: Any = links[1]
    ok = np.ones(len(links), dtype=bool)
    if numeric_items:
        items = _as_int(items, link_path, l_lines, "an item id", errors)
        ok &= items >= 0
    if not recbole:
        entities = _as_int(entities, link_path, l_lines, "an entity index", errors)
        ok &= entities >= 0
    report["malformed_link_lines"] += int((~ok).sum())
    link_frame = pd.DataFrame({col_item: np.asarray(items)[ok], ENTITY: np.asarray(entities)[ok]})
    return build_kg(
        triples, link_frame, col_item=col_item, name=name or kg_path.name, report=report
    )


def load_kg(
    name: str = "ml-100k",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    progress: bool = True,
    verify: bool = True,
    errors: str = "report",
) -> KnowledgeGraph:
    """Load a published item KG (:data:`SOURCES`: ``ml-100k``, ``mkr-movie``, ``mkr-book``,
    ``mkr-music``) as a :class:`KnowledgeGraph`.

    Args:
        name: Which KG.
        local_cache_path: A folder to look in first and to download into.
        col_item: Name of the item column of ``links`` (ids as in the rating data's loader).
        progress: Show a progress bar while downloading.
        verify: Check both files against the SHA-256 of the published ones; ``False``
            accepts copies changed on purpose (bad lines are still counted and dropped).
        errors: See :func:`read_kg_files`.

    Raises:
        ConfigError: an unknown ``name``.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: a file is not the published one, or is malformed beyond repair.

    Examples:
        >>> from recutils.datasets.kg import load_kg
        >>> kg = load_kg("ml-100k")  # doctest: +SKIP
        >>> kg.n_entities, kg.n_relations, len(kg.triples), len(kg.links)  # doctest: +SKIP
        (34628, 24, 91631, 1598)
    """
    if name not in SOURCES:
        raise ConfigError(f"unknown knowledge graph {name!r}; known: {sorted(SOURCES)}.")
    _check_errors(errors)
    src = SOURCES[name]
    folder = fetch_files(
        src.folder, (src.kg_file, src.link_file), local_cache_path, progress=progress
    )
    if verify:
        for remote in (src.kg_file, src.link_file):
            check_published(
                folder,
                PublishedFile(remote.filename, (remote.sha256,)),
                dataset=f"knowledge graph {name}",
            )
    return read_kg_files(
        folder / src.kg_file.filename,
        folder / src.link_file.filename,
        fmt=src.fmt,
        col_item=col_item,
        numeric_items=src.numeric_items,
        errors=errors,
        name=name,
    )


__all__ = [
    "ENTITY",
    "HEAD",
    "RECBOLE_KG_HEADER",
    "RECBOLE_LINK_HEADER",
    "RELATION",
    "SOURCES",
    "TAIL",
    "KGSource",
    "KnowledgeGraph",
    "build_kg",
    "load_kg",
    "read_kg_files",
]
