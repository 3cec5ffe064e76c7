"""Every registered model passes the contract suite of recutils.testing."""

from __future__ import annotations

import warnings

import pytest

from recutils.exceptions import DataWarning
from recutils.models import list_models
from recutils.testing import CHECKS, registry_factory


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("model", list_models())
def test_contract(model: str, check, tmp_path) -> None:
    with warnings.catch_warnings():
        # unknown-id warnings are asserted inside the checks that expect them
        warnings.simplefilter("ignore", DataWarning)
        check(registry_factory(model), tmp_path=tmp_path)
