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
