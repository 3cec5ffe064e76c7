"""Standard VAE for collaborative filtering (Liang et al., WWW 2018, the Gaussian-free
baseline of their comparison; Microsoft Recommenders' ``standard_vae_deep_dive``).

The Multi-VAE's network and training loop (:mod:`recutils.models.vae.model`) with the
parts that make it "standard":

* **Likelihood.** The decoder's softmax ``pi(z_u)`` is read as independent Bernoulli
  probabilities: the reconstruction term is the binary cross-entropy summed over items,

      -sum_i [ x_ui log pi_i(z_u) + (1 - x_ui) log(1 - pi_i(z_u)) ]

  (probabilities clipped to ``[1e-7, 1 - 1e-7]``), instead of the multinomial
  ``-sum_i x_ui log pi_i(z_u)``;
* **Input.** The encoder reads the raw binary row (no L2 normalization) after dropout;
* **Decoder dropout.** The decoder's hidden ``tanh`` layer is dropped out as well
  (``decoder_dropout``);
* **Annealing.** ``beta = min(anneal_cap, step / total_anneal_steps)`` as in Multi-VAE;
  by default ``total_anneal_steps`` is set so that ``beta`` reaches ``anneal_cap`` after
  80% of the training steps, Microsoft's rule.

The loss minimised is ``reconstruction + beta * KL(q(z_u | x_u) || N(0, I))``, averaged
over the batch's users, with Adam. Users are ranked from their training row by the logits
of the code's mean (no dropout). Microsoft's implementation also lowers the learning rate
on a validation-loss plateau and keeps the epoch with the best validation nDCG; here
``fit(train, valid=frame)`` with ``patience`` keeps the best epoch of ``valid_metric``
(see :class:`~recutils.models.torch_cf.TorchCFConfig`), and the rate is constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase
from recutils.models.factors import block_toy_case, check_number, check_positive_int
from recutils.models.vae.model import MultiDAEConfig, _MultiDAEBase

#: Share of the training steps over which ``beta`` reaches ``anneal_cap`` by default.
ANNEAL_SHARE = 0.8


@dataclass
class StandardVAEConfig(MultiDAEConfig):
    """Hyper-parameters of :class:`StandardVAE`; the defaults are Microsoft Recommenders'
    ``StandardVAE`` (one hidden layer of 200, a 70-wide code, dropout 0.5 on the input and
    on the decoder's hidden layer, batches of 100 users, Adam at 0.001) but ``n_epochs``
    and ``anneal_cap`` (theirs: 400 epochs, a cap tuned per data set).

    Attributes:
        hidden_dims, latent_dim, dropout, n_epochs, batch_size, learning_rate, l2: As in
            :class:`~recutils.models.vae.MultiDAEConfig` (``dropout`` is the input's).
        decoder_dropout: Dropout rate of the decoder's hidden layers, in ``[0, 1)``.
        anneal_cap: Largest KL weight ``beta``.
        total_anneal_steps: Adam steps over which ``beta`` grows linearly from 0 to 1
            (capped at ``anneal_cap``); ``None``: ``beta`` reaches ``anneal_cap`` after 80%
            of the training steps. ``1`` keeps ``beta = anneal_cap`` from the second step
            (no annealing).
    """

    hidden_dims: list[int] = field(default_factory=lambda: [200])
    latent_dim: int = 70
    decoder_dropout: float = 0.5
    n_epochs: int = 100
    batch_size: int = 100
    anneal_cap: float = 0.2
    total_anneal_steps: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("decoder_dropout", self.decoder_dropout)
        if self.decoder_dropout >= 1:
            raise ConfigError(f"decoder_dropout must lie in [0, 1), got {self.decoder_dropout!r}.")
        check_number("anneal_cap", self.anneal_cap)
        if self.total_anneal_steps is not None:
            check_positive_int("total_anneal_steps", self.total_anneal_steps)


class StandardVAE(_MultiDAEBase):
    """Standard VAE: Gaussian code, logistic (binary cross-entropy) likelihood of the
    softmax output, KL annealing (see the module docstring).

    Args:
        config: A :class:`StandardVAEConfig`, a mapping or YAML; keyword arguments
            override it.
        callbacks: Training callbacks (see :class:`~recutils.models.torch_cf.TorchCFRecommender`).
        col_user, col_item, col_prediction: Column names (``col_rating`` /
            ``col_timestamp`` are accepted and ignored: a user's row has a 1 for every
            training item, a repeated pair counts once).
        progress: tqdm bars over epochs (fit) and scoring blocks.

    Fitted attributes: ``network_``, ``history_`` (one row per epoch: ``epoch``, ``step``,
    ``beta`` (the KL weight of the epoch's last step), ``nll`` (the binary cross-entropy
    per user), ``kl``, ``seconds``), ``user_order_``, ``item_order_``, ``user_ids_``,
    ``item_ids_``, ``seen_``.

    Examples:
        >>> from recutils.models.vae import StandardVAE
        >>> model = StandardVAE(n_epochs=100, anneal_cap=0.2, seed=42)  # doctest: +SKIP
    """

    name: ClassVar[str] = "standard_vae"
    config_class: ClassVar[type[StandardVAEConfig]] = StandardVAEConfig
    variational: ClassVar[bool] = True
    likelihood: ClassVar[str] = "logistic"
    config: StandardVAEConfig

    def _network_options(self) -> dict[str, Any]:
        return {"normalize": False, "decoder_dropout": self.config.decoder_dropout}

    def _beta(self, step: int, total_steps: int) -> float:
        c = self.config
        horizon = c.total_anneal_steps
        if horizon is None:  # beta reaches the cap after ANNEAL_SHARE of the steps
            horizon = max(ANNEAL_SHARE * total_steps / max(float(c.anneal_cap), 1e-12), 1.0)
        return min(float(c.anneal_cap), step / horizon)

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
        known = block_toy_case(
            {**params, "n_epochs": 100, "dropout": 0.2, "decoder_dropout": 0.0, "batch_size": 4}
        )
        return ContractCase(params=params, known_answer=known, stochastic=True)


__all__ = ["StandardVAE", "StandardVAEConfig"]
