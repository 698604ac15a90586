"""Transactions and their secrets: codec, keys, ballots, MPC programs, worker, CLI."""
