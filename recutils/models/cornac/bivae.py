"""Bilateral Variational Autoencoder (BiVAE) trained by cornac, behind the recutils contract.

BiVAE (Truong, Salah and Lauw, WSDM 2021) treats users and items symmetrically:
a user encoder maps a user's row of the binary interaction matrix ``X`` to a
Gaussian ``q(theta_u | x_u) = N(mu_u, sigma_u^2)`` and an item encoder maps an
item's column to ``q(beta_i | x_i) = N(mu_i, sigma_i^2)`` (both ``k``-dimensional,
hidden layers ``encoder_structure`` with activation ``act_fn``). The decoder is
``x_hat_ui = sigmoid(theta_u . beta_i)``. Training alternates the two sides with
Adam (``learning_rate``, ``batch_size``) for ``n_epochs``, maximising the ELBO

    sum_(u,i) E_q[ log p(x_ui | theta_u, beta_i) ]
        - beta_kl * ( sum_u KL(q(theta_u) || N(0, I)) + sum_i KL(q(beta_i) || N(0, I)) )

with the ``likelihood`` ``pois`` (``x log x_hat - x_hat``), ``bern``
(``x log x_hat + (1 - x) log(1 - x_hat)``) or ``gaus`` (``-(x - x_hat)^2``).

Scores: ``s(u, i) = mu_u . mu_i``, the logit of the decoder output at the
posterior means (ranking-equivalent to cornac's ``sigmoid`` scores, without its
saturation at 1 for large logits).

Policies:

* Rows are binarised, as cornac does: ratings are not read and a repeated pair
  counts once.
* ``seed`` seeds torch inside :func:`torch.random.fork_rng`, so the global torch
  RNG is left as it was; fits under a seed are deterministic on the CPU.
  ``use_gpu=True`` trains on CUDA when available (not bit-reproducible).
* Users and items reach cornac in order of first appearance in the training
  frame, as ``cornac.data.Dataset.from_uir`` numbers them.
* The fitted model keeps only ``mu_u`` and ``mu_i`` (numpy): save/load writes
  ``.npz`` (no pickle) and a loaded model scores without torch or cornac.
  Users not seen in training are skipped with a
  :class:`~recutils.exceptions.DataWarning`.

Needs the ``cornac`` and ``torch`` extras to fit (install ``torch==2.13.0``
first: an unpinned torch pulls a CUDA build).
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError
from recutils.models.base import BaseRecommender, ContractCase, TrainData
from recutils.models.cornac._data import cornac_dataset
from recutils.models.factors import (
    FactorScoringMixin,
    block_toy_case,
    check_bool,
    check_choice,
    check_extra,
    check_number,
    check_positive_int,
    check_seed,
)
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Activation names cornac's BiVAE accepts.
ACTIVATIONS = ("sigmoid", "tanh", "elu", "relu", "relu6")
#: Likelihood names (cornac's short names and long aliases) -> cornac's name.
LIKELIHOODS = {
    "pois": "pois",
    "poisson": "pois",
    "bern": "bern",
    "bernoulli": "bern",
    "gaus": "gaus",
    "gaussian": "gaus",
}
_FIELDS = [
    "k",
    "encoder_structure",
    "act_fn",
    "likelihood",
    "n_epochs",
    "batch_size",
    "learning_rate",
    "beta_kl",
    "seed",
    "use_gpu",
]
_RESERVED = _FIELDS + ["name", "trainable", "verbose"]


@dataclass
class CornacBiVAEConfig(BaseConfig):
    """Hyper-parameters of :class:`CornacBiVAE` (cornac's names).

    The defaults of ``k``, ``encoder_structure``, ``n_epochs`` and ``batch_size`` are those
    of the MovieLens benchmark (``recutils/benchmark/specs/movielens.yaml``, Microsoft
    Recommenders' BiVAE settings), not cornac's (10, ``[20]``, 100, 100): on MovieLens 100k
    they reach MAP 0.147 and nDCG@10 0.474 (Microsoft's split, mean of the benchmark's
    three seeds), where cornac's give 0.090 / 0.335 (seed 42). A fit of MovieLens 100k
    takes 2 to 3 minutes on a 2-core CPU.

    Attributes:
        k: Dimension of the user and item latent variables.
        encoder_structure: Hidden layer sizes of both encoders.
        act_fn: One of :data:`ACTIVATIONS`.
        likelihood: One of :data:`LIKELIHOODS` (``pois``, ``bern``, ``gaus`` or the
            long names).
        n_epochs: Training epochs (each: one pass over the items, one over the users).
        batch_size: Users/items per Adam step.
        learning_rate: Adam step size.
        beta_kl: Weight of the KL terms (beta-VAE).
        seed: Seed of the initialisation and the reparameterisation noise.
        use_gpu: Train on CUDA when available (cornac's default is True; recutils'
            is False, for reproducible CPU fits).
        extra: Further ``cornac.models.BiVAECF`` keyword arguments (e.g.
            ``cap_priors``), checked against its signature when fitting.
    """

    k: int = 100
    encoder_structure: list[int] = field(default_factory=lambda: [200])
    act_fn: str = "tanh"
    likelihood: str = "pois"
    n_epochs: int = 500
    batch_size: int = 1024
    learning_rate: float = 0.001
    beta_kl: float = 1.0
    seed: int | None = None
    use_gpu: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive_int("k", self.k)
        if isinstance(self.encoder_structure, tuple):
            self.encoder_structure = list(self.encoder_structure)
        if not isinstance(self.encoder_structure, list) or not self.encoder_structure:
            raise ConfigError(
                "encoder_structure must be a non-empty list of layer sizes, "
                f"got {self.encoder_structure!r}."
            )
        for size in self.encoder_structure:
            check_positive_int("encoder_structure entries", size)
        check_choice("act_fn", self.act_fn, list(ACTIVATIONS))
        check_choice("likelihood", self.likelihood, LIKELIHOODS)
        check_positive_int("n_epochs", self.n_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("beta_kl", self.beta_kl)
        check_seed(self.seed)
        check_bool("use_gpu", self.use_gpu)
        check_extra(self.extra, reserved=_RESERVED, library="cornac BiVAECF")


class CornacBiVAE(FactorScoringMixin, BaseRecommender):
    """cornac's BiVAECF (see the module docstring for the model and policies).

    Args:
        config: A :class:`CornacBiVAEConfig`, a mapping or YAML; keyword arguments
            (``k``, ``encoder_structure``, ``act_fn``, ``likelihood``, ``n_epochs``,
            ``batch_size``, ``learning_rate``, ``beta_kl``, ``seed``, ``use_gpu``,
            ``extra``) override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` and
            ``col_timestamp`` are accepted and ignored).
        progress: cornac's progress bar while training and tqdm over scoring blocks.

    Fitted attributes:
        user_factors_ (``n_users x k``, posterior means ``mu_u``), item_factors_
        (``n_items x k``, ``mu_i``), float32; item_bias_ is ``None``;
        user_ids_, item_ids_, seen_.

    Examples:
        >>> from recutils.models.cornac import CornacBiVAE
        >>> model = CornacBiVAE(k=100, encoder_structure=[200], act_fn="tanh",
        ...                     likelihood="pois", n_epochs=200, batch_size=1024,
        ...                     learning_rate=0.001, seed=42)  # doctest: +SKIP
    """

    name = "cornac_bivae"
    config_class = CornacBiVAEConfig
    duplicates = "first"
    needs_rating = False
    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("cornac", "torch")
    config: CornacBiVAEConfig

    def _fit(self, data: TrainData) -> None:
        torch = require("torch", extra="torch")
        bivae_mod = require("cornac.models.bivaecf", extra="cornac", package="cornac")
        cls = bivae_mod.BiVAECF
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        c = self.config
        check_extra(c.extra, allowed=allowed, reserved=_RESERVED, library="cornac BiVAECF")
        model = cls(
            k=c.k,
            encoder_structure=list(c.encoder_structure),
            act_fn=c.act_fn,
            likelihood=LIKELIHOODS[c.likelihood],
            n_epochs=c.n_epochs,
            batch_size=c.batch_size,
            learning_rate=c.learning_rate,
            beta_kl=c.beta_kl,
            seed=c.seed,
            use_gpu=c.use_gpu,
            trainable=True,
            verbose=bool(self.progress),
            **c.extra,
        )
        dataset, u_inv, i_inv = cornac_dataset(data, c.seed)
        devices = [torch.cuda.current_device()] if (c.use_gpu and torch.cuda.is_available()) else []
        logger.info(
            "cornac BiVAE: k=%d, %d epochs, device %s",
            c.k,
            c.n_epochs,
            "cuda" if devices else "cpu",
        )
        # cornac seeds torch's global generator: keep the caller's RNG state intact
        with torch.random.fork_rng(devices=devices):
            model.fit(dataset)
        theta = model.bivae.mu_theta.detach().cpu().numpy()
        beta = model.bivae.mu_beta.detach().cpu().numpy()
        self._set_factors(theta[u_inv], beta[i_inv], None)

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "k": 4,
            "encoder_structure": [8],
            "n_epochs": 5,
            "batch_size": 16,
            "learning_rate": 0.01,
            "seed": 0,
        }
        known = block_toy_case({**params, "k": 2, "n_epochs": 60})
        return ContractCase(params=params, known_answer=known, stochastic=True)


__all__ = ["ACTIVATIONS", "CornacBiVAE", "CornacBiVAEConfig", "LIKELIHOODS"]
