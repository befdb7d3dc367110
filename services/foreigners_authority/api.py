"""The foreigners authority's command endpoints (NATS request/reply), from the catalogue."""

from __future__ import annotations

from typing import Any

from contracts.commands import Command
from contracts.commands import foreigners_authority as commands
from services.foreigners_authority.application import (
    ConsentDecision,
    ForeignersAuthority,
    GrantResidenceTitle,
    RegisterArrival,
    SearchTerms,
    today_in_germany,
)
from services.foreigners_authority.domain import EntryMode, TitleKind
from services.runtime.commands import (
    CommandOutcome,
    CommandRejected,
    CommandServer,
    register_commands,
)
from services.runtime.context import SYSTEM_CONTEXT, CommandContext
from services.runtime.subject_access import register_subject_access


def _authority(context: CommandContext) -> str | None:
    """The caller's authority; ``None`` for the hub's admin, who acts for any authority."""
    return None if context.role == "admin" else context.agency


def register_arrival(payload: commands.RegisterArrival, context: CommandContext) -> RegisterArrival:
    return RegisterArrival(
        given_names=payload.given_names,
        family_name=payload.family_name,
        birth_date=payload.birth_date,
        azr_number=payload.azr_number,
        nationalities=[n.strip().upper() for n in payload.nationalities],
        entry_date=payload.entry_date,
        entry_mode=EntryMode(payload.entry_mode.value),
        municipality_key=payload.municipality_key,
        registered_on=payload.registered_on or payload.entry_date,
        abh_id=payload.abh_id,
        agency=_authority(context),
    )


def grant_residence_title(
    payload: commands.GrantResidenceTitle, context: CommandContext
) -> GrantResidenceTitle:
    return GrantResidenceTitle(
        person_id=payload.person_id,
        title=TitleKind(payload.title.value),
        paragraph=payload.paragraph,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        granted_on=payload.granted_on or min(payload.valid_from, today_in_germany()),
        conditions=list(payload.conditions),
        agency=_authority(context),
    )


def decision(payload: commands.DecideOnConsent, context: CommandContext) -> ConsentDecision:
    return ConsentDecision(
        person_id=payload.person_id,
        consent_id=payload.consent_id,
        agency=_authority(context),
    )


#: catalogue payload (and caller) -> the application's command object
_COMMAND_OBJECTS: dict[str, Any] = {
    "register_arrival": register_arrival,
    "grant_residence_title": grant_residence_title,
    "confirm_consent": decision,
    "decline_consent": decision,
}


def register_routes(server: CommandServer, app: ForeignersAuthority) -> None:
    def invoke(command: Command, payload: Any, context: CommandContext) -> CommandOutcome:
        outcome: CommandOutcome = getattr(app, command.name)(
            _COMMAND_OBJECTS[command.name](payload, context)
        )
        return outcome

    # every command changes one residence file and decides on that file alone
    register_commands(server, invoke, app, independent=True)
    register_search(server, app)
    register_subject_access(
        server,
        lambda person_id: app.subject_access(person_id),
        lambda person_id: app.vault.withdrawn(person_id),
    )


#: how often the command server looks for files the blind index lacks (first: at start)
INDEX_SWEEP_SECONDS = 600.0


def register_search(server: CommandServer, app: ForeignersAuthority) -> None:
    """Serve ``hub.cmd.foreigners_authority.search_persons``: the authority's search by
    family and given name, birth date or AZR number over the blind index. The terms arrive
    sealed (the declaration's personal fields); the answer holds person ids only. New files'
    tokens are written by the index writer's thread from now on (index_writer.py); at start,
    and then every ``INDEX_SWEEP_SECONDS``, files without tokens are indexed."""
    declaration = commands.SEARCH_PERSONS

    async def handle(
        payload: commands.PersonSearchTerms, context: CommandContext
    ) -> dict[str, Any]:
        if context.role not in declaration.roles:
            raise CommandRejected("forbidden", f"role {context.role!r} may not search persons")
        terms = SearchTerms(
            family_name=payload.family_name,
            given_name=payload.given_name,
            birth_date=payload.birth_date,
            azr_number=payload.azr_number,
            authority=_authority(context),
            limit=payload.limit,
        )
        found = await server.execute(lambda: app.search_persons(terms), context)
        return {"person_ids": [str(p) for p in found]}

    server.route(declaration.name, declaration.payload, handle, declaration)
    server.on_start(lambda: app.start_index_writer())
    server.schedule(INDEX_SWEEP_SECONDS, lambda: app.index_unindexed_files(), SYSTEM_CONTEXT)
