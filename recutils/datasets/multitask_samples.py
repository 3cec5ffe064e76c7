"""Tiny samples of the Ali-CCP and AliExpress click + conversion data sets, as Torch-RecHub
ships them: two labels per row, for shape and API tests of multi-task models.

**For shape and API tests only.** Each file holds 20 to 100 real rows (Ali-CCP: 100/50/50,
AliExpress: 100/20); too few, and for AliExpress too rich in clicks, to support any claim
about a model's quality. For a multi-task data set with real volume use
:func:`recutils.datasets.census.load_census_income` (99,762 rows).

* **Ali-CCP** (Alibaba Click and Conversion Prediction; Ma et al., "Entire Space Multi-Task
  Model", SIGIR 2018, the ESMM data set): labels ``click`` and ``purchase``, 23 sparse
  fields named by their Ali-CCP field ids (``"101"``, ``"121"``, ..., ``"150_14"``),
  label-encoded as integers, and 8 dense fields ``D...`` normalised to [0, 1], as the AITM
  pre-processing script writes them.
* **AliExpress** (the US search logs of the MTReclib / AITM papers; Li et al., CIKM 2020):
  ``search_id``, 16 sparse fields ``categorical_1..16`` (integer codes), 63 dense fields
  ``numerical_1..63`` (normalised by the publisher), labels ``click`` and ``conversion``.

In every file a conversion (purchase) happens only after a click, as ESMM's
CTCVR = CTR x CVR decomposition assumes. Sparse fields are int64, dense fields float64,
labels int8; rows keep the file order with a ``RangeIndex``.

The files are found by :func:`recutils.datasets.download.fetch_files`: ``local_cache_path``,
``$RECUTILS_DATA_MIRROR/multitask-samples-rechub/``, the cache
``$RECUTILS_DATA_HOME/multitask-samples-rechub/``, then a download from Torch-RecHub's
repository at a pinned commit, checked against each file's SHA-256. Alibaba publishes both
data sets on Tianchi for research (cite the papers above); recutils never ships them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recutils.datasets._text import read_table
from recutils.datasets.census import check_binary_labels
from recutils.datasets.download import PublishedFile, RemoteFile, check_published, fetch_files
from recutils.exceptions import CorruptDataError, DataError
from recutils.utils.validation import check_choice

logger = logging.getLogger(__name__)

FOLDER = "multitask-samples-rechub"
_COMMIT = "5a73b2eebc3a670dc64c54971cc06a78ddd55394"
_BASE = (
    f"https://raw.githubusercontent.com/datawhalechina/torch-rechub/{_COMMIT}/examples/ranking/data"
)

#: Label columns.
CLICK_COL = "click"
PURCHASE_COL = "purchase"
CONVERSION_COL = "conversion"

#: Ali-CCP: the 23 sparse fields (integer codes), by their Ali-CCP field ids.
ALI_CCP_SPARSE: tuple[str, ...] = (
    "101",
    "121",
    "122",
    "124",
    "125",
    "126",
    "127",
    "128",
    "129",
    "205",
    "206",
    "207",
    "210",
    "216",
    "508",
    "509",
    "702",
    "853",
    "301",
    "109_14",
    "110_14",
    "127_14",
    "150_14",
)
#: Ali-CCP: the 8 dense fields, normalised to [0, 1].
ALI_CCP_DENSE: tuple[str, ...] = (
    "D109_14",
    "D110_14",
    "D127_14",
    "D150_14",
    "D508",
    "D509",
    "D702",
    "D853",
)
#: Ali-CCP: the labels (a purchase implies a click).
ALI_CCP_LABELS: tuple[str, ...] = (CLICK_COL, PURCHASE_COL)
_ALI_CCP_COLUMNS = (*ALI_CCP_LABELS, *ALI_CCP_SPARSE, *ALI_CCP_DENSE)

#: AliExpress: the 16 sparse fields (integer codes).
ALIEXPRESS_SPARSE: tuple[str, ...] = tuple(f"categorical_{i}" for i in range(1, 17))
#: AliExpress: the 63 dense fields, normalised by the publisher.
ALIEXPRESS_DENSE: tuple[str, ...] = tuple(f"numerical_{i}" for i in range(1, 64))
#: AliExpress: the labels (a conversion implies a click).
ALIEXPRESS_LABELS: tuple[str, ...] = (CLICK_COL, CONVERSION_COL)
#: AliExpress: the search (query session) id, not a feature.
ALIEXPRESS_ID_COL = "search_id"
_ALIEXPRESS_COLUMNS = (ALIEXPRESS_ID_COL, *ALIEXPRESS_SPARSE, *ALIEXPRESS_DENSE, *ALIEXPRESS_LABELS)

#: The file of each split.
ALI_CCP_FILES = {
    "train": "ali_ccp_train_sample.csv",
    "valid": "ali_ccp_val_sample.csv",
    "test": "ali_ccp_test_sample.csv",
}
ALIEXPRESS_FILES = {"train": "aliexpress_train_sample.csv", "test": "aliexpress_test_sample.csv"}
#: Every file as published: Torch-RecHub's ``examples/ranking/data/<folder>/<file>``, with
#: its SHA-256 and size.
FILES: tuple[RemoteFile, ...] = tuple(
    RemoteFile(name, f"{_BASE}/{folder}/{name}", sha256, size)
    for folder, name, sha256, size in (
        (
            "ali-ccp",
            "ali_ccp_train_sample.csv",
            "1c1d125bcdfca70c8f5ed24f6221acadab3e19b70e0b06b3eb3adb2af7a0f9b5",
            10_450,
        ),
        (
            "ali-ccp",
            "ali_ccp_val_sample.csv",
            "1236e1504b76bf7ceb48dbe3d999ae8b49f61fcda2d684578320fd9fc7821104",
            5_396,
        ),
        (
            "ali-ccp",
            "ali_ccp_test_sample.csv",
            "9764a9b8e53b25f85c00e08a89f65ecfadab100cb0834161bd7ef671b7702a09",
            5_432,
        ),
        (
            "aliexpress",
            "aliexpress_train_sample.csv",
            "9a602d2bd6012b23898437f60977135b65e75c3414bf19cac0d70408b12035ef",
            46_177,
        ),
        (
            "aliexpress",
            "aliexpress_test_sample.csv",
            "c264673dc08e68d1c6153b48c9039a3ea4d3ff3106b071550db34e311e25d529",
            9_399,
        ),
    )
)
_SHA256 = {remote.filename: remote.sha256 for remote in FILES}

#: Rows and positives per label of each file.
ALI_CCP_COUNTS = {"train": (100, 7, 1), "valid": (50, 3, 1), "test": (50, 2, 1)}
ALIEXPRESS_COUNTS = {"train": (100, 60, 2), "test": (20, 10, 2)}


def read_sample(
    path: str | os.PathLike,
    columns: Sequence[str],
    dense: Sequence[str],
    labels: Sequence[str],
) -> pd.DataFrame:
    """Parse one sample file: a header that must be ``columns``, then comma-separated rows.

    Returns:
        ``columns`` in file order: ``dense`` float64, ``labels`` int8, the others (sparse
        codes, ids) int64.

    Raises:
        CorruptDataError: another header, a line with the wrong number of fields, an empty
            file (naming file and line), or a label other than 0/1.
        DataError: a value is not a number.
    """
    path = Path(path)
    # labels are read as floats, so a missing one is named by check_binary_labels
    dtype = {c: "int64" for c in columns} | {c: "float64" for c in (*dense, *labels)}
    frame = read_table(path, ",", columns, header=columns, dtype=dtype, empty_ok=False).frame
    try:
        check_binary_labels(frame, labels)
    except DataError as err:
        raise CorruptDataError(f"{path}: {err}") from err
    frame[list(labels)] = frame[list(labels)].astype("int8")
    return frame


def _load(
    split: str,
    files: dict[str, str],
    name: str,
    columns: Sequence[str],
    dense: Sequence[str],
    labels: Sequence[str],
    local_cache_path: str | os.PathLike | None,
    progress: bool,
    verify: bool,
) -> pd.DataFrame:
    check_choice("split", split, files)
    folder = fetch_files(FOLDER, FILES, local_cache_path, progress=progress)
    filename = files[split]
    if verify:
        check_published(folder, PublishedFile(filename, (_SHA256[filename],)), dataset=name)
    frame = read_sample(folder / filename, columns, dense, labels)
    logger.info("loaded the %s %s sample: %d rows", name, split, len(frame))
    return frame


def load_ali_ccp_sample(
    split: str = "train",
    *,
    local_cache_path: str | os.PathLike | None = None,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load Torch-RecHub's Ali-CCP sample (100 train, 50 valid, 50 test rows).

    For shape and API tests of multi-task models only: far too small for any claim about
    quality (7 clicks and 1 purchase in train).

    Args:
        split: ``"train"``, ``"valid"`` or ``"test"``.
        local_cache_path: A folder to look in first and to download into.
        progress: Show a progress bar while downloading.
        verify: Check the file against its published SHA-256; ``False`` accepts a copy
            changed on purpose (the format checks still apply).

    Returns:
        ``click``, ``purchase`` (int8), :data:`ALI_CCP_SPARSE` (int64 codes) and
        :data:`ALI_CCP_DENSE` (float64), in file order.

    Raises:
        ConfigError: an unknown ``split``.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published one, or is malformed.
    """
    return _load(
        split,
        ALI_CCP_FILES,
        "Ali-CCP",
        _ALI_CCP_COLUMNS,
        ALI_CCP_DENSE,
        ALI_CCP_LABELS,
        local_cache_path,
        progress,
        verify,
    )


def load_aliexpress_sample(
    split: str = "train",
    *,
    local_cache_path: str | os.PathLike | None = None,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load Torch-RecHub's AliExpress (US) sample (100 train, 20 test rows).

    For shape and API tests of multi-task models only: far too small for any claim about
    quality, and its click rate (60%) is far above the full data's.

    Args:
        split: ``"train"`` or ``"test"``.
        local_cache_path: A folder to look in first and to download into.
        progress: Show a progress bar while downloading.
        verify: Check the file against its published SHA-256; ``False`` accepts a copy
            changed on purpose (the format checks still apply).

    Returns:
        ``search_id`` (int64, not a feature), :data:`ALIEXPRESS_SPARSE` (int64 codes),
        :data:`ALIEXPRESS_DENSE` (float64), ``click`` and ``conversion`` (int8), in file order.

    Raises:
        ConfigError: an unknown ``split``.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published one, or is malformed.
    """
    return _load(
        split,
        ALIEXPRESS_FILES,
        "AliExpress",
        _ALIEXPRESS_COLUMNS,
        ALIEXPRESS_DENSE,
        ALIEXPRESS_LABELS,
        local_cache_path,
        progress,
        verify,
    )


__all__ = [
    "ALIEXPRESS_COUNTS",
    "ALIEXPRESS_DENSE",
    "ALIEXPRESS_FILES",
    "ALIEXPRESS_ID_COL",
    "ALIEXPRESS_LABELS",
    "ALIEXPRESS_SPARSE",
    "ALI_CCP_COUNTS",
    "ALI_CCP_DENSE",
    "ALI_CCP_FILES",
    "ALI_CCP_LABELS",
    "ALI_CCP_SPARSE",
    "CLICK_COL",
    "CONVERSION_COL",
    "FILES",
    "FOLDER",
    "PURCHASE_COL",
    "check_binary_labels",
    "load_aliexpress_sample",
    "load_ali_ccp_sample",
    "read_sample",
]
