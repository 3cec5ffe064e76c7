"""Eager-mode shortcuts that keep torch's compiler stack (``torch._dynamo``) unloaded.

Importing ``torch._dynamo`` costs about a second on a warm machine and several seconds on
a cold one (it pulls in sympy, the FX symbolic-shape machinery and the inductor's rules),
and eager torch loads it on first use in two places recutils meets in every fit:

* ``Optimizer.add_param_group``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` are
  wrapped by ``torch._disable_dynamo``, and the ``step`` of Adam, AdamW, Adagrad, SGD and
  RMSprop by a wrapper that calls ``torch._dynamo.graph_break()``; both import the compiler
  on their first call, in a process that never compiles anything;
* most operations on ``meta`` tensors (random initialisers, even ``add``) run torch's
  Python reference kernels, also wrapped by ``torch._disable_dynamo``; the parameter-count
  check used to build every network on the ``meta`` device first.

Both wrappers only matter while ``torch.compile`` is tracing, and tracing needs
``torch._dynamo`` loaded. :func:`optimizer_class` therefore gives subclasses of torch's
optimizers whose wrapped methods call the plain function while ``torch._dynamo`` is not in
``sys.modules`` and torch's own wrapper otherwise (so code that does compile keeps torch's
behaviour). :func:`allocation_budget` lets a network be built for real while refusing,
before the allocation, any tensor that would take the total past a budget: the cheap
first check, after which only a network that trips it is counted exactly on the ``meta``
device (:func:`shapes_only`, which also skips the initialisers there). A fresh process
then fits a small deep model without loading the compiler.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TypeVar

from recutils.utils.deps import require

torch = require("torch", "torch")
from torch.overrides import TorchFunctionMode  # noqa: E402

__all__ = ["BudgetExceeded", "allocation_budget", "dynamo_loaded", "optimizer_class", "shapes_only"]

_DYNAMO = "torch._dynamo"
# Optimizer methods torch wraps with ``torch._disable_dynamo`` (the wrapper keeps the
# plain function as ``__wrapped__``).
_GUARDED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")

OptimizerT = TypeVar("OptimizerT", bound=torch.optim.Optimizer)
_CLASSES: dict[type, type] = {}


def dynamo_loaded() -> bool:
    """Whether ``torch._dynamo`` has been imported in this process (by anyone)."""
    return _DYNAMO in sys.modules


def _plain(cls: type, name: str) -> Any:
    """The undecorated function behind torch's wrapper of ``cls.name``, or ``None``."""
    fn = getattr(cls, name, None)
    return getattr(fn, "__wrapped__", None)


def _shortcut(name: str, plain: Any) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if dynamo_loaded():
            return getattr(_base_of(self), name)(self, *args, **kwargs)
        return plain(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"torch's ``{name}``, without loading torch._dynamo while nothing compiles."
    return method


def _base_of(optimizer: Any) -> type:
    """The torch optimizer class an :func:`optimizer_class` subclass derives from."""
    return type(optimizer)._recutils_base


def _step_shortcut(guarded_step: Any, plain_step: Any) -> Any:
    def step(self: Any, closure: Any = None) -> Any:
        if dynamo_loaded():
            return guarded_step(self, closure)
        # what torch's ``_use_grad_for_differentiable`` does, minus the graph breaks
        previous = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(bool(self.defaults.get("differentiable", False)))
            return plain_step(self, closure)
        finally:
            torch.set_grad_enabled(previous)

    step.__doc__ = "torch's ``step``, without loading torch._dynamo while nothing compiles."
    return step


def _guarded_step(cls: type) -> tuple[Any, Any]:
    """torch's ``_use_grad_for_differentiable`` wrapper of ``cls.step`` and the plain step
    inside it, found through any wrappers around it (torch's profiler hook wraps ``step``
    once an instance exists); ``(None, None)`` when ``step`` has no such wrapper."""
    fn = getattr(cls, "step", None)
    while fn is not None:
        code = getattr(fn, "__code__", None)
        if code is not None and code.co_name == "_use_grad" and hasattr(fn, "__wrapped__"):
            return fn, fn.__wrapped__
        fn = getattr(fn, "__wrapped__", None)
    return None, None


def optimizer_class(cls: type[OptimizerT]) -> type[OptimizerT]:
    """A subclass of the torch optimizer ``cls`` that leaves ``torch._dynamo`` unloaded.

    Instances are ``cls`` instances (``isinstance`` holds, state dicts are the same) and
    compute exactly what ``cls`` computes. Methods torch did not wrap, or wraps in a way
    this function does not recognise, are inherited unchanged.
    """
    if cls in _CLASSES:
        return _CLASSES[cls]
    namespace: dict[str, Any] = {
        "_recutils_base": cls,
        "__module__": __name__,
        "__doc__": f"{cls.__name__} that does not load torch._dynamo until something compiles.",
    }
    for name in _GUARDED:
        plain = _plain(cls, name)
        if plain is not None:
            namespace[name] = _shortcut(name, plain)
    # only the ``_use_grad_for_differentiable`` wrapper is replaced (it is the one that
    # imports the compiler); e.g. SparseAdam's ``torch.no_grad`` step is inherited as is
    guarded_step, plain_step = _guarded_step(cls)
    if plain_step is not None:
        namespace["step"] = _step_shortcut(guarded_step, plain_step)
    sub = type(cls.__name__, (cls,), namespace)
    _CLASSES[cls] = sub
    return sub  # type: ignore[return-value]


class _SkipInitializers(TorchFunctionMode):
    """Return meta tensors unchanged from in-place operations (the initialisers)."""

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.endswith("__"):
            first = args[0] if args else next(iter(kwargs.values()), None)
            if isinstance(first, torch.Tensor) and first.is_meta:
                return first
        return func(*args, **kwargs)


@contextlib.contextmanager
def shapes_only() -> Iterator[None]:
    """Build modules on the ``meta`` device, skipping their initialisers.

    Inside the block new parameters and buffers have shapes and no memory; in-place
    operations on meta tensors (``normal_``, ``uniform_``, ``zero_``, ``fill_`` ...) return
    their input, so no random number is drawn and torch's compiler stack stays unloaded.
    """
    with torch.device("meta"), _SkipInitializers():
        yield


class BudgetExceeded(Exception):
    """Raised inside :func:`allocation_budget` by the constructor call that would pass it."""

    def __init__(self, total: int, budget: int) -> None:
        super().__init__(f"{total:,} elements requested, budget {budget:,}")
        self.total = total
        self.budget = budget


class _CountAllocations(TorchFunctionMode):
    """Count the elements of every tensor a factory function creates; stop before the budget."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = int(budget)
        self.total = 0
        from torch.utils._device import _device_constructors

        self._constructors = _device_constructors()

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if func in self._constructors:
            # the same call on the meta device gives the size without allocating
            size = func(*args, **{**kwargs, "device": "meta"}).numel()
            if self.total + size > self.budget:
                raise BudgetExceeded(self.total + size, self.budget)
            self.total += size
        return func(*args, **kwargs)


@contextlib.contextmanager
def allocation_budget(budget: int) -> Iterator[_CountAllocations]:
    """Refuse, before allocating it, a tensor that takes the elements created in the block past ``budget``.

    Every tensor made by a torch factory function (``empty``, ``zeros``, ``randn`` ...) in
    the block counts, parameters and temporaries alike, so the count bounds the
    parameters from above. Raises :class:`BudgetExceeded` from the offending call.
    """
    mode = _CountAllocations(budget)
    with mode:
        yield mode
