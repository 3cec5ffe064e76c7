"""Every registered model passes the contract suite of recutils.testing."""

from __future__ import annotations

import warnings

import pytest

from recutils.exceptions import DataWarning
from recutils.models import get_model_class, list_models
from recutils.testing import CHECKS, registry_factory

# Models that need Spark run the same suite in tests/integration/test_spark_als.py, on the
# shared session, rather than starting Spark in the unit tier.
LOCAL_MODELS = [m for m in list_models() if not getattr(get_model_class(m), "needs_spark", False)]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("model", LOCAL_MODELS)
def test_contract(model: str, check, tmp_path) -> None:
    # a wrapper of an optional library declares it in `requires`: skip, never fail, without it
    for module in getattr(get_model_class(model), "requires", ()):
        pytest.importorskip(module)
    with warnings.catch_warnings():
        # unknown-id warnings are asserted inside the checks that expect them
        warnings.simplefilter("ignore", DataWarning)
        check(registry_factory(model), tmp_path=tmp_path)
