"""The gateway redacts the personal values of a request's variables from every log record
written while the request runs, the record of an unexpected error included."""

from __future__ import annotations

import io
import logging

import strawberry

from gateway.schema import HubSchema
from services.runtime.logs import configure_logging

log = logging.getLogger("tests.gateway")


@strawberry.input
class PersonInput:
    given_names: str
    family_name: str


@strawberry.type
class Query:
    @strawberry.field
    def check(self, input: PersonInput) -> str:
        log.warning("checking %s %s", input.given_names, input.family_name)
        raise RuntimeError(f"cannot check {input.family_name}")


async def test_personal_variables_never_reach_a_log_line() -> None:
    stream = io.StringIO()
    handler = configure_logging("gateway", env="prod", level="INFO", stream=stream)
    try:
        schema = HubSchema(query=Query)
        # when a request with personal values in its variables logs them and fails
        result = await schema.execute(
            "query($p: PersonInput!) { check(input: $p) }",
            variable_values={"p": {"givenNames": "Oksanaxyz", "familyName": "Petrenkoqwe"}},
        )
    finally:
        logging.getLogger().removeHandler(handler)
    # then the client gets a coded error, and no log line shows either value
    assert result.errors
    assert result.errors[0].extensions == {"code": "internal"}
    written = stream.getvalue()
    assert "[redacted]" in written
    assert "Oksanaxyz" not in written
    assert "Petrenkoqwe" not in written
