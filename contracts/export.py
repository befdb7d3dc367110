"""Export the registered contracts as JSON Schemas and an AsyncAPI 3.0.0 document.

Output is deterministic (sorted keys, two-space indent, trailing newline), so
re-running the export over an unchanged registry produces identical bytes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from contracts.envelope import CloudEvent
from contracts.registry import REGISTRY, ContractRegistry, ContractSpec

__all__ = ["export_contracts"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_SCHEMA_ID = "urn:hub:schema:cloudevent"
ASYNCAPI_VERSION = "3.0.0"
CONTENT_TYPE = "application/cloudevents+json"

_COMPONENT_SCHEMAS = "#/components/schemas/"

_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "JetStream de-duplication id; equals the CloudEvent id.",
        },
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}


def export_contracts(directory: Path, registry: ContractRegistry = REGISTRY) -> list[Path]:
    """Write ``schemas/<type>.json``, ``schemas/cloudevent.json`` and ``asyncapi.json``.

    Returns the written paths (payload schemas sorted by type, then the envelope
    schema, then the AsyncAPI document).
    """
    specs = registry.all()
    schemas_dir = directory / "schemas"
    schemas_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for spec in specs:
        written.append(_write_json(schemas_dir / f"{spec.type}.json", _payload_schema(spec)))
    written.append(_write_json(schemas_dir / "cloudevent.json", _envelope_schema()))
    written.append(_write_json(directory / "asyncapi.json", _asyncapi(specs)))
    return written


def _write_json(path: Path, document: dict[str, Any]) -> Path:
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_bytes(text.encode("utf-8"))
    return path


def _payload_schema(spec: ContractSpec) -> dict[str, Any]:
    schema = spec.payload.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = spec.dataschema
    schema["title"] = spec.payload.__name__
    schema["description"] = spec.description
    return schema


def _envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = ENVELOPE_SCHEMA_ID
    schema["title"] = "CloudEvent"
    schema["description"] = "CloudEvents 1.0 structured-mode envelope of every hub event."
    return schema


def _channel_id(spec: ContractSpec) -> str:
    return spec.type.replace(".", "_")


def _asyncapi(specs: list[ContractSpec]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (spec.payload, "validation") for spec in specs
    ]
    refs, definitions = models_json_schema(models, ref_template=_COMPONENT_SCHEMAS + "{model}")
    component_schemas: dict[str, Any] = definitions.get("$defs", {})
    envelope = _envelope_schema()
    for key in ("$schema", "$id"):
        envelope.pop(key)

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in specs:
        key = _channel_id(spec)
        data_ref = refs[(spec.payload, "validation")]
        schema_name = data_ref["$ref"].removeprefix(_COMPONENT_SCHEMAS)
        component_schemas[schema_name]["description"] = spec.description
        messages[key] = _message(spec, envelope, data_ref)
        channels[key] = {
            "address": spec.subject,
            "title": spec.type,
            "description": spec.description,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "title": f"{spec.service} publishes {spec.name} v{spec.version}",
            "summary": spec.description,
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Integration hub events",
            "version": "1.0.0",
            "description": "Integration events exchanged between hub services over NATS "
            "JetStream. Each message is a CloudEvents 1.0 envelope in structured JSON "
            "mode; the NATS subject equals the CloudEvents type.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": component_schemas},
    }


def _message(spec: ContractSpec, envelope: dict[str, Any], data_ref: Any) -> dict[str, Any]:
    payload = copy.deepcopy(envelope)
    payload["title"] = f"CloudEvent {spec.type}"
    properties = payload["properties"]
    properties["data"] = copy.deepcopy(data_ref)
    properties["type"] = {"const": spec.type, "type": "string"}
    properties["dataschema"] = {"const": spec.dataschema, "type": "string"}
    return {
        "name": spec.type,
        "title": spec.payload.__name__,
        "summary": spec.description,
        "contentType": CONTENT_TYPE,
        "headers": copy.deepcopy(_HEADERS_SCHEMA),
        "payload": payload,
    }
