"""The multi-host key flow in network namespaces: each host makes its own keys, the genesis is
assembled from public entries only, and the chain runs.

Four namespaces stand for four hosts, each with its own address and its own folder
(host<i>/). Every step a host takes runs inside its namespace, on its folder only;
the assembler sees the exported entries and nothing else. Needs root (for `ip netns`).
The namespaces use their own prefix and subnet, apart from the reliability harness's.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpc_tx.client.rpc import Rpc, RpcError
from mpc_tx.protocol import registry
from node_config.generate import find_cometbft
from node_config.lifecycle import wait_abci_socket
from node_config.validator import abci_address

pytestmark = pytest.mark.testnet

ROOT = Path(__file__).resolve().parents[2]
N = 4
CHAIN_ID = "mpcvote-multihost"
PREFIX = "mpcmh"
SUBNET = "10.78.0"
BRIDGE = f"{PREFIX}-br"


def _ip(*args, check=True):
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


class Hosts:
    """N namespaces, host i at SUBNET.(i+1), joined by a bridge that this process reaches them through."""

    def __init__(self, n):
        self.namespaces = [f"{PREFIX}-n{i}" for i in range(n)]
        self.veths = [f"{PREFIX}-h{i}" for i in range(n)]
        self.addresses = [f"{SUBNET}.{i + 1}" for i in range(n)]

    def create(self):
        self.remove()
        if _ip("route", "show", f"{SUBNET}.0/24").stdout.strip():
            pytest.skip(f"{SUBNET}.0/24 is already routed here: not ours to use")
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{SUBNET}.254/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for ns, veth, address in zip(self.namespaces, self.veths, self.addresses):
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", BRIDGE, "up")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def remove(self):
        for veth in self.veths:
            _ip("link", "del", veth, check=False)
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", BRIDGE, check=False)

    def run(self, i, *argv, **kw):
        """Run argv on host i (in its namespace) and wait for it."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespaces[i], *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            **kw,
        )

    def start(self, i, argv, log):
        """Start argv on host i in the background; `ip netns exec` execs in place, so the PID is argv's."""
        with open(log, "ab") as out:
            return subprocess.Popen(
                ["ip", "netns", "exec", self.namespaces[i], *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,
            )


def _node_config(*args):
    return [sys.executable, "-m", "node_config", *args]


def _secrets(home: Path) -> list[str]:
    """The private key material of one home, as it appears in its files."""
    mpc = home / "mpc"
    return [
        json.loads((home / "config" / "priv_validator_key.json").read_text())["priv_key"]["value"],
        json.loads((home / "config" / "node_key.json").read_text())["priv_key"]["value"],
        json.loads((mpc / "attest_key.json").read_text())["seed"],
        json.loads((mpc / "enc_key.json").read_text())["secret"],
        "".join((mpc / "tls" / "party.key").read_text().splitlines()[1:-1]),
    ]


def _texts(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path, path.read_bytes().decode("latin-1").replace("\n", "")


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _heights(urls):
    out = []
    for url in urls:
        try:
            out.append(Rpc(url).height())
        except (RpcError, OSError):
            out.append(-1)
    return out


@pytest.fixture
def hosts():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns)")
    if shutil.which("ip") is None:
        pytest.skip("`ip` (iproute2) is not installed")
    net = Hosts(N)
    try:
        try:
            net.create()
        except RuntimeError as exc:  # root without CAP_NET_ADMIN (some containers)
            pytest.skip(f"cannot make network namespaces here: {exc}")
        yield net
    finally:
        net.remove()


def test_each_host_makes_its_keys_and_the_chain_runs_from_public_entries(hosts, tmp_path):
    folders = [tmp_path / f"host{i}" for i in range(N)]
    homes = [f / "home" for f in folders]
    for folder in folders:
        folder.mkdir(mode=0o700)

    # 1. Each host makes its own home and exports its public entry, inside its namespace.
    for i in range(N):
        done = hosts.run(
            i,
            *_node_config(
                "init-validator",
                "--home",
                str(homes[i]),
                "--chain-id",
                CHAIN_ID,
                "--name",
                f"host{i}",
                "--mpc-host",
                hosts.addresses[i],
                "--block-time",
                "300ms",
                "--entry",
                str(folders[i] / "entry.json"),
                "--cometbft",
                find_cometbft(),
            ),
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == json.loads((folders[i] / "entry.json").read_text())

    # 2. Only the entries travel to the assembler, which writes the genesis and the peers.
    assembler = tmp_path / "assembler"
    assembler.mkdir()
    for i in range(N):
        shutil.copy(folders[i] / "entry.json", assembler / f"entry{i}.json")
    entries = [json.loads((assembler / f"entry{i}.json").read_text()) for i in range(N)]
    for entry in entries:
        assert "PRIVATE KEY" not in json.dumps(entry)
    args = ["assemble-genesis", "--chain-id", CHAIN_ID, "--out", str(assembler / "genesis.json")]
    args += [a for i in range(N) for a in ("--entry", str(assembler / f"entry{i}.json"))]
    done = subprocess.run(_node_config(*args), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    peers = done.stdout.strip()
    assert len(peers.split(",")) == N

    # The registry is ordered by consensus address, whatever the order of the entries.
    genesis = json.loads((assembler / "genesis.json").read_text())
    registered = genesis["app_state"]["validators"]
    assert [e["address"] for e in registered] == sorted(e["address"] for e in entries)
    assert genesis["consensus_params"]["block"]["max_bytes"] == "524288"

    # 3. Each host receives the genesis and the peers and joins, inside its namespace.
    for i in range(N):
        shutil.copy(assembler / "genesis.json", folders[i] / "genesis.json")
        done = hosts.run(
            i,
            *_node_config(
                "join", "--home", str(homes[i]), "--genesis", str(folders[i] / "genesis.json"), "--peers", peers
            ),
        )
        assert done.returncode == 0, done.stderr

    # No folder holds another host's private keys; the assembler holds none.
    for i in range(N):
        for j in range(N):
            where = [assembler] + ([folders[j]] if j != i else [])
            for folder in where:
                for path, text in _texts(folder):
                    for secret in _secrets(homes[i]):
                        assert secret not in text, f"host{i}'s private key is in {path}"

    # 4. Each host runs its app and node in its namespace; the chain commits blocks.
    procs = []
    try:
        for i in range(N):
            home = str(homes[i])
            app = hosts.start(
                i,
                [sys.executable, "-m", "abci_app", "--home", f"{home}/app", "--listen", abci_address(home)],
                folders[i] / "app.log",
            )
            procs.append(app)
            wait_abci_socket(home, app, folders[i] / "app.log")
            procs.append(
                hosts.start(
                    i,
                    [find_cometbft(), "start", "--home", home, "--proxy_app", abci_address(home)],
                    folders[i] / "node.log",
                )
            )
        urls = [f"http://{a}:26657" for a in hosts.addresses]
        deadline = time.monotonic() + 90
        while min(_heights(urls)) < 3:
            assert all(p.poll() is None for p in procs), _logs(folders)
            assert time.monotonic() < deadline, f"heights {_heights(urls)}\n{_logs(folders)}"
            time.sleep(0.3)

        # Every node serves the genesis with the registry and its proofs, which verify.
        for url in urls:
            served = Rpc(url).call("genesis")["genesis"]
            assert served["chain_id"] == CHAIN_ID
            served_registry = served["app_state"]["validators"]
            assert [e["pub_key"] for e in served_registry] == [e["pub_key"] for e in registered]
            triples = [
                (base64.b64decode(e["pub_key"]), bytes.fromhex(e["enc_key"]), bytes.fromhex(e["enc_proof"]))
                for e in served_registry
            ]
            keys = registry.check_registry(CHAIN_ID.encode(), triples)
            assert not isinstance(keys, registry.Rejected)
            assert [k.encode().hex() for k in keys] == [e["enc_key"] for e in registered]
        # The nodes found each other through the peers the assembler printed.
        assert int(Rpc(urls[0]).call("net_info")["n_peers"]) == N - 1
    finally:
        _stop(procs)


def _logs(folders) -> str:
    tails = []
    for folder in folders:
        for name in ("app.log", "node.log"):
            path = folder / name
            if path.exists():
                tails.append(f"{path}: " + " | ".join(path.read_text(errors="replace").splitlines()[-3:]))
    return "\n".join(tails)
