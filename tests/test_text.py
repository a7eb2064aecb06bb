"""Text cleaning: one module, three rules (display text, header text, incoming fields), each pinned."""

from __future__ import annotations

from datetime import datetime, timezone

import digest.render as render_mod
from digest import text
from digest.message import build_message
from digest.text import clean, clean_input, header_text
from digest.types import Rendered


def test_display_text_loses_controls_and_bidi_overrides_and_collapses_whitespace():
    assert clean("a\x00b\u202e c\r\n\t d\ufeff\x85 e\x9b") == "ab c d e"
    assert clean(None) == ""
    assert clean(42) == "42"


def test_display_text_keeps_bidi_isolates_for_right_to_left_names():
    assert clean("\u2067مرحبا\u2069 AI") == "\u2067مرحبا\u2069 AI"


def test_header_text_turns_each_run_of_line_breaks_into_one_space_and_keeps_other_spacing():
    assert header_text("Hi\r\n\r\nBcc: x@example.com") == "Hi Bcc: x@example.com"
    assert header_text(" two  spaces\u2028stay\x85 ") == "two  spaces stay"


def test_incoming_one_line_fields_turn_controls_into_spaces_and_collapse_whitespace():
    assert clean_input(" a\x00b\r\nc \t d ") == "a b c d"


def test_incoming_multi_line_fields_drop_controls_but_keep_line_feeds_and_tabs():
    assert clean_input(" a\x00b\r\n\tc\x7f ", one_line=False) == "ab\n\tc"


def test_render_cleans_display_text_with_the_shared_rule():
    assert render_mod.clean is text.clean


def test_message_headers_put_a_line_break_in_the_subject_or_a_name_on_one_line():
    rendered = Rendered(subject="Week\r\n\r\nBcc: x@example.com", preheader="p", html="<p>h</p>", text="t\n",
                        article_count=1)
    raw = build_message(rendered, sender="AMW <digest@example.com>", recipient="ana@example.com",
                        recipient_name="Ana\nKim", message_id="<m@example.com>",
                        date=datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc),
                        unsubscribe_url="https://e.example/u", unsubscribe_mailto="u@example.com",
                        list_id="AMW <digest.example.com>")
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert b"Subject: Week Bcc: x@example.com" in headers
    assert b"To: Ana Kim <ana@example.com>" in headers
    assert not any(h.startswith(b"Bcc:") for h in headers)
