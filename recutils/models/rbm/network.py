"""The RBM network with multinomial (softmax) visible units (imports torch)."""

from __future__ import annotations

from recutils.nn.components._torch import nn, torch


class MultinomialRBM(nn.Module):
    """A restricted Boltzmann machine over ``n_items`` visible softmax units of ``n_classes``
    states each and ``n_hidden`` binary hidden units.

    Visible states are class indices ``[B, n_items]`` (``int64``); a state is one-hot
    encoded to ``n_items * n_classes`` inputs. With ``mask_class0`` the class 0 means
    "not rated": those units are left out of the energy (inputs zero) and never sampled,
    as in Salakhutdinov et al. (2007); otherwise class 0 is a state of its own.

    * ``p(h_j = 1 | v) = sigmoid(b_j + sum_{i,k} v_ik W_ikj)``;
    * ``p(v_i = k | h) = softmax_k(a_ik + sum_j h_j W_ikj)``;
    * free energy ``F(v) = -sum_{i,k} v_ik a_ik - sum_j softplus(b_j + (vW)_j)``.

    Weights start ``N(0, init_std^2)``, biases zero (see :meth:`init_visible_bias`).
    """

    def __init__(
        self,
        n_items: int,
        n_classes: int,
        n_hidden: int,
        init_std: float = 0.1,
        mask_class0: bool = False,
    ) -> None:
        super().__init__()
        self.n_items, self.n_classes, self.n_hidden = int(n_items), int(n_classes), int(n_hidden)
        self.mask_class0 = bool(mask_class0)
        self.weight = nn.Parameter(
            torch.randn(self.n_items * self.n_classes, self.n_hidden) * float(init_std)
        )
        self.visible_bias = nn.Parameter(torch.zeros(self.n_items * self.n_classes))
        self.hidden_bias = nn.Parameter(torch.zeros(self.n_hidden))

    def init_visible_bias(self, class_counts: torch.Tensor) -> None:
        """Set the visible biases to the log of each unit's smoothed class frequencies.

        ``class_counts`` is ``[n_items, n_classes]`` (how often each item takes each state in
        the training rows); one is added to every count. Hinton's "A Practical Guide to
        Training Restricted Boltzmann Machines" (2010, section 8.1) starts visible biases at
        the log-odds of the data so that the weights learn co-occurrence rather than first
        having to learn how often each state occurs. With ``mask_class0`` class 0 is ignored.
        """
        counts = class_counts.to(self.visible_bias.dtype) + 1.0
        if self.mask_class0:
            counts = counts.clone()
            counts[:, 0] = 1.0  # never used: class 0 is out of the energy
        probs = counts / counts.sum(1, keepdim=True)
        with torch.no_grad():
            self.visible_bias.copy_(probs.log().reshape(-1))

    def one_hot(self, states: torch.Tensor) -> torch.Tensor:
        """``[B, n_items * n_classes]`` float inputs of class indices ``states``."""
        v = nn.functional.one_hot(states, self.n_classes).to(self.weight.dtype)
        if self.mask_class0:
            v[..., 0] = 0.0
        return v.reshape(states.shape[0], -1)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """``p(h = 1 | v)`` of one-hot inputs ``v``."""
        return torch.sigmoid(v @ self.weight + self.hidden_bias)

    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_items, n_classes]`` of ``p(v | h)``."""
        logits = (h @ self.weight.t() + self.visible_bias).view(
            h.shape[0], self.n_items, self.n_classes
        )
        if self.mask_class0:
            logits = logits.clone()
            logits[..., 0] = -torch.inf
        return logits

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """Free energy of each row of one-hot inputs ``v`` (``[B]``)."""
        return -(v @ self.visible_bias) - nn.functional.softplus(
            v @ self.weight + self.hidden_bias
        ).sum(1)

    def gibbs(self, states: torch.Tensor, steps: int, keep_prob: float = 1.0) -> torch.Tensor:
        """Class indices after ``steps`` Gibbs steps ``v -> h -> v`` started at ``states``.

        Hidden probabilities are dropped out with keep probability ``keep_prob`` before
        sampling (training only). With ``mask_class0`` unrated units stay unrated.
        """
        current = states
        for _ in range(int(steps)):
            p = self.hidden_probs(self.one_hot(current))
            if keep_prob < 1.0:
                p = nn.functional.dropout(p, 1.0 - keep_prob) * keep_prob
            h = torch.bernoulli(p)
            probs = torch.softmax(self.visible_logits(h), dim=2)
            # inverse-CDF draw of one class per unit (one uniform each)
            u = torch.rand(probs.shape[:2] + (1,), dtype=probs.dtype, device=probs.device)
            sampled = (probs.cumsum(2) < u).sum(2).clamp_(max=self.n_classes - 1)
            current = torch.where(states == 0, states, sampled) if self.mask_class0 else sampled
        return current

    def forward(self, states: torch.Tensor, steps: int = 1, keep_prob: float = 1.0) -> torch.Tensor:
        """Contrastive-divergence objective of a batch: mean ``F(v_data) - F(v_k)``.

        Its gradient is the CD-``steps`` estimate of the log-likelihood gradient (the
        negative sample is not differentiated through).
        """
        with torch.no_grad():
            negative = self.gibbs(states, steps, keep_prob)
        return (
            self.free_energy(self.one_hot(states)) - self.free_energy(self.one_hot(negative))
        ).mean()

    def class_probs(self, states: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction ``p(v | p(h | v))`` ``[B, n_items, n_classes]``."""
        h = self.hidden_probs(self.one_hot(states))
        return torch.softmax(self.visible_logits(h), dim=2)


__all__ = ["MultinomialRBM"]
