"""The GraphQL gateway over the real pipeline: mutations, read-your-writes, errors, auth."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub

REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position traceId } }"""
GRANT = """mutation($input: GrantResidenceTitleInput!) {
  grantResidenceTitle(input: $input) { personId position traceId } }"""
TIMELINE = """query($id: ID!, $atLeast: String) {
  person(id: $id) { timeline(atLeast: $atLeast) {
    occurredAt recordedAt service eventType summary traceId position } } }"""


async def register(hub: InProcessHub, **changes: Any) -> dict[str, Any]:
    body = await hub.graphql(REGISTER, {"input": arrival_input(**changes)})
    assert "errors" not in body, body
    result = body["data"]["registerArrival"]
    assert isinstance(result, dict)
    return result


async def test_a_registered_arrival_is_on_the_timeline_when_read_with_its_position(
    hub: InProcessHub,
) -> None:
    created = await register(hub)

    body = await hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": created["position"]})

    assert "errors" not in body, (body, await hub.diagnose())
    timeline = body["data"]["person"]["timeline"]
    assert [e["eventType"].split(".")[2] for e in timeline] == [
        "entry_recorded",
        "residence_registered",
        "person_registered",
    ]
    assert timeline[0]["summary"].startswith("Entered Germany on 2022-03-09")
    assert all(e["service"] == "foreigners_authority" for e in timeline)
    assert "Demchenko" not in str(body)


async def test_a_granted_title_follows_on_the_timeline(hub: InProcessHub) -> None:
    created = await register(hub)

    body = await hub.graphql(
        GRANT,
        {
            "input": {
                "personId": created["personId"],
                "title": "RESIDENCE_PERMIT",
                "paragraph": "§ 24 AufenthG",
                "validFrom": "2022-03-20",
                "validUntil": "2027-03-04",
            }
        },
    )
    granted = body["data"]["grantResidenceTitle"]
    timeline = await hub.graphql(
        TIMELINE, {"id": created["personId"], "atLeast": granted["position"]}
    )

    summaries = [e["summary"] for e in timeline["data"]["person"]["timeline"]]
    assert (
        "Residence permit granted (§ 24 AufenthG), valid from 2022-03-20, until 2027-03-04"
        in summaries
    )


async def test_the_mutation_span_trace_id_is_on_the_timeline_rows(hub: InProcessHub) -> None:
    created = await register(hub)

    body = await hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": created["position"]})

    spans = hub.exporter.get_finished_spans()
    mutation_trace = created["traceId"]
    http_spans = [
        s
        for s in spans
        if s.name == "POST /graphql" and format(s.context.trace_id, "032x") == mutation_trace
    ]
    assert len(http_spans) == 1  # the mutation's own request span
    assert {e["traceId"] for e in body["data"]["person"]["timeline"]} == {mutation_trace}
    names = {s.name for s in spans if format(s.context.trace_id, "032x") == mutation_trace}
    assert {
        "POST /graphql",
        "send foreigners_authority.register_arrival",
        "command register_arrival",
        "relay publish",
        "consume timeline_foreigners_authority",
    } <= names


async def test_a_caller_trace_context_is_continued(hub: InProcessHub) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    body = await hub.graphql(
        REGISTER,
        {"input": arrival_input()},
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )

    assert body["data"]["registerArrival"]["traceId"] == trace_id


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"birthDate": "2999-01-01"}, "birthDate", "future"),
        ({"azrNumber": "12"}, "azrNumber", "12 digits"),
        ({"municipalityKey": "123"}, "municipalityKey", "AGS"),
        ({"nationalities": ["Syria"]}, "nationalities", "alpha-3"),
        ({"registeredOn": "2020-01-01"}, "registeredOn", "before the entry"),
    ],
)
async def test_bad_input_gets_an_error_naming_the_field(
    hub: InProcessHub, changes: dict[str, Any], field: str, message: str
) -> None:
    body = await hub.graphql(REGISTER, {"input": arrival_input(**changes)})

    (error,) = body["errors"]
    assert error["extensions"]["field"] == field
    assert message in error["message"]
    assert "Traceback" not in str(body)


async def test_a_malformed_date_is_reported_by_the_graphql_layer_with_its_path(
    hub: InProcessHub,
) -> None:
    body = await hub.graphql(REGISTER, {"input": arrival_input(birthDate="1990-13-01")})

    (error,) = body["errors"]
    assert "birthDate" in error["message"]
    assert "internal" not in error["message"]


async def test_a_title_for_an_unknown_person_is_refused(hub: InProcessHub) -> None:
    body = await hub.graphql(
        GRANT,
        {
            "input": {
                "personId": "8d9a8f0e-0000-4000-8000-000000000000",
                "title": "RESIDENCE_PERMIT",
                "paragraph": "§ 24 AufenthG",
                "validFrom": "2022-03-20",
                "validUntil": "2027-03-04",
            }
        },
    )

    (error,) = body["errors"]
    assert error["extensions"] == {"code": "unknown_person", "field": "personId"}


async def test_a_bad_position_token_names_at_least(hub: InProcessHub) -> None:
    created = await register(hub)

    body = await hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": "garbage"})

    assert body["errors"][0]["extensions"]["field"] == "atLeast"


async def test_a_position_not_yet_reached_fails_after_the_bounded_wait(
    hub: InProcessHub,
) -> None:
    from gateway.consistency import Position

    created = await register(hub)
    hub_wait = Position("foreigners_authority", 10_000).token()
    hub.app.state.schema_settings.consistency_wait_seconds = 0.2

    body = await hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": hub_wait})

    assert body["errors"][0]["extensions"]["code"] == "not_caught_up"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer nonsense"}, "not a valid signed JWT"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "Bearer <token>"),
    ],
)
async def test_requests_without_a_valid_token_get_401_with_a_clear_message(
    hub: InProcessHub, headers: dict[str, str], message: str
) -> None:
    response = await hub.client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)

    assert response.status_code == 401
    assert message in response.json()["errors"][0]["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_roles_without_the_right_are_refused(hub: InProcessHub) -> None:
    body = await hub.graphql(REGISTER, {"input": arrival_input()}, role="steering")
    assert body["errors"][0]["extensions"]["code"] == "forbidden"

    created = await register(hub)
    body = await hub.graphql(TIMELINE, {"id": created["personId"]}, role="steering")
    assert body["errors"][0]["extensions"]["code"] == "forbidden"


async def test_a_partner_without_consent_sees_no_event_and_a_case_manager_no_residence_data(
    hub: InProcessHub,
) -> None:
    created = await register(hub)
    await hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": created["position"]})

    partner = await hub.graphql(TIMELINE, {"id": created["personId"]}, role="partner_agency")
    case_manager = await hub.graphql(TIMELINE, {"id": created["personId"]}, role="case_manager")

    assert partner["data"]["person"]["timeline"] == []
    assert case_manager["data"]["person"]["timeline"] == []


async def test_every_timeline_read_is_audited(hub: InProcessHub) -> None:
    created = await register(hub)

    await hub.graphql(
        TIMELINE, {"id": created["personId"], "atLeast": created["position"]}, role="case_manager"
    )

    rows = await hub.pool.fetch(
        "SELECT subject, role, action, person_id::text AS person FROM gateway.audit_log"
    )
    assert [(r["subject"], r["role"], r["action"], r["person"]) for r in rows] == [
        ("test-case_manager", "case_manager", "timeline", created["personId"])
    ]


async def test_healthz_answers(hub: InProcessHub) -> None:
    response = await hub.client.get("/healthz")

    assert response.json() == {"status": "ok"}


async def test_a_mutation_no_service_instance_takes_says_nothing_was_recorded(
    hub: InProcessHub,
) -> None:
    # given the foreigners authority's command server stopped (no instance running)
    await hub.services["foreigners_authority"][1].stop()

    # when an arrival is registered, it is refused as unavailable, and the refusal says the
    # command was not recorded (sending it again is safe); a command taken and not answered
    # in time says "outcome": "unknown" instead (tests/integration/test_command_errors.py)
    body = await hub.graphql(REGISTER, {"input": arrival_input()})
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "unavailable", "outcome": "not_recorded"}
    assert "nothing was recorded" in body["errors"][0]["message"]
