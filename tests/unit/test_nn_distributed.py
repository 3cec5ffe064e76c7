"""recutils.nn.distributed without a process group (shards, environment, backends), and the
trainer's precision switch on CPU; the GPU paths are marked ``gpu`` and skip without CUDA."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn import distributed  # noqa: E402
from recutils.nn.config import TrainConfig  # noqa: E402
from recutils.nn.data import DENSE, IDS, LABEL, TensorData  # noqa: E402
from recutils.nn.trainer import Trainer, resolve_device  # noqa: E402


def test_shard_bounds_cover_the_rows_once_in_rank_order() -> None:
    assert [distributed.shard_bounds(10, r, 3) for r in range(3)] == [(0, 4), (4, 7), (7, 10)]
    assert [distributed.shard_bounds(1, r, 2) for r in range(2)] == [(0, 1), (1, 1)]


def test_shard_weights_make_the_mean_of_the_ranks_the_global_mean() -> None:
    batch = {"x": torch.arange(5.0), "y": torch.arange(5)}
    parts = [distributed.shard(batch, distributed.DistributedContext(r, 2)) for r in range(2)]
    assert parts[0][0]["x"].tolist() == [0.0, 1.0, 2.0] and parts[1][0]["y"].tolist() == [3, 4]
    mean = sum(p["x"].mean() * w for p, w in parts) / 2
    assert float(mean) == pytest.approx(2.0)
    # a rank without rows joins with one row and weight 0
    empty, weight = distributed.shard((torch.arange(1),), distributed.DistributedContext(1, 2))
    assert weight == 0.0 and empty[0].tolist() == [0]


def test_world_from_env_reads_torchrun_variables_and_rejects_bad_ones() -> None:
    assert distributed.world_from_env({}) == (0, 1, 0)
    assert distributed.world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == (
        1,
        2,
        1,
    )
    with pytest.raises(ConfigError, match="whole numbers"):
        distributed.world_from_env({"WORLD_SIZE": "two"})
    with pytest.raises(ConfigError, match=r"rank must be in \[0, WORLD_SIZE\)"):
        distributed.world_from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_init_from_env_is_a_no_op_for_one_process_and_needs_the_master_address() -> None:
    assert distributed.init_from_env(env={}) is None
    assert distributed.init_from_env(env={"WORLD_SIZE": "1"}) is None
    with pytest.raises(ConfigError, match=r"\['MASTER_ADDR', 'MASTER_PORT'\] unset.*torchrun"):
        distributed.init_from_env(env={"RANK": "0", "WORLD_SIZE": "2"})
    assert distributed.current() is None


def test_backends_auto_gloo_on_cpu_and_nccl_without_gpus_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="allowed"):
        distributed.resolve_backend("mpi")
    if torch.cuda.is_available():
        assert distributed.resolve_backend("auto") == "nccl"
        return
    assert distributed.resolve_backend("auto") == "gloo"
    with pytest.raises(ConfigError, match="nccl backend needs CUDA GPUs.*use backend 'gloo'"):
        distributed.resolve_backend("nccl")
    with pytest.raises(ConfigError, match="nccl backend needs CUDA"):
        distributed.init_from_env(
            "nccl",
            env={"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"},
        )


def test_sparse_gradients_under_nccl_are_refused() -> None:
    distributed.check_sparse_backend(distributed.DistributedContext(0, 2, backend="gloo"), True)
    distributed.check_sparse_backend(None, True)
    with pytest.raises(ConfigError, match="no sparse all-reduce"):
        distributed.check_sparse_backend(distributed.DistributedContext(0, 2, backend="nccl"), True)


def test_precision_and_pin_memory_are_validated_and_round_trip() -> None:
    with pytest.raises(ConfigError, match=r"precision 'fp8'; allowed: \['fp32', 'bf16', 'fp16'\]"):
        TrainConfig(precision="fp8")
    with pytest.raises(ConfigError, match="pin_memory"):
        TrainConfig(pin_memory="yes")
    cfg = TrainConfig(precision="bf16", pin_memory=False)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(20, 4)
        self.lin = torch.nn.Linear(4 + 2, 1)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.lin(torch.cat([self.emb(batch[IDS]).sum(1), batch[DENSE]], 1)).squeeze(-1)


def _data(n: int, seed: int) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 20, (n, 2), generator=g)
    dense = torch.randn(n, 2, generator=g)
    label = ((ids[:, 0] % 2 == 0) | (dense[:, 0] > 0.5)).float()
    return TensorData({IDS: ids, DENSE: dense, LABEL: label})


def _fit(precision: str, device: str = "cpu") -> Trainer:
    torch.manual_seed(0)
    trainer = Trainer(
        _Net(),
        {
            "batch_size": 64,
            "epochs": 4,
            "optimizers": [{"name": "adam", "lr": 0.05}],
            "progress": False,
            "num_threads": 1,
            "device": device,
            "precision": precision,
            "restore_best": False,
        },
    )
    trainer.fit(_data(1024, 1), _data(512, 2))
    return trainer


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_close_to_float32_on_cpu(precision: str) -> None:
    full, mixed = _fit("fp32"), _fit(precision)
    auc_full, auc_mixed = full.history_["valid_auc"].iloc[-1], mixed.history_["valid_auc"].iloc[-1]
    assert auc_full > 0.8
    assert abs(auc_full - auc_mixed) < 0.05
    # weights stay float32 under autocast
    assert all(p.dtype == torch.float32 for p in mixed.model.parameters())


def test_device_auto_is_cpu_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert resolve_device("auto") == torch.device("cpu")


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@needs_cuda
def test_gpu_device_auto_picks_cuda_and_trains_with_pinned_batches() -> None:
    assert resolve_device("auto").type == "cuda"
    trainer = _fit("fp32", device="auto")
    assert trainer.device.type == "cuda" and trainer.history_["valid_auc"].iloc[-1] > 0.8
    moved = trainer._to_device({"x": torch.arange(4)})
    assert moved["x"].device.type == "cuda"


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_gpu_mixed_precision_trains_close_to_float32(precision: str) -> None:
    full, mixed = _fit("fp32", device="cuda"), _fit(precision, device="cuda")
    assert abs(full.history_["valid_auc"].iloc[-1] - mixed.history_["valid_auc"].iloc[-1]) < 0.05


@pytest.mark.gpu
@needs_cuda
def test_gpu_nccl_backend_resolves_with_cuda() -> None:
    assert distributed.resolve_backend("nccl") == "nccl"
    assert distributed.resolve_backend("auto") == "nccl"
