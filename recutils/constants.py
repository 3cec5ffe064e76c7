"""Default column names and shared constants.

Every public function takes ``col_user``, ``col_item``, ``col_rating``,
``col_timestamp`` and ``col_prediction`` keyword arguments whose defaults come
from here, so data frames move between modules without renaming.
"""

DEFAULT_USER_COL = "userID"
DEFAULT_ITEM_COL = "itemID"
DEFAULT_RATING_COL = "rating"
DEFAULT_LABEL_COL = "label"
DEFAULT_TIMESTAMP_COL = "timestamp"
DEFAULT_PREDICTION_COL = "prediction"
DEFAULT_RANK_COL = "rank"
DEFAULT_TITLE_COL = "title"
DEFAULT_GENRE_COL = "genres"
DEFAULT_YEAR_COL = "year"

DEFAULT_K = 10
DEFAULT_THRESHOLD = 10
SEED = 42

__all__ = [
    "DEFAULT_USER_COL",
    "DEFAULT_ITEM_COL",
    "DEFAULT_RATING_COL",
    "DEFAULT_LABEL_COL",
    "DEFAULT_TIMESTAMP_COL",
    "DEFAULT_PREDICTION_COL",
    "DEFAULT_RANK_COL",
    "DEFAULT_TITLE_COL",
    "DEFAULT_GENRE_COL",
    "DEFAULT_YEAR_COL",
    "DEFAULT_K",
    "DEFAULT_THRESHOLD",
    "SEED",
]
