"""python -m mpc_tx.explorer: the same as `mpcvote explorer` (what `make explorer` runs)."""

import sys

from mpc_tx.explorer.cli import main

__all__ = []

sys.exit(main())
