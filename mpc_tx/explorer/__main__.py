"""python -m mpc_tx.explorer: the same as `mpcvote explorer` (what `make explorer` runs)."""
import sys

from .cli import main

__all__ = []

sys.exit(main())
