"""MPC link certificates: self-signed, naming their validator and host, pinned by the SHA-256 of their DER."""

import hashlib
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpc_tx.mpc.tls import cert_fingerprint, make_party_cert, party_name


@pytest.fixture(scope="module")
def parties():
    return [make_party_cert(f"node{i}", f"10.0.0.{i + 1}") for i in range(3)]


def _load(pem):
    return x509.load_pem_x509_certificate(pem)


def test_party_name_is_what_mpyc_checks():
    assert party_name(0) == "MPyC party 0" and party_name(12) == "MPyC party 12"


def test_party_certificate_is_self_signed_with_its_own_key(parties):
    cert_pem, key_pem = parties[0]
    cert = _load(cert_pem)
    cert.verify_directly_issued_by(cert)
    assert cert.issuer == cert.subject
    with pytest.raises(ValueError):
        cert.verify_directly_issued_by(_load(parties[1][0]))
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_party_certificate_names_the_validator_and_its_host(parties):
    cert = _load(parties[2][0])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node2"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.3")]
    assert san.get_values_for_type(x509.DNSName) == []
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    named = _load(make_party_cert("v1", "node1.example")[0])
    san = named.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["node1.example"]


def test_each_certificate_has_its_own_key(parties):
    keys = {
        _load(c).public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for c, _ in parties
    }
    assert len(keys) == len(parties)


def _handshake(server_ctx, client_ctx):
    """Run a TLS handshake in memory; return the DER certificate each side saw."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, obj in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return client.getpeercert(binary_form=True), server.getpeercert(binary_form=True)
    raise AssertionError("handshake did not finish")


def _context(pair, purpose, pinned, tmp_path):
    """A context that trusts exactly the pinned certificates (no CA, no host name), as the MPC links do."""
    path = tmp_path / f"{cert_fingerprint(pair[0])}.pem"
    path.write_bytes(pair[0] + pair[1])
    ctx = ssl.SSLContext(purpose)
    ctx.load_cert_chain(str(path))
    if purpose == ssl.PROTOCOL_TLS_CLIENT:
        ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.load_verify_locations(cadata="".join(c.decode() for c, _ in pinned))
    return ctx


def test_pinned_parties_complete_mutual_tls(parties, tmp_path):
    pinned = parties[:2]
    server = _context(parties[0], ssl.PROTOCOL_TLS_SERVER, pinned, tmp_path)
    client = _context(parties[1], ssl.PROTOCOL_TLS_CLIENT, pinned, tmp_path)
    seen_by_client, seen_by_server = _handshake(server, client)
    assert hashlib.sha256(seen_by_client).hexdigest() == cert_fingerprint(parties[0][0])
    assert hashlib.sha256(seen_by_server).hexdigest() == cert_fingerprint(parties[1][0])


@pytest.mark.parametrize("stranger_side", ["server", "client"])
def test_a_certificate_outside_the_pinned_set_is_refused(parties, tmp_path, stranger_side):
    pinned = parties[:2]
    stranger = make_party_cert("node0", "10.0.0.1")  # same name and host as a pinned party, another key
    server = _context(stranger if stranger_side == "server" else parties[0], ssl.PROTOCOL_TLS_SERVER, pinned, tmp_path)
    client = _context(stranger if stranger_side == "client" else parties[1], ssl.PROTOCOL_TLS_CLIENT, pinned, tmp_path)
    with pytest.raises(ssl.SSLError):
        _handshake(server, client)


def test_fingerprint_is_sha256_of_der(parties):
    cert_pem, _key = parties[0]
    der = _load(cert_pem).public_bytes(serialization.Encoding.DER)
    assert cert_fingerprint(cert_pem) == hashlib.sha256(der).hexdigest()
    assert cert_fingerprint(cert_pem.decode()) == cert_fingerprint(cert_pem)
    assert cert_fingerprint(make_party_cert("node0", "10.0.0.1")[0]) != cert_fingerprint(cert_pem)


@pytest.mark.parametrize(
    "name, host", [("", "127.0.0.1"), ("x" * 65, "127.0.0.1"), (3, "127.0.0.1"), ("n", ""), ("n", None)]
)
def test_bad_names_and_hosts_are_refused(name, host):
    with pytest.raises(ValueError):
        make_party_cert(name, host)
