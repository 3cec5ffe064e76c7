"""Multi-task backbone components: MMoE, CGC / PLE, AITM's information transfer and a Gate.

* :class:`MMoE` (Ma et al. 2018, multi-gate mixture-of-experts): shared MLP experts, one
  softmax gate per task.
* :class:`CGC` / :class:`PLE` (Tang et al. 2020, customized gate control and progressive
  layered extraction): experts of each task plus shared experts; task ``t``'s gate mixes
  its own and the shared experts, a shared gate (every level but the last) mixes them all.
* :class:`AITMTransfer` (Xi et al. 2021, adaptive information transfer): the previous
  task's representation, transferred, attended together with the current task's.
* :class:`Gate` (EasyRec's ``Gate``): a softmax gate computed from its first input mixes
  the others.

:class:`MMoE`, :class:`CGC` and :class:`PLE` take one ``[B, d]`` tensor and return a
Python list of ``num_task`` tensors ``[B, h]`` (``h`` = ``output_dim``, the experts' last
width); a later block picks task ``t``'s with ``input_fn: 'lambda x: x[t]'``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recutils.nn.components._fields import flatten_inputs
from recutils.nn.components._torch import nn, torch
from recutils.nn.components.mlp import MLP


def _count(owner: str, name: str, value: int, minimum: int = 1) -> int:
    """``value`` as an int, or ValueError naming ``owner.name`` when it is below ``minimum``."""
    if int(value) < minimum:
        raise ValueError(f"{owner} needs {name} >= {minimum}, got {value}")
    return int(value)


def _experts(input_dim: int, count: int, expert_mlp: Mapping[str, Any]) -> nn.ModuleList:
    """``count`` MLP experts on ``[B, input_dim]`` built from ``expert_mlp`` (MLP's keyword arguments)."""
    return nn.ModuleList([MLP(input_dim, **dict(expert_mlp)) for _ in range(count)])


def _run_experts(experts: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    return [expert(x) for expert in experts]


def _mix(weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """``sum_e weights[:, e] * experts[:, e]``: ``[B, E]`` and ``[B, E, h]`` -> ``[B, h]``.

    Written as an element-wise product and a sum (not a batched matmul) so that one expert
    with weight 1 comes out exactly as it went in.
    """
    return (weights.unsqueeze(-1) * experts).sum(dim=1)


def _check_input(owner: str, x: Any, width: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[-1] != width:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{owner} expects one [batch, {width}] tensor, got {shape}")


class GateNetwork(nn.Module):
    """Softmax weights over ``num_expert`` experts: ``softmax(Linear(x))``, or
    ``softmax(Linear(MLP(x)))`` with a ``gate_mlp``.

    Args:
        input_dim: Width of ``x`` ``[B, input_dim]``.
        num_expert: Number of experts weighted.
        gate_mlp: Keyword arguments of an :class:`~recutils.nn.components.mlp.MLP` run
            before the last Linear layer (None: a single Linear layer, the papers' gate).
    """

    def __init__(
        self, input_dim: int, num_expert: int, gate_mlp: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.mlp = MLP(input_dim, **dict(gate_mlp)) if gate_mlp else None
        width = self.mlp.out_features if self.mlp is not None else int(input_dim)
        self.linear = nn.Linear(width, int(num_expert))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, input_dim] -> [B, num_expert]``, each row summing to 1."""
        if self.mlp is not None:
            x = self.mlp(x)
        return torch.softmax(self.linear(x), dim=-1)


class MMoE(nn.Module):
    """Multi-gate mixture-of-experts (Ma et al. 2018).

    ``num_expert`` MLP experts read the input; task ``t``'s gate ``g_t = softmax(W_t x)``
    (or ``W_t MLP_t(x)`` with ``gate_mlp``) weighs them: ``out_t = sum_e g_t,e * expert_e(x)``.

    Args:
        input_dim: Width of the input ``[B, input_dim]`` (filled in by the backbone).
        num_task: Number of tasks (one gate and one output each; 1 is allowed).
        num_expert: Number of shared experts.
        expert_mlp: Keyword arguments of each expert's
            :class:`~recutils.nn.components.mlp.MLP` (``hidden_units`` ...).
        gate_mlp: Keyword arguments of an MLP inside each gate, before its Linear layer.

    Output: a list of ``num_task`` tensors ``[B, output_dim]`` (the experts' last width).
    """

    def __init__(
        self,
        input_dim: int,
        num_task: int,
        num_expert: int,
        expert_mlp: Mapping[str, Any],
        gate_mlp: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.input_dim = int(input_dim)
        self.num_task = _count("MMoE", "num_task", num_task)
        self.num_expert = _count("MMoE", "num_expert", num_expert)
        self.experts = _experts(self.input_dim, self.num_expert, expert_mlp)
        self.gates = nn.ModuleList(
            [GateNetwork(self.input_dim, self.num_expert, gate_mlp) for _ in range(self.num_task)]
        )
        self.output_dim = self.experts[0].out_features

    def gate_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The gates' weights ``[num_task, B, num_expert]`` (rows sum to 1), for plotting."""
        _check_input("MMoE", x, self.input_dim)
        return torch.stack([gate(x) for gate in self.gates])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[B, input_dim]`` -> ``num_task`` tensors ``[B, output_dim]``."""
        _check_input("MMoE", x, self.input_dim)
        experts = torch.stack(_run_experts(self.experts, x), dim=1)  # [B, E, h]
        return [_mix(gate(x), experts) for gate in self.gates]


class CGC(nn.Module):
    """Customized gate control: one extraction layer of PLE (Tang et al. 2020).

    Each task has ``num_expert_per_task`` experts, all tasks share ``num_expert_share``
    more. Task ``t``'s gate ``softmax(W_t x_t)`` mixes its own experts and the shared ones
    (in that order); with ``shared_gate`` a shared gate ``softmax(W_s x_s)`` mixes every
    expert (task 1's, ..., task T's, then the shared ones) into the shared output that the
    next PLE level's shared experts read.

    Args:
        input_dim: Width of the inputs (filled in by the backbone).
        num_task: Number of tasks.
        num_expert_share: Shared experts (0 allowed when each task has experts).
        num_expert_per_task: Experts of each task (0 allowed when some are shared).
        expert_mlp: Keyword arguments of each expert's
            :class:`~recutils.nn.components.mlp.MLP`.
        shared_gate: Also return the shared gate's output, last (PLE's inner levels).

    Input: one ``[B, input_dim]`` tensor (every task and the shared experts read it) or the
    list ``[x_1, ..., x_T, x_shared]`` of a previous level's outputs.
    Output: a list of ``num_task`` tensors ``[B, output_dim]`` (plus the shared one with
    ``shared_gate``).
    """

    def __init__(
        self,
        input_dim: int,
        num_task: int,
        num_expert_share: int,
        num_expert_per_task: int,
        expert_mlp: Mapping[str, Any],
        shared_gate: bool = False,
    ) -> None:
        super().__init__()
        self.input_dim = int(input_dim)
        self.num_task = _count("CGC", "num_task", num_task)
        self.num_expert_share = _count("CGC", "num_expert_share", num_expert_share, minimum=0)
        self.num_expert_per_task = _count(
            "CGC", "num_expert_per_task", num_expert_per_task, minimum=0
        )
        if self.num_expert_share + self.num_expert_per_task == 0:
            raise ValueError(
                "CGC needs experts: num_expert_share and num_expert_per_task are both 0"
            )
        self.task_experts = nn.ModuleList(
            [
                _experts(self.input_dim, self.num_expert_per_task, expert_mlp)
                for _ in range(self.num_task)
            ]
        )
        self.shared_experts = _experts(self.input_dim, self.num_expert_share, expert_mlp)
        per_gate = self.num_expert_per_task + self.num_expert_share
        self.task_gates = nn.ModuleList(
            [GateNetwork(self.input_dim, per_gate) for _ in range(self.num_task)]
        )
        total = self.num_task * self.num_expert_per_task + self.num_expert_share
        self.shared_gate = GateNetwork(self.input_dim, total) if shared_gate else None
        some = self.shared_experts[0] if self.num_expert_share else self.task_experts[0][0]
        self.output_dim = some.out_features

    def _inputs(self, x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``[x_1, ..., x_T, x_shared]`` from one tensor or such a list."""
        xs = [x] * (self.num_task + 1) if isinstance(x, torch.Tensor) else list(x)
        if len(xs) != self.num_task + 1:
            raise ValueError(
                f"CGC expects one tensor or {self.num_task + 1} tensors (one per task, then the "
                f"shared one), got {len(xs)}"
            )
        for part in xs:
            _check_input("CGC", part, self.input_dim)
        return xs

    def extract(
        self, x: torch.Tensor | Sequence[torch.Tensor]
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The outputs (as :meth:`forward`) and the task gates' weights ``[T, B, E_t]``."""
        xs = self._inputs(x)
        shared = _run_experts(self.shared_experts, xs[-1])
        own = [_run_experts(experts, xs[t]) for t, experts in enumerate(self.task_experts)]
        outputs, weights = [], []
        for t, gate in enumerate(self.task_gates):
            w = gate(xs[t])
            outputs.append(_mix(w, torch.stack(own[t] + shared, dim=1)))
            weights.append(w)
        if self.shared_gate is not None:
            every = [e for task in own for e in task] + shared
            outputs.append(_mix(self.shared_gate(xs[-1]), torch.stack(every, dim=1)))
        return outputs, torch.stack(weights)

    def gate_weights(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """The task gates' weights ``[num_task, B, num_expert_per_task + num_expert_share]``."""
        return self.extract(x)[1]

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """One tensor (or ``T + 1``) -> ``num_task`` tensors ``[B, output_dim]`` (+ the shared one)."""
        return self.extract(x)[0]


class PLE(nn.Module):
    """Progressive layered extraction (Tang et al. 2020): ``num_level`` stacked :class:`CGC` layers.

    Level 1 reads the input; level ``l`` reads level ``l - 1``'s task outputs (task ``t``'s
    experts and gate read task ``t``'s) and its shared output (the shared experts and gate
    read it). Every level but the last has a shared gate; the last returns the task outputs.
    ``PLE`` with ``num_level=1`` is one :class:`CGC`.

    Args:
        input_dim: Width of the input ``[B, input_dim]`` (filled in by the backbone).
        num_task: Number of tasks.
        num_level: Number of extraction layers.
        num_expert_share: Shared experts per level.
        num_expert_per_task: Experts of each task per level.
        expert_mlp: Keyword arguments of each expert's
            :class:`~recutils.nn.components.mlp.MLP` (the same at every level).

    Output: a list of ``num_task`` tensors ``[B, output_dim]``.
    """

    def __init__(
        self,
        input_dim: int,
        num_task: int,
        num_level: int,
        num_expert_share: int,
        num_expert_per_task: int,
        expert_mlp: Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.input_dim = int(input_dim)
        self.num_level = _count("PLE", "num_level", num_level)
        levels = []
        width = self.input_dim
        for level in range(self.num_level):
            layer = CGC(
                width,
                num_task,
                num_expert_share,
                num_expert_per_task,
                expert_mlp,
                shared_gate=level < self.num_level - 1,
            )
            levels.append(layer)
            width = layer.output_dim
        self.levels = nn.ModuleList(levels)
        self.num_task = self.levels[0].num_task
        self.output_dim = width

    def _run(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        _check_input("PLE", x, self.input_dim)
        values: torch.Tensor | list[torch.Tensor] = x
        weights = []
        for level in self.levels:
            values, w = level.extract(values)
            weights.append(w)
        return values, weights  # type: ignore[return-value]

    def gate_weights(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per level, the task gates' weights ``[num_task, B, num_expert_per_task + num_expert_share]``."""
        return self._run(x)[1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[B, input_dim]`` -> ``num_task`` tensors ``[B, output_dim]``."""
        return self._run(x)[0]


class AITMTransfer(nn.Module):
    """Adaptive information transfer (AIT) of AITM (Xi et al. 2021).

    With ``p`` = the previous task's representation and ``q`` = the current task's, both
    ``[B, d]``: ``p' = ReLU(W p + b)`` (the transfer), then each ``u`` of ``{p', q}`` scores
    ``<Q u, K u> / sqrt(d)``, the scores are softmax-normalized over the two, and the output
    is ``sum_u w_u V u`` ``[B, d]``.

    Args:
        input_dim: Width ``d`` of both inputs.
        input_dims: The two inputs' widths (filled in by the backbone; must be equal).

    Input: the list ``[p, q]``. Output ``[B, d]``.
    """

    def __init__(
        self, input_dim: int | None = None, input_dims: Sequence[int] | None = None
    ) -> None:
        super().__init__()
        if input_dims is None:
            if input_dim is None:
                raise ValueError("AITMTransfer needs input_dim (or the backbone's input_dims)")
            input_dims = [input_dim, input_dim]
        widths = [int(w) for w in input_dims]
        if len(widths) != 2 or widths[0] != widths[1] or widths[0] < 1:
            raise ValueError(
                f"AITMTransfer takes two inputs of one width, [previous task [batch, d], this task "
                f"[batch, d]] (give the block merge_inputs_into_list: true), got widths {widths}"
            )
        if input_dim is not None and int(input_dim) != widths[0]:
            raise ValueError(
                f"AITMTransfer: input_dim {input_dim} disagrees with input_dims {widths}"
            )
        d = self.input_dim = widths[0]
        self.transfer = nn.Sequential(nn.Linear(d, d), nn.ReLU())
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.output_dim = d

    def _stacked(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        parts = flatten_inputs(xs)
        if len(parts) != 2 or any(p.dim() != 2 or p.shape[-1] != self.input_dim for p in parts):
            raise ValueError(
                f"AITMTransfer expects [p [batch, {self.input_dim}], q [batch, {self.input_dim}]], "
                f"got {[list(p.shape) for p in parts]}"
            )
        return torch.stack([self.transfer(parts[0]), parts[1]], dim=1)  # [B, 2, d]

    def _attention(self, u: torch.Tensor) -> torch.Tensor:
        scores = (self.query(u) * self.key(u)).sum(dim=-1) / self.input_dim**0.5  # [B, 2]
        return torch.softmax(scores, dim=-1)

    def attention_weights(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The weights ``[B, 2]`` of (transferred ``p``, ``q``); rows sum to 1."""
        return self._attention(self._stacked(xs))

    def forward(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``[p, q]`` -> ``[B, d]``."""
        u = self._stacked(xs)
        return _mix(self._attention(u), self.value(u))


class Gate(nn.Module):
    """EasyRec's ``Gate``: ``sum_i softmax(W g)_i * expert_i``.

    Args:
        input_dims: Widths of the inputs ``[gate input d, expert width h, ..., h]`` (filled
            in by the backbone; a ``[B, n, h]`` input counts as ``n`` experts).

    Input: the list ``[g [B, d], expert_1 [B, h], ..., expert_n [B, h]]`` (experts may come
    stacked as ``[B, n, h]``). Output ``[B, h]``; with one expert, that expert exactly.
    """

    def __init__(self, input_dims: Sequence[int]) -> None:
        super().__init__()
        dims = [int(d) for d in input_dims]
        if len(dims) < 2:
            raise ValueError(
                f"Gate takes [gate input, expert_1, ..., expert_n] (give the block "
                f"merge_inputs_into_list: true), got {len(dims)} input(s)"
            )
        if any(d != dims[1] for d in dims[2:]):
            raise ValueError(f"Gate needs experts of one width, got widths {dims[1:]}")
        self.input_dim, self.num_expert, self.output_dim = dims[0], len(dims) - 1, dims[1]
        self.linear = nn.Linear(self.input_dim, self.num_expert)

    def _split(self, xs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(gate input ``[B, d]``, experts stacked ``[B, n, h]``), checked against the build widths."""
        parts = flatten_inputs(xs)
        shapes = [list(p.shape) for p in parts]
        if (
            len(parts) >= 2
            and parts[0].dim() == 2
            and parts[0].shape[-1] == self.input_dim
            and all(p.dim() in (2, 3) and p.shape[-1] == self.output_dim for p in parts[1:])
        ):
            experts = torch.cat([p.unsqueeze(1) if p.dim() == 2 else p for p in parts[1:]], dim=1)
            if experts.shape[1] == self.num_expert:
                return parts[0], experts
        raise ValueError(
            f"Gate was built for [gate [batch, {self.input_dim}], {self.num_expert} experts "
            f"[batch, {self.output_dim}]], got {shapes}"
        )

    def gate_weights(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The weights ``[B, n]`` over the experts; rows sum to 1."""
        return torch.softmax(self.linear(self._split(xs)[0]), dim=-1)

    def forward(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``[g, expert_1, ..., expert_n]`` -> ``[B, h]``."""
        gate_input, experts = self._split(xs)
        return _mix(torch.softmax(self.linear(gate_input), dim=-1), experts)


__all__ = ["AITMTransfer", "CGC", "Gate", "GateNetwork", "MMoE", "PLE"]
