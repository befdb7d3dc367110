"""Erasing a person everywhere (Art. 17 GDPR): ``erasePerson``, and the record that resumes it;
the same for restricting the processing of their data (Art. 18 GDPR): ``restrictProcessing``.

An erasure is first written down (``gateway.erasures``: the person, the services still to
confirm, the ground, who asked), then the erasure command (contracts/commands/privacy.py) is
sent to each of those services, and each confirmation is ticked off. A service that does not
answer (down, restarting) stays pending: the mutation answers ``complete: false``, and the
gateway's resume loop (and any repeat of the mutation) sends it again until every service has
confirmed. Since each service answers a repeated erasure as the first, a crash anywhere half
way is resumed by sending again. Who asked and why is written to the access log, with the
pseudonymous person id and no personal value. A restriction goes the same way, with the
command ``restrict_processing``: the services keep the person's key but refuse every command
about them, and the read models drop what they showed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from contracts.commands.privacy import (
    ERASE_PERSON,
    LEGAL_BASIS,
    MUTATION,
    PURPOSE,
    RESTRICT_LEGAL_BASIS,
    RESTRICT_MUTATION,
    RESTRICT_PROCESSING,
)
from contracts.privacy import SERVICES, ErasureGround, RestrictionGround
from contracts.roles import DATA_PROTECTION
from gateway import audit
from gateway.auth import Principal
from gateway.consistency import Position
from gateway.context import HubContext, HubError, ctx
from gateway.mutations import graphql_enum
from services.runtime.commands import CommandClient, CommandRejected, ServiceUnavailable
from services.runtime.context import CommandContext
from services.runtime.telemetry import current_trace_id

log = logging.getLogger(__name__)

DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.erasures (
    person_id     uuid        NOT NULL,
    action        text        NOT NULL DEFAULT 'erase',  -- erase | restrict
    services      text[]      NOT NULL,   -- where the person is to be erased
    pending       text[]      NOT NULL,   -- those that have not confirmed yet
    positions     jsonb       NOT NULL DEFAULT '{}',  -- service -> position of its erasure
    ground        text        NOT NULL,
    rule          text,
    subject       text        NOT NULL,   -- who asked (a data-protection officer, the run)
    agency        text        NOT NULL,
    role          text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,                   -- a code, never a value
    PRIMARY KEY (person_id, action)
);
CREATE INDEX IF NOT EXISTS erasures_pending_idx ON gateway.erasures (requested_at)
    WHERE completed_at IS NULL;
"""
#: how often the gateway sends the erasures still pending again
RESUME_SECONDS = 30.0


async def create_tables(db: asyncpg.Pool | asyncpg.Connection) -> None:
    await db.execute(DDL)


async def ensure_tables(db: asyncpg.Pool | asyncpg.Connection) -> None:
    """After the provisioning only look; on a fresh database (tests as administrator) create."""
    if await db.fetchval("SELECT to_regclass('gateway.erasures')") is None:
        await create_tables(db)


@dataclass(frozen=True)
class ErasureStatus:
    person_id: UUID
    erased_in: list[str]
    pending: list[str]
    positions: dict[str, int]

    @property
    def complete(self) -> bool:
        return not self.pending


#: what each action sends to the services, and under which legal basis
ACTIONS = {
    "erase": (ERASE_PERSON, LEGAL_BASIS),
    "restrict": (RESTRICT_PROCESSING, RESTRICT_LEGAL_BASIS),
}


class ErasureCoordinator:
    """Records erasures (or restrictions: ``action``) and sends them to the services until
    each has confirmed."""

    def __init__(self, pool: asyncpg.Pool, commands: CommandClient, action: str = "erase") -> None:
        if action not in ACTIONS:
            raise ValueError(f"no such action {action!r}")
        self.pool = pool
        self.commands = commands
        self.action = action
        self.command, self.legal_basis = ACTIONS[action]

    def for_action(self, action: str) -> ErasureCoordinator:
        return ErasureCoordinator(self.pool, self.commands, action)

    async def request(
        self,
        principal: Principal,
        person_id: UUID,
        ground: ErasureGround | RestrictionGround,
        *,
        services: Iterable[str] = SERVICES,
        rule: str | None = None,
    ) -> ErasureStatus:
        """Record the erasure (adding services to one already recorded) and carry it out."""
        wanted = sorted(set(services))
        unknown = set(wanted) - set(SERVICES)
        if unknown:
            raise ValueError(f"no such services: {sorted(unknown)}")
        await self.pool.execute(
            "INSERT INTO gateway.erasures (person_id, services, pending, ground, rule, subject,"
            " agency, role, action) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (person_id, action) DO UPDATE SET"
            " services = ARRAY(SELECT DISTINCT unnest(erasures.services || $2) ORDER BY 1),"
            " pending = ARRAY(SELECT DISTINCT unnest(erasures.pending"
            "   || ARRAY(SELECT unnest($2::text[]) EXCEPT SELECT unnest(erasures.services)))"
            "   ORDER BY 1),"
            " completed_at = NULL",
            person_id,
            wanted,
            str(ground),
            rule,
            principal.subject,
            principal.agency,
            principal.role,
            self.action,
        )
        await audit.record_read(
            self.pool,
            principal,
            action=self.command,
            person_id=person_id,
            purpose=PURPOSE,
            detail=f"ground={ground}; services={','.join(wanted)}"
            + (f"; rule={rule}" if rule else ""),
        )
        return await self.carry_out(person_id)

    async def carry_out(self, person_id: UUID) -> ErasureStatus:
        """Send the erasure to every service still pending; tick off those that confirm."""
        row = await self.pool.fetchrow(
            "SELECT * FROM gateway.erasures WHERE person_id = $1 AND action = $2",
            person_id,
            self.action,
        )
        if row is None:
            raise LookupError(f"no erasure recorded for {person_id}")
        context = CommandContext(
            agency=row["agency"],
            role=row["role"],
            legal_basis=self.legal_basis,
            purpose=PURPOSE,
            subject=row["subject"],
        )
        body = {"personId": str(person_id), "ground": row["ground"]}
        if row["rule"]:
            body["rule"] = row["rule"]
        results = await asyncio.gather(
            *(self._send(service, body, context) for service in row["pending"])
        )
        for service, outcome in zip(row["pending"], results, strict=True):
            if isinstance(outcome, int):
                await self.pool.execute(
                    "UPDATE gateway.erasures SET pending = array_remove(pending, $2),"
                    " positions = positions || jsonb_build_object($2::text, $3::bigint)"
                    " WHERE person_id = $1 AND action = $4",
                    person_id,
                    service,
                    outcome,
                    self.action,
                )
            else:
                await self.pool.execute(
                    "UPDATE gateway.erasures SET attempts = attempts + 1, last_error = $2"
                    " WHERE person_id = $1 AND action = $3",
                    person_id,
                    f"{service}: {outcome}",
                    self.action,
                )
        await self.pool.execute(
            "UPDATE gateway.erasures SET completed_at = now()"
            " WHERE person_id = $1 AND action = $2 AND pending = '{}' AND completed_at IS NULL",
            person_id,
            self.action,
        )
        return await self.status(person_id)

    async def _send(self, service: str, body: dict[str, str], context: CommandContext) -> int | str:
        """The position of the service's erasure, or the code of why it is not done yet."""
        try:
            result = await self.commands.send(service, self.command, body, context)
        except ServiceUnavailable:
            return "unavailable"
        except CommandRejected as error:
            log.warning("%s refused by %s: %s", self.command, service, error.code)
            return error.code
        return int(result["position"])

    async def status(self, person_id: UUID) -> ErasureStatus:
        row = await self.pool.fetchrow(
            "SELECT services, pending, positions FROM gateway.erasures"
            " WHERE person_id = $1 AND action = $2",
            person_id,
            self.action,
        )
        if row is None:
            raise LookupError(f"no erasure recorded for {person_id}")
        positions = row["positions"]
        if isinstance(positions, str):
            positions = json.loads(positions)
        return ErasureStatus(
            person_id=person_id,
            erased_in=[s for s in row["services"] if s not in row["pending"]],
            pending=list(row["pending"]),
            positions={k: int(v) for k, v in positions.items()},
        )

    async def resume_pending(self) -> int:
        """Carry out every erasure not yet complete; returns how many are still pending."""
        persons = await self.pool.fetch(
            "SELECT person_id, action FROM gateway.erasures WHERE completed_at IS NULL"
            " ORDER BY requested_at LIMIT 500"
        )
        left = 0
        for row in persons:
            status = await self.for_action(row["action"]).carry_out(row["person_id"])
            left += 0 if status.complete else 1
        return left

    async def run(self, stop: asyncio.Event, interval: float = RESUME_SECONDS) -> None:
        """Resume pending erasures now and every ``interval`` seconds until ``stop``."""
        while not stop.is_set():
            try:
                await self.resume_pending()
            except Exception:
                log.exception("resuming the pending erasures failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


# -- GraphQL ---------------------------------------------------------------------------------


@strawberry.input(description="Erase a person's data in every service (Art. 17 GDPR)")
class ErasePersonInput:
    person_id: strawberry.ID
    ground: graphql_enum(ErasureGround)  # type: ignore[valid-type]


@strawberry.input(description="Restrict the processing of a person's data (Art. 18 GDPR)")
class RestrictProcessingInput:
    person_id: strawberry.ID
    ground: graphql_enum(RestrictionGround)  # type: ignore[valid-type]


_COMPLETE = "Every service confirmed; otherwise the hub keeps trying (every 30 s)"
_POSITIONS = "One position token per confirming service: pass as atLeast"


@strawberry.type(description="Where the person's data is erased, and where not yet")
class ErasePersonResult:
    person_id: strawberry.ID
    complete: bool = strawberry.field(description=_COMPLETE)
    erased_in: list[str]
    pending: list[str]
    positions: list[str] = strawberry.field(description=_POSITIONS)
    trace_id: str | None


@strawberry.type(description="Where the person's processing is restricted, and where not yet")
class RestrictProcessingResult:
    person_id: strawberry.ID
    complete: bool = strawberry.field(description=_COMPLETE)
    restricted_in: list[str]
    pending: list[str]
    positions: list[str] = strawberry.field(description=_POSITIONS)
    trace_id: str | None


async def _request(
    info: Info[HubContext, None],
    action: str,
    raw_id: object,
    ground: ErasureGround | RestrictionGround,
) -> dict[str, object]:
    context = ctx(info)
    what = "erase a person" if action == "erase" else "restrict a person's processing"
    principal = context.require(DATA_PROTECTION, what)
    try:
        person_id = UUID(str(raw_id))
    except ValueError:
        raise HubError("personId is not a person id", "invalid_input", "personId") from None
    coordinator = ErasureCoordinator(context.pool, context.commands, action)
    status = await coordinator.request(principal, person_id, ground)
    return {
        "person_id": strawberry.ID(str(person_id)),
        "complete": status.complete,
        "done_in": status.erased_in,
        "pending": status.pending,
        "positions": [Position(s, p).token() for s, p in sorted(status.positions.items())],
        "trace_id": current_trace_id(),
    }


@strawberry.type
class ErasureMutations:
    @strawberry.mutation(
        name=MUTATION,
        description="Erase a person's data in every service: their keys are destroyed, every "
        "read model drops or hides what it held, and nothing more is recorded about them. "
        "Idempotent: sending it again completes an erasure still pending.",
    )
    async def erase_person(
        self, info: Info[HubContext, None], input: ErasePersonInput
    ) -> ErasePersonResult:
        ground = ErasureGround(input.ground)
        result = await _request(info, "erase", input.person_id, ground)
        return ErasePersonResult(erased_in=result.pop("done_in"), **result)  # type: ignore[arg-type]

    @strawberry.mutation(
        name=RESTRICT_MUTATION,
        description="Restrict the processing of a person's data in every service: it is kept "
        "(their keys too), but no read shows it and nothing more is recorded about them.",
    )
    async def restrict_processing(
        self, info: Info[HubContext, None], input: RestrictProcessingInput
    ) -> RestrictProcessingResult:
        ground = RestrictionGround(input.ground)
        result = await _request(info, "restrict", input.person_id, ground)
        return RestrictProcessingResult(restricted_in=result.pop("done_in"), **result)  # type: ignore[arg-type]
