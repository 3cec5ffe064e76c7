"""What every public metric function shares: the keyword check and the final touches.

Microsoft Recommenders' ranking functions end in ``**_`` so that one keyword set can be
passed to all of them; the price is that a misspelt keyword is silently ignored
(``precision_at_k(truth, pred, top_k=5)`` computed precision@10). Here every public
metric function names the keywords it accepts, and :func:`public_function` makes an
unknown keyword raise :class:`UnknownKeywordError` naming it and the accepted ones.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

from recutils.exceptions import UnknownKeywordError

F = TypeVar("F", bound=Callable)

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def reject_unknown_keywords(func: F) -> F:
    """Wrap ``func`` so that a keyword outside its signature raises :class:`UnknownKeywordError`.

    The wrapper keeps ``func``'s name, docstring and signature (``inspect.signature``
    follows ``__wrapped__``); the accepted names are read once, here.
    """
    accepted = [name for name, p in inspect.signature(func).parameters.items() if p.kind in _NAMED]
    accepted_set = frozenset(accepted)

    @functools.wraps(func)
    def checked(*args, **kwargs):
        unknown = kwargs.keys() - accepted_set
        if unknown:
            raise UnknownKeywordError(
                f"{func.__name__}() got unknown keyword argument(s) {sorted(unknown)}; "
                f"it accepts {accepted}."
            )
        return func(*args, **kwargs)

    return checked  # type: ignore[return-value]


def public_function(func: F, name: str, doc: str, module: str) -> F:
    """Name, document and keyword-check a function made by a metric factory.

    ``func`` gets ``__name__``/``__qualname__`` ``name``, docstring ``doc`` and module
    ``module``, so that it pickles, prints and documents as if written with ``def name``
    in ``module`` (which must bind it to ``name``).
    """
    func.__name__ = func.__qualname__ = name
    func.__doc__ = inspect.cleandoc(doc)
    func.__module__ = module
    return reject_unknown_keywords(func)


__all__ = ["UnknownKeywordError", "reject_unknown_keywords", "public_function"]
