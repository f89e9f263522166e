"""TLS client certificates against a real server: a dev server with an extra listener that
requires and verifies client certificates (our own CA, made here with cryptography)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from secure_secrets_vault.backend import VaultBackend
from secure_secrets_vault.errors import VaultTLSError


def make_ca_and_certs(directory: Path) -> dict[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{stem}-key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # Key usage and key identifiers: Python 3.13's ssl verifies with VERIFY_X509_STRICT.
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    write("ca", ca, ca_key)
    for stem, usage, sans in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH,
         [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("client")]),
    ):  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name(stem)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        write(stem, cert, key)
    return {stem: str(directory / f"{stem}.pem") for stem in ("ca", "server", "client")}


@pytest.fixture
def mtls_server(bao_factory, free_port_pair, tmp_path: Path):  # type: ignore[no-untyped-def]
    certs = make_ca_and_certs(tmp_path)
    port = free_port_pair()
    extra = tmp_path / "mtls.hcl"
    extra.write_text(
        f"""
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{port + 1}"
  tls_cert_file = "{certs["server"]}"
  tls_key_file = "{tmp_path / "server-key.pem"}"
  tls_client_ca_file = "{certs["ca"]}"
  tls_require_and_verify_client_cert = true
}}
"""
    )
    server = bao_factory(extra_args=[f"-config={extra}"]).start()
    return server, f"https://127.0.0.1:{port}", certs, tmp_path


def test_client_certificate_is_presented(mtls_server, unique: str) -> None:
    server, url, certs, directory = mtls_server
    options = {"vault_url": url, "vault_token": server.token, "ca_cert": certs["ca"]}
    with pytest.raises(VaultTLSError, match="TLS"):
        VaultBackend.from_options(options).write(f"{unique}/k", "v")
    backend = VaultBackend.from_options(
        {**options, "client_cert": certs["client"],
         "client_key": str(directory / "client-key.pem")}
    )  # fmt: skip
    backend.write(f"{unique}/k", "v")
    assert backend.read(f"{unique}/k") == "v"
