"""Process settings, read from the environment with the ``HUB_`` prefix."""

from __future__ import annotations

import os
import secrets
import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.bus_users import password_file


class HubSettings(BaseSettings):
    """Settings shared by every hub process.

    ``postgres_url`` / ``nats_url`` point at real servers; when they are unset, ``hub up``
    starts embedded ones under ``home`` and hands their addresses to its child processes.
    Secrets may be given directly; in ``dev`` they are created once under ``home/secrets``.
    """

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    home: Path = Path(".hub")
    postgres_url: str | None = None
    nats_url: str | None = None
    database: str = "hub"
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "integration-hub"
    # OpenID Connect access tokens (docs/security.md); unset: only the hub's HS256 tokens
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # default: jwks_uri from the issuer's discovery document
    oidc_clock_skew_seconds: float = 30.0
    oidc_agency_claim: str = "groups"
    oidc_agency_prefix: str = "/agencies/"
    oidc_role_claim: str = "realm_access.roles"
    # the workspace's sign-in through the identity provider (authorization code flow with
    # PKCE, docs/workspace.md); on when the issuer, the client id and the redirect URI are set
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="the workspace client's secret (a confidential client)"
    )
    oidc_redirect_uri: str | None = Field(
        default=None, description="the hub's callback, https://<host>/anmelden/rueckruf"
    )
    oidc_scopes: str = "openid"
    oidc_post_logout_redirect_uri: str | None = Field(
        default=None, description="where the provider's logout sends the user back to"
    )
    # the provider's endpoints; default: from the issuer's discovery document
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    oidc_end_session_endpoint: str | None = None
    vault_master_key: SecretStr | None = Field(
        default=None, description="base64url-encoded 32-byte key wrapping the per-person keys"
    )
    indicator_key: SecretStr | None = Field(
        default=None, description="secret of the steering indicators' cell keys (cell-key method)"
    )
    sealing_key: SecretStr | None = Field(
        default=None,
        description="this service process's X25519 key for sealed command fields (base64url)",
    )
    sealing_public_keys: dict[str, str] | None = Field(
        default=None, description="the gateway's map of service -> X25519 public key (base64url)"
    )
    gateway_public_key: str | None = Field(
        default=None,
        description="the gateway's X25519 public key: services seal replies with personal data"
        " (the Art. 15 report) to it (base64url)",
    )
    # the embedded PostgreSQL's superuser (provisioning only; processes connect as their roles)
    postgres_admin_password: SecretStr | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    projector_linger_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=1000.0,
        description="milliseconds a projection's live consumer waits for more messages when"
        " the first one ended a wait shorter than that (messages are flowing) before applying"
        " them together; after a longer wait it applies at once (0: never waits)",
    )
    gateway_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="gateway processes hub up runs on the one port (SO_REUSEPORT), each"
        " restarted on its own",
    )
    gateway_worker: int = Field(
        default=0,
        ge=0,
        description="which of them this process is (hub up sets it); only worker 0 runs the"
        " gateway's background jobs (resending unconfirmed erasures, the retention run)",
    )
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 8001  # the foreigners authority's inbound interface
    # POST /inbound/batches (bulk import): at most this many messages and bytes a request
    inbound_batch_max: int = Field(default=5000, ge=1)
    inbound_batch_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    inbound_batches_at_once: int = Field(
        default=2, ge=1, description="batches the inbound interface reads and imports at once"
    )
    log_level: str = "INFO"
    demo: bool = True
    # -- retention (docs/data-protection.md "Retention"): the rules, how often the gateway runs them
    retention_rules: Path | None = Field(
        default=None, description="a TOML file of retention rules (default: the hub's own)"
    )
    retention_every_hours: float = Field(
        default=24.0, ge=0, description="how often the gateway runs the retention rules (0: never)"
    )
    consistency_wait_seconds: float = 5.0
    ready_max_lag: int = Field(
        default=5000, ge=0, description="events a read model may lag before /readyz says 503"
    )
    command_timeout_seconds: float = 10.0
    gateway_statement_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="the longest one statement of the gateway may run (a read model or the"
        " audit held up by a lock or a stalled server); past it the read answers unavailable"
        " (0: no limit)",
    )
    max_body_bytes: int = Field(
        default=256 * 1024, gt=0, description="largest HTTP request body the gateway reads"
    )
    rate_limit_per_second: float = Field(
        default=20.0, ge=0, description="requests per second per token subject (0: no limit)"
    )
    rate_limit_burst: int = Field(
        default=200, gt=0, description="requests a token subject may send at once"
    )
    subscriptions_per_subject: int = Field(
        default=20,
        ge=0,
        description="live subscriptions one token subject may hold at once in a gateway"
        " process (0: no limit)",
    )
    rate_limit_chunk: int = Field(
        default=10,
        gt=0,
        description="tokens a gateway process leases at once from the shared bucket in"
        " PostgreSQL (all processes together admit at most the limit plus one chunk each)",
    )
    # -- the bus: this process's NATS user's password, and TLS (docs/security.md "The bus")
    nats_password: SecretStr | None = Field(
        default=None, description="this process's own NATS password (hub up hands each its own)"
    )
    nats_ca_file: Path | None = Field(
        default=None, description="the CA the NATS server's certificate is checked against"
    )
    nats_tls_server_name: str | None = Field(
        default=None, description="the name in the NATS server's certificate, if not the URL's"
    )
    nats_dev_secrets: Path | None = Field(
        default=None, description="the development bus's passwords and certificates"
    )

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def nats_secrets_dir(self) -> Path:
        """Where the development bus keeps its passwords and certificates (dev only)."""
        return self.nats_dev_secrets or self.secrets_dir / "nats"

    def nats_password_for(self, user: str) -> str | None:
        """The NATS password of ``user``: ``HUB_NATS_PASSWORD`` (this process's own); in dev
        without it, the development bus's password file; None where there is none."""
        if self.nats_password is not None:
            return self.nats_password.get_secret_value()
        if self.env != "dev":
            raise RuntimeError(f"HUB_NATS_PASSWORD must be set outside dev (HUB_ENV={self.env})")
        path = password_file(self.nats_secrets_dir, user)
        return path.read_text().strip() if path.exists() else None

    def nats_tls_context(self) -> ssl.SSLContext | None:
        """What clients check the NATS server's certificate with: ``HUB_NATS_CA_FILE``, in dev
        the development CA; None: the system's trusted CAs (when the server asks for TLS)."""
        ca_file = self.nats_ca_file
        if ca_file is None and self.env == "dev":
            dev_ca = self.nats_secrets_dir / "ca.pem"
            ca_file = dev_ca if dev_ca.exists() else None
        if ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(ca_file))

    def resolved_jwt_secret(self) -> str:
        """The JWT signing secret; in dev created once under ``home/secrets``."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return self._dev_secret("jwt.key")

    def resolved_vault_master_key(self) -> str:
        """The vault's key-wrapping key (base64url); in dev created once under ``home``."""
        if self.vault_master_key is not None:
            return self.vault_master_key.get_secret_value()
        return self._dev_secret("vault.key")

    def resolved_indicator_key(self) -> str:
        """The secret of the indicators' cell keys; in dev created once under ``home``."""
        if self.indicator_key is not None:
            return self.indicator_key.get_secret_value()
        return self._dev_secret("indicator.key")

    def resolved_sealing_key(self, service: str, *, own: bool = True) -> str:
        """``service``'s private key for sealed command fields (``gateway``: the gateway's, for
        sealed replies); in dev created once under ``home`` (one per process). ``own=False``
        reads another process's development key, never ``HUB_SEALING_KEY``."""
        if own and self.sealing_key is not None:
            return self.sealing_key.get_secret_value()
        return self._dev_secret(f"sealing-{service}.key")

    def resolved_postgres_admin_password(self) -> str:
        """The embedded PostgreSQL superuser's password; only ``hub up``'s provisioning uses it."""
        if self.postgres_admin_password is not None:
            return self.postgres_admin_password.get_secret_value()
        return self._dev_secret("postgres-admin.password", "HUB_POSTGRES_ADMIN_PASSWORD")

    def resolved_database_password(self, process: str) -> str:
        """The password of ``process``'s database role (``gateway``, ``projector`` or a
        service's name): ``HUB_DB_PASSWORD_<PROCESS>``, in dev created once under ``home``."""
        variable = f"HUB_DB_PASSWORD_{process.upper()}"
        given = os.environ.get(variable)
        if given:
            return given
        return self._dev_secret(f"postgres-{process}.password", variable)

    def _dev_secret(self, name: str, variable: str | None = None) -> str:
        if self.env != "dev":
            variable = variable or _VARIABLES.get(name.split("-")[0], _VARIABLES.get(name, name))
            raise RuntimeError(
                f"{variable} must be set outside dev "
                f"(HUB_ENV={self.env}); refusing to generate secrets in production"
            )
        path = self.secrets_dir / name
        if path.exists():
            return path.read_text().strip()
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.chmod(0o700)
        readable = name == "jwt.key" or name.endswith(".password")
        value = secrets.token_urlsafe(32) if readable else _random_key_b64()
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.write_text(value)
        tmp.chmod(0o600)
        try:  # the first process to create it wins; the others read what it wrote
            os.link(tmp, path)
        except FileExistsError:
            value = path.read_text().strip()
        finally:
            tmp.unlink()
        return value


#: the variable that gives each secret outside dev
_VARIABLES = {
    "jwt.key": "HUB_JWT_SECRET",
    "vault.key": "HUB_VAULT_MASTER_KEY",
    "indicator.key": "HUB_INDICATOR_KEY",
    "sealing": "HUB_SEALING_KEY",  # sealing-<service>.key
}


def _random_key_b64() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
