"""Name-based ids (UUID version 5), made without ``uuid.uuid5``'s checks.

``uuid.uuid5`` hashes the namespace's bytes and the name with SHA-1 and builds a ``UUID``
through its validating constructor; that constructor, and ``str()`` of the result, cost more
than the hash. Where an id is made for every event or message (the relay's event ids, the
inbound messages' keys), these give the same values directly: the first 16 bytes of the hash
with the version (5) and the RFC 4122 variant set, as ``uuid5`` sets them.
"""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID, SafeUUID

#: the bits ``uuid5`` clears and sets: the variant (RFC 4122) and the version (5)
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_SET = (0x8000 << 48) | (5 << 76)
_UNKNOWN = SafeUUID.unknown


def uuid5_of(namespace: bytes, name: str) -> UUID:
    """``uuid.uuid5(UUID(bytes=namespace), name)``."""
    digest = sha1(namespace + name.encode("utf-8"), usedforsecurity=False).digest()
    value = (int.from_bytes(digest[:16], "big") & _CLEAR) | _SET
    made = object.__new__(UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN)
    return made


def uuid5_text(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))``."""
    return str(uuid5_of(namespace, name))
