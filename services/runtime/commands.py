"""Commands over NATS request/reply: a service's command server and the gateway's client.

A request carries a JSON body and headers with the command context (agency, role, legal
basis, purpose, correlation id) and the W3C trace context. The reply is always JSON:
``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": {"code", "message", "field"}}``.
An unexpected failure is logged with its traceback and answered with a reference, never
with the traceback itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import os
import secrets
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.persistence import RecordConflictError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import trace
from opentelemetry.context import attach as otel_attach
from opentelemetry.context import detach as otel_detach
from opentelemetry.context import get_current as otel_get_current
from pydantic import BaseModel, ValidationError

from contracts import command_subject
from contracts.commands import CATALOGUE, Command
from contracts.commands.privacy import ERASE_PERSON, RESTRICT_PROCESSING
from kernel.errors import DomainError
from services.runtime import telemetry
from services.runtime.context import CommandContext, use_context
from services.runtime.erasure import refuse_if_erased
from services.runtime.eventstore import stamp_context
from services.runtime.logs import collect_personal_values, personal_field_names, personal_values
from services.runtime.sealing import Opener, Sealer

log = logging.getLogger(__name__)
T = TypeVar("T")

_CONTEXT_HEADERS = {
    "agency": "Hub-Agency",
    "role": "Hub-Role",
    "legal_basis": "Hub-Legal-Basis",
    "purpose": "Hub-Purpose",
    "correlation_id": "Hub-Correlation-Id",
    "causation_id": "Hub-Causation-Id",
    "subject": "Hub-Subject",
}


class CommandRejected(DomainError):
    """The owning service refused the command (bad input, a wrong role or a broken rule);
    on the gateway's side, the refusal as it came back."""

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        missing: list[str] | None = None,
    ) -> None:
        super().__init__(message, code, field, missing)


class ServiceUnavailable(Exception):
    """No instance of the owning service answered in time.

    ``recorded`` is ``False`` when no instance was there to take the command (nothing was
    recorded: sending it again is safe), ``None`` when one took it and did not answer in
    time (it may have recorded the command: look before sending it again)."""

    def __init__(self, message: str, *, recorded: bool | None = False) -> None:
        super().__init__(message)
        self.recorded = recorded


def context_headers(context: CommandContext) -> dict[str, str]:
    meta = context.as_meta()
    return {header: meta[key] for key, header in _CONTEXT_HEADERS.items() if key in meta}


def context_from_headers(headers: Mapping[str, str]) -> CommandContext:
    values = {key: headers[h] for key, h in _CONTEXT_HEADERS.items() if h in headers}
    missing = [k for k in ("agency", "role", "legal_basis", "purpose") if k not in values]
    if missing:
        raise CommandRejected("missing_context", f"command context lacks {', '.join(missing)}")
    return CommandContext(**values)


def field_of(error: ValidationError) -> tuple[str, str | None]:
    """A readable message and the first field at fault, from a pydantic error."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    return "; ".join(parts), location or None


Handler = Callable[[Any, CommandContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Route:
    model: type[BaseModel]
    handler: Handler
    #: the catalogue's declaration, whose personal fields arrive sealed (None: plain route)
    command: Command | None = None


#: errors of an unreachable or restarting database, from the event store and the vault
DATABASE_DOWN = (psycopg.OperationalError, StoreOperationalError, StoreInterfaceError)


@dataclass
class GroupCommitStats:
    transactions: int = 0  # transactions the group commit wrote
    saves: int = 0  # commands' saves in them
    largest: int = 0  # most saves in one transaction
    one_by_one: int = 0  # groups that failed together and were retried save by save


class _Save:
    """One command's save, waiting for the transaction that stores it."""

    __slots__ = ("done", "error", "event", "recordings")

    def __init__(self, event: ProcessingEvent[Any]) -> None:
        self.event = event
        self.recordings: list[Any] | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Stores the events of the commands that save at the same moment in one transaction.

    Installed on an application (it takes over ``Application._record``), it lets each command
    run its own checks and decisions in its own writer thread; when the command saves, its
    events join those waiting. The first waiting thread writes everything that waits in one
    insert (one transaction, one commit), the others wait for it, and each gets its own
    recordings (positions) back. While one group is written, the next one gathers.

    A group that fails as a whole is not a failure of each command in it: unless the database
    is unreachable, each save is then tried on its own, so only the bad one (a concurrency
    conflict, an event that cannot be stored) fails and the others are stored exactly once.
    Saves with a tracking record (process applications) or extra arguments are written alone.
    """

    def __init__(self, app: Application[Any], *, max_group: int = 128) -> None:
        self.app = app
        self.max_group = max_group
        self.stats = GroupCommitStats()
        self._record_alone: Callable[[ProcessingEvent[Any]], list[Any]] = app._record
        self._cond = threading.Condition()
        self._waiting: list[_Save] = []
        self._writing = False

    def install(self) -> GroupCommit:
        self.app._record = self.record  # type: ignore[method-assign,assignment]
        return self

    def record(self, event: ProcessingEvent[Any]) -> list[Any]:
        if event.tracking is not None or event.saved_kwargs or not event.events:
            return self._record_alone(event)
        for domain_event in event.events:  # the context of this command, in its own thread
            stamp_context(domain_event)
        save = _Save(event)
        with self._cond:
            self._waiting.append(save)
            while not save.done and self._writing:
                self._cond.wait()
            if save.done:
                return self._outcome(save)
            self._writing = True
            group = self._waiting[: self.max_group]
            del self._waiting[: self.max_group]
        try:
            self._write(group)
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
        return self._outcome(save)

    @staticmethod
    def _outcome(save: _Save) -> list[Any]:
        if save.error is not None:
            raise save.error
        assert save.recordings is not None
        return save.recordings

    def _write(self, group: list[_Save]) -> None:
        self.stats.transactions += 1
        self.stats.saves += len(group)
        self.stats.largest = max(self.stats.largest, len(group))
        if len(group) == 1 or not _disjoint(group):
            if len(group) > 1:
                self.stats.one_by_one += 1
            self._one_by_one(group)
            return
        combined: ProcessingEvent[Any] = ProcessingEvent()
        for save in group:
            combined.events.extend(save.event.events)
            combined.aggregates.update(save.event.aggregates)
        try:
            recordings = self._record_alone(combined)
        except DATABASE_DOWN as error:
            # the outcome is unknown or nothing was written: trying again now could store a
            # command twice; every command is refused as unavailable (and may be retried)
            for save in group:
                save.error, save.done = error, True
            return
        except Exception:
            self.stats.one_by_one += 1
            self._one_by_one(group)  # nothing was stored: find the one that fails
            return
        start = 0
        for save in group:
            end = start + len(save.event.events)
            save.recordings, save.done = recordings[start:end], True
            start = end

    def _one_by_one(self, group: list[_Save]) -> None:
        for save in group:
            try:
                save.recordings = self._record_alone(save.event)
            except BaseException as error:  # handed to the command's own thread
                save.error = error
            save.done = True


def _disjoint(group: list[_Save]) -> bool:
    """No aggregate is saved by two commands of the group (they would conflict)."""
    seen: set[Any] = set()
    for save in group:
        ids = {event.originator_id for event in save.event.events}
        if ids & seen:
            return False
        seen |= ids
    return True


class PersonGate:
    """Lets an erasure or a restriction run alone among a service's commands.

    With group commit a service runs several commands at once. A command about a person checks
    first that the person is not erased (``refuse_if_erased``), then encrypts with the person's
    key and saves; an erasure running meanwhile could destroy the key between the two, and the
    command would store data after the erasure. So every other command holds the gate
    ``shared`` from its check to its save, and an erasure or restriction holds it
    ``exclusive``: it waits for the commands in flight and new ones wait for it (erasures are
    rare; a waiting one goes before new commands, so it is not starved).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._exclusive = False
        self._queued = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive or self._queued:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._queued += 1
            try:
                while self._exclusive or self._active:
                    self._cond.wait()
            finally:
                self._queued -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class CommandServer:
    """Serves one service's commands on ``hub.cmd.<service>.<command>`` (queue group).

    Handlers run the (synchronous) application through :meth:`execute`, on the writer
    threads. By default there is one; :meth:`group_commit` gives the server several and lets
    their commands' saves share transactions (:class:`GroupCommit`), because concurrent
    inserts into one event store only contend for its lock. A command that loses an
    optimistic-concurrency race is retried on the fresh aggregate.

    The server answers up to ``in_flight`` requests at once (one per writer thread with group
    commit, else one): nats-py hands a subscription's messages to its callback one at a
    time, so each request is answered in a task of its own, and the callback waits for a free
    slot before it takes the next message (the subscription's pending limits then apply, as
    before). Without this the writer threads would only ever see one command, and no group
    would form.
    """

    def __init__(
        self,
        nc: Client,
        service: str,
        *,
        conflict_retries: int = 3,
        opener: Opener | None = None,
        in_flight: int = 1,
    ) -> None:
        self.nc = nc
        self.service = service
        #: opens the sealed personal fields of catalogue commands, and refuses them in clear
        self.opener = opener
        self.routes: dict[str, Route] = {}
        self.conflict_retries = conflict_retries
        self._subscription: Subscription | None = None
        self._tracer = telemetry.tracer(f"hub.{service}")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{service}-writer")
        self.committer: GroupCommit | None = None
        self._jobs: list[tuple[float, Callable[[], object], CommandContext]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._on_start: list[Callable[[], object]] = []
        self._answer_up_to(in_flight)

    def _answer_up_to(self, limit: int) -> None:
        """Answer up to ``limit`` requests at once."""
        self.in_flight = max(1, limit)
        self._slots = asyncio.Semaphore(self.in_flight)
        self._answering: set[asyncio.Task[None]] = set()

    def group_commit(
        self, app: Application[Any], writers: int | None = None, *, answer_at_once: bool = True
    ) -> GroupCommit | None:
        """Run up to ``writers`` commands at once on ``app``, their saves grouped into shared
        transactions. Call before :meth:`start`. ``writers`` defaults to the environment's
        ``HUB_COMMAND_WRITERS`` (else 16); 1 keeps one writer thread and no group commit.
        ``answer_at_once=False`` keeps answering one request at a time (only the server's
        scheduled jobs then run beside a command)."""
        if writers is None:
            writers = int(os.environ.get("HUB_COMMAND_WRITERS", "16"))
        if writers <= 1:
            return None
        if self.committer is None:
            self.committer = GroupCommit(app).install()
            self._writer.shutdown(wait=True)
            self._writer = ThreadPoolExecutor(
                max_workers=writers, thread_name_prefix=f"{self.service}-writer"
            )
            if answer_at_once:
                self._answer_up_to(writers)
        return self.committer

    def on_start(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` when the server starts (registering routes starts nothing)."""
        self._on_start.append(fn)

    def schedule(self, interval: float, fn: Callable[[], object], context: CommandContext) -> None:
        """Run ``fn`` on the writer thread now and every ``interval`` seconds."""
        self._jobs.append((interval, fn, context))

    async def _repeat(
        self, interval: float, fn: Callable[[], object], context: CommandContext
    ) -> None:
        while True:
            try:
                await self.execute(fn, context)
            except Exception:
                log.exception("%s: scheduled job failed", self.service)
            await asyncio.sleep(interval)

    async def execute(self, fn: Callable[[], T], context: CommandContext) -> T:
        """Run ``fn`` on the writer thread in ``context``; retry lost concurrency races."""
        loop = asyncio.get_running_loop()
        otel_context = otel_get_current()

        def call() -> T:
            token = otel_attach(otel_context)
            try:
                for attempt in range(self.conflict_retries + 1):
                    try:
                        with use_context(context):
                            return fn()
                    except RecordConflictError:
                        if attempt == self.conflict_retries:
                            raise CommandRejected(
                                "conflict", "the record changed meanwhile; please retry"
                            ) from None
                raise AssertionError("unreachable")
            finally:
                otel_detach(token)

        # the copy carries the request's context variables (personal values) to the thread
        return await loop.run_in_executor(self._writer, contextvars.copy_context().run, call)

    def route(
        self,
        command: str,
        model: type[BaseModel],
        handler: Handler,
        declaration: Command | None = None,
    ) -> None:
        self.routes[command] = Route(model, handler, declaration)

    async def start(self) -> None:
        for fn in self._on_start:
            fn()
        self._subscription = await self.nc.subscribe(
            command_subject(self.service, "*"), queue=f"{self.service}-commands", cb=self._on_msg
        )
        self._tasks = [asyncio.create_task(self._repeat(*job)) for job in self._jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:  # stopping twice is harmless
            await subscription.drain()  # type: ignore[no-untyped-call]
        if self._answering:  # the requests taken before the drain are still answered
            await asyncio.gather(*self._answering, return_exceptions=True)
        self._writer.shutdown(wait=True)

    async def _on_msg(self, msg: Msg) -> None:
        if self.in_flight == 1:
            await self._answer(msg)
            return
        await self._slots.acquire()  # the next message waits here for a free slot
        task = asyncio.create_task(self._answer(msg))
        self._answering.add(task)
        task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[None]) -> None:
        self._answering.discard(task)
        self._slots.release()

    async def _answer(self, msg: Msg) -> None:
        try:
            reply = await self.dispatch(msg.subject.rsplit(".", 1)[-1], msg.data, msg.headers or {})
        except Exception as error:  # dispatch answers every failure itself: a last resort
            reference = str(uuid.uuid4())
            # outside dispatch's redaction of the request's personal values: the kind only
            log.error(
                "%s: a command failed (%s, reference %s)",
                self.service,
                type(error).__name__,
                reference,
            )
            reply = _error("internal", f"internal error, reference {reference}")
        try:
            await msg.respond(json.dumps(reply, default=str).encode())
        except Exception as error:  # the bus went away: the client sees its request time out
            log.warning(
                "%s: could not send the answer to a command (%s)",
                self.service,
                type(error).__name__,
            )

    async def dispatch(
        self, command: str, data: bytes, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        route = self.routes.get(command)
        if route is not None and route.command is not None and self.opener is not None:
            try:
                data = self.opener.open_body(route.command, data)
            except DomainError as error:
                return _error(error.code, error.message, error.field)
        with (
            personal_values(_personal_in(route.model, data) if route is not None else ()),
            contextlib.ExitStack() as scope,
            self._tracer.start_as_current_span(
                f"command {command}",
                context=telemetry.extract(headers),
                kind=trace.SpanKind.SERVER,
                attributes={"hub.service": self.service, "hub.command": command},
            ) as span,
        ):
            try:
                if route is None:
                    raise CommandRejected("unknown_command", f"unknown command {command!r}")
                context = context_from_headers(headers).with_traceparent(
                    telemetry.current_traceparent()
                )
                scope.enter_context(use_context(context))  # logs carry its correlation id
                try:
                    body = route.model.model_validate_json(data or b"{}")
                except ValidationError as error:
                    message, field = field_of(error)
                    raise CommandRejected("invalid_input", message, field) from None
                result = await route.handler(body, context)
                return {"ok": True, "result": result}
            except DomainError as error:  # CommandRejected included
                span.set_attribute("hub.rejected", error.code)
                reply = _error(error.code, error.message, error.field)
                if error.missing is not None:
                    reply["error"]["missing"] = list(error.missing)
                return reply
            except DATABASE_DOWN as error:
                # the transaction did not commit (or its outcome is unknown, as with a lost
                # reply): a clear, retryable refusal, not an internal error with a traceback
                span.record_exception(error)
                log.warning(
                    "command %s: the database is unavailable (%s)", command, type(error).__name__
                )
                return _error("unavailable", "the service's database is unavailable; try again")
            except Exception as error:
                reference = str(uuid.uuid4())
                log.exception("command %s failed (reference %s)", command, reference)
                span.record_exception(error)
                return _error("internal", f"internal error, reference {reference}")


@functools.cache
def _personal_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(personal_field_names(model))


def _personal_in(model: type[BaseModel], data: bytes) -> list[str]:
    """The personal values in a raw command body, read whether or not it validates, so that
    neither a rejection nor a failure can log them."""
    names = _personal_fields(model)
    if not names or not data:
        return []
    try:
        parsed = json.loads(data)
    except ValueError:
        return []
    return collect_personal_values(parsed, names)


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "field": field}}


class CommandClient:
    """Sends commands to the owning service and returns its result."""

    def __init__(self, nc: Client, timeout: float = 10.0, *, sealer: Sealer | None = None) -> None:
        self.nc = nc
        self.timeout = timeout
        #: seals catalogue commands' personal fields for the owning service
        self.sealer = sealer
        self._tracer = telemetry.tracer("hub.commands")

    async def send(
        self,
        service: str,
        command: str,
        body: Mapping[str, Any],
        context: CommandContext,
        *,
        declaration: Command | None = None,
    ) -> dict[str, Any]:
        """Send ``command`` and return its result; the personal fields of a catalogue
        command, or of a read's ``declaration`` (one outside the catalogue), travel sealed."""
        with self._tracer.start_as_current_span(
            f"send {service}.{command}", kind=trace.SpanKind.CLIENT
        ):
            headers = telemetry.inject(context_headers(context))
            declared = declaration or CATALOGUE.get(service, command)
            if self.sealer is not None and declared is not None:
                body = self.sealer.seal_body(declared, body)
            try:
                msg = await self.nc.request(
                    command_subject(service, command),
                    json.dumps(body, default=str).encode(),
                    timeout=self.timeout,
                    headers=headers,
                )
            except NoRespondersError:
                raise ServiceUnavailable(
                    f"the {service.replace('_', ' ')} service is not running: nothing was"
                    " recorded; try again shortly"
                ) from None
            except (TimeoutError, NatsTimeoutError):
                raise ServiceUnavailable(
                    f"the {service.replace('_', ' ')} service did not answer within"
                    f" {self.timeout:g} s: a change may have been recorded all the same;"
                    " look before sending it again",
                    recorded=None,
                ) from None
        reply = json.loads(msg.data)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise CommandRejected(
                str(error.get("code", "rejected")),
                str(error.get("message", "command rejected")),
                error.get("field"),
                error.get("missing"),
            )
        result = reply.get("result") or {}
        assert isinstance(result, dict)
        return result

    async def read_sealed(
        self, service: str, command: str, body: Mapping[str, Any], context: CommandContext
    ) -> dict[str, Any]:
        """A read whose reply carries personal data: the service seals the reply body for the
        gateway, bound to this command and a fresh nonce, and it is opened here."""
        if self.sealer is None:
            raise ServiceUnavailable("the gateway holds no key to open sealed replies")
        nonce = secrets.token_urlsafe(24)
        result = await self.send(service, command, {**body, "nonce": nonce}, context)
        token = result.get("sealed")
        if not isinstance(token, str):
            raise CommandRejected("unsealed", "the reply was not sealed for the gateway")
        return self.sealer.open_reply(f"{service}.{command}", nonce, token)


class CommandOutcome(Protocol):
    """What an application's command method returns: its last event's position and the ids
    it created or touched."""

    @property
    def position(self) -> int: ...

    @property
    def ids(self) -> Mapping[str, str]: ...


#: runs one command on the application: (declaration, validated payload, caller) -> outcome
Invoke = Callable[[Command, Any, CommandContext], CommandOutcome]


def call_method(app: Any) -> Invoke:
    """The plain way to run a command: ``app.<command name>(**payload fields)``."""

    def invoke(command: Command, payload: Any, context: CommandContext) -> CommandOutcome:
        outcome: CommandOutcome = getattr(app, command.name)(**payload.model_dump())
        return outcome

    return invoke


def register_commands(
    server: CommandServer, invoke: Invoke, app: Any, *, independent: bool = False
) -> None:
    """Route every command the catalogue gives ``server``'s service to ``invoke``, on the
    writer thread, after checking the caller's role against the declaration. The reply is the
    outcome's position and the ids the declaration names.

    ``independent``: each of the service's commands decides on and changes one aggregate
    only, so optimistic concurrency alone keeps commands that run at once correct, and the
    server answers several at once (their saves grouped, :class:`GroupCommit`). Otherwise a
    command may decide on what another aggregate says (a case's consent, say), which a
    concurrent command could change unseen, and the server answers one at a time.

    The erasure (``erase_person``) and the restriction (``restrict_processing``) are served
    the same way in every service (services/runtime/erasure.py), and a command naming an
    erased or restricted person is refused."""

    gate = PersonGate()

    def erase(command: Command, payload: Any, context: CommandContext) -> CommandOutcome:
        with gate.exclusive():
            outcome: CommandOutcome = app.erase_person(
                payload.person_id, payload.ground, payload.rule
            )
        return outcome

    def guarded(command: Command, payload: Any, context: CommandContext) -> CommandOutcome:
        with gate.shared():
            refuse_if_erased(app.vault, getattr(payload, "person_id", None))
            return invoke(command, payload, context)

    def restrict(command: Command, payload: Any, context: CommandContext) -> CommandOutcome:
        with gate.exclusive():
            outcome: CommandOutcome = app.restrict_processing(
                payload.person_id, payload.ground, payload.rule
            )
        return outcome

    special = {ERASE_PERSON: erase, RESTRICT_PROCESSING: restrict}
    if isinstance(app, Application):
        server.group_commit(app, answer_at_once=independent)
    for command in CATALOGUE.of(server.service):
        run = special.get(command.name, guarded)
        server.route(command.name, command.payload, _handler(server, command, run), command)


def _handler(server: CommandServer, command: Command, invoke: Invoke) -> Handler:
    async def handle(payload: Any, context: CommandContext) -> dict[str, Any]:
        if context.role not in command.roles:
            raise CommandRejected("forbidden", f"role {context.role!r} may not {command.name}")
        outcome = await server.execute(lambda: invoke(command, payload, context), context)
        ids = {name: str(outcome.ids[name]) for name in command.result_ids if outcome.ids.get(name)}
        return {"position": outcome.position, **ids}

    return handle
