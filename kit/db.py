"""Database plumbing shared by the services: engine, sessions, the UTC time column type.

Nothing here knows a service's tables: every service's models derive from the one ``Base``
below, and each service owns the tables whose names carry its prefix: ``idp_``, ``consent_``,
``forms_``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, make_url
from sqlalchemy.engine import Connection, Transaction
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from kit.loop_thread import may_block
from kit.reads_first import NotDeferrable, collecting_inserts_now, write_now
from kit.thread_names import name_os_thread

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

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], datetime | None] | None:
        if dialect.name == "sqlite":
            # SQLite's DATETIME text parsed (SQLAlchemy's processor: ``fromisoformat``) and
            # made aware in one call rather than two: every token and grant row has several.
            return _aware_utc_from_sqlite
        return super().result_processor(dialect, coltype)


def _aware_utc_from_sqlite(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


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
    statement_timeout); ``lock``: waiting for SQLite's write lock (our writer gate, in the
    process and across processes, and busy_timeout).
    """

    connect: float = 3.0
    pool: float = 3.0
    statement: float = 15.0
    lock: float = 10.0


# The execution option that makes a transaction read-only (``begin_read_only``).
READ_ONLY = "egate_read_only"


def begin_read_only(db: Session) -> None:
    """Begin the session's next transaction as one that only reads.

    On SQLite it takes no writer gate: a WAL reader never waits for a writer nor makes one
    wait, so reads that precede slow work (a sign-in's lookups before its password hash)
    stop queueing behind every write of every process. A write in it fails on either
    backend (SQLite's ``query_only``, PostgreSQL's ``READ ONLY`` transaction): one that
    slipped in would bypass the gate. It ends as any transaction does."""
    if db.in_transaction():
        raise RuntimeError("begin_read_only: the session is already in a transaction")
    db.connection(execution_options={READ_ONLY: True})


# The execution option of the connection for reads-first reads on SQLite (``reads_first_on_the_loop``).
READS_FIRST = "egate_reads_first"


@contextmanager
def reads_first_on_the_loop(db: Session) -> Iterator[Transaction]:
    """The transaction for the reads of reads-first work (``kit.reads_first``) on SQLite, on
    the event loop's thread: a deferred one, a snapshot that takes no lock and passes no
    writer gate, on the connection the loop keeps for such reads.

    It is begun on that connection (``Connection.begin``), not through the session: the
    session's transaction bookkeeping, begun and committed around every userinfo call or
    introspection, cost three times the Core transaction's (docs/performance.md). For the
    block the session is bound to the connection, so that whatever the work runs through the
    session joins the transaction (SQLAlchemy's ``rollback_only`` join: the session's commit
    leaves it open, its rollback ends it); ``PreparedRead`` reads on it without the session
    (``reads_first_connection``). Left open by the block, it is rolled back.

    Its writes are not left to SQLite to refuse (``PRAGMA query_only``, set and unset around
    each transaction, made SQLite prepare every statement again, which cost more than the
    statements): a statement that is not a SELECT raises ``NotDeferrable`` before it runs
    (``_refuse_writes_in_reads_first``), and ``wrote_in_reads_first`` checks that nothing was
    written before the writes begin."""
    if db.in_transaction():
        raise RuntimeError("reads_first_on_the_loop: the session is already in a transaction")
    engine = db.get_bind()
    held = _loop_reads_connection(engine) if isinstance(engine, Engine) and engine in _GATES else None
    if held is None:
        raise RuntimeError("reads_first_on_the_loop: SQLite, on an event loop's thread, only")
    transaction = held.begin()  # the gate's ``begin`` issues a deferred BEGIN (READS_FIRST)
    db.bind = held
    reading = _reading_first.set((db, held))
    try:
        yield transaction
    finally:
        _reading_first.reset(reading)
        db.bind = engine
        if transaction.is_active:
            transaction.rollback()


# The session of the reads-first work running now, and the connection its reads run on.
_reading_first: ContextVar[tuple[Session, Connection] | None] = ContextVar(
    "egate_reading_first", default=None
)


def reads_first_connection(db: Session) -> Connection | None:
    """The connection ``db``'s reads-first work reads on, while it runs on the loop
    (``reads_first_on_the_loop``); None otherwise."""
    reading = _reading_first.get()
    return reading[1] if reading is not None and reading[0] is db else None


def wrote_in_reads_first(connection: Connection) -> bool:
    """Whether the reads-first SQLite transaction of ``connection`` changed a row (a write
    that no guard saw: what ``kit.database_work`` then rolls back and runs again)."""
    driver: Any = connection.connection.driver_connection
    return bool(driver.reads_first and driver.total_changes != driver.changes_at_begin)


# Reads-first work on SQLite runs its reads on the event loop's thread, one request at a time
# and each in a transaction that ends before the next begins (kit.database_work). Checking a
# pooled connection out and in again for each, with a Connection and its execution options,
# cost 30-45 us of a userinfo call's ~700 (docs/performance.md), so each loop keeps one
# connection per engine for them. It goes back to the pool when the loop is collected or the
# engine disposed; the pool's gauge counts it as checked out meanwhile.
_LOOP_READS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, Connection]] = (
    weakref.WeakKeyDictionary()
)
_LOOP_READS_CHANGING = threading.Lock()  # a loop's first use against a disposal elsewhere


def _loop_reads_connection(engine: Engine) -> Connection | None:
    """This loop's connection for reads-first reads on ``engine``, not in a transaction; None
    off an event loop's thread."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    held = _LOOP_READS.get(loop)
    if held is None:
        with _LOOP_READS_CHANGING:
            held = _LOOP_READS[loop] = {}
        weakref.finalize(loop, _give_back, held)
    connection = held.get(engine)
    if connection is not None and (connection.closed or connection.invalidated):
        connection = None
    if connection is None:
        connection = held[engine] = engine.connect().execution_options(**{READS_FIRST: True})
    elif connection.in_transaction():  # left so by work that failed: not the next one's
        connection.rollback()
    return connection


def held_for_reads(engine: Engine) -> Connection | None:
    """The connection the running loop keeps for reads-first reads on ``engine``, if any."""
    return _LOOP_READS.get(asyncio.get_running_loop(), {}).get(engine)


def _give_back(held: dict[Engine, Connection]) -> None:
    for engine in list(held):
        _close_quietly(held.pop(engine, None))


def _give_back_on_dispose(engine: Engine) -> None:
    with _LOOP_READS_CHANGING:
        held_by_loops = list(_LOOP_READS.values())
    for held in held_by_loops:
        # The engine's pool is disposed already (SQLAlchemy tells its listeners afterwards):
        # the database connection is closed rather than handed back to a pool nobody uses.
        _close_quietly(held.pop(engine, None), invalidate=True)


def _close_quietly(connection: Connection | None, *, invalidate: bool = False) -> None:
    # At a loop's end or an engine's disposal: nobody is left to tell.
    if connection is not None:
        with suppress(Exception):
            if invalidate:
                connection.invalidate()
            connection.close()


def _refuse_writes_in_reads_first(
    _connection: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool
) -> None:
    if collecting_inserts_now() and statement.lstrip()[:6].upper() != "SELECT":
        raise NotDeferrable("a statement that writes")


def _begin_read_only_on_postgresql(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def as_sqlalchemy_error(connection: Connection, sql: str, values: Any, error: Any) -> StatementError:
    """What SQLAlchemy raises for a driver's error in a statement run on the driver's own
    connection, the connection invalidated if it is gone (``kit.outage`` answers these)."""
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    invalidated = dialect.is_disconnect(error, dbapi_connection, None)
    if invalidated:
        connection.invalidate(error)
    wrapped: StatementError = DBAPIError.instance(
        sql, values, error, dialect.loaded_dbapi.Error, connection_invalidated=invalidated, dialect=dialect
    )
    return wrapped


class DatabaseBusy(Exception):
    """The SQLite write lock did not come free in time; the request is answered with 503."""


def create_db_engine(
    url: str, timeouts: DatabaseTimeouts | None = None, *, reads_first: bool = False, **kwargs: Any
) -> Engine:
    """``reads_first``: work that writes nothing but inserts may run its reads first and write
    its inserts with the other requests' of the loop's turn, in one transaction
    (``kit.reads_first``, ``kit.insert_batches``). On SQLite its reads then take no write
    lock, so that workers sharing the database (``egate serve --workers N``) read side by
    side; on either backend a write transaction (and its COMMIT) is shared."""
    timeouts = timeouts or DatabaseTimeouts()
    # Bound parameters carry nonces, token hashes and sealed personal data: never in a log
    # line or an exception message, whatever a logger's level.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        database = _database_path(url)
        gate = _WriterGate(
            timeouts.lock,
            _GroupSync(database and database + "-wal"),
            _FileWriterLock(database + ".writer-lock") if database else None,
        )
        connect_args = {
            "check_same_thread": False,
            "timeout": timeouts.lock,
            "factory": gate.connection_class(),
        }
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect(timeouts.lock))
        event.listen(engine, "begin", gate.begin)
        event.listen(engine, "engine_disposed", _give_back_on_dispose)
        _GATES[engine] = gate
        return _with_reads_first(engine) if reads_first else engine
    connect_args = {
        "connect_timeout": max(1, round(timeouts.connect)),
        "options": f"-c statement_timeout={round(timeouts.statement * 1000)}",
    }
    kwargs.setdefault("pool_timeout", timeouts.pool)
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    event.listen(engine, "begin", _begin_read_only_on_postgresql)
    return _with_reads_first(engine) if reads_first else engine


_READS_FIRST_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _with_reads_first(engine: Engine) -> Engine:
    # A listener SQLAlchemy calls before every statement: only where needed.
    event.listen(engine, "before_cursor_execute", _refuse_writes_in_reads_first)
    _READS_FIRST_ENGINES.add(engine)
    return engine


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


# Set by ``_WriterGate.hold_on_loop`` for work on the event loop's thread: the tickets of its
# commits, made durable together with the other commits of the loop's turn.
_durable_before_answer: ContextVar[list[int] | None] = ContextVar("egate_durable_before_answer", default=None)


class _WriterGate:
    """Serialises SQLite transactions before BEGIN IMMEDIATE: this process's threads on a
    Python lock, then processes on a file lock beside the database (``_FileWriterLock``).

    BEGIN IMMEDIATE takes SQLite's write lock at the start, so two writers never both
    read-then-write and deadlock on upgrade (what keeps ledger appends gap-free). Waiting for
    it inside SQLite means its busy handler, which sleeps 1, 2, 5 ... up to 100 ms between
    retries while the process's other writers queue behind the sleeper; our locks hand over
    at once. Threads queue on the cheap in-process lock, so that only one thread of each
    process at a time waits for the file lock. SQLite's busy_timeout stays as the backstop
    for a writer that is not ours (the sqlite3 shell).

    Both are released by the driver connection's own ``commit``/``rollback``/``close``, once
    SQLite has finished them: SQLAlchemy's ``commit`` event fires *before* the COMMIT, and
    releasing there let the next BEGIN IMMEDIATE meet SQLite's lock still held (a durable
    COMMIT takes milliseconds) and fall into the busy handler's sleeps.
    """

    def __init__(
        self,
        timeout: float,
        durability: _GroupSync,
        across_processes: _FileWriterLock | None,
    ) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        self._durability = durability
        self._across_processes = across_processes
        # The thread holding the gate for work it runs (``hold_on_loop``), the connection
        # whose transaction last began under that hold, and the event loops waiting for a
        # release; ``_waiters_lock`` orders a release against a waiter's registration.
        self._holder: int | None = None
        self._held_transaction: Any = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._waiters_lock = threading.Lock()

    @asynccontextmanager
    async def hold_on_loop(self, before_waiting: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Hold this process's gate for work run on the event loop's own thread: its
        transactions then begin without queueing for it. The loop never blocks on the gate;
        it awaits its release, since the holder may be a transaction whose commit is the
        loop's next job. ``DatabaseBusy`` after the lock timeout, as a thread's wait.
        ``before_waiting`` is called once if the gate is not free at once (reads-first work
        ends its reads there, so that no connection is held while it waits).

        What the work commits is durable when the block ends. Its commits do not each wait
        for an fsync: the block awaits one that the loop runs for every commit made on it in
        the same turn of the loop (``_GroupSync.until_durable_on_loop``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while True:
            with self._waiters_lock:
                if self._lock.acquire(blocking=False):
                    break
                released: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, released))
            if before_waiting is not None:
                waiting_begins, before_waiting = before_waiting, None
                waiting_begins()
            try:
                await asyncio.wait_for(released, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise DatabaseBusy("waited too long for the SQLite write lock") from None
        # The other processes' gate too, before the work starts: a wait for their transaction
        # runs in a worker thread while the loop goes on, and the work then runs on the loop
        # (met in the work's first statement, it used to send the whole work to a thread).
        lock_file: int | None = None
        try:
            if self._across_processes is not None:
                lock_file = await self._across_processes.acquire_on_loop(
                    deadline - loop.time(), before_waiting
                )
        except BaseException:
            self.release()
            raise
        self._holder = threading.get_ident()
        committed: list[int] = []
        deferring = _durable_before_answer.set(committed)
        try:
            yield
        finally:
            _durable_before_answer.reset(deferring)
            transaction, self._held_transaction, self._holder = self._held_transaction, None, None
            if transaction is not None and transaction.holds_writer_gate:
                # Left open by the work: it keeps the gate until it ends, as if it had queued.
                transaction.holds_process_lock = True
                transaction.writer_lock_file = lock_file
            else:
                try:
                    if lock_file is not None:
                        _FileWriterLock.release(lock_file)
                finally:
                    self.release()
        if committed:
            await self._durability.until_durable_on_loop(max(committed))

    def release(self) -> None:
        """Free this process's gate and wake the loops waiting for it."""
        with self._waiters_lock:
            self._lock.release()
            waiters, self._waiters = self._waiters, []
        for loop, released in waiters:
            with suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_resolve, released)

    def begin(self, connection: Any) -> None:
        driver = connection.connection.driver_connection
        options = connection.get_execution_options()
        if options.get(READS_FIRST):
            driver.execute("BEGIN")  # deferred: a snapshot, no lock taken
            driver.reads_first = True
            driver.changes_at_begin = driver.total_changes
            return
        if options.get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # deferred: a snapshot, no lock taken
            driver.execute("PRAGMA query_only=ON")
            driver.read_only = True
            driver.changes_at_begin = driver.total_changes
            return
        # Reads-first work (kit.reads_first) runs outside any hold: a write transaction it
        # would begin must not wait for the gate on the loop's thread; it runs again instead.
        write_now("a write transaction")
        deadline = time.monotonic() + self._timeout
        if self._holder == threading.get_ident():
            self._held_transaction = driver  # the hold has the process's gate for it
        elif self._lock.acquire(timeout=self._timeout):
            driver.holds_process_lock = True
        else:
            raise DatabaseBusy("waited too long for the SQLite write lock")
        driver.holds_writer_gate = True
        driver.changes_at_begin = driver.total_changes
        try:
            if self._across_processes is not None and self._holder != threading.get_ident():
                # A hold on the loop took the lock file already (hold_on_loop). Elsewhere on
                # the event loop's thread, another process's transaction is not waited for
                # there (may_block): the work goes to a worker thread to wait.
                driver.writer_lock_file = self._across_processes.acquire(
                    deadline - time.monotonic(), before_waiting=may_block
                )
            try:  # on the driver: SQLAlchemy's execution layer cost ~60 us more here
                driver.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise as_sqlalchemy_error(connection, "BEGIN IMMEDIATE", (), error) from error
        except BaseException:
            driver.release_writer_gate()
            raise

    def connection_class(self) -> type[sqlite3.Connection]:
        gate = self
        durability = self._durability

        class GatedConnection(sqlite3.Connection):
            holds_writer_gate = False
            holds_process_lock = False  # not while a thread's hold (hold_on_loop) covers it
            changes_at_begin = 0
            writer_lock_file: int | None = None
            read_only = False
            reads_first = False

            def end_read_only(self) -> None:
                self.reads_first = False
                if self.read_only:
                    self.read_only = False
                    self.execute("PRAGMA query_only=OFF")

            def release_writer_gate(self) -> None:
                if self.holds_writer_gate:
                    self.holds_writer_gate = False
                    held, self.writer_lock_file = self.writer_lock_file, None
                    process_lock, self.holds_process_lock = self.holds_process_lock, False
                    try:
                        if held is not None:
                            _FileWriterLock.release(held)
                    finally:
                        if process_lock:
                            gate.release()

            def commit(self) -> None:
                wrote = self.total_changes != self.changes_at_begin
                try:
                    super().commit()
                finally:
                    self.end_read_only()
                    self.release_writer_gate()
                if wrote:  # outside the gate: the next transaction runs during the fsync
                    deferred = _durable_before_answer.get()
                    if deferred is None:
                        durability.wait_durable()
                    else:  # work on the loop: its fsync is awaited (hold_on_loop)
                        deferred.append(durability.take_ticket())

            def rollback(self) -> None:
                try:
                    super().rollback()
                finally:
                    self.end_read_only()
                    self.release_writer_gate()

            def close(self) -> None:
                try:
                    super().close()
                finally:
                    self.release_writer_gate()

        return GatedConnection


_GATES: weakref.WeakKeyDictionary[Engine, _WriterGate] = weakref.WeakKeyDictionary()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def has_writer_gate(db: Session) -> bool:
    """Whether the session's database is SQLite, whose writers this process orders."""
    return db.get_bind() in _GATES


def runs_reads_first(db: Session) -> bool:
    """Whether the session's engine was made with ``reads_first``."""
    return db.get_bind() in _READS_FIRST_ENGINES


@asynccontextmanager
async def write_transaction_on_the_loop(engine: Engine) -> AsyncIterator[Session]:
    """A session in a write transaction (BEGIN IMMEDIATE, the writer gate held on the loop:
    ``_WriterGate.hold_on_loop``) on the connection the loop keeps for reads-first reads, for
    the inserts those reads put off (``kit.insert_batches``). Committed when the block ends
    cleanly, rolled back otherwise; what it committed is durable when this returns.

    The loop's own connection rather than a pooled one: no checkout, no session transaction
    of its own, and the reads that follow find SQLite's page cache as this write left it (a
    write on another connection makes every other connection reload the pages it reads),
    which at one request per turn of the loop cost more than the request's own reads
    (docs/performance.md). The loop runs one thing at a time, and nothing awaits between the
    BEGIN and the COMMIT, so no reads-first work meets this transaction on the connection."""
    gate = _GATES[engine]
    async with gate.hold_on_loop():
        held = _loop_reads_connection(engine)
        if held is None:
            raise RuntimeError("write_transaction_on_the_loop: on an event loop's thread only")
        held.execution_options(**{READS_FIRST: False})  # the gate's ``begin``: a writer's
        try:
            transaction = held.begin()
        finally:
            held.execution_options(**{READS_FIRST: True})
        try:
            with Session(bind=held, expire_on_commit=False) as db:
                yield db
                if db.in_transaction():
                    db.commit()  # the session's part: it joined the transaction, commits nothing
            if transaction.is_active:  # not rolled back by the block (a batch of one refused)
                transaction.commit()
        finally:
            if held.in_transaction():
                held.rollback()


@asynccontextmanager
async def writer_gate_on_loop(
    db: Session, before_waiting: Callable[[], None] | None = None
) -> AsyncIterator[bool]:
    """True, with the session's SQLite writer gate held for work the event loop's own thread
    runs in the block (``_WriterGate.hold_on_loop``); False on PostgreSQL, which has none."""
    bind = db.get_bind()
    gate = _GATES.get(bind) if isinstance(bind, Engine) else None
    if gate is None:
        yield False
        return
    async with gate.hold_on_loop(before_waiting):
        yield True


class _FileWriterLock:
    """The writer gate across processes: an exclusive ``flock`` on ``<database>.writer-lock``.

    Each acquisition opens its own descriptor (a few microseconds), locks it and hands it to
    the transaction, whose end unlocks and closes it. The kernel drops a flock with the last
    descriptor of its open file, so a process that dies holding it (SIGKILL, a crash) frees
    it with the rest of its files, as it frees SQLite's own locks.

    A contended wait is a blocking ``flock`` in a helper thread, the asking thread waiting on
    it with the timeout. Polling ``LOCK_NB`` with sleeps would be shorter but is the busy
    handler again: the lock lies idle while the poller sleeps, and a busy process that frees
    and retakes it within microseconds starves the poller until it times out. A blocking
    flock is woken by the kernel at the release; but it has no timeout, and no signal can cut
    it short in a thread (Python retries the call), hence the helper. A helper whose asker
    gave up (DatabaseBusy) releases the lock as soon as it gets it: on its own descriptor,
    so it can never release another transaction's.
    """

    def __init__(self, path: str) -> None:
        self._path = path

    def acquire(self, timeout: float, before_waiting: Callable[[], None] | None = None) -> int:
        descriptor, granted = self._open_and_try()
        if granted:
            return descriptor
        try:
            if before_waiting is not None:
                before_waiting()
        except BaseException:
            os.close(descriptor)
            raise
        return _wait_for_flock(descriptor, timeout)

    async def acquire_on_loop(self, timeout: float, before_waiting: Callable[[], None] | None = None) -> int:
        """As :meth:`acquire`, awaited on the event loop's thread: a contended wait runs in a
        worker thread while the loop goes on. A waiter cancelled meanwhile lets the lock go
        as soon as it is granted."""
        descriptor, granted = self._open_and_try()
        if granted:
            return descriptor
        if before_waiting is not None:
            try:
                before_waiting()
            except BaseException:
                os.close(descriptor)
                raise
        waiting = asyncio.get_running_loop().run_in_executor(None, _wait_for_flock, descriptor, timeout)
        try:
            return await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(_release_if_granted)
            raise

    def _open_and_try(self) -> tuple[int, bool]:
        """A descriptor of its own on the lock file, and whether the lock came at once."""
        descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return descriptor, False
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor, True

    @staticmethod
    def release(descriptor: int) -> None:
        # Unlock before closing: a child forked meanwhile would hold the open file, and with
        # it the lock, past our close.
        try:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)


def _release_if_granted(waited: asyncio.Future[int]) -> None:
    if not waited.cancelled() and waited.exception() is None:
        _FileWriterLock.release(waited.result())


def _wait_for_flock(descriptor: int, timeout: float) -> int:
    decided = threading.Lock()
    granted = threading.Event()
    failed: list[OSError] = []
    abandoned = False

    def wait() -> None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except OSError as error:
            failed.append(error)
        with decided:
            if abandoned:
                os.close(descriptor)  # and with it the lock, if we got it
            else:
                granted.set()

    try:
        threading.Thread(target=wait, name="sqlite-writer-lock", daemon=True).start()
    except BaseException:
        os.close(descriptor)
        raise
    waited = False
    try:
        granted.wait(max(0.0, timeout))
        waited = True
    finally:
        with decided:
            abandoned = not granted.is_set()
        # Interrupted (KeyboardInterrupt in a CLI) after the helper got it: not ours to keep.
        if not abandoned and (failed or not waited):
            os.close(descriptor)
    if abandoned:
        raise DatabaseBusy("waited too long for the SQLite write lock (another process)")
    if failed:
        raise failed[0]
    return descriptor


def _database_path(url: str) -> str | None:
    """The database file's absolute path; None in memory (and for ``file:`` URIs)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)


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
        # Per event loop: the group of commits waiting for the next fsync, and whether one of
        # its fsyncs is running (in the fsync thread, while the loop goes on).
        self._loop_groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[None]] = (
            weakref.WeakKeyDictionary()
        )
        self._loop_syncing: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, bool] = (
            weakref.WeakKeyDictionary()
        )
        self._fsync_thread: ThreadPoolExecutor | None = None

    def take_ticket(self) -> int:
        with self._changed:
            self._tickets += 1
            return self._tickets

    async def until_durable_on_loop(self, ticket: int) -> None:
        """Wait until the commit that took ``ticket`` is durable: the loop's group commit.

        One fsync covers every commit the loop made before it started; it runs in a thread
        of its own while the loop goes on serving, and the commits made meanwhile wait for
        the next, started as soon as it ends. Run on the loop's own thread, the fsync held
        up every request for a fifth of the loop's time under load (docs/performance.md)."""
        if self._wal_path is None:
            return
        with self._changed:
            if self._synced >= ticket:
                return
        loop = asyncio.get_running_loop()
        durable = self._loop_groups.get(loop)
        if durable is None:
            durable = self._loop_groups[loop] = loop.create_future()
            if not self._loop_syncing.get(loop):
                # At the loop's next turn: the commits of this turn join the group.
                loop.call_soon(self._start_loop_group, loop)
        await asyncio.shield(durable)

    def _start_loop_group(self, loop: asyncio.AbstractEventLoop) -> None:
        durable = self._loop_groups.pop(loop, None)
        if durable is None:
            return
        with self._changed:
            covered = self._tickets
        if self._fsync_thread is None:
            self._fsync_thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="egate-wal-fsync", initializer=name_os_thread
            )
        self._loop_syncing[loop] = True
        syncing = loop.run_in_executor(self._fsync_thread, self._fsync)
        syncing.add_done_callback(lambda done: self._loop_group_synced(loop, durable, covered, done))

    def _loop_group_synced(
        self,
        loop: asyncio.AbstractEventLoop,
        durable: asyncio.Future[None],
        covered: int,
        done: asyncio.Future[None],
    ) -> None:
        self._loop_syncing[loop] = False
        error = None if done.cancelled() else done.exception()
        if error is None and not done.cancelled():
            with self._changed:
                self._synced = max(self._synced, covered)
                self._changed.notify_all()
            durable.set_result(None)
        else:
            durable.set_exception(error or RuntimeError("the WAL's fsync was cancelled"))
        if loop in self._loop_groups:  # the commits made during this fsync
            self._start_loop_group(loop)

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
