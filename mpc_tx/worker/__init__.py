"""A validator's worker: follows its node, runs one MPC job per closed poll, attests the outcome.

- ``follower``  the Worker: follows the node (blocks, ballots, its websocket), complains, starts attempts
- ``shares``    opens and checks its share of each ballot; the counted set's digest
- ``complaints`` the complaints it posted, stored durably before they are sent
- ``schedule``  which attempt runs when: pure functions of heights and poll fields
- ``polljob``   one PollJob per poll (record, shares, attempts, state); an attempt's MPC job
- ``attest``    payloads from mpc_tx.protocol.outcome and complaints, signed and submitted through the node

Rule: imports mpc_tx.protocol, mpc_tx.keyfile, mpc_tx.client.rpc and mpc_tx.mpc; never the CLI.
"""
