"""Multi-task ranking models (PyTorch; ``pip install "recutils[torch]"``).

Shared bottom (``simple_multitask``), MMoE, PLE, DBMTL, ESMM and AITM as shipped configs of
one class, :class:`MultiTaskRankModel` (see :mod:`recutils.models.multitask.model`).
"""

from recutils.models.multitask.model import (
    AITM,
    CONFIG_DIR,
    DBMTL,
    ESMM,
    MULTITASK_CLASSES,
    MULTITASK_PRESETS,
    PLE,
    MMoE,
    MultiTaskConfig,
    MultiTaskRankModel,
    SimpleMultiTask,
    with_task_labels,
)

__all__ = [
    "AITM",
    "CONFIG_DIR",
    "DBMTL",
    "ESMM",
    "MULTITASK_CLASSES",
    "MULTITASK_PRESETS",
    "PLE",
    "MMoE",
    "MultiTaskConfig",
    "MultiTaskRankModel",
    "SimpleMultiTask",
    "with_task_labels",
]
