"""Export of JSON Schemas and the AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import REGISTRY
from contracts.export import export_contracts

ALL_SPECS = REGISTRY.all()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    directory = tmp_path_factory.mktemp("contracts")
    return directory, export_contracts(directory)


@pytest.fixture(scope="module")
def asyncapi(exported: tuple[Path, list[Path]]) -> dict[str, Any]:
    directory, _ = exported
    document: dict[str, Any] = json.loads((directory / "asyncapi.json").read_text("utf-8"))
    return document


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref}: cannot descend into {key!r}"
        assert key in node, f"{ref}: {key!r} not found"
        node = node[key]
    return node


def test_export_writes_schemas_and_asyncapi(exported: tuple[Path, list[Path]]) -> None:
    directory, written = exported
    expected = [directory / "schemas" / f"{spec.type}.json" for spec in ALL_SPECS]
    expected += [directory / "schemas" / "cloudevent.json", directory / "asyncapi.json"]
    assert written == expected
    assert all(path.is_file() for path in written)


def test_export_is_deterministic(tmp_path: Path) -> None:
    # Given two exports of the same registry
    first = export_contracts(tmp_path / "first")
    second = export_contracts(tmp_path / "second")
    again = export_contracts(tmp_path / "first")
    # Then every file is byte-identical, pretty-printed and newline-terminated
    assert [path.relative_to(tmp_path / "first") for path in first] == [
        path.relative_to(tmp_path / "second") for path in second
    ]
    for a, b, c in zip(first, second, again, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes()
        text = a.read_text("utf-8")
        assert text.endswith("}\n")
        canonical = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
        assert text == canonical + "\n"


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda spec: spec.type)
def test_payload_schema_is_identified_and_described(
    exported: tuple[Path, list[Path]], spec: Any
) -> None:
    directory, _ = exported
    schema = json.loads((directory / "schemas" / f"{spec.type}.json").read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == spec.dataschema
    assert schema["title"] == spec.payload.__name__
    assert schema["description"] == spec.description
    assert schema["type"] == "object"
    for ref in _refs(schema):
        _resolve(schema, ref)


def test_envelope_schema(exported: tuple[Path, list[Path]]) -> None:
    directory, _ = exported
    schema = json.loads((directory / "schemas" / "cloudevent.json").read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert {"id", "source", "type", "time", "data", "recordedtime", "sourceposition"} <= set(
        schema["required"]
    )


def test_asyncapi_header(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] == "Integration hub events"
    assert asyncapi["info"]["version"] == "1.0.0"
    assert asyncapi["defaultContentType"] == "application/cloudevents+json"


def test_asyncapi_has_one_channel_and_send_operation_per_contract(
    asyncapi: dict[str, Any],
) -> None:
    addresses = sorted(channel["address"] for channel in asyncapi["channels"].values())
    assert addresses == [spec.subject for spec in ALL_SPECS]
    for spec in ALL_SPECS:
        operation = asyncapi["operations"][f"publish_{spec.type.replace('.', '_')}"]
        assert operation["action"] == "send"
        channel = _resolve(asyncapi, operation["channel"]["$ref"])
        assert channel["address"] == spec.subject
        for message_ref in operation["messages"]:
            assert message_ref["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda spec: spec.type)
def test_asyncapi_message_wraps_the_payload_in_the_envelope(
    asyncapi: dict[str, Any], spec: Any
) -> None:
    channel = next(c for c in asyncapi["channels"].values() if c["address"] == spec.subject)
    (reference,) = channel["messages"].values()
    message = _resolve(asyncapi, reference["$ref"])
    assert message["name"] == spec.type
    assert message["contentType"] == "application/cloudevents+json"
    assert set(message["headers"]["properties"]) == {"Nats-Msg-Id", "traceparent"}
    envelope = message["payload"]
    assert envelope["properties"]["type"]["const"] == spec.type
    data_schema = _resolve(asyncapi, envelope["properties"]["data"]["$ref"])
    assert data_schema["title"] == spec.payload.__name__


def test_every_ref_in_asyncapi_resolves_inside_the_document(asyncapi: dict[str, Any]) -> None:
    refs = _refs(asyncapi)
    assert refs
    for ref in refs:
        _resolve(asyncapi, ref)
    assert "$defs" not in json.dumps(asyncapi)
