"""GraphQL subscriptions (graphql-transport-ws): agencies receive what concerns them, live.

The projector sends ``NOTIFY hub_timeline`` / ``hub_case_views`` when it commits. One
listening connection per gateway wakes every subscriber, which then reads what is new since
its own cursor and filters it with the same visibility rule as queries, evaluated at delivery
time: a withdrawal or expiry stops delivery from that moment.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncGenerator, Mapping
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from contracts import REGISTRY
from contracts.positions import BadToken, Position
from contracts.roles import PARTNERS, TIMELINE_READERS
from gateway import audit
from gateway.cases.queries import load_referrals
from gateway.cases.types import Referral
from gateway.context import HubContext, HubError, ctx
from gateway.timeline import TimelineEntry, entry
from projections.case_views.queries import inbox_version
from projections.timeline.queries import new_rows
from services.runtime.database import CONNECTION_LOST

log = logging.getLogger(__name__)
CHANNELS = ("hub_timeline", "hub_case_views")
RECHECK_SECONDS = 5.0  # also look without a notification (e.g. consents expiring by date)
FIRST_RETRY_SECONDS = 0.2  # after the read model or the audit was unavailable (_Retry)
PAGE = 500  # rows read at a time: a resumed subscription may have a long way to catch up
#: the read models' database is away (restarting, connections cut): a subscription keeps its
#: cursor and reads again shortly (``_Retry``) instead of ending
TRANSIENT = CONNECTION_LOST


class Notifier:
    """Wakes subscribers when a read model has committed something new, and holds each token
    subject to ``per_subject`` live subscriptions in this gateway process (0: no limit).

    Every subscriber reads the read model at each notification and every
    ``RECHECK_SECONDS``, so subscriptions cost the gateway and the database in proportion to
    their number: one token holding 2,000 of them (20 sockets of strawberry's 100 each) took
    half a core of the gateway at 5 arrivals a second, and slowed every other reader."""

    def __init__(self, url: str, *, per_subject: int = 0) -> None:
        self.url = url
        self.per_subject = per_subject
        self._held: collections.Counter[str] = collections.Counter()
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
    async def subscribe(self, channel: str, subject: str):  # type: ignore[no-untyped-def]
        """A waiter set at each notification on ``channel``, for a subscription of the token
        subject ``subject``; ``too_many_subscriptions`` when it holds its limit already."""
        if not self.has_room(subject):
            raise HubError(
                f"at most {self.per_subject} live subscriptions per user at once;"
                " end one before starting another",
                "too_many_subscriptions",
            )
        waiter = asyncio.Event()
        self._waiters[channel].add(waiter)
        self._held[subject] += 1
        try:
            yield waiter
        finally:
            self._waiters[channel].discard(waiter)
            self._held[subject] -= 1
            if not self._held[subject]:
                del self._held[subject]

    def has_room(self, subject: str) -> bool:
        """Whether ``subject`` may start another live subscription in this process now."""
        return not self.per_subject or self._held[subject] < self.per_subject

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class _Retry:
    """The pause before reading again after the read model or the audit was unavailable (a
    restart, a cut connection): 0.2 s, doubling up to ``RECHECK_SECONDS``, and 0.2 s again
    after a read that worked. The subscription then reads at once, without waiting for a
    notification (one sent meanwhile may be lost with the connection)."""

    __slots__ = ("delay",)

    def __init__(self) -> None:
        self.delay = FIRST_RETRY_SECONDS

    async def pause(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, RECHECK_SECONDS)

    def reset(self) -> None:
        self.delay = FIRST_RETRY_SECONDS


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


_RESUME_PREFIX = "c1."
_SOURCE = re.compile(r"^[a-z][a-z0-9_]*$")


def resume_token(cursor: Mapping[str, int]) -> str:
    """The opaque token of a subscription's cursor: how far it has read each service's log."""
    raw = ",".join(f"{source}:{position}" for source, position in sorted(cursor.items()))
    return _RESUME_PREFIX + base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def parse_resume_token(token: str) -> dict[str, int]:
    """The cursor a :func:`resume_token` names; ``HubError`` (invalid_input) if it names none."""
    invalid = HubError("after is not a resume token of caseEvents", "invalid_input", "after")
    if not token.startswith(_RESUME_PREFIX) or len(token) > 2000:
        raise invalid
    body = token[len(_RESUME_PREFIX) :]
    services = set(REGISTRY.services())
    cursor: dict[str, int] = {}
    try:
        padded = (body + "=" * (-len(body) % 4)).encode()
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        for part in filter(None, raw.split(",")):
            source, _, number = part.partition(":")
            position = int(number)
            if not _SOURCE.match(source) or source not in services or position < 0:
                raise invalid
            cursor[source] = position
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    return cursor


@strawberry.type(
    description="An event of the person timeline delivered live, with the token to resume after it"
)
class CaseEvent(TimelineEntry):
    resume: str = strawberry.field(
        description="Opaque: pass it as caseEvents(after:) on a new connection to receive "
        "what follows this event, and nothing before it"
    )


def case_event(row: object, cursor: Mapping[str, int]) -> CaseEvent:
    base = entry(row)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(TimelineEntry)}
    return CaseEvent(**fields, resume=resume_token(cursor))


#: the inbox's cursor: referrals' versions are positions in case management's log
INBOX_SOURCE = "case_management"


@strawberry.type(description="A referral delivered live, with the token to resume after it")
class InboxReferral(Referral):
    resume: str = strawberry.field(
        description="Opaque: pass it as referralInbox(after:) on a new connection to receive "
        "the changes that follow this delivery (a change delivered with earlier ones may come "
        "again, none is missed)"
    )


def inbox_referral(referral: Referral, cursor: int) -> InboxReferral:
    fields = {f.name: getattr(referral, f.name) for f in dataclasses.fields(Referral)}
    return InboxReferral(**fields, resume=Position(INBOX_SOURCE, cursor).token())


def parse_inbox_token(token: str) -> int:
    """The inbox version a resume token names (a position token in case management's log,
    as a write returns it, will do); ``HubError`` (invalid_input) if it names none."""
    try:
        position = Position.parse(token)
    except BadToken:
        position = None
    if position is None or position.service != INBOX_SOURCE:
        raise HubError("after is not a resume token of referralInbox", "invalid_input", "after")
    return position.position


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="New events about persons, as far as your role, agency and the persons' "
        "consents allow at the moment of delivery; with after (the resume token of the last "
        "event received), the events that followed it, then new ones"
    )
    async def case_events(
        self,
        info: Info[HubContext, None],
        person_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[CaseEvent, None]:
        context = ctx(info)
        principal = context.require(TIMELINE_READERS, "subscribe to case events")
        person = None
        if person_id is not None:
            try:
                person = UUID(str(person_id))
            except ValueError:
                raise HubError("personId is not a person id", "invalid_input", "personId") from None
        resumed = parse_resume_token(after) if after is not None else None
        notifier: Notifier = context.notifier
        async with notifier.subscribe("hub_timeline", principal.subject) as waiter:
            cursor = resumed if resumed is not None else await _positions(context.pool, "timeline")
            catch_up = resumed is not None  # read at once what followed the token
            retry = _Retry()
            while True:
                if not catch_up:
                    await _wait(waiter)
                catch_up = False
                try:
                    now = await _positions(context.pool, "timeline")
                    rows = await new_rows(
                        context.pool,
                        context.reader(principal),
                        after=cursor,
                        upto=now,
                        person=person,
                        limit=PAGE,
                    )
                except TRANSIENT as error:
                    log.warning(
                        "case events: the read model is unavailable (%s)", type(error).__name__
                    )
                    await retry.pause()
                    catch_up = True
                    continue
                # the page's entries in one group commit; each row is delivered only once its
                # own entry is stored, in order
                stored = audit.record_reads(
                    context.pool,
                    principal,
                    action="case_events",
                    person_ids=[row["person_id"] for row in rows],
                    purpose=context.audit_purpose("case_processing"),
                )
                for row, entry_stored in zip(rows, stored, strict=True):
                    # in (source, position) order: the cursor follows each row
                    try:
                        await entry_stored
                    except TRANSIENT as error:
                        log.warning(
                            "case events: the audit is unavailable (%s)", type(error).__name__
                        )
                        await retry.pause()
                        catch_up = True
                        break  # deliver the rest from here at the next read
                    cursor = {**cursor, row["source"]: row["position"]}
                    yield case_event(row, cursor)
                else:
                    retry.reset()
                    if len(rows) == PAGE:
                        catch_up = True  # more to read before waiting again
                    else:  # past what this reader may not see, up to what is committed
                        cursor = {s: max(cursor.get(s, 0), now.get(s, 0)) for s in cursor | now}

    @strawberry.subscription(
        description="Referrals to your agency as they are sent, answered, or lose their "
        "consent; shared case data only while the consent is valid; with after (the resume "
        "token of the last referral received), the changes that followed it, then new ones"
    )
    async def referral_inbox(
        self,
        info: Info[HubContext, None],
        after: str | None = None,
    ) -> AsyncGenerator[InboxReferral, None]:
        context = ctx(info)
        principal = context.require(PARTNERS, "subscribe to a referral inbox")
        resumed = parse_inbox_token(after) if after is not None else None
        notifier: Notifier = context.notifier
        async with notifier.subscribe("hub_case_views", principal.subject) as waiter:
            seen = (
                resumed
                if resumed is not None
                else await inbox_version(context.pool, principal.agency)
            )
            catch_up = resumed is not None
            retry = _Retry()
            while True:
                if not catch_up:
                    await _wait(waiter)
                catch_up = False
                try:
                    # the horizon first: one projector writes the versions in commit order,
                    # so every change up to it is committed and none beyond it is read
                    horizon = await inbox_version(context.pool, principal.agency)
                    changed = await load_referrals(
                        context.pool,
                        to_agency=principal.agency,
                        after_version=seen,
                        upto_version=horizon,
                        for_partner=True,
                        purpose=context.purpose,
                    )
                except TRANSIENT as error:
                    log.warning(
                        "referral inbox: the read model is unavailable (%s)", type(error).__name__
                    )
                    await retry.pause()
                    catch_up = True
                    continue
                delivered = list(reversed(changed))  # oldest first
                # the batch's entries (case data shared) in one group commit; each referral is
                # delivered only once its own entry is stored, in order
                audited = [r for r in delivered if r.shared_case is not None]
                stored = dict(
                    zip(
                        map(id, audited),
                        audit.record_reads(
                            context.pool,
                            principal,
                            action="referral_inbox",
                            person_ids=[UUID(r.person_id) for r in audited],
                            purpose=context.audit_purpose("case_processing"),
                        ),
                        strict=True,
                    )
                )
                for n, referral in enumerate(delivered, start=1):
                    if referral.shared_case is not None:
                        try:
                            await stored[id(referral)]
                        except TRANSIENT as error:
                            # the next read delivers this batch again: once more rather
                            # than never
                            log.warning(
                                "referral inbox: the audit is unavailable (%s)",
                                type(error).__name__,
                            )
                            await retry.pause()
                            catch_up = True
                            break
                    # a batch is not in version order: only its last delivery moves the token
                    yield inbox_referral(referral, horizon if n == len(changed) else seen)
                else:
                    retry.reset()
                    seen = max(seen, horizon)
