"""The SQLAlchemy engine for the registry's database URL.

SQLite: WAL journal, foreign keys on, writers wait for each other (busy timeout) and take the
write lock when their transaction begins (``BEGIN IMMEDIATE``), so a read-then-write transaction
never fails half-way on a lock. PostgreSQL (psycopg): READ COMMITTED, the server's default.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from templater.server.store.errors import StoreError

BUSY_TIMEOUT = 30.0
"""Seconds a SQLite writer waits for another one to finish before it gives up."""

WRITE = "templater_write"
"""The execution option of a connection that writes: on SQLite its transactions begin with the
write lock (``engine.execution_options(**{WRITE: True})``)."""


def _use_wal(cursor: Any) -> None:
    """Switch a SQLite database to the WAL journal (once per file; it persists). The switch needs
    the database to itself and SQLite does not wait for that (no busy handler), so retry while
    other connections hold it, as long as a writer would wait."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as problem:
            busy = "locked" in str(problem) or "busy" in str(problem)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _owner_only(path: Path) -> None:
    """The database file, and its WAL and shared-memory files, readable by their owner only:
    they hold the session-signing secret. SQLite gives the files it adds the database file's
    mode; one made by an older templater is tightened. A file that cannot be made or changed
    here is left to SQLite, which says why when it opens it."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm"):
            member = path.with_name(path.name + suffix)
            if member.exists():
                os.chmod(member, 0o600)


def shared_memory_file(url: str) -> Path | None:
    """The file SQLite maps into the memory of every process that opens the database at
    ``url``: ``PATH-shm``, the index of its WAL. None for PostgreSQL. When that file can no
    longer be written under a running process (made immutable) or is cut short (truncated), the
    process's next access to it is a bus error (SIGBUS), which kills it before any Python code
    can say why."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(str(make_url(url).database))
    return path.with_name(path.name + "-shm")


SHARED_MEMORY_FAULT = (
    "SQLite could not read or write the database's shared-memory file (made immutable? truncated?)"
)
"""Why a server process died of SIGBUS on SQLite, for the line that says so."""


def make_engine(url: str) -> Engine:
    """The engine for ``sqlite:///PATH`` or ``postgresql://…``; StoreError for any other URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            "not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
        except NoSuchModuleError:
            raise StoreError(f"{shown}: unsupported PostgreSQL driver; use postgresql://") from None
    if backend != "sqlite":
        raise StoreError(f"{shown}: unsupported database; use sqlite:///PATH or postgresql://…")
    if parsed.database in (None, "", ":memory:"):
        raise StoreError(f"{shown}: SQLite needs a database file: sqlite:///PATH")
    _owner_only(Path(parsed.database))
    engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below emit BEGIN, not the sqlite3 module (which defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _use_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A writer takes the write lock now, waiting for the busy timeout if another one holds
        # it: a deferred transaction that reads and then writes could fail with SQLITE_BUSY.
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
