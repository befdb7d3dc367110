"""The hub's processes: each builds its connections from the settings and runs until ``stop``.

Each function imports what it runs inside its body, so that a relay process does not load
the gateway's web stack (about a second and 25 MB per process).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.runtime.settings import HubSettings

if TYPE_CHECKING:
    import uvicorn


def gateway_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The gateway's event loop: uvloop (installed with uvicorn[standard]), which takes a
    good share of the per-request CPU off the socket and scheduling work of asyncio's own
    loop; ``HUB_GATEWAY_LOOP=asyncio`` keeps the standard one. (uvicorn's ``loop="auto"``
    only applies when uvicorn creates the loop; ``serve`` runs in the process's own.)"""
    if os.environ.get("HUB_GATEWAY_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a slimmer install
        return None
    return uvloop.new_event_loop


def listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    """The gateway's listening socket. ``shared`` (several gateway processes,
    ``HUB_GATEWAY_WORKERS``): bound with ``SO_REUSEPORT``, so that each process binds the same
    port itself and the kernel spreads new connections over them; a process that dies takes
    only its own socket (and the connections it holds) with it, and its restart binds again
    beside the others. Only processes of the same user may share a port this way."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def gateway_server_config(app: Any, settings: HubSettings) -> uvicorn.Config:
    """uvicorn's settings for the gateway ``app``. A WebSocket message may be as large as an
    HTTP body (``HUB_MAX_BODY_BYTES``); beyond, uvicorn closes the socket with 1009 before
    the message is decoded (its default, 16 MiB, let one message cost a JSON decoding of
    16 MiB, which the body limit spares the HTTP route)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        http="httptools",  # uvicorn[standard]; "auto" would pick it too, this says so
        log_config=None,  # uvicorn logs through the hub's handler: one format, redacted
        lifespan="on",
        ws_max_size=settings.max_body_bytes,
    )


async def serve(settings: HubSettings, stop: asyncio.Event) -> None:
    """The gateway (uvicorn): one of ``settings.gateway_workers`` processes on the port."""
    import uvicorn

    from gateway.app import create_app
    from services.runtime.memory import freeze_startup_objects

    config = gateway_server_config(
        create_app(settings, background=settings.gateway_worker == 0), settings
    )
    server = uvicorn.Server(config)
    sock = listening_socket(
        settings.gateway_host, settings.gateway_port, shared=settings.gateway_workers > 1
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # uvicorn sets a flag, not an event, once its start (the lifespan) is done
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if server.started:
            freeze_startup_objects("gateway")
        await stop.wait()
        server.should_exit = True
        await task
    finally:
        sock.close()


async def run_projector(settings: HubSettings, stop: asyncio.Event) -> None:
    """The projector: keeps every read model up to date."""
    import asyncpg

    from projections.runner import run_projectors
    from services.runtime.database import keep_session
    from services.runtime.messaging import close, connect
    from services.runtime.service import database_url
    from services.runtime.telemetry import setup_tracing

    setup_tracing("hub-projector")
    # a projection's batch keeps no session state (SET LOCAL, transaction-level locks)
    pool = await asyncpg.create_pool(
        database_url(settings), min_size=1, max_size=4, reset=keep_session
    )
    nc = await connect(settings, "projector")
    try:
        await run_projectors(
            nc.jetstream(), pool, stop, linger=settings.projector_linger_ms / 1000.0
        )
    finally:
        await close(nc)
        await pool.close()


async def run_service(name: str, settings: HubSettings, stop: asyncio.Event) -> None:
    """One service's command server (with its policies and HTTP interface, if any)."""
    from hub.catalog import service
    from services.runtime.service import serve_commands

    await serve_commands(service(name), settings, stop)


async def run_relay(name: str, settings: HubSettings, stop: asyncio.Event) -> None:
    """One service's outbox relay."""
    from hub.catalog import service
    from services.runtime.service import relay_events

    await relay_events(service(name), settings, stop)
