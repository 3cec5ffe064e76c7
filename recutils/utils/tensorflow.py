"""Import TensorFlow lazily, with the Keras 2 switch TensorFlow Recommenders needs.

TensorFlow Recommenders (TFRS) is written against Keras 2 (``tf_keras``): TensorFlow
reads ``TF_USE_LEGACY_KERAS=1`` once, when ``tf.keras`` is first used (TensorFlow 2.16+
resolves it lazily), and only then ``tf.keras`` is Keras 2. :func:`import_tensorflow` is the one place in recutils that
imports TensorFlow: it sets that switch (and quiets TensorFlow's C++ log) before the
first import, sets the thread pools, and raises a clear error when TensorFlow was
already imported with Keras 3. Nothing here runs at ``import recutils``.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from recutils.exceptions import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

#: recutils extra that installs TensorFlow, tf-keras and TensorFlow Recommenders.
EXTRA = "tensorflow"
#: The environment switch that makes ``tf.keras`` Keras 2.
LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"

_threads_set: list[int | None] = []


def prefer_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1`` unless the environment sets it (no import of TensorFlow).

    Called when :mod:`recutils.models.tfrs` is imported, so that TensorFlow imported
    afterwards, by recutils or by the caller, resolves ``tf.keras`` to Keras 2; a value the
    user set is kept (``0`` then makes :func:`import_tensorflow` raise).
    """
    os.environ.setdefault(LEGACY_KERAS_ENV, "1")


def _is_keras2(tf: ModuleType) -> bool:
    """Whether ``tf.keras`` is Keras 2 (the ``tf_keras`` package)."""
    return str(getattr(tf.keras, "__name__", "")).startswith("tf_keras")


def import_tensorflow(num_threads: int | None = None) -> ModuleType:
    """The ``tensorflow`` module, with Keras 2 as ``tf.keras`` and quiet logging.

    Args:
        num_threads: Intra- and inter-op threads of TensorFlow's CPU pools (``None`` or
            ``0``: TensorFlow's default). They can be set only before TensorFlow runs its
            first operation: a later, different request is logged and ignored.

    Returns:
        The imported ``tensorflow`` module.

    Raises:
        MissingDependencyError: TensorFlow or ``tf_keras`` is not installed (names the
            ``tensorflow`` extra).
        ConfigError: ``tf.keras`` was already resolved to Keras 3 (used before
            ``TF_USE_LEGACY_KERAS=1`` was set, or the variable is set to another value):
            TFRS needs Keras 2.
    """
    already = "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None
    prefer_legacy_keras()
    if not already:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as err:
        raise MissingDependencyError("tensorflow", EXTRA, detail=str(err)) from err
    try:
        import tf_keras  # noqa: F401 - Keras 2, the package TF_USE_LEGACY_KERAS selects
    except ImportError as err:
        raise MissingDependencyError("tf-keras", EXTRA, detail=str(err)) from err
    if not _is_keras2(tf):
        raise ConfigError(
            "tf.keras is Keras 3 in this process (it was used before recutils set "
            f"{LEGACY_KERAS_ENV}=1, or the environment sets {LEGACY_KERAS_ENV}="
            f"{os.environ.get(LEGACY_KERAS_ENV)!r}); TensorFlow Recommenders needs Keras 2: set "
            f"{LEGACY_KERAS_ENV}=1 before TensorFlow is first imported."
        )
    if not already:
        tf.get_logger().setLevel(logging.ERROR)
    _set_threads(tf, num_threads)
    return tf


def import_tfrs(num_threads: int | None = None) -> tuple[ModuleType, ModuleType]:
    """``(tensorflow, tensorflow_recommenders)``, TensorFlow imported by :func:`import_tensorflow`.

    Raises:
        MissingDependencyError: TensorFlow Recommenders is not installed.
    """
    tf = import_tensorflow(num_threads)
    try:
        import tensorflow_recommenders as tfrs
    except ImportError as err:
        raise MissingDependencyError("tensorflow-recommenders", EXTRA, detail=str(err)) from err
    return tf, tfrs


def _set_threads(tf: ModuleType, num_threads: int | None) -> None:
    wanted = int(num_threads) if num_threads else None
    if _threads_set:
        if wanted != _threads_set[0] and wanted is not None:
            logger.info(
                "TensorFlow's thread pools are already set (%s); num_threads=%s ignored",
                _threads_set[0],
                wanted,
            )
        return
    if wanted is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(wanted)
            tf.config.threading.set_inter_op_parallelism_threads(wanted)
        except RuntimeError:  # TensorFlow already ran an operation in this process
            logger.info("TensorFlow is already initialised; num_threads=%s ignored", wanted)
    _threads_set.append(wanted)


@contextmanager
def seeded(tf: ModuleType, seed: int | None) -> Iterator[None]:
    """Seed TensorFlow (``tf.keras.utils.set_random_seed``) for the block, leaving the
    global ``random`` and ``numpy`` generators as they were (that call seeds them too)."""
    if seed is None:
        yield
        return
    py_state, np_state = random.getstate(), np.random.get_state()
    tf.keras.utils.set_random_seed(int(seed))
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


__all__ = [
    "EXTRA",
    "LEGACY_KERAS_ENV",
    "import_tensorflow",
    "import_tfrs",
    "prefer_legacy_keras",
    "seeded",
]
