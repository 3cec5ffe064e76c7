"""The next-item benchmark runner: rows per model and seed, resume, shared negatives, the built-in spec."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark.next_item import load_next_item_spec, run_next_item_benchmark
from recutils.exceptions import ConfigError

SPEC = """
dataset: beauty
seeds: [1, 2]
k: [1, 5]
n_negatives: 5
sampling: popularity
reference: sasrec
models:
  - name: popularity
  - name: sasrec
    params: {max_len: 5, embedding_dim: 16, num_layers: 1, dropout: 0.0, n_epochs: 40, batch_size: 16,
             learning_rate: 0.01, num_threads: 1}
"""


def _cycles(n_users: int = 60, n_items: int = 12, length: int = 6) -> pd.DataFrame:
    """Users walk a fixed cycle of items, so the next item is predictable from the last."""
    start = np.arange(n_users) % n_items
    users = np.repeat(np.arange(n_users), length)
    steps = np.tile(np.arange(length), n_users)
    return pd.DataFrame(
        {
            "userID": users,
            "itemID": (np.repeat(start, length) + steps) % n_items + 1,
            "timestamp": steps,
        }
    )


def test_runs_resume_and_share_negatives(tmp_path):
    pytest.importorskip("torch")
    data = _cycles()
    out, per_user = tmp_path / "r.csv", tmp_path / "u.csv.gz"
    results = run_next_item_benchmark(
        SPEC, data=data, results_path=out, per_user_path=per_user, progress=False
    )
    assert sorted(zip(results["model"], results["seed"])) == [
        ("popularity", 1),
        ("popularity", 2),
        ("sasrec", 1),
        ("sasrec", 2),
    ]
    assert {"full_HR@1", "full_NDCG@5", "sampled_MRR@5", "fit_s", "eval_s"} <= set(results.columns)
    sasrec = results[results["model"] == "sasrec"]
    pop = results[results["model"] == "popularity"]
    assert (sasrec["full_HR@1"].to_numpy() > 0.9).all()
    assert (pop["full_HR@5"].to_numpy() < sasrec["full_HR@5"].to_numpy()).all()
    # sampled ranking never ranks a target lower than full ranking does
    ranks = pd.read_csv(per_user)
    assert (ranks["sampled_rank"] <= ranks["full_rank"]).all() and len(ranks) == 4 * 60
    again = run_next_item_benchmark(
        SPEC, data=data, results_path=out, per_user_path=per_user, progress=False
    )
    assert len(again) == 4 and len(pd.read_csv(out)) == 4  # nothing rerun


def test_a_killed_run_resumes_from_its_checkpoints(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from recutils.benchmark import next_item

    spec = SPEC.replace("seeds: [1, 2]", "seeds: [1]").replace("n_epochs: 40", "n_epochs: 6")
    spec = spec.replace("  - name: popularity\n", "")
    data = _cycles()
    straight = run_next_item_benchmark(spec, data=data, progress=False)
    ckpt, out, per_user = tmp_path / "ckpt", tmp_path / "r.csv", tmp_path / "u.csv.gz"
    real = next_item._RunClock.on_evaluate

    def dies_at_epoch_4(self, row, trainer):
        real(self, row, trainer)
        if row["epoch"] == 4:  # after epoch 3's checkpoint, before epoch 4's
            raise KeyboardInterrupt

    monkeypatch.setattr(next_item._RunClock, "on_evaluate", dies_at_epoch_4)
    with pytest.raises(KeyboardInterrupt):
        run_next_item_benchmark(
            spec, data=data, results_path=out, per_user_path=per_user, progress=False,
            checkpoint_dir=ckpt,
        )  # fmt: skip
    (folder,) = ckpt.iterdir()
    assert folder.name.startswith("sasrec-seed1-") and not out.exists()
    assert sorted(p.name for p in folder.glob("ckpt-*.pt")) == ["ckpt-2.pt", "ckpt-3.pt"]
    elapsed = json.loads((folder / "elapsed.json").read_text())
    assert sorted(elapsed) == ["1", "2", "3", "4"]
    # pretend the first process spent an hour up to epoch 3: the resumed row counts it
    (folder / "elapsed.json").write_text(json.dumps({**elapsed, "3": 3600.0}))
    monkeypatch.setattr(next_item._RunClock, "on_evaluate", real)
    resumed = run_next_item_benchmark(
        spec, data=data, results_path=out, per_user_path=per_user, progress=False,
        checkpoint_dir=ckpt,
    )  # fmt: skip
    metrics = [c for c in straight.columns if c.startswith(("full_", "sampled_"))]
    pd.testing.assert_frame_equal(resumed[metrics], straight[metrics])
    assert resumed["epochs"].tolist() == [6]
    assert 3600.0 < resumed["fit_s"].iloc[0] < 3600.0 + 10 * straight["fit_s"].iloc[0] + 60
    assert not folder.exists()  # spent once the row is written
    assert len(pd.read_csv(out)) == 1


def test_popularity_and_models_are_scored_on_the_same_negatives(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from recutils.evaluation import next_item

    drawn = []
    real = next_item.draw_negatives

    def spy(*args, **kwargs):
        drawn.append(kwargs.get("seed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(next_item, "draw_negatives", spy)
    run_next_item_benchmark(SPEC, data=_cycles(), progress=False)
    assert drawn == [1, 2]  # once per seed, whatever the number of models


def test_specs_are_checked_and_the_builtin_one_builds():
    spec = load_next_item_spec("beauty")
    assert (
        spec.reference == "sasrec_softmax"
        and spec.n_negatives == 100
        and spec.sampling == "popularity"
    )
    assert spec.validation and spec.validation_users == 5000
    assert all(m.params.get("patience") for m in spec.models if m.name != "popularity")
    assert all(
        m.params.get("length_buckets", 0) == 0 for m in spec.models
    )  # the papers' random batches
    assert {
        "sasrec",
        "sasrec_softmax",
        "sasrec_ce",
        "cl4srec",
        "bert4rec",
        "gru4rec",
        "caser",
        "nextitnet",
        "ssept",
        "popularity",
    } == {m.name for m in spec.models}
    with pytest.raises(ConfigError, match="reference"):
        load_next_item_spec(SPEC.replace("reference: sasrec", "reference: nope"))
    with pytest.raises(ConfigError, match="sampling"):
        load_next_item_spec(SPEC.replace("sampling: popularity", "sampling: zipf"))
    with pytest.raises(ConfigError, match="dataset"):
        load_next_item_spec(SPEC.replace("dataset: beauty", "dataset: steam"))
    with pytest.raises(ConfigError, match="validation_users"):
        load_next_item_spec(SPEC + "validation: true\nvalidation_users: 0\n")


def test_validation_users_pick_the_same_users_for_every_run_and_threads_stay_out_of_the_key(
    tmp_path, monkeypatch
):
    pytest.importorskip("torch")
    from recutils.models.sequential import SASRec

    seen = []
    real_fit = SASRec.fit

    def spy(self, df, valid=None, **kwargs):
        seen.append((sorted(valid["userID"]), self.config.num_threads, self.config.patience))
        return real_fit(self, df, valid, **kwargs)

    monkeypatch.setattr(SASRec, "fit", spy)
    spec = (
        SPEC.replace("n_epochs: 40", "n_epochs: 6, patience: 2")
        + "validation: true\nvalidation_users: 10\n"
    )
    out = tmp_path / "r.csv"
    results = run_next_item_benchmark(
        spec, data=_cycles(), results_path=out, progress=False, num_threads=2
    )
    assert len(seen) == 2 and seen[0][0] == seen[1][0] and len(seen[0][0]) == 10
    assert seen[0][1] == 2 and seen[0][2] == 2
    assert (results["epochs"].dropna() <= 6).all()
    again = run_next_item_benchmark(
        spec, data=_cycles(), results_path=out, progress=False, num_threads=1
    )
    assert len(again) == 4 and len(seen) == 2  # another thread count reruns nothing
