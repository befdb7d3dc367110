"""The deployment NATS permissions (deploy/nats/hub.conf) on a real nats-server.

DESIGN.md: case-management data never flows to the foreigners authority service (§ 87 AufenthG).
These tests start nats-server with the unmodified deployment config, as the embedded server of
`hub up` and the tests runs it (only host, port, store directory and TLS files are overridden),
connect as each process's user and show that the foreigners authority's users can neither
subscribe to case-management subjects nor read the HUB_CASE_MANAGEMENT stream through the
JetStream API; that no process can create or update a stream (the stream-source bypass) or
create a consumer other than under its own durable names; that the server demands TLS and a
known user; while every process can still do its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

from contracts import DEAD_LETTER_STREAM, command_subject, dead_letter_subject, stream_name
from hub.supervisor import Supervisor
from projections.rebuild import rebuild_durables
from projections.runner import durable_names
from services.runtime.bus_users import ADMIN_USER, bus_users, password_file
from services.runtime.embedded import EmbeddedNats
from services.runtime.messaging import (
    close,
    provision_streams,
    wait_for_dead_letter_stream,
    wait_for_service_stream,
)
from services.runtime.messaging import connect as connect_process
from services.runtime.settings import HubSettings
from services.steering_group.policies import policies as steering_policies
from tests.conftest import Servers

FA = "foreigners_authority"
CM = "case_management"
FA_STREAM = stream_name(FA)
CM_STREAM = stream_name(CM)
FA_EVENT = f"hub.{FA}.x.v1"
CM_EVENT = f"hub.{CM}.x.v1"
CM_SECRET = b'{"case":"confidential counselling note"}'

FOREIGNERS_AUTHORITY_USERS = ["foreigners_authority", "foreigners_authority_relay"]
PROCESS_USERS = sorted(set(bus_users()) - {ADMIN_USER})

QUIET = 0.3  # how long "nothing arrives" is watched
API_TIMEOUT = 0.5  # a denied JetStream API request is dropped by the server and times out


# ------------------------------------------------------------------------------ the server


@dataclass(frozen=True)
class Bus:
    url: str
    secrets: Path

    def password(self, user: str) -> str:
        return password_file(self.secrets, user).read_text().strip()

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.secrets / "ca.pem"))


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    """nats-server running deploy/nats/hub.conf as is (EmbeddedNats includes it unchanged),
    with TLS, on a free loopback port."""
    root = tmp_path_factory.mktemp("nats-permissions")
    server = EmbeddedNats(root / "jetstream", secrets_dir=root / "secrets")
    server.start(timeout=15)
    try:
        yield Bus(server.url, root / "secrets")
    finally:
        server.stop()  # our own child, by its pid


# ----------------------------------------------------------------------------- connections


@dataclass
class Conn:
    """A connection as one user, recording the asynchronous errors the server sends."""

    user: str
    nc: Client
    errors: list[Exception] = field(default_factory=list)

    def js(self) -> Any:
        return self.nc.jetstream(timeout=API_TIMEOUT)

    def violations(self) -> list[str]:
        texts = [str(error).lower() for error in self.errors]
        return [text for text in texts if "permissions violation" in text]

    async def violation_for(self, kind: str, subject: str, timeout: float = 1.0) -> bool:
        """Whether the server reported a violation for ``kind`` (publish/subscription)."""
        wanted = f'permissions violation for {kind} to "{subject.lower()}"'
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(wanted in text for text in self.violations()):
                return True
            await asyncio.sleep(0.02)
        return False


@pytest.fixture
async def connect(bus: Bus) -> AsyncIterator[Any]:
    opened: list[Conn] = []

    async def connect_as(user: str) -> Conn:
        errors: list[Exception] = []

        async def on_error(error: Exception) -> None:
            errors.append(error)

        nc = await nats.connect(
            bus.url,
            user=user,
            password=bus.password(user),
            tls=bus.tls(),
            name=f"test-{user}",
            error_cb=on_error,
            allow_reconnect=False,
            connect_timeout=2,
            inbox_prefix=f"_INBOX_{user}",  # as services.runtime.messaging.connect does
        )
        conn = Conn(user, nc, errors)
        opened.append(conn)
        return conn

    yield connect_as
    for conn in opened:
        with contextlib.suppress(Exception):
            await conn.nc.close()


@pytest.fixture(scope="module")
async def streams(bus: Bus) -> None:
    """The admin provisions the streams, as `hub up` does; each relay publishes one event."""
    admin = await nats.connect(
        bus.url, user=ADMIN_USER, password=bus.password(ADMIN_USER), tls=bus.tls()
    )
    await provision_streams(admin.jetstream(timeout=2))
    await admin.close()
    for service, subject, data in ((FA, FA_EVENT, b"{}"), (CM, CM_EVENT, CM_SECRET)):
        nc = await nats.connect(
            bus.url,
            user=f"{service}_relay",
            password=bus.password(f"{service}_relay"),
            tls=bus.tls(),
            inbox_prefix=f"_INBOX_{service}_relay",
        )
        js = nc.jetstream(timeout=2)
        await js.publish(subject, data, headers={"Nats-Msg-Id": f"{service}:0"})
        await nc.close()


async def collect(conn: Conn, subject: str) -> list[Msg]:
    received: list[Msg] = []

    async def on_msg(msg: Msg) -> None:
        received.append(msg)

    await conn.nc.subscribe(subject, cb=on_msg)
    await conn.nc.flush()
    return received


async def publish_case_event(connect: Any) -> int:
    """The case-management relay publishes an event; returns its stream sequence."""
    relay = await connect("case_management_relay")
    ack = await relay.js().publish(CM_EVENT, CM_SECRET)
    assert ack.stream == CM_STREAM
    return int(ack.seq)


async def denied(call: Awaitable[Any]) -> BaseException | None:
    """Run a request that must fail; return its exception (None if it succeeded)."""
    try:
        await call
    except nats.errors.Error as error:
        return error
    return None


# ---------------------------------------------------------------------------------- tests


@pytest.mark.usefixtures("streams")
@pytest.mark.parametrize("service", [FA, CM])
async def test_each_relay_publishes_and_reads_back_its_own_stream(connect, service):
    # Given the relay's user
    relay = await connect(f"{service}_relay")
    js = relay.js()

    # When it does what OutboxRelay does: wait for the stream, publish with a message id,
    # read the stream's info and its last message (plain and direct get)
    await wait_for_service_stream(js, service)
    ack = await js.publish(f"hub.{service}.x.v1", b"{}", headers={"Nats-Msg-Id": f"{service}:1"})
    info = await js.stream_info(stream_name(service))
    last = await js.get_msg(stream_name(service), seq=info.state.last_seq)
    direct = await js.get_msg(stream_name(service), seq=info.state.last_seq, direct=True)

    # Then everything succeeds on its own stream, without a single permissions violation
    assert ack.stream == stream_name(service)
    assert info.state.last_seq == ack.seq
    assert last.headers["Nats-Msg-Id"] == f"{service}:1"
    assert direct.seq == ack.seq
    assert relay.violations() == []


@pytest.mark.usefixtures("streams")
@pytest.mark.parametrize("user", FOREIGNERS_AUTHORITY_USERS)
@pytest.mark.parametrize("subject", [f"hub.{CM}.>", "hub.>", ">", f"hub.cmd.{CM}.*"])
async def test_foreigners_authority_users_cannot_subscribe_to_case_management(
    connect, user, subject
):
    # Given a foreigners-authority process that subscribes to case-management subjects
    fa = await connect(user)
    received = await collect(fa, subject)

    # When case management publishes an event and the gateway sends it a command
    await publish_case_event(connect)
    gateway = await connect("gateway")
    await gateway.nc.publish(command_subject(CM, "open_case"), CM_SECRET)
    await gateway.nc.flush()

    # Then the server refused the subscription and nothing arrived
    assert await fa.violation_for("subscription", subject), fa.errors
    await asyncio.sleep(QUIET)
    assert received == []


@pytest.mark.usefixtures("streams")
@pytest.mark.parametrize("user", FOREIGNERS_AUTHORITY_USERS)
async def test_foreigners_authority_users_cannot_read_the_case_management_stream(connect, user):
    # Given a foreigners-authority process and the HUB_CASE_MANAGEMENT stream with an event
    fa = await connect(user)
    js = fa.js()
    durable = ConsumerConfig(durable_name="peek", ack_policy=AckPolicy.EXPLICIT)
    named = ConsumerConfig(name="peek", ack_policy=AckPolicy.EXPLICIT)
    ephemeral = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)

    # When it tries every JetStream API that would read the stream
    attempts = {
        f"$JS.API.STREAM.INFO.{CM_STREAM}": js.stream_info(CM_STREAM),
        f"$JS.API.CONSUMER.DURABLE.CREATE.{CM_STREAM}.peek": js.add_consumer(CM_STREAM, durable),
        f"$JS.API.CONSUMER.CREATE.{CM_STREAM}.peek": js.add_consumer(CM_STREAM, named),
        f"$JS.API.CONSUMER.CREATE.{CM_STREAM}": js.add_consumer(CM_STREAM, ephemeral),
        f"$JS.API.CONSUMER.INFO.{CM_STREAM}.peek": js.consumer_info(CM_STREAM, "peek"),
        f"$JS.API.CONSUMER.MSG.NEXT.{CM_STREAM}.peek": fa.nc.request(
            f"$JS.API.CONSUMER.MSG.NEXT.{CM_STREAM}.peek", b'{"batch":1}', timeout=API_TIMEOUT
        ),
        f"$JS.API.STREAM.MSG.GET.{CM_STREAM}": js.get_msg(CM_STREAM, seq=1),
        f"$JS.API.DIRECT.GET.{CM_STREAM}": js.get_msg(CM_STREAM, seq=1, direct=True),
        f"$JS.API.DIRECT.GET.{CM_STREAM}.{CM_EVENT}": js.get_last_msg(
            CM_STREAM, CM_EVENT, direct=True
        ),
        f"$JS.API.STREAM.CREATE.{CM_STREAM}": js.add_stream(name=CM_STREAM, subjects=["x.>"]),
    }
    results = dict(
        zip(attempts, await asyncio.gather(*map(denied, attempts.values())), strict=True)
    )

    # Then each request failed, because the server refused to publish it
    succeeded = [subject for subject, error in results.items() if error is None]
    assert succeeded == []
    for subject in attempts:
        assert await fa.violation_for("publish", subject), (subject, fa.violations())
    # ... and no consumer was created on the stream
    admin = await connect(ADMIN_USER)
    with pytest.raises(NotFoundError):
        await admin.js().consumer_info(CM_STREAM, "peek")


@pytest.mark.usefixtures("streams")
async def test_foreigners_authority_relay_does_not_see_case_events_delivered_to_the_projector(
    connect,
):
    # Given the foreigners-authority relay, which needs `_INBOX.>` for its own API replies,
    # listening as widely on the inbox space as the server lets it
    relay = await connect("foreigners_authority_relay")
    wide = await collect(relay, "_INBOX.>")
    pull_inboxes = await collect(relay, "_INBOX.*")
    reply_inboxes = await collect(relay, "_INBOX.*.*")

    # When the projector fetches a case-management event (delivered to its `_INBOX.<id>`)
    projector = await connect("projector")
    durable = f"timeline_rebuild_{CM}"  # one of the projector's own durable names
    sub = await projector.js().pull_subscribe(
        "",
        durable=durable,
        stream=CM_STREAM,
        config=ConsumerConfig(
            name=durable,
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.LAST,
        ),
    )
    fetched = await sub.fetch(1, timeout=2)
    await fetched[0].ack_sync()
    await asyncio.sleep(QUIET)

    # Then the projector got it, and the relay's inbox wildcards were refused or got no event
    assert fetched[0].data == CM_SECRET
    assert await relay.violation_for("subscription", "_INBOX.>")
    assert await relay.violation_for("subscription", "_INBOX.*")
    assert wide == pull_inboxes == []
    assert [m for m in reply_inboxes if CM_SECRET in m.data or m.subject.startswith("hub.")] == []
    await projector.js().delete_consumer(CM_STREAM, durable)


@pytest.mark.usefixtures("streams")
async def test_foreigners_authority_relay_cannot_read_replies_to_case_management_commands(
    connect,
):
    # Given the case-management command server and the foreigners-authority relay on
    # the request/reply inbox space it needs for its own JetStream API calls
    server = await connect("case_management")

    async def answer(msg: Msg) -> None:
        await msg.respond(CM_SECRET)

    await server.nc.subscribe(command_subject(CM, "*"), queue=f"{CM}-commands", cb=answer)
    await server.nc.flush()
    relay = await connect("foreigners_authority_relay")
    replies = await collect(relay, "_INBOX.*.*")

    # When the gateway sends a case-management command
    gateway = await connect("gateway")
    reply = await gateway.nc.request(command_subject(CM, "open_case"), b"{}", timeout=2)
    await asyncio.sleep(QUIET)

    # Then the reply reached the gateway and nobody else
    assert reply.data == CM_SECRET
    assert [m for m in replies if m.data == CM_SECRET] == []


@pytest.mark.usefixtures("streams")
async def test_projector_reads_case_management_and_parks_dead_letters(connect):
    # Given the projector's user and an event on HUB_CASE_MANAGEMENT
    seq = await publish_case_event(connect)
    projector = await connect("projector")
    js = projector.js()

    # When it does what ConsumerLoop does: stream info, a durable pull consumer from the event
    # under its own name, fetch, ack, consumer info, a dead letter, delete the consumer
    await wait_for_service_stream(js, CM)
    await wait_for_dead_letter_stream(js)
    info = await js.stream_info(CM_STREAM)
    durable = f"timeline_{CM}"
    config = ConsumerConfig(
        name=durable,
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=seq,
        max_deliver=-1,
    )
    sub = await js.pull_subscribe("", durable=durable, stream=CM_STREAM, config=config)
    [msg] = await sub.fetch(1, timeout=2)
    await msg.ack_sync()
    consumer = await sub.consumer_info()
    parked = await js.publish(dead_letter_subject(durable), msg.data)
    await js.delete_consumer(CM_STREAM, durable)

    # Then it read the event, its ack was taken, and the dead letter was stored
    assert info.state.last_seq >= seq
    assert (msg.subject, msg.data) == (CM_EVENT, CM_SECRET)
    assert consumer.num_ack_pending == 0
    assert consumer.ack_floor.stream_seq == seq
    assert parked.stream == DEAD_LETTER_STREAM
    assert projector.violations() == []


@pytest.mark.usefixtures("streams")
async def test_gateway_sends_commands_but_cannot_publish_events(connect):
    # Given both command servers answering on their command subjects (queue groups, as
    # CommandServer subscribes), and the gateway's user
    for service in (FA, CM):
        server = await connect(service)

        async def answer(msg: Msg, service: str = service) -> None:
            await msg.respond(f"ok from {service}".encode())

        await server.nc.subscribe(
            command_subject(service, "*"), queue=f"{service}-commands", cb=answer
        )
        await server.nc.flush()
    gateway = await connect("gateway")
    relay = await connect("case_management_relay")
    before = (await relay.js().stream_info(CM_STREAM)).state.last_seq

    # When it sends commands, and tries to publish a case-management event
    to_cm = await gateway.nc.request(command_subject(CM, "open_case"), b"{}", timeout=2)
    to_fa = await gateway.nc.request(command_subject(FA, "record_arrival"), b"{}", timeout=2)
    await gateway.nc.publish(CM_EVENT, b"{}")
    await gateway.nc.flush()
    js_publish = await denied(gateway.js().publish(CM_EVENT, b"{}"))

    # Then the commands were answered, and the event was refused and never stored
    assert to_cm.data == b"ok from case_management"
    assert to_fa.data == b"ok from foreigners_authority"
    assert await gateway.violation_for("publish", CM_EVENT)
    assert js_publish is not None
    assert (await relay.js().stream_info(CM_STREAM)).state.last_seq == before


@pytest.mark.usefixtures("streams")
async def test_command_servers_publish_nothing_but_replies(connect):
    # Given the foreigners-authority command server's user
    server = await connect("foreigners_authority")

    # When it publishes an event, a case-management command, or a JetStream API request
    for subject in (FA_EVENT, CM_EVENT, command_subject(CM, "open_case"), "$JS.API.INFO"):
        await server.nc.publish(subject, b"{}")
    await server.nc.flush()

    # Then each is refused (replies to requests it received are its only output)
    for subject in (FA_EVENT, CM_EVENT, command_subject(CM, "open_case"), "$JS.API.INFO"):
        assert await server.violation_for("publish", subject), server.violations()


@pytest.mark.usefixtures("streams")
async def test_the_steering_group_reads_only_gap_reports_of_case_management(connect):
    # Given the steering group's user, with its inbox prefix
    steering = await connect("steering_group")
    js = steering.nc.jetstream(timeout=API_TIMEOUT)

    # When it creates its gap consumer with exactly the filter it is allowed
    allowed = await js.add_consumer(
        CM_STREAM,
        ConsumerConfig(
            name="steering_gaps",
            durable_name="steering_gaps",
            filter_subject="hub.case_management.systemic_gap_reported.v1",
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )

    # Then that works, and a wider filter on the same stream is refused
    assert allowed.config.filter_subject == "hub.case_management.systemic_gap_reported.v1"
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
        await js.add_consumer(
            CM_STREAM,
            ConsumerConfig(
                name="steering_wide",
                durable_name="steering_wide",
                filter_subject="hub.case_management.>",
                ack_policy=AckPolicy.EXPLICIT,
            ),
        )
    wide = "$JS.API.CONSUMER.CREATE.HUB_CASE_MANAGEMENT.steering_wide.hub.case_management.>"
    assert await steering.violation_for("publish", wide)


# ------------------------------------------------------- provisioning only: streams, consumers


def own_stream(user: str) -> str:
    """The stream a process's user works on most closely (a relay's own, else case
    management's, the one worth stealing)."""
    service = user.removesuffix("_relay")
    return stream_name(service) if user.endswith("_relay") else CM_STREAM


@pytest.mark.usefixtures("streams")
@pytest.mark.parametrize("user", PROCESS_USERS)
async def test_no_process_can_create_a_stream_sourcing_case_management(connect, user):
    # Given a process's user, and the case-management stream holding an event
    conn = await connect(user)
    copy = f"COPY_{user.upper()}"

    # When it creates a stream of its own that sources HUB_CASE_MANAGEMENT (the
    # stream-source bypass), and one with no source at all
    sourcing = await denied(
        conn.js().add_stream(StreamConfig(name=copy, sources=[StreamSource(name=CM_STREAM)]))
    )
    plain = await denied(conn.js().add_stream(name=f"{copy}_PLAIN", subjects=[f"{copy}.>"]))

    # Then the server refused both requests, and neither stream exists
    assert sourcing is not None
    assert plain is not None
    assert await conn.violation_for("publish", f"$JS.API.STREAM.CREATE.{copy}")
    assert await conn.violation_for("publish", f"$JS.API.STREAM.CREATE.{copy}_PLAIN")
    admin = await connect(ADMIN_USER)
    for name in (copy, f"{copy}_PLAIN"):
        with pytest.raises(NotFoundError):
            await admin.js().stream_info(name)


@pytest.mark.usefixtures("streams")
@pytest.mark.parametrize("user", PROCESS_USERS)
async def test_no_process_can_update_a_stream(connect, user):
    # Given a process's user and the stream closest to it
    conn = await connect(user)
    stream = own_stream(user)
    admin = await connect(ADMIN_USER)
    before = (await admin.js().stream_info(stream)).config

    # When it adds HUB_CASE_MANAGEMENT as a source of that stream, or widens its subjects
    config = StreamConfig(
        name=stream,
        subjects=[*(before.subjects or []), "hub.>"],
        sources=[StreamSource(name=CM_STREAM)] if stream != CM_STREAM else None,
    )
    refused = await denied(conn.js().update_stream(config))

    # Then the server refused the request, and the stream is as provisioned
    assert refused is not None
    assert await conn.violation_for("publish", f"$JS.API.STREAM.UPDATE.{stream}")
    after = (await admin.js().stream_info(stream)).config
    assert (after.subjects, after.sources) == (before.subjects, before.sources)


async def test_the_foreigners_authority_relay_cannot_provision_its_stream_as_a_copy(connect):
    # Given the foreigners authority's stream not provisioned yet (a fresh deployment whose
    # relay starts first)
    admin = await connect(ADMIN_USER)
    await provision_streams(admin.js())
    await admin.js().delete_stream(FA_STREAM)
    relay = await connect("foreigners_authority_relay")

    # When the relay creates it itself, sourcing HUB_CASE_MANAGEMENT
    try:
        refused = await denied(
            relay.js().add_stream(
                StreamConfig(
                    name=FA_STREAM,
                    subjects=[f"hub.{FA}.>"],
                    sources=[StreamSource(name=CM_STREAM)],
                )
            )
        )

        # Then the server refused it, and there is no such stream
        assert refused is not None
        assert await relay.violation_for("publish", f"$JS.API.STREAM.CREATE.{FA_STREAM}")
        with pytest.raises(NotFoundError):
            await admin.js().stream_info(FA_STREAM)
    finally:
        await provision_streams(admin.js())


@pytest.mark.usefixtures("streams")
@pytest.mark.parametrize("user", PROCESS_USERS)
async def test_no_process_creates_an_ephemeral_or_foreign_consumer(connect, user):
    # Given a process's user, and the steering group's consumer on case management
    steering = await connect("steering_group")
    await steering.js().add_consumer(
        CM_STREAM,
        ConsumerConfig(
            name="steering_gaps",
            durable_name="steering_gaps",
            filter_subject="hub.case_management.systemic_gap_reported.v1",
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )
    conn = await connect(user)
    js = conn.js()
    stream = own_stream(user)
    foreign = "timeline_case_management" if user == "steering_group" else "steering_gaps"

    # When it creates an ephemeral consumer, a durable one under a name not its own (named
    # and legacy create), and deletes another process's consumer
    attempts = {
        f"$JS.API.CONSUMER.CREATE.{stream}": js.add_consumer(
            stream, ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
        ),
        f"$JS.API.CONSUMER.CREATE.{stream}.peek": js.add_consumer(
            stream, ConsumerConfig(name="peek", ack_policy=AckPolicy.EXPLICIT)
        ),
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.peek": js.add_consumer(
            stream, ConsumerConfig(durable_name="peek", ack_policy=AckPolicy.EXPLICIT)
        ),
        f"$JS.API.CONSUMER.DELETE.{CM_STREAM}.{foreign}": js.delete_consumer(CM_STREAM, foreign),
    }
    results = dict(
        zip(attempts, await asyncio.gather(*map(denied, attempts.values())), strict=True)
    )

    # Then the server refused each, and the steering group's consumer is still there
    assert [subject for subject, error in results.items() if error is None] == []
    for subject in attempts:
        assert await conn.violation_for("publish", subject), (subject, conn.violations())
    admin = await connect(ADMIN_USER)
    assert (await admin.js().consumer_info(CM_STREAM, "steering_gaps")).name == "steering_gaps"
    with pytest.raises(NotFoundError):
        await admin.js().consumer_info(stream, "peek")


@pytest.mark.usefixtures("streams")
async def test_every_durable_consumer_the_code_runs_is_allowed_to_its_process(connect):
    # Given every durable consumer the projector runs (each projection on each source, and
    # each projection's rebuild) and the steering group's policies
    projector_consumers = durable_names() + rebuild_durables()
    policy_loops = steering_policies(None, None, None)  # type: ignore[arg-type]
    projector = await connect("projector")
    steering = await connect("steering_group")

    # When each process creates, reads and deletes its consumers as ConsumerLoop does
    # (a named create; the policies' with their filter)
    async def cycle(conn: Conn, stream: str, durable: str, filter_subject: str | None) -> None:
        js = conn.js()
        config = ConsumerConfig(
            name=durable,
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=filter_subject,
        )
        await js.add_consumer(stream, config)
        await js.consumer_info(stream, durable)
        if conn.user == "projector":  # a policy's consumer is its cursor: never deleted
            await js.delete_consumer(stream, durable)

    for stream, durable in projector_consumers:
        await cycle(projector, stream, durable, None)
    for loop in policy_loops:
        await cycle(steering, loop.stream, loop.durable, loop.filter_subject)

    # Then the server refused nothing
    assert len(projector_consumers) >= 12
    assert len(policy_loops) == 3
    assert projector.violations() == []
    assert steering.violations() == []


# ------------------------------------------------------------------------ users and TLS

ONCE: dict[str, Any] = {"allow_reconnect": False, "connect_timeout": 2, "max_reconnect_attempts": 0}


async def refused(connecting: Awaitable[Client]) -> BaseException:
    """The error a connection attempt that must fail ended with."""
    try:
        nc = await connecting
    except Exception as error:
        return error
    await nc.close()
    raise AssertionError("the connection was accepted")


async def greeting(url: str) -> dict[str, Any]:
    """The INFO a NATS server greets a new connection with (before any TLS)."""
    host, port = url.split("://")[-1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        info: dict[str, Any] = json.loads((await reader.readline()).decode().split(" ", 1)[1])
    finally:
        writer.close()
    return info


async def test_the_server_demands_tls_and_a_known_user(bus):
    # When a client reads the server's greeting, connects without a user, with a wrong
    # password, or over TLS without trusting the hub's CA
    hello = await greeting(bus.url)
    anonymous = await refused(nats.connect(bus.url, tls=bus.tls(), **ONCE))
    wrong = await refused(
        nats.connect(bus.url, user="projector", password="guess", tls=bus.tls(), **ONCE)
    )
    untrusted = await refused(
        nats.connect(
            bus.url,
            user="projector",
            password=bus.password("projector"),
            tls=ssl.create_default_context(),
            **ONCE,
        )
    )

    # Then TLS is required, and each connection was refused
    assert hello["tls_required"] is True
    assert hello["auth_required"] is True
    assert "authorization violation" in str(anonymous).lower()
    assert "authorization violation" in str(wrong).lower()
    assert isinstance(untrusted, ssl.SSLCertVerificationError), untrusted


async def test_hub_up_and_the_test_suite_run_the_embedded_nats_locked(
    tmp_path: Path, servers: Servers, database: str
) -> None:
    # Given the NATS server `hub up` starts on a fresh home, and the test session's server
    settings = HubSettings(
        home=tmp_path / "home", postgres_url=servers.postgres_url, database=database
    )
    supervisor = Supervisor(settings, children=[])
    _, hub_up_url = supervisor.start_servers()
    bus_settings = settings.model_copy(update={"nats_url": hub_up_url})
    try:
        for url, trusted in (
            (hub_up_url, bus_settings.nats_tls_context()),
            (servers.nats_url, servers.bus_settings().nats_tls_context()),
        ):
            # When a client connects without a user
            hello = await greeting(url)
            anonymous = await refused(nats.connect(url, tls=trusted, **ONCE))

            # Then the server demands TLS and a user, and refuses it
            assert url.startswith("tls://")
            assert (hello["tls_required"], hello["auth_required"]) == (True, True)
            assert "authorization violation" in str(anonymous).lower()

        # ... while a hub process connects as its own user, with the credentials made on
        # first start under the home's secrets
        projector = await connect_process(bus_settings, "projector")
        assert projector.is_connected
        await close(projector)
        assert (tmp_path / "home" / "secrets" / "nats" / "users" / "projector").exists()
    finally:
        supervisor.stop_servers()


@pytest.mark.usefixtures("streams")
async def test_gateway_may_ask_for_stream_info_but_reads_no_event(connect):
    # Given the gateway's user (readiness: the streams' last sequences) and an event on the
    # case-management stream
    relay = await connect("case_management_relay")
    await relay.js().publish(CM_EVENT, CM_SECRET)
    gateway = await connect("gateway")
    js = gateway.js()

    # When it asks for the streams' info, and tries to read the event
    infos = [await js.stream_info(stream_name(service)) for service in (FA, CM)]
    attempts = {
        f"$JS.API.STREAM.MSG.GET.{CM_STREAM}": js.get_msg(CM_STREAM, seq=1),
        f"$JS.API.DIRECT.GET.{CM_STREAM}": js.get_msg(CM_STREAM, seq=1, direct=True),
        f"$JS.API.CONSUMER.CREATE.{CM_STREAM}.peek": js.add_consumer(
            CM_STREAM,
            ConsumerConfig(name="peek", durable_name="peek", ack_policy=AckPolicy.EXPLICIT),
        ),
    }
    results = {subject: await denied(call) for subject, call in attempts.items()}

    # Then it got the counts, and every read of the event was refused
    assert infos[1].state.last_seq >= 1
    assert [subject for subject, error in results.items() if error is None] == []
    for subject in attempts:
        assert await gateway.violation_for("publish", subject), (subject, gateway.violations())
