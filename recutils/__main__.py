"""``python -m recutils``: the ``recutils`` command line (see :mod:`recutils.cli`)."""

import sys

from recutils.cli import main

if __name__ == "__main__":
    sys.exit(main())
