"""Personal fields of commands, sealed end to end for the service that owns the command.

The bus is TLS-protected, but a command's names, birth date, AZR number or contact details
would still lie in clear in every NATS server's memory and in any process allowed to read the
subject. So the gateway seals them for the receiving service: it moves the command's personal
top-level fields (``Command.sealed_fields``) into one ``_sealed`` value, encrypted to that
service's X25519 public key (ephemeral-static ECDH, HKDF-SHA256, AES-256-GCM, with the
command's subject as associated data, so a sealed value cannot be replayed into another
command). Only the service holds the private key; it opens the value before validating the
command, and refuses personal fields that arrive in clear.

Replies carry positions and ids only, and error messages never quote input values, so replies
need no sealing. Keys: ``HUB_SEALING_KEY`` (a service process's private key, base64url of 32
bytes) and ``HUB_SEALING_PUBLIC_KEYS`` (the gateway's JSON map service -> public key); in dev
both are derived from keys created once under ``HUB_HOME/secrets``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contracts.commands import Command
from kernel.errors import DomainError
from services.runtime.settings import HubSettings

SEALED = "_sealed"
_INFO = b"integration-hub command seal v1"
_RAW = 32
_NONCE = 12


class SealError(DomainError):
    """A sealed command could not be opened, or personal fields came in clear."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "unsealed", SEALED)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_key(encoded: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_unb64(encoded))


def public_key(encoded: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(_unb64(encoded))


def public_of(encoded_private: str) -> str:
    """The base64url public key of a base64url private key."""
    return _b64(private_key(encoded_private).public_key().public_bytes_raw())


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=ephemeral + recipient, info=_INFO).derive(shared)


def seal(recipient: X25519PublicKey, plaintext: bytes, aad: bytes) -> str:
    """``plaintext`` encrypted to ``recipient``: ephemeral public key, nonce, ciphertext."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes_raw()
    key = _key(ephemeral.exchange(recipient), ephemeral_raw, recipient.public_bytes_raw())
    nonce = os.urandom(_NONCE)
    return _b64(ephemeral_raw + nonce + AESGCM(key).encrypt(nonce, plaintext, aad))


def open_sealed(own: X25519PrivateKey, token: str, aad: bytes) -> bytes:
    try:
        data = _unb64(token)
        ephemeral_raw, nonce, ciphertext = data[:_RAW], data[_RAW : _RAW + _NONCE], data[44:]
        ephemeral = X25519PublicKey.from_public_bytes(ephemeral_raw)
        own_raw = own.public_key().public_bytes_raw()
        key = _key(own.exchange(ephemeral), ephemeral_raw, own_raw)
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError, binascii.Error):
        raise SealError("the sealed personal data could not be opened") from None


def _aad(command: Command) -> bytes:
    return f"{command.service}.{command.name}".encode()


class Sealer:
    """The gateway's side: seals each command's personal fields for its service."""

    def __init__(self, public_keys: Mapping[str, str]) -> None:
        self._keys = {service: public_key(key) for service, key in public_keys.items()}

    def seal_body(self, command: Command, body: Mapping[str, Any]) -> dict[str, Any]:
        personal = command.sealed_fields & body.keys()
        if not personal:
            return dict(body)
        recipient = self._keys.get(command.service)
        if recipient is None:
            raise RuntimeError(f"no sealing key for {command.service} (HUB_SEALING_PUBLIC_KEYS)")
        secret = json.dumps({k: body[k] for k in personal}, default=str).encode()
        sealed = {k: v for k, v in body.items() if k not in personal}
        sealed[SEALED] = seal(recipient, secret, _aad(command))
        return sealed


class Opener:
    """A service's side: opens the sealed fields of its commands with its private key, and
    refuses personal fields in clear."""

    def __init__(self, encoded_private_key: str) -> None:
        self._key = private_key(encoded_private_key)

    def open_body(self, command: Command, data: bytes) -> bytes:
        """The command's JSON body with its sealed fields in place (unchanged when it holds
        none; a body that is not a JSON object is left for validation to refuse)."""
        if not command.sealed_fields:
            return data
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            return data
        if not isinstance(body, dict):
            return data
        token = body.pop(SEALED, None)
        if token is None:
            if command.sealed_fields & body.keys():
                raise SealError("personal fields must reach the service sealed")
            return data
        if not isinstance(token, str):
            raise SealError("the sealed personal data could not be opened")
        opened = json.loads(open_sealed(self._key, token, _aad(command)))
        if not isinstance(opened, dict) or not opened.keys() <= command.sealed_fields:
            raise SealError("the sealed value holds fields that are not personal")
        return json.dumps({**body, **opened}).encode()


def sealer_for(settings: HubSettings, services: Iterable[str]) -> Sealer:
    """The gateway's sealer, from ``HUB_SEALING_PUBLIC_KEYS`` or (dev) the services' keys."""
    if settings.sealing_public_keys is not None:
        return Sealer(settings.sealing_public_keys)
    return Sealer({s: public_of(settings.resolved_sealing_key(s)) for s in services})


def opener_for(settings: HubSettings, service: str) -> Opener:
    """A service's opener, from ``HUB_SEALING_KEY`` or (dev) its key under HUB_HOME."""
    return Opener(settings.resolved_sealing_key(service))
