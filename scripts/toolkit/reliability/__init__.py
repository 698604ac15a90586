"""Reliability scenarios for an mpcvote testnet: faults under load, invariants after each.

The voters are the toolkit's one load generator (`toolkit.load.Load`, with waves and resends).
Modules, in dependency order:

- `procs`     — start, kill, stop and freeze testnet processes; record every exit and panic
- `checks`    — invariants: committed ballots in every node's state, app hashes, outcomes
- `netns`     — network namespaces joined by a bridge; partition and heal one validator
- `harness`   — one testnet under test: polls, runs, fault records
- `byzantine` — scenario 5: a validator that attests wrongly, twice, for others, with the wrong key
- `hostile`   — hostile ballots built from the protocol package (bad share, bad proof, oracle)
- `ballots`   — scenario 7: invalid ballots from a proposer, bad-share ballots, false complaints
- `scenarios` — the seven scenarios, and how many runs of each
- `report`    — the table and the JSON summary
- `cli`       — `scripts/reliability [--quick] [--json]`
"""
