"""The GraphQL schema, assembled from its parts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from uuid import UUID

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult, Info

from contracts.commands import CATALOGUE
from contracts.commands.foreigners_authority import SEARCH_PERSONS
from contracts.roles import TIMELINE_READERS
from gateway.cases.queries import CaseQueries
from gateway.conflicts.queries import ConflictQueries
from gateway.context import GatewaySettings, HubContext, HubError, ctx
from gateway.documents import ParseAndValidateOffLoop
from gateway.erasure import ErasureMutations
from gateway.errors import UNAVAILABLE, add_codes
from gateway.execution import PlainObjectsExecutionContext
from gateway.mutations import mutation_type
from gateway.pathway.queries import PathwayQueries
from gateway.pathway.search import PersonSearchQueries
from gateway.steering.queries import SteeringQueries
from gateway.subject_access.queries import SubjectAccessQueries
from gateway.subscriptions import Subscription
from gateway.timeline import Person
from services.runtime.database import CONNECTION_LOST
from services.runtime.logs import redacting

log = logging.getLogger(__name__)
#: the largest document the gateway parses and validates (``query_too_complex`` beyond)
MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000
#: the depth and alias rules, built once so that ValidationCache recognises them across requests
_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]
#: the input fields any command marks personal: their values never reach a log record
PERSONAL_FIELDS = CATALOGUE.personal_fields() | SEARCH_PERSONS.personal_fields

__all__ = ["GatewaySettings", "HubContext", "HubError", "schema"]


@strawberry.type
class PersonQueries:
    @strawberry.field(description="A person by pseudonymous id")
    def person(self, info: Info[HubContext, None], id: strawberry.ID) -> Person:
        ctx(info).require(TIMELINE_READERS, "read person data")
        try:
            UUID(str(id))
        except ValueError:
            raise HubError("id is not a person id", "invalid_input", "id") from None
        return Person(id=id)


Query = merge_types(
    "Query",
    (
        PersonQueries,
        CaseQueries,
        PathwayQueries,
        PersonSearchQueries,
        ConflictQueries,
        SteeringQueries,
        SubjectAccessQueries,
    ),
)
Mutation = merge_types("Mutation", (mutation_type(), ErasureMutations))


def _should_mask(error: GraphQLError) -> bool:
    """Mask (and log, once) only unexpected failures inside a resolver. Errors about the
    request itself (syntax, validation, a variable of the wrong type) have no path and are the
    client's answer: they are neither masked nor logged, since they may echo the input."""
    original = error.original_error
    if original is None or isinstance(original, HubError) or not error.path:
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


def _unavailable(error: GraphQLError) -> GraphQLError | None:
    """A read that failed because its database connection was lost: ``unavailable``, as
    a command whose service does not answer (the client may try again), logged as a
    warning without a traceback; None for any other error."""
    original = error.original_error
    if not isinstance(original, CONNECTION_LOST):
        return None
    log.warning("a read found the database unavailable (%s)", type(original).__name__)
    return GraphQLError(
        UNAVAILABLE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "unavailable"},
    )


def _unexpected_in_stream(error: GraphQLError) -> bool:
    """Whether a live subscription's error is an unexpected failure, to mask and log (once).
    Besides a resolver's (``_should_mask``), the subscription's own generator failing: that
    error has neither a path nor a place in the document, and wraps a plain exception (a
    request's own errors, a variable of the wrong type say, point at the document)."""
    if _should_mask(error):
        return True
    original = error.original_error
    if original is None or isinstance(original, HubError | GraphQLError) or error.nodes:
        return False
    log.error("unexpected error in a subscription", exc_info=original)
    return True


class RememberingNameConverter(NameConverter):
    """Strawberry turns each argument's Python name into its GraphQL name (camel case) again
    on every call of a resolver with arguments (``convert_arguments``): about 6 us a name,
    several names a request. The names are the schema's own, so each is converted once."""

    #: more names than any schema has: beyond it, names are converted without being kept
    LIMIT = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._converted: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._converted.get(name)
        if converted is None:
            converted = super().apply_naming_config(name)
            if len(self._converted) < self.LIMIT:
                self._converted[name] = converted
        return converted


class HubSchema(strawberry.Schema):
    """Bounds a document's tokens, depth and aliases, caches parsing and validation (and runs
    them for large unseen documents off the event loop, gateway.documents), masks
    unexpected errors and logs them only there (``_should_mask``), codes every error,
    redacts personal values from the logs, and adds the request's notices to the answer's
    ``extensions.notices``."""

    def __init__(self, *, introspection_for_all: bool = True, **kwargs: Any) -> None:
        extensions = [
            partial(HubOperation, introspection_for_all=introspection_for_all),
            *kwargs.pop("extensions", []),
        ]
        kwargs.setdefault("execution_context_class", PlainObjectsExecutionContext)
        super().__init__(**kwargs, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Runs with the personal values of the request's variables redacted from every log
        record; every error in the answer carries a code (one error style, gateway.errors)."""
        variables = kwargs.get("variable_values", args[1] if len(args) > 1 else None)
        with redacting(variables, PERSONAL_FIELDS):
            result = await super().execute(*args, **kwargs)
        add_codes(result.errors)
        context = kwargs.get("context_value", args[2] if len(args) > 2 else None)
        notices = getattr(context, "notices", None)
        if notices:  # e.g. a consent-based read that named no purpose (gateway.context)
            result.extensions = {**(result.extensions or {}), "notices": list(notices.values())}
        return result


class HubOperation(MaskErrors, ParseAndValidateOffLoop):
    """The hub's work around each operation, in one extension (strawberry wraps and enters
    every hook of every extension anew for each operation, which cost more than the hooks):
    the token limit (strawberry's ``MaxTokensLimiter``), the depth and alias rules
    (``AddValidationRules``), introspection only for ``admin`` unless
    ``introspection_for_all`` (``forbidden`` else), the cached parsing and validation
    (gateway.documents), and the masking of unexpected errors (``MaskErrors``, logged once
    by ``_should_mask``)."""

    def __init__(self, *, introspection_for_all: bool = True) -> None:
        super().__init__(should_mask_error=_should_mask, error_message="internal error")
        self.introspection_for_all = introspection_for_all

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = MAX_TOKENS
        rules = (*context.validation_rules, *_LIMIT_RULES)
        if not self.introspection_for_all:
            principal = getattr(context.context, "principal", None)
            if principal is None or principal.role != "admin":
                rules = (*rules, NoSchemaIntrospectionCustomRule)
        context.validation_rules = rules
        yield from super().on_operation()  # masks the unexpected errors of the result

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of a live subscription, as :meth:`HubSchema.execute` answers a
        query: unexpected failures masked (and logged), every error with a code."""
        self._stream_result_processed = True
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._answers(errors, _unexpected_in_stream)
            add_codes(result.errors)
        yield None

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return self._answers(errors, self.should_mask_error)

    def _answers(
        self, errors: list[GraphQLError], unexpected: Callable[[GraphQLError], bool]
    ) -> list[GraphQLError]:
        """What the client is told of each error: a lost database as ``unavailable``, an
        unexpected failure masked (logged by ``unexpected``), the rest as they are."""
        answers = []
        for error in errors:
            unavailable = _unavailable(error)
            if unavailable is not None:
                answers.append(unavailable)
            elif unexpected(error):
                answers.append(self.anonymise_error(error))
            else:
                answers.append(error)
        return answers

    def _process_result(self, result: object) -> None:
        """``MaskErrors._process_result`` without its ``isinstance`` against a runtime
        protocol (about 25 µs a request, a tenth of a trivial query's CPU): the same test,
        whether the result has errors, read directly."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def build_schema(*, introspection_for_all: bool = True) -> HubSchema:
    """The schema; with ``introspection_for_all=False`` (prod) only admins may introspect it."""
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        introspection_for_all=introspection_for_all,
        config=StrawberryConfig(name_converter=RememberingNameConverter()),
    )


schema = build_schema()
