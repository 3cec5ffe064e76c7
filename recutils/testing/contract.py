"""The contract test suite every recutils model passes (CONVENTIONS section 2).

Each check is a plain function taking a *factory* (``factory(**params) -> model``,
unfitted) and raising ``AssertionError`` on a violation, so it runs under pytest
or anywhere else. :data:`CHECKS` lists them; :func:`run_contract` runs them all.

Typical use, for every registered model::

    import pytest
    from recutils.models import list_models
    from recutils.testing import CHECKS, registry_factory

    @pytest.mark.parametrize("model", list_models())
    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_contract(model, check, tmp_path):
        check(registry_factory(model), tmp_path=tmp_path)

A model declares its small parameters and known answer with
:meth:`~recutils.models.base.BaseRecommender.contract_case`.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataWarning, NotFittedError
from recutils.protocols import Recommender

Factory = Callable[..., Any]


def toy_interactions(
    n_users: int = 30,
    n_items: int = 20,
    n_rows: int = 240,
    seed: int = 0,
    col_user: str = "userID",
    col_item: str = "itemID",
    col_rating: str = "rating",
    col_timestamp: str = "timestamp",
    string_ids: bool = False,
) -> pd.DataFrame:
    """A small seeded interactions frame, one row per (user, item), every user with >= 2 items."""
    rng = np.random.default_rng(seed)
    users = np.concatenate([np.repeat(np.arange(n_users), 2), rng.integers(0, n_users, n_rows)])
    items = np.concatenate(
        [
            rng.permutation(np.tile(np.arange(n_items), 2 * n_users // n_items + 1))[: 2 * n_users],
            np.minimum(rng.zipf(1.5, n_rows) - 1, n_items - 1),
        ]
    )
    df = pd.DataFrame({col_user: users, col_item: items})
    df = df.drop_duplicates([col_user, col_item]).reset_index(drop=True)
    df[col_rating] = rng.integers(1, 6, len(df)).astype(np.float64)
    df[col_timestamp] = rng.integers(0, 10**7, len(df)).astype(np.int64)
    if string_ids:
        df[col_user] = "u" + df[col_user].astype(str)
        df[col_item] = "i" + df[col_item].astype(str)
    return df


def registry_factory(name: str) -> Factory:
    """A factory for the registered model ``name`` with its contract parameters."""
    from recutils.models.registry import get_model_class

    cls = get_model_class(name)
    base = dict(cls.contract_case().params)

    def factory(**params: Any) -> Any:
        return cls(**{**base, **params})

    factory.model_class = cls  # type: ignore[attr-defined]
    return factory


def _case(factory: Factory):
    cls = getattr(factory, "model_class", None) or type(factory())
    return cls.contract_case()


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn()


def check_protocol_and_lifecycle(factory: Factory, **_: Any) -> None:
    """Implements :class:`Recommender`; ``fit`` returns ``self``."""
    model = factory()
    assert isinstance(model, Recommender), f"{type(model).__name__} is not a Recommender"
    df = toy_interactions()
    assert model.fit(df) is model, "fit must return self"


def check_not_fitted(factory: Factory, **_: Any) -> None:
    """predict / recommend_k_items / fitted attributes raise NotFittedError before fit."""
    model = factory()
    df = toy_interactions()
    for call in (lambda: model.predict(df), lambda: model.recommend_k_items(df)):
        try:
            call()
        except NotFittedError:
            pass
        else:
            raise AssertionError("using an unfitted model must raise NotFittedError")
    try:
        _ = model.user_ids_
    except NotFittedError:
        pass
    else:
        raise AssertionError("fitted attributes must raise NotFittedError before fit")


def check_output_columns_and_dtypes(factory: Factory, **_: Any) -> None:
    """Column names, order and dtypes of predict and recommend_k_items."""
    df = toy_interactions()
    model = factory().fit(df)
    pred = model.predict(df.iloc[:25])
    assert list(pred.columns) == [model.col_user, model.col_item, model.col_prediction]
    assert len(pred) == 25
    assert pred[model.col_prediction].dtype == np.float64
    assert (pred[model.col_user].to_numpy() == df[model.col_user].to_numpy()[:25]).all()
    assert (pred[model.col_item].to_numpy() == df[model.col_item].to_numpy()[:25]).all()
    rec = model.recommend_k_items(df, top_k=5)
    assert list(rec.columns) == [
        model.col_user,
        model.col_item,
        model.col_prediction,
        model.col_rank,
    ]
    assert rec[model.col_prediction].dtype == np.float64
    assert rec[model.col_rank].dtype == np.int64
    assert rec[model.col_user].dtype == df[model.col_user].dtype
    assert rec[model.col_item].dtype == df[model.col_item].dtype
    assert np.isfinite(rec[model.col_prediction]).all()
    # a sequence of ids works like a frame
    users = list(pd.unique(df[model.col_user]))[:4]
    pd.testing.assert_frame_equal(
        model.recommend_k_items(users, top_k=5),
        rec[rec[model.col_user].isin(users)].reset_index(drop=True),
    )


def check_top_k_and_order(factory: Factory, **_: Any) -> None:
    """At most top_k rows per user, ranks 1..n, scores non-increasing; top_k <= 0 fails."""
    df = toy_interactions()
    model = factory().fit(df)
    for k in (1, 3, 7):
        rec = model.recommend_k_items(df, top_k=k, remove_seen=False)
        sizes = rec.groupby(model.col_user, sort=False).size()
        assert sizes.max() <= k
        for _, g in rec.groupby(model.col_user, sort=False):
            assert g[model.col_rank].tolist() == list(range(1, len(g) + 1))
            assert (np.diff(g[model.col_prediction].to_numpy()) <= 0).all()
        # users appear in request order, once each
        order = pd.unique(rec[model.col_user])
        expected = [u for u in pd.unique(df[model.col_user]) if u in set(order)]
        assert list(order) == expected
    for bad in (0, -1):
        try:
            model.recommend_k_items(df, top_k=bad)
        except ConfigError:
            continue
        raise AssertionError(f"top_k={bad} must raise ConfigError")


def check_remove_seen(factory: Factory, **_: Any) -> None:
    """No training item is recommended with remove_seen=True."""
    df = toy_interactions()
    model = factory().fit(df)
    rec = model.recommend_k_items(df, top_k=10, remove_seen=True)
    seen = set(zip(df[model.col_user], df[model.col_item]))
    hits = [p for p in zip(rec[model.col_user], rec[model.col_item]) if p in seen]
    assert not hits, f"seen items recommended: {hits[:5]}"


def check_deterministic(factory: Factory, **_: Any) -> None:
    """Two fits with the same seed/parameters give identical outputs."""
    df = toy_interactions()
    params = {"seed": 7} if _case(factory).stochastic else {}
    a = factory(**params).fit(df)
    b = factory(**params).fit(df)
    pd.testing.assert_frame_equal(
        a.recommend_k_items(df, top_k=5), b.recommend_k_items(df, top_k=5)
    )
    pd.testing.assert_frame_equal(a.predict(df), b.predict(df))


def check_custom_columns(factory: Factory, **_: Any) -> None:
    """Non-default column names ("u", "i", "r", "t", "p") and string ids behave the same."""
    df = toy_interactions()
    renamed = toy_interactions(
        col_user="u", col_item="i", col_rating="r", col_timestamp="t", string_ids=True
    )
    a = factory().fit(df)
    b = factory(
        col_user="u", col_item="i", col_rating="r", col_timestamp="t", col_prediction="p"
    ).fit(renamed)
    ra = a.recommend_k_items(df, top_k=5)
    rb = b.recommend_k_items(renamed, top_k=5)
    assert list(rb.columns) == ["u", "i", "p", a.col_rank]
    assert len(ra) == len(rb)
    np.testing.assert_allclose(ra[a.col_prediction].to_numpy(), rb["p"].to_numpy(), rtol=1e-5)
    assert ("u" + ra[a.col_user].astype(str)).tolist() == rb["u"].tolist()
    pb = b.predict(renamed.iloc[:10])
    assert list(pb.columns) == ["u", "i", "p"]


def check_no_input_mutation(factory: Factory, **_: Any) -> None:
    """fit, predict and recommend_k_items leave their input frames unchanged."""
    df = toy_interactions()
    before = df.copy(deep=True)
    model = factory().fit(df)
    model.predict(df)
    model.recommend_k_items(df, top_k=3)
    pd.testing.assert_frame_equal(df, before)


def check_fit_leaves_class_attributes(factory: Factory, **_: Any) -> None:
    """fit neither changes class attributes nor shadows them on the instance."""
    df = toy_interactions()
    model = factory()
    cls = type(model)
    before = {
        name: value
        for klass in reversed(cls.__mro__)
        for name, value in vars(klass).items()
        if not name.startswith("__")
    }
    own = set(model.__dict__)
    model.fit(df)
    shadowed = sorted(k for k in set(model.__dict__) - own if k in before)
    assert not shadowed, f"fit set class attribute(s) {shadowed} on the instance"
    after = {
        name: value
        for klass in reversed(cls.__mro__)
        for name, value in vars(klass).items()
        if not name.startswith("__")
    }
    changed = sorted(k for k in before if after.get(k) is not before[k])
    assert not changed, f"fit changed class attribute(s) {changed}"


def check_unknown_ids(factory: Factory, **_: Any) -> None:
    """Unknown users/items: NaN in predict with one DataWarning; a warning in recommend."""
    df = toy_interactions()
    model = factory().fit(df)
    pairs = pd.DataFrame(
        {
            model.col_user: [df[model.col_user].iloc[0], -12345],
            model.col_item: [-999, df[model.col_item].iloc[0]],
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pred = model.predict(pairs)
    assert pred[model.col_prediction].isna().all()
    assert sum(issubclass(w.category, DataWarning) for w in caught) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = model.recommend_k_items([-12345, df[model.col_user].iloc[0]], top_k=3)
    assert sum(issubclass(w.category, DataWarning) for w in caught) == 1
    assert df[model.col_user].iloc[0] in set(rec[model.col_user])


def check_save_load(factory: Factory, tmp_path: Path | None = None, **_: Any) -> None:
    """save -> load gives identical predict and recommend outputs (no pickle)."""
    df = toy_interactions(string_ids=True)
    model = factory().fit(df)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp_path or tmp) / "model"
        model.save(folder)
        assert (folder / "manifest.json").is_file()
        loaded = type(model).load(folder)
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    pd.testing.assert_frame_equal(
        model.recommend_k_items(df, top_k=5), loaded.recommend_k_items(df, top_k=5)
    )
    pd.testing.assert_frame_equal(model.predict(df), loaded.predict(df))


def check_known_answer(factory: Factory, **_: Any) -> None:
    """The model's toy case gives its expected ranking (and scores)."""
    case = _case(factory).known_answer
    if case is None:
        return
    model = factory(**case.params).fit(case.train)
    rec = _quiet(
        lambda: model.recommend_k_items(case.users, top_k=case.top_k, remove_seen=case.remove_seen)
    )
    for user, items in case.expected.items():
        got = rec.loc[rec[model.col_user] == user]
        assert got[model.col_item].tolist() == items, (user, got)
        if case.expected_scores is not None:
            np.testing.assert_allclose(
                got[model.col_prediction].to_numpy(),
                case.expected_scores[user],
                rtol=1e-6,
                atol=1e-12,
            )


CHECKS: list[Callable[..., None]] = [
    check_protocol_and_lifecycle,
    check_not_fitted,
    check_output_columns_and_dtypes,
    check_top_k_and_order,
    check_remove_seen,
    check_deterministic,
    check_custom_columns,
    check_no_input_mutation,
    check_fit_leaves_class_attributes,
    check_unknown_ids,
    check_save_load,
    check_known_answer,
]


def run_contract(factory: Factory, tmp_path: Path | None = None) -> None:
    """Run every check of :data:`CHECKS` on ``factory``."""
    for check in CHECKS:
        check(factory, tmp_path=tmp_path)


__all__ = [
    "CHECKS",
    "registry_factory",
    "run_contract",
    "toy_interactions",
] + [c.__name__ for c in CHECKS]
