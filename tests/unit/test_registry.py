"""The explicit, lazily imported model registry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recutils.exceptions import ConfigError
from recutils.models import create_model, get_model_class, list_models, register_model
from recutils.models.registry import unregister_model
from recutils.models.sar import SAR


def test_sar_registered_and_created() -> None:
    assert "sar" in list_models()
    assert get_model_class("sar") is SAR
    model = create_model("sar", similarity_type="lift", col_user="u")
    assert isinstance(model, SAR)
    assert model.config.similarity_type == "lift" and model.col_user == "u"


def test_unknown_name_lists_known() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'nope'.*'sar'"):
        create_model("nope")


def test_unknown_param_names_key_and_allowed() -> None:
    with pytest.raises(ConfigError, match=r"\['simmilarity'\].*allowed.*similarity_type"):
        create_model("sar", config={"simmilarity": "jaccard"})


def test_register_model_is_one_line_and_guards_names() -> None:
    register_model("sar_alias", "recutils.models.sar:SAR")
    try:
        assert get_model_class("sar_alias") is SAR and "sar_alias" in list_models()
        with pytest.raises(ConfigError, match="already registered"):
            register_model("sar_alias", "recutils.models.sar:SARConfig")
        with pytest.raises(ConfigError, match="module:Class"):
            register_model("bad", "no colon here")
    finally:
        unregister_model("sar_alias")
    assert "sar_alias" not in list_models()


def test_models_import_is_lazy_and_light() -> None:
    code = (
        "import sys, recutils, recutils.models\n"
        "assert 'recutils.models.sar' not in sys.modules, 'SAR imported eagerly'\n"
        "assert not {'torch', 'pyspark', 'tensorflow'} & set(sys.modules)\n"
        "recutils.models.create_model('sar')\n"
        "assert 'recutils.models.sar' in sys.modules\n"
        "assert not {'torch', 'pyspark', 'tensorflow'} & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
