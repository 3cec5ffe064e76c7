"""DIN, DIEN and BST on real Taobao history samples: a few thousand rows, one epoch each."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from recutils.datasets import download as dl  # noqa: E402
from recutils.datasets import taobao  # noqa: E402
from recutils.datasets.behaviour_ctr import history_samples  # noqa: E402
from recutils.models import create_model  # noqa: E402

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


@pytest.mark.parametrize("name", ["din", "dien", "bst"])
def test_behaviour_model_trains_on_taobao_samples(name, require_dataset):
    from sklearn.metrics import roc_auc_score

    require_dataset(taobao.FOLDER)
    log = taobao.load_pandas_df(drop_outside_window=True, progress=False)
    log = log[log["userID"].isin(np.sort(log["userID"].unique())[:15])]
    samples = history_samples(
        log, max_len=50, n_negatives=1, negative_sampling="popularity", seed=0
    )
    assert 2000 < len(samples) < 6000
    train, test = samples.iloc[: len(samples) * 4 // 5], samples.iloc[len(samples) * 4 // 5 :]
    model = create_model(
        name, col_rating="label", train={"epochs": 1, "progress": False, "num_threads": 1}
    )
    model.fit(train)
    pred = model.predict(test, score_unknown=True)["prediction"].to_numpy()
    assert np.isfinite(pred).all() and np.isfinite(roc_auc_score(test["label"], pred))
    assert np.isfinite(model.history_["valid_auc"]).all()
