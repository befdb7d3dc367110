"""Parsing and validation off the event loop (gateway.documents): a large unseen document is
parsed and validated in a worker thread, a small or repeated one on the loop, and the caches
never change an answer (syntax errors, the limits and the introspection rule still apply)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from gateway import documents
from gateway.schema import MAX_ALIASES, build_schema


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Which thread parsed and validated each document."""
    seen: dict[str, list[str]] = {"parse": [], "validate": []}
    parse, validate = documents.parse, documents.validate_document

    def parse_here(*args: Any, **kwargs: Any) -> Any:
        seen["parse"].append(threading.current_thread().name)
        return parse(*args, **kwargs)

    def validate_here(*args: Any, **kwargs: Any) -> Any:
        seen["validate"].append(threading.current_thread().name)
        return validate(*args, **kwargs)

    monkeypatch.setattr(documents, "parse", parse_here)
    monkeypatch.setattr(documents, "validate_document", validate_here)
    return seen


def padded(query: str, size: int) -> str:
    """``query`` behind a comment that makes the document ``size`` bytes long."""
    return "#" + "x" * (size - len(query) - 2) + "\n" + query


async def test_a_large_unseen_document_is_parsed_and_validated_in_a_worker_thread(
    threads: dict[str, list[str]],
) -> None:
    schema = build_schema()
    query = padded("{ __typename }", 100_000)

    first = await schema.execute(query)
    again = await schema.execute(query)

    assert first.errors is None
    assert first.data == {"__typename": "Query"}
    assert again.data == first.data
    loop = threading.current_thread().name
    assert len(threads["parse"]) == 1
    assert threads["parse"][0] != loop
    assert len(threads["validate"]) == 1
    assert threads["validate"][0] != loop


async def test_a_small_document_stays_on_the_event_loop(threads: dict[str, list[str]]) -> None:
    result = await build_schema().execute("{ __typename small: __typename }")

    assert result.errors is None
    loop = threading.current_thread().name
    assert threads["parse"] == [loop]
    assert threads["validate"] == [loop]


async def test_a_repeated_syntax_error_is_answered_from_the_cache_with_the_same_error(
    threads: dict[str, list[str]],
) -> None:
    schema = build_schema()
    broken = padded('{ __typename "unterminated }', 50_000)

    first = await schema.execute(broken)
    again = await schema.execute(broken)

    assert first.errors
    assert again.errors
    assert first.errors[0].message == again.errors[0].message
    assert first.errors[0].extensions == again.errors[0].extensions == {"code": "invalid_query"}
    assert len(threads["parse"]) == 1


async def test_the_limits_apply_to_a_repeated_document_too() -> None:
    schema = build_schema()
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 5)) + " }"

    for _ in range(2):
        result = await schema.execute(aliases)
        assert result.data is None
        assert result.errors
        assert result.errors[0].extensions == {"code": "query_too_complex"}


async def test_introspection_is_decided_per_caller_not_per_cached_document() -> None:
    schema = build_schema(introspection_for_all=False)
    query = "{ __schema { queryType { name } } }"

    def as_role(role: str) -> Any:
        return SimpleNamespace(principal=SimpleNamespace(role=role))

    admin = await schema.execute(query, context_value=as_role("admin"))
    officer = await schema.execute(query, context_value=as_role("abh_officer"))
    admin_again = await schema.execute(query, context_value=as_role("admin"))

    assert admin.errors is None
    assert admin_again.errors is None
    assert officer.data is None
    assert officer.errors
