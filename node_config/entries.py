"""A validator's public registry entry, as one host exports it: its fields and their checks.

An entry is what `init-validator` prints and `assemble-genesis` reads: the registry
fields of docs/PROTOCOL.md §17 (without the index, which only the assembled order
gives) plus the chain id the proof is bound to, and the p2p node id and address
peers dial. Nothing in it is secret. Every check raises EntryError naming the field.
"""

import base64
import hashlib
import ipaddress
import re

from cryptography import x509
from nacl.bindings import crypto_core_ed25519_is_valid_point

from mpc_tx.mpc import tls
from mpc_tx.protocol import registry

__all__ = [
    "EntryError",
    "REGISTRY_FIELDS",
    "ENTRY_FIELDS",
    "MAX_CHAIN_ID",
    "check_entry",
    "check_fields",
    "check_chain_id",
    "check_name",
    "check_host",
    "check_proof",
    "hostport",
    "parse_peers",
]

MAX_CHAIN_ID = 50  # CometBFT's limit on chain_id length
_MAX_INT = (1 << 63) - 1
# The fields of genesis app_state.validators[i], in order (abci_app.genesis checks them).
REGISTRY_FIELDS = (
    "index",
    "name",
    "address",
    "pub_key",
    "power",
    "attest_key",
    "enc_key",
    "enc_proof",
    "mpc_host",
    "mpc_port",
    "mpc_ports",
    "tls_cert",
    "tls_sha256",
)
# An exported entry: the registry fields but the index, and what only assembling needs.
ENTRY_FIELDS = ("chain_id",) + REGISTRY_FIELDS[1:] + ("node_id", "p2p")
_HEX = {32: re.compile(r"[0-9a-f]{64}"), 64: re.compile(r"[0-9a-f]{128}"), 20: re.compile(r"[0-9a-f]{40}")}
_ADDRESS = re.compile(r"[0-9A-F]{40}")
_HOST = re.compile(r"[A-Za-z0-9.:-]{1,253}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PEER = re.compile(r"([0-9a-f]{40})@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})")


class EntryError(ValueError):
    """A registry entry (or a part of one) that must not go into a genesis."""


def check_chain_id(chain_id) -> None:
    """Refuse a chain id CometBFT would refuse."""
    if not isinstance(chain_id, str) or not 0 < len(chain_id) <= MAX_CHAIN_ID or not chain_id.isprintable():
        raise EntryError(f"chain_id must be 1 to {MAX_CHAIN_ID} printable characters")


def check_name(name) -> None:
    """Refuse a validator name the registry would refuse."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EntryError(f"name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-'")


def check_host(host, *, dialled: bool = True) -> None:
    """Refuse a host peers could not dial (or, not dialled, one that is no address at all)."""
    # The address ends up in persistent_peers ("id@host:port,..."): no separators in it.
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise EntryError(f"{host!r} is not a host name or IP address")
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified and dialled:
        raise EntryError(f"{host} cannot be dialled: give the address peers reach this host at")


def hostport(host: str, port: int) -> str:
    """Return host:port, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_peers(peers) -> list[tuple[str, str, int]]:
    """Return (node id, host, port) of each peer in "id@host:port,..." (or a list of such strings)."""
    items = peers.split(",") if isinstance(peers, str) else list(peers)
    out = []
    for item in items:
        item = item.strip() if isinstance(item, str) else item
        if item == "":
            continue
        match = _PEER.fullmatch(item) if isinstance(item, str) else None
        if not match or not 1 <= int(match[3]) <= 65535:
            raise EntryError(f"peer {item!r} is not node_id@host:port")
        out.append((match[1], match[2].strip("[]"), int(match[3])))
    return out


def check_entry(entry, chain_id: str | None = None) -> dict:
    """Check one exported entry whole (fields, keys, certificate, proof); return it."""
    if not isinstance(entry, dict):
        raise EntryError("an entry is a JSON object")
    missing = [f for f in ENTRY_FIELDS if f not in entry]
    if missing:
        raise EntryError(f"entry lacks {missing[0]}")
    unknown = sorted(set(entry) - set(ENTRY_FIELDS))
    if unknown:
        raise EntryError(f"entry has an unknown field {unknown[0]!r}")
    check_chain_id(entry["chain_id"])
    if chain_id is not None and entry["chain_id"] != chain_id:
        raise EntryError(f"entry {entry['name']!r} is for chain {entry['chain_id']!r}, not {chain_id!r}")
    check_fields(entry)
    if not _HEX[20].fullmatch(_str(entry, "node_id")):
        raise EntryError("node_id must be 40 lower-case hex digits")
    try:
        peer = parse_peers([f"{entry['node_id']}@{_str(entry, 'p2p')}"])
    except EntryError:
        raise EntryError("p2p must be host:port, the address peers dial the node at") from None
    check_host(peer[0][1])
    check_proof(entry["chain_id"], entry)
    return entry


def check_fields(entry: dict) -> None:
    """Check the registry fields of entry (all but index); raise EntryError naming the first bad one."""
    name = _str(entry, "name")
    check_name(name)
    what = f"entry {name!r}"
    consensus = _key_b64(entry, what)
    if _str(entry, "address") != hashlib.sha256(consensus).digest()[:20].hex().upper():
        raise EntryError(f"{what}: address is not the one of its consensus key")
    power = entry["power"]
    if type(power) is not int or not 1 <= power <= _MAX_INT:
        raise EntryError(f"{what}: power must be a positive int")
    attest = _str(entry, "attest_key")
    if not _HEX[32].fullmatch(attest) or not crypto_core_ed25519_is_valid_point(bytes.fromhex(attest)):
        raise EntryError(f"{what}: attest_key must be an ed25519 key in lower-case hex")
    if not _HEX[32].fullmatch(_str(entry, "enc_key")):
        raise EntryError(f"{what}: enc_key must be 64 lower-case hex digits")
    if not _HEX[64].fullmatch(_str(entry, "enc_proof")):
        raise EntryError(f"{what}: enc_proof must be 128 lower-case hex digits")
    check_host(_str(entry, "mpc_host"))
    port, count = entry["mpc_port"], entry["mpc_ports"]
    if type(port) is not int or type(count) is not int or count < 1 or not 1024 <= port <= port + count - 1 <= 65535:
        raise EntryError(f"{what}: MPC ports mpc_port..+mpc_ports must be at least one port within 1024..65535")
    cert = _str(entry, "tls_cert")
    try:
        x509.load_pem_x509_certificate(cert.encode("ascii"))
        fingerprint = tls.cert_fingerprint(cert)
    except ValueError:
        raise EntryError(f"{what}: tls_cert is not a PEM certificate") from None
    if _str(entry, "tls_sha256") != fingerprint:
        raise EntryError(f"{what}: tls_sha256 is not the SHA-256 of tls_cert")


def check_proof(chain_id: str, entry: dict) -> None:
    """Refuse an entry whose enc_proof does not prove its enc_key under chain_id and its consensus key."""
    found = registry.verify_key_possession(
        chain_id.encode(),
        base64.b64decode(entry["pub_key"]),
        bytes.fromhex(entry["enc_key"]),
        bytes.fromhex(entry["enc_proof"]),
    )
    if isinstance(found, registry.Rejected):
        raise EntryError(f"entry {entry['name']!r}: {found.reason}")


def _str(entry: dict, field: str) -> str:
    value = entry[field]
    if not isinstance(value, str):
        raise EntryError(f"{field} must be a string")
    return value


def _key_b64(entry: dict, what: str) -> bytes:
    text = _str(entry, "pub_key")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32 or base64.b64encode(raw).decode() != text or not crypto_core_ed25519_is_valid_point(raw):
        raise EntryError(f"{what}: pub_key must be an ed25519 consensus key in base64")
    return raw
