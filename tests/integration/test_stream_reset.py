"""The tests' stream reset (conftest ``reset_streams``) against the NATS server's way of
deleting a stream: its directory is renamed to a tomb (``.NAME``) that is removed in the
background. A test that resets the streams while the tomb of the previous reset is still being
removed must still get every stream, empty."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from services.runtime.embedded import EmbeddedNats
from services.runtime.messaging import close, connect_admin, provision_streams, stream_name
from services.runtime.settings import HubSettings
from tests.conftest import reset_streams


async def test_a_reset_while_an_earlier_tomb_is_still_being_removed_gives_empty_streams(
    tmp_path: Path, servers: Any
) -> None:
    # Given a NATS server of its own with an event on the case management stream
    server = EmbeddedNats(tmp_path / "nats" / "js", secrets_dir=servers.nats_secrets)
    server.start()
    nc = await connect_admin(
        HubSettings(nats_url=server.url, nats_dev_secrets=servers.nats_secrets), "test-reset"
    )
    try:
        js = nc.jetstream()
        await provision_streams(js)
        name = stream_name("case_management")
        await js.publish("hub.case_management.test", b"{}")
        # and the tomb of an earlier deletion of that stream not yet removed
        streams = next((tmp_path / "nats" / "js").rglob("streams"))
        tomb = streams / f".{name}"
        (tomb / "msgs").mkdir(parents=True)
        (tomb / "msgs" / "1.blk").write_bytes(b"\0" * 4096)

        # When the streams are reset while the server's background removal of that tomb
        # takes another second
        remover = asyncio.create_task(_remove_after(tomb, 1.0))
        await reset_streams(js)
        await remover

        # Then every stream is there and has never held a message
        infos = {info.config.name: info for info in await js.streams_info()}
        assert name in infos
        assert all(info.state.last_seq == 0 for info in infos.values())
    finally:
        await close(nc)
        server.stop()


async def _remove_after(tomb: Path, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await asyncio.to_thread(shutil.rmtree, tomb)
