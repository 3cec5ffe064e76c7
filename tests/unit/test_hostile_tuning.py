"""Tuning storage under hostile input: bad URLs, missing folders and drivers, garbage
database files, studies that do not exist.

Every failure must surface as a recutils error naming the storage (its password hidden):
``ConfigError`` for a URL or path that cannot work, ``CorruptStorageError`` (a
``DataError``) for a file that is not a database, ``StudyNotFoundError`` listing the
studies a storage holds; and reading a result never creates a file.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

optuna = pytest.importorskip("optuna")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.exceptions import ConfigError, DataError, RecUtilsError  # noqa: E402
from recutils.splitting import python_random_split  # noqa: E402
from recutils.tuning import load_result, make_storage, tune  # noqa: E402
from recutils.tuning.backend import (  # noqa: E402
    CorruptStorageError,
    StorageError,
    StudyNotFoundError,
    storage_label,
)

SPACE = {"reg_user": {"type": "float", "low": 0.1, "high": 10.0, "log": True}, "n_iter": 2}


@pytest.fixture(autouse=True)
def _quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


@pytest.fixture(scope="module")
def data():
    ratings = make_interactions(n_users=30, n_items=20, n_interactions=300, seed=5).ratings
    return python_random_split(ratings, ratio=0.75, seed=1)


def garbage_file(path):
    path.write_bytes(os.urandom(4096))
    return path


# ------------------------------------------------------------------- bad URLs
def test_sqlite_file_in_missing_folder_is_config_error_not_operational_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    with pytest.raises(ConfigError, match="does not exist; create it first") as info:
        make_storage(url)
    assert str(tmp_path / "no" / "such" / "dir") in str(info.value)
    assert not (tmp_path / "no").exists()


def test_sqlite_url_naming_a_folder_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        make_storage(f"sqlite:///{tmp_path}")


def test_unknown_dialect_is_config_error_not_no_such_module_error():
    with pytest.raises(ConfigError, match="no database dialect or driver 'foo'"):
        make_storage("foo://somewhere/db")


def test_unknown_driver_is_config_error_with_password_hidden():
    with pytest.raises(ConfigError, match="postgresql\\+nosuchdriver") as info:
        make_storage("postgresql+nosuchdriver://user:s3cret@localhost/db")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def test_known_driver_not_installed_is_config_error():
    if importlib.util.find_spec("psycopg") is not None:
        pytest.skip("psycopg is installed: this checks the error when it is not")
    with pytest.raises(ConfigError, match="driver is not installed") as info:
        make_storage("postgresql+psycopg://user:s3cret@localhost/db")
    assert "s3cret" not in str(info.value)


def test_unparsable_url_is_config_error():
    with pytest.raises(ConfigError, match="not a database URL"):
        make_storage("::://")


@pytest.mark.parametrize("storage", ["tune.db", 3, ["sqlite:///x.db"]])
def test_storage_that_is_no_url_is_config_error(storage):
    with pytest.raises(ConfigError, match="storage must be None, a database URL"):
        make_storage(storage)


def test_bad_heartbeat_interval_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="heartbeat_interval"):
        make_storage(f"sqlite:///{tmp_path / 'x.db'}", heartbeat_interval=0)


# ------------------------------------------------------------------- bad files
def test_garbage_database_file_is_corrupt_storage_error(tmp_path):
    path = garbage_file(tmp_path / "x.db")
    with pytest.raises(CorruptStorageError, match="not an Optuna study database") as info:
        make_storage(f"sqlite:///{path}")
    assert isinstance(info.value, DataError) and isinstance(info.value, StorageError)
    assert isinstance(info.value, RecUtilsError)


def test_load_result_of_garbage_file_is_corrupt_storage_error(tmp_path):
    path = garbage_file(tmp_path / "x.db")
    with pytest.raises(CorruptStorageError):
        load_result(f"sqlite:///{path}", "s")


def test_tune_into_garbage_file_is_corrupt_storage_error(data, tmp_path):
    train, valid = data
    path = garbage_file(tmp_path / "x.db")
    with pytest.raises(CorruptStorageError):
        tune(
            "bias",
            SPACE,
            train,
            valid,
            metric="rmse",
            n_trials=1,
            storage=f"sqlite:///{path}",
            study_name="s",
            progress=False,
        )


def test_tune_into_missing_folder_is_config_error(data, tmp_path):
    train, valid = data
    with pytest.raises(ConfigError, match="does not exist"):
        tune(
            "bias",
            SPACE,
            train,
            valid,
            metric="rmse",
            n_trials=1,
            storage=f"sqlite:///{tmp_path / 'nope' / 'x.db'}",
            study_name="s",
            progress=False,
        )


# ------------------------------------------------------------------- load_result
def test_load_result_never_creates_a_database_at_a_mistyped_path(tmp_path):
    path = tmp_path / "tnue.db"
    with pytest.raises(ConfigError, match="no database file"):
        load_result(f"sqlite:///{path}", "s")
    assert list(tmp_path.iterdir()) == []


def test_load_result_of_missing_study_lists_known_studies(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    for name in ("beta", "alpha"):
        optuna.create_study(storage=url, study_name=name)
    with pytest.raises(
        StudyNotFoundError, match=r"no study 'gamma'.*known studies: \['alpha', 'beta'\]"
    ) as info:
        load_result(url, "gamma")
    # a ConfigError, and a KeyError as Optuna's own error was (with an unquoted message)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, KeyError)
    assert str(info.value).startswith("no study")


def test_load_result_of_empty_database_lists_no_studies(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StudyNotFoundError, match=r"known studies: \[\]"):
        load_result(f"sqlite:///{path}", "s")


def test_load_result_without_storage_is_config_error():
    with pytest.raises(ConfigError, match="reads a study from a database"):
        load_result(None, "s")
    with pytest.raises(ConfigError, match="reads a study from a database"):
        load_result(optuna.storages.InMemoryStorage(), "s")


@pytest.mark.parametrize("name", [None, "", 3])
def test_load_result_with_bad_study_name_is_config_error(tmp_path, name):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(storage=url, study_name="s")
    with pytest.raises(ConfigError, match="study_name must be a non-empty string"):
        load_result(url, name)


def test_load_result_of_a_study_not_made_by_recutils_is_config_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(storage=url, study_name="foreign")
    with pytest.raises(ConfigError, match="holds no recutils tuning spec"):
        load_result(url, "foreign")


# ------------------------------------------------------------------- good input as before
def test_good_sqlite_study_round_trips_through_load_result(data, tmp_path):
    train, valid = data
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    result = tune(
        "bias",
        SPACE,
        train,
        valid,
        metric="rmse",
        n_trials=2,
        storage=url,
        study_name="s",
        seed=3,
        progress=False,
    )
    loaded = load_result(url, "s")
    assert loaded.model == "bias" and loaded.best_value == pytest.approx(result.best_value)
    assert loaded.best_params == result.best_params
    # a storage object is accepted as before
    assert (
        load_result(make_storage(url, heartbeat_interval=None), "s").best_value == loaded.best_value
    )


def test_in_memory_urls_and_storage_objects_pass_through():
    assert make_storage(None) is None
    store = optuna.storages.InMemoryStorage()
    assert make_storage(store) is store
    assert isinstance(make_storage("sqlite:///:memory:"), optuna.storages.RDBStorage)
    assert isinstance(make_storage("sqlite://"), optuna.storages.RDBStorage)


def test_storage_label_hides_the_password():
    assert (
        storage_label("postgresql+psycopg2://u:pw@host/db") == "postgresql+psycopg2://u:***@host/db"
    )
    assert storage_label("sqlite:///tune.db") == "sqlite:///tune.db"
    assert storage_label(optuna.storages.InMemoryStorage()) == "InMemoryStorage"


def test_database_failures_become_storage_errors_naming_the_storage():
    """A server that refuses the connection (OperationalError) or another SQLAlchemy
    failure surfaces as StorageError, not as SQLAlchemy's exception."""
    import sqlalchemy.exc

    from recutils.tuning.backend import _storage_errors

    shown = "postgresql://u:***@db.example/tune"
    with pytest.raises(
        StorageError, match=r"'postgresql://u:\*\*\*@db.example/tune' cannot be opened: refused"
    ):
        with _storage_errors(shown):
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("refused"))
    with pytest.raises(StorageError, match="cannot be used"):
        with _storage_errors(shown):
            raise sqlalchemy.exc.InvalidRequestError("bad request")


def test_tune_worker_register_needs_name_module_and_class():
    from recutils.cli.tune_worker import _register
    from recutils.exceptions import ConfigError
    from recutils.models.registry import get_model_class, unregister_model

    for bad in ("slow_bias", "slow_bias=slow_model", "=a:B"):
        with pytest.raises(ConfigError, match="NAME=MODULE:CLASS"):
            _register([bad])
    _register(["my_bias = recutils.models.baselines:BiasBaseline"])
    try:
        assert get_model_class("my_bias").__name__ == "BiasBaseline"
    finally:
        unregister_model("my_bias")
