"""Signup on SQLite and PostgreSQL: racing requests for one address make one subscriber and send
one confirmation, and the per-address limit holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, func, select

from digest.mailers.memory import MemoryMailer
from digest.models import SignupMail, Subscriber
from tests.signup_helpers import ACCEPTED, mails_to, world


def test_racing_signups_make_one_subscriber_and_one_email(db_url, tmp_path):
    w = world(db_url, tmp_path, signup_limit_address=100)
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: w.remote.post("/subscribe", json={"email": "race@example.org"}),
                                    range(8)))
        assert {a.status_code for a in answers} == {202} and all(a.json() == ACCEPTED for a in answers)
        assert len(mails_to("race@example.org")) == 1
        with Session(w.engine) as session:
            assert session.exec(select(func.count()).select_from(Subscriber)).one() == 1
            assert [m.state for m in session.exec(select(SignupMail))] == ["sent"]
    finally:
        w.engine.dispose()


def test_the_address_limit_answers_429_past_it(db_url, tmp_path):
    w = world(db_url, tmp_path, signup_limit_address=3)
    try:
        codes = [w.remote.post("/subscribe", json={"email": "lim@example.org"}).status_code for _ in range(4)]
        assert codes == [202, 202, 202, 429] and len(MemoryMailer.outbox) == 1
    finally:
        w.engine.dispose()
