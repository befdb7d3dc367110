"""Position tokens: the opaque ``atLeast`` a write returns, naming the owning service and the
position (notification id) of its last event. A read given the token waits, bounded, until its
read model has read that service's log at least that far (gateway/consistency.py). Every
entry point that writes gives the same token: the gateway's mutations and the foreigners
authority's inbound receipts.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

_PREFIX = "p1."
_SERVICE = re.compile(r"^[a-z][a-z0-9_]*$")


class BadToken(ValueError):
    """The string is not a position token."""


@dataclass(frozen=True)
class Position:
    service: str
    position: int

    def token(self) -> str:
        raw = f"{self.service}:{self.position}".encode()
        return _PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def parse(cls, token: str) -> Position:
        if not token.startswith(_PREFIX):
            raise BadToken("not a position token")
        body = token[len(_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
            service, _, number = raw.partition(":")
            position = int(number)
        except (ValueError, UnicodeDecodeError):
            raise BadToken("not a position token") from None
        if not _SERVICE.match(service) or position < 0:
            raise BadToken("not a position token")
        return cls(service, position)
