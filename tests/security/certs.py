"""Test certificates made at test time with the ``openssl`` command (no key is committed):
a certificate authority, a server certificate for 127.0.0.1/localhost, and client
certificates signed by the authority."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVER_SUBJECT = "/CN=localhost/O=refka"
ALICE_SUBJECT = "/C=US/O=refka/OU=eng/CN=Alice"


@dataclass(frozen=True)
class Certs:
    ca: Path  # the authority's certificate (a PEM trust store)
    server: Path  # the server's key and certificate (a PEM key store)
    client_key: Path
    client_cert: Path
    client: Path  # the client's key and certificate in one file

    def broker_configs(self, **extra: str) -> dict[str, str]:
        """An SSL listener on an ephemeral port with these stores."""
        return {
            "listeners": "SSL://127.0.0.1:0",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.server),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
            **extra,
        }


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _signed(directory: Path, name: str, subject: str, ca_key: Path, ca: Path) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        subject,
    )
    extensions = directory / f"{name}.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        str(cert),
        "-extfile",
        str(extensions),
    )
    return key, cert


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=refka-test-ca",
    )
    server_key, server_cert = _signed(directory, "server", SERVER_SUBJECT, ca_key, ca)
    server = directory / "server.pem"
    server.write_text(server_key.read_text() + server_cert.read_text())
    client_key, client_cert = _signed(directory, "alice", ALICE_SUBJECT, ca_key, ca)
    client = directory / "alice.pem"
    client.write_text(client_key.read_text() + client_cert.read_text())
    return Certs(ca, server, client_key, client_cert, client)
