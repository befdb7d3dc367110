"""The read path's shortcuts change no answer: plain objects completed directly give what the
ordinary GraphQL execution gives (errors included), and a verified token is remembered only
briefly, never past its expiry, and only when it was good."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import functools
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from gateway.auth import Principal
from gateway.context import VerifiedTokens
from gateway.execution import PlainObjectsExecutionContext
from gateway.schema import build_schema
from gateway.schema import schema as hub_schema

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Row:
    at: dt.datetime
    name: str
    note: str | None
    count: int
    big: int | None
    flag: bool
    colour: Colour
    ref: strawberry.ID
    required: str

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def times(self, n: int) -> int:
        return self.count * n


def rows() -> list[Row]:
    return [
        Row(
            at=NOW + dt.timedelta(days=i),
            name=f"row {i}",
            note=None if i % 2 else "a note",
            count=i,
            big=None,
            flag=i % 3 == 0,
            colour=Colour.RED if i % 2 else Colour.BLUE,
            ref=strawberry.ID(f"id-{i}"),
            required="yes",
        )
        for i in range(20)
    ]


def broken() -> list[Row]:
    bad = rows()
    bad[3].required = None  # type: ignore[assignment]  # null in a non-null field
    bad[5].big = 2**40  # beyond GraphQL's Int
    return bad


class Stamp(dt.datetime):
    """A datetime of another class: its own isoformat, which the shortcut must not bypass."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "stamp " + super().isoformat(sep, timespec)


def edges() -> list[Row]:
    """Ints at and beyond the 32-bit bounds of GraphQL's Int, an empty ID, a big one; times
    with microseconds, another offset, none, a date and a datetime subclass."""
    edge = rows()[:9]
    edge[0].count, edge[1].count, edge[2].count = 2**31 - 1, -(2**31), -(2**31) - 1
    edge[3].big = 2**31
    edge[0].ref = strawberry.ID("")
    edge[4].at = NOW.replace(microsecond=120)
    edge[5].at = NOW.astimezone(dt.timezone(dt.timedelta(hours=2, minutes=30)))
    edge[6].at = NOW.replace(tzinfo=None)
    edge[7].at = NOW.date()  # type: ignore[assignment]
    edge[8].at = Stamp(2026, 1, 2, tzinfo=dt.UTC)
    return edge


@strawberry.type
class Query:
    @strawberry.field
    async def rows(self) -> list[Row]:
        return rows()

    @strawberry.field
    def broken(self) -> list[Row | None]:
        return broken()  # type: ignore[return-value]

    @strawberry.field
    def gaps(self) -> list[Row | None]:
        some = rows()[:3]
        return [some[0], None, some[2]]

    @strawberry.field
    def edges(self) -> list[Row]:
        return edges()

    @strawberry.field
    def nested(self) -> list[list[Row]]:
        return [rows()[:2], rows()[2:3]]


ordinary = strawberry.Schema(query=Query)
plain = strawberry.Schema(query=Query, execution_context_class=PlainObjectsExecutionContext)

DOCUMENTS = [
    "{ rows { at name note count big flag colour ref required } }",
    "{ rows { __typename when: at name alias2: name } }",
    "{ rows { name shout times(n: 3) } }",
    "query($skip: Boolean!) { rows { name note @skip(if: $skip) count @include(if: $skip) } }",
    "{ rows { ...F } } fragment F on Row { at name colour }",
    "{ rows { ... on Row { name flag } } }",
    "{ broken { name required } }",
    "{ broken { name big } }",
    "{ gaps { name count } }",
    "{ edges { count ref } }",
    "{ edges { name big } }",
    "{ edges { at } }",
    "{ nested { name at } }",
    "{ rows { name } broken { required } }",
]


def run(schema: strawberry.Schema, document: str) -> Any:
    result = asyncio.run(schema.execute(document, variable_values={"skip": True}))
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


def test_plain_objects_complete_to_the_same_answer_errors_included() -> None:
    for document in DOCUMENTS:
        assert run(plain, document) == run(ordinary, document), document


def test_a_null_in_a_non_null_field_is_still_an_error_at_its_path() -> None:
    data, errors = run(plain, "{ broken { name required } }")

    assert data["broken"][3] is None
    assert [path for _, path in errors] == [["broken", 3, "required"]]


def test_the_hub_schema_has_no_per_field_hook_the_shortcut_would_skip() -> None:
    for served in (hub_schema, build_schema(introspection_for_all=False)):
        for extension in served.extensions:
            if isinstance(extension, functools.partial):
                kind = extension.func
            else:
                kind = extension if isinstance(extension, type) else type(extension)
            assert kind.resolve is SchemaExtension.resolve, kind
        assert served.execution_context_class is PlainObjectsExecutionContext


PRINCIPAL = Principal(subject="s", agency="a", role="case_manager", exp=1_000)


class Clock:
    def __init__(self) -> None:
        self.now = 900.0

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_remembered_for_its_ttl_only() -> None:
    clock = Clock()
    tokens = VerifiedTokens(ttl=30, clock=clock)
    tokens.put("Bearer abc", PRINCIPAL)

    assert tokens.get("Bearer abc") == PRINCIPAL
    assert tokens.get("Bearer abd") is None
    clock.now += 30
    assert tokens.get("Bearer abc") is None


def test_a_remembered_token_is_never_accepted_past_its_expiry() -> None:
    clock = Clock()
    clock.now = 990.0
    tokens = VerifiedTokens(ttl=30, clock=clock)
    tokens.put("Bearer abc", PRINCIPAL)

    clock.now = 999.5
    assert tokens.get("Bearer abc") == PRINCIPAL
    clock.now = 1_000.0
    assert tokens.get("Bearer abc") is None
    clock.now = 1_001.0
    tokens.put("Bearer abc", PRINCIPAL)  # already expired: not kept
    assert tokens.get("Bearer abc") is None


def test_the_cache_is_bounded_and_keeps_no_token_in_clear() -> None:
    tokens = VerifiedTokens(ttl=30, size=3, clock=Clock())
    for n in range(10):
        tokens.put(f"Bearer token-{n}", PRINCIPAL)

    assert len(tokens._entries) <= 3
    assert all(isinstance(key, bytes) and b"token" not in key for key in tokens._entries)


def test_plain_rows_take_the_shortcut_and_rows_with_resolvers_do_not(monkeypatch: Any) -> None:
    from gateway import execution

    completed: list[str] = []
    original = execution.PlainPlan.complete

    def counting(self: execution.PlainPlan, source: Any) -> Any:
        completed.append(self.type_name)
        return original(self, source)

    monkeypatch.setattr(execution.PlainPlan, "complete", counting)
    run(plain, "{ rows { at name note count colour ref } }")
    assert completed == ["Row"] * 20
    completed.clear()
    run(plain, "{ rows { name shout } }")
    assert completed == []


def test_a_list_of_plain_rows_is_completed_in_one_loop_and_anything_else_the_ordinary_way(
    monkeypatch: Any,
) -> None:
    objects: list[str] = []
    original = PlainObjectsExecutionContext.complete_object_value

    def counting(self: Any, return_type: Any, *args: Any) -> Any:
        objects.append(return_type.name)
        return original(self, return_type, *args)

    monkeypatch.setattr(PlainObjectsExecutionContext, "complete_object_value", counting)
    run(plain, "{ rows { at name count ref } }")
    assert objects == []  # the whole list at once, no object one by one
    run(plain, "{ gaps { name } }")
    assert objects == ["Row", "Row"]  # a null item: the ordinary path, item by item
    objects.clear()
    run(plain, "{ edges { name big } }")
    assert objects == ["Row"] * len(edges())  # an Int beyond 32 bits: the ordinary path
