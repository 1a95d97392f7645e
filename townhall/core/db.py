"""Lean reads and inserts for the hot statements of a post.

Building a query through the ORM costs several times what the database takes to run it: on
``POST /comments`` a one-row ``Site.objects.get`` spent about 250 µs in Django and 40 µs in
SQLite. These helpers run plain SQL and still hand back model instances with the values the ORM
would give (the backend's and the fields' converters, the same database routing), so callers go
on using models. Use them only where a statement runs on every request; elsewhere the ORM reads
better.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


class _Reader:
    """The SELECT list and value converters of some fields of a model, on one connection."""

    def __init__(self, model: type[Model], fields: Sequence[str], connection: Any) -> None:
        meta = model._meta
        wanted = {meta.get_field(name).attname for name in fields}  # type: ignore[union-attr]
        # In the model's order, which Model.from_db expects.
        chosen = [f for f in meta.concrete_fields if not fields or f.attname in wanted]
        quote = connection.ops.quote_name
        self.attnames = [field.attname for field in chosen]
        # Names from the model; values are always parameters.
        self.select = "SELECT {} FROM {} WHERE ".format(  # noqa: S608
            ", ".join(quote(field.column) for field in chosen),
            quote(meta.db_table),
        )
        self.converters = []
        for index, field in enumerate(chosen):
            column = field.get_col(meta.db_table)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            if functions:
                self.converters.append((index, functions, column))

    def instance(self, model: type[M], alias: str, row: Sequence[Any], connection: Any) -> M:
        values = list(row)
        for index, functions, column in self.converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        return model.from_db(alias, self.attnames, values)


_readers: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[Any, _Reader]] = (
    weakref.WeakKeyDictionary()
)


def select_one(
    model: type[M], where: str, params: Sequence[Any], *, fields: Sequence[str] = ()
) -> M | None:
    """The first row of ``model`` matching the SQL condition ``where`` (column names, ``%s``
    placeholders), or None; with only ``fields`` loaded when given (the others are deferred).

    Read from the database the router picks for reading ``model``, like ``Model.objects``.
    """
    alias = router.db_for_read(model)
    connection = connections[alias]
    readers = _readers.setdefault(connection, {})
    key = (model, tuple(fields))
    reader = readers.get(key)
    if reader is None:
        reader = readers[key] = _Reader(model, fields, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"{reader.select}{where} LIMIT 1", params)
        row = cursor.fetchone()
    return None if row is None else reader.instance(model, alias, row, connection)


def insert(instance: Model) -> None:
    """Writes a new instance with one ``INSERT … RETURNING`` and sets its primary key.

    The values are those ``instance.save()`` would write (``default``, ``auto_now_add``, the
    fields' own conversions), but no ``pre_save``/``post_save`` signal is sent, so use it only
    for models that have no receivers of those and no ``save()`` of their own.
    Precondition: the instance is new (no primary key) and valid.
    """
    model = type(instance)
    meta = model._meta
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    sql = "INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(  # noqa: S608 (names, %s)
        quote(meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
        quote(meta.pk.column),  # type: ignore[union-attr]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        (pk,) = cursor.fetchone()
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias
