"""Fixtures for the subscriber tests: a migrated database on SQLite and on PostgreSQL, and a catalog."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from sqlmodel import Session, SQLModel

from digest.config import Settings
from digest.db import make_engine, upgrade
from digest.models import Company, CompanyAlias, Segment
from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres

SECRET = "test-secret-key"


@pytest.fixture(scope="session")
def _pg_database():
    """One throwaway PostgreSQL database for the whole run, dropped at the end."""
    require_postgres()
    url = create_postgres_database()
    upgrade(url)
    engine = make_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_postgres_database(url)


def _empty(engine) -> None:
    # DELETE in reverse dependency order is much faster than TRUNCATE on a handful of tiny tables.
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    """A migrated SQLite file made once; each test gets a copy (migrating costs far more than copying)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    """A migrated, empty database: a SQLite file, or the run's PostgreSQL database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "digest.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
    else:
        _url, engine = request.getfixturevalue("_pg_database")
        _empty(engine)
        yield engine


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


COMPANIES = {"xAI": [], "OpenAI": [], "ByteDance": ["바이트댄스"], "Anthropic": []}
SEGMENTS = ["Foundation Models", "Foundation Models · Case Studies", "Foundation Models · Open Debates", "Data & IP"]


def make_catalog(session: Session) -> None:
    """Companies with aliases and segments with a parent, as ingest would create them."""
    for name, aliases in COMPANIES.items():
        company = Company(name=name, slug=name.casefold())
        session.add(company)
        session.flush()
        for alias in [name, *aliases]:
            session.add(CompanyAlias(key=alias.casefold(), alias=alias, company_id=company.id))
    ids: dict[str, int] = {}
    for full in SEGMENTS:
        parent, _, label = full.rpartition(" · ")
        segment = Segment(name=full, label=label or full, parent_id=ids.get(parent))
        session.add(segment)
        session.flush()
        ids[full] = segment.id
    session.commit()


@pytest.fixture
def catalog_session(session):
    make_catalog(session)
    return session


@pytest.fixture
def cli_obj(engine, tmp_path):
    """The context object the lead's `digest` group hands to `digest subscribers` (the file mailer
    writes into the test's own outbox)."""
    settings = Settings(database_url="sqlite:///" + str(tmp_path / "unused.db"), secret_key=SECRET,
                        base_url="https://digest.example", outbox=str(tmp_path / "outbox"))
    with Session(engine) as session:
        make_catalog(session)
    return SimpleNamespace(settings=settings, engine=lambda: engine)
