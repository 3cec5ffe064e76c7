"""Train/test splitters for pandas interaction logs.

Same names, arguments and per-group counts as Microsoft Recommenders'
``python_splitters`` (and :func:`numpy_stratified_split` for affinity matrices, from
:mod:`recutils.splitting.numpy_splitters`); see :mod:`recutils.splitting.python_splitters` for the
shared rules (rounding at the cut, tie-breaking, tiny groups, output order).
:mod:`recutils.splitting.sequences` holds the next-item tools (per-user sequences,
leave-one-out with a validation item, the global time split, padding).
Importing this package pulls in only numpy, pandas and scipy.
"""

from recutils.splitting.numpy_splitters import numpy_stratified_split
from recutils.splitting.python_splitters import (
    kfold_assignments,
    leave_last_k_out,
    python_chrono_split,
    python_kfold_split,
    python_random_split,
    python_stratified_split,
)
from recutils.splitting.sequences import (
    Sequences,
    build_sequences,
    pad_sequences,
    sequential_split,
    time_split,
)
from recutils.splitting.split_utils import (
    min_rating_filter_pandas,
    process_split_ratio,
    split_pandas_data_with_ratios,
)

__all__ = [
    "python_random_split",
    "python_chrono_split",
    "python_stratified_split",
    "numpy_stratified_split",
    "leave_last_k_out",
    "python_kfold_split",
    "kfold_assignments",
    "min_rating_filter_pandas",
    "split_pandas_data_with_ratios",
    "process_split_ratio",
    "Sequences",
    "build_sequences",
    "sequential_split",
    "time_split",
    "pad_sequences",
]
