"""MPC link certificates: issued by the CA, named as MPyC expects, pinned by the SHA-256 of their DER."""

import hashlib
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpc_tx.mpc.tls import cert_fingerprint, make_ca, make_party_cert, party_name


@pytest.fixture(scope="module")
def ca():
    return make_ca("mpcvote test CA")


def _load(pem):
    return x509.load_pem_x509_certificate(pem)


def test_party_name_is_what_mpyc_checks():
    assert party_name(0) == "MPyC party 0" and party_name(12) == "MPyC party 12"


def test_party_certificate_verifies_against_the_ca(ca):
    ca_pem, ca_key = ca
    cert_pem, key_pem = make_party_cert(ca_pem, ca_key, 2, "127.0.0.1")
    cert, root = _load(cert_pem), _load(ca_pem)
    cert.verify_directly_issued_by(root)
    assert cert.issuer == root.subject
    other_ca, _other_key = make_ca("another CA")
    with pytest.raises(ValueError):
        cert.verify_directly_issued_by(_load(other_ca))
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_party_certificate_names_the_party_and_its_host(ca):
    cert = _load(make_party_cert(*ca, 3, "10.0.0.7")[0])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "MPyC party 3"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["MPyC party 3"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    named = _load(make_party_cert(*ca, 1, "node1.example")[0])
    san = named.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["MPyC party 1", "node1.example"]


def test_ca_is_a_ca():
    ca_pem, _key = make_ca("root")
    root = _load(ca_pem)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    root.verify_directly_issued_by(root)


def _handshake(server_ctx, client_ctx, server_name):
    """Run a TLS handshake in memory; return the peer certificate each side saw."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_name)
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
            return client.getpeercert(), server.getpeercert()
    raise AssertionError("handshake did not finish")


def _contexts(ca, tmp_path, server_pid, client_pid):
    ca_pem, ca_key = ca
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    contexts = []
    for pid, purpose in ((server_pid, ssl.PROTOCOL_TLS_SERVER), (client_pid, ssl.PROTOCOL_TLS_CLIENT)):
        cert_pem, key_pem = make_party_cert(ca_pem, ca_key, pid, "127.0.0.1")
        (tmp_path / f"{pid}.pem").write_bytes(cert_pem + key_pem)
        ctx = ssl.SSLContext(purpose)
        ctx.load_cert_chain(str(tmp_path / f"{pid}.pem"))
        ctx.load_verify_locations(str(tmp_path / "ca.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        contexts.append(ctx)
    return contexts


def test_two_parties_complete_mutual_tls_under_their_mpyc_names(ca, tmp_path):
    server_ctx, client_ctx = _contexts(ca, tmp_path, 1, 0)
    seen_by_client, seen_by_server = _handshake(server_ctx, client_ctx, party_name(1))
    assert dict(x[0] for x in seen_by_client["subject"])["commonName"] == "MPyC party 1"
    assert dict(x[0] for x in seen_by_server["subject"])["commonName"] == "MPyC party 0"


def test_a_party_certificate_does_not_pass_for_another_party(ca, tmp_path):
    server_ctx, client_ctx = _contexts(ca, tmp_path, 1, 0)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server_ctx, client_ctx, party_name(2))


def test_fingerprint_is_sha256_of_der(ca):
    cert_pem, _key = make_party_cert(*ca, 0, "127.0.0.1")
    der = _load(cert_pem).public_bytes(serialization.Encoding.DER)
    assert cert_fingerprint(cert_pem) == hashlib.sha256(der).hexdigest()
    assert cert_fingerprint(cert_pem.decode()) == cert_fingerprint(cert_pem)
    assert cert_fingerprint(make_party_cert(*ca, 0, "127.0.0.1")[0]) != cert_fingerprint(cert_pem)


@pytest.mark.parametrize("pid", [-1, "1", 1.0])
def test_bad_party_ids_are_refused(ca, pid):
    with pytest.raises(ValueError):
        make_party_cert(*ca, pid, "127.0.0.1")


def test_a_bool_party_id_is_refused(ca):
    with pytest.raises(ValueError):
        make_party_cert(*ca, True, "127.0.0.1")
