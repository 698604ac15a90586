"""scripts/testnet's status table and argument handling, over status dicts (no processes; the live
status of a testnet with stopped processes is tests/testnet/test_chain.py's)."""

import pytest

from node_config.testnet_cli import human_status, main


def _node(name, height=10, lag=0, node_pid=1, app_up=True, app_height=10, worker=None, error=None, app_hash="AB" * 32):
    return {
        "name": name,
        "height": height,
        "lag": lag,
        "peers": 3,
        "processes": {"node": node_pid},
        "app": {"up": app_up, "height": app_height},
        "worker": worker or {"up": True, "error": None, "height": 9, "lag": 1, "seen_s": 2.4},
        "error": error,
        "app_hash": app_hash,
    }


def _status(nodes, agree=True):
    up = sum(n["height"] is not None for n in nodes)
    return {"nodes": nodes, "reachable": up, "reachable_agree": agree, "common_height": 10}


def test_every_validator_has_a_row_and_agreement_is_said_in_words():
    text = human_status(_status([_node("node0"), _node("node1", lag=2)]))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["validator", "node", "app", "worker"]
    assert lines[1].startswith("node0") and "up h 10 3 peers" in lines[1] and "up h 9, 1 behind (2s ago)" in lines[1]
    assert "ABABABABABABABAB" in lines[1] and "AB" * 32 not in lines[1]
    assert "2 behind" in lines[2]
    assert lines[-1] == "2 of 2 nodes answer; their app hashes agree at height 10"


def test_down_and_silent_processes_are_named():
    nodes = [
        _node("node0"),
        _node("node1", height=None, node_pid=None, error="node down (no process)", app_hash=None),
        _node("node2", height=None, app_height=None),
        _node("node3", app_up=False, worker={"up": False, "error": None}),
        _node("node4", worker={"up": True, "error": "connection refused", "height": None}),
        _node("node5", worker={"up": True, "error": None, "height": None}),
    ]
    rows = {line[:10].strip(): line for line in human_status(_status(nodes)).splitlines()[1:7]}
    node, app, worker = slice(11, 35), slice(36, 52), slice(53, 83)  # the table's columns
    assert rows["node1"][node].strip() == "down"
    assert rows["node2"][node].strip() == "not answering" and rows["node2"][app].strip() == "up (node away)"
    assert rows["node3"][app].strip() == "down" and rows["node3"][worker].strip() == "down"
    assert "up, node unreachable" in rows["node4"]
    assert "up (no heartbeat yet)" in rows["node5"]
    text = human_status(_status(nodes))
    assert "  node1: node down (no process)" in text
    assert "  node4 worker: connection refused" in text


def test_disagreeing_and_unreachable_nets_say_what_to_do():
    assert "DIFFER at height 10" in human_status(_status([_node("node0"), _node("node1")], agree=False))
    text = human_status(_status([_node("node0", height=None, node_pid=None)]))
    assert "no node answers" in text and "scripts/testnet up" in text


def test_unknown_commands_and_processes_are_usage_errors(tmp_path):
    for argv in (["frobnicate"], ["stop", "node0", "everything"], []):
        with pytest.raises(SystemExit) as exit_:
            main(["--dir", str(tmp_path / "net")] + argv)
        assert exit_.value.code == 2
