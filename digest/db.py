"""Engine creation and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from .errors import ConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


# How long a PostgreSQL connection attempt may take before the host counts as unreachable.
CONNECT_TIMEOUT = 10


def make_engine(url: str, *, busy_timeout: float = 30.0) -> sa.Engine:
    """An engine for the URL; SQLite gets WAL, a busy timeout (seconds) and foreign keys.

    Creates nothing: a SQLite file (and its folder) is made by `upgrade` (digest init) only, so
    that a mistyped path is reported by check_ready instead of becoming a new, empty database.
    """
    url = normalize_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"DIGEST_DATABASE_URL is not a valid SQLAlchemy URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout})
        busy_ms = max(1, int(busy_timeout * 1000))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Python's sqlite3 opens transactions lazily; take control so BEGIN IMMEDIATE works.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL still survives a killed process (the OS keeps the write); only a
            # power loss can drop the last commits, and the ledger then resends (never loses) them.
            # FULL would fsync every recorded send: 2 to 3 ms each on this kind of disk.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            immediate = conn.get_execution_options().get("digest_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    try:
        # Each sending loop holds two connections (db.sending_session): room for 15 at once per process.
        # Without a connect timeout psycopg waits on a silent host for as long as the OS lets it.
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(f"cannot use DIGEST_DATABASE_URL {url!r}: {exc}") from None


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write transaction (SQLite: BEGIN IMMEDIATE).

    Call it first in a unit of work that reads rows and then claims them: two SQLite processes
    then queue on the database lock instead of both reading the same free rows. PostgreSQL needs
    nothing here; its claim queries use FOR UPDATE SKIP LOCKED.
    """
    if session.in_transaction():
        session.commit()  # a unit of work starts clean; nothing may be pending from before
    session.connection(execution_options={"digest_immediate": True})


# A pass that adds at least this many rows to a table refreshes that table's planner statistics.
ANALYZE_AFTER_ROWS = 500


def analyze(bind, *tables: str) -> None:
    """Refresh PostgreSQL's planner statistics for tables a pass just filled (no-op on SQLite).

    Autovacuum normally does this within a minute, but it may be off (it is on this project's test
    machines) or not yet have run: a queue table analyzed while empty keeps a plan that sorts the
    whole backlog on every fetch, which made each job cost O(backlog) (69 jobs/s at 20,000 waiting
    jobs, 559/s after ANALYZE). ANALYZE may run inside a transaction and blocks no reads or writes.
    """
    if bind.dialect.name == "postgresql" and tables:
        bind.exec_driver_sql("ANALYZE " + ", ".join(tables))


@contextmanager
def sending_session(engine: sa.Engine):
    """A session for a sending loop, which commits once or twice per message.

    On PostgreSQL it keeps one connection for the whole loop: through the pool, each of those
    commits would give the connection back and the next statement would check it out again with
    a liveness ping (two extra round trips per message). A second connection in autocommit mode
    runs the single-statement steps (see autocommit_connection). SQLite sessions stay on the engine
    (BEGIN IMMEDIATE is chosen per transaction there).
    """
    if engine.dialect.name != "postgresql":
        # SQLite: the loop's per-message statements run on a connection of their own, straight on
        # the driver (SqliteStatement): SQLAlchemy's checkout, BEGIN and COMMIT cost more than they do.
        with engine.connect() as own, Session(engine) as session:
            session.info[_SQLITE] = own.connection.dbapi_connection
            yield session
        return
    with engine.connect() as conn, engine.connect() as auto, Session(bind=conn) as session:
        session.info[_AUTOCOMMIT] = auto.execution_options(isolation_level="AUTOCOMMIT")
        yield session


_AUTOCOMMIT = "digest.autocommit_connection"
_SQLITE = "digest.sqlite_connection"


def sqlite_connection(session: Session):
    """The sending session's own SQLite driver connection (autocommit), or None."""
    return session.info.get(_SQLITE)


class SqliteStatement:
    """A Core statement compiled once for SQLite, run on a driver connection with the columns' own
    bind processing (UTC datetimes stored as SQLAlchemy stores them), for the per-message hot path."""

    def __init__(self, statement, column_keys: list[str] | None = None):
        dialect = sqlite.dialect()
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ())
        binds = compiled.binds
        # The values the statement carries itself (a state, a literal): the rest come per call.
        self.defaults = {name: bind.value for name, bind in binds.items() if not bind.required}
        self.processors = {name: binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names}

    def params(self, values: dict) -> tuple:
        out = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            processor = self.processors.get(name)
            out.append(processor(value) if processor is not None and value is not None else value)
        return tuple(out)

    def execute(self, conn, values: dict):
        return conn.execute(self.sql, self.params(values))

    def executemany(self, conn, rows: list[dict]):
        return conn.executemany(self.sql, [self.params(r) for r in rows])


def autocommit_connection(session: Session) -> sa.Connection | None:
    """The sending session's autocommit connection (PostgreSQL), for the per-message statements
    that are one statement each: run there, they skip the BEGIN and COMMIT round trips."""
    return session.info.get(_AUTOCOMMIT)


def alembic_config(url: str):
    from alembic.config import Config  # alembic takes ~100 ms to import: only commands that migrate load it

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> str:
    """Create or upgrade the schema to the newest revision; returns that revision."""
    # alembic takes ~100 ms to import: only commands that migrate load it.
    from alembic import command
    from alembic.script import ScriptDirectory  # (alembic: see above)

    cfg = alembic_config(url)
    database = sqlite_path(url)
    if database is not None:
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the folder of the database {database}: {exc.strerror or exc}") from None
    try:
        command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        raise database_error(url, exc) from None
    return ScriptDirectory.from_config(cfg).get_current_head()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    try:
        parsed = sa.engine.make_url(normalize_url(url))
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


_ASSIGNED = r"^{name}(?:\s*:[^=\n]+)?\s*=\s*(?:['\"]([^'\"]+)['\"]|None)"


@lru_cache(maxsize=1)
def schema_revisions() -> tuple[str, ...]:
    """The migration revisions, oldest first.

    Read from the files' `revision = ...` / `down_revision = ...` lines rather than through Alembic's
    ScriptDirectory (a third of a second to import and load) because every command checks the
    schema before it starts; a file these lines do not describe (a merge, an unusual layout) falls
    back to Alembic. A test pins that the two agree.
    """
    parents: dict[str, str | None] = {}
    files = [p for p in sorted((MIGRATIONS / "versions").glob("*.py")) if not p.name.startswith("_")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        revision = re.search(_ASSIGNED.format(name="revision"), text, re.M)
        down = re.search(_ASSIGNED.format(name="down_revision"), text, re.M)
        if revision and revision.group(1) and down:
            parents[revision.group(1)] = down.group(1)
    children = {parent: child for child, parent in parents.items()}
    chain, current = [], None
    while current in children:
        current = children[current]
        chain.append(current)
    if len(chain) == len(files) == len(children):
        return tuple(chain)
    from alembic.script import ScriptDirectory  # alembic: only when the fast check of the files fails

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(reversed([r.revision for r in script.walk_revisions()]))


LOCKED_HINT = ("the database is locked by another process (gave up after {timeout:g} s; DIGEST_DB_BUSY_TIMEOUT "
               "sets the wait): try again when that process is done, or let it wait longer")


def database_error(url: str, exc: Exception, *, busy_timeout: float = 30.0, action: str = "reach") -> ConfigError:
    """The operator's message for a database error that stops a command (`action` says what failed)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    if "database is locked" in text or "database table is locked" in text:
        return ConfigError(LOCKED_HINT.format(timeout=busy_timeout))
    if "file is not a database" in text:
        return ConfigError(f"{_safe(url)} is not a SQLite database file: point DIGEST_DATABASE_URL at the "
                           "digest database, or run `digest init` with a new path")
    reason = text.splitlines()[0] if text else type(exc).__name__
    if "no such table" in text:
        return ConfigError(f"the database {_safe(url)} lacks part of the schema ({reason}): run `digest init`")
    if url.startswith("sqlite"):
        # SQLite's OperationalError also means a read-only file, a full disk or an I/O error.
        return ConfigError(f"cannot use the database {_safe(url)}: {reason}")
    return ConfigError(f"cannot {action} the database at {_safe(url)}: {reason}")


def check_ready(engine: sa.Engine, *, busy_timeout: float = 30.0) -> None:
    """Refuse (ConfigError) a database this code cannot work on: missing, unreachable, locked, or
    without the newest schema. One query; call it before a command does anything.
    """
    url = engine.url.render_as_string(hide_password=False)
    run_init = "run `digest init`"
    database = sqlite_path(url)
    if database is not None and not database.is_file():
        # Connecting would create an empty file (and the error would be "no such table" later).
        raise ConfigError(f"the database {database} does not exist: {run_init} to create it "
                          "(or fix DIGEST_DATABASE_URL)")
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise database_error(url, exc, busy_timeout=busy_timeout) from None
    with conn:
        try:
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except sa.exc.DBAPIError as exc:
            conn.rollback()
            # SQLite: "no such table"; PostgreSQL: undefined_table (42P01). Anything else (permissions,
            # a lock, a dropped connection) is reported as what it is.
            missing = "no such table" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "42P01"
            if not missing:
                raise database_error(url, exc, busy_timeout=busy_timeout,
                                     action="read the schema revision of") from None
            revision = None
        else:
            conn.rollback()
    known = schema_revisions()
    if revision is None:
        raise ConfigError(f"the database {_safe(url)} has no schema yet: {run_init} first")
    if revision != known[-1]:
        if revision in known:
            raise ConfigError(f"the database {_safe(url)} has an older schema (revision {revision}, this version "
                              f"needs {known[-1]}): {run_init} to upgrade it")
        raise ConfigError(f"the database {_safe(url)} has schema revision {revision}, which this version of digest "
                          "does not know (a newer version made it?): run that version, or upgrade digest")


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # alembic takes ~100 ms to import: only here

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(normalize_url(url)).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"


def lock_name(session: Session, name: str) -> None:
    """Serialize the rest of this write transaction with every other holding the same name.

    PostgreSQL: a transaction-level advisory lock on a hash of the name (released at commit or
    rollback). SQLite needs none: a write transaction there (BEGIN IMMEDIATE) already excludes
    every other writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
