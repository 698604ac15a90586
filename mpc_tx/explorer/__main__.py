"""python -m mpc_tx.explorer: the same as `mpcvote explorer`."""
import sys

from .cli import main

sys.exit(main())
