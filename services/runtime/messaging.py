"""NATS connection, JetStream provisioning, and waiting for provisioned streams."""

from __future__ import annotations

import asyncio
import logging
import time

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts import (
    DEAD_LETTER_STREAM,
    DEAD_LETTER_SUBJECTS,
    REGISTRY,
    stream_name,
    stream_subjects,
)
from services.runtime.bus_users import ADMIN_USER, process_user
from services.runtime.settings import HubSettings

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 2 * 60 * 60


class _QuietTlsClose(logging.Filter):
    """asyncio warns on every TLS connection nats-py closes ("returning true from
    eof_received() has no effect when using ssl"): harmless, and noise in every process's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


_QUIET_TLS_CLOSE = _QuietTlsClose()


async def connect(
    settings: HubSettings, name: str, *, user: str | None = None, first_attempts: int = -1
) -> Client:
    """Connect to ``settings.nats_url`` as the NATS user ``user`` (by default the process's
    name), with its password and TLS from the settings; reconnects on; errors are logged, not
    raised into callbacks.

    A process waits for the bus as long as it takes (``first_attempts=-1``); an operator's
    command gives up after ``first_attempts`` tries (``NoServersError``), so that it tells
    what is down instead of hanging. Once connected, both reconnect without limit.

    Replies come back under ``_INBOX_<user>``, so the server's permissions can keep every
    process from reading replies meant for another (deploy/nats/hub.conf)."""
    if not settings.nats_url:
        raise RuntimeError("HUB_NATS_URL is not set (hub up sets it for its processes)")
    logging.getLogger("asyncio").addFilter(_QUIET_TLS_CLOSE)  # once: filters are a set
    user = process_user(user or name)
    password = settings.nats_password_for(user)
    tls = settings.nats_tls_context()

    async def on_error(error: Exception) -> None:
        log.warning("NATS error (%s): %s", name, error)

    nc = await nats.connect(
        settings.nats_url,
        name=name,
        user=user if password is not None else None,
        password=password,
        tls=tls,
        tls_hostname=settings.nats_tls_server_name,
        # nats-py counts reconnects per server and never gives up at 0: at least 1
        max_reconnect_attempts=-1 if first_attempts < 0 else max(first_attempts, 1),
        reconnect_time_wait=0.5,
        error_cb=on_error,
        pending_size=64 * 1024 * 1024,
        inbox_prefix=f"_INBOX_{user}",
    )
    nc.options["max_reconnect_attempts"] = -1
    return nc


async def connect_admin(
    settings: HubSettings, name: str = "provision", *, first_attempts: int = -1
) -> Client:
    """Connect as the bus's admin user: for provisioning (and tests), never a hub process."""
    return await connect(settings, name, user=ADMIN_USER, first_attempts=first_attempts)


async def ensure_stream(js: JetStreamContext, name: str, subjects: list[str]) -> None:
    config = StreamConfig(
        name=name,
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        allow_direct=True,
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s for %s", name, subjects)


async def provision_streams(js: JetStreamContext) -> None:
    """Create every service's stream and the dead-letter stream (as the admin user)."""
    for service in REGISTRY.services():
        await ensure_service_stream(js, service)
    await ensure_dead_letter_stream(js)


async def wait_for_stream(js: JetStreamContext, name: str, timeout: float = 60.0) -> None:
    """Wait until the provisioning step has created the stream ``name``: hub processes may
    not create streams (deploy/nats/hub.conf), only look them up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js.stream_info(name)
            return
        except NotFoundError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"stream {name} does not exist after {timeout:.0f}s: provision the bus"
                    " first (hub up does; in a deployment `hub provision`)"
                ) from None
            log.info("waiting for stream %s to be provisioned", name)
            await asyncio.sleep(0.5)


async def wait_for_service_stream(js: JetStreamContext, service: str) -> str:
    name = stream_name(service)
    await wait_for_stream(js, name)
    return name


async def wait_for_dead_letter_stream(js: JetStreamContext) -> None:
    await wait_for_stream(js, DEAD_LETTER_STREAM)


async def ensure_service_stream(js: JetStreamContext, service: str) -> str:
    name = stream_name(service)
    await ensure_stream(js, name, stream_subjects(service))
    return name


async def ensure_dead_letter_stream(js: JetStreamContext) -> None:
    await ensure_stream(js, DEAD_LETTER_STREAM, list(DEAD_LETTER_SUBJECTS))


async def close(nc: Client) -> None:
    """Flush what we published (acks included), then close; never hangs on pull requests."""
    if nc.is_closed:
        return
    try:
        await nc.flush(timeout=2)
    except Exception as error:  # closing anyway: the server redelivers what was not acked
        log.debug("flush before close failed: %s", error)
    await nc.close()
