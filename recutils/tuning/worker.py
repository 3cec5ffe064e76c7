"""``python -m recutils.tuning.worker``: the ``recutils tune-worker`` command by its older path.

The command lives in :mod:`recutils.cli.tune_worker`; the same arguments and exit
status apply.
"""

from __future__ import annotations

import sys

from recutils.cli.tune_worker import add_arguments, build_parser, main, read_frame, run, run_command

__all__ = ["add_arguments", "build_parser", "main", "read_frame", "run", "run_command"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
