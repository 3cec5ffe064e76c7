"""The networks of the next-item models, built from :mod:`recutils.nn.components.sequence`.

Every network reads left-padded token sequences ``[B, L]`` (0 = padding, item ``j`` of
the model = token ``j + 1``) and the batch's internal user numbers ``[B]`` (``-1`` for a
user not seen in training) and offers:

* ``encode(seq, users) -> [B, L, d]``: one hidden vector per position;
* ``query(h, users) -> (q, c)``: the vector scored against item output embeddings and
  a per-row constant (``None`` for most models);
* ``output() -> (E, b)``: the output embedding table ``[n_tokens, d_q]`` and bias
  (``None`` where the model has none).

A token's logit for a row is ``q . E[token] (+ c) (+ b[token])``; the trainer's losses
and the scoring only use these three methods. The item tables (input, output, bias) and
user tables get **sparse** gradients: a step touches only the rows of the batch's items
and users, so the training cost does not grow with the catalogue (tens of thousands of
items) beyond the rows a loss reads; :func:`sparse_parameters` lists them for a sparse
optimizer.
"""

from __future__ import annotations

from typing import Any

from recutils.nn.components._torch import F, nn, torch
from recutils.nn.components.dropout import Dropout as make_dropout
from recutils.nn.components.sequence import (
    CaserConv,
    GRUEncoder,
    NextItNetEncoder,
    SequenceEmbedding,
    TransformerEncoder,
    UserInjection,
)


class _TiedOutput(nn.Module):
    """Scores against the input item embeddings (weight tying) plus a learned bias."""

    embed: SequenceEmbedding

    def query(
        self, h: torch.Tensor, users: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return h, None

    def output(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.embed.items.weight, self.bias

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class SASRecNetwork(_TiedOutput):
    """SASRec (Kang & McAuley, ICDM 2018): causal Transformer over item + position embeddings;
    BERT4Rec (Sun et al., CIKM 2019) with ``causal=False``, GELU and a ``4d`` feed-forward."""

    def __init__(
        self,
        n_tokens: int,
        dim: int,
        max_len: int,
        num_layers: int,
        num_heads: int,
        dropout: float,
        causal: bool = True,
        activation: str = "relu",
        ffn_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.embed = SequenceEmbedding(n_tokens, dim, max_len, dropout, sparse=True)
        self.encoder = TransformerEncoder(
            dim, num_layers, num_heads, ffn_dim, dropout, causal, activation
        )
        self.bias = nn.Parameter(torch.zeros(n_tokens, 1))

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        x, mask = self.embed(seq)
        return self.encoder(x, mask)


class SSEPTNetwork(nn.Module):
    """SSE-PT (Wu et al., RecSys 2020): SASRec over ``[item ; user]`` embeddings.

    A position's hidden vector ``h = [h_i ; h_u]`` scores item ``j`` as
    ``h_i . e_j + h_u . u`` (the paper's ``h . [e_j ; u]``); the second term is the same
    for every item of a row (the constant ``c``).
    """

    def __init__(
        self,
        n_tokens: int,
        n_users: int,
        item_dim: int,
        user_dim: int,
        max_len: int,
        num_layers: int,
        num_heads: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.item_dim = item_dim
        self.embed = SequenceEmbedding(
            n_tokens, item_dim, max_len, dropout, positions=False, sparse=True
        )
        self.users = UserInjection(n_users, user_dim, sparse=True)
        self.position = nn.Embedding(max_len, item_dim + user_dim)
        self.encoder = TransformerEncoder(
            item_dim + user_dim, num_layers, num_heads, None, dropout, True
        )
        self.dropout = make_dropout(dropout)
        self.bias = nn.Parameter(torch.zeros(n_tokens, 1))
        self.max_len = max_len

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        x, mask = self.embed(seq)
        x = self.users(x, users)
        pos = torch.arange(self.max_len - seq.shape[1], self.max_len, device=seq.device)
        x = self.dropout(x + self.position(pos)[None]) * mask.unsqueeze(-1)
        return self.encoder(x, mask)

    def query(
        self, h: torch.Tensor, users: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        u = self.users.user_vectors(users)
        if h.dim() == 3:
            u = u.unsqueeze(1)
        return h[..., : self.item_dim], (h[..., self.item_dim :] * u).sum(-1)

    def output(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.embed.items.weight, self.bias


class GRU4RecNetwork(_TiedOutput):
    """GRU4Rec (Hidasi et al., ICLR 2016): a GRU over item embeddings, projected back to ``d``."""

    def __init__(
        self,
        n_tokens: int,
        dim: int,
        max_len: int,
        hidden_dim: int,
        num_layers: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embed = SequenceEmbedding(
            n_tokens, dim, max_len, dropout, positions=False, scale=False, sparse=True
        )
        self.encoder = GRUEncoder(dim, hidden_dim, num_layers, dropout)
        self.project = nn.Linear(hidden_dim, dim) if hidden_dim != dim else nn.Identity()
        self.bias = nn.Parameter(torch.zeros(n_tokens, 1))

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        x, mask = self.embed(seq)
        return self.project(self.encoder(x, mask))


class NextItNetNetwork(_TiedOutput):
    """NextItNet (Yuan et al., WSDM 2019): dilated causal residual convolutions."""

    def __init__(
        self,
        n_tokens: int,
        dim: int,
        max_len: int,
        dilations: list[int],
        repeat: int,
        kernel_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embed = SequenceEmbedding(
            n_tokens, dim, max_len, dropout, positions=False, scale=False, sparse=True
        )
        self.encoder = NextItNetEncoder(dim, dilations, repeat, kernel_size)
        self.bias = nn.Parameter(torch.zeros(n_tokens, 1))

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        x, mask = self.embed(seq)
        return self.encoder(x, mask)


class CaserNetwork(nn.Module):
    """Caser (Tang & Wang, WSDM 2018): convolutions over the last ``window`` items, the user's
    embedding beside them, and a separate output table ``[n_tokens, 2d]`` with a bias."""

    def __init__(
        self,
        n_tokens: int,
        n_users: int,
        dim: int,
        max_len: int,
        window: int,
        n_h: int,
        n_v: int,
        dropout: float,
        activation: str,
    ) -> None:
        super().__init__()
        self.embed = SequenceEmbedding(
            n_tokens, dim, max_len, 0.0, positions=False, scale=False, sparse=True
        )
        self.encoder = CaserConv(dim, window, n_h, n_v, dim, dropout, activation)
        self.users = UserInjection(n_users, dim, sparse=True)
        self.out = nn.Embedding(n_tokens, 2 * dim, sparse=True)
        nn.init.normal_(self.out.weight, std=(2 * dim) ** -0.5)
        self.bias = nn.Parameter(torch.zeros(n_tokens, 1))

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        x, mask = self.embed(seq)
        return self.encoder(x, mask)

    def query(
        self, h: torch.Tensor, users: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        u = self.users.user_vectors(users)
        if h.dim() == 3:
            u = u.unsqueeze(1).expand(-1, h.shape[1], -1)
        return torch.cat([h, u], dim=-1), None

    def output(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.out.weight, self.bias


def _gather(table: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` with a sparse gradient (only the gathered rows are touched)."""
    return F.embedding(tokens, table, sparse=True)


def logits_for(
    network: Any, q: torch.Tensor, c: torch.Tensor | None, tokens: torch.Tensor
) -> torch.Tensor:
    """Logits of ``tokens`` for rows ``q``: ``tokens`` ``[N]`` (one per row) gives ``[N]``,
    ``[1, K]`` (``K`` tokens shared by every row) gives ``[N, K]``."""
    table, bias = network.output()
    if tokens.dim() == 1:
        out = (q * _gather(table, tokens)).sum(-1)
        if bias is not None:
            out = out + _gather(bias, tokens).squeeze(1)
        return out if c is None else out + c
    out = q @ _gather(table, tokens[0]).T
    if bias is not None:
        out = out + _gather(bias, tokens[0]).squeeze(1)
    return out if c is None else out + c.unsqueeze(-1)


#: Bytes of logits the full softmax holds at a time (one block of item columns).
_SOFTMAX_BLOCK_BYTES = 8 << 20


class _BlockedSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy of rows ``q`` over every row of ``table`` (the items),
    computed block by block of items: the ``[N, n_items]`` logits never exist at once.

    Forward keeps a running log-sum-exp per row; backward recomputes each block's logits,
    turns them into probabilities with the saved log-sum-exp and adds their gradients.
    Values and gradients are those of ``F.cross_entropy(q @ table.T + bias, targets)`` up
    to float rounding, with a few MB of logits in flight instead of ``4 * N * n_items``
    bytes (about 190 MB for 870 positions and 54,542 items), and faster on CPU, where the
    whole matrix does not stay in cache.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        q: torch.Tensor,
        table: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        block: int,
    ) -> torch.Tensor:
        with torch.autocast(q.device.type, enabled=False):
            q, table = q.float(), table.float()
            bias = None if bias is None else bias.float()
            lse = torch.full((q.shape[0],), float("-inf"), device=q.device)
            for start in range(0, table.shape[0], block):
                logits = _block_logits(q, table, bias, start, block)
                lse = torch.logaddexp(lse, torch.logsumexp(logits, dim=1))
            positive = (q * table[targets]).sum(1)
            if bias is not None:
                positive = positive + bias[targets]
            ctx.save_for_backward(q, table, bias, targets, lse)
            ctx.block = block
            return (lse - positive).mean()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        q, table, bias, targets, lse = ctx.saved_tensors
        need_q, need_table, need_bias = ctx.needs_input_grad[:3]
        n, block = q.shape[0], ctx.block
        scale = grad.float() / n
        with torch.autocast(q.device.type, enabled=False):
            grad_q = torch.zeros_like(q) if need_q else None
            grad_table = torch.empty_like(table) if need_table else None
            grad_bias = torch.empty_like(bias) if need_bias and bias is not None else None
            for start in range(0, table.shape[0], block):
                stop = min(start + block, table.shape[0])
                # d loss / d logits = (softmax - one-hot) / n; the one-hot part comes after
                p = _block_logits(q, table, bias, start, block).sub_(lse[:, None]).exp_()
                p.mul_(scale)
                if grad_q is not None:
                    grad_q.addmm_(p, table[start:stop])
                if grad_table is not None:
                    torch.mm(p.T, q, out=grad_table[start:stop])
                if grad_bias is not None:
                    torch.sum(p, dim=0, out=grad_bias[start:stop])
            if grad_q is not None:
                grad_q.sub_(table[targets] * scale)
            if grad_table is not None:
                grad_table.index_add_(0, targets, q * -scale)
            if grad_bias is not None:
                grad_bias.index_add_(0, targets, (-scale).expand(n).contiguous())
        return grad_q, grad_table, grad_bias, None, None


def _block_logits(
    q: torch.Tensor, table: torch.Tensor, bias: torch.Tensor | None, start: int, block: int
) -> torch.Tensor:
    rows = table[start : start + block]
    if bias is None:
        return q @ rows.T
    return torch.addmm(bias[start : start + block], q, rows.T)


def full_softmax_loss(
    network: Any, q: torch.Tensor, n_items: int, targets: torch.Tensor
) -> torch.Tensor:
    """Mean softmax cross-entropy of each row's target token over all ``n_items`` items
    (tokens ``1..n_items``), computed in blocks of items (:class:`_BlockedSoftmaxCrossEntropy`).

    A network's per-row constant ``c`` (SSE-PT's user term) adds the same amount to every
    logit of a row and cancels in the softmax, so it is not an input. The item table and
    bias keep their sparse gradients (every item row is touched).
    """
    table, bias = network.output()
    tokens = torch.arange(1, n_items + 1, device=q.device)
    rows = _gather(table, tokens)
    bias_rows = None if bias is None else _gather(bias, tokens).squeeze(1)
    block = max(256, min(n_items, _SOFTMAX_BLOCK_BYTES // (4 * max(q.shape[0], 1))))
    return _BlockedSoftmaxCrossEntropy.apply(q, rows, bias_rows, targets - 1, block)


def sparse_parameters(network: nn.Module) -> list[nn.Parameter]:
    """The parameters that receive sparse gradients: every sparse embedding table and the
    output bias (gathered by :func:`logits_for`)."""
    params = [m.weight for m in network.modules() if isinstance(m, nn.Embedding) and m.sparse]
    bias = getattr(network, "bias", None)
    if isinstance(bias, nn.Parameter):
        params.append(bias)
    return params


__all__ = [
    "CaserNetwork",
    "GRU4RecNetwork",
    "NextItNetNetwork",
    "SASRecNetwork",
    "SSEPTNetwork",
    "full_softmax_loss",
    "logits_for",
    "sparse_parameters",
]
