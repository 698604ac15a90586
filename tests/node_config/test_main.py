"""Tests of python -m node_config: the multi-host commands end to end (init-validator, assemble, join, entry)."""

import json
import subprocess
import sys
from pathlib import Path

from node_config.generate import find_cometbft

ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "node_config", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_the_multi_host_commands_make_a_joined_chain(tmp_path):
    entries = []
    for i in range(2):
        host = tmp_path / f"host{i}"
        done = _run(
            "init-validator",
            "--home",
            str(host / "home"),
            "--chain-id",
            "mpcvote-cli",
            "--name",
            f"val{i}",
            "--mpc-host",
            "127.0.0.1",
            "--mpc-port",
            str(30000 + 10 * i),
            "--p2p-port",
            str(30100 + 10 * i),
            "--rpc-port",
            str(30101 + 10 * i),
            "--metrics-port",
            str(30102 + 10 * i),
            "--power",
            str(i + 1),
            "--entry",
            str(tmp_path / f"entry{i}.json"),
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == json.loads((tmp_path / f"entry{i}.json").read_text())
        entries.append(str(tmp_path / f"entry{i}.json"))

    out = tmp_path / "genesis.json"
    args = [
        "assemble-genesis",
        "--chain-id",
        "mpcvote-cli",
        "--out",
        str(out),
        "--genesis-time",
        "2026-12-01T00:00:00Z",
    ]
    done = _run(*args, "--entry", entries[0], "--entry", entries[1])
    assert done.returncode == 0, done.stderr
    peers = done.stdout.strip()
    genesis = json.loads(out.read_text())
    assert sorted(e["power"] for e in genesis["app_state"]["validators"]) == [1, 2]
    assert genesis["genesis_time"] == "2026-12-01T00:00:00Z"
    # The same entries the other way round: the same file (with --template, no cometbft run).
    template = str(tmp_path / "host0" / "home" / "config" / "genesis.json")
    again = _run(*args[:4], str(tmp_path / "g2.json"), *args[5:], "--entry", entries[1], "--entry", entries[0])
    assert again.returncode == 0 and again.stdout == done.stdout
    assert (tmp_path / "g2.json").read_text() == out.read_text()
    given = _run(
        *args[:4],
        str(tmp_path / "g3.json"),
        "--template",
        template,
        "--order",
        "given",
        "--entry",
        entries[1],
        "--entry",
        entries[0],
    )
    assert given.returncode == 0, given.stderr
    assert [e["name"] for e in json.loads((tmp_path / "g3.json").read_text())["app_state"]["validators"]] == [
        "val1",
        "val0",
    ]

    indexes = set()
    for i in range(2):
        done = _run("join", "--home", str(tmp_path / f"host{i}" / "home"), "--genesis", str(out), "--peers", peers)
        assert done.returncode == 0, done.stderr
        assert "joined mpcvote-cli as party" in done.stdout
        indexes.add(int(done.stdout.split()[-1]))
    assert indexes == {0, 1}

    # A new chain id: the home re-exports its entry, proved again.
    done = _run("entry", "--home", str(tmp_path / "host0" / "home"), "--chain-id", "mpcvote-cli-r2")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)
    assert entry["chain_id"] == "mpcvote-cli-r2"
    assert entry["enc_proof"] != json.loads(Path(entries[0]).read_text())["enc_proof"]


def test_errors_are_reported_without_a_traceback(tmp_path):
    done = _run(
        "init-validator",
        "--home",
        str(tmp_path / "h"),
        "--chain-id",
        "c",
        "--name",
        "bad name",
        "--mpc-host",
        "127.0.0.1",
    )
    assert done.returncode == 2 and "name" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "e.json").write_text(json.dumps({"chain_id": "c"}))
    done = _run(
        "assemble-genesis",
        "--chain-id",
        "c",
        "--entry",
        str(tmp_path / "e.json"),
        "--out",
        str(tmp_path / "g.json"),
        "--cometbft",
        find_cometbft(),
    )
    assert done.returncode == 2 and "entry 1: entry lacks name" in done.stderr
    assert not (tmp_path / "g.json").exists()
