"""Everything outside the state machine, one subpackage per audience.

- ``protocol``  what every party must agree on byte for byte (no I/O, no MPyC)
- ``client``    the voter's side: RPC, ballots, light client, the ``mpcvote`` CLI
- ``worker``    the validator's side: follows the chain, runs MPC jobs, attests
- ``mpc``       the MPC child process: job, runtime (MPyC), programs, TLS, local jobs
- ``explorer``  the web explorer
- ``keyfile``   key files on disk (shared by client, worker and node_config)

Rule: ``protocol`` imports nothing from the other subpackages; ``abci_app`` imports only
``protocol``; nothing here imports ``scripts`` or ``tests``.
"""
