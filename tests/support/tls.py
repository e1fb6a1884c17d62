"""A certificate authority of the test's own (trustme) and a leaf for 127.0.0.1, as ``datawharf serve``
takes them (``DATAWHARF_TLS_CERT_FILE``/``KEY_FILE``): for clients that only build ``https://`` URLs."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class TlsFiles:
    ca: trustme.CA
    cert: Path
    key: Path
    ca_cert: Path  # the CA alone, for a client told to trust it (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS...)

    def env(self) -> dict[str, str]:
        return {"DATAWHARF_TLS_CERT_FILE": str(self.cert), "DATAWHARF_TLS_KEY_FILE": str(self.key)}

    def trusting_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def make_tls_files(folder: Path) -> TlsFiles:
    """A CA, and a leaf for 127.0.0.1 as a server gets it: the chain in one file, the key in another."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_cert = folder / "fullchain.pem", folder / "key.pem", folder / "ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_cert))
    return TlsFiles(ca, cert, key, ca_cert)
