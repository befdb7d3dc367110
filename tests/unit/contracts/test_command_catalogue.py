"""The command catalogue is the one declaration of every command: the services' handler
tables and the gateway's mutations are derived from it and match it exactly."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.commands import CATALOGUE, Command
from contracts.commands.foreigners_authority import SEARCH_PERSONS
from gateway.schema import schema
from hub.catalog import SERVICES
from services.case_management.application import CaseManagement
from services.conflict_management.application import ConflictManagement
from services.foreigners_authority.application import ForeignersAuthority
from services.runtime.commands import CommandServer
from services.steering_group.application import SteeringGroup

APPLICATIONS: dict[str, type[Any]] = {
    "foreigners_authority": ForeignersAuthority,
    "case_management": CaseManagement,
    "conflict_management": ConflictManagement,
    "steering_group": SteeringGroup,
}
#: field names that hold personal data wherever they appear in a command
ALWAYS_PERSONAL = {"given_names", "family_name", "birth_date", "azr_number", "contact"}


#: routes that are reads, not commands (no mutation): the Art. 15 read of the services that
#: hold personal data (services/runtime/subject_access.py)
PLAIN_ROUTES = {
    "foreigners_authority": {"subject_access"},
    "case_management": {"subject_access"},
}
#: reads with a declaration outside the catalogue, so that their personal terms travel
#: sealed: the authority's person search by identity (contracts SEARCH_PERSONS)
SEALED_READS = {"foreigners_authority": {SEARCH_PERSONS.name}}


def routes_of(service: str) -> dict[str, bool]:
    """The service's routes: name -> whether a declaration (the catalogue's, or a sealed
    read's) comes with it."""
    server = CommandServer(None, service)  # type: ignore[arg-type]  # never started
    SERVICES[service].register_routes(server, object())
    return {name: route.command is not None for name, route in server.routes.items()}


def test_a_sealed_read_is_no_catalogue_command_and_seals_every_term() -> None:
    assert CATALOGUE.get(SEARCH_PERSONS.service, SEARCH_PERSONS.name) is None
    assert not SEARCH_PERSONS.exposed
    assert SEARCH_PERSONS.sealed_fields == {"familyName", "givenName", "birthDate", "azrNumber"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_handles_exactly_the_commands_the_catalogue_gives_it(service: str) -> None:
    # given the catalogue, when the service registers its command handlers
    routes = routes_of(service)
    # then it handles every command the catalogue gives it, and nothing else
    assert {name for name, declared in routes.items() if declared} == {
        command.name for command in CATALOGUE.of(service)
    } | SEALED_READS.get(service, set())
    # besides the reads it is known to serve
    assert {name for name, declared in routes.items() if not declared} == PLAIN_ROUTES.get(
        service, set()
    )


@pytest.mark.parametrize("command", list(CATALOGUE), ids=lambda c: f"{c.service}.{c.name}")
def test_each_command_has_its_application_method(command: Command) -> None:
    assert callable(getattr(APPLICATIONS[command.service], command.name, None))


def test_every_service_owns_commands_and_every_command_a_known_service() -> None:
    assert {command.service for command in CATALOGUE} == set(SERVICES)


def test_the_gateway_offers_exactly_one_mutation_per_command() -> None:
    mutation = schema.get_type_by_name("Mutation")
    assert mutation is not None
    offered = {field.graphql_name or field.python_name for field in mutation.fields}  # type: ignore[union-attr]
    assert offered == {command.mutation for command in CATALOGUE}
    # each exposed command is a mutation of its own; the erasure is one for every service
    assert len({command.mutation for command in CATALOGUE.exposed()}) == len(CATALOGUE.exposed())
    assert {c.mutation for c in CATALOGUE if not c.exposed} == {"erasePerson", "restrictProcessing"}


@pytest.mark.parametrize("command", CATALOGUE.exposed(), ids=lambda c: f"{c.service}.{c.name}")
def test_each_mutation_returns_the_ids_its_command_declares(command: Command) -> None:
    result_name = command.mutation[0].upper() + command.mutation[1:] + "Result"
    result = schema.get_type_by_name(result_name)
    assert result is not None
    fields = {field.python_name for field in result.fields}  # type: ignore[union-attr]
    assert fields == {"position", "trace_id", *command.returns, *command.may_return}


@pytest.mark.parametrize("command", list(CATALOGUE), ids=lambda c: f"{c.service}.{c.name}")
def test_names_birth_dates_file_numbers_and_contacts_are_marked_personal(command: Command) -> None:
    for name in command.payload.model_fields:
        if name in ALWAYS_PERSONAL:
            assert name in command.personal_fields, f"{command.name}.{name} is not marked"


@pytest.mark.parametrize("command", list(CATALOGUE), ids=lambda c: f"{c.service}.{c.name}")
def test_each_command_says_who_may_send_it_and_why(command: Command) -> None:
    assert command.roles
    assert command.legal_basis
    assert command.purpose
    assert command.description
