"""The replicated state machine: an ABCI 2.0 server and the mpcvote application behind it.

Rule: abci_app imports only ``mpc_tx.protocol`` of our packages (never the client, the
worker or the MPC layer), so what every node must compute alike depends on nothing else.

- ``abci``      the socket: generated protobuf classes, framing, server, BaseApplication
- ``handlers``  one module per transaction family: polls, ballots, outcomes
- ``store``     LevelDB and its overlays, the key layout, the app hash
- ``app``       the ABCI methods; ``execution`` applies one tx; ``queries`` answers reads
"""
