"""Signed subscriber tokens: per purpose, tamper-proof, rotatable, unsubscribe never expiring."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from digest.config import Settings
from digest.errors import ConfigError, TokenError
from digest.tokens import PURPOSES, Signer, signer_from_settings


def test_token_round_trips_the_subscriber_id_for_every_purpose():
    signer = Signer(["key-1"])
    for purpose in PURPOSES:
        assert signer.read(purpose, signer.make(purpose, 42)) == 42


def test_token_is_url_safe():
    token = Signer(["key-1"]).make("unsubscribe", 123456789, extra={"period": "2026-W48", "ü": "ß"})
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", token)


def test_extra_data_comes_back_with_the_id():
    signer = Signer(["key-1"])
    token = signer.make("feedback", 7, extra={"article": 99, "vote": "up"})
    assert signer.read("feedback", token) == (7, {"article": 99, "vote": "up"})


def test_token_for_one_purpose_is_rejected_for_another():
    signer = Signer(["key-1"])
    token = signer.make("preferences", 5)
    for purpose in set(PURPOSES) - {"preferences"}:
        with pytest.raises(TokenError):
            signer.read(purpose, token)


@pytest.mark.parametrize("position", [0, 5, -1, -10])
def test_tampered_token_is_rejected(position):
    signer = Signer(["key-1"])
    token = signer.make("unsubscribe", 5)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    chars = list(token)
    if chars[position] in alphabet:
        # Flip the highest of the six bits: the low bits of a final character can be padding.
        chars[position] = alphabet[alphabet.index(chars[position]) ^ 0b100000]
    else:
        chars[position] = "A"
    with pytest.raises(TokenError):
        signer.read("unsubscribe", "".join(chars))


def test_token_with_a_changed_payload_is_rejected():
    signer = Signer(["key-1"])
    token = signer.make("unsubscribe", 5)
    forged_payload = Signer(["key-1"]).make("unsubscribe", 6).split(".")[0]
    with pytest.raises(TokenError):
        signer.read("unsubscribe", forged_payload + "." + token.split(".", 1)[1])


def test_token_signed_with_a_foreign_key_is_rejected():
    with pytest.raises(TokenError):
        Signer(["ours"]).read("unsubscribe", Signer(["theirs"]).make("unsubscribe", 5))


def test_token_from_plain_itsdangerous_without_our_salt_is_rejected():
    foreign = URLSafeTimedSerializer("key-1").dumps([5])
    with pytest.raises(TokenError):
        Signer(["key-1"]).read("unsubscribe", foreign)


@pytest.mark.parametrize("garbage", ["", "x", "...", "a.b.c", "W10.abc.def", "☃" * 10, "a" * 5000])
def test_garbage_is_rejected_with_the_same_message_as_a_forged_token(garbage):
    signer = Signer(["key-1"])
    with pytest.raises(TokenError) as forged:
        signer.read("unsubscribe", Signer(["other"]).make("unsubscribe", 1))
    with pytest.raises(TokenError) as bad:
        signer.read("unsubscribe", garbage)
    assert str(bad.value) == str(forged.value)
    assert "1" not in str(forged.value)  # the message names no subscriber


def test_rotated_keys_still_verify_old_links_and_sign_with_the_newest():
    old = Signer(["2025-key"])
    rotated = Signer(["2026-key", "2025-key"])
    old_token = old.make("unsubscribe", 9)
    assert rotated.read("unsubscribe", old_token) == 9
    new_token = rotated.make("unsubscribe", 9)
    assert Signer(["2026-key"]).read("unsubscribe", new_token) == 9
    with pytest.raises(TokenError):
        old.read("unsubscribe", new_token)


def test_unsubscribe_token_never_expires_even_when_a_max_age_is_asked(monkeypatch):
    signer = Signer(["key-1"])
    token = signer.make("unsubscribe", 3)
    ten_years = 10 * 365 * 24 * 3600
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + ten_years)
    assert signer.read("unsubscribe", token) == 3
    assert signer.read("unsubscribe", token, max_age=60) == 3


def test_confirm_token_expires_after_its_max_age(monkeypatch):
    signer = Signer(["key-1"])
    token = signer.make("confirm", 3)
    assert signer.read("confirm", token) == 3
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 8 * 24 * 3600)
    with pytest.raises(TokenError) as info:
        signer.read("confirm", token)
    assert getattr(info.value, "expired", False) is True


def test_confirm_token_honours_an_explicit_max_age(monkeypatch):
    signer = Signer(["key-1"])
    token = signer.make("confirm", 3)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    assert signer.read("confirm", token) == 3
    with pytest.raises(TokenError):
        signer.read("confirm", token, max_age=60)


def test_links_in_a_digest_are_the_same_token_whenever_they_are_made(monkeypatch):
    signer = Signer(["key-1"])
    first = {p: signer.make(p, 8, extra={"p": "2026-W48"}) for p in ("unsubscribe", "preferences", "web", "feedback")}
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 86400)
    assert {p: signer.make(p, 8, extra={"p": "2026-W48"}) for p in first} == first


def test_unknown_purpose_is_refused():
    with pytest.raises(TokenError):
        Signer(["key-1"]).make("admin", 1)


def test_signer_without_a_key_is_a_configuration_error():
    with pytest.raises(ConfigError):
        Signer([])


def test_signer_from_settings_verifies_tokens_made_with_an_old_key():
    old_token = Signer(["old-key"]).make("unsubscribe", 11)
    settings = Settings(secret_key="new-key", secret_keys_old="old-key")
    assert signer_from_settings(settings).read("unsubscribe", old_token) == 11


def test_links_made_on_the_fast_path_are_plain_itsdangerous_tokens_with_the_newest_key():
    import hashlib

    from itsdangerous import URLSafeSerializer

    from digest.tokens import _SALT

    signer = Signer(["newest-key", "older-key"])
    for purpose in ("unsubscribe", "web", "feedback"):
        reference = URLSafeSerializer(["newest-key"], salt=_SALT + purpose,
                                      signer_kwargs={"digest_method": hashlib.sha256})
        for extra in (None, {"p": "2026-W48"}, {"k": "company", "n": "바이트댄스 \"quoted\" \\ ü", "d": "less"}):
            token = signer.make(purpose, 4321, extra=extra)
            assert reference.loads(token) == ([4321, extra] if extra else [4321])
            assert signer.read(purpose, token) == ((4321, extra) if extra else 4321)


@pytest.mark.parametrize("key_length", [0, 1, 32, 64, 65, 200])
def test_the_precomputed_hmac_equals_the_standard_one_for_any_key_length(key_length):
    import hmac

    from digest.tokens import _HmacSha256

    key = bytes(range(256))[:key_length] if key_length <= 256 else b"k" * key_length
    for message in (b"", b"x", b"payload.with.dots" * 20):
        assert _HmacSha256(key).digest(message) == hmac.digest(key, message, "sha256")


def _signed(payload, purpose: str = "unsubscribe", key: str = "key-1") -> str:
    """A token signed with the right key and salt that Signer.make would never produce."""
    import hashlib

    from itsdangerous import URLSafeSerializer

    from digest.tokens import _SALT

    return URLSafeSerializer(key, salt=_SALT + purpose, signer_kwargs={"digest_method": hashlib.sha256}).dumps(payload)


INVALID = "this link is invalid or has expired"


@pytest.mark.parametrize("payload", [[], [1, {}, 3], [1, {"a": 1}, 3], 7, {"id": 1}, "1", [True], [1.0], ["1"],
                                     [1, "extra"], [1, [2]]],
                         ids=["empty", "three-items", "three-items-dict", "bare-int", "object", "string",
                              "bool-id", "float-id", "string-id", "extra-not-object", "extra-list"])
def test_a_signed_token_of_the_wrong_shape_is_rejected_with_the_one_message(payload):
    signer = Signer(["key-1"])
    assert signer.read("unsubscribe", _signed([5])) == 5  # the key and salt are right ...
    with pytest.raises(TokenError) as info:
        signer.read("unsubscribe", _signed(payload))  # ... only the shape is not
    assert str(info.value) == INVALID


@pytest.mark.parametrize("purpose", ["unsubscribe", "confirm"])
def test_a_signed_token_over_4096_characters_is_rejected_and_one_of_4096_is_read(purpose):
    import random
    import string

    # Text that does not compress (a confirm token is zlib-compressed when that is shorter), in
    # lengths that give tokens of every length around the limit that the format allows.
    rnd = random.Random(7)
    text = "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(4200))
    signer = Signer(["key-1"])
    by_length = {}
    for pad in range(2900, 4200):
        token = signer.make(purpose, 5, extra={"p": text[:pad]})
        if 4080 <= len(token) <= 4110:
            by_length[len(token)] = (token, pad)
    assert 4096 in by_length and 4098 in by_length
    for length, (token, pad) in by_length.items():
        if length <= 4096:
            assert signer.read(purpose, token) == (5, {"p": text[:pad]})
        else:
            with pytest.raises(TokenError) as info:
                signer.read(purpose, token)
            assert str(info.value) == INVALID


@pytest.mark.parametrize("token", [None, 42, b"abc", ["a"]])
def test_a_token_that_is_not_a_string_is_rejected_with_the_one_message(token):
    with pytest.raises(TokenError) as info:
        Signer(["key-1"]).read("unsubscribe", token)
    assert str(info.value) == INVALID


def test_an_expired_confirm_token_says_only_the_one_message(monkeypatch):
    signer = Signer(["key-1"])
    token = signer.make("confirm", 3)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 8 * 24 * 3600)
    with pytest.raises(TokenError) as info:
        signer.read("confirm", token)
    assert str(info.value) == INVALID and info.value.expired is True


def test_every_id_round_trips_whatever_its_token_ends_with():
    # The padding is stripped, never a character of the data, whatever the lengths of the parts.
    signer = Signer(["key-1"])
    tokens = {i: signer.make("unsubscribe", i, extra={"p": "x" * (i % 3)} if i % 2 else None) for i in range(1, 401)}
    assert len({len(t.split(".")[0]) % 4 for t in tokens.values()}) == 3
    assert all(signer.read("unsubscribe", t) in (i, (i, {"p": "x" * (i % 3)})) for i, t in tokens.items())
    assert all("=" not in t for t in tokens.values())


@pytest.mark.parametrize("subscriber_id", [True, False, "5", 5.0, None])
def test_a_token_is_made_only_for_an_integer_id_and_the_error_says_so(subscriber_id):
    with pytest.raises(TokenError) as info:
        Signer(["key-1"]).make("unsubscribe", subscriber_id)
    assert str(info.value) == "a token needs an integer subscriber id"


def test_the_errors_of_a_misuse_name_what_to_fix():
    with pytest.raises(TokenError) as purpose:
        Signer(["key-1"]).make("admin", 1)
    assert str(purpose.value) == ("unknown token purpose 'admin'; expected one of "
                                  "unsubscribe, preferences, confirm, web, feedback")
    with pytest.raises(TokenError) as read_purpose:
        Signer(["key-1"]).read("admin", "x.y")
    assert str(read_purpose.value) == str(purpose.value)
    with pytest.raises(ConfigError) as no_key:
        Signer(["", ""])
    assert str(no_key.value) == "no signing key: set DIGEST_SECRET_KEY"
