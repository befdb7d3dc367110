"""GraphQL subscriptions (graphql-transport-ws): agencies receive what concerns them, live.

The projector sends ``NOTIFY hub_timeline`` / ``hub_case_views`` when it commits. One
listening connection per gateway wakes every subscriber, which then reads what is new since
its own cursor and filters it with the same visibility rule as queries, evaluated at delivery
time: a withdrawal or expiry stops delivery from that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from contracts.roles import PARTNERS, TIMELINE_READERS
from gateway import audit
from gateway.cases.queries import load_referrals
from gateway.cases.types import Referral
from gateway.context import HubContext, HubError, ctx
from gateway.timeline import TimelineEntry, entry
from projections.case_views.queries import inbox_version, latest_version
from projections.timeline.queries import new_rows

log = logging.getLogger(__name__)
CHANNELS = ("hub_timeline", "hub_case_views")
RECHECK_SECONDS = 5.0  # also look without a notification (e.g. consents expiring by date)
#: the read models' database is away (restarting, connections cut): a subscription keeps its
#: cursor and reads again at the next wake-up instead of ending
TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


class Notifier:
    """Wakes subscribers when a read model has committed something new."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: asyncpg.Connection | None = None
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._events: dict[str, asyncio.Event] = {c: asyncio.Event() for c in CHANNELS}
        self._waiters: dict[str, set[asyncio.Event]] = {c: set() for c in CHANNELS}

    async def start(self) -> None:
        conn = await asyncpg.connect(self.url)
        for channel in CHANNELS:
            await conn.add_listener(channel, self._notified)
        conn.add_termination_listener(self._lost)
        self._conn = conn

    def _lost(self, _conn: object) -> None:
        """The listening connection died (e.g. the server restarted): listen again."""
        if self._closing or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        log.warning("subscriptions: the listening connection was lost; reconnecting")
        self._conn = None
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.2
        while not self._closing:
            try:
                await self.start()
            except (*TRANSIENT, asyncpg.PostgresError) as error:
                log.info("subscriptions: cannot listen yet (%s)", type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("subscriptions: listening again")
            for channel in CHANNELS:  # a notification may have been missed meanwhile
                self._notified(None, 0, channel, "")
            return

    def _notified(self, _conn: object, _pid: int, channel: str, _payload: str) -> None:
        for waiter in self._waiters.get(channel, ()):
            waiter.set()

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str):  # type: ignore[no-untyped-def]
        waiter = asyncio.Event()
        self._waiters[channel].add(waiter)
        try:
            yield waiter
        finally:
            self._waiters[channel].discard(waiter)

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


async def _wait(waiter: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(waiter.wait(), RECHECK_SECONDS)
    waiter.clear()


async def _positions(pool: asyncpg.Pool, consumer: str) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT source, position FROM projections.consumer_positions WHERE consumer = $1",
        consumer,
    )
    return {r["source"]: int(r["position"]) for r in rows}


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="New events about persons, as far as your role, agency and the persons' "
        "consents allow at the moment of delivery"
    )
    async def case_events(
        self,
        info: Info[HubContext, None],
        person_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[TimelineEntry, None]:
        context = ctx(info)
        principal = context.require(TIMELINE_READERS, "subscribe to case events")
        person = None
        if person_id is not None:
            try:
                person = UUID(str(person_id))
            except ValueError:
                raise HubError("personId is not a person id", "invalid_input", "personId") from None
        notifier: Notifier = context.notifier
        async with notifier.subscribe("hub_timeline") as waiter:
            cursor = await _positions(context.pool, "timeline")
            while True:
                await _wait(waiter)
                try:
                    now = await _positions(context.pool, "timeline")
                    rows = await new_rows(
                        context.pool,
                        context.reader(principal),
                        after=cursor,
                        upto=now,
                        person=person,
                    )
                except TRANSIENT as error:
                    log.warning(
                        "case events: the read model is unavailable (%s)", type(error).__name__
                    )
                    continue
                for row in rows:  # in (source, position) order: the cursor follows each row
                    try:
                        await audit.record_read(
                            context.pool,
                            principal,
                            action="case_events",
                            person_id=row["person_id"],
                            purpose=context.audit_purpose("case_processing"),
                        )
                    except TRANSIENT as error:
                        log.warning(
                            "case events: the audit is unavailable (%s)", type(error).__name__
                        )
                        break  # deliver the rest from here at the next wake-up
                    cursor = {**cursor, row["source"]: row["position"]}
                    yield entry(row)
                else:
                    cursor = now

    @strawberry.subscription(
        description="Referrals to your agency as they are sent, answered, or lose their "
        "consent; shared case data only while the consent is valid"
    )
    async def referral_inbox(
        self,
        info: Info[HubContext, None],
    ) -> AsyncGenerator[Referral, None]:
        context = ctx(info)
        principal = context.require(PARTNERS, "subscribe to a referral inbox")
        notifier: Notifier = context.notifier
        async with notifier.subscribe("hub_case_views") as waiter:
            seen: int | None = await inbox_version(context.pool, principal.agency)
            while True:
                await _wait(waiter)
                try:
                    changed = await load_referrals(
                        context.pool,
                        to_agency=principal.agency,
                        after_version=seen,
                        for_partner=True,
                        purpose=context.purpose,
                    )
                    if not changed:
                        continue
                    latest = await latest_version(context.pool, [UUID(r.id) for r in changed])
                except TRANSIENT as error:
                    log.warning(
                        "referral inbox: the read model is unavailable (%s)", type(error).__name__
                    )
                    continue
                for referral in reversed(changed):  # oldest first
                    if referral.shared_case is not None:
                        try:
                            await audit.record_read(
                                context.pool,
                                principal,
                                action="referral_inbox",
                                person_id=UUID(referral.person_id),
                                purpose=context.audit_purpose("case_processing"),
                            )
                        except TRANSIENT as error:
                            # the next wake-up delivers this batch again: once more rather
                            # than never
                            log.warning(
                                "referral inbox: the audit is unavailable (%s)",
                                type(error).__name__,
                            )
                            break
                    yield referral
                else:
                    seen = latest
