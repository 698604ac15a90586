"""Assemble genesis.json from the validators' public entries, and check a genesis registry.

The order (and so each validator's party index) is by consensus address, ascending:
it depends on the set of entries only, so anyone assembling the same entries with the
same genesis time writes the same file, byte for byte. The one-host testnet keeps its
node order instead (see generate.py).
"""

import base64
import re

from mpc_tx.protocol import registry
from node_config.entries import (
    REGISTRY_FIELDS,
    EntryError,
    check_chain_id,
    check_entry,
    check_fields,
)

__all__ = ["BLOCK_MAX_BYTES", "EVIDENCE_MAX_BYTES", "assemble_genesis", "check_genesis_registry", "check_genesis_time"]

# docs/PROTOCOL.md §17: a block of ballots that all miss the verification cache still
# verifies within the 1 s propose timeout.
BLOCK_MAX_BYTES = 524288
# CometBFT refuses evidence.max_bytes above block.max_bytes (its default is 1 MiB). A
# piece of evidence (a double sign) is a few hundred bytes: an eighth of a block holds
# about a hundred, and leaves the rest for ballots.
EVIDENCE_MAX_BYTES = BLOCK_MAX_BYTES // 8
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
_PUB_TYPE = "tendermint/PubKeyEd25519"


def check_genesis_time(text) -> None:
    """Refuse a genesis time that is not RFC 3339 in UTC (2026-12-01T21:00:00Z)."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        raise EntryError(f"genesis time {text!r} is not like 2026-12-01T21:00:00Z")


def assemble_genesis(
    entries: list,
    chain_id: str,
    template: dict,
    *,
    keep_order: bool = False,
    genesis_time: str | None = None,
) -> tuple[dict, list[str]]:
    """Return (genesis, persistent peers) from the entries and a CometBFT genesis template.

    template gives CometBFT's own fields (consensus params, initial height, genesis time
    unless genesis_time is given). keep_order keeps the entries' order instead of
    sorting them by consensus address. Raises EntryError naming the first problem.
    """
    check_chain_id(chain_id)
    if not isinstance(entries, list) or not entries:
        raise EntryError("need at least one entry")
    for i, entry in enumerate(entries):
        try:
            check_entry(entry, chain_id)
        except EntryError as exc:
            raise EntryError(f"entry {i + 1}: {exc}") from None
    ordered = list(entries) if keep_order else sorted(entries, key=lambda e: e["address"])
    _check_distinct(ordered)
    found = registry.check_registry(chain_id.encode(), [_triple(e) for e in ordered])
    if isinstance(found, registry.Rejected):
        raise EntryError(found.reason)

    genesis = dict(template)
    if genesis_time is not None:
        check_genesis_time(genesis_time)
        genesis["genesis_time"] = genesis_time
    genesis["chain_id"] = chain_id
    genesis["validators"] = [
        {
            "address": e["address"],
            "pub_key": {"type": _PUB_TYPE, "value": e["pub_key"]},
            # CometBFT's JSON carries int64 as strings.
            "power": str(e["power"]),
            "name": e["name"],
        }
        for e in ordered
    ]
    params = dict(genesis["consensus_params"])
    params["block"] = dict(params["block"], max_bytes=str(BLOCK_MAX_BYTES))
    params["evidence"] = dict(params["evidence"], max_bytes=str(EVIDENCE_MAX_BYTES))
    genesis["consensus_params"] = params
    genesis["app_hash"] = ""
    genesis["app_state"] = {
        "params": {},
        "validators": [{f: i if f == "index" else e[f] for f in REGISTRY_FIELDS} for i, e in enumerate(ordered)],
    }
    peers = [f"{e['node_id']}@{e['p2p']}" for e in ordered]
    return genesis, peers


def check_genesis_registry(genesis) -> list[dict]:
    """Return the registry of a genesis document after checking it whole; raise EntryError.

    Every entry has exactly the registry fields, index i at position i, the same key and
    power as genesis validator i, and every proof of possession verifies under the chain id.
    """
    if not isinstance(genesis, dict):
        raise EntryError("a genesis is a JSON object")
    chain_id = genesis.get("chain_id")
    check_chain_id(chain_id)
    app_state = genesis.get("app_state")
    entries = app_state.get("validators") if isinstance(app_state, dict) else None
    validators = genesis.get("validators")
    if not isinstance(entries, list) or not entries or not isinstance(validators, list):
        raise EntryError("the genesis has no app_state.validators (the registry) or no validators")
    if len(entries) != len(validators):
        raise EntryError(f"the registry lists {len(entries)} validators, the genesis {len(validators)}")
    for i, (entry, gv) in enumerate(zip(entries, validators)):
        if not isinstance(entry, dict) or set(entry) != set(REGISTRY_FIELDS):
            raise EntryError(f"registry entry {i} must have exactly the fields {', '.join(REGISTRY_FIELDS)}")
        if entry["index"] != i:
            raise EntryError(f"registry entry {i} has index {entry['index']!r}")
        check_fields(entry)
        key = gv.get("pub_key") if isinstance(gv, dict) else None
        if not isinstance(key, dict) or key.get("value") != entry["pub_key"] or gv.get("power") != str(entry["power"]):
            raise EntryError(f"registry entry {i} is not genesis validator {i} (key and power)")
    _check_distinct(entries)
    found = registry.check_registry(chain_id.encode(), [_triple(e) for e in entries])
    if isinstance(found, registry.Rejected):
        raise EntryError(found.reason)
    return entries


def _triple(entry: dict) -> tuple[bytes, bytes, bytes]:
    return base64.b64decode(entry["pub_key"]), bytes.fromhex(entry["enc_key"]), bytes.fromhex(entry["enc_proof"])


def _check_distinct(entries: list) -> None:
    # check_registry covers consensus and encryption keys; these are the rest a validator owns alone.
    for field in ("name", "address", "attest_key", "tls_sha256", "node_id", "p2p"):
        values = [e[field] for e in entries if field in e]
        if len(set(values)) != len(values):
            raise EntryError(f"two entries have the same {field}")
    # Two validators on one MPC host must not share a port.
    spans = sorted((e["mpc_host"], e["mpc_port"], e["mpc_port"] + e["mpc_ports"], e["name"]) for e in entries)
    for (host, _lo, end, name), (host2, lo2, _end2, name2) in zip(spans, spans[1:]):
        if host == host2 and lo2 < end:
            raise EntryError(f"{name} and {name2} both use MPC port {lo2} on {host}")
