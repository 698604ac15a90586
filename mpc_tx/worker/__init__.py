"""A validator's worker: follows its node; posts a tally's aggregate pairs, or runs a unanimity poll's MPC job.

- ``follower``  the Worker: follows the node (blocks, ballots, its websocket), complains, posts, starts attempts
- ``shares``    opens and checks its share of each ballot (both halves of each pair); the counted set's digest
- ``complaints`` the complaints it posted, stored durably before they are sent
- ``aggregates`` a tally's aggregate pairs: computed, checked against the chain's aggregate, stored before sent
- ``durable``   private files written once (fsync'd): what a restarted worker sends again
- ``schedule``  which attempt runs when: pure functions of heights and poll fields
- ``polljob``   one PollJob per poll (record, shares, attempts, state); an attempt's MPC job
- ``attest``    attestations, complaints and aggregate posts, signed and submitted through the node

Rule: imports mpc_tx.protocol, mpc_tx.keyfile, mpc_tx.client.rpc and mpc_tx.mpc; never the CLI.
"""
