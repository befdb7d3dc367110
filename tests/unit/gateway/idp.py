"""A tiny OpenID Connect identity provider for tests: a JWKS and a discovery document served
on 127.0.0.1, with RSA and EC keys made by ``cryptography``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "integration-hub"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        data: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


@dataclass
class IdentityProvider:
    """Serves ``/.well-known/openid-configuration`` and ``/certs``; counts JWKS fetches.
    With ``gate`` set, the JWKS answer waits until the gate opens (a slow provider)."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    jwks_fetches: int = 0
    gate: threading.Event | None = None

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/kommune"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "f3c1d2e0-user",
            "iat": now,
            "exp": now + 300,
            "groups": ["/agencies/kim-05315", "/staff"],
            "realm_access": {"roles": ["offline_access", "case_manager"]},
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def token(self, key: SigningKey | None = None, **overrides: Any) -> str:
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**overrides), key.private, algorithm=key.alg, headers={"kid": key.kid}
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def hmac_token_with_public_key(claims: dict[str, Any], key: SigningKey) -> str:
    """The classic confusion attack: HS256 keyed with the identity provider's public key."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    mac = hmac.new(key.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"


@contextmanager
def serve_identity_provider(*keys: SigningKey) -> Iterator[IdentityProvider]:
    idp = IdentityProvider(keys=list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/realms/kommune/.well-known/openid-configuration":
                body: dict[str, Any] = {"issuer": idp.issuer, "jwks_uri": idp.jwks_url}
            elif self.path == "/realms/kommune/protocol/openid-connect/certs":
                idp.jwks_fetches += 1
                if idp.gate is not None:
                    idp.gate.wait(10)
                body = {"keys": [key.jwk() for key in idp.keys]}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    idp.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
