"""The explorer's reading of the chain: search terms and finding the latest poll, without a node."""

import pytest

from mpc_tx.explorer.chain import parse_search, BadInput


def test_search_terms():
    assert parse_search(" 42 ") == {"number": 42}
    assert parse_search("0x" + "Ab" * 32) == {"hex": "Ab" * 32}
    with pytest.raises(BadInput):
        parse_search("ab" * 31)


def test_home_lists_the_latest_polls():
    from mpc_tx.explorer.chain import _last_poll_id
    from mpc_tx.client.rpc import QueryError

    class Polls:
        def __init__(self, n):
            self.n, self.reads = n, 0

        def query(self, path):
            self.reads += 1
            poll_id = int(path.rsplit("/", 1)[1])
            if poll_id > self.n:
                raise QueryError(20, "no poll", 1)
            return {"id": poll_id}, 1

    for n in (0, 1, 2, 3, 100, 1000, 4097):
        rpc = Polls(n)
        assert _last_poll_id(rpc) == n and rpc.reads <= 2 * n.bit_length() + 2
