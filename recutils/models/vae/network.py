"""The Multi-VAE / Multi-DAE network (imports torch)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.dropout import dropout as dropout_module


class MultiVAENetwork(nn.Module):
    """Encoder ``[n_items, *hidden_dims, latent_dim]`` and mirrored decoder, ``tanh`` inside.

    ``forward(x)`` returns ``(logits [B, n_items], kl)``: with ``variational`` the
    encoder's last layer gives ``mu`` and ``log sigma^2`` (``2 * latent_dim`` outputs),
    ``z`` is sampled with the reparameterisation trick while training (``mu`` in eval
    mode) and ``kl`` is the batch mean of ``KL(N(mu, sigma^2) || N(0, I))``; otherwise
    ``z`` is the encoder output and ``kl`` is ``None``. The input row is L2-normalized
    (unless ``normalize`` is False: the Standard VAE reads the raw binary row), then
    dropped out (training only); with ``decoder_dropout`` the decoder's hidden layers are
    dropped out too (training only). Weights start Glorot-uniform, biases ``N(0, 0.001^2)``.
    """

    def __init__(
        self,
        n_items: int,
        hidden_dims: Sequence[int],
        latent_dim: int,
        dropout: float = 0.5,
        variational: bool = True,
        *,
        normalize: bool = True,
        decoder_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.variational = bool(variational)
        self.normalize = bool(normalize)
        self.latent_dim = int(latent_dim)
        enc_dims = [int(n_items), *[int(h) for h in hidden_dims]]
        dec_dims = [int(latent_dim), *[int(h) for h in reversed(list(hidden_dims))], int(n_items)]
        last = 2 * latent_dim if self.variational else latent_dim
        self.encoder = nn.ModuleList(
            [nn.Linear(a, b) for a, b in zip(enc_dims, enc_dims[1:] + [last])]
        )
        self.decoder = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dec_dims[:-1], dec_dims[1:])])
        # the project's cheaper CPU mask where it draws torch's distribution (0.5, the default)
        self.drop = dropout_module(dropout)
        self.decoder_drop = dropout_module(decoder_dropout) if decoder_dropout > 0 else None
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def encode(
        self, x: torch.Tensor, dropout: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(mu, logvar)`` (``logvar`` ``None`` for the DAE) of rows ``x`` ``[B, n_items]``.

        ``dropout=False`` skips the input dropout even in training mode.
        """
        h = nn.functional.normalize(x, dim=1) if self.normalize else x
        if dropout:
            h = self.drop(h)
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i < len(self.encoder) - 1:
                h = torch.tanh(h)
        if not self.variational:
            return h, None
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def decode(self, z: torch.Tensor, dropout: bool = True) -> torch.Tensor:
        """Logits ``[B, n_items]`` of codes ``z`` ``[B, latent_dim]``.

        ``dropout=False`` skips the decoder dropout even in training mode.
        """
        h = z
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i < len(self.decoder) - 1:
                h = torch.tanh(h)
                if dropout and self.decoder_drop is not None:
                    h = self.decoder_drop(h)
        return h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits, kl)`` for rows ``x``."""
        mu, logvar = self.encode(x)
        if logvar is None:
            return self.decode(mu), None
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        return self.decode(z), kl

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the code's mean, no dropout (ranking; does not change the module's mode)."""
        return self.decode(self.encode(x, dropout=False)[0], dropout=False)


__all__ = ["MultiVAENetwork"]
