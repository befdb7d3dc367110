"""The gateway's schema converts each Python name to its GraphQL name once: the same names
as strawberry's own converter, the same schema, and a name met again is not converted again."""

from __future__ import annotations

from typing import Any

from strawberry.schema.name_converter import NameConverter

from gateway.schema import RememberingNameConverter, build_schema


def test_the_schema_is_the_one_strawberrys_own_converter_makes() -> None:
    from strawberry.schema.config import StrawberryConfig

    from gateway import schema as module

    plain = module.HubSchema(
        query=module.Query,
        mutation=module.Mutation,
        subscription=module.Subscription,
        config=StrawberryConfig(name_converter=NameConverter()),
    )
    assert build_schema().as_str() == plain.as_str()


def test_a_name_is_converted_once_and_answered_the_same(monkeypatch: Any) -> None:
    converter = RememberingNameConverter()
    calls: list[str] = []
    original = NameConverter.apply_naming_config

    def counted(self: NameConverter, name: str) -> str:
        calls.append(name)
        return original(self, name)

    monkeypatch.setattr(NameConverter, "apply_naming_config", counted)
    for name in ("at_least", "person_id", "at_least", "at_least", "_private", "x"):
        assert converter.apply_naming_config(name) == original(NameConverter(), name)
    assert calls == ["at_least", "person_id", "_private", "x"]


def test_names_beyond_the_limit_are_converted_without_being_kept() -> None:
    converter = RememberingNameConverter()
    converter.LIMIT = 2
    for name in ("a_b", "c_d", "e_f", "e_f"):
        assert converter.apply_naming_config(name) == NameConverter().apply_naming_config(name)
    assert len(converter._converted) == 2
