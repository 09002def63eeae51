"""Database plumbing shared by the services: engine, sessions, the UTC time column type.

Nothing here knows a service's tables: every service's models derive from the one ``Base``
below, and each service owns the tables whose names carry its prefix: ``idp_``, ``consent_``,
``forms_``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """The one declarative base; each service prefixes its own tables (idp_, consent_, forms_)."""

    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


def table_of(model: type[Base]) -> Table:
    """The model's table, typed as one: ``__table__`` is declared as any ``FromClause``
    (a model may map a join), while Core ``insert``/``update`` need a ``Table``."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long anything may wait on the database before the request fails fast (503).

    ``connect``: establishing a connection (libpq's connect_timeout); ``pool``: waiting for a
    free pooled connection; ``statement``: one statement on the server (PostgreSQL's
    statement_timeout); ``lock``: waiting for SQLite's write lock (ours and busy_timeout).
    """

    connect: float = 3.0
    pool: float = 3.0
    statement: float = 15.0
    lock: float = 10.0


class DatabaseBusy(Exception):
    """The SQLite write lock did not come free in time; the request is answered with 503."""


def create_db_engine(url: str, timeouts: DatabaseTimeouts | None = None, **kwargs: Any) -> Engine:
    timeouts = timeouts or DatabaseTimeouts()
    # Bound parameters carry nonces, token hashes and sealed personal data: never in a log
    # line or an exception message, whatever a logger's level.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        gate = _WriterGate(timeouts.lock, _GroupSync(_wal_path(url)))
        connect_args = {
            "check_same_thread": False,
            "timeout": timeouts.lock,
            "factory": gate.connection_class(),
        }
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect(timeouts.lock))
        event.listen(engine, "begin", gate.begin)
        return engine
    connect_args = {
        "connect_timeout": max(1, round(timeouts.connect)),
        "options": f"-c statement_timeout={round(timeouts.statement * 1000)}",
    }
    kwargs.setdefault("pool_timeout", timeouts.pool)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_on_connect(lock_timeout: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling issues BEGIN lazily and defers it past SELECTs;
        # we take over (see _WriterGate) so that BEGIN IMMEDIATE can serialise writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL: SQLite does not fsync the WAL at each COMMIT; _GroupSync does, once for
        # every commit that finished meanwhile, before any of them returns. What we
        # acknowledge survives a power cut as with FULL, at one fsync per group.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={round(lock_timeout * 1000)}")
        cursor.close()

    return on_connect


class _WriterGate:
    """Serialises this process's SQLite transactions on a Python lock before BEGIN IMMEDIATE.

    BEGIN IMMEDIATE takes SQLite's write lock at the start, so two writers never both
    read-then-write and deadlock on upgrade (what keeps ledger appends gap-free). Waiting for
    it inside SQLite means its busy handler, which sleeps up to 100 ms between retries; a
    lock hands over at once. Other processes still meet at SQLite's lock (busy_timeout).

    The lock is released by the driver connection's own ``commit``/``rollback``, once SQLite
    has finished them: SQLAlchemy's ``commit`` event fires *before* the COMMIT, and releasing
    there let the next BEGIN IMMEDIATE meet the lock still held (a durable COMMIT takes
    milliseconds) and fall into the busy handler's sleeps.
    """

    def __init__(self, timeout: float, durability: _GroupSync) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        self._durability = durability

    def begin(self, connection: Any) -> None:
        driver = connection.connection.driver_connection
        if not self._lock.acquire(timeout=self._timeout):
            raise DatabaseBusy("waited too long for the SQLite write lock")
        driver.holds_writer_gate = True
        driver.changes_at_begin = driver.total_changes
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            driver.release_writer_gate()
            raise

    def connection_class(self) -> type[sqlite3.Connection]:
        lock = self._lock
        durability = self._durability

        class GatedConnection(sqlite3.Connection):
            holds_writer_gate = False
            changes_at_begin = 0

            def release_writer_gate(self) -> None:
                if self.holds_writer_gate:
                    self.holds_writer_gate = False
                    lock.release()

            def commit(self) -> None:
                wrote = self.total_changes != self.changes_at_begin
                try:
                    super().commit()
                finally:
                    self.release_writer_gate()
                if wrote:  # outside the gate: the next transaction runs during the fsync
                    durability.wait_durable()

            def rollback(self) -> None:
                try:
                    super().rollback()
                finally:
                    self.release_writer_gate()

            def close(self) -> None:
                try:
                    super().close()
                finally:
                    self.release_writer_gate()

        return GatedConnection


def _wal_path(url: str) -> str | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + "-wal"


class _GroupSync:
    """Group commit for SQLite: one fsync of the WAL makes every commit durable that
    finished before it started.

    A committing thread takes a ticket and waits until the WAL has been synced past it. If
    no sync is running it runs one itself, for every ticket handed out so far; commits that
    finish meanwhile wait for the next, which one of them runs. Under load one fsync (~3 ms
    here) covers a whole group instead of each commit paying its own while holding the
    write lock. If the WAL is gone, a checkpoint moved it into the database file and synced
    that (SQLite does so at every checkpoint, in NORMAL too)."""

    def __init__(self, wal_path: str | None) -> None:
        self._wal_path = wal_path
        self._changed = threading.Condition()
        self._tickets = 0
        self._synced = 0
        self._syncing = False

    def wait_durable(self) -> None:
        if self._wal_path is None:
            return
        with self._changed:
            self._tickets += 1
            ticket = self._tickets
            while self._synced < ticket:
                if self._syncing:
                    self._changed.wait()
                    continue
                self._syncing, covered = True, self._tickets
                try:
                    self._changed.release()
                    try:
                        self._fsync()
                    finally:
                        self._changed.acquire()
                    self._synced = max(self._synced, covered)
                finally:
                    self._syncing = False
                    self._changed.notify_all()

    def _fsync(self) -> None:
        assert self._wal_path is not None
        try:
            descriptor = os.open(self._wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the caller finished cleanly, roll back otherwise.

    Services never commit; the request, CLI command or job that owns the unit of work does.
    """
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def utcnow() -> datetime:
    return datetime.now(UTC)
