"""MovieLens item text: the tag applications and one text row per movie.

* :func:`load_tag_df`: ``tags.csv`` of the sizes that publish one (``latest-small``,
  ``20m``): ``[col_user, col_item, tag, timestamp]``, in file order;
* :func:`movielens_item_text`: one row per movie of the item file with the text a
  content-based model reads: ``title`` (without the year), ``genres`` (space-separated;
  ``""`` when none) and ``tags`` (the movie's distinct tags in file order, joined by
  ``" ; "``; ``""`` when none).

Files are found as every MovieLens loader finds them (:mod:`recutils.datasets.movielens`:
``local_cache_path``, ``$RECUTILS_DATA_MIRROR``, the cache, then a download) and
``tags.csv`` of the October 2016 ``ml-latest-small`` is checked against its published
SHA-256 (``verify=True``). Pandas only.
"""

from __future__ import annotations

import os

import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.datasets._text import read_table
from recutils.datasets.download import PublishedFile, check_published, fetch_dataset
from recutils.exceptions import ConfigError

#: Sizes with a ``tags.csv``.
TAG_SIZES: tuple[str, ...] = ("latest-small", "20m")

# SHA-256 of tags.csv in the October 2016 ml-latest-small (PROVENANCE of the mirror copy)
_PUBLISHED_TAGS = {
    "latest-small": PublishedFile(
        "tags.csv", ("ba8789ec2e7894bcb29a1762b2f9fb34bad7f288be6b4d8388e86af2138d430e",)
    ),
}


def load_tag_df(
    size: str = "latest-small",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load a size's tag applications: ``[col_user, col_item, "tag", col_timestamp]``.

    Tags are stripped strings; a tag application with an empty tag is kept as ``""``.

    Args:
        size: One of :data:`TAG_SIZES`.
        local_cache_path, progress, verify: See :func:`recutils.datasets.movielens.load_pandas_df`.

    Raises:
        ConfigError: a size without tags (the message lists those with tags).
        CorruptDataError: the file is not the published one, or a line has the wrong
            number of fields (naming file and line).
    """
    from recutils.datasets import movielens

    if size not in TAG_SIZES:
        raise ConfigError(
            f"MovieLens {size!r} has no tags.csv; sizes with tags: {list(TAG_SIZES)}."
        )
    spec = movielens._SIZES[size]
    folder = fetch_dataset(spec.archive, ["tags.csv"], local_cache_path, progress=progress)
    if (
        verify
        and size in _PUBLISHED_TAGS
        and not (spec.reissued and movielens.verified_extraction(folder))
    ):
        check_published(folder, _PUBLISHED_TAGS[size], dataset=f"MovieLens {size}")
    table = read_table(
        folder / "tags.csv",
        ",",
        ["user", "item", "tag", "timestamp"],
        skiprows=1,
        dtype={"user": "int64", "item": "int64", "tag": "str", "timestamp": "int64"},
        quoting_csv=True,
    )
    raw = table.frame
    return pd.DataFrame(
        {
            col_user: raw["user"].to_numpy(),
            col_item: raw["item"].to_numpy(),
            "tag": raw["tag"].fillna("").str.strip().to_numpy(),
            col_timestamp: raw["timestamp"].to_numpy(),
        }
    )


def movielens_item_text(
    size: str = "latest-small",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """One row per movie: ``[col_item, "title", "genres", "tags"]`` (see the module docstring).

    Sizes without a ``tags.csv`` (``100k``, ``1m``, ...) get ``tags`` ``""`` everywhere.
    """
    from recutils.datasets import movielens

    items = movielens.load_item_df(size, local_cache_path, progress=progress, verify=verify)
    title = items["title"].str.replace(r"\s*\(\d{4}[-\u2013]?\d{0,4}\)\s*$", "", regex=True)
    out = pd.DataFrame(
        {
            col_item: items["itemID"].to_numpy(),
            "title": title.str.strip().to_numpy(),
            "genres": items["genres"].str.replace("|", " ", regex=False).to_numpy(),
        }
    )
    if size in TAG_SIZES:
        tags = load_tag_df(size, local_cache_path, progress=progress, verify=verify)
        tags = tags[tags["tag"] != ""].drop_duplicates([DEFAULT_ITEM_COL, "tag"])
        joined = tags.groupby(DEFAULT_ITEM_COL, sort=False)["tag"].agg(" ; ".join)
        out["tags"] = out[col_item].map(joined).fillna("").to_numpy()
    else:
        out["tags"] = ""
    return out.astype({"title": "str", "genres": "str", "tags": "str"})


__all__ = ["TAG_SIZES", "load_tag_df", "movielens_item_text"]
