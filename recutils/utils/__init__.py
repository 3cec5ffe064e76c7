"""Small utilities shared by every recutils module."""

from recutils.utils.timer import Timer

__all__ = ["Timer"]
