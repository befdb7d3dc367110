"""Completing lists of plain objects without graphql-core's machinery for every leaf.

A timeline of 50 entries with 8 fields each is 400 leaf fields; graphql-core resolves and
completes each of them on its own (a resolver call through strawberry's wrapper, path
bookkeeping, nullability checks), and that cost more CPU than the rest of the request. Most
of our object types are plain: every selected field is an attribute of the Python object
(strawberry's *basic* field: no resolver, no permission class, no field extension, no
argument) of a scalar or enum type.

:class:`PlainObjectsExecutionContext` completes such an object directly: it reads each
selected attribute and coerces it with the field's own scalar or enum, exactly what the
default path would do for these fields. The fields are collected by graphql-core as always
(fragments, aliases, ``@skip`` / ``@include`` apply), and the decision is made once per
selection. Anything else takes the ordinary path: a field with a resolver, arguments or
another directive, an object whose ``is_type_of`` is asynchronous or says no, and any value
that would be an error there (a null in a non-null field, a value its scalar refuses), so
that errors look the same as before. The hub's schema extensions have no per-field
``resolve`` hook (a test checks it), so nothing is skipped that would otherwise have run.
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types.base_scalars import isoformat as strawberry_isoformat
from strawberry.types.field import StrawberryField

#: the directives collect_subfields has already applied (others: the ordinary path)
_APPLIED = frozenset({"skip", "include"})
_MISSING = object()
_BUILT_IN = {"String": GraphQLString, "Boolean": GraphQLBoolean, "ID": GraphQLID, "Int": GraphQLInt}
#: the Python type whose values the built-in scalar's coercion returns unchanged (ID: a str
#: as it is; Int: an int within 32 bits, checked per value)
_PLAIN: dict[str, type] = {"String": str, "Boolean": bool, "ID": str, "Int": int}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class _Leaf:
    key: str  # the response key (alias or name)
    attribute: str | None  # None: __typename
    leaf: GraphQLLeafType | None
    nullable: bool
    #: the Python type whose values the leaf's coercion returns unchanged (String and ID:
    #: str, Boolean: bool, Int: int within 32 bits)
    plain: type | None = None
    #: the leaf's coercion is ``value.isoformat()`` (strawberry's DateTime, Date, Time): a
    #: datetime is formatted here, without the scalar's wrapper around the same call
    iso: bool = False


@dataclass(frozen=True)
class PlainPlan:
    """How to complete one selection on one object type: its leaves in response order."""

    type_name: str
    leaves: tuple[_Leaf, ...]

    @cached_property
    def _steps(
        self,
    ) -> tuple[tuple[str, str | None, GraphQLLeafType | None, bool, Any, bool], ...]:
        return tuple((f.key, f.attribute, f.leaf, f.nullable, f.plain, f.iso) for f in self.leaves)

    def complete(self, source: Any) -> dict[str, Any] | None:
        """The completed object, or ``None`` to let the ordinary path do it (and raise the
        error it raises)."""
        out: dict[str, Any] = {}
        for key, attribute, leaf, nullable, plain, iso in self._steps:
            if attribute is None:
                out[key] = self.type_name
                continue
            value: Any = getattr(source, attribute, _MISSING)
            if type(value) is plain and (plain is not int or _INT_MIN <= value <= _INT_MAX):
                out[key] = value  # a str for String or ID, an int within 32 bits: as it is
                continue
            if iso and type(value) is dt.datetime:
                out[key] = value.isoformat()  # what the DateTime scalar's coercion returns
                continue
            if value is None or value is Undefined:
                if not nullable:
                    return None
                out[key] = None
                continue
            if value is _MISSING or isinstance(value, Exception):
                return None
            assert leaf is not None
            try:
                coerced = leaf.coerce_output_value(value)
            except Exception:  # the ordinary path raises it where it belongs
                return None
            if coerced is None or coerced is Undefined:
                return None
            out[key] = coerced
        return out


def plain_plan(
    return_type: GraphQLObjectType, grouped_field_set: Any, deferred: bool
) -> PlainPlan | None:
    """The plan for a selection whose every field is a plain leaf, else ``None``."""
    if deferred:
        return None
    leaves = []
    for key, details in grouped_field_set.items():
        nodes = [detail.node for detail in details]
        if any(detail.fragment_variable_values for detail in details):
            return None
        name = nodes[0].name.value
        for node in nodes:
            if node.arguments or node.selection_set is not None:
                return None
            if any(d.name.value not in _APPLIED for d in node.directives or ()):
                return None
        if name == "__typename":
            leaves.append(_Leaf(key, None, None, False))
            continue
        field = return_type.fields.get(name)
        if field is None or field.args:
            return None
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
            return None
        if definition.permission_classes or not definition.python_name:
            return None
        named = get_nullable_type(field.type)
        if not is_leaf_type(named):
            return None
        nullable = not is_non_null_type(field.type)
        plain = _PLAIN.get(named.name) if named is _BUILT_IN.get(named.name) else None
        iso = getattr(named, "coerce_output_value", None) is strawberry_isoformat
        leaves.append(_Leaf(key, definition.python_name, named, nullable, plain, iso))
    return PlainPlan(return_type.name, tuple(leaves))


class PlainObjectsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing plain objects directly (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (type, id of the field group) -> (the field group, kept alive; the plan or None)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[Any, PlainPlan | None]] = {}

    def _plan(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> PlainPlan | None:
        key = (return_type, id(field_details_list))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        grouped, deferred, forbidden = self.collect_subfields(return_type, field_details_list)
        plan = None if forbidden else plain_plan(return_type, grouped, bool(deferred))
        self._plans[key] = (field_details_list, plan)
        return plan

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        """A list of plain objects (a timeline's entries) completed in one loop: no path,
        awaitable check and error handling per item, since none can fail or wait. Any item
        the plan cannot complete (``None``, another type, a value its scalar refuses)
        sends the whole list the ordinary way, which completes it (and raises) as before."""
        named = item_type.of_type if is_non_null_type(item_type) else item_type
        if type(items) is list and is_object_type(named):
            assert isinstance(named, GraphQLObjectType)
            plan = self._plan(named, field_details_list)
            if plan is not None and not self.get_stream_usage(field_details_list, path):
                completed = _complete_all(plan, named, info, items)
                if completed is not None:
                    return completed
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        if plan is not None:
            is_type_of = return_type.is_type_of
            fits = True if is_type_of is None else is_type_of(result, info)
            if inspect.iscoroutine(fits):
                fits.close()  # an asynchronous check: the ordinary path awaits it
            elif fits is True:
                completed = plan.complete(result)
                if completed is not None:
                    return completed
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )


def _complete_all(
    plan: PlainPlan, return_type: GraphQLObjectType, info: Any, items: list[Any]
) -> list[dict[str, Any]] | None:
    """Each item completed by ``plan``, or ``None`` when one of them needs the ordinary path
    (the completion has no side effects, so nothing is done twice that shows)."""
    is_type_of = return_type.is_type_of
    complete = plan.complete
    out: list[dict[str, Any]] = []
    append = out.append
    for item in items:
        if is_type_of is not None:
            fits = is_type_of(item, info)
            if fits is not True:
                if inspect.iscoroutine(fits):
                    fits.close()
                return None
        completed = complete(item)
        if completed is None:
            return None
        append(completed)
    return out
