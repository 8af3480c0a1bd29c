"""Certificates and private MariaDB servers for the TLS tests (core and Airflow).

``make_certificates`` writes a CA, a server certificate that names only ``localhost`` (so connecting to
``127.0.0.1`` is connecting to "another host" as far as the certificate is concerned), a client
certificate, and a second CA that signed nothing the servers use (the "wrong CA").

``tls_server`` / ``plain_server`` are module-scoped private servers with the general query log on, so a
test can prove from the server side what a client sent (or that it sent nothing).
"""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.private_mariadb import PrivateMariaDB, require_mariadb_binaries, running_private_mariadb


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key: rsa.RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, name: str, *, dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (), usage=ExtendedKeyUsageOID.SERVER_AUTH,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("lightning test CA")
    server_key, server_cert = _leaf(ca_key, ca_cert, "localhost", dns=("localhost",))
    client_key, client_cert = _leaf(ca_key, ca_cert, "lightning client", usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    _, wrong_ca_cert = _ca("some other CA")
    return Certificates(
        ca=_write_cert(ca_cert, directory / "ca.pem"),
        server_cert=_write_cert(server_cert, directory / "server-cert.pem"),
        server_key=_write_key(server_key, directory / "server-key.pem"),
        client_cert=_write_cert(client_cert, directory / "client-cert.pem"),
        client_key=_write_key(client_key, directory / "client-key.pem"),
        wrong_ca=_write_cert(wrong_ca_cert, directory / "wrong-ca.pem"),
    )


@dataclass
class LoggedServer:
    """A private server and its general query log."""

    mariadb: PrivateMariaDB
    general_log: Path

    @property
    def port(self) -> int:
        return self.mariadb.port

    def log_text(self) -> str:
        # Every statement is written to the file as it arrives; FLUSH makes sure nothing waits in a buffer.
        root = self.mariadb._root()
        try:
            with root.cursor() as cur:
                cur.execute("FLUSH GENERAL LOGS")
        finally:
            root.close()
        return self.general_log.read_text(errors="replace")

    def logins_of(self, user: str) -> list[str]:
        """The general log's lines for ``user`` logging in (or being refused), not the statements naming it."""
        return [line for line in self.log_text().splitlines() if "Connect" in line and user in line]

    def root_query(self, sql: str, args=None) -> list[tuple]:
        root = self.mariadb._root()
        try:
            with root.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            root.close()

    def create_user(self, *, require_ssl: bool = False, prefix: str = "lt_tls") -> tuple[str, str]:
        """A new user with every privilege (and ``REQUIRE SSL`` if asked): ``(name, password)``."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        password = f"pw-{uuid.uuid4().hex[:12]}"
        self.root_query(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'" + (" REQUIRE SSL" if require_ssl else ""))
        self.root_query(f"GRANT ALL PRIVILEGES ON *.* TO '{name}'@'%'")
        return name, password


def _logged_server(base: Path, options: tuple[str, ...]) -> Iterator[LoggedServer]:
    general_log = base / "general.log"
    with running_private_mariadb(
        base / "server", options=(*options, "--general-log=1", f"--general-log-file={general_log}")
    ) as server:
        yield LoggedServer(server, general_log)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, certificates: Certificates) -> Iterator[LoggedServer]:
    """A private MariaDB that offers TLS with a certificate for ``localhost`` signed by the test CA."""
    require_mariadb_binaries()
    yield from _logged_server(
        tmp_path_factory.mktemp("tls-server"),
        (f"--ssl-ca={certificates.ca}", f"--ssl-cert={certificates.server_cert}",
         f"--ssl-key={certificates.server_key}"),
    )


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    """A private MariaDB without TLS (MariaDB 10.x offers none without certificates)."""
    require_mariadb_binaries()
    yield from _logged_server(tmp_path_factory.mktemp("plain-server"), ("--skip-ssl",))
