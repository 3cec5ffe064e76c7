"""MIND (Microsoft News Dataset): news, impression logs, word and entity embeddings.

MIND (Wu et al., "MIND: A Large-scale Dataset for News Recommendation", ACL 2020,
https://msnews.github.io) holds, per split, two tab-separated files:

* ``news.tsv``: ``news_id category subcategory title abstract url title_entities
  abstract_entities`` (the entity columns are JSON lists whose ``WikidataId`` fields
  name Wikidata entities);
* ``behaviors.tsv``: ``impression_id user_id time history impressions``: ``history`` is
  the space-separated news the user clicked before, ``impressions`` the space-separated
  candidates shown, each ``<news_id>-<label>`` (1 clicked, 0 not);

and ``entity_embedding.vec`` / ``relation_embedding.vec`` (``id<TAB>100 floats``,
TransE vectors of the Wikidata entities and relations).

Sizes (``size`` of :func:`load_mind`):

==================  =======================================================  ==========
size                files                                                    splits
==================  =======================================================  ==========
``kim-sample``      PaddleRec's KIM demo slice: ``docs.tsv`` (news),         ``train``,
                    ``train.tsv`` / ``test.tsv`` (behaviours); consistent:   ``test``
                    every referenced news id is in ``docs.tsv``              (``dev``)
``small-sample``    5,000 impressions / 2,000 news of MIND-small train,      ``train``
                    sampled independently: most referenced news are absent
``MINDsmall``       Microsoft's archives ``MINDsmall_<split>.zip``           ``train``,
                                                                             ``dev``
``MINDlarge``       ``MINDlarge_<split>.zip``                                ``train``,
                                                                             ``dev``,
                                                                             ``test``
``MINDdemo``        ``MINDdemo_<split>.zip`` (Microsoft Recommenders' demo)  ``train``,
                                                                             ``dev``
==================  =======================================================  ==========

Files are found like every loader's (:mod:`recutils.datasets.download`):
``local_cache_path``, then ``$RECUTILS_DATA_MIRROR/<folder>/``, then the cache, then a
download. The two samples are downloaded file by file from the repositories they come
from, at pinned commits, and checked against their SHA-256 (``verify=True``). The
official archives (:data:`OFFICIAL_URLS`) are documented, never required: Microsoft
publishes no checksum, so their download is refused unless unverified downloads are
allowed (``$RECUTILS_ALLOW_UNVERIFIED=1``); put the extracted folder
(``MINDsmall_train/news.tsv``, ...) in the mirror instead. MIND's licence allows
non-commercial research use only; recutils never ships its files.

Bad input is counted and reported (:class:`MindReport`, logged and warned) or refused:

* news ids of a history or an impression that ``news.tsv`` lacks: dropped and counted
  (``drop_missing=True``, the default; ``False`` raises :class:`DataError`);
* empty titles: counted (the news keeps an empty title: its encoder sees only padding);
* words out of the vocabulary: mapped to the unknown word (id 1) and counted by
  :func:`encode_texts`;
* entity ids absent from an embedding file: counted by :func:`entity_coverage`;
* malformed impression tokens (``N123-2``, ``N123``): :class:`CorruptDataError` naming
  the file, line and token;
* a GloVe file whose vectors do not have the requested dimension: :class:`DataError`.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_LABEL_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
)
from recutils.datasets._text import decode, read_bytes, read_table
from recutils.datasets.download import (
    PublishedFile,
    RemoteArchive,
    RemoteFile,
    check_published,
    fetch_dataset,
    fetch_files,
)
from recutils.exceptions import ConfigError, CorruptDataError, DataError, DataWarning

logger = logging.getLogger(__name__)

#: Column names of the frames this module returns (besides the configurable id columns).
IMPRESSION_COL = "impressionID"
HISTORY_COL = "history"
POSITION_COL = "position"
NEWS_TEXT_COLS: tuple[str, ...] = ("category", "subcategory", "title", "abstract")
NEWS_FIELDS: tuple[str, ...] = (
    "news_id",
    "category",
    "subcategory",
    "title",
    "abstract",
    "url",
    "title_entities",
    "abstract_entities",
)
BEHAVIOR_FIELDS: tuple[str, ...] = ("impression_id", "user_id", "time", "history", "impressions")
#: Index of the padding word and of the unknown word in a :class:`WordVocabulary`.
PAD, UNK = 0, 1
#: Microsoft Recommenders' news tokenizer: word characters, or one punctuation mark.
TOKEN_PATTERN = r"[\w]+|[.,!?;|]"

#: The official archives (documented, never required; no published checksum).
OFFICIAL_URLS: dict[str, str] = {
    **{
        f"MINDsmall_{s}": f"https://mind201910small.blob.core.windows.net/release/MINDsmall_{s}.zip"
        for s in ("train", "dev")
    },
    **{
        f"MINDlarge_{s}": f"https://mind201910small.blob.core.windows.net/release/MINDlarge_{s}.zip"
        for s in ("train", "dev", "test")
    },
    **{
        f"MINDdemo_{s}": f"https://recodatasets.z20.web.core.windows.net/newsrec/MINDdemo_{s}.zip"
        for s in ("train", "dev")
    },
}

_PADDLE = (
    "https://raw.githubusercontent.com/PaddlePaddle/PaddleRec/"
    "656326adf3c4117c11ec0eff5e8f61acd8191c2a/models/match/kim/data/sample_data/"
)
_FARABI = (
    "https://raw.githubusercontent.com/Farabi667/AI-Term-Project/"
    "c83c37b18c1820abbd8ba6955912ac1e61e62fa1/MINDsmall_train/"
)
_ALLENNLP = (
    "https://raw.githubusercontent.com/allenai/allennlp/"
    "80fb6061e568cb9d6ab5d45b661e86eb61b92c82/test_fixtures/embeddings/"
)


@dataclass(frozen=True)
class _Sample:
    folder: str
    news: RemoteFile
    behaviors: dict[str, RemoteFile]


_SAMPLES: dict[str, _Sample] = {
    "kim-sample": _Sample(
        "mind-kim-sample",
        RemoteFile(
            "docs.tsv",
            _PADDLE + "docs.tsv",
            "0909ede2b54b901dfe3ada9e29f7b1d63b17e7970be84c4d2aae6398447bd45c",
            214_072,
        ),
        {
            "train": RemoteFile(
                "train.tsv",
                _PADDLE + "train.tsv",
                "a6fd80b5c8c0016c98697e56faadbf3bc4c23ca5889c026aa91189cdcdfa5d42",
                2_059,
            ),
            "test": RemoteFile(
                "test.tsv",
                _PADDLE + "test.tsv",
                "c77de8ef0930389771eab4cc1b33b39926f4d6239b12ecac0f6f63afae69770f",
                1_196,
            ),
        },
    ),
    "small-sample": _Sample(
        "mind-small-sample",
        RemoteFile(
            "news.tsv",
            _FARABI + "news.tsv",
            "317a322c7b70518fb91ca08d937d1ec77a8b12fb9e28db5fc90374af16b354bf",
            1_613_302,
        ),
        {
            "train": RemoteFile(
                "behaviors.tsv",
                _FARABI + "behaviors.tsv",
                "2a101e15ce197ba488abffb91d337bd069823011838de14dacc46a26c91484a5",
                2_939_791,
            )
        },
    ),
}
_OFFICIAL_SPLITS = {
    "MINDsmall": ("train", "dev"),
    "MINDlarge": ("train", "dev", "test"),
    "MINDdemo": ("train", "dev"),
}
SIZES: tuple[str, ...] = (*_SAMPLES, *_OFFICIAL_SPLITS)

#: GloVe 6B samples (first 100 words; AllenNLP's test fixtures): dimension -> file.
GLOVE_SAMPLES: dict[int, RemoteFile] = {
    100: RemoteFile(
        "glove.6B.100d.sample.txt.gz",
        _ALLENNLP + "glove.6B.100d.sample.txt.gz",
        "156a9262a32df5a06156f0a4ee6e99730ec8c30142b223ede686bf283c8d07aa",
        34_314,
    ),
    300: RemoteFile(
        "glove.6B.300d.sample.txt.gz",
        _ALLENNLP + "glove.6B.300d.sample.txt.gz",
        "d1ecc9dc1e1270bd9993d0a6a70a960afb664beaffc2dbc839d469169252af0d",
        98_669,
    ),
}


@dataclass
class MindReport:
    """What a load found wrong with the data, and what it did about it.

    Attributes:
        n_news, n_impressions, n_candidates, n_history_refs: Sizes as read.
        empty_titles: News with an empty title (kept).
        missing_history_refs: History references to news absent from the news file (dropped).
        missing_candidates: Impression candidates absent from the news file (dropped).
        missing_news_ids: The distinct absent news ids (sorted).
        impressions_without_candidates: Impressions left with no candidate (dropped).
    """

    n_news: int = 0
    n_impressions: int = 0
    n_candidates: int = 0
    n_history_refs: int = 0
    empty_titles: int = 0
    missing_history_refs: int = 0
    missing_candidates: int = 0
    missing_news_ids: list[str] = field(default_factory=list)
    impressions_without_candidates: int = 0

    def summary(self) -> str:
        """One line of the counts."""
        return (
            f"{self.n_news} news ({self.empty_titles} with an empty title), {self.n_impressions} "
            f"impressions, {self.n_candidates} candidates ({self.missing_candidates} missing from "
            f"the news file), {self.n_history_refs} history references "
            f"({self.missing_history_refs} missing), {len(self.missing_news_ids)} distinct "
            f"missing news ids, {self.impressions_without_candidates} impressions left without "
            "candidates"
        )


@dataclass
class MindData:
    """One MIND split.

    Attributes:
        news: One row per news: ``col_item``, ``category``, ``subcategory``, ``title``,
            ``abstract``, ``url``, ``title_entities`` / ``abstract_entities`` (tuples of
            Wikidata ids).
        impressions: One row per (impression, candidate): ``impressionID``, ``col_user``,
            ``col_item``, ``col_label`` (1 clicked, 0 not), ``col_timestamp`` (datetime),
            ``position`` (0-based place in the impression) and ``history`` (the
            impression's clicked history, space-separated news ids).
        report: The counts of :class:`MindReport`.
    """

    news: pd.DataFrame
    impressions: pd.DataFrame
    report: MindReport


# ----------------------------------------------------------------- parsers
def read_news(path: str | os.PathLike, *, col_item: str = DEFAULT_ITEM_COL) -> pd.DataFrame:
    """Parse a MIND ``news.tsv`` file.

    Returns:
        One row per news in file order (see :attr:`MindData.news`); missing titles and
        abstracts become empty strings.

    Raises:
        CorruptDataError: a line without 8 tab-separated fields, a repeated news id, or an
            empty file (naming file and line).
    """
    path = Path(path)
    table = read_table(path, "\t", NEWS_FIELDS, dtype=str, empty_ok=False)
    frame = table.frame
    ids = frame["news_id"]
    table.check(path, ids.isna().to_numpy(), lambda r: "empty news id.")
    table.check(path, ids.duplicated().to_numpy(), lambda r: f"news id {ids.iloc[r]!r} repeated.")
    out = pd.DataFrame({col_item: ids.to_numpy()})
    for name in ("category", "subcategory", "title", "abstract", "url"):
        out[name] = frame[name].fillna("").to_numpy()
    for name in ("title_entities", "abstract_entities"):
        found = frame[name].fillna("").str.findall(r'"WikidataId":\s*"([^"]+)"')
        out[name] = found.map(tuple).to_numpy()
    return out


def read_behaviors(path: str | os.PathLike) -> pd.DataFrame:
    """Parse a MIND ``behaviors.tsv`` file (one row per impression, fields as strings).

    Returns:
        ``impression_id`` (int64), ``user_id``, ``time`` (datetime), ``history`` and
        ``impressions`` (space-separated strings; ``""`` when empty), and ``line`` (the
        1-based file line, for error messages).

    Raises:
        CorruptDataError: a line without 5 tab-separated fields, a time that does not parse,
            or an empty file.
        DataError: an impression id that is not an integer.
    """
    path = Path(path)
    table = read_table(
        path,
        "\t",
        BEHAVIOR_FIELDS,
        dtype={
            "impression_id": "int64",
            "user_id": str,
            "time": str,
            "history": str,
            "impressions": str,
        },
        empty_ok=False,
    )
    frame = table.frame
    time = pd.to_datetime(frame["time"], format="%m/%d/%Y %I:%M:%S %p", errors="coerce")
    table.check(
        path,
        time.isna().to_numpy(),
        lambda r: f"time {frame['time'].iloc[r]!r} is not 'M/D/YYYY H:MM:SS AM|PM'.",
    )
    return pd.DataFrame(
        {
            "impression_id": frame["impression_id"].to_numpy(),
            "user_id": frame["user_id"].to_numpy(),
            "time": time.to_numpy(),
            "history": frame["history"].fillna("").to_numpy(),
            "impressions": frame["impressions"].fillna("").to_numpy(),
            "line": table.lines,
        }
    )


def explode_impressions(
    behaviors: pd.DataFrame,
    *,
    path: str | os.PathLike = "behaviors.tsv",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_label: str = DEFAULT_LABEL_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> pd.DataFrame:
    """One row per (impression, candidate) from :func:`read_behaviors`' frame.

    Raises:
        CorruptDataError: a candidate token that is not ``<news_id>-0`` or ``<news_id>-1``
            (e.g. ``N123-2`` or ``N123``), naming the file, line and token.
    """
    tokens = behaviors["impressions"].str.split()
    lengths = tokens.str.len().to_numpy()
    flat = tokens.explode(ignore_index=True).dropna()
    parts = flat.str.extract(r"^(\S+)-([01])$")
    bad = parts[0].isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise CorruptDataError(
            f"{path}, line {int(behaviors['line'].iloc[row])}: malformed impression "
            f"{flat.iloc[first]!r} ({int(bad.sum())} such token(s) in all); each candidate must be "
            "'<news_id>-1' (clicked) or '<news_id>-0' (not clicked)."
        )
    rows = np.repeat(np.arange(len(behaviors)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pd.DataFrame(
        {
            IMPRESSION_COL: behaviors["impression_id"].to_numpy()[rows],
            col_user: behaviors["user_id"].to_numpy()[rows],
            col_item: parts[0].to_numpy(),
            col_label: parts[1].astype(np.int64).to_numpy(),
            col_timestamp: behaviors["time"].to_numpy()[rows],
            POSITION_COL: np.arange(rows.size, dtype=np.int64) - starts,
            HISTORY_COL: behaviors["history"].to_numpy()[rows],
        }
    )


def _filter_histories(history: pd.Series, known: pd.Index) -> tuple[pd.Series, int, np.ndarray]:
    """Histories without unknown news ids: (filtered, number of references, unknown ids)."""
    refs = history.str.split().explode()
    refs = refs[refs.notna()]
    missing = ~refs.isin(known)
    kept = refs[~missing].groupby(level=0).agg(" ".join)
    filtered = kept.reindex(history.index, fill_value="")
    return filtered, int(refs.size), refs[missing].unique()


def clean_against_news(
    news: pd.DataFrame,
    behaviors: pd.DataFrame,
    impressions: pd.DataFrame,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    drop_missing: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, MindReport]:
    """Check histories and candidates against the news table; drop and count what is missing.

    Returns:
        The behaviours with filtered histories, the impressions without the missing
        candidates (and with filtered histories), and the :class:`MindReport`.

    Raises:
        DataError: with ``drop_missing=False``, any referenced news id absent from ``news``.
    """
    known = pd.Index(news[col_item])
    history, n_refs, missing_hist = _filter_histories(behaviors["history"], known)
    missing_cand = ~impressions[col_item].isin(known).to_numpy()
    missing_ids = sorted(set(missing_hist.tolist()) | set(impressions.loc[missing_cand, col_item]))
    report = MindReport(
        n_news=len(news),
        n_impressions=len(behaviors),
        n_candidates=len(impressions),
        n_history_refs=n_refs,
        empty_titles=int((news["title"].str.strip() == "").sum()),
        missing_history_refs=n_refs - int(history.str.split().str.len().fillna(0).sum()),
        missing_candidates=int(missing_cand.sum()),
        missing_news_ids=missing_ids,
    )
    if missing_ids and not drop_missing:
        raise DataError(
            f"{len(missing_ids)} news id(s) referenced by the behaviours are not in the news "
            f"table (e.g. {missing_ids[:5]}); pass drop_missing=True to drop them."
        )
    behaviors = behaviors.assign(history=history.to_numpy())
    by_impression = pd.Series(history.to_numpy(), index=behaviors["impression_id"].to_numpy())
    kept = impressions.loc[~missing_cand].reset_index(drop=True)
    kept[HISTORY_COL] = by_impression.reindex(kept[IMPRESSION_COL].to_numpy()).to_numpy()
    report.impressions_without_candidates = int(len(behaviors) - kept[IMPRESSION_COL].nunique())
    return behaviors, kept, report


# ------------------------------------------------------------------ loader
def _split_files(
    size: str, split: str, local_cache_path: str | os.PathLike | None, progress: bool, verify: bool
) -> tuple[Path, Path]:
    if size in _SAMPLES:
        sample = _SAMPLES[size]
        split = "test" if (size == "kim-sample" and split == "dev") else split
        if split not in sample.behaviors:
            raise ConfigError(
                f"MIND {size!r} has the splits {sorted(sample.behaviors)}, got {split!r}."
            )
        files = (sample.news, sample.behaviors[split])
        folder = fetch_files(sample.folder, files, local_cache_path, progress=progress)
        if verify:
            for remote in files:
                check_published(
                    folder, PublishedFile(remote.filename, (remote.sha256,)), dataset=f"MIND {size}"
                )
        return folder / files[0].filename, folder / files[1].filename
    if size not in _OFFICIAL_SPLITS:
        raise ConfigError(f"unknown MIND size {size!r}; allowed: {list(SIZES)}.")
    if split not in _OFFICIAL_SPLITS[size]:
        raise ConfigError(
            f"MIND {size!r} has the splits {list(_OFFICIAL_SPLITS[size])}, got {split!r}."
        )
    name = f"{size}_{split}"
    spec = RemoteArchive(name=name, url=OFFICIAL_URLS[name], archive_folder="")
    folder = fetch_dataset(spec, ["news.tsv", "behaviors.tsv"], local_cache_path, progress=progress)
    return folder / "news.tsv", folder / "behaviors.tsv"


def load_mind(
    size: str = "kim-sample",
    split: str = "train",
    local_cache_path: str | os.PathLike | None = None,
    *,
    drop_missing: bool = True,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_label: str = DEFAULT_LABEL_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    progress: bool = True,
    verify: bool = True,
) -> MindData:
    """Load one MIND split: its news, its impressions (long) and a report of bad input.

    Args:
        size: One of :data:`SIZES` (module docstring).
        split: ``train``, ``dev`` or ``test`` as the size has them (``kim-sample``:
            ``train`` and ``test``, also called ``dev``).
        local_cache_path: A folder to look in first (and download into).
        drop_missing: Drop history references and candidates whose news is not in the news
            file (counted in the report); False raises :class:`DataError` instead.
        col_user, col_item, col_label, col_timestamp: Output column names.
        progress: Show a progress bar while downloading.
        verify: Check the sample files against their published SHA-256.

    Returns:
        :class:`MindData`. Missing news and empty titles are logged, and warned about
        with one :class:`DataWarning` when there are any.

    Raises:
        ConfigError: an unknown size or split.
        DatasetUnavailableError: the files are nowhere and cannot be downloaded.
        CorruptDataError: a malformed line or impression token, or a sample file that is
            not the published one.
    """
    if (
        len(
            {
                col_user,
                col_item,
                col_label,
                col_timestamp,
                IMPRESSION_COL,
                POSITION_COL,
                HISTORY_COL,
            }
        )
        != 7
    ):
        raise ConfigError(
            "column names must be distinct from each other and from "
            f"{[IMPRESSION_COL, POSITION_COL, HISTORY_COL]}."
        )
    news_path, behaviors_path = _split_files(size, split, local_cache_path, progress, verify)
    news = read_news(news_path, col_item=col_item)
    behaviors = read_behaviors(behaviors_path)
    long = explode_impressions(
        behaviors,
        path=behaviors_path,
        col_user=col_user,
        col_item=col_item,
        col_label=col_label,
        col_timestamp=col_timestamp,
    )
    _, long, report = clean_against_news(
        news, behaviors, long, col_item=col_item, drop_missing=drop_missing
    )
    logger.info("MIND %s/%s: %s", size, split, report.summary())
    if report.missing_news_ids or report.empty_titles:
        warnings.warn(f"MIND {size}/{split}: {report.summary()}.", DataWarning, stacklevel=2)
    return MindData(news=news, impressions=long, report=report)


# ------------------------------------------------------------ vocabulary
def tokenize(texts: pd.Series) -> pd.Series:
    """Lower-cased word and punctuation tokens of each text (Microsoft Recommenders' rule)."""
    return texts.fillna("").astype(str).str.lower().str.findall(TOKEN_PATTERN)


@dataclass
class WordVocabulary:
    """Words by index: 0 is padding (``<pad>``), 1 the unknown word (``<unk>``).

    Attributes:
        words: The words, ``words[i]`` of index ``i``.
    """

    words: pd.Index

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(
        cls,
        news: pd.DataFrame,
        fields: tuple[str, ...] = ("title", "abstract"),
        *,
        min_count: int = 1,
    ) -> WordVocabulary:
        """The words of ``news[fields]`` seen at least ``min_count`` times, most frequent first
        (ties in order of first appearance)."""
        if min_count < 1:
            raise ConfigError(f"min_count must be >= 1, got {min_count}.")
        missing = [f for f in fields if f not in news.columns]
        if missing:
            raise ConfigError(f"news has no column(s) {missing}; it has {list(news.columns)}.")
        tokens = pd.concat([tokenize(news[f]).explode() for f in fields]).dropna()
        counts = tokens.value_counts(sort=False)
        counts = counts[counts >= min_count]
        order = np.argsort(-counts.to_numpy(), kind="stable")
        return cls(pd.Index(["<pad>", "<unk>", *counts.index[order].tolist()]))

    def encode(self, texts: pd.Series, max_len: int) -> tuple[np.ndarray, int]:
        """:func:`encode_texts` with this vocabulary."""
        return encode_texts(texts, self, max_len)


def encode_texts(
    texts: pd.Series, vocabulary: WordVocabulary, max_len: int
) -> tuple[np.ndarray, int]:
    """Word ids of each text, truncated / padded (with 0) to ``max_len``.

    Returns:
        ``(ids [len(texts), max_len] int64, oov)``: words absent from the vocabulary become
        :data:`UNK` (1); ``oov`` counts them (within the first ``max_len`` words).
    """
    if max_len < 1:
        raise ConfigError(f"max_len must be >= 1, got {max_len}.")
    tokens = tokenize(pd.Series(np.asarray(texts, dtype=object))).explode()
    tokens = tokens[tokens.notna()]
    rows = tokens.index.to_numpy(dtype=np.int64)
    pos = tokens.groupby(level=0).cumcount().to_numpy()
    keep = pos < max_len
    ids = vocabulary.words.get_indexer(tokens.to_numpy()[keep])
    oov = int((ids < 0).sum())
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    out[rows[keep], pos[keep]] = np.where(ids < 0, UNK, ids)
    return out, oov


# ------------------------------------------------------------ embeddings
#: The KIM sample's entity neighbour file (``{WikidataId: [neighbour WikidataIds]}``).
KIM_KG_GRAPH = RemoteFile(
    "KGGraph.json",
    _PADDLE + "KGGraph.json",
    "3cef347f07f785841ca27e0c0e2640fee823c32a1793ab83dc81404dd9f458b0",
    28_511,
)


def kim_sample_kg_path(local_cache_path: str | os.PathLike | None = None) -> Path:
    """The ``kim-sample``'s ``KGGraph.json`` (each title entity's knowledge-graph neighbours,
    no relation labels; DKN's ``kg_neighbours_path``), found like the sample's other files
    and checked by SHA-256."""
    folder = fetch_files(
        _SAMPLES["kim-sample"].folder, (KIM_KG_GRAPH,), local_cache_path, progress=False
    )
    return check_published(
        folder,
        PublishedFile(KIM_KG_GRAPH.filename, (KIM_KG_GRAPH.sha256,)),
        dataset="MIND kim-sample",
    )


def glove_sample_path(dim: int = 300, local_cache_path: str | os.PathLike | None = None) -> Path:
    """The GloVe 6B sample file (first 100 words) of dimension ``dim`` (100 or 300).

    Found like the other data (folder ``glove-6b-samples`` in the mirror or cache, else a
    download from AllenNLP's test fixtures at a pinned commit, checked by SHA-256).
    """
    if dim not in GLOVE_SAMPLES:
        raise ConfigError(f"GloVe samples exist for dimensions {sorted(GLOVE_SAMPLES)}, got {dim}.")
    remote = GLOVE_SAMPLES[dim]
    folder = fetch_files("glove-6b-samples", (remote,), local_cache_path, progress=False)
    return check_published(
        folder, PublishedFile(remote.filename, (remote.sha256,)), dataset="GloVe 6B sample"
    )


def read_vectors(path: str | os.PathLike, sep: str | None = " ") -> tuple[pd.Index, np.ndarray]:
    """Read a ``word v1 ... vd`` (GloVe) or ``id<TAB>v1...vd<TAB>`` (MIND ``.vec``) file.

    A trailing empty field (MIND's ``.vec`` lines end with a tab) is ignored; ``sep=None``
    splits on any run of whitespace (tabs and spaces mixed).

    Returns:
        ``(keys, vectors [n, d] float32)``.

    Raises:
        CorruptDataError: lines with different numbers of values, or non-numeric values.
    """
    path = Path(path)
    text = decode(read_bytes(path))
    lines = pd.Series(text.splitlines())
    lines = lines[lines.str.strip() != ""].str.rstrip(" \t\r" if sep is None else sep + "\r")
    parts = lines.str.split(sep)
    widths = parts.str.len().to_numpy()
    if widths.size == 0:
        raise CorruptDataError(f"{path} holds no vectors.")
    if (widths != widths[0]).any():
        row = int(np.flatnonzero(widths != widths[0])[0])
        raise CorruptDataError(
            f"{path}, line {int(lines.index[row]) + 1}: {widths[row] - 1} values, "
            f"the first line has {widths[0] - 1}."
        )
    table = pd.DataFrame(parts.tolist())
    try:
        values = table.iloc[:, 1:].to_numpy(dtype=np.float32)
    except ValueError as err:
        raise CorruptDataError(f"{path}: a value is not a number ({err}).") from err
    return pd.Index(table.iloc[:, 0].to_numpy()), values


@dataclass
class EmbeddingInit:
    """An embedding matrix built for a vocabulary, and how much of it the file covered.

    Attributes:
        matrix: ``[len(vocabulary), dim]`` float32: file vectors where found, small random
            vectors elsewhere, zeros for padding.
        found: Vocabulary words (padding and unknown excluded) found in the file.
        missing: Vocabulary words not found.
    """

    matrix: np.ndarray
    found: int
    missing: int


def glove_matrix(
    path: str | os.PathLike,
    vocabulary: WordVocabulary,
    dim: int,
    *,
    seed: int = 42,
    scale: float = 0.1,
) -> EmbeddingInit:
    """Word embeddings of ``vocabulary`` initialised from a GloVe text file (plain or ``.gz``).

    Words found take their GloVe vector (looked up lower-cased when the exact word is
    absent); the others (and ``<unk>``) draw ``normal(0, scale)`` from ``seed``; ``<pad>``
    is zeros.

    Raises:
        DataError: the file's vectors are not ``dim``-dimensional (naming both dimensions).
    """
    words, vectors = read_vectors(path, " ")
    if vectors.shape[1] != dim:
        raise DataError(
            f"{path} holds {vectors.shape[1]}-dimensional vectors, but dim={dim} was "
            f"asked for; use a GloVe file of dimension {dim} or set the embedding "
            f"dimension to {vectors.shape[1]}."
        )
    keep = ~pd.Index(words).duplicated()
    words, vectors = pd.Index(words[keep]), vectors[keep]
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, scale, (len(vocabulary), dim)).astype(np.float32)
    matrix[PAD] = 0.0
    pos = words.get_indexer(vocabulary.words)
    lower = words.get_indexer(vocabulary.words.str.lower())
    pos = np.where(pos >= 0, pos, lower)
    pos[[PAD, UNK]] = -1
    matrix[pos >= 0] = vectors[pos[pos >= 0]]
    found = int((pos >= 0).sum())
    return EmbeddingInit(matrix, found, len(vocabulary) - 2 - found)


def entity_coverage(
    news: pd.DataFrame,
    entity_ids: pd.Index,
    fields: tuple[str, ...] = ("title_entities", "abstract_entities"),
) -> dict[str, int]:
    """How many entity mentions of ``news`` an embedding file (``entity_ids``) covers.

    Returns:
        ``{"mentions", "missing_mentions", "distinct", "missing_distinct"}``.
    """
    mentions = pd.concat([news[f].explode() for f in fields if f in news.columns]).dropna()
    missing = ~mentions.isin(entity_ids)
    return {
        "mentions": int(mentions.size),
        "missing_mentions": int(missing.sum()),
        "distinct": int(mentions.nunique()),
        "missing_distinct": int(mentions[missing].nunique()),
    }


__all__ = [
    "GLOVE_SAMPLES",
    "KIM_KG_GRAPH",
    "HISTORY_COL",
    "IMPRESSION_COL",
    "OFFICIAL_URLS",
    "PAD",
    "POSITION_COL",
    "SIZES",
    "UNK",
    "EmbeddingInit",
    "MindData",
    "MindReport",
    "WordVocabulary",
    "clean_against_news",
    "encode_texts",
    "entity_coverage",
    "explode_impressions",
    "glove_matrix",
    "glove_sample_path",
    "kim_sample_kg_path",
    "load_mind",
    "read_behaviors",
    "read_news",
    "read_vectors",
    "tokenize",
]
