"""Data-parallel training on 2 gloo ranks (CPU): same result as one process, resume on
another number of ranks, and the errors of a bad setup."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _distributed_helpers import config, run_ranks, train  # noqa: E402

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn import distributed  # noqa: E402
from recutils.nn.trainer import Trainer  # noqa: E402

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch without torch.distributed"
)


def _aucs(result: dict) -> list[float]:
    return [row["valid_auc"] for row in result["history"]]


SPARSE = config(
    epochs=1,
    optimizers=[
        {"name": "adagrad", "lr": 0.1, "params": "embedding", "sparse": True},
        {"name": "adam", "lr": 0.02, "params": "dense"},
    ],
)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """Every 2-rank run of this module in one spawn (each spawn pays two torch imports):
    dense and sparse training, and a run killed at step 37 (epoch 2; 25 steps per epoch)
    whose last checkpoint is at step 30."""
    tmp = tmp_path_factory.mktemp("ddp")
    ckpt = str(tmp / "ckpt")
    jobs = {
        "dense": {"settings": config()},
        "sparse": {"settings": SPARSE, "sparse": True},
        "dropout": {"settings": config(epochs=1), "dropout": 0.5, "init_by_rank": True},
        "killed": {
            "settings": config(checkpoint_every_steps=10),
            "model_dir": ckpt,
            "stop_after": 37,
        },
    }
    return run_ranks(2, tmp / "out", jobs), ckpt


def test_two_ranks_reach_the_auc_of_one_process_with_the_same_global_batch(two_ranks) -> None:
    ranks = two_ranks[0]["dense"]
    single = train(config())
    # every rank ends with the same weights and history (gradients all-reduced, AUC on gathered scores)
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert _aucs(ranks[0]) == _aucs(ranks[1])
    one, two = _aucs(single), _aucs(ranks[0])
    assert len(one) == len(two) == 3
    assert max(abs(a - b) for a, b in zip(one, two)) < 0.002
    assert one[-1] > 0.7  # it learned something
    losses = [
        (a["train_loss"], b["train_loss"]) for a, b in zip(single["history"], ranks[0]["history"])
    ]
    assert all(abs(a - b) < 1e-3 for a, b in losses)


def test_sparse_embedding_gradients_train_under_ddp_with_gloo(two_ranks) -> None:
    ranks = two_ranks[0]["sparse"]
    single = train(SPARSE, sparse=True)
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert abs(_aucs(ranks[0])[-1] - _aucs(single)[-1]) < 0.002


def test_ranks_start_from_the_same_weights_and_draw_their_own_dropout_masks(two_ranks) -> None:
    ranks = two_ranks[0]["dropout"]
    # initialised from different seeds, trained from rank 0's weights, ended equal
    assert ranks[0]["first_weights"] == ranks[1]["first_weights"]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    # 25 steps of 4 keep/drop draws each: each rank its own masks (same masks on both ranks
    # would repeat dropout's noise on every shard instead of averaging it)
    masks = [r["masks"] for r in ranks]
    assert len(masks[0]) == len(masks[1]) == 25
    assert masks[0] != masks[1]
    assert 0.3 < np.mean(masks[0]) < 0.7 and 0.3 < np.mean(masks[1]) < 0.7
    # rank 0 keeps the seeded stream, rank 1's comes from rank_seed(7, 1, 0): a rerun is the same
    single = train(config(epochs=1), dropout=0.5)
    assert single["masks"][0] == masks[0][0]  # the first draws of the seeded stream
    torch.manual_seed(distributed.rank_seed(7, 1, 0))
    assert (torch.nn.Dropout(0.5)(torch.ones(32, 4))[0] > 0).tolist() == masks[1][0]


def test_a_run_killed_mid_epoch_on_two_ranks_resumes_on_one(two_ranks) -> None:
    settings = config(checkpoint_every_steps=10)
    ckpt = two_ranks[1]
    saved = torch.load(
        Trainer(torch.nn.Linear(1, 1), settings, model_dir=ckpt).checkpoints()[-1],
        weights_only=True,
    )
    assert (saved["step"], saved["world_size"], saved["batch_size"], saved["done"]) == (
        30,
        2,
        64,
        False,
    )
    resumed = train(settings, model_dir=ckpt)  # one process now
    whole = train(settings)
    assert [r["step"] for r in resumed["history"]] == [25, 50, 75]
    assert max(abs(a - b) for a, b in zip(_aucs(resumed), _aucs(whole))) < 0.002


def test_a_checkpoint_of_another_global_batch_size_is_refused(tmp_path) -> None:
    train(config(epochs=1, checkpoint_every_steps=10), model_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="global batch size of 64.*train.batch_size=64"):
        train(config(epochs=2, batch_size=32, checkpoint_every_steps=10), model_dir=str(tmp_path))


def test_a_rank_that_cannot_reach_the_others_times_out_with_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "RANK": "0",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }
    start = time.monotonic()
    with pytest.raises(
        distributed.DistributedTimeoutError, match="rank 0 of 2 could not reach the other ranks"
    ):
        distributed.init_from_env("gloo", timeout_s=2, env=env)
    assert time.monotonic() - start < 30
    assert not torch.distributed.is_initialized()
