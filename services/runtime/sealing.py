"""Personal fields of commands, sealed end to end for the service that owns the command.

The bus is TLS-protected, but a command's names, birth date, AZR number or contact details
would still lie in clear in every NATS server's memory and in any process allowed to read the
subject. So the gateway seals them for the receiving service: it moves the command's personal
top-level fields (``Command.sealed_fields``) into one ``_sealed`` value, encrypted to that
service's X25519 public key (ephemeral-static ECDH, HKDF-SHA256, AES-256-GCM, with the
command's subject as associated data, so a sealed value cannot be replayed into another
command). Only the service holds the private key; it opens the value before validating the
command, and refuses personal fields that arrive in clear.

Replies to commands carry positions and ids only, and error messages never quote input values,
so they need no sealing. The one reply that carries personal data, a service's answer to the
data-protection officer's ``subject_access`` read (Art. 15 GDPR), is sealed as a whole the
other way round: to the gateway's own X25519 public key, with the command's subject and a
nonce the gateway chose for this request as associated data, so an answer recorded off the bus
can be neither read nor replayed into another request.

Keys: ``HUB_SEALING_KEY`` (a process's private key, base64url of 32 bytes: each service's, and
the gateway's own), ``HUB_SEALING_PUBLIC_KEYS`` (the gateway's JSON map service -> public key)
and ``HUB_GATEWAY_PUBLIC_KEY`` (the services' copy of the gateway's public key); in dev all
are derived from keys created once under ``HUB_HOME/secrets``.
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


def _reply_aad(subject: str, nonce: str) -> bytes:
    """A sealed reply's associated data: the command (``<service>.<command>``) and the
    request's nonce."""
    return f"reply {subject} {nonce}".encode()


class Sealer:
    """The gateway's side: seals each command's personal fields for its service, and opens the
    replies sealed for the gateway (with its own private key, ``own_key``)."""

    def __init__(self, public_keys: Mapping[str, str], own_key: str | None = None) -> None:
        self._keys = {service: public_key(key) for service, key in public_keys.items()}
        self._own = private_key(own_key) if own_key is not None else None

    def open_reply(self, subject: str, nonce: str, token: str) -> dict[str, Any]:
        """A reply body sealed for the gateway by :meth:`Opener.seal_reply`."""
        if self._own is None:
            raise SealError("the gateway holds no key to open sealed replies (HUB_SEALING_KEY)")
        opened = json.loads(open_sealed(self._own, token, _reply_aad(subject, nonce)))
        if not isinstance(opened, dict):
            raise SealError("the sealed reply is not an object")
        return opened

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
    refuses personal fields in clear; seals replies that carry personal data for the gateway
    (``gateway_key``, its public key)."""

    def __init__(self, encoded_private_key: str, gateway_key: str | None = None) -> None:
        self._key = private_key(encoded_private_key)
        self._gateway = public_key(gateway_key) if gateway_key is not None else None

    @property
    def seals_replies(self) -> bool:
        return self._gateway is not None

    def seal_reply(self, subject: str, nonce: str, body: Mapping[str, Any]) -> str:
        """``body`` as JSON, sealed for the gateway; ``subject`` is ``<service>.<command>``."""
        if self._gateway is None:
            raise SealError("this service holds no gateway key (HUB_GATEWAY_PUBLIC_KEY)")
        plaintext = json.dumps(body, default=str, ensure_ascii=False).encode()
        return seal(self._gateway, plaintext, _reply_aad(subject, nonce))

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
    """The gateway's sealer, from ``HUB_SEALING_PUBLIC_KEYS`` or (dev) the services' keys, with
    the gateway's own key from ``HUB_SEALING_KEY`` or (dev) its key under HUB_HOME. Without its
    own key outside dev it still seals commands, and refuses to open sealed replies."""
    own = _gateway_key(settings)
    if settings.sealing_public_keys is not None:
        return Sealer(settings.sealing_public_keys, own)
    return Sealer({s: public_of(settings.resolved_sealing_key(s)) for s in services}, own)


def opener_for(settings: HubSettings, service: str) -> Opener:
    """A service's opener, from ``HUB_SEALING_KEY`` or (dev) its key under HUB_HOME, with the
    gateway's public key from ``HUB_GATEWAY_PUBLIC_KEY`` or (dev) the gateway's key under
    HUB_HOME (none outside dev without the setting: replies with personal data are refused)."""
    gateway = settings.gateway_public_key
    if gateway is None and settings.env == "dev":
        gateway = public_of(settings.resolved_sealing_key(GATEWAY, own=False))
    return Opener(settings.resolved_sealing_key(service), gateway)


GATEWAY = "gateway"


def _gateway_key(settings: HubSettings) -> str | None:
    try:
        return settings.resolved_sealing_key(GATEWAY)
    except RuntimeError:  # outside dev without HUB_SEALING_KEY
        return None
