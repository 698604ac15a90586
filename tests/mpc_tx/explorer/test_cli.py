"""`mpcvote explorer`'s options and listen address."""

import pytest

from mpc_tx.client.cli import _parser
from mpc_tx.explorer.server import parse_listen


def test_cli_takes_several_nodes_and_a_listen_address():
    args = _parser().parse_args(["explorer", "--node", "http://a:1", "--node", "http://b:2", "--listen", "127.0.0.1:9"])
    assert args.node == ["http://a:1", "http://b:2"] and args.listen == "127.0.0.1:9"
    assert _parser().parse_args(["explorer"]).listen == "127.0.0.1:8080"
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    for bad in ("8080", "host:", ":80", "h:99999"):
        with pytest.raises(ValueError):
            parse_listen(bad)
