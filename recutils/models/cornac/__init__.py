"""cornac models behind the recutils contract: BPR and BiVAE.

``from recutils.models.cornac import CornacBPR, CornacBiVAE``. Importing this
package does not import cornac or torch; fitting needs the ``cornac`` extra (and
``torch`` for BiVAE), scoring a fitted or loaded model needs neither.
"""

from recutils.models.cornac.bivae import ACTIVATIONS, LIKELIHOODS, CornacBiVAE, CornacBiVAEConfig
from recutils.models.cornac.bpr import CornacBPR, CornacBPRConfig

__all__ = [
    "ACTIVATIONS",
    "LIKELIHOODS",
    "CornacBPR",
    "CornacBPRConfig",
    "CornacBiVAE",
    "CornacBiVAEConfig",
]
