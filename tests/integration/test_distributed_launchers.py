"""``recutils train`` under ``torchrun --nproc-per-node 2`` (gloo on CPU): rank 0 alone prints
and writes files, and the result matches one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from recutils.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _rows(tmp_path: Path) -> Path:
    from recutils.datasets.synthetic import make_interactions

    df = make_interactions(120, 60, 3000, seed=1).ratings
    df["label"] = (df["rating"] >= 4).astype(float)
    path = tmp_path / "rows.csv"
    df.to_csv(path, index=False)
    return path


def test_train_command_under_torchrun_matches_one_process(tmp_path, capsys) -> None:
    data = _rows(tmp_path)
    config = tmp_path / "model.yaml"
    config.write_text(
        "default_embedding_dim: 4\nnum_threads: 1\n"
        "train: {batch_size: 128, epochs: 2, patience: 5, device: cpu, num_threads: 1}\n"
    )
    args = ["train", "--config", str(config), "--data", str(data), "--no-progress"]
    assert main([*args, "--metrics-out", str(tmp_path / "one.json")]) == 0
    capsys.readouterr()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "recutils",
        *args,
        "--backend",
        "gloo",
        "--metrics-out",
        str(tmp_path / "two.json"),
        "--save",
        str(tmp_path / "model"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("Evaluation (") == 1  # rank 0 alone prints
    assert "data-parallel on 2 processes (global batch 128)" in done.stdout
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert abs(one["auc"] - two["auc"]) < 0.002
    assert len(two["history"]) == 2 and two["samples_per_second"] > 0
    assert (tmp_path / "model" / "manifest.json").is_file()
