"""SQLAlchemy engines, sessions and Alembic migrations for the services that own a database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from dpm.platform.errors import Unavailable

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def unavailable(exc: BaseException) -> Unavailable | None:
    """UNAVAILABLE for a database that does not answer (down, restarting, its
    connection dropped, locked past the wait): the caller may retry. None for
    any other error. The message never carries the driver's text (it may
    quote SQL)."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    ):
        return Unavailable("the database does not answer; retry shortly", reason="DATABASE")
    return None


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """postgresql:// means psycopg 3 here (the driver we ship)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


# Execution option of the connections that only read (``Database.read``, pings).
READ_ONLY = "dpm_read_only"

# Work that joins the write transactions of the current call (``joining_writes``):
# called with the database and the session of each just before it commits; what
# it returns (if anything) is called once the commit succeeded.
Joiner = Callable[["Database", Session], Callable[[], None] | None]
_joiner: ContextVar[Joiner | None] = ContextVar("dpm_db_joiner", default=None)


@contextmanager
def joining_writes(joiner: Joiner | None) -> Iterator[None]:
    """While this runs, ``joiner`` adds to every successful ``Database.write`` of this
    context before it commits (the audit row of a call commits with its change)."""
    token = _joiner.set(joiner)
    try:
        yield
    finally:
        _joiner.reset(token)


def per_transaction(session: Session) -> dict[str, Any]:
    """A scratch dict for what a write keeps while it holds its locks (the versions it
    locked, the last record time), shared by the writes of one transaction
    (``dpm.platform.group_commit``). There is one dict at a time, for the innermost
    transaction: a savepoint starts one of its own, and after it the transaction
    around it starts afresh, so what the savepoint changed (or undid) is read
    again, never trusted from before it."""
    current = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get(_MEMO)
    if memo is None or memo[0] is not current:
        memo = (current, {})
        session.info[_MEMO] = memo
    scratch: dict[str, Any] = memo[1]
    return scratch


_MEMO = "dpm_per_transaction"


def current_joiner() -> Joiner | None:
    """The work ``joining_writes`` set for the current context, if any."""
    return _joiner.get()


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = _create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy issue BEGIN itself
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # A snapshot to read from (WAL): it never waits for, nor blocks, a writer.
                conn.exec_driver_sql("BEGIN DEFERRED")
            else:
                # IMMEDIATE takes the write lock up front: read-check-write stays atomic.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return _create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with sessions() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        conn.execute(text("SELECT 1"))


class Database:
    """A service's database: where its repositories get their sessions.

    Every store follows one style: repositories (``*Repository``) take the
    ``Session`` of a unit of work and speak ``*Row`` models; the domain code
    opens the unit with ``write()`` (one transaction, committed on success,
    rolled back on any error) or ``read()``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        # Reads on SQLite begin DEFERRED, not IMMEDIATE: they must not queue for the
        # write lock (they once did, and every read waited behind every write).
        self.read_sessions = make_sessionmaker(engine.execution_options(**{READ_ONLY: True}))
        sqlite = engine.dialect.name == "sqlite"
        self._write_turn: AbstractContextManager[object] = (
            threading.RLock() if sqlite else nullcontext()
        )

    @classmethod
    def open(cls, url: str, migrations_dir: Path | None = None) -> Database:
        """Migrate (when ``migrations_dir`` is given) and connect."""
        if migrations_dir is not None:
            migrate(url, migrations_dir)
        return cls(make_engine(url))

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction. On SQLite the process's writers take turns on a
        lock here: SQLite has one writer at a time anyway, and a writer waiting in
        its busy handler sleeps in steps of up to 100 ms (a write that waited for
        another, e.g. the audit row after the ledger's, took seconds under load)."""
        joiner = _joiner.get()
        committed = None
        with self._write_turn:
            with transaction(self.sessions) as session:
                yield session
                if joiner is not None:
                    committed = joiner(self, session)
            if committed is not None:
                committed()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction for reading only: one consistent snapshot."""
        with self.read_sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        ping(self.engine)

    def close(self) -> None:
        self.engine.dispose()


# Any constant: replicas starting together take turns migrating PostgreSQL.
MIGRATION_LOCK_ID = 0x64706D61


def migrate(url: str, migrations_dir: Path) -> None:
    """Bring the database at ``url`` to the newest revision in ``migrations_dir``.

    On PostgreSQL an advisory lock serializes replicas that start at once; the
    second finds the schema current and does nothing.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    engine = _create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            finally:
                if postgres:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                    )
                    connection.commit()
    finally:
        engine.dispose()


def run_migrations_online(target: type[DeclarativeBase]) -> None:
    """Body of every service's alembic env.py."""
    from alembic import context

    connection = context.config.attributes["connection"]  # opened by migrate()
    context.configure(
        connection=connection,
        target_metadata=target.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


def _create_engine(url: str, **options: Any) -> Engine:
    # Looked up when called, not imported: the tracing of SQL statements
    # (``telemetry.instrument_storage``) replaces ``sqlalchemy.create_engine``.
    return sqlalchemy.create_engine(url, **options)
