"""Run settings shared by every PyTorch model: seed, device, CPU threads, model folder.

:class:`RunConfig` is a dataclass base that the torch models' configs inherit
(:class:`~recutils.models.ncf.NCFConfig`, :class:`~recutils.models.lightgcn.LightGCNConfig`,
:class:`~recutils.models.vae.MultiVAEConfig` / :class:`~recutils.models.vae.MultiDAEConfig`
and :class:`~recutils.models.deep.DeepRankConfig`). The four settings stay flat keys
of each model's config, so ``create_model("ncf", seed=3, device="cpu", num_threads=1,
model_dir="ckpt")`` and YAML / dict configs with those keys work unchanged and
round-trip ``to_dict()`` / ``from_dict()``; their checks live here once
(:meth:`RunConfig.check_run`). A model may declare its own defaults by redeclaring a
field (the CF models default to ``num_threads=1``; the CTR model keeps torch's
default).

This module imports no torch: configs are validated without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from recutils.config import BaseConfig
from recutils.constants import SEED
from recutils.exceptions import ConfigError
from recutils.utils.validation import check_seed, is_int

#: Devices accepted by the ``device`` setting.
DEVICE_HELP = "'auto', 'cpu' or 'cuda[:i]'"


def check_device(value: Any) -> None:
    """:class:`ConfigError` unless ``value`` is ``auto``, ``cpu`` or ``cuda[:i]``."""
    if not (isinstance(value, str) and (value in ("auto", "cpu") or value.startswith("cuda"))):
        raise ConfigError(f"device must be {DEVICE_HELP}, got {value!r}.")


def check_threads(value: Any) -> None:
    """:class:`ConfigError` unless ``value`` is ``None`` or an int >= 1."""
    if value is not None and (not is_int(value) or value < 1):
        raise ConfigError(f"num_threads must be None or an integer >= 1, got {value!r}.")


def check_model_dir(value: Any) -> None:
    """:class:`ConfigError` unless ``value`` is ``None`` or a non-empty path string."""
    if value is not None and not (isinstance(value, str) and value):
        raise ConfigError(f"model_dir must be None or a folder path (string), got {value!r}.")


def resolve_seed(seed: int | None) -> int:
    """``seed``, or a fresh one drawn from the OS when it is ``None``."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return int(seed)


@dataclass
class RunConfig(BaseConfig):
    """How a torch model runs (not what it learns).

    Attributes:
        seed: Seed of the weights and of everything random in training (``None``: a
            fresh one per fit).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:i]``; ``None`` only
            where a model documents it (the CTR model: ``train.device`` decides).
        num_threads: torch CPU threads while fitting, restored afterwards (``None``:
            torch's setting).
        model_dir: Folder for training checkpoints; a fit resumes from the newest one
            there (``None``: no checkpoints).

    Subclasses call :meth:`check_run` in ``__post_init__``.
    """

    #: Whether ``device=None`` is allowed (it then defers to another setting).
    device_optional: ClassVar[bool] = False

    seed: int | None = SEED
    device: str | None = "auto"
    num_threads: int | None = None
    model_dir: str | None = None

    def __post_init__(self) -> None:
        self.check_run()

    def check_run(self) -> None:
        """:class:`ConfigError` naming the first bad run setting."""
        check_seed(self.seed)
        if not (self.device is None and self.device_optional):
            check_device(self.device)
        check_threads(self.num_threads)
        check_model_dir(self.model_dir)

    def run_settings(self) -> RunConfig:
        """The four run settings alone, as a :class:`RunConfig`."""
        return RunConfig(
            seed=self.seed,
            device=self.device or "auto",
            num_threads=self.num_threads,
            model_dir=self.model_dir,
        )

    @classmethod
    def run_field_names(cls) -> list[str]:
        """Names of the run settings (the fields of :class:`RunConfig`)."""
        return RunConfig.field_names()


__all__ = [
    "DEVICE_HELP",
    "RunConfig",
    "check_device",
    "check_model_dir",
    "check_seed",
    "check_threads",
    "resolve_seed",
]
