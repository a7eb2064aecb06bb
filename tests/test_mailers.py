"""Mailer backends: one shared contract test for every backend, then what each one adds."""

from __future__ import annotations

import json
import re
import socket
import threading
import tomllib
import types
from dataclasses import asdict
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser, Parser
from importlib.metadata import EntryPoint

import pytest

import digest.mailers as registry
from digest.config import Settings
from digest.errors import ConfigError
from digest.mailers import BaseMailer, get_mailer, known_mailers
from digest.mailers.console import ConsoleMailer
from digest.mailers.file import FileMailer, eml_name
from digest.mailers.memory import MemoryMailer
from digest.mailers.postmark import PostmarkMailer, idempotency_key
from digest.mailers.smtp import SMTPMailer
from digest.message import build_message, make_message_id
from digest.types import Outcome, Outgoing, Rendered, SendResult
from postmark_server import TOKEN, PostmarkServer
from tests.conftest import ROOT
from smtp_helpers import SMTPServer

DEFERRED, FAILED, REJECTED, SENT, UNKNOWN = Outcome.DEFERRED, Outcome.FAILED, Outcome.REJECTED, Outcome.SENT, Outcome.UNKNOWN

SEPARATOR = "-" * 79


def outgoing(recipient: str, key: str, subject: str = "Your AMW digest") -> Outgoing:
    rendered = Rendered(subject=subject, preheader="", html=f"<p>Hello {key} — ü</p>\n", text=f"Hello {key} — ü\n", article_count=1)
    mid = make_message_id(key, "amw.example")
    data = build_message(
        rendered,
        sender="AMW Digest <digest@amw.example>",
        recipient=recipient,
        recipient_name="Reader " + key,
        message_id=mid,
        date=datetime(2026, 11, 30, 8, tzinfo=timezone.utc),
        unsubscribe_url=f"https://amw.example/u/{key}",
        unsubscribe_mailto="unsubscribe@amw.example",
        list_id="AMW Digest <digest.amw.example>",
    )
    return Outgoing(key=key, sender="digest@amw.example", recipient=recipient, data=data, message_id=mid)


def settings_for(**values):
    """Settings plus backend settings the Settings class may not know yet (read with getattr)."""
    return types.SimpleNamespace(**{**asdict(Settings()), **values})


# The contract --------------------------------------------------------------------------------


def _parse_console(out: str) -> list[dict]:
    blocks = [b.strip("\n") for b in out.split(SEPARATOR) if b.strip()]
    return [_summary(Parser(policy=policy.default).parsestr(b + "\n")) for b in blocks]


def _summary(msg) -> dict:
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    return {"to": msg["To"].addresses[0].addr_spec, "subject": str(msg["Subject"]), "text": text.replace("\r\n", "\n")}


@pytest.fixture(params=["console", "file", "memory", "smtp", "postmark"])
def backend(request, tmp_path, capsys):
    """(mailer made by get_mailer from settings, expected class, delivered() -> list of summaries)."""
    name = request.param
    if name == "console":
        yield get_mailer("console", settings_for()), ConsoleMailer, lambda: _parse_console(capsys.readouterr().out)
    elif name == "file":
        outbox = tmp_path / "outbox"

        def delivered():
            return [_summary(BytesParser(policy=policy.default).parsebytes(p.read_bytes())) for p in sorted(outbox.glob("*.eml"))]

        yield get_mailer("file", settings_for(outbox=str(outbox))), FileMailer, delivered
    elif name == "memory":
        MemoryMailer.reset()
        yield get_mailer("memory", settings_for()), MemoryMailer, lambda: [_summary(BytesParser(policy=policy.default).parsebytes(m.data)) for m in MemoryMailer.outbox]
        MemoryMailer.reset()
    elif name == "smtp":
        with SMTPServer() as server:
            mailer = get_mailer("smtp", settings_for(smtp_host="127.0.0.1", smtp_port=server.port, smtp_timeout=5.0, smtp_connections=2))
            yield mailer, SMTPMailer, lambda: [_summary(BytesParser(policy=policy.default).parsebytes(m.data)) for m in server.messages]
    else:
        with PostmarkServer() as server:

            def delivered():
                return [
                    {"to": r["payload"]["To"].rsplit("<", 1)[-1].rstrip(">"), "subject": r["payload"]["Subject"], "text": r["payload"]["TextBody"]}
                    for r in server.received
                ]

            yield get_mailer("postmark", settings_for(postmark_token=TOKEN, postmark_url=server.url)), PostmarkMailer, delivered


def _sorted(items):
    return sorted(items, key=lambda d: d["to"])


def test_every_backend_delivers_each_message_once_and_reports_results_in_order(backend):
    mailer, cls, delivered = backend
    assert type(mailer) is cls
    messages = [outgoing(f"reader{i}@example.com", f"k{i}", subject=f"Digest {i} — ü") for i in range(5)]
    with mailer:
        results = mailer.send_messages(messages)
    assert len(results) == 5 and all(r.status == SENT for r in results)
    expected = [{"to": f"reader{i}@example.com", "subject": f"Digest {i} — ü", "text": f"Hello k{i} — ü\n"} for i in range(5)]
    assert _sorted(delivered()) == expected


def test_every_backend_reports_each_outcome_to_on_result_in_the_calling_thread(backend):
    mailer, _, _ = backend
    seen = []
    messages = [outgoing(f"r{i}@example.com", f"c{i}") for i in range(4)]
    results = mailer.send_messages(messages, on_result=lambda m, r: seen.append((m.key, r, threading.current_thread())))
    assert sorted(k for k, _, _ in seen) == ["c0", "c1", "c2", "c3"]
    assert {t for _, _, t in seen} == {threading.current_thread()}
    assert {k: r for k, r, _ in seen} == {m.key: r for m, r in zip(messages, results)}


def test_every_backend_can_be_opened_closed_and_reopened(backend):
    mailer, _, delivered = backend
    assert mailer.open() is True
    assert mailer.open() is False  # already open: the caller that opened it closes it
    mailer.send_messages([outgoing("first@example.com", "o1")])
    mailer.close()
    mailer.close()
    with mailer:
        mailer.send_messages([outgoing("second@example.com", "o2")])
    assert [d["to"] for d in _sorted(delivered())] == ["first@example.com", "second@example.com"]


def test_every_backend_consumes_a_generator_of_messages_lazily(backend):
    mailer, _, delivered = backend
    pulled = []

    def messages():
        for i in range(3):
            pulled.append(i)
            yield outgoing(f"g{i}@example.com", f"g{i}")

    results = mailer.send_messages(messages())
    assert pulled == [0, 1, 2] and [r.status for r in results] == [SENT] * 3
    assert len(delivered()) == 3


# The registry --------------------------------------------------------------------------------


def test_unknown_mailer_name_is_a_config_error_listing_known_names():
    with pytest.raises(ConfigError) as info:
        get_mailer("carrier-pigeon", settings_for())
    for name in ("console", "file", "memory", "smtp", "postmark"):
        assert name in str(info.value)


@pytest.mark.parametrize("path", ["digest.mailers.memory:MemoryMailer", "digest.mailers.memory.MemoryMailer"])
def test_a_dotted_path_in_either_spelling_loads_that_backend(path):
    assert type(get_mailer(path, settings_for())) is MemoryMailer


@pytest.mark.parametrize("path", ["collections:OrderedDict", "digest.nowhere:Mailer", "digest.mailers.memory:Nope"])
def test_a_dotted_path_to_no_mailer_is_a_config_error(path):
    with pytest.raises(ConfigError):
        get_mailer(path, settings_for())


def test_a_third_party_entry_point_is_found_by_name(monkeypatch):
    third_party = EntryPoint(name="acme", value="digest.mailers.console:ConsoleMailer", group="digest.mailers")
    monkeypatch.setattr(registry, "entry_points", lambda group: [third_party] if group == "digest.mailers" else [])
    assert type(get_mailer("acme", settings_for())) is ConsoleMailer
    assert known_mailers()["acme"] == "digest.mailers.console:ConsoleMailer"


def test_known_mailers_include_every_builtin_backend():
    known = known_mailers()
    assert {"console", "file", "memory", "smtp", "postmark"} <= set(known)


def test_the_builtin_mailers_are_the_entry_points_pyproject_registers():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert declared["project"]["entry-points"]["digest.mailers"] == registry.BUILTIN


@pytest.mark.parametrize("make", [
    lambda: FileMailer(outbox="outbox", outbx="typo"),
    lambda: ConsoleMailer(outbx="typo"),
    lambda: MemoryMailer(outbx="typo"),
    lambda: PostmarkMailer(token=TOKEN, outbx="typo"),
    lambda: SMTPMailer("127.0.0.1", 25, outbx="typo"),
])
def test_an_option_a_mailer_does_not_take_is_a_config_error_naming_it(make):
    with pytest.raises(ConfigError, match="does not take the option outbx; it takes "):
        make()


def test_file_and_smtp_mailers_read_their_typed_settings():
    settings = Settings(outbox="elsewhere", smtp_host="mx.example", smtp_port=2525, smtp_security="starttls",
                        smtp_connections=3, smtp_stall_limit=0)
    assert get_mailer("file", settings).outbox.name == "elsewhere"
    smtp = get_mailer("smtp", settings)
    assert (smtp.host, smtp.port, smtp.security, smtp.connections, smtp.stall_limit) == ("mx.example", 2525, "starttls", 3, 0)


# The shared send loop ------------------------------------------------------------------------


class _Flaky(BaseMailer):
    sent: list[str]

    def __init__(self, lanes: int = 1):
        super().__init__()
        self.sent, self.n = [], lanes
        self.lock = threading.Lock()
        self.threads = set()

    def lanes(self):
        return [self.send_one] * self.n

    def send_one(self, message):
        with self.lock:
            self.threads.add(threading.current_thread())
        if message.recipient.startswith("boom"):
            raise RuntimeError("backend bug")
        if message.recipient.startswith("net"):
            raise ConnectionResetError("reset by peer")
        if message.recipient.startswith("config"):
            raise ConfigError("bad credentials")
        with self.lock:
            self.sent.append(message.key)
        return SendResult(SENT)


@pytest.mark.parametrize("lanes", [1, 3])
def test_one_message_raising_fails_only_that_message_and_a_network_error_defers_it(lanes):
    mailer = _Flaky(lanes)
    messages = [outgoing("a@example.com", "1"), outgoing("boom@example.com", "2"), outgoing("net@example.com", "3"), outgoing("b@example.com", "4")]
    results = mailer.send_messages(messages)
    assert [r.status for r in results] == [SENT, FAILED, DEFERRED, SENT]
    assert "backend bug" in results[1].detail
    assert sorted(mailer.sent) == ["1", "4"]


@pytest.mark.parametrize("lanes", [1, 3])
def test_a_config_error_is_raised_to_the_operator_not_recorded_as_a_failed_send(lanes):
    with pytest.raises(ConfigError, match="bad credentials"):
        _Flaky(lanes).send_messages([outgoing("a@example.com", "1"), outgoing("config@example.com", "2")])


class _Gathering(_Flaky):
    """The first messages wait until every lane holds one: a lane that never worked would hang them."""

    def __init__(self, lanes: int):
        super().__init__(lanes)
        self.barrier = threading.Barrier(lanes)

    def send_one(self, message):
        if int(message.key) < self.n:
            self.barrier.wait(timeout=30)
        return super().send_one(message)


def test_parallel_lanes_keep_result_order_and_all_lanes_work():
    mailer = _Gathering(4)
    messages = [outgoing(f"p{i}@example.com", str(i)) for i in range(200)]
    results = mailer.send_messages(messages)
    assert len(results) == 200 and all(r.status == SENT for r in results)
    assert sorted(mailer.sent, key=int) == [str(i) for i in range(200)]
    assert len(mailer.threads) == 4


def test_rate_limit_spaces_sends_by_one_over_the_rate(monkeypatch):
    import digest.mailers.base as base

    clock = {"now": 100.0}
    sleeps = []
    monkeypatch.setattr(base.time, "monotonic", lambda: clock["now"])

    def fake_sleep(seconds):
        sleeps.append(round(seconds, 6))
        clock["now"] += seconds

    monkeypatch.setattr(base.time, "sleep", fake_sleep)
    mailer = _Flaky(1)
    mailer.rate_limit = 4.0
    mailer.send_messages([outgoing(f"r{i}@example.com", str(i)) for i in range(5)])
    assert sleeps == [0.25, 0.25, 0.25, 0.25]


class _StoppingLane:
    """A lane that stops itself after `budget` messages, as a tripped circuit breaker would."""

    def __init__(self, budget: int | None):
        self.budget, self.taken, self.stopped = budget, 0, False

    def __call__(self, message):
        self.taken += 1
        if self.budget is not None and self.taken >= self.budget:
            self.stopped = True
        return SendResult(DEFERRED, "timed out")


class _Stopping(BaseMailer):
    def __init__(self, budgets):
        super().__init__()
        self._lanes = [_StoppingLane(b) for b in budgets]

    def lanes(self):
        return self._lanes


def _counted(messages, pulled: list):
    for message in messages:
        pulled.append(message.key)
        yield message


@pytest.mark.parametrize("budgets", [[2], [2, 3]], ids=["one-lane", "two-lanes"])
def test_once_every_lane_has_stopped_the_loop_reads_no_further_message(budgets):
    mailer, pulled, seen = _Stopping(budgets), [], []
    messages = [outgoing(f"r{i}@example.com", str(i)) for i in range(20)]
    results = mailer.send_messages(_counted(messages, pulled), on_result=lambda m, r: seen.append(m.key))
    assert len(pulled) == sum(budgets) and mailer.halted
    assert pulled == [str(i) for i in range(sum(budgets))]  # the first ones, in order; the rest untouched
    assert len(results) == len(pulled) and sorted(seen, key=int) == pulled
    # The same mailer (the same run): the stopped lanes take nothing more, and nothing is read.
    pulled.clear()
    assert mailer.send_messages(_counted(messages, pulled)) == [] and pulled == [] and mailer.halted


def test_a_lane_that_stops_leaves_the_rest_to_the_lanes_still_working():
    mailer, pulled = _Stopping([1, None]), []
    messages = [outgoing(f"r{i}@example.com", str(i)) for i in range(30)]
    results = mailer.send_messages(_counted(messages, pulled))
    assert len(pulled) == len(results) == 30 and not mailer.halted
    stopping, working = mailer._lanes
    assert stopping.taken <= 1 and stopping.taken + working.taken == 30


# Backend specifics ---------------------------------------------------------------------------


def test_file_mailer_overwrites_on_resend_of_the_same_key_and_leaves_no_temp_files(tmp_path):
    mailer = FileMailer(outbox=tmp_path)
    mailer.send_messages([outgoing("a@example.com", "row-7", subject="first")])
    mailer.send_messages([outgoing("a@example.com", "row-7", subject="second"), outgoing("b@example.com", "row-8")])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["row-7.eml", "row-8.eml"]
    assert b"Subject: second" in (tmp_path / "row-7.eml").read_bytes()


def test_file_mailer_gives_distinct_keys_distinct_file_names():
    keys = ["a/b", "a%2Fb", "a_b", "../x", "ü", ".hidden"]
    names = [eml_name(k) for k in keys]
    assert len(set(names)) == len(keys)
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_memory_mailer_hands_out_scripted_outcomes_and_keeps_only_accepted_messages():
    MemoryMailer.reset()
    MemoryMailer.scripted["t@example.com"] = [SendResult(DEFERRED, "451 later", 451, "4.3.0")]
    mailer = MemoryMailer()
    first = mailer.send_messages([outgoing("t@example.com", "1")])
    second = mailer.send_messages([outgoing("t@example.com", "1")])
    assert [first[0].status, second[0].status] == [DEFERRED, SENT]
    assert [m.key for m in MemoryMailer.outbox] == ["1"]
    MemoryMailer.reset()


def test_postmark_payload_carries_list_headers_stream_and_a_row_derived_idempotency_key():
    with PostmarkServer() as server:
        message = outgoing("ana@example.com", "row-42")
        with PostmarkMailer(token=TOKEN, url=server.url) as mailer:
            assert mailer.send_messages([message])[0].status == SENT
            # A retry of the same ledger row must not make the provider send twice.
            assert mailer.send_messages([message])[0].status == SENT
        assert server.requests == 2 and len(server.received) == 1
        request = server.received[0]
        assert request["headers"]["Idempotency-Key"] == idempotency_key("row-42")
        assert idempotency_key("row-42") != idempotency_key("row-43")
        payload = request["payload"]
        assert payload["MessageStream"] == "broadcast"
        assert payload["From"] == "AMW Digest <digest@amw.example>"
        # the message carries non-ASCII HTML text as character references; Postmark gets it as is
        assert payload["HtmlBody"] == "<p>Hello row-42 &#8212; &#252;</p>\n"
        headers = {h["Name"]: h["Value"] for h in payload["Headers"]}
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert headers["List-Unsubscribe"].startswith("<https://amw.example/u/row-42>")
        assert headers["Message-ID"] == message.message_id


def test_postmark_inactive_recipient_is_rejected_busy_is_deferred_and_others_still_go():
    with PostmarkServer() as server:
        mailer = PostmarkMailer(token=TOKEN, url=server.url)
        messages = [outgoing("inactive@example.com", "1"), outgoing("busy@example.com", "2"), outgoing("ok@example.com", "3")]
        results = mailer.send_messages(messages)
        assert [r.status for r in results] == [REJECTED, DEFERRED, SENT]
        assert "406" in results[0].detail
        assert mailer.send_messages([messages[1]])[0].status == SENT


def test_postmark_bad_token_is_a_config_error_and_a_missing_token_too():
    with PostmarkServer() as server:
        with pytest.raises(ConfigError, match="POSTMARK_TOKEN"):
            PostmarkMailer(token="wrong", url=server.url).send_messages([outgoing("a@example.com", "1")])
        assert server.received == []
    with pytest.raises(ConfigError, match="POSTMARK_TOKEN"):
        PostmarkMailer(token=None).open()


def test_postmark_unreachable_server_defers():
    result = PostmarkMailer(token=TOKEN, url="http://127.0.0.1:9", timeout=2).send_messages([outgoing("a@example.com", "1")])
    assert result[0].status == DEFERRED


class _SilentHTTP:
    """Reads each request in full and never answers: a provider that hung after taking it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.bodies: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "_SilentHTTP":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=10)
        self.listener.close()

    def _serve(self) -> None:
        held = []
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            held.append(conn)  # kept open and silent until the test ends
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?im)^content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            self.bodies.append(body)
        for conn in held:
            conn.close()


def test_postmark_request_sent_in_full_and_never_answered_is_unknown_not_deferred():
    with _SilentHTTP() as server:
        result = PostmarkMailer(token=TOKEN, url=server.url, timeout=0.5).send_messages([outgoing("a@example.com", "1")])
        assert len(server.bodies) == 1 and json.loads(server.bodies[0])["To"].endswith("<a@example.com>")
    assert result[0].status == UNKNOWN and not result[0].accepted
    assert "may have accepted it" in result[0].detail
