"""The GraphQL schema, assembled from its parts."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import Info

from gateway.cases import CaseMutations, CaseQueries
from gateway.conflicts import ConflictMutations, ConflictQueries
from gateway.context import GatewaySettings, HubContext, HubError, ctx
from gateway.pathway import PathwayQueries
from gateway.residence import ResidenceMutations
from gateway.steering import SteeringMutations, SteeringQueries
from gateway.subscriptions import Subscription
from gateway.timeline import TIMELINE_READERS, Person

log = logging.getLogger(__name__)

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
    "Query", (PersonQueries, CaseQueries, PathwayQueries, ConflictQueries, SteeringQueries)
)
Mutation = merge_types(
    "Mutation", (ResidenceMutations, CaseMutations, ConflictMutations, SteeringMutations)
)


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, HubError) or not error.path:
        return False  # our own errors, and validation/coercion of the request itself
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


class HubSchema(strawberry.Schema):
    """Logs only unexpected errors: a refused command or bad input is the client's answer."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [
            e
            for e in errors
            if e.original_error is not None and not isinstance(e.original_error, HubError)
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = HubSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[
        ParserCache,
        ValidationCache,
        partial(MaskErrors, should_mask_error=_should_mask, error_message="internal error"),
    ],
)
