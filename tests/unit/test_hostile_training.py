"""Training that goes wrong must fail loudly, not return a model that scores NaN.

* A run whose loss or weights become NaN/inf (a learning rate far too high, inputs with
  huge values) stops with ``ModelFitError`` naming the epoch, the steps, the bad quantity
  and the likely cause; the checks leave good runs exactly as they were.
* A click-through model given labels of one class (all 0 or all 1) is refused with a
  ``DataError`` that says why and what to do.
* The defaults a user meets first are the benchmark's settings, not undertrained ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

torch = pytest.importorskip("torch")

import recutils.benchmark  # noqa: E402
from recutils.exceptions import DataError, ModelFitError  # noqa: E402
from recutils.models import create_model, get_model_class  # noqa: E402
from recutils.models.ctr import preset_config  # noqa: E402
from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.trainer import Trainer, check_finite_weights  # noqa: E402
from tests.unit._nn_helpers import toy_encoded, toy_model, toy_specs  # noqa: E402

CAUSE = "learning rate is likely too high, or the inputs hold huge values"
HUGE_LR = 1e30


def interactions(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "userID": rng.integers(0, 30, n),
            "itemID": rng.integers(0, 40, n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    return df.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)


def zoo_params(name: str, **train: object) -> dict:
    """A zoo model reading only the user and item ids of :func:`interactions`."""
    groups = {
        g["group_name"]: ["user", "item"]
        for g in preset_config(name)["model_config"]["feature_groups"]
    }
    return {
        "label_threshold": 4.0,
        "seed": 0,
        "feature_groups": groups,
        "features": [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
        "train": {
            "epochs": 2,
            "batch_size": 64,
            "num_threads": 1,
            "validation_fraction": 0.0,
            "early_stopping_metric": None,
            "progress": False,
            **train,
        },
    }


CF_DIVERGING = {
    "ncf": {"n_factors": 4, "layer_sizes": [8, 4], "n_epochs": 2, "batch_size": 64},
    "lightgcn": {"embedding_dim": 8, "n_layers": 2, "n_epochs": 2, "batch_size": 64},
    "multi_vae": {"hidden_dims": [16], "latent_dim": 8, "n_epochs": 2, "batch_size": 8},
    # Multi-DAE's loss stays finite at lr=1e30 (tanh saturates): the weights (~1e30) give it away
    "multi_dae": {"hidden_dims": [16], "latent_dim": 8, "n_epochs": 2, "batch_size": 8},
}


# ------------------------------------------------------------------ divergence
@pytest.mark.parametrize("name", sorted(CF_DIVERGING))
def test_diverged_cf_training_raises_instead_of_returning_a_nan_model(name: str) -> None:
    model = create_model(name, **CF_DIVERGING[name], learning_rate=HUGE_LR, seed=1)
    with pytest.raises(ModelFitError, match=CAUSE) as info:
        model.fit(interactions())
    message = str(info.value)
    assert "diverged in epoch 1 (steps 1 to " in message
    assert "training loss became nan" in message or "holds NaN, infinite or overflowing" in message
    assert not hasattr(model, "network_")  # no half-trained model left to score with


def test_diverged_ncf_pretraining_names_the_stage() -> None:
    model = create_model(
        "ncf",
        **CF_DIVERGING["ncf"],
        pretrain=True,
        pretrain_epochs=1,
        learning_rate=HUGE_LR,
        seed=1,
    )
    with pytest.raises(ModelFitError, match="training of NCF gmf diverged in epoch 1"):
        model.fit(interactions())


def test_diverged_deepfm_training_raises() -> None:
    model = create_model("deepfm", **zoo_params("deepfm", optimizers={"0": {"lr": HUGE_LR}}))
    with pytest.raises(ModelFitError, match=f"diverged in epoch 1 .*{CAUSE}"):
        model.fit(interactions())


def test_wide_deep_with_huge_input_values_raises() -> None:
    df = interactions()
    df["price"] = np.where(
        np.arange(len(df)) % 2 == 0, 3e38, -3e38
    )  # float32, but the loss overflows
    params = zoo_params("wide_deep")
    params["features"].append({"name": "price", "type": "numeric", "normalization": "none"})
    params["feature_groups"] = {
        group: ["user", "item", "price"] for group in params["feature_groups"]
    }
    with pytest.raises(ModelFitError, match=CAUSE):
        create_model("wide_deep", **params).fit(df)


def test_trainer_names_the_step_range_and_stops_before_validation() -> None:
    encoded, y = toy_encoded(n=256)
    network = build_rank_network(toy_model(), toy_specs(), seed=0)
    data = TensorData.from_encoded(encoded, network.backbone.layout, y)
    trainer = Trainer(
        network,
        {
            "epochs": 3,
            "batch_size": 64,
            "progress": False,
            "early_stopping_metric": "auc",
            "optimizers": [{"name": "adam", "lr": HUGE_LR}],
        },
        seed=0,
    )
    with pytest.raises(
        ModelFitError, match=r"training of RankNetwork diverged in epoch 1 \(steps 1 to 3\)"
    ):
        trainer.fit(data.subset(np.arange(192)), data.subset(np.arange(192, 256)))


def test_check_finite_weights_names_the_parameter() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    check_finite_weights(net, "net", "in epoch 1 (step 1)")  # finite: nothing happens
    with torch.no_grad():
        net[1].bias.fill_(float("inf"))
    with pytest.raises(
        ModelFitError,
        match=r"training of net diverged in epoch 2 \(step 7\): parameter "
        r"'1.bias' holds NaN, infinite or overflowing values",
    ):
        check_finite_weights(net, "net", "in epoch 2 (step 7)")
    with torch.no_grad():
        net[1].bias.fill_(0.0)
        net[0].weight[0, 0] = 1e20  # finite, but its square overflows float32
    with pytest.raises(
        ModelFitError, match=r"parameter '0.weight' .* \(largest magnitude 1e\+20\)"
    ):
        check_finite_weights(net, "net", "in epoch 2 (step 7)")
    with torch.no_grad():
        net[0].weight[0, 0] = 1e15  # large, yet a sane float32 value
    check_finite_weights(net, "net", "in epoch 2 (step 7)")


def test_a_single_diverged_step_is_caught_though_its_loss_was_finite() -> None:
    # one epoch of one step: the loss is computed before the update (finite), and the
    # update leaves weights of about 1e30, finite in float32 but scoring 1e59
    model = create_model(
        "lightgcn",
        embedding_dim=8,
        n_layers=2,
        n_epochs=1,
        batch_size=4096,
        learning_rate=HUGE_LR,
        seed=1,
    )
    with pytest.raises(
        ModelFitError,
        match=r"in epoch 1 \(step 1\): parameter 'weight' holds NaN, "
        r"infinite or overflowing values",
    ):
        model.fit(interactions())


def test_fit_epochs_checks_the_weights_when_the_loss_stayed_finite() -> None:
    net = torch.nn.Linear(2, 1)
    x = torch.ones(4, 2)

    def loss(model: torch.nn.Module, batch: int) -> torch.Tensor:
        out = model(x).pow(2).mean()
        if batch == 1:  # the last step leaves an infinite weight behind a finite loss
            with torch.no_grad():
                model.weight[0, 0] = float("inf")
        return out

    class Source:
        def epoch_batches(self, epoch: int) -> list[int]:
            return [0, 1]

    trainer = Trainer(net, {"progress": False}, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    with pytest.raises(ModelFitError, match=r"in epoch 1 \(steps 1 to 2\): parameter 'weight'"):
        trainer.fit_epochs(Source(), loss, 2, optimizers=[opt])


# ---------------------------------------------------------------- single class
@pytest.mark.parametrize("name", ["deep_rank", "deepfm"])
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_single_class_labels_are_refused(name: str, label: float) -> None:
    df = interactions().assign(rating=label)
    params = (
        zoo_params(name)
        if name != "deep_rank"
        else {"seed": 0, "train": {"epochs": 1, "progress": False}}
    )
    params.pop("label_threshold", None)
    with pytest.raises(
        DataError, match=rf"every training label \(rating\) is {label:g}.*both positive"
    ):
        create_model(name, **params).fit(df)


def test_single_class_after_the_label_threshold_names_the_threshold() -> None:
    df = interactions()
    with pytest.raises(DataError, match=r"label_threshold=6.0 makes no row positive"):
        create_model(
            "deep_rank", label_threshold=6.0, seed=0, train={"epochs": 1, "progress": False}
        ).fit(df)
    with pytest.raises(DataError, match=r"label_threshold=0.5 makes every row positive"):
        create_model(
            "deep_rank", label_threshold=0.5, seed=0, train={"epochs": 1, "progress": False}
        ).fit(df)


def test_two_classes_still_train() -> None:
    model = create_model(
        "deep_rank",
        label_threshold=4.0,
        seed=0,
        train={"epochs": 1, "batch_size": 64, "progress": False},
    ).fit(interactions())
    assert np.isfinite(model.predict(interactions().head(5))["prediction"]).all()


# -------------------------------------------------------------------- defaults
#: Benchmark settings deliberately not made defaults (each config's docstring says why).
NOT_DEFAULTS = {"ncf": {"n_factors", "pretrain"}, "lightfm": {"num_threads"}}


@pytest.mark.parametrize("name", ["lightgcn", "ncf", "cornac_bpr", "cornac_bivae", "lightfm"])
def test_defaults_are_the_benchmark_settings_not_undertrained_ones(name: str) -> None:
    # LightGCN's default learning rate of 1e-3 left it undertrained on MovieLens (MAP 0.112
    # where the benchmark's settings reach 0.125); cornac's BPR defaults gave popularity-level
    # lists. Defaults now follow recutils/benchmark/specs/movielens.yaml.
    spec = yaml.safe_load(
        (Path(recutils.benchmark.__file__).parent / "specs" / "movielens.yaml").read_text()
    )
    params = next(m["params"] for m in spec["models"] if m["name"] == name)
    defaults = get_model_class(name).config_class()
    expected = {k: v for k, v in params.items() if k not in NOT_DEFAULTS.get(name, set())}
    assert {k: getattr(defaults, k) for k in expected} == expected


def test_a_failed_fit_leaves_no_half_fitted_model():
    # fit used to set the id maps and the training matrix before _fit ran, so a model
    # whose training diverged still said is_fitted and failed later on a missing network_
    pytest.importorskip("torch")
    from recutils.exceptions import ModelFitError, NotFittedError
    from recutils.models import create_model

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"userID": rng.integers(0, 30, 400), "itemID": rng.integers(0, 40, 400)})
    df = df.drop_duplicates(["userID", "itemID"])
    model = create_model("ncf", model_type="gmf", n_epochs=2, learning_rate=1e30, seed=0)
    with pytest.raises(ModelFitError):
        model.fit(df)
    assert not model.is_fitted
    with pytest.raises(NotFittedError):
        model.recommend_k_items([0, 1], top_k=3)
