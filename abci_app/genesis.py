"""The genesis app_state, checked whole at InitChain: chain parameters and the validator registry.

A handler that meets a malformed registry entry later (in a create_poll, in the
middle of a block) would raise, and the node stops on that. So everything the
handlers rely on is checked once, here, and a genesis that fails stops InitChain
with a message the operator can act on. The validator set is static: the app
never returns validator updates, so this registry is the chain's for life.
"""

import base64
import hashlib
import json
import re

from nacl.bindings import crypto_core_ed25519_is_valid_point

from abci_app.params import resolve
from mpc_tx.protocol import registry as protocol_registry
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import Invalid, parse_point

__all__ = ["GenesisError", "parse_app_state", "check_registry", "REGISTRY_FIELDS"]

_MAX_INT = (1 << 63) - 1
# CometBFT's own bound on the total voting power (MaxTotalVotingPower = MaxInt64 / 8).
MAX_TOTAL_POWER = _MAX_INT // 8
_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{128}")
_ADDRESS = re.compile(r"[0-9A-F]{40}")
_HOST = re.compile(r"[A-Za-z0-9.:-]{1,253}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

# field -> (type, what a user reads when it is wrong)
REGISTRY_FIELDS = {
    "index": (int, "the party index, 0.. in order"),
    "name": (str, "a name of 1 to 64 letters, digits, '.', '_' or '-'"),
    "address": (str, "the consensus address: 40 upper-case hex digits"),
    "pub_key": (str, "the ed25519 consensus key in base64"),
    "power": (int, "a positive voting power"),
    "attest_key": (str, "the ed25519 attestation key in lower-case hex"),
    "enc_key": (str, "the ristretto255 encryption key X = x·G in lower-case hex (not the identity)"),
    "enc_proof": (str, "the 64-byte proof of possession of enc_key in lower-case hex"),
    "mpc_host": (str, "the MPC host name or IP"),
    "mpc_port": (int, "the first MPC port"),
    "mpc_ports": (int, "how many MPC ports from mpc_port (at least 1)"),
    "tls_cert": (str, "the MPC TLS certificate (PEM)"),
    "tls_sha256": (str, "the SHA-256 of the TLS certificate in lower-case hex"),
}


class GenesisError(ValueError):
    """A genesis app_state that must not start a chain."""


def parse_app_state(raw: bytes, genesis_validators, chain_id: str) -> tuple[dict, list]:
    """Return (params, registry) from InitChain's app_state bytes; raise GenesisError.

    `chain_id` is InitChain's: the proofs of possession of the encryption keys bind it.
    """
    try:
        doc = json.loads(raw or b"{}", parse_float=_no_float, parse_constant=_no_float)
    except (ValueError, RecursionError) as exc:
        raise GenesisError(f"app_state is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise GenesisError("app_state must be an object with 'params' and 'validators'")
    unknown = set(doc) - {"params", "validators"}
    if unknown:
        raise GenesisError(f"unknown app_state field {sorted(unknown)[0]!r}")
    given = doc.get("params")
    if given is not None and not isinstance(given, dict):
        raise GenesisError("app_state.params must be an object")
    try:
        params = resolve(given)
    except ValueError as exc:
        raise GenesisError(str(exc)) from None
    return params, check_registry(doc.get("validators"), genesis_validators, chain_id)


def check_registry(entries, genesis_validators, chain_id: str) -> list:
    """Check the registry against the genesis validator set; return it in party order.

    Every field present and typed; keys valid; no consensus, attestation or
    encryption key twice; entry i has index i; the same validators and powers as
    the genesis validator set, none missing; every encryption key's proof of
    possession verifies under this chain id and the entry's consensus key (§15).
    """
    if not isinstance(entries, list) or not entries:
        raise GenesisError(
            "app_state.validators must list every genesis validator (the MPC registry); it is missing or empty"
        )
    powers = {}
    for v in genesis_validators:
        key = bytes(v.pub_key.ed25519)
        if len(key) != 32:
            raise GenesisError("every genesis validator needs an ed25519 consensus key")
        powers[base64.b64encode(key).decode()] = v.power
    if len(entries) != len(powers):
        raise GenesisError(f"the registry lists {len(entries)} validators, the genesis validator set has {len(powers)}")
    seen = {"pub_key": set(), "attest_key": set(), "enc_key": set(), "address": set()}
    total = 0
    for i, entry in enumerate(entries):
        _check_entry(i, entry)
        for field, values in seen.items():
            if entry[field] in values:
                raise GenesisError(f"registry entry {i}: {field} is used by another validator")
            values.add(entry[field])
        if entry["pub_key"] not in powers:
            raise GenesisError(f"registry entry {i} ({entry['name']}) is not a genesis validator")
        if powers[entry["pub_key"]] != entry["power"]:
            raise GenesisError(
                f"registry entry {i} has power {entry['power']}, "
                f"the genesis validator set says {powers[entry['pub_key']]}"
            )
        total += entry["power"]
    if total > MAX_TOTAL_POWER:
        raise GenesisError(f"total voting power {total} exceeds {MAX_TOTAL_POWER}")
    keys = protocol_registry.check_registry(
        chain_id.encode(),
        [(base64.b64decode(e["pub_key"]), bytes.fromhex(e["enc_key"]), bytes.fromhex(e["enc_proof"])) for e in entries],
    )
    if isinstance(keys, Rejected):
        raise GenesisError(f"registry {keys.reason} (enc_proof proves enc_key under chain {chain_id!r} and pub_key)")
    return entries


def _check_entry(i: int, entry) -> None:
    if not isinstance(entry, dict):
        raise GenesisError(f"registry entry {i} must be an object")
    missing = [f for f in REGISTRY_FIELDS if f not in entry]
    if missing:
        raise GenesisError(f"registry entry {i} lacks {missing[0]} ({REGISTRY_FIELDS[missing[0]][1]})")
    unknown = sorted(set(entry) - set(REGISTRY_FIELDS))
    if unknown:
        raise GenesisError(f"registry entry {i} has an unknown field {unknown[0]!r}")
    for field, (kind, what) in REGISTRY_FIELDS.items():
        value = entry[field]
        if type(value) is not kind or (kind is int and not 0 <= value <= _MAX_INT):
            raise GenesisError(f"registry entry {i}: {field} must be {what}")

    def bad(field):
        return GenesisError(f"registry entry {i}: {field} must be {REGISTRY_FIELDS[field][1]}")

    if entry["index"] != i:
        raise GenesisError(f"registry entry {i} has index {entry['index']}: entries are in index order from 0")
    if not _NAME.fullmatch(entry["name"]):
        raise bad("name")
    if entry["power"] < 1:
        raise bad("power")
    try:
        consensus = base64.b64decode(entry["pub_key"], validate=True)
    except ValueError:
        raise bad("pub_key") from None
    if (
        len(consensus) != 32
        or base64.b64encode(consensus).decode() != entry["pub_key"]
        or not crypto_core_ed25519_is_valid_point(consensus)
    ):
        raise bad("pub_key")
    if (
        not _ADDRESS.fullmatch(entry["address"])
        or entry["address"] != hashlib.sha256(consensus).digest()[:20].hex().upper()
    ):
        raise GenesisError(f"registry entry {i}: address is not the one of its consensus key")
    if not _HEX32.fullmatch(entry["attest_key"]) or not crypto_core_ed25519_is_valid_point(
        bytes.fromhex(entry["attest_key"])
    ):
        raise bad("attest_key")
    if not _HEX32.fullmatch(entry["enc_key"]):
        raise bad("enc_key")
    try:
        parse_point(bytes.fromhex(entry["enc_key"]), "enc_key")
    except Invalid as exc:
        raise GenesisError(f"registry entry {i}: {exc.reason}") from None
    if not _HEX64.fullmatch(entry["enc_proof"]):
        raise bad("enc_proof")
    if not _HOST.fullmatch(entry["mpc_host"]):
        raise bad("mpc_host")
    if (
        not 1 <= entry["mpc_ports"]
        or not 1024 <= entry["mpc_port"] <= 65535
        or entry["mpc_port"] + entry["mpc_ports"] - 1 > 65535
    ):
        raise GenesisError(
            f"registry entry {i}: MPC ports {entry['mpc_port']}..+{entry['mpc_ports']} "
            "must be at least one port within 1024..65535"
        )
    if not _HEX32.fullmatch(entry["tls_sha256"]):
        raise bad("tls_sha256")


def _no_float(_text):
    raise ValueError("floats are not allowed in app_state")
