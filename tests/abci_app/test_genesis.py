"""The genesis app_state: every malformed registry or parameter stops InitChain with a message."""

import json

import pytest

from abci_app import checks
from abci_app.abci.pb import abci
from abci_app.genesis import GenesisError

from apphelpers import Chain


def _genesis_variants():
    def drop(field):
        return lambda reg: reg[1].pop(field)

    def setf(i, field, value):
        return lambda reg: reg[i].__setitem__(field, value)

    return {
        "no mpc_ports": (drop("mpc_ports"), "lacks mpc_ports"),
        "mpc_ports 0": (setf(1, "mpc_ports", 0), "MPC ports"),
        "mpc_port string": (setf(1, "mpc_port", "26610"), "mpc_port must be"),
        "power as bool": (setf(0, "power", True), "power must be"),
        "duplicate attest key": (
            lambda reg: reg[2].__setitem__("attest_key", reg[0]["attest_key"]),
            "attest_key is used",
        ),
        "duplicate enc key": (lambda reg: reg[3].__setitem__("enc_key", reg[1]["enc_key"]), "enc_key is used"),
        "duplicate consensus key": (
            lambda reg: reg[3].update(pub_key=reg[0]["pub_key"], address=reg[0]["address"]),
            "is used by another validator",
        ),
        "attest key not a point": (setf(1, "attest_key", "ff" * 32), "attest_key must be"),
        "attest key upper-case": (
            lambda reg: reg[1].__setitem__("attest_key", reg[1]["attest_key"].upper()),
            "attest_key",
        ),
        "enc key short": (setf(1, "enc_key", "ab" * 31), "enc_key must be"),
        "enc key the identity": (setf(1, "enc_key", "00" * 32), "registry entry 1: enc_key: the identity"),
        "enc key not a point": (setf(1, "enc_key", "ff" * 32), "registry entry 1: enc_key: "),
        "no enc proof": (drop("enc_proof"), "lacks enc_proof"),
        "enc proof short": (setf(2, "enc_proof", "ab" * 63), "registry entry 2: enc_proof must be"),
        "enc proof of another key": (
            lambda reg: reg[2].__setitem__("enc_proof", reg[1]["enc_proof"]),
            "registry entry 2: proof of possession",
        ),
        "enc key copied with its proof": (
            lambda reg: reg[3].update(enc_key=reg[0]["enc_key"], enc_proof=reg[0]["enc_proof"]),
            "enc_key is used",
        ),
        "enc proof scalar not reduced": (
            lambda reg: reg[0].__setitem__("enc_proof", "ff" * 64),
            "registry entry 0: proof of possession",
        ),
        "wrong index": (setf(2, "index", 3), "index order"),
        "wrong address": (setf(2, "address", "00" * 20), "address"),
        "extra field": (setf(0, "shares", 1), "unknown field"),
        "port over 65535": (setf(0, "mpc_port", 65535), "MPC ports"),
        "huge power": (setf(0, "power", 1 << 63), "power must be"),
        "bad tls hash": (setf(0, "tls_sha256", "xyz"), "tls_sha256"),
        "missing entry": (lambda reg: reg.pop(), "registry lists 3"),
        "entry not an object": (lambda reg: reg.__setitem__(1, "node1"), "must be an object"),
    }


@pytest.mark.parametrize("name", list(_genesis_variants()))
def test_genesis_variants_stop_init_chain_with_a_message(tmp_path, name):
    change, message = _genesis_variants()[name]
    chain = Chain(tmp_path / "app")
    change(chain.registry)
    with pytest.raises(GenesisError, match=message):
        chain.init()
    assert chain.app.genesis is None
    chain.app.close()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_tx_bytes": 1 << 63}, "below 2"),
        ({"max_tx_bytes": 0}, "positive"),
        ({"max_block_txs": "5"}, "positive"),
        ({"mpc_deadline_blocks": 10**12}, "at most"),
        ({"nope": 1}, "unknown"),
        ({"max_voters": 1.5}, "float"),
    ],
)
def test_genesis_params_in_range(tmp_path, params, message):
    chain = Chain(tmp_path / "app", params=params)
    with pytest.raises(GenesisError, match=message):
        chain.init()
    chain.app.close()


def test_proofs_bind_the_chain_id(tmp_path):
    """Entries proven for another chain id do not start this one."""
    chain = Chain(tmp_path / "app")
    req = abci.RequestInitChain(
        chain_id="other-chain", app_state_bytes=json.dumps(chain.genesis["app_state"]).encode(), initial_height=1
    )
    for c in chain.cons:
        req.validators.add(pub_key={"ed25519": c}, power=10)
    with pytest.raises(GenesisError, match="registry entry 0: proof of possession: .* under chain 'other-chain'"):
        chain.app.init_chain(req)
    chain.app.close()


def test_a_good_registry_starts_the_chain_and_its_keys_are_parsed_once(tmp_path):
    chain = Chain(tmp_path / "app")
    chain.init()
    points = checks.registry_points(chain.registry)
    assert [p.encode().hex() for p in points] == [v["enc_key"] for v in chain.registry]
    assert checks.registry_points(chain.registry) is points
    chain.app.close()
