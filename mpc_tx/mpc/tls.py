"""Certificates for the validators' MPC links: a testnet CA and one certificate per party.

A party certificate names the party as MPyC's TLS mode expects it ("MPyC party {pid}",
checked as the server name) and carries the party's MPC host as a subject alternative
name. Each certificate serves both ends of a link (server and client authentication).
The registry pins each party's certificate by the SHA-256 of its DER encoding.
"""

import datetime
import hashlib
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["make_ca", "make_party_cert", "cert_fingerprint", "party_name"]

_CA_DAYS = 3650
_PARTY_DAYS = 1825
_SKEW = datetime.timedelta(minutes=5)  # tolerate clocks that lag behind the issuer's


def party_name(pid: int) -> str:
    """Return the name MPyC checks for party pid."""
    return f"MPyC party {pid}"


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_ca(name: str) -> tuple[bytes, bytes]:
    """Create a self-signed CA; return its certificate and private key as PEM."""
    key = _new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _SKEW)
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def make_party_cert(ca_cert_pem: bytes, ca_key_pem: bytes, pid: int, host: str) -> tuple[bytes, bytes]:
    """Issue party pid's MPC certificate for host; return certificate and key as PEM."""
    if type(pid) is not int or pid < 0:
        raise ValueError("pid must be a nonnegative integer")
    ca_cert = x509.load_pem_x509_certificate(_bytes(ca_cert_pem))
    ca_key = serialization.load_pem_private_key(_bytes(ca_key_pem), password=None)
    key = _new_key()
    public = key.public_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(party_name(pid)))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _SKEW)
        .not_valid_after(min(now + datetime.timedelta(days=_PARTY_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(party_name(pid)), _host_name(host)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def cert_fingerprint(cert_pem) -> str:
    """Return the SHA-256 of the certificate's DER encoding, in lower-case hex."""
    cert = x509.load_pem_x509_certificate(_bytes(cert_pem))
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _bytes(pem) -> bytes:
    return pem.encode() if isinstance(pem, str) else bytes(pem)
