"""MovieLens as click-through data: :func:`movielens_ctr_frame`, which lives in
:mod:`recutils.datasets.movielens_features` and is still importable from here."""

from recutils.datasets.movielens_features import movielens_ctr_frame

__all__ = ["movielens_ctr_frame"]
