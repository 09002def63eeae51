"""Reads on the hot paths, compiled once and run through the database driver.

``Session.execute`` of a statement built once still costs about 70 µs here before the
driver runs it (about 7 µs): the ORM's execution layer, the cache-key lookup, an execution
context and a result object per call. A ``PreparedRead`` compiles its SELECT once per
dialect and runs it on the session's own connection, so inside its transaction (and, on
SQLite, under the writer gate the transaction's ``begin`` took). Values go in and come out
through the same type processors SQLAlchemy would apply (``UTCDateTime``, JSON, booleans on
SQLite); SQLAlchemy's cursor events fire (with no execution context), and a driver error is
raised as SQLAlchemy's, so ``kit.outage`` answers it alike.

Only for plain reads of table columns: no ORM entities, no identity map. The session's
pending changes are flushed first, as ``Session.execute`` of an ORM statement would.
``tests/kit/test_prepared.py`` holds it to the rows and value types ``Session.execute``
gives for the same column types on both backends; the hot paths' own statements are
covered by their endpoints' tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from kit.db import as_sqlalchemy_error

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order; None: named parameters
    literal: dict[str, Any]  # values fixed in the statement (``== 1``), by parameter name
    binds: Mapping[str, Processor]
    results: tuple[Processor, ...]


class PreparedRead:
    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def first(self, db: Session, parameters: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        """The first row (None: no row), its values as ``Session.execute`` would give them."""
        rows = self._run(db, parameters, one=True)
        return rows[0] if rows else None

    def all(self, db: Session, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._run(db, parameters, one=False)

    def scalar(self, db: Session, parameters: Mapping[str, Any] | None = None) -> Any:
        row = self.first(db, parameters)
        return None if row is None else row[0]

    def _run(self, db: Session, parameters: Mapping[str, Any] | None, *, one: bool) -> list[tuple[Any, ...]]:
        if db.new or db.dirty or db.deleted:
            db.flush()
        connection = db.connection()
        compiled = self._compiled(connection.dialect)
        values = _bound(compiled, parameters or {})
        driver: Any = connection.connection.driver_connection
        try:
            cursor = driver.cursor()
            try:
                # SQLAlchemy's own cursor events, for whoever listens (tests count statements).
                events = connection.dispatch
                if events.before_cursor_execute:
                    events.before_cursor_execute(connection, cursor, compiled.sql, values, None, False)
                cursor.execute(compiled.sql, values)
                if events.after_cursor_execute:
                    events.after_cursor_execute(connection, cursor, compiled.sql, values, None, False)
                if one:
                    row = cursor.fetchone()
                    rows = [row] if row is not None else []
                else:
                    rows = cursor.fetchall()
            finally:
                cursor.close()
        except connection.dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(connection, compiled.sql, values, error) from error
        processors = compiled.results
        return [tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True)) for row in rows]

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return compiled


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for bind, name in compiled.bind_names.items()
    }
    literal = {
        name: bind.value
        for bind, name in compiled.bind_names.items()
        if not bind.required and bind.callable is None
    }
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    )
    positional = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _Compiled(str(compiled), positional, literal, binds, results)


def _bound(compiled: _Compiled, parameters: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
    values = {**compiled.literal, **parameters}
    missing = compiled.binds.keys() - values.keys()
    if missing:
        raise KeyError(f"no value for the parameters {sorted(missing)}")
    processed = {
        name: value if (p := compiled.binds.get(name)) is None else p(value) for name, value in values.items()
    }
    if compiled.positional is None:
        return processed
    return tuple(processed[name] for name in compiled.positional)
