"""The verifiable-ballot protocol: what every party must agree on byte for byte.

The rule of this package: its modules import nothing outside ``mpc_tx.protocol``
(and the standard library and the pinned crypto packages), do no I/O, and never
import MPyC. Only ``group`` touches the curve library. docs/PROTOCOL.md is the
specification; tests/vectors/ holds the vectors a second implementation must
reproduce.
"""

__all__: list[str] = []
