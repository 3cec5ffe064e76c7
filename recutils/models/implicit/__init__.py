"""implicit's ALS and BPR behind the recutils contract.

``from recutils.models.implicit import ImplicitALS, ImplicitBPR``. Importing this
package does not import implicit; fitting needs the ``implicit`` extra, scoring a
fitted or loaded model does not.
"""

from recutils.models.implicit.als import CONFIDENCES, ImplicitALS, ImplicitALSConfig
from recutils.models.implicit.bpr import ImplicitBPR, ImplicitBPRConfig

__all__ = ["CONFIDENCES", "ImplicitALS", "ImplicitALSConfig", "ImplicitBPR", "ImplicitBPRConfig"]
