"""``hub status``: how far behind each consumer and relay is, the dead letters, process health.

Read as the operator: the database administrator (``HUB_POSTGRES_URL``: every service's schema
and the read models) and the bus's admin user (``HUB_NATS_URL``: stream and consumer info,
the dead-letter stream). Everything shown is counts and positions; no event is read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import httpx
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import DEAD_LETTER_STREAM, REGISTRY, stream_name
from projections.runner import PROJECTIONS, durable_name
from services.runtime.database import check_identifier
from services.runtime.relay import MSG_ID, notification_id_of

READ_MODELS = "projections"


@dataclass(frozen=True)
class ConsumerLag:
    """One durable consumer on a service's stream.

    ``committed`` is the stream sequence a projection has committed in the database (its
    cursor); None for a consumer whose cursor is the server's (a policy). ``lag`` counts the
    stream's messages past the cursor."""

    stream: str
    consumer: str
    last_seq: int
    committed: int | None
    pending: int | None  # JetStream: not yet delivered + delivered, not yet acked
    lag: int
    running: bool  # the consumer exists on the server


@dataclass(frozen=True)
class RelayPosition:
    """A service's relay: the last notification it published against its event store's."""

    service: str
    relayed: int
    stored: int

    @property
    def behind(self) -> int:
        return max(0, self.stored - self.relayed)


@dataclass(frozen=True)
class Health:
    endpoint: str
    status: int | None  # HTTP status; None: no answer
    detail: str


@dataclass
class Status:
    consumers: list[ConsumerLag] = field(default_factory=list)
    relays: list[RelayPosition] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    health: list[Health] = field(default_factory=list)
    #: why the bus could not be reached (None: it was): then only the database's side shows
    bus_error: str | None = None

    @property
    def healthy(self) -> bool:
        return self.bus_error is None and all(h.status == 200 for h in self.health)

    def as_json(self) -> dict[str, Any]:
        return {
            "bus": {"reachable": self.bus_error is None, "error": self.bus_error},
            "consumers": [asdict(c) for c in self.consumers],
            "relays": [{**asdict(r), "behind": r.behind} for r in self.relays],
            "dead_letters": self.dead_letters,
            "health": [asdict(h) for h in self.health],
        }


async def consumer_lags(js: JetStreamContext, pool: asyncpg.Pool) -> list[ConsumerLag]:
    """Every consumer on every service stream (the server's), and every projection's cursor
    (the database's), also where its consumer is not running."""
    committed = {
        (row["consumer"], row["source"]): int(row["stream_seq"])
        for row in await pool.fetch(
            f"SELECT consumer, source, stream_seq FROM {READ_MODELS}.consumer_positions"
        )
    }
    projection_of = {
        (stream_name(service), durable_name(projection, service)): (projection.name, service)
        for projection in PROJECTIONS
        for service in projection.sources()
    }
    found: list[ConsumerLag] = []
    for service in REGISTRY.services():
        stream = stream_name(service)
        try:
            last = int((await js.stream_info(stream)).state.last_seq)
        except NotFoundError:
            continue
        infos = {info.name: info for info in await js.consumers_info(stream)}
        names = sorted(set(infos) | {durable for (s, durable) in projection_of if s == stream})
        for name in names:
            info = infos.get(name)
            pending = int(info.num_pending or 0) + int(info.num_ack_pending or 0) if info else None
            key = projection_of.get((stream, name))
            cursor: int | None = None
            if key is not None:
                cursor = committed.get(key, 0)
            elif "_rebuild_" in name:
                # a rebuild's: positions under "<projection>@rebuild", or under
                # "<projection>+<other>...@rebuild" when several are rebuilt together
                projection = name.split("_rebuild_", 1)[0]
                cursor = max(
                    (
                        seq
                        for (consumer, source), seq in committed.items()
                        if source == service
                        and consumer.endswith("@rebuild")
                        and projection in consumer.removesuffix("@rebuild").split("+")
                    ),
                    default=0,
                )
            lag = last - cursor if cursor is not None else (pending or 0)
            found.append(
                ConsumerLag(stream, name, last, cursor, pending, max(0, lag), info is not None)
            )
    return found


async def relay_positions(
    pool: asyncpg.Pool, js: JetStreamContext | None = None
) -> list[RelayPosition]:
    """Each service's relay position against the newest notification in its event store."""
    found = []
    for service in REGISTRY.services():
        schema = check_identifier(service)
        events = await pool.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = $1"
            " AND column_name = 'notification_id' AND table_name LIKE '%\\_events'",
            schema,
        )
        stored = 0
        for row in events:
            table = check_identifier(row["table_name"])
            stored = max(
                stored,
                int(await pool.fetchval(f"SELECT max(notification_id) FROM {schema}.{table}") or 0),
            )
        relayed = 0
        if await pool.fetchval("SELECT to_regclass($1)", f"{schema}.relay_position"):
            relayed = int(
                await pool.fetchval(f"SELECT max(notification_id) FROM {schema}.relay_position")
                or 0
            )
        if js is not None:  # the recorded position lags (the relay writes it lazily)
            relayed = max(relayed, await last_relayed(js, service))
        found.append(RelayPosition(service, relayed, stored))
    return found


async def last_relayed(js: JetStreamContext, service: str) -> int:
    """The notification id of the newest of ``service``'s events on its stream (0 when the
    stream is empty or its newest message is not the relay's)."""
    stream = stream_name(service)
    try:
        info = await js.stream_info(stream)
        if not info.state.last_seq:
            return 0
        msg = await js.get_msg(stream, seq=info.state.last_seq)
    except NotFoundError:
        return 0
    return notification_id_of((msg.headers or {}).get(MSG_ID), service)


async def dead_letter_counts(js: JetStreamContext) -> dict[str, int]:
    """Dead letters per consumer (subject ``hub.dlq.<consumer>``)."""
    try:
        info = await js.stream_info(DEAD_LETTER_STREAM, subjects_filter="hub.dlq.>")
    except NotFoundError:
        return {}
    subjects = info.state.subjects or {}
    return {
        subject.removeprefix("hub.dlq."): int(count) for subject, count in sorted(subjects.items())
    }


async def process_health(
    gateway_url: str, inbound_url: str | None = None, timeout: float = 3.0
) -> list[Health]:
    """The gateway's liveness and readiness, and the inbound interface's liveness."""
    checks = [
        ("gateway /healthz", f"{gateway_url}/healthz"),
        ("gateway /readyz", f"{gateway_url}/readyz"),
    ]
    if inbound_url:
        checks.append(("inbound /inbound/healthz", f"{inbound_url}/inbound/healthz"))
    found = []
    async with httpx.AsyncClient(timeout=timeout) as client:
        for name, url in checks:
            try:
                response = await client.get(url)
            except httpx.HTTPError as error:
                found.append(Health(name, None, f"no answer ({type(error).__name__})"))
                continue
            found.append(Health(name, response.status_code, response.text.strip()[:300]))
    return found


async def collect(
    js: JetStreamContext | None,
    pool: asyncpg.Pool,
    gateway_url: str | None,
    inbound_url: str | None = None,
    *,
    bus_error: str | None = None,
) -> Status:
    """Everything ``hub status`` shows; without the bus (``js`` None, ``bus_error`` why) the
    relays' recorded positions against the event stores and the processes' health."""
    health = await process_health(gateway_url, inbound_url) if gateway_url else []
    if js is None:
        return Status(relays=await relay_positions(pool), health=health, bus_error=bus_error)
    return Status(
        consumers=await consumer_lags(js, pool),
        relays=await relay_positions(pool, js),
        dead_letters=await dead_letter_counts(js),
        health=health,
    )


def _table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def render(status: Status) -> str:
    """Plain tables, one per section."""
    parts = []
    if status.bus_error is not None:
        parts += [
            f"Bus: cannot be reached ({status.bus_error}): consumers and dead letters unknown,",
            "relays as they last recorded their positions",
            "",
        ]
    parts += [
        "Consumers",
        _table(
            ["stream", "consumer", "last seq", "committed", "pending", "lag", "running"],
            [
                [
                    c.stream,
                    c.consumer,
                    c.last_seq,
                    c.committed,
                    c.pending,
                    c.lag,
                    "yes" if c.running else "no",
                ]
                for c in status.consumers
            ],
        ),
        "",
        "Relays",
        _table(
            ["service", "relayed", "stored", "behind"],
            [[r.service, r.relayed, r.stored, r.behind] for r in status.relays],
        ),
        "",
        "Dead letters",
        _table(
            ["consumer", "letters"],
            [[consumer, count] for consumer, count in status.dead_letters.items()]
            or [["(none)", 0]],
        ),
    ]
    if status.health:
        parts += [
            "",
            "Health",
            _table(
                ["endpoint", "status", "detail"],
                [[h.endpoint, h.status, h.detail] for h in status.health],
            ),
        ]
    return "\n".join(parts)


def render_json(status: Status) -> str:
    return json.dumps(status.as_json(), indent=2, sort_keys=True)
