"""The staff gate (token length, server-side sessions, sign-out, expiry), the slash redirect, what the
unsubscribe page offers, and one-click unsubscribe whatever the body (RFC 8058)."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.db import make_engine
from digest.errors import ConfigError
from digest.models import StaffSession, Subscriber, utcnow
from digest.pipeline import Pipeline
from digest.web import create_app
from tests.web_helpers import STAFF_TOKEN, build_seeded, copy_seeded, local_client, remote_client, settings_for

ANA = "ana@example.com"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def site(seeded, tmp_path):
    url = copy_seeded(seeded, tmp_path)
    engine = make_engine(url)
    settings = settings_for(url, tmp_path, staff_token=STAFF_TOKEN, staff_session_hours=3)
    app = create_app(settings, engine)
    yield SimpleNamespace(app=app, engine=engine, pipeline=Pipeline(engine, settings), remote=remote_client(app),
                          local=local_client(app))
    engine.dispose()


def ana_id(site) -> int:
    with Session(site.engine) as session:
        return session.exec(select(Subscriber.id).where(Subscriber.email_key == ANA)).one()


def sign_in(site) -> str:
    response = site.remote.post("/login", data={"token": STAFF_TOKEN})
    assert response.status_code == 200
    return site.remote.cookies.get("digest_staff")


# -- the staff token -------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["short-token", " " * 16, "a b c d e f g h i j k l m n o", "\t" * 20 + "abc"])
def test_serve_refuses_a_staff_token_under_16_non_blank_characters_even_on_loopback(tmp_path, token):
    from digest.cli import main

    result = CliRunner().invoke(main, ["serve", "--host", "127.0.0.1"], env={
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}", "DIGEST_SECRET_KEY": "k",
        "DIGEST_STAFF_TOKEN": token})
    assert result.exit_code == 2
    assert "DIGEST_STAFF_TOKEN must be at least 16 non-blank" in result.output


def test_the_app_itself_refuses_a_short_staff_token(tmp_path):
    with pytest.raises(ConfigError, match="at least 16 non-blank"):
        create_app(settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, staff_token=" " * 20))


# -- sessions --------------------------------------------------------------------------------------

def test_each_sign_in_gets_a_new_random_session_that_expires_with_the_setting(site):
    first = sign_in(site)
    site.remote.cookies.clear()
    response = site.remote.post("/login", data={"token": STAFF_TOKEN})
    second = site.remote.cookies.get("digest_staff")
    assert first != second and len(first) >= 40
    assert "Max-Age=10800" in response.headers["set-cookie"]  # DIGEST_STAFF_SESSION_HOURS=3
    with Session(site.engine) as session:
        rows = session.exec(select(StaffSession)).all()
    assert len(rows) == 2
    assert {first, second}.isdisjoint({r.id_hash for r in rows})  # the table holds hashes, not cookies
    for row in rows:
        assert timedelta(hours=2, minutes=59) < row.expires_at - utcnow() <= timedelta(hours=3)


def test_logout_ends_the_session_on_the_server_so_the_old_cookie_no_longer_opens_the_preview(site):
    cookie = sign_in(site)
    assert site.remote.get("/").status_code == 200
    response = site.remote.post("/logout")
    assert response.status_code == 200 and "digest_staff=" in response.headers["set-cookie"]
    with Session(site.engine) as session:
        assert session.exec(select(StaffSession)).all() == []
    site.remote.cookies.set("digest_staff", cookie)  # a copy kept from before the sign-out
    assert site.remote.get("/").status_code == 401


def test_an_expired_session_no_longer_opens_the_preview(site):
    sign_in(site)
    assert site.remote.get("/").status_code == 200
    with Session(site.engine) as session:
        for row in session.exec(select(StaffSession)).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        session.commit()
    assert site.remote.get("/").status_code == 401


def test_a_forged_cookie_opens_nothing(site):
    site.remote.cookies.set("digest_staff", "x" * 43)
    assert site.remote.get("/").status_code == 401
    site.remote.cookies.set("digest_staff", "x" * 5000)
    assert site.remote.get("/").status_code in (400, 401)


# -- redirects and links ---------------------------------------------------------------------------

def test_the_trailing_slash_redirect_is_relative_and_ignores_the_host_header(site):
    response = site.local.get("/preview/?email=a", headers={"host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/preview?email=a"
    token = site.pipeline.signer.make("unsubscribe", ana_id(site))
    response = site.remote.get(f"/unsubscribe/{token}/", headers={"host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == f"/unsubscribe/{token}"


def test_no_redirect_points_off_the_site(site):
    for path in ("//evil.example/", "//evil.example", "/\\evil.example/", "/nowhere/"):
        response = site.remote.get("https://digest.amw.example" + path, follow_redirects=False)
        assert response.status_code == 404 and "location" not in response.headers, path
    # Doubled slashes are not kept: "//preview" would be a link to a host named preview.
    response = site.remote.get("https://digest.amw.example//preview/", follow_redirects=False)
    assert response.headers["location"] == "/preview"


def test_the_unsubscribe_page_hands_out_no_preferences_link(site):
    url = f"/unsubscribe/{site.pipeline.signer.make('unsubscribe', ana_id(site))}"
    before = site.remote.get(url)
    after = site.remote.post(url, content=b"List-Unsubscribe=One-Click")
    for response in (before, after):
        assert response.status_code == 200
        assert "/preferences/" not in response.text and not re.search(r"preferences/[A-Za-z0-9_-]{20}", response.text)


# -- one-click whatever the body -------------------------------------------------------------------

ONE_CLICK_BODIES = {
    "multipart without a boundary": (b"--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
                                     b"One-Click\r\n--x--\r\n", "multipart/form-data"),
    "an over-long List-Unsubscribe value": (b"List-Unsubscribe=" + b"One-Click" * 200,
                                            "application/x-www-form-urlencoded"),
    "garbage bytes": (bytes(range(256)) * 4, "application/x-www-form-urlencoded"),
    "JSON": (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
    "no body at all": (b"", None),
}


@pytest.mark.parametrize("name", list(ONE_CLICK_BODIES))
def test_a_one_click_post_unsubscribes_whatever_its_body(site, name):
    body, content_type = ONE_CLICK_BODIES[name]
    headers = {"content-type": content_type} if content_type else {}
    url = f"/unsubscribe/{site.pipeline.signer.make('unsubscribe', ana_id(site))}"
    response = site.remote.post(url, content=body, headers=headers)
    assert response.status_code == 200 and "unsubscribed" in response.text
    with Session(site.engine) as session:
        assert session.get(Subscriber, ana_id(site)).status == "unsubscribed"


def test_a_body_over_256_kb_is_refused_before_anything_changes(site):
    url = f"/unsubscribe/{site.pipeline.signer.make('unsubscribe', ana_id(site))}"
    response = site.remote.post(url, content=b"x" * (256 * 1024 + 1),
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    with Session(site.engine) as session:
        assert session.get(Subscriber, ana_id(site)).status == "active"


@pytest.mark.postgres
def test_on_postgresql_sign_in_and_sign_out_keep_the_session_on_the_server(tmp_path):
    from digest.db import upgrade
    from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres

    require_postgres()
    url = create_postgres_database()
    try:
        upgrade(url)
        engine = make_engine(url)
        client = remote_client(create_app(settings_for(url, tmp_path, staff_token=STAFF_TOKEN), engine))
        assert client.get("/").status_code == 401
        assert client.post("/login", data={"token": STAFF_TOKEN}).status_code == 200
        cookie = client.cookies.get("digest_staff")
        assert client.get("/").status_code == 200
        assert client.post("/logout").status_code == 200
        client.cookies.set("digest_staff", cookie)
        assert client.get("/").status_code == 401
        with Session(engine) as session:
            assert session.exec(select(StaffSession)).all() == []
        engine.dispose()
    finally:
        drop_postgres_database(url)
