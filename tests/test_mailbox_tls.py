"""The bounce mailbox over TLS: implicit TLS and STARTTLS against a real dovecot with a self-signed
certificate, verified against DIGEST_MAILBOX_CAFILE; an unverifiable certificate and a server without
STARTTLS are errors that name the setting to fix, and no password is sent in clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from digest.config import Settings
from digest.errors import DeliveryError
from digest.mailbox import connect
from tests.imap_server import imap_server, imap_tls_server  # noqa: F401 (the fixtures)
from tests.test_mailbox import dsn


def mailbox_settings(server, **changes) -> Settings:
    return Settings(mailbox_host="127.0.0.1", mailbox_username=server.username, mailbox_password=server.password,
                    mailbox_timeout=10.0).replace(**changes)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_the_mailbox_is_read_over_tls_verified_against_the_configured_ca(imap_tls_server, security):  # noqa: F811
    server = imap_tls_server
    port = server.tls_port if security == "ssl" else server.port
    client = connect(mailbox_settings(server, mailbox_security=security, mailbox_port=port,
                                      mailbox_cafile=str(server.cafile)))
    try:
        # The session runs inside TLS: the socket is an SSLSocket that negotiated a protocol version.
        assert client.sock.version().startswith("TLS")
        assert client.select("INBOX")[0] == "OK"
    finally:
        client.logout()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_a_certificate_that_does_not_verify_is_refused_naming_the_ca_setting(imap_tls_server, security):  # noqa: F811
    server = imap_tls_server
    port = server.tls_port if security == "ssl" else server.port
    with pytest.raises(DeliveryError, match="certificate did not verify.*DIGEST_MAILBOX_CAFILE"):
        connect(mailbox_settings(server, mailbox_security=security, mailbox_port=port))
    # Nothing was logged in: dovecot saw no successful login.
    assert "Login: user=<bounces>" not in server.log()


def test_starttls_against_a_server_without_it_is_an_error_not_clear_text(imap_server):  # noqa: F811
    with pytest.raises(DeliveryError, match="does not offer STARTTLS.*DIGEST_MAILBOX_SECURITY"):
        connect(mailbox_settings(imap_server, mailbox_security="starttls", mailbox_port=imap_server.port))
    assert "Login: user=<bounces>" not in imap_server.log()


def poll_over_tls(server, tmp_path, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=f"sqlite:///{tmp_path}/d.db", DIGEST_SECRET_KEY="k",
               DIGEST_MAILBOX_HOST="127.0.0.1", DIGEST_MAILBOX_PORT=str(server.tls_port),
               DIGEST_MAILBOX_SECURITY="ssl", DIGEST_MAILBOX_USERNAME=server.username,
               DIGEST_MAILBOX_PASSWORD=server.password, **extra)
    subprocess.run([sys.executable, "-m", "digest", "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    return subprocess.run([sys.executable, "-m", "digest", "mailbox", "poll", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_a_missing_ca_file_is_a_setting_error(imap_tls_server, tmp_path):  # noqa: F811
    proc = poll_over_tls(imap_tls_server, tmp_path, DIGEST_MAILBOX_CAFILE=str(tmp_path / "nope.pem"))
    assert proc.returncode == 2, proc.stdout
    assert "DIGEST_MAILBOX_CAFILE" in json.loads(proc.stdout)["error"]


def test_a_poll_over_implicit_tls_reads_and_reports(imap_tls_server, tmp_path):  # noqa: F811
    server = imap_tls_server
    server.deliver(dsn("tls1", "digest@amw.example", "gone@example.com", "failed", "5.1.1"))
    proc = poll_over_tls(server, tmp_path, DIGEST_MAILBOX_CAFILE=str(server.cafile))
    assert proc.returncode == 0, proc.stderr
    # Read over TLS, applied (the DSN's recipient is suppressed by address) and moved once committed.
    assert json.loads(proc.stdout) == {"processed": 1, "hard_bounces": 1, "soft_bounces": 0, "complaints": 0,
                                       "unsubscribes": 0, "ignored": 0, "unknown": 0}
    assert server.count() == 0 and server.count("Processed") == 1
