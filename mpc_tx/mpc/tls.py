"""Self-signed certificates for the validators' MPC links, pinned by the registry.

Each validator makes its own key pair and certificate on its own host, before the
genesis file (and so its party index) exists; no CA issues them. The registry pins
each party's certificate by the SHA-256 of its DER encoding (`tls_sha256`), and an
MPC link trusts exactly the registry's certificates. A certificate names its
validator and carries the MPC host as a subject alternative name; it serves both
ends of a link (server and client authentication).
"""

import datetime
import hashlib
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["make_party_cert", "cert_fingerprint", "party_name"]

_PARTY_DAYS = 1825
_SKEW = datetime.timedelta(minutes=5)  # tolerate peers whose clocks lag behind the maker's
_MAX_NAME = 64


def party_name(pid: int) -> str:
    """Return the name MPyC's own TLS mode checks for party pid (its links here pin certificates instead)."""
    return f"MPyC party {pid}"


def make_party_cert(name: str, host: str) -> tuple[bytes, bytes]:
    """Make a validator's self-signed MPC certificate for host; return certificate and key as PEM."""
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME:
        raise ValueError(f"name must be 1 to {_MAX_NAME} characters")
    if not isinstance(host, str) or not host:
        raise ValueError("host must be a host name or IP address")
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _SKEW)
        .not_valid_after(now + datetime.timedelta(days=_PARTY_DAYS))
        # Not a CA: it vouches for nobody but itself. OpenSSL accepts such a certificate
        # as its own trust anchor when it is in the verify locations.
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
        .add_extension(x509.SubjectAlternativeName([_host_name(host)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def cert_fingerprint(cert_pem) -> str:
    """Return the SHA-256 of the certificate's DER encoding, in lower-case hex."""
    cert = x509.load_pem_x509_certificate(_bytes(cert_pem))
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _bytes(pem) -> bytes:
    return pem.encode() if isinstance(pem, str) else bytes(pem)
