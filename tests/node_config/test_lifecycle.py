"""Tests of node_config.lifecycle without processes: what wait_height shows while it waits."""

import json

from node_config import lifecycle


class FakeRpc:
    def __init__(self, heights):
        self.heights = heights

    def height(self):
        return self.heights.pop(0) if len(self.heights) > 1 else self.heights[0]


def fake_net(tmp_path, monkeypatch, heights):
    (tmp_path / "testnet.json").write_text(
        json.dumps(
            {
                "chain_id": "c",
                "validators": [
                    {"name": f"node{i}", "home": str(tmp_path / f"node{i}"), "ports": {"rpc": 1}} for i in range(2)
                ],
            }
        )
    )
    net = lifecycle.Testnet(tmp_path)
    rpcs = [FakeRpc(list(h)) for h in heights]
    monkeypatch.setattr(net, "rpc", lambda i: rpcs[i])
    monkeypatch.setattr("node_config.lifecycle.time.sleep", lambda s: None)
    return net


def test_wait_height_piped_says_only_the_result(tmp_path, monkeypatch, capsys):
    net = fake_net(tmp_path, monkeypatch, [[0, 1, 2], [1, 2]])
    assert net.wait_height(2, timeout=5, progress=True) == [2, 2]
    out = capsys.readouterr()
    # No spinner, no carriage return, no escape codes when stderr is not a terminal.
    assert out.err == "testnet: all 2 nodes at height >= 2\n" and out.out == ""


def test_wait_height_quiet_without_progress(tmp_path, monkeypatch, capsys):
    net = fake_net(tmp_path, monkeypatch, [[5], [5]])
    assert net.wait_height(3, timeout=5) == [5, 5]
    assert capsys.readouterr() == ("", "")


def test_reset_proves_every_key_again_for_the_new_chain_id(tmp_path):
    import base64

    from mpc_tx.protocol import registry
    from node_config.ports import free_port_base

    net = lifecycle.Testnet(tmp_path / "net")
    net.generate(2, port_base=free_port_base(40), chain_id="mpcvote-reset")
    before = json.loads(net.genesis_path().read_text())["app_state"]["validators"]
    assert net.reset() == "mpcvote-reset-r2"
    for v in net.validators:
        genesis = json.loads((tmp_path / "net" / v["name"] / "config" / "genesis.json").read_text())
        assert genesis["chain_id"] == "mpcvote-reset-r2"
        entries = genesis["app_state"]["validators"]
        assert [e["enc_key"] for e in entries] == [e["enc_key"] for e in before]
        assert all(a["enc_proof"] != b["enc_proof"] for a, b in zip(entries, before))
        triples = [
            (base64.b64decode(e["pub_key"]), bytes.fromhex(e["enc_key"]), bytes.fromhex(e["enc_proof"]))
            for e in entries
        ]
        assert not isinstance(registry.check_registry(b"mpcvote-reset-r2", triples), registry.Rejected)
        assert isinstance(registry.check_registry(b"mpcvote-reset", triples), registry.Rejected)
