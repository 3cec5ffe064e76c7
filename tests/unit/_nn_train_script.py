"""Subprocess body of the resume-after-kill test: train a toy network with checkpoints.

Usage: python _nn_train_script.py MODEL_DIR OUT_NPZ SLEEP_PER_STEP
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _nn_helpers import toy_encoded, toy_model, toy_specs  # noqa: E402

from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.trainer import Trainer  # noqa: E402


def main() -> None:
    model_dir, out, sleep = sys.argv[1], sys.argv[2], float(sys.argv[3])
    torch.set_num_threads(1)
    net = build_rank_network(toy_model(dropout=0.3), toy_specs(), seed=5)
    enc, y = toy_encoded(800, seed=1)
    full = TensorData.from_encoded(enc, net.backbone.layout, y)
    train, valid = full.subset(np.arange(640)), full.subset(np.arange(640, 800))
    trainer = Trainer(
        net,
        {
            "batch_size": 32,
            "epochs": 4,
            "checkpoint_every_steps": 5,
            "progress": False,
            "eval_every_steps": 10,
            "patience": 100,
            "num_threads": 1,
            "lr_schedule": "exponential",
            "ema_decay": 0.9,
            "lr_decay_steps": 20,
            "optimizers": [
                {"name": "adagrad", "lr": 0.05, "params": "embedding"},
                {"name": "adam", "lr": 0.01, "params": "dense"},
            ],
        },
        seed=11,
        model_dir=model_dir,
        callbacks=[lambda step, tr: time.sleep(sleep)] if sleep else None,
    )
    history = trainer.fit(train, valid)
    np.savez(
        out,
        steps=history["step"].to_numpy(),
        **{k.replace(".", "_"): v.detach().numpy() for k, v in net.state_dict().items()},
    )


if __name__ == "__main__":
    main()
