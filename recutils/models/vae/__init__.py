"""Multi-VAE and Multi-DAE in PyTorch (``pip install "recutils[torch]"``).

``from recutils.models.vae import MultiVAE, MultiDAE``; importing this package does not import
torch.
"""

from recutils.models.vae.model import MultiDAE, MultiDAEConfig, MultiVAE, MultiVAEConfig

__all__ = ["MultiDAE", "MultiDAEConfig", "MultiVAE", "MultiVAEConfig"]
