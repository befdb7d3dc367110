"""NATS connection and JetStream provisioning."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts import DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECTS, stream_name, stream_subjects

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 2 * 60 * 60


async def connect(url: str, name: str, *, user: str | None = None) -> Client:
    """Connect with reconnects on; errors are logged, not raised into callbacks.

    Replies come back under ``_INBOX_<user>`` (``user`` is the NATS user this process
    connects as; by default its name), so the server's permissions can keep every process
    from reading replies meant for another (deploy/nats/hub.conf)."""
    inbox_user = (user or name).replace("-", "_").replace(".", "_")

    async def on_error(error: Exception) -> None:
        log.warning("NATS error (%s): %s", name, error)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        pending_size=64 * 1024 * 1024,
        inbox_prefix=f"_INBOX_{inbox_user}",
    )


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
