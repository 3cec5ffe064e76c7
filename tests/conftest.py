"""Shared test configuration: tier markers from folders and the real-data mirror."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
TIERS = ("unit", "smoke", "integration", "notebooks")


#: Tests that pytest-xdist may send to any process one by one (each runs a whole notebook in
#: its own kernel and shares no fixture with its neighbours); every other test stays with the
#: rest of its file, so module fixtures (a Spark fit, a spawned process group) run once.
SPREAD_ONE_BY_ONE = ("notebooks/test_notebooks.py::test_notebook_runs",)


# tryfirst: the xdist_group marks must be in place before pytest-xdist's own hook reads them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the tier named by its folder under tests/ and its xdist group.

    Under ``--dist loadgroup`` (tools/test.sh) a group is the test's file, except for the
    tests in :data:`SPREAD_ONE_BY_ONE`, which have none and are balanced over the processes.
    """
    for item in items:
        try:
            rel = Path(str(item.fspath)).resolve().relative_to(TESTS_DIR)
        except ValueError:
            continue
        if rel.parts and rel.parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, rel.parts[0]))
        test_id = f"{rel.as_posix()}::{item.name.split('[')[0]}"
        if test_id not in SPREAD_ONE_BY_ONE and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(rel.as_posix()))


def data_required() -> bool:
    """True when the run must fail instead of skipping for lack of real data."""
    return os.environ.get("RECUTILS_REQUIRE_DATA", "") == "1"


def _mirror_dir() -> Path | None:
    env = os.environ.get("RECUTILS_DATA_MIRROR")
    if env:
        return Path(env).expanduser().resolve()
    default = REPO_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else None


@pytest.fixture(scope="session")
def _mirror_path() -> Path:
    """The local data mirror folder; skips (or fails when RECUTILS_REQUIRE_DATA=1) without one."""
    mirror = _mirror_dir()
    if mirror is None or not mirror.is_dir():
        reason = (
            "no real data: set RECUTILS_DATA_MIRROR to a folder of data sets "
            f"(looked for {mirror or REPO_ROOT.parent / 'shared' / 'data'})"
        )
        if data_required():
            pytest.fail(reason + " and RECUTILS_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    return mirror


@pytest.fixture(scope="session")
def data_mirror(_mirror_path: Path):
    """The local data mirror, exported as RECUTILS_DATA_MIRROR for the loaders.

    Session-scoped so that module- and session-scoped fixtures can load data; the
    variable is restored when the session ends. Unit tests that must see no mirror
    clear it themselves (``monkeypatch.delenv``).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECUTILS_DATA_MIRROR", str(_mirror_path))
        yield _mirror_path


def _require_in_mirror(data_mirror: Path, name: str) -> Path:
    """The data set folder ``name`` in the mirror; skip without it (fail when data is required)."""
    path = data_mirror / name
    if not path.exists() and not (data_mirror / f"{name}.zip").exists():
        reason = f"data set {name!r} not found in mirror {data_mirror}"
        if data_required():
            pytest.fail(reason + " and RECUTILS_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture
def require_dataset(data_mirror: Path):
    """Return a function that checks a data set folder exists in the mirror."""

    def _require(name: str) -> Path:
        return _require_in_mirror(data_mirror, name)

    return _require


@pytest.fixture(scope="session")
def ml100k(data_mirror: Path):
    """MovieLens 100k ratings (pandas, shared by the session: never mutate it)."""
    from recutils.datasets import movielens

    _require_in_mirror(data_mirror, "ml-100k")
    return movielens.load_pandas_df("100k", progress=False)


@pytest.fixture(scope="session")
def ml100k_protocol(ml100k):
    """Microsoft Recommenders' benchmark split of MovieLens 100k: stratified by item, 75/25,
    seed 42, ``min_rating=1`` (shared by the session: never mutate the frames)."""
    from recutils.splitting import python_stratified_split

    train, test = python_stratified_split(
        ml100k, ratio=0.75, min_rating=1, filter_by="item", seed=42
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def extras_required() -> bool:
    """True when a test skipped for a missing optional library must fail instead."""
    return os.environ.get("RECUTILS_REQUIRE_EXTRAS", "") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under RECUTILS_REQUIRE_EXTRAS=1 (CI), a skip for a missing import is a failure.

    ``pytest.importorskip`` keeps the suite usable on a partial install; in CI every
    extra is installed, so such a skip would only hide a broken install.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and extras_required() and call.excinfo is not None:
        message = str(getattr(call.excinfo.value, "msg", call.excinfo.value))
        if message.startswith("could not import"):
            report.outcome = "failed"
            report.longrepr = f"RECUTILS_REQUIRE_EXTRAS=1 but {message}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """The same rule for a whole module skipped by a module-level ``importorskip``."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and extras_required():
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if "could not import" in reason:
            report.outcome = "failed"
            report.longrepr = f"RECUTILS_REQUIRE_EXTRAS=1 but {reason}"
