"""Steady load through the gateway while faults hit the hub, and the proof afterwards.

The load sends ``registerArrival`` (foreigners authority) and ``holdCaseConference`` (case
management, on a case opened for each fault) at a steady rate from a few threads. Every
command carries a trace id of its own (``traceparent``), which the service stores beside each
event it records, the relay puts on the stream and the timeline keeps: that is how every
event is traced back to the command that caused it, whatever the reply said.

Faults, in turn and each at a random moment of its phase: kill -9 of a service's command
server, of a relay, of the projector and of the gateway (the supervisor restarts each), a
kill -9 of the NATS server and a crash (immediate shutdown) of PostgreSQL, both started
again by the run. A phase of poison messages publishes bad messages onto a service's stream.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from kernel.clock import today_in_germany
from tests.chaos.hub import ChaosHub, retry
from tests.helpers import arrival_input

ABH = {"role": "abh_officer", "agency": "abh-05315", "subject": "chaos-abh"}
KIM = {"role": "case_manager", "agency": "kim-05315", "subject": "chaos-cm"}

REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position } }"""
OPEN_CASE = """mutation($input: OpenCaseInput!) {
  openCase(input: $input) { caseId personId position } }"""
CONFERENCE = """mutation($input: HoldCaseConferenceInput!) {
  holdCaseConference(input: $input) { caseId position } }"""
TIMELINE = """query($id: ID!, $atLeast: String) {
  person(id: $id) { timeline(atLeast: $atLeast) { eventType traceId } } }"""

#: codes a refusal during an outage may carry; anything else (``internal`` above all) is a
#: finding. ``no_connection``: the gateway was down, the request never reached the hub;
#: ``connection_lost`` / ``client_timeout``: the answer was lost, the outcome is unknown.
CLEAR_CODES = {"unavailable", "conflict", "no_connection", "connection_lost"}

GATEWAY_KILL = "kill -9 gateway"
POISON_SUBJECT = "hub.foreigners_authority.arrival_registered.v1"
POISON_STREAM = "HUB_FOREIGNERS_AUTHORITY"


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[ChaosHub], object]


def kill(kind: str) -> Fault:
    return Fault(f"kill -9 {kind}", lambda hub: hub.kill(kind))


def restart_nats() -> Fault:
    return Fault("restart NATS (kill -9)", lambda hub: hub.restart_nats())


def restart_postgres() -> Fault:
    return Fault("restart PostgreSQL (crash)", lambda hub: hub.restart_postgres())


def poison() -> Fault:
    return Fault("poison messages", lambda hub: publish_poison(hub))


def all_faults() -> list[Fault]:
    return [
        kill("service foreigners_authority"),
        kill("service case_management"),
        kill("relay foreigners_authority"),
        kill("relay case_management"),
        kill("projector"),
        kill("gateway"),
        restart_nats(),
        restart_postgres(),
        poison(),
    ]


@dataclass
class Outcome:
    phase: str
    kind: str  # arrival | open_case | conference | probe
    trace_id: str
    accepted: bool = False
    code: str | None = None
    message: str | None = None
    status: int | None = None
    position: str | None = None
    ids: dict[str, str] = field(default_factory=dict)


def traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


class Client:
    """Sends GraphQL to the hub and records every command's outcome."""

    def __init__(self, hub: ChaosHub) -> None:
        self.hub = hub
        self.outcomes: list[Outcome] = []
        self.watcher: Watcher | None = None  # the live subscription, once the run is over
        self._lock = threading.Lock()
        self._tokens = {
            who["role"]: hub.token(who["role"], who["agency"], who["subject"]) for who in (ABH, KIM)
        }

    def post(
        self, http: httpx.Client, query: str, variables: dict[str, Any], role: str, **headers: str
    ) -> httpx.Response:
        return http.post(
            f"{self.hub.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self._tokens[role]}", **headers},
            timeout=30,
        )

    def command(
        self,
        http: httpx.Client,
        phase: str,
        kind: str,
        query: str,
        variables: dict[str, Any],
        role: str,
    ) -> Outcome:
        trace_id, parent = traceparent()
        outcome = Outcome(phase, kind, trace_id)
        try:
            response = self.post(http, query, variables, role, traceparent=parent)
        except httpx.ConnectError:
            outcome.code = "no_connection"
        except httpx.TimeoutException:
            outcome.code = "client_timeout"
        except httpx.TransportError:
            outcome.code = "connection_lost"
        else:
            outcome.status = response.status_code
            outcome.message = response.text[:500]
            if response.status_code != 200:
                outcome.code = f"http_{response.status_code}"
            else:
                body = response.json()
                if body.get("errors"):
                    error = body["errors"][0]
                    outcome.code = (error.get("extensions") or {}).get("code", "uncoded")
                    outcome.message = error.get("message")
                else:
                    result = next(iter(body["data"].values()))
                    outcome.accepted = True
                    outcome.position = result.pop("position")
                    outcome.ids = {k: v for k, v in result.items() if isinstance(v, str)}
                    outcome.message = None
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def open_case(self, http: httpx.Client, phase: str) -> str:
        variables = {
            "input": {
                "givenNames": "Mariam",
                "familyName": f"Abdi-{secrets.token_hex(3)}",
                "birthDate": "1999-12-01",
                "targetGroup": "newly_arrived",
                "legalSpheres": ["asylblg"],
                "intakeSource": "self_referral",
                "interpreterNeeded": False,
            }
        }

        def once() -> str | None:
            outcome = self.command(http, phase, "open_case", OPEN_CASE, variables, "case_manager")
            return outcome.ids.get("caseId") if outcome.accepted else None

        return str(retry(once, 60, "a case opened"))

    def probe(self, http: httpx.Client, phase: str) -> float:
        """Until an arrival is accepted and visible on its person's timeline: the hub's path
        from gateway to read model works again. Returns the seconds it took."""
        started = time.monotonic()

        def accepted() -> Outcome | None:
            outcome = self.command(
                http, phase, "probe", REGISTER, {"input": arrival_input()}, "abh_officer"
            )
            return outcome if outcome.accepted else None

        outcome: Outcome = retry(accepted, 120, "an accepted arrival", every=0.2)

        def visible() -> bool:
            response = self.post(
                http,
                TIMELINE,
                {"id": outcome.ids["personId"], "atLeast": outcome.position},
                "abh_officer",
            )
            data = response.json().get("data") or {}
            rows = (data.get("person") or {}).get("timeline") or []
            return any(row["traceId"] == outcome.trace_id for row in rows)

        retry(visible, 120, "the probe on the timeline", every=0.2)
        return time.monotonic() - started


LIVE = """subscription($after: String) {
  caseEvents(after: $after) { eventType traceId service position resume } }"""


class Watcher:
    """A live ``caseEvents`` subscription held through the run, as an authority's officer.
    It records what it receives and when the server ended it; when its connection is gone
    it connects again and resumes after the last event it received (its ``resume`` token),
    so it must miss nothing, not even across a gateway's death."""

    def __init__(self, hub: ChaosHub, phase: Callable[[], str]) -> None:
        self.url = hub.base_url.replace("http://", "ws://") + "/graphql"
        self.token = hub.token(ABH["role"], ABH["agency"], ABH["subject"])
        self.phase = phase
        self.received: dict[str, str] = {}  # trace id -> the phase it arrived in
        self.rows: list[tuple[float, str, int]] = []  # (when, service, position) received
        self.ended: list[tuple[str, str]] = []  # (phase, why) each time it ended
        self.resume: str | None = None  # the token of the last event received
        self._keys: set[tuple[str | None, int | None]] = set()
        self.duplicates = 0  # events received twice (a resume must not replay)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.ready = threading.Event()  # subscribed (cleared while it is not)

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(30):
            raise AssertionError("the live subscription did not start")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def wait_for(self, traces: set[str], timeout: float) -> None:
        """Until every one of ``traces`` was received, or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while not traces <= set(self.received) and time.monotonic() < deadline:
            time.sleep(0.1)

    async def _run(self) -> None:
        import websockets

        while not self._stop.is_set():
            try:
                async with websockets.connect(
                    self.url, subprotocols=["graphql-transport-ws"], open_timeout=5
                ) as ws:  # type: ignore[arg-type]
                    await ws.send(
                        json.dumps(
                            {
                                "type": "connection_init",
                                "payload": {"Authorization": f"Bearer {self.token}"},
                            }
                        )
                    )
                    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert ack["type"] == "connection_ack", ack
                    payload = {"query": LIVE, "variables": {"after": self.resume}}
                    await ws.send(
                        json.dumps({"id": "live", "type": "subscribe", "payload": payload})
                    )
                    self.ready.set()
                    try:
                        await self._receive(ws)
                    finally:
                        self.ready.clear()
            except (OSError, TimeoutError, AssertionError) as error:
                self.ended.append((self.phase(), f"connect: {type(error).__name__}"))
            except Exception as error:  # the connection closed under it
                self.ended.append((self.phase(), f"closed: {type(error).__name__}"))
            if not self._stop.is_set():
                await asyncio.sleep(0.5)

    async def _receive(self, ws: Any) -> None:
        while not self._stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            if message.get("type") == "next":
                row = (message["payload"].get("data") or {}).get("caseEvents") or {}
                if row.get("traceId"):
                    self.received.setdefault(row["traceId"], self.phase())
                key = (row.get("service"), row.get("position"))
                if row.get("service") is not None:
                    self.duplicates += key in self._keys
                    self._keys.add(key)
                self.rows.append((time.monotonic(), *key))
                self.resume = row.get("resume") or self.resume
            elif message.get("type") in ("error", "complete"):
                self.ended.append((self.phase(), f"{message['type']}: {message.get('payload')}"))
                return


class Load:
    """Steady load from ``workers`` threads: arrivals and conferences on the phase's case."""

    def __init__(self, client: Client, rate: float, workers: int = 3, seed: int = 0) -> None:
        self.client = client
        self.rate = rate
        self.workers = workers
        #: the phase and the case its conferences go to, set together
        self.target: tuple[str, str | None] = ("start", None)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._random = random.Random(seed)

    def start(self) -> None:
        for _ in range(self.workers):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self) -> None:
        interval = self.workers / self.rate
        with httpx.Client() as http:
            while not self._stop.is_set():
                started = time.monotonic()
                phase, case_id = self.target
                if case_id is not None and self._random.random() < 0.3:
                    variables = {
                        "input": {
                            "caseId": case_id,
                            "heldOn": today_in_germany().isoformat(),
                            "participants": [KIM["agency"]],
                        }
                    }
                    self.client.command(
                        http, phase, "conference", CONFERENCE, variables, "case_manager"
                    )
                else:
                    variables = {"input": arrival_input()}
                    self.client.command(http, phase, "arrival", REGISTER, variables, "abh_officer")
                self._stop.wait(max(0.0, interval - (time.monotonic() - started)))


@dataclass
class PhaseReport:
    name: str
    recovery_seconds: float | None = None
    accepted: int = 0
    refused: int = 0
    refused_codes: Counter[str] = field(default_factory=Counter)
    #: refused, but the service had stored the command (its answer was lost): complete and
    #: delivered like an accepted one, never half
    refused_but_stored: int = 0
    lost: int = 0
    duplicated: int = 0
    half_written: int = 0
    #: accepted arrivals a live subscription should have received, and those it missed
    live_expected: int = 0
    live_missed: int = 0
    #: accepted arrivals on the timeline whose person the pathway read model lacks
    pathway_missing: int = 0
    subscription_ends: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)  # refusals without a clear code


@dataclass
class Report:
    seed: int
    phases: dict[str, PhaseReport]
    poison: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """What breaks the promise: lost, duplicated or half-written commands, refusals without
        a clear code, consumers or a live subscription that did not resume or missed events,
        a read model lacking accepted events, poison not dead-lettered."""
        found = list(self.problems)
        for p in self.phases.values():
            for what in ("lost", "duplicated", "half_written"):
                if getattr(p, what):
                    found.append(f"{p.name}: {getattr(p, what)} {what}")
        return found

    def table(self) -> str:
        head = (
            f"{'fault':<36} {'recovery':>8} {'accepted':>8} {'refused':>7} {'stored*':>7}"
            f" {'lost':>4} {'dup':>4} {'half':>4} {'live':>9}  refusals"
        )
        lines = [f"chaos run, seed {self.seed}", head, "-" * len(head)]
        for p in self.phases.values():
            recovery = f"{p.recovery_seconds:.1f}s" if p.recovery_seconds is not None else "-"
            codes = ", ".join(f"{c} {n}" for c, n in sorted(p.refused_codes.items()))
            live = f"{p.live_expected - p.live_missed}/{p.live_expected}"
            lines.append(
                f"{p.name:<36} {recovery:>8} {p.accepted:>8} {p.refused:>7}"
                f" {p.refused_but_stored:>7} {p.lost:>4} {p.duplicated:>4} {p.half_written:>4}"
                f" {live:>9}  {codes}"
            )
        total = PhaseReport("total")
        for p in self.phases.values():
            total.accepted += p.accepted
            total.refused += p.refused
            total.refused_but_stored += p.refused_but_stored
            total.lost += p.lost
            total.duplicated += p.duplicated
            total.half_written += p.half_written
        lines.append("-" * len(head))
        lines.append(
            f"{'total':<36} {'':>8} {total.accepted:>8} {total.refused:>7}"
            f" {total.refused_but_stored:>7} {total.lost:>4} {total.duplicated:>4}"
            f" {total.half_written:>4}"
        )
        lines.append("stored*: refused (answer lost), yet stored complete and delivered once")
        lines.append("live: accepted arrivals a live caseEvents subscription received / expected")
        for p in self.phases.values():
            for end, n in Counter(p.subscription_ends).items():
                lines.append(f"live subscription ended during {p.name}: {end} ({n}x)")
        if self.poison:
            lines.append(f"poison: {json.dumps(self.poison, sort_keys=True)}")
        for problem in self.problems:
            lines.append(f"PROBLEM: {problem}")
        return "\n".join(lines)


def run(
    hub: ChaosHub,
    faults: list[Fault],
    *,
    phase_seconds: float,
    rate: float,
    seed: int,
    rounds: int = 1,
) -> tuple[Client, dict[str, float]]:
    """Load the hub, hit it with each fault in turn (``rounds`` times), probe its recovery.
    Returns the client (with every outcome) and the recovery time per phase."""
    chooser = random.Random(seed)
    client = Client(hub)
    load = Load(client, rate, seed=seed)
    recovery: dict[str, float] = {}
    watcher = Watcher(hub, lambda: load.target[0])
    with httpx.Client() as http:
        load.target = ("steady", client.open_case(http, "steady"))
        watcher.start()
        load.start()
        try:
            time.sleep(phase_seconds)
            for round_ in range(rounds):
                for fault in faults:
                    name = fault.name if rounds == 1 else f"{fault.name} #{round_ + 1}"
                    load.target = (name, client.open_case(http, name))
                    started = time.monotonic()
                    time.sleep(chooser.uniform(0.1, 0.5) * phase_seconds)
                    fault.inject(hub)
                    recovery[name] = client.probe(http, name)
                    if not watcher.ready.wait(60):  # a new gateway: the watcher subscribes again
                        raise AssertionError(f"no live subscription after {name}")
                    time.sleep(max(0.0, phase_seconds - (time.monotonic() - started)))
            load.target = ("after", None)
            time.sleep(phase_seconds / 2)
        finally:
            load.stop()
    client.watcher = watcher
    return client, recovery


def publish_poison(hub: ChaosHub) -> None:
    asyncio.run(_publish_poison(hub))


async def _publish_poison(hub: ChaosHub) -> None:
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(hub.settings, "chaos")
    try:
        js = nc.jetstream()
        batch = secrets.token_hex(4)  # each phase's poison is new, not a duplicate NATS drops
        for n, body in enumerate([b"not json at all", b'{"specversion": "1.0", "id": "x"}']):
            await js.publish(
                POISON_SUBJECT,
                body,
                stream=POISON_STREAM,
                headers={"Nats-Msg-Id": f"poison:{batch}:{n}"},
            )
    finally:
        await close(nc)


# -- the proof -----------------------------------------------------------------------------


@dataclass
class Evidence:
    #: trace id -> [(service, notification id)] in the event stores
    stored: dict[str, list[tuple[str, int]]]
    #: (service, notification id) -> how many times on its stream
    on_stream: Counter[tuple[str, int]]
    #: trace id -> [(service, notification id)] on the streams
    stream_traces: dict[str, list[tuple[str, int]]]
    #: trace id -> [(source, position)] on the timeline
    timeline: dict[str, list[tuple[str, int]]]
    #: case id -> conferences counted by the case read model
    conferences: dict[str, int]
    #: person ids in the pathway read model
    pathway: set[str]
    #: durable consumer -> num_pending + num_ack_pending
    consumers: dict[str, dict[str, int]]
    #: consumer -> dead letters (original sequence -> reason)
    dead_letters: dict[str, dict[int, str]]
    poison_seqs: list[int]
    #: (consumer, source) -> (position, stream sequence) in projections.consumer_positions
    positions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: service -> the last sequence on its stream
    last_seqs: dict[str, int] = field(default_factory=dict)


SERVICES = ("foreigners_authority", "case_management")


def trace_of(state: bytes) -> str | None:
    meta = json.loads(state).get("hub_meta") or {}
    parent = meta.get("traceparent")
    return parent.split("-")[1] if parent else None


def gather(hub: ChaosHub) -> Evidence:
    """The bus first, then the database: a read model's position is then at least as new as
    the consumers' state on the bus, so a consumer that has nothing pending there cannot be
    behind in the database (read the other way round, a read model still applying its last
    batch looked complete on the bus and incomplete in the tables)."""
    on_stream, stream_traces, consumers, dead_letters, poison_seqs, last_seqs = asyncio.run(
        _bus(hub)
    )
    stored: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with psycopg.connect(hub.database_url(), autocommit=True) as conn:
        for service in SERVICES:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = %s AND table_name LIKE %s",
                (service, "%\\_events"),
            ).fetchall()
            for (table,) in tables:
                rows = conn.execute(
                    f'SELECT notification_id, state FROM "{service}"."{table}"'
                ).fetchall()
                for notification_id, state in rows:
                    trace = trace_of(bytes(state))
                    if trace is not None:
                        stored[trace].append((service, int(notification_id)))
        timeline: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for source, position, trace in conn.execute(
            "SELECT source, position, trace_id FROM projections.timeline_events"
        ).fetchall():
            timeline[trace or ""].append((source, int(position)))
        conferences = {
            str(case): int(n)
            for case, n in conn.execute(
                "SELECT case_id, conferences FROM projections.cv_cases"
            ).fetchall()
        }
        pathway = {
            str(p) for (p,) in conn.execute("SELECT person_id FROM projections.pathway_persons")
        }
        positions = {
            (str(c), str(s)): (int(p), int(q))
            for c, s, p, q in conn.execute(
                "SELECT consumer, source, position, stream_seq FROM projections.consumer_positions"
            ).fetchall()
        }
    return Evidence(
        stored,
        on_stream,
        stream_traces,
        timeline,
        conferences,
        pathway,
        consumers,
        dead_letters,
        poison_seqs,
        positions,
        last_seqs,
    )


def behind(evidence: Evidence) -> list[str]:
    """The read models whose committed stream sequence is short of their stream's last
    message (as the bus had it before the tables were read)."""
    return [
        f"{consumer} on {source}: stream seq {seq} of {evidence.last_seqs[source]}"
        for (consumer, source), (_, seq) in sorted(evidence.positions.items())
        if source in evidence.last_seqs and seq < evidence.last_seqs[source]
    ]


async def _bus(hub: ChaosHub) -> tuple[Any, ...]:
    from nats.js.errors import NotFoundError

    from contracts.subjects import DEAD_LETTER_STREAM, stream_name
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(hub.settings, "chaos")
    try:
        js = nc.jetstream()
        on_stream: Counter[tuple[str, int]] = Counter()
        traces: dict[str, list[tuple[str, int]]] = defaultdict(list)
        poison_seqs: list[int] = []
        consumers: dict[str, dict[str, int]] = {}
        last_seqs: dict[str, int] = {}
        for service in SERVICES:
            stream = stream_name(service)
            info = await js.stream_info(stream)
            last_seqs[service] = int(info.state.last_seq)
            for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
                msg = await js.get_msg(stream, seq=seq)
                msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
                if msg_id.startswith("poison:"):
                    poison_seqs.append(seq)
                    continue
                event = json.loads(msg.data or b"{}")
                key = (service, int(event["sourceposition"]))
                on_stream[key] += 1
                parent = event.get("traceparent")
                if parent:
                    traces[parent.split("-")[1]].append(key)
            for consumer in await js.consumers_info(stream):
                consumers[f"{stream}/{consumer.name}"] = {
                    "pending": int(consumer.num_pending or 0),
                    "ack_pending": int(consumer.num_ack_pending or 0),
                    "filter": consumer.config.filter_subject or "",  # type: ignore[dict-item]
                }
        dead_letters: dict[str, dict[int, str]] = defaultdict(dict)
        info = await js.stream_info(DEAD_LETTER_STREAM)
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            try:
                msg = await js.get_msg(DEAD_LETTER_STREAM, seq=seq)
            except NotFoundError:  # a deleted message
                continue
            headers = msg.headers or {}
            dead_letters[headers.get("Hub-Consumer", "?")][
                int(headers.get("Hub-Original-Sequence", "0"))
            ] = headers.get("Hub-Dead-Letter-Reason", "")
        return on_stream, traces, consumers, dead_letters, poison_seqs, last_seqs
    finally:
        await close(nc)


def settle(hub: ChaosHub, client: Client, timeout: float = 120) -> Evidence:
    """Wait until every stored event of the run has reached the stream and the timeline (or
    the timeout passed), then return the evidence."""
    traces = {o.trace_id for o in client.outcomes}
    deadline = time.monotonic() + timeout
    while True:
        evidence = gather(hub)
        pending = [
            t
            for t in traces
            if t in evidence.stored
            and (
                len(evidence.stream_traces.get(t, [])) < len(evidence.stored[t])
                or len(evidence.timeline.get(t, [])) < len(evidence.stored[t])
            )
        ]
        busy = any(c["pending"] or c["ack_pending"] for c in evidence.consumers.values())
        busy = busy or bool(behind(evidence))  # every read model, not only the timeline
        if (not pending and not busy) or time.monotonic() > deadline:
            if client.watcher is not None:
                # a subscriber looks at least every 5s, notified or not: the live subscription
                # has up to 6s to receive what it has not yet received (no longer than needed)
                client.watcher.wait_for(live_expected(client), timeout=6)
                client.watcher.stop()
            return evidence
        time.sleep(1)


def live_expected(client: Client) -> set[str]:
    """The trace ids the live subscription must receive: every accepted arrival and probe."""
    return {o.trace_id for o in client.outcomes if o.accepted and o.kind in ("arrival", "probe")}


def judge(client: Client, evidence: Evidence, recovery: dict[str, float], seed: int) -> Report:
    phases: dict[str, PhaseReport] = {}
    expected = events_per_command(client, evidence)
    for outcome in client.outcomes:
        phase = phases.setdefault(outcome.phase, PhaseReport(outcome.phase))
        phase.recovery_seconds = recovery.get(outcome.phase)
        stored = sorted(evidence.stored.get(outcome.trace_id, []))
        on_stream = sorted(evidence.stream_traces.get(outcome.trace_id, []))
        on_timeline = sorted(evidence.timeline.get(outcome.trace_id, []))
        duplicated = (
            len(stored) > expected[outcome.kind]
            or any(evidence.on_stream[key] > 1 for key in stored)
            or len(on_stream) > len(set(on_stream))
            or len(on_timeline) > len(set(on_timeline))
        )
        # each event of the load is about a person: on the timeline as on the stream
        delivered = len(stored) == expected[outcome.kind] and stored == on_stream == on_timeline
        arrived = outcome.kind in ("arrival", "probe") and outcome.accepted
        if arrived and outcome.ids.get("personId") not in evidence.pathway:
            phase.pathway_missing += 1
        if duplicated:
            phase.unclear.append(
                f"duplicated {outcome.kind} {outcome.trace_id} ({outcome.code or 'accepted'}):"
                f" stored {stored} (a command records {expected[outcome.kind]}), published"
                f" {[evidence.on_stream[key] for key in stored]} times, on the stream"
                f" {on_stream}, on the timeline {on_timeline}"
            )
        if outcome.accepted:
            phase.accepted += 1
            if duplicated:
                phase.duplicated += 1
            elif not delivered:
                phase.lost += 1
                phase.unclear.append(
                    f"lost {outcome.kind} {outcome.trace_id}: stored {stored}, on the stream"
                    f" {on_stream}, on the timeline {on_timeline}, in the pathway"
                    f" {outcome.ids.get('personId') in evidence.pathway}"
                )
        else:
            phase.refused += 1
            phase.refused_codes[outcome.code or "?"] += 1
            if outcome.code not in CLEAR_CODES and outcome.code != "client_timeout":
                phase.unclear.append(f"unclear refusal {outcome.code}: {outcome.message}")
            if stored:
                phase.refused_but_stored += 1
                if duplicated:
                    phase.duplicated += 1
                elif not delivered:
                    phase.half_written += 1
    report = Report(seed, phases, consumers=evidence.consumers)
    watcher = client.watcher
    if watcher is not None:
        for outcome in client.outcomes:
            if outcome.accepted and outcome.kind in ("arrival", "probe"):
                phase = phases[outcome.phase]
                phase.live_expected += 1
                phase.live_missed += outcome.trace_id not in watcher.received
        for name, why in watcher.ended:
            phases.setdefault(name, PhaseReport(name)).subscription_ends.append(why)
        if watcher.duplicates:
            report.problems.append(
                f"the live subscription received {watcher.duplicates} events twice"
            )
        for phase in phases.values():
            # a gateway's death ends the subscription's connection; it resumes with its token
            if phase.subscription_ends and not phase.name.startswith(GATEWAY_KILL):
                report.problems.append(
                    f"{phase.name}: the live subscription ended ({phase.subscription_ends[0]})"
                )
            # counted in the phase that accepted the arrival: its delivery may fall into the
            # next one (a restarted projector's backlog delivered while the gateway is killed)
            if phase.live_missed:
                first = next(
                    o
                    for o in client.outcomes
                    if o.phase == phase.name
                    and o.accepted
                    and o.kind in ("arrival", "probe")
                    and o.trace_id not in watcher.received
                )
                keys = evidence.stored.get(first.trace_id, [])
                rows = [(service, position) for _, service, position in watcher.rows]
                report.problems.append(
                    f"{phase.name}: the live subscription missed {phase.live_missed} of"
                    f" {phase.live_expected} arrivals, e.g. {first.trace_id} at {keys}"
                    f" (rows received: {len(rows)}, of those {sorted(set(keys) & set(rows))};"
                    f" received around them: {_around(rows, keys)})"
                )
    # conferences: the case read model counts each exactly once
    held: Counter[str] = Counter()
    for outcome in client.outcomes:
        if outcome.kind == "conference" and outcome.trace_id in evidence.stored:
            held[_case_of(client, outcome)] += 1
    for case_id, count in held.items():
        counted = evidence.conferences.get(case_id, 0)
        if counted != count:
            report.problems.append(
                f"case {case_id}: {count} conferences stored, the read model counts {counted}"
            )
    for name, consumer in evidence.consumers.items():
        if consumer["pending"] or consumer["ack_pending"]:
            report.problems.append(f"consumer {name} did not catch up: {consumer}")
    for late in behind(evidence):
        report.problems.append(f"read model {late}: it did not catch up")
    for phase in phases.values():
        for unclear in phase.unclear[:3]:
            report.problems.append(f"{phase.name}: {unclear}")
    report.poison = poison_report(evidence, report)
    for phase in phases.values():
        if phase.pathway_missing:
            report.problems.append(
                f"{phase.name}: the pathway lacks {phase.pathway_missing} accepted arrivals"
                " that are on the stream and the timeline"
            )
    poison = set(evidence.poison_seqs)
    for consumer, letters in evidence.dead_letters.items():
        other = {seq: reason for seq, reason in letters.items() if seq not in poison}
        if other:  # good events dead-lettered: the read model lacks them
            first = sorted(other.items())[:2]
            report.problems.append(
                f"{consumer} dead-lettered {len(other)} events that were not poison, e.g. {first}"
            )
    if report.failures():
        report.problems.append(f"read-model positions: {sorted(evidence.positions.items())}")
    return report


def _around(rows: list[tuple[str, int]], keys: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if not keys:
        return []
    service, position = keys[0]
    return sorted(r for r in rows if r[0] == service and abs(r[1] - position) <= 6)


def events_per_command(client: Client, evidence: Evidence) -> dict[str, int]:
    """How many events each kind of command records: the most common count among the
    accepted ones (a command run twice would show twice as many)."""
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for outcome in client.outcomes:
        if outcome.accepted:
            counts[outcome.kind][len(evidence.stored.get(outcome.trace_id, []))] += 1
    return defaultdict(lambda: 1, {k: c.most_common(1)[0][0] for k, c in counts.items()})


def _case_of(client: Client, conference: Outcome) -> str:
    # conferences go to the case opened at the start of their phase
    for outcome in client.outcomes:
        if outcome.phase == conference.phase and outcome.kind == "open_case" and outcome.accepted:
            return outcome.ids["caseId"]
    return "?"


def poison_report(evidence: Evidence, report: Report) -> dict[str, Any]:
    if not evidence.poison_seqs:
        return {}
    readers = [
        name.split("/", 1)[1]
        for name, consumer in evidence.consumers.items()
        if name.startswith(POISON_STREAM + "/")
        and _matches(str(consumer.get("filter") or ">"), POISON_SUBJECT)
    ]
    found: dict[str, int] = {}
    for reader in readers:
        letters = evidence.dead_letters.get(reader, {})
        found[reader] = sum(1 for seq in evidence.poison_seqs if letters.get(seq))
        if found[reader] != len(evidence.poison_seqs):
            report.problems.append(
                f"{reader}: {found[reader]} of {len(evidence.poison_seqs)} poison messages"
                " dead-lettered with a reason"
            )
    return {"published": len(evidence.poison_seqs), "dead_lettered_by": found}


def _matches(pattern: str, subject: str) -> bool:
    wanted, parts = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return True
        if i >= len(parts) or (token != "*" and token != parts[i]):
            return False
    return len(wanted) == len(parts)
