"""Subscriber records: addresses, names, preferences, the lifecycle and suppression (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from digest.errors import InputError, NotFound, TokenError
from digest.models import Subscriber, Suppression
from subscribers.addresses import clean_name, normalize_email
from subscribers.follows import reader_for
from subscribers.preferences import parse_preferences
from subscribers.records import (
    AlreadyExists,
    Suppressed,
    add_subscriber,
    confirm,
    confirmation_message,
    deliverable_query,
    get_subscriber,
    receives_digest,
    unsubscribe,
    update_subscriber,
)
from subscribers.suppression import is_suppressed, suppress
from subscribers.tokens import Signer

from subscribers_helpers import catalog_session, engine, session, _pg_database, _sqlite_template  # noqa: F401


# Addresses and names (no database)

def test_address_is_normalized_and_keyed_case_insensitively():
    address, key, smtputf8 = normalize_email("  Ana.Kim@Example.COM ")
    assert (address, key, smtputf8) == ("Ana.Kim@example.com", "ana.kim@example.com", False)


def test_internationalized_local_part_is_accepted_and_needs_smtputf8():
    address, key, smtputf8 = normalize_email("그림@예시.kr")
    assert address == "그림@예시.kr" and smtputf8 is True


def test_unicode_domain_is_stored_in_ascii_and_keyed_like_its_punycode_form():
    unicode_form = normalize_email("user@Bücher.de")
    punycode_form = normalize_email("user@xn--bcher-kva.de")
    assert unicode_form[0] == "user@xn--bcher-kva.de" and unicode_form[2] is False
    assert unicode_form[1] == punycode_form[1]


@pytest.mark.parametrize("raw", ["", "ana", "ana@", "@example.com", "ana@@example.com", "Ana <ana@example.com>",
                                 "ana@localhost", "ana example@example.com", "ana@example..com"])
def test_invalid_address_is_rejected_as_an_email_error(raw):
    with pytest.raises(InputError) as info:
        normalize_email(raw)
    assert info.value.field == "email"


def test_address_check_makes_no_dns_lookup_by_default():
    # A domain that cannot exist in DNS still passes: only syntax is checked unless asked.
    assert normalize_email("ana@no-such-domain-for-digest-tests.example")[0]


@pytest.mark.parametrize("name", ["Ana Kim", "김아나", "Ана Ким", "أنا كيم", "アナ・キム", "Zoë O'Brien", "=SUM(A1)"])
def test_display_names_in_any_script_are_kept(name):
    assert clean_name(name) == name


@pytest.mark.parametrize("bad,what", [("Ana\rKim", "CR"), ("Ana\nKim", "LF"), ("Ana\x00Kim", "NUL"),
                                      ("Ana\r\nBcc: x@example.com", "CR")])
def test_cr_lf_and_nul_in_a_name_are_rejected_with_a_clear_error(bad, what):
    with pytest.raises(InputError) as info:
        clean_name(bad)
    assert info.value.field == "name" and what in info.value.message


def test_preferences_are_validated_and_defaulted():
    prefs = parse_preferences(timezone="asia/seoul", send_day="Friday", send_hour="7", frequency="Daily",
                              max_articles="", min_significance="2", reading_budget="15", paused_until="2026-12-24")
    assert prefs == {"timezone": "Asia/Seoul", "send_day": 4, "send_hour": 7, "frequency": "daily", "max_articles": 8,
                     "min_significance": 2, "reading_budget": 15, "paused_until": date(2026, 12, 24)}


@pytest.mark.parametrize("field,value", [("timezone", "Mars/Olympus"), ("timezone", "../../etc/passwd"),
                                         ("send_day", "funday"), ("send_day", "7"), ("send_hour", "24"),
                                         ("send_hour", "8.5"), ("frequency", "monthly"), ("max_articles", "21"),
                                         ("max_articles", "0"), ("min_significance", "4"), ("reading_budget", "-5"),
                                         ("paused_until", "next week")])
def test_invalid_preference_is_rejected_naming_its_field(field, value):
    with pytest.raises(InputError) as info:
        parse_preferences(**{field: value})
    assert info.value.field == field


def test_unknown_time_zone_error_offers_the_closest_names():
    with pytest.raises(InputError) as info:
        parse_preferences(timezone="Asia/Seol")
    assert "Asia/Seoul" in info.value.message


# Records and the lifecycle (SQLite and PostgreSQL)

def test_added_subscriber_is_active_with_the_default_preferences(catalog_session):
    s = add_subscriber(catalog_session, email="Ana@Example.com", name="Ana")
    catalog_session.commit()
    assert (s.status, s.timezone, s.send_day, s.send_hour, s.frequency, s.max_articles) == (
        "active", "UTC", 0, 8, "weekly", 8)
    assert s.email_key == "ana@example.com"


def test_one_record_per_address_whatever_its_case(catalog_session):
    add_subscriber(catalog_session, email="ana@example.com")
    catalog_session.commit()
    with pytest.raises(AlreadyExists):
        add_subscriber(catalog_session, email="ANA@EXAMPLE.COM")
    assert len(catalog_session.exec(select(Subscriber)).all()) == 1


def test_internationalized_subscriber_is_marked_as_needing_smtputf8(catalog_session):
    s = add_subscriber(catalog_session, email="ñoño@example.com", name="Ñoño")
    assert s.smtputf8 is True


def test_invalid_input_stores_nothing_and_names_every_problem(catalog_session):
    with pytest.raises(InputError) as info:
        add_subscriber(catalog_session, email="ana@example.com", name="a\nb", timezone="Nowhere/City", max_articles=50)
    text = str(info.value)
    assert "name:" in text and "timezone:" in text and "max_articles:" in text
    assert catalog_session.exec(select(Subscriber)).all() == []


def test_unsubscribe_stops_the_subscriber_and_suppresses_the_address(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com")
    assert unsubscribe(catalog_session, "ANA@example.com") is True
    catalog_session.commit()
    assert s.status == "unsubscribed" and is_suppressed(catalog_session, "ana@example.com")
    assert unsubscribe(catalog_session, s.id) is False  # repeating changes nothing


def test_unsubscribing_an_unknown_address_still_suppresses_it(catalog_session):
    assert unsubscribe(catalog_session, "ghost@example.com") is True
    with pytest.raises(Suppressed):
        add_subscriber(catalog_session, email="Ghost@example.com")


def test_unsubscribing_an_unknown_id_is_not_found(catalog_session):
    with pytest.raises(NotFound):
        unsubscribe(catalog_session, 999)


def test_suppressed_address_is_not_added_again_without_resubscribe(catalog_session):
    add_subscriber(catalog_session, email="ana@example.com", timezone="Asia/Seoul")
    suppress(catalog_session, "ana@example.com", "bounced", "550 5.1.1 no such user")
    catalog_session.commit()
    with pytest.raises(Suppressed) as info:
        add_subscriber(catalog_session, email="ana@example.com")
    assert "bounced" in str(info.value) and "--resubscribe" in str(info.value)


def test_explicit_resubscribe_lifts_the_suppression_and_keeps_unspecified_preferences(catalog_session):
    add_subscriber(catalog_session, email="ana@example.com", timezone="Asia/Seoul", companies=["xAI"])
    unsubscribe(catalog_session, "ana@example.com")
    s = add_subscriber(catalog_session, email="ana@example.com", resubscribe=True)
    catalog_session.commit()
    assert s.status == "active" and s.timezone == "Asia/Seoul"
    assert not is_suppressed(catalog_session, "ana@example.com")


def test_stronger_suppression_reason_replaces_a_weaker_one_but_not_the_reverse(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com")
    suppress(catalog_session, "ana@example.com", "unsubscribed")
    suppress(catalog_session, "ana@example.com", "complained")
    suppress(catalog_session, "ana@example.com", "bounced")
    catalog_session.commit()
    assert catalog_session.get(Suppression, "ana@example.com").reason == "complained"
    assert s.status == "complained"


def test_updating_preferences_of_an_unsubscribed_subscriber_keeps_it_unsubscribed(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com")
    unsubscribe(catalog_session, s.id)
    s, action = update_subscriber(catalog_session, s, timezone="Europe/Berlin")
    assert (s.status, s.timezone, action) == ("unsubscribed", "Europe/Berlin", "updated")


def test_changing_the_address_to_a_suppressed_one_is_refused(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com")
    suppress(catalog_session, "old@example.com", "complained")
    with pytest.raises(Suppressed):
        update_subscriber(catalog_session, s, email="OLD@example.com")


def test_update_replaces_follows_when_given_and_keeps_them_otherwise(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com", companies=["xAI"], segments=["Data & IP"])
    update_subscriber(catalog_session, s, companies=["OpenAI", "바이트댄스"])
    reader = reader_for(catalog_session, s)
    assert reader.companies == {"OpenAI", "ByteDance"} and reader.segments == {"Data & IP"}


def test_update_with_the_same_values_reports_unchanged(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com", send_day="fri")
    _, action = update_subscriber(catalog_session, s, send_day="friday", name="")
    assert action == "unchanged"


def test_only_active_unsuppressed_subscribers_are_deliverable(catalog_session):
    active = add_subscriber(catalog_session, email="a@example.com")
    add_subscriber(catalog_session, email="p@example.com", double_opt_in=True)
    gone = add_subscriber(catalog_session, email="u@example.com")
    unsubscribe(catalog_session, gone.id)
    odd = add_subscriber(catalog_session, email="odd@example.com")
    # A suppression row written behind the records' back still wins over an active status.
    catalog_session.add(Suppression(email_key="odd@example.com", reason="bounced"))
    catalog_session.commit()
    assert [s.id for s in catalog_session.exec(deliverable_query())] == [active.id]
    assert receives_digest(odd, suppressed=True) == (False, "suppressed")


def test_paused_subscriber_receives_nothing_before_the_pause_ends(catalog_session):
    s = add_subscriber(catalog_session, email="a@example.com", paused_until="2026-12-10")
    assert receives_digest(s, False, today=date(2026, 12, 9)) == (False, "paused")
    assert receives_digest(s, False, today=date(2026, 12, 10)) == (True, None)


def test_double_opt_in_subscriber_is_pending_until_the_signed_link_confirms_it(catalog_session):
    signer = Signer(["k"])
    s = add_subscriber(catalog_session, email="ana@example.com", name="Ana", double_opt_in=True)
    catalog_session.commit()
    assert s.status == "pending"
    message = confirmation_message("https://digest.example/", signer, s)
    assert message["link"].startswith("https://digest.example/confirm/") and message["link"] in message["text"]
    token = message["link"].rsplit("/", 1)[1]
    assert confirm(catalog_session, token, signer).status == "active"
    assert s.confirmed_at is not None
    assert confirm(catalog_session, token, signer).status == "active"  # a second click is harmless


def test_confirm_link_never_resubscribes_an_unsubscribed_address(catalog_session):
    signer = Signer(["k"])
    s = add_subscriber(catalog_session, email="ana@example.com", double_opt_in=True)
    token = signer.make("confirm", s.id)
    unsubscribe(catalog_session, s.id)
    with pytest.raises(TokenError):
        confirm(catalog_session, token, signer)
    assert s.status == "unsubscribed"


def test_confirm_for_a_missing_subscriber_says_only_that_the_link_is_invalid(catalog_session):
    signer = Signer(["k"])
    with pytest.raises(TokenError) as missing:
        confirm(catalog_session, signer.make("confirm", 12345), signer)
    with pytest.raises(TokenError) as forged:
        confirm(catalog_session, Signer(["other"]).make("confirm", 12345), signer)
    assert str(missing.value) == str(forged.value)


def test_subscriber_is_found_by_id_hash_id_or_address(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com")
    assert get_subscriber(catalog_session, s.id) is s
    assert get_subscriber(catalog_session, f"#{s.id}") is s
    assert get_subscriber(catalog_session, "ANA@example.com") is s
    with pytest.raises(NotFound):
        get_subscriber(catalog_session, "nobody@example.com")
