"""Restricted Boltzmann machine for collaborative filtering (:class:`RBM`, PyTorch)."""

from recutils.models.rbm.model import RBM, RBMConfig

__all__ = ["RBM", "RBMConfig"]
