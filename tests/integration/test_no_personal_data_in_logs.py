"""No log line shows a personal value: every mutation is driven with input the hub refuses
(wrong types, unknown ids, broken rules), carrying recognisable personal values in the fields
the command catalogue marks personal, and the captured logs are searched for those values."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import logging
import typing
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from contracts.commands import CATALOGUE, Command
from tests.integration.conftest import InProcessHub

_counter = itertools.count(1)


def _personal_value(annotation: Any) -> Any:
    n = next(_counter)
    if dt.date in typing.get_args(annotation) or annotation is dt.date:
        return f"19{n % 90 + 10:02d}-0{n % 9 + 1}-1{n % 9}"
    return f"Zyxquo{n:04d}Personal"


def _value(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is list:
        return [_value(args[0])]
    if args:
        return _value(args[0])
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return sample(annotation, [])
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).name
        if issubclass(annotation, uuid.UUID):
            return str(uuid.uuid4())
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, int | float):
            return 1
        if issubclass(annotation, dt.datetime):
            return "2030-01-07T10:00:00+01:00"
        if issubclass(annotation, dt.date):
            return "2030-01-07"
    return "not_a_code"


def sample(model: type[BaseModel], personal: list[str]) -> dict[str, Any]:
    """A camelCase input for ``model``; personal fields get unique values, noted in ``personal``."""
    hints = typing.get_type_hints(model)
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("personal"):
            value = _personal_value(hints[name])
            personal.append(value)
        else:
            value = _value(hints[name])
        out[info.alias or name] = value
    return out


def _mutation(command: Command) -> str:
    input_type = f"{command.payload.__name__}Input"
    return f"mutation($input: {input_type}!) {{ {command.mutation}(input: $input) {{ position }} }}"


COMMANDS_WITH_PERSONAL_FIELDS = [c for c in CATALOGUE if c.personal_fields]


@pytest.mark.parametrize(
    "command", COMMANDS_WITH_PERSONAL_FIELDS, ids=lambda c: f"{c.service}.{c.name}"
)
async def test_refused_commands_leave_no_personal_value_in_the_logs(
    hub: InProcessHub, caplog: pytest.LogCaptureFixture, command: Command
) -> None:
    caplog.set_level(logging.DEBUG)
    personal: list[str] = []
    # given inputs the hub refuses, each carrying personal values:
    refused = sample(command.payload, personal)  # unknown codes and ids: refused by the rules
    wrong_type = {**sample(command.payload, personal), "unexpectedField": personal[0]}
    too_long = {
        key: (value * 300 if value in personal and isinstance(value, str) else value)
        for key, value in sample(command.payload, personal).items()
    }
    # when each is sent as admin (a role every command admits)
    for variables in (refused, wrong_type, too_long):
        body = await hub.graphql(_mutation(command), {"input": variables}, role="admin")
        # then the hub refuses it with a coded error that shows no personal value
        assert body.get("errors"), body
        for error in body["errors"]:
            assert error["extensions"]["code"] != "internal", error
            assert not any(value in str(error) for value in personal), error
    # and no log record shows any of the personal values
    logged = (
        "\n".join(
            record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
            for record in caplog.records
        )
        + caplog.text
    )
    leaked = [value for value in personal if value in logged]
    assert not leaked, f"personal values in the logs: {leaked}"
