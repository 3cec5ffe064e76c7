"""BERT4Rec's Amazon Beauty file from the data mirror: counts, digest, the leave-one-out split."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.datasets import beauty
from recutils.datasets import download as dl
from recutils.evaluation.next_item import draw_negatives, evaluate_next_item
from recutils.splitting.sequences import build_sequences, pad_sequences, sequential_split

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_beauty_counts_split_and_popularity_baseline(require_dataset):
    folder = require_dataset(beauty.FOLDER)
    df = beauty.load_pandas_df(progress=False)
    assert (len(df), df["userID"].nunique(), df["itemID"].nunique()) == (
        beauty.N_INTERACTIONS,
        beauty.N_USERS,
        beauty.N_ITEMS,
    )
    dl.verify_file(folder / beauty.FILENAME, size=beauty._FILE.size, sha256=beauty._FILE.sha256)
    train, valid, test = sequential_split(df)
    # 5-core data: every user has >= 3 rows, so every user gets a test and a validation item
    assert len(test) == len(valid) == beauty.N_USERS
    seqs = build_sequences(train)
    assert seqs.lengths.min() >= 1 and len(seqs) == beauty.N_USERS
    padded = pad_sequences(seqs, 50)
    assert padded.shape == (beauty.N_USERS, 50)
    # the last column of the left-padded matrix is each user's latest training item
    last = train.groupby("userID")["itemID"].last().to_numpy()
    np.testing.assert_array_equal(padded[:, -1], last)

    # Popularity on the BERT4Rec protocol (100 popularity-sampled negatives), on 4,000 users:
    # the BERT4Rec paper reports POP HR@10 0.0405 on the full data; full ranking is far lower.
    n_items = beauty.N_ITEMS + 1
    users = np.arange(4000)
    history = sp.csr_matrix(
        (np.ones(len(seqs.items)), (seqs.row_ids(), seqs.items)), shape=(len(seqs), n_items)
    )[users]
    targets = test.sort_values("userID")["itemID"].to_numpy()[users]
    pop = np.bincount(df["itemID"], minlength=n_items).astype(float)
    exclude = (
        history + sp.csr_matrix((np.ones(len(users)), (users, targets)), shape=history.shape)
    ).tocsr()
    negatives = draw_negatives(n_items, exclude, 100, "popularity", pop, seed=0)
    result = evaluate_next_item(
        lambda rows: np.broadcast_to(pop, (len(rows), n_items)),
        targets,
        n_items,
        exclude=history,
        negatives=negatives,
    )
    table = result.table()
    assert 0.02 < table.loc["sampled", "HR@10"] < 0.08
    assert table.loc["full", "HR@10"] < table.loc["sampled", "HR@10"] / 3
