"""The embedding dot-bias network (imports torch)."""

from __future__ import annotations

from recutils.nn.components._torch import nn, torch


class EmbeddingDotBiasNetwork(nn.Module):
    """``r(u, i) = lo + (hi - lo) * sigmoid(p_u . q_i + b_u + b_i)``.

    Four embedding tables (user and item factors ``n_factors`` wide, user and item
    biases one wide), all started from a normal distribution with standard deviation
    ``init_std`` truncated at two of them, as fastai's ``EmbeddingDotBias`` does.

    Args:
        n_users, n_items: Sizes of the id spaces.
        n_factors: Width of the factors.
        y_range: ``(lo, hi)``, the range of the sigmoid.
        init_std: Standard deviation of the initial weights.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int,
        y_range: tuple[float, float] = (0.0, 5.5),
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        self.lo, self.hi = float(y_range[0]), float(y_range[1])
        self.user_factors = nn.Embedding(int(n_users), int(n_factors))
        self.item_factors = nn.Embedding(int(n_items), int(n_factors))
        self.user_bias = nn.Embedding(int(n_users), 1)
        self.item_bias = nn.Embedding(int(n_items), 1)
        for table in (self.user_factors, self.item_factors, self.user_bias, self.item_bias):
            nn.init.trunc_normal_(table.weight, std=init_std, a=-2 * init_std, b=2 * init_std)

    def _squash(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(raw) * (self.hi - self.lo) + self.lo

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Predicted ratings ``[B]`` of the pairs ``(users[b], items[b])``."""
        dot = (self.user_factors(users) * self.item_factors(items)).sum(1)
        return self._squash(dot + self.user_bias(users)[:, 0] + self.item_bias(items)[:, 0])

    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Predicted ratings ``[B, n_items]`` of ``users`` for every item."""
        raw = self.user_factors(users) @ self.item_factors.weight.T
        return self._squash(raw + self.user_bias(users) + self.item_bias.weight[:, 0][None, :])


__all__ = ["EmbeddingDotBiasNetwork"]
