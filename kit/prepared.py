"""Reads and writes on the hot paths, compiled once and run through the database driver.

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

A ``PreparedWrite`` is an INSERT or UPDATE given every value it writes: one whose table has
Python-side defaults or ``onupdate`` values for columns it leaves out is refused when it is
compiled, since SQLAlchemy's execution layer, skipped here, is what computes them.
``tests/kit/test_prepared.py`` holds it to the rows and value types ``Session.execute``
gives for the same column types on both backends; the hot paths' own statements are
covered by their endpoints' tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Insert, Select, Update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from kit.db import as_sqlalchemy_error, reads_first_connection
from kit.reads_first import RowsInsert, insert_now_or_after_reads, write_now

Processor = Callable[[Any], Any] | None
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order; None: named parameters
    literal: dict[str, Any]  # values fixed in the statement (``== 1``), by parameter name
    binds: Mapping[str, Processor]
    # The result columns that have a type processor, by position, with it: only those are
    # touched when a row is read.
    converting: tuple[tuple[int, Callable[[Any], Any]], ...]


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
        connection = _connection(db)
        compiled = self._compiled(connection.dialect)
        rows = _on_cursor(
            connection, compiled.sql, _bound(compiled, parameters or {}), False, _first if one else _all
        )
        converting = compiled.converting
        if not converting:
            return [tuple(row) for row in rows]
        processed = []
        for row in rows:
            row_values = list(row)
            for index, processor in converting:
                row_values[index] = processor(row_values[index])
            processed.append(tuple(row_values))
        return processed

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return compiled


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    return _prepared(statement, statement.compile(dialect=dialect), dialect)


def _prepared(statement: Select[Any] | Insert | Update, compiled: SQLCompiler, dialect: Dialect) -> _Compiled:
    """What running ``compiled`` through the driver needs: its SQL, how its parameters are
    bound and processed, and how its result columns are processed."""
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for bind, name in compiled.bind_names.items()
    }
    literal = {
        name: bind.value
        for bind, name in compiled.bind_names.items()
        if not bind.required and bind.callable is None
    }
    results = (
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in (statement.selected_columns if isinstance(statement, Select) else ())
    )
    positional = tuple(compiled.positiontup or ()) if compiled.positional else None
    converting = tuple((index, p) for index, p in enumerate(results) if p is not None)
    return _Compiled(str(compiled), positional, literal, binds, converting)


class PreparedWrite:
    """An INSERT (of ``columns``, every row giving each) or an UPDATE (its ``values`` and
    ``where`` as bound parameters), run on the session's connection through the driver."""

    def __init__(self, statement: Insert | Update, columns: tuple[str, ...] | None = None) -> None:
        if isinstance(statement, Insert) != (columns is not None):
            raise ValueError("an INSERT names the columns it writes; an UPDATE sets them itself")
        self.statement = statement
        self.columns = columns
        self._by_dialect: dict[str, _Compiled] = {}

    def run(self, db: Session, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write ``rows`` (each the parameters of one execution); the number of rows the
        database says it wrote or changed (an INSERT's: every row, or it raises)."""
        if not rows:
            return 0
        if self.columns is None:
            write_now("an UPDATE")  # its effect depends on the rows it finds
            return self._write(db, rows)

        # In reads-first work, once the reads have ended.
        insert_now_or_after_reads(db, RowsInsert(self._write, rows))
        return len(rows)

    def _write(self, db: Session, rows: Sequence[Mapping[str, Any]]) -> int:
        connection = _connection(db)
        compiled = self._compiled(connection.dialect)
        values = [_bound(compiled, row) for row in rows]
        many = len(values) > 1
        return _on_cursor(connection, compiled.sql, values if many else values[0], many, _row_count)

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            keys = list(self.columns) if self.columns is not None else None
            statement = self.statement.compile(dialect=dialect, column_keys=keys)
            computed = [*statement.insert_prefetch, *statement.update_prefetch]
            if computed:
                names = sorted(column.name for column in computed)
                raise ValueError(f"the statement leaves out columns whose values are computed: {names}")
            compiled = self._by_dialect[dialect.name] = _prepared(self.statement, statement, dialect)
        return compiled


def _first(cursor: Any) -> list[Any]:
    row = cursor.fetchone()
    return [row] if row is not None else []


def _all(cursor: Any) -> list[Any]:
    return list(cursor.fetchall())


def _row_count(cursor: Any) -> int:
    return int(cursor.rowcount)


def _connection(db: Session) -> Connection:
    # As an ORM statement's autoflush: ``flush`` returns at once when nothing is pending, where
    # asking ``new``, ``dirty`` and ``deleted`` first built three sets on every read.
    db.flush()
    # In reads-first work on SQLite, the loop's connection, in the work's transaction: its
    # session need not begin a transaction of its own to join it (kit.db).
    reading = reads_first_connection(db)
    return reading if reading is not None else db.connection()


def _on_cursor(
    connection: Connection, sql: str, values: Any, many: bool, finish: Callable[[Any], _Result]
) -> _Result:
    """Run ``sql`` with the driver's cursor of ``connection``, firing SQLAlchemy's cursor
    events (for whoever listens: tests count statements) and raising a driver error as
    SQLAlchemy's; ``finish`` reads what the cursor holds before it is closed."""
    driver: Any = connection.connection.driver_connection
    try:
        cursor = driver.cursor()
        try:
            events = connection.dispatch
            if events.before_cursor_execute:
                events.before_cursor_execute(connection, cursor, sql, values, None, many)
            if many:
                cursor.executemany(sql, values)
            else:
                cursor.execute(sql, values)
            if events.after_cursor_execute:
                events.after_cursor_execute(connection, cursor, sql, values, None, many)
            return finish(cursor)
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.Error as error:
        raise as_sqlalchemy_error(connection, sql, values, error) from error


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
