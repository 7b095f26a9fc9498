"""The server's Ed25519 signing key: signs chain anchors and export manifests.

Design. The private key is a PEM file at PARLEY_SIGNING_KEY_PATH, made on first use with
owner-only permissions (0600, in a 0700 directory when Parley creates it), and never leaves
the server; the public key is published (the console offers it for download, and every anchor
file carries it) so that anyone holding an anchor or an export can check its signature without
access to Parley. Signatures are base64 text over exact bytes.
"""

import base64
import hashlib
import os
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


def _key_path() -> Path:
    return Path(settings.PARLEY_SIGNING_KEY_PATH)


@cache
def _private_key(path: str) -> Ed25519PrivateKey:
    key_file = Path(path)
    if not key_file.exists():
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL: two processes making the key at once cannot overwrite each other's.
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_file} does not hold an Ed25519 private key.")
    return key


def signing_key() -> Ed25519PrivateKey:
    """Return the server's private key, made on first use."""
    return _private_key(str(_key_path()))


def public_key_pem() -> str:
    """Return the server's public key as PEM text."""
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_fingerprint(pem: str) -> str:
    """Return the SHA-256 of a public key's DER bytes (how people compare keys)."""
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def sign(data: bytes) -> str:
    """Return the base64 Ed25519 signature of the bytes."""
    return base64.b64encode(signing_key().sign(data)).decode()


def signature_is_valid(*, public_pem: str, data: bytes, signature: str) -> bool:
    """Return whether a base64 signature is the key's signature of the bytes."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
