"""Multi-VAE, Multi-DAE and the Standard VAE in PyTorch (``pip install "recutils[torch]"``).

``from recutils.models.vae import MultiVAE, MultiDAE, StandardVAE``; importing this package does not import
torch.
"""

from recutils.models.vae.model import MultiDAE, MultiDAEConfig, MultiVAE, MultiVAEConfig
from recutils.models.vae.standard import StandardVAE, StandardVAEConfig

__all__ = [
    "MultiDAE",
    "MultiDAEConfig",
    "MultiVAE",
    "MultiVAEConfig",
    "StandardVAE",
    "StandardVAEConfig",
]
