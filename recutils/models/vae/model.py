"""Multi-VAE and Multi-DAE (Liang et al., WWW 2018) in PyTorch, behind the recutils contract.

Each user is a row ``x_u`` of the binary user-item matrix. The encoder reads the
L2-normalized row after dropout (``dropout``, on the input only) through ``tanh``
layers ``hidden_dims`` to a ``latent_dim`` code; the decoder mirrors it back to
``n_items`` logits ``f(z_u)``, and ``pi(z_u) = softmax(f(z_u))`` is a multinomial
over items, with log-likelihood ``sum_i x_ui log pi_i(z_u)``.

* **Multi-VAE** encodes a Gaussian ``q(z_u | x_u) = N(mu_u, diag(sigma_u^2))`` and
  maximises the annealed ELBO

      E_q[ log p(x_u | z_u) ] - beta * KL(q(z_u | x_u) || N(0, I)),

  with ``beta = min(anneal_cap, step / total_anneal_steps)`` growing by one per
  Adam step (KL annealing; the paper's defaults: cap 0.2, 200 000 steps).
* **Multi-DAE** encodes ``z_u`` deterministically (no KL) and regularises the
  weights with ``l2`` (the paper's ``lambda``).

Users are shuffled (seeded) into batches of ``batch_size`` rows every epoch. A user
is ranked from their training row: ``f(mu_u)`` without dropout, the logits (the
softmax keeps their order). Users not seen in training are skipped (one
``DataWarning``). Ratings are not read and a repeated pair counts once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase
from recutils.models.factors import (
    block_toy_case,
    check_number,
    check_positive_int,
)
from recutils.models.torch_cf import (
    TorchCFConfig,
    TorchCFRecommender,
    adam,
    check_layers,
)
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

# the logistic likelihood's clipping of the probabilities (Keras' epsilon)
_EPS = 1e-7
_LOG_EPS = math.log(_EPS)


@dataclass
class MultiDAEConfig(TorchCFConfig):
    """Hyper-parameters of :class:`MultiDAE` (the paper's defaults but ``n_epochs``).

    The MovieLens benchmark (``recutils/benchmark/specs/movielens.yaml``) trains a smaller
    network for MovieLens 100k's 943 users (``hidden_dims=[200]``, ``latent_dim=50``,
    ``batch_size=100``, 30 epochs; Multi-VAE with ``total_anneal_steps=200``): MAP 0.127,
    nDCG@10 0.424 over its three seeds. Those are not the defaults: they are sized for
    that data set, and the paper's defaults did as well there (Microsoft's split, seed 42:
    Multi-VAE MAP 0.134 / nDCG@10 0.432, Multi-DAE 0.136 / 0.430).

    Attributes:
        hidden_dims: Widths of the encoder's hidden ``tanh`` layers (mirrored by the
            decoder); may be empty.
        latent_dim: Width of the code ``z``.
        dropout: Dropout rate on the normalized input row, in ``[0, 1)``.
        n_epochs: Passes over the users.
        batch_size: Users per Adam step.
        learning_rate: Adam step size.
        l2: Weight decay of Adam on the network weights.

    The run settings (``seed``: of the weights, the batch order, dropout and sampling;
    ``device``, ``num_threads``, ``model_dir``) and the validation settings
    (``valid_metric``, ``patience``) are those of
    :class:`~recutils.models.torch_cf.TorchCFConfig`.
    """

    hidden_dims: list[int] = field(default_factory=lambda: [600])
    latent_dim: int = 200
    dropout: float = 0.5
    n_epochs: int = 100
    batch_size: int = 500
    learning_rate: float = 1e-3
    l2: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.hidden_dims, tuple):
            self.hidden_dims = list(self.hidden_dims)
        if self.hidden_dims != []:
            self.hidden_dims = check_layers("hidden_dims", self.hidden_dims)
        check_positive_int("latent_dim", self.latent_dim)
        check_number("dropout", self.dropout)
        if self.dropout >= 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}.")
        check_positive_int("n_epochs", self.n_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("l2", self.l2)


@dataclass
class MultiVAEConfig(MultiDAEConfig):
    """Hyper-parameters of :class:`MultiVAE`: those of :class:`MultiDAEConfig` plus

    Attributes:
        anneal_cap: Largest KL weight ``beta``.
        total_anneal_steps: Adam steps over which ``beta`` grows linearly from 0 to 1
            (capped at ``anneal_cap``). The paper's 200 000 suits MovieLens 20M; on a
            small data set (a few steps per epoch) ``beta`` then stays near 0 and the
            model trains almost as a Multi-DAE: set about 20 epochs' worth of steps to
            anneal (the benchmark: 200 on MovieLens 100k).
    """

    anneal_cap: float = 0.2
    total_anneal_steps: int = 200_000

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("anneal_cap", self.anneal_cap)
        check_positive_int("total_anneal_steps", self.total_anneal_steps)


class _MultiDAEBase(TorchCFRecommender):
    """Shared fit and scoring of :class:`MultiVAE` and :class:`MultiDAE`."""

    variational: ClassVar[bool] = False
    #: Likelihood of a user's row given the decoder's softmax ``pi``: ``multinomial``
    #: (``sum_i x_i log pi_i``) or ``logistic`` (independent Bernoullis with
    #: probabilities ``pi_i``, the Standard VAE's binary cross-entropy).
    likelihood: ClassVar[str] = "multinomial"

    def _network_options(self) -> dict[str, Any]:
        """Extra keyword arguments of :class:`~recutils.models.vae.network.MultiVAENetwork`."""
        return {}

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.vae.network import MultiVAENetwork

        c = self.config
        return MultiVAENetwork(
            n_items,
            c.hidden_dims,
            c.latent_dim,
            c.dropout,
            variational=self.variational,
            **self._network_options(),
        )

    def _beta(self, step: int, total_steps: int) -> float:
        """KL weight of Adam step ``step`` out of the fit's ``total_steps``."""
        return 0.0

    def _train(
        self,
        network: Any,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        seed: int,
        device: Any,
    ) -> list[dict[str, Any]]:
        require("torch", "torch")
        c = self.config
        optimizer = adam(network.parameters(), device, c.learning_rate, c.l2)
        total_steps = -(-n_users // c.batch_size) * c.n_epochs

        def beta(step: int) -> float:
            return self._beta(step, total_steps)

        source = _UserRowEpochs(
            users,
            items,
            n_users,
            n_items,
            c.batch_size,
            seed,
            device,
            beta,
            likelihood=self.likelihood,
        )
        return self._run_epochs(
            network,
            source,
            source.loss,
            optimizer,
            c.n_epochs,
            seed,
            model_dir=c.model_dir,
            desc=self.name,
        )

    def _score_internal(self, users: Any) -> Any:
        torch = require("torch", "torch")
        rows = torch.from_numpy(self._internal_seen()[users.cpu().numpy()].toarray())
        return self.network_.score(rows.to(users.device))


class MultiDAE(_MultiDAEBase):
    """Multi-DAE: denoising autoencoder with a multinomial likelihood (module docstring).

    Args:
        config: A :class:`MultiDAEConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` /
            ``col_timestamp`` are accepted and ignored).
        progress: tqdm bars over epochs (fit) and scoring blocks.

    Fitted attributes: ``network_``, ``history_`` (one row per epoch: ``epoch``,
    ``step``, ``beta``, ``nll``, ``kl``, ``seconds``), ``user_order_``, ``item_order_``,
    ``user_ids_``, ``item_ids_``, ``seen_``.
    """

    name: ClassVar[str] = "multi_dae"
    config_class: ClassVar[type[MultiDAEConfig]] = MultiDAEConfig
    variational: ClassVar[bool] = False
    config: MultiDAEConfig

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "hidden_dims": [16],
            "latent_dim": 8,
            "n_epochs": 5,
            "batch_size": 8,
            "learning_rate": 0.01,
            "seed": 0,
        }
        known = block_toy_case({**params, "n_epochs": 100, "dropout": 0.2, "batch_size": 4})
        return ContractCase(params=params, known_answer=known, stochastic=True)


class MultiVAE(_MultiDAEBase):
    """Multi-VAE: variational autoencoder with a multinomial likelihood and KL annealing.

    See the module docstring. Args and fitted attributes as :class:`MultiDAE`, with a
    :class:`MultiVAEConfig` (``anneal_cap``, ``total_anneal_steps``); ``history_``'s
    ``beta`` is the KL weight of the epoch's last step (the annealing curve).

    Examples:
        >>> from recutils.models.vae import MultiVAE
        >>> model = MultiVAE(hidden_dims=[600], latent_dim=200, n_epochs=200,
        ...                  total_anneal_steps=2000, anneal_cap=0.2, seed=42)  # doctest: +SKIP
    """

    name: ClassVar[str] = "multi_vae"
    config_class: ClassVar[type[MultiVAEConfig]] = MultiVAEConfig
    variational: ClassVar[bool] = True
    config: MultiVAEConfig

    def _beta(self, step: int, total_steps: int) -> float:
        c = self.config
        return min(float(c.anneal_cap), step / c.total_anneal_steps)

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "hidden_dims": [16],
            "latent_dim": 8,
            "n_epochs": 5,
            "batch_size": 8,
            "learning_rate": 0.01,
            "total_anneal_steps": 20,
            "seed": 0,
        }
        known = block_toy_case({**params, "n_epochs": 100, "dropout": 0.2, "batch_size": 4})
        return ContractCase(params=params, known_answer=known, stochastic=True)


class _UserRowEpochs:
    """The autoencoders' batch source and loss: each epoch the users in a permutation drawn
    from ``default_rng([seed, epoch])``; a batch is ``batch_size`` users' binary rows and its
    loss the negative log-likelihood (``likelihood``: multinomial, or logistic as the
    Standard VAE's binary cross-entropy of the softmax, probabilities clipped to
    ``[1e-7, 1 - 1e-7]``) plus ``beta(step)`` times the KL term (the VAEs; the step counts
    Adam steps from the start of training)."""

    #: History fields summed over the epoch's rows (added across data-parallel ranks).
    summed_fields = ("nll", "kl")

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        batch_size: int,
        seed: int,
        device: Any,
        beta: Callable[[int], float],
        *,
        likelihood: str = "multinomial",
    ) -> None:
        import scipy.sparse as sp

        torch = require("torch", "torch")
        x = sp.csr_matrix(
            (np.ones(users.size, dtype=np.float32), (users, items)), shape=(n_users, n_items)
        )
        x.sum_duplicates()
        x.data[:] = 1.0
        self.x = x
        self.dense = torch.from_numpy(x.toarray()).to(device) if n_users * n_items <= 5e7 else None
        self.n_users, self.batch_size, self.seed, self.device, self.beta = (
            n_users,
            batch_size,
            seed,
            device,
            beta,
        )
        self.likelihood = likelihood
        self.steps_per_epoch = -(-n_users // batch_size)
        self.step = 0
        self.nll_sum = self.kl_sum = 0.0

    def epoch_batches(self, epoch: int) -> Iterator[np.ndarray]:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n_users)
        self.step = epoch * self.steps_per_epoch  # every epoch has the same number of steps
        self.nll_sum = self.kl_sum = 0.0
        for s in range(0, self.n_users, self.batch_size):
            yield order[s : s + self.batch_size]

    def loss(self, network: Any, rows: np.ndarray) -> Any:
        torch = require("torch", "torch")
        batch = (
            self.dense[torch.from_numpy(rows).to(self.device)]
            if self.dense is not None
            else torch.from_numpy(self.x[rows].toarray()).to(self.device)
        )
        logits, kl = network(batch)
        log_pi = torch.log_softmax(logits, dim=1)
        if self.likelihood == "logistic":
            log_pi = log_pi.clamp(min=_LOG_EPS)
            log_not = torch.log1p(-log_pi.exp().clamp(max=1.0 - _EPS))
            nll = -(batch * log_pi + (1.0 - batch) * log_not).sum(1).mean()
        else:
            nll = -(log_pi * batch).sum(1).mean()
        beta = self.beta(self.step)
        loss = nll + beta * kl if kl is not None else nll
        self.step += 1
        self.nll_sum += float(nll.detach()) * rows.size
        self.kl_sum += (float(kl.detach()) if kl is not None else 0.0) * rows.size
        return loss

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "step": self.step,
            "beta": self.beta(self.step - 1),
            "nll": self.nll_sum / self.n_users,
            "kl": self.kl_sum / self.n_users,
        }


__all__ = ["MultiDAE", "MultiDAEConfig", "MultiVAE", "MultiVAEConfig"]
