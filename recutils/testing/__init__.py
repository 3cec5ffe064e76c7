"""Test helpers shipped with recutils: the model contract suite (:mod:`recutils.testing.contract`)."""

from recutils.testing.contract import CHECKS, registry_factory, run_contract, toy_interactions

__all__ = ["CHECKS", "registry_factory", "run_contract", "toy_interactions"]
