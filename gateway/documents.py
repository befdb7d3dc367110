"""Parsing and validating GraphQL documents without blocking other clients.

A document within the body limit can still take the pure-Python parser and validator about a
tenth of a second (a 250 KiB string literal, 2,000 tokens of aliases). Run on the event loop,
that time would hold every other client's request. :class:`ParseAndValidateOffLoop` keeps the
documents it has seen (and their validation errors) in bounded caches, answers repeats from
them on the loop, and parses and validates an unseen document larger than ``INLINE_BYTES`` in
a worker thread. Small unseen documents stay on the loop: the thread hop would cost more.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from typing import Any, Generic, TypeVar

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

#: unseen documents up to this size are parsed and validated on the event loop
INLINE_BYTES = 2048
CACHE_SIZE = 256

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


#: a document's source: the query text and the parse options (the token limit)
Source = tuple[str, tuple[tuple[str, Any], ...]]
#: source -> document, or the syntax error it raised
_DOCUMENTS: Recent[Source, Any] = Recent(CACHE_SIZE)
#: (source, validation rules) -> the validation errors
_VALIDATIONS: Recent[tuple[Source, tuple[Any, ...]], list[GraphQLError]] = Recent(CACHE_SIZE)


def _source(context: Any) -> Source:
    return (context.query, tuple(sorted(context.parse_options.items())))


async def _run(large: bool, function: Any, *args: Any, **kwargs: Any) -> Any:
    if large:
        return await asyncio.to_thread(function, *args, **kwargs)
    return function(*args, **kwargs)


def _parse(query: str, options: dict[str, Any]) -> Any:
    """The document, or the syntax error (kept, so a repeat fails as fast as it succeeds)."""
    try:
        return parse(query, **options)
    except GraphQLError as error:
        return error


class ParseAndValidateOffLoop(SchemaExtension):
    """Cached parsing and validation; unseen large documents are handled in a thread."""

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            key = _source(context)
            found = _DOCUMENTS.get(key)
            if found is None:
                found = await _run(len(query) > INLINE_BYTES, _parse, query, context.parse_options)
                _DOCUMENTS.put(key, found)
            if isinstance(found, GraphQLError):
                raise found
            context.graphql_document = found
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.query is not None and context.validation_rules:
            rules = tuple(context.validation_rules)
            key = (_source(context), rules)
            errors = _VALIDATIONS.get(key)
            if errors is None:
                large = len(context.query or "") > INLINE_BYTES
                errors = await _run(
                    large, validate_document, context.schema._schema, document, rules
                )
                _VALIDATIONS.put(key, errors)
            context.pre_execution_errors = errors
        yield
