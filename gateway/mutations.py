"""GraphQL mutations, derived from the command catalogue (contracts.commands).

For each command the catalogue declares, this module makes an input type from its payload
model (``<Payload>Input``), a result type with the ids the command returns
(``<Mutation>Result``) and a mutation that checks the caller's role, validates the input with
the same payload model the service uses, and forwards it to the owning service over NATS.
Refusals come back as GraphQL errors with a code (see docs/architecture.md, "Errors").
"""

import dataclasses
import datetime as dt
import enum
import functools
import types
import typing
from typing import Any
from uuid import UUID

import strawberry
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from strawberry.types import Info

from contracts.commands import CATALOGUE, Command, CommandPayload
from contracts.foreigners_authority import ResidenceTitleKind
from gateway.consistency import Position
from gateway.context import HubContext, HubError, ctx
from services.runtime.commands import CommandRejected, ServiceUnavailable, field_of
from services.runtime.context import CommandContext
from services.runtime.telemetry import current_trace_id

#: GraphQL names that differ from the contract's class name
_ENUM_NAMES: dict[type[enum.Enum], str] = {ResidenceTitleKind: "TitleKind"}


@functools.cache
def graphql_enum(cls: type[enum.Enum]) -> Any:
    """The contract enum as a GraphQL enum (registered once, in place)."""
    return strawberry.enum(cls, name=_ENUM_NAMES.get(cls, cls.__name__), description=cls.__doc__)


def graphql_type(annotation: Any) -> Any:
    """The GraphQL type of a payload field's annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        (inner,) = args
        return graphql_type(inner) | None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return list[graphql_type(item)]  # type: ignore[misc]
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return input_type(annotation)
        if issubclass(annotation, enum.Enum):
            return graphql_enum(annotation)
        if issubclass(annotation, UUID):
            return strawberry.ID
        if issubclass(annotation, dt.datetime | AwareDatetime):
            return dt.datetime
    for plain in (bool, int, float, str, dt.date):
        if annotation is plain:
            return plain
    raise TypeError(f"no GraphQL type for {annotation!r}")


def _field(info: FieldInfo) -> Any:
    if info.is_required():
        return strawberry.field(description=info.description)
    if info.default_factory is not None:
        return strawberry.field(
            default_factory=info.default_factory,
            description=info.description,
        )
    return strawberry.field(default=info.default, description=info.description)


@functools.cache
def input_type(model: type[BaseModel]) -> Any:
    """``<Model>Input``: the payload model as a GraphQL input type."""
    hints = typing.get_type_hints(model)
    namespace: dict[str, Any] = {
        "__annotations__": {name: graphql_type(hints[name]) for name in model.model_fields},
        "__module__": __name__,
    }
    namespace |= {name: _field(info) for name, info in model.model_fields.items()}
    name = f"{model.__name__}Input"
    return strawberry.input(type(name, (), namespace), name=name, description=model.__doc__)


def _result_name(command: Command) -> str:
    return command.mutation[0].upper() + command.mutation[1:] + "Result"


def result_type(command: Command) -> Any:
    """``<Mutation>Result``: the position token, the trace id and the ids the command returns."""
    annotations: dict[str, Any] = {"position": str, "trace_id": str | None}
    namespace: dict[str, Any] = {
        "position": strawberry.field(description="Pass as atLeast to read this write"),
        "trace_id": strawberry.field(description="The trace of this command"),
    }
    for name in command.returns:
        annotations[name] = strawberry.ID
    for name in command.may_return:
        annotations[name] = strawberry.ID | None
        namespace[name] = None
    namespace |= {"__annotations__": annotations, "__module__": __name__}
    name = _result_name(command)
    return strawberry.type(
        type(name, (), namespace), name=name, description=f"The result of {command.mutation}"
    )


def payload_of(command: Command, value: Any) -> CommandPayload:
    """The GraphQL input as the command's payload, validated like the service will."""
    try:
        return command.payload.model_validate(_plain(value))
    except ValidationError as error:
        message, field = field_of(error)
        raise HubError(message, "invalid_input", field) from None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in vars(value).items() if v is not strawberry.UNSET}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def execute(info: Info[HubContext, None], command: Command, value: Any) -> dict[str, Any]:
    """Check the caller's role, validate, and send the command to its service."""
    context = ctx(info)
    principal = context.require(command.roles, command.name.replace("_", " "))
    payload = payload_of(command, value)
    command_context = CommandContext(
        agency=principal.agency,
        role=principal.role,
        legal_basis=command.legal_basis,
        purpose=command.purpose,
        subject=principal.subject,
    )
    body = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        result = await context.commands.send(command.service, command.name, body, command_context)
    except CommandRejected as error:
        raise HubError(error.message, error.code, error.field, error.missing) from None
    except ServiceUnavailable as error:
        refusal = HubError(str(error), "unavailable")
        # whether the command may have been recorded: a client must not send it blindly again
        refusal.extensions["outcome"] = "not_recorded" if error.recorded is False else "unknown"
        raise refusal from None
    ids = {
        name: strawberry.ID(str(result[name])) for name in command.result_ids if result.get(name)
    }
    missing = [name for name in command.returns if name not in ids]
    if missing:
        raise RuntimeError(f"{command.name} returned no {', '.join(missing)}")
    return {
        "position": Position(command.service, int(result["position"])).token(),
        "trace_id": current_trace_id(),
        **ids,
    }


def mutation(command: Command) -> Any:
    """The GraphQL mutation of ``command``."""
    input_cls = input_type(command.payload)
    result_cls = result_type(command)

    async def resolve(info: Info[HubContext, None], input: Any) -> Any:
        return result_cls(**await execute(info, command, input))

    resolve.__annotations__ = {
        "info": Info[HubContext, None],
        "input": input_cls,
        "return": result_cls,
    }
    resolve.__name__ = command.mutation
    return strawberry.mutation(
        resolver=resolve, name=command.mutation, description=command.description
    )


def mutation_type() -> Any:
    """The schema's ``Mutation`` type: one mutation per catalogue command."""
    namespace: dict[str, Any] = {
        command.mutation: mutation(command) for command in CATALOGUE.exposed()
    }
    namespace["__module__"] = __name__
    return strawberry.type(type("Mutation", (), namespace), name="Mutation")
