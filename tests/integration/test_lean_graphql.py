"""The lean ``POST /graphql`` route (gateway/http.py) answers exactly as strawberry's own route:
the same status, headers and bytes for queries, mutations, errors and refusals; and each
request still has one server span."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub

REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position traceId } }"""
TIMELINE = """query($id: ID!, $atLeast: String) {
  person(id: $id) { timeline(atLeast: $atLeast) {
    occurredAt recordedAt service eventType summary traceId position personId } } }"""
#: headers a response may differ in without a client seeing a difference
IGNORED = {"date", "server"}


async def lean_route(hub: InProcessHub) -> Any:
    if hub.app.lean_graphql is None:
        await hub.client.get("/healthz")  # the first request builds the middleware stack
    route = hub.app.lean_graphql
    assert route is not None
    return route


async def answer(
    hub: InProcessHub, body: bytes, headers: dict[str, str], *, lean: bool
) -> tuple[int, dict[str, str], bytes, bool]:
    """(status, headers, body, whether the lean route answered) of one POST /graphql."""
    route = await lean_route(hub)
    route.enabled = lean
    before = route.answered
    try:
        response = await hub.client.post("/graphql", content=body, headers=headers)
    finally:
        route.enabled = True
    kept = {k: v for k, v in response.headers.items() if k not in IGNORED}
    return response.status_code, kept, response.content, route.answered > before


def post(query: str | None, variables: dict[str, Any] | None = None, **more: Any) -> bytes:
    data: dict[str, Any] = {**more}
    if query is not None:
        data["query"] = query
    if variables is not None:
        data["variables"] = variables
    return json.dumps(data).encode()


@pytest.fixture
async def person(hub: InProcessHub) -> dict[str, Any]:
    body = await hub.graphql(REGISTER, {"input": arrival_input()})
    assert "errors" not in body, body
    created = body["data"]["registerArrival"]
    # the timeline has caught up, so that both routes read the same rows
    read = await hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": created["position"]})
    assert "errors" not in read, read
    return dict(created)


def cases(hub: InProcessHub, person: dict[str, Any]) -> list[tuple[str, bytes, dict[str, str]]]:
    officer = {**hub.headers("abh_officer"), "Content-Type": "application/json"}
    steering = {**hub.headers("steering", "hub-steering"), "Content-Type": "application/json"}
    case_manager = {**hub.headers("case_manager", "kim-05315"), "Content-Type": "application/json"}
    pid = person["personId"]
    timeline = {"id": pid, "atLeast": person["position"]}
    return [
        ("typename", post("{ __typename }"), officer),
        ("timeline", post(TIMELINE, timeline), officer),
        ("timeline, no variables key", post(TIMELINE.replace("$atLeast", '"x"'), None), officer),
        ("timeline, another agency's reader", post(TIMELINE, timeline), case_manager),
        (
            "timeline with a purpose",
            post(TIMELINE, timeline),
            {**case_manager, "Hub-Purpose": "counselling"},
        ),
        ("bad position token", post(TIMELINE, {"id": pid, "atLeast": "garbage"}), officer),
        ("not a person id", post(TIMELINE, {"id": "nope"}), officer),
        ("a role without the right", post(TIMELINE, timeline), steering),
        ("syntax error", post("{ person(id: "), officer),
        ("unknown field", post("{ nothing }"), officer),
        ("variable of the wrong type", post(TIMELINE, {"id": None}), officer),
        ("too deep", post("{" + "person(id: 1) { " * 13 + "}" * 14), officer),
        ("introspection", post("{ __schema { queryType { name } } }"), officer),
        ("operation name unknown", post("query A { __typename }", operationName="B"), officer),
        (
            "operation name chosen",
            post("query A { __typename } query B { b: __typename }", operationName="B"),
            officer,
        ),
        ("subscription over POST", post("subscription { caseEvents { eventType } }"), officer),
        ("no query", post(None, {}), officer),
        (
            "variables not an object",
            b'{"query": "{ __typename }", "variables": [1]}',
            officer,
        ),
        ("a batch", b'[{"query": "{ __typename }"}]', officer),
        ("not JSON", b"{ __typename }", officer),
        ("JSON but a string", b'"{ __typename }"', officer),
        ("JSON but a number", b"1", officer),
        ("JSON but null", b"null", officer),
        ("NaN only the standard library reads", b'{"query": "{ __typename }", "x": NaN}', officer),
        (
            "non-ASCII in the answer",
            post("query($id: ID!) { person(id: $id) { id } }", {"id": "Ünïcödé"}),
            officer,
        ),
        ("no token", post("{ __typename }"), {"Content-Type": "application/json"}),
        (
            "a bad token",
            post("{ __typename }"),
            {"Content-Type": "application/json", "Authorization": "Bearer nonsense"},
        ),
        ("unknown purpose", post("{ __typename }"), {**officer, "Hub-Purpose": "curiosity"}),
        (
            "content type with a charset",
            post("{ __typename }"),
            {**officer, "Content-Type": "application/json; charset=utf-8"},
        ),
        (
            "mutation refused by the service",
            post(REGISTER, {"input": arrival_input(birthDate="2999-01-01")}),
            officer,
        ),
        (
            "mutation, malformed date",
            post(REGISTER, {"input": arrival_input(birthDate="1990-13-01")}),
            officer,
        ),
        (
            "mutation by a role without the right",
            post(REGISTER, {"input": arrival_input()}),
            steering,
        ),
        (
            "mutation, unknown person",
            post(
                "mutation($input: GrantResidenceTitleInput!) { grantResidenceTitle(input: $input)"
                " { personId } }",
                {
                    "input": {
                        "personId": "8d9a8f0e-0000-4000-8000-000000000000",
                        "title": "RESIDENCE_PERMIT",
                        "paragraph": "§ 24 AufenthG",
                        "validFrom": "2022-03-20",
                        "validUntil": "2027-03-04",
                    }
                },
            ),
            officer,
        ),
    ]


#: what strawberry's route answers itself (the lean route hands these on)
HANDED_ON = {
    "a batch",
    "not JSON",
    "JSON but a string",
    "JSON but a number",
    "JSON but null",
    "NaN only the standard library reads",
    "variables not an object",
}


async def test_the_lean_route_answers_as_strawberrys_route(
    hub: InProcessHub, person: dict[str, Any]
) -> None:
    for name, body, headers in cases(hub, person):
        strawberry = await answer(hub, body, headers, lean=False)
        lean = await answer(hub, body, headers, lean=True)

        assert lean[:3] == strawberry[:3], name
        assert not strawberry[3], name
        assert lean[3] == (name not in HANDED_ON), name


async def test_the_cases_cover_answers_errors_and_refusals(
    hub: InProcessHub, person: dict[str, Any]
) -> None:
    statuses = {}
    for name, body, headers in cases(hub, person):
        status, _, content, _ = await answer(hub, body, headers, lean=True)
        statuses[name] = status
        if name == "timeline":
            assert len(json.loads(content)["data"]["person"]["timeline"]) == 3
        if name == "a role without the right":
            assert json.loads(content)["errors"][0]["extensions"]["code"] == "forbidden"
        if name == "mutation refused by the service":
            assert json.loads(content)["errors"][0]["extensions"]["field"] == "birthDate"
    assert statuses["no token"] == statuses["a bad token"] == 401
    assert statuses["unknown purpose"] == 400
    assert statuses["operation name unknown"] == statuses["no query"] == 400
    assert statuses["not JSON"] == statuses["a batch"] == 400
    assert statuses["JSON but a string"] == statuses["JSON but a number"] == 400
    assert statuses["JSON but null"] == 400


async def test_a_mutation_answers_the_same_shape_on_both_routes(hub: InProcessHub) -> None:
    headers = {**hub.headers("abh_officer"), "Content-Type": "application/json"}
    shapes = []
    for lean in (False, True):
        status, kept, content, answered = await answer(
            hub, post(REGISTER, {"input": arrival_input()}), headers, lean=lean
        )
        created = json.loads(content)["data"]["registerArrival"]
        assert answered == lean
        shapes.append((status, kept["content-type"], {k: type(v) for k, v in created.items()}))
    assert shapes[0] == shapes[1]


async def test_a_lean_request_has_one_server_span_continuing_the_callers_trace(
    hub: InProcessHub,
) -> None:
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4736"
    hub.exporter.clear()
    headers = {
        **hub.headers("abh_officer"),
        "Content-Type": "application/json",
        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
    }

    _, kept, _, answered = await answer(hub, post("{ __typename }"), headers, lean=True)

    assert answered
    assert kept["x-frame-options"] == "DENY"
    assert "default-src 'self'" in kept["content-security-policy"]
    spans = [
        s
        for s in hub.exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == trace_id
    ]
    (span,) = spans
    assert span.name == "POST /graphql"
    assert span.kind.name == "SERVER"
    assert dict(span.attributes or {}) == {
        "http.request.method": "POST",
        "url.path": "/graphql",
        "http.response.status_code": 200,
    }


async def test_every_route_has_one_server_span_and_fastapi_opens_none(hub: InProcessHub) -> None:
    trace_id = "6bf92f3577b34da6a3ce929d0e0e4736"
    hub.exporter.clear()
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}

    response = await hub.client.get("/healthz", headers=headers)
    refused = await hub.client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)

    assert (response.status_code, refused.status_code) == (200, 401)
    servers = [
        s
        for s in hub.exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == trace_id and s.kind.name == "SERVER"
    ]
    assert sorted(
        (s.name, (s.attributes or {}).get("http.response.status_code")) for s in servers
    ) == [
        ("GET /healthz", 200),
        ("POST /graphql", 401),
    ]
