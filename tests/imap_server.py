"""A real IMAP server for the tests: Debian's dovecot, started with its own configuration on a free
loopback port, one user with a plain password and a maildir under the test's tmp_path.

Messages are delivered by writing files into the maildir's new/ folder, as a local delivery agent
does. With tls=True it serves a self-signed certificate over STARTTLS and implicit TLS. Skips when
dovecot is not installed, unless DIGEST_TEST_IMAP=1 (CI) demands the tests run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.smtp_helpers import make_certificate

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER, PASSWORD = "bounces", "imap-test-password"


def require_dovecot() -> str:
    if DOVECOT:
        return DOVECOT
    if os.environ.get("DIGEST_TEST_IMAP") == "1":
        pytest.fail("DIGEST_TEST_IMAP=1 but dovecot is not installed (apt-get install dovecot-imapd)")
    pytest.skip("dovecot is not installed (set DIGEST_TEST_IMAP=1 to make this a failure)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in out.split()[0].split(".")[:2])


def _mail_owner() -> tuple[int, int]:
    """Who owns the mail: this user, or when that is root (which dovecot refuses for mail) its own
    `dovecot` user."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("dovecot")
    return entry.pw_uid, entry.pw_gid


def _tls(root: Path, tls_port: int | None, version: tuple[int, ...]) -> str:
    """The TLS part of the configuration: none, or a self-signed certificate for 127.0.0.1 with STARTTLS on
    the plain port and implicit TLS on tls_port."""
    if tls_port is None:
        return "ssl = no\n"
    cert, key = make_certificate(root)
    if version >= (2, 4):
        return f"ssl = yes\nssl_server_cert_file = {cert}\nssl_server_key_file = {key}\n"
    return f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n"


def _config(root: Path, port: int, version: tuple[int, ...], tls_port: int | None = None) -> str:
    run_as, group = _mail_owner()
    users = [line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()]
    internal = "dovecot" if "dovecot" in users else "nobody"
    login = "dovenull" if "dovenull" in users else internal
    cleartext = "auth_allow_cleartext = yes" if version >= (2, 4) else "disable_plaintext_auth = no"
    return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = digest-test-{uuid.uuid4().hex[:8]}
protocols = imap
listen = 127.0.0.1
{_tls(root, tls_port, version)}{cleartext}
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 0
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail
mail_uid = {run_as}
mail_gid = {group}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port or 0}
  }}
}}
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={run_as} gid={group} home={root}/home
}}
"""


class ImapServer:
    """tls=True: a self-signed certificate (self.cafile) serves STARTTLS on self.port and implicit TLS on
    self.tls_port."""

    def __init__(self, tls: bool = False) -> None:
        self.binary = require_dovecot()
        # Its own directory under /tmp: the mail owner (not root) must be able to reach it, which a
        # pytest tmp_path (mode 0700, owned by root) does not allow.
        self.root = root = Path(tempfile.mkdtemp(prefix="digest-imap-"))
        self.owner = _mail_owner()
        self.host, self.port = "127.0.0.1", _free_port()
        self.tls_port = _free_port() if tls else None
        self.username, self.password = USER, PASSWORD
        self.maildir = root / "mail"
        for sub in ("run", "state", "home", "mail/new", "mail/cur", "mail/tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self._own(root, "mail", "home")
        self.config = root / "dovecot.conf"
        self.config.write_text(_config(root, self.port, _version(self.binary), self.tls_port))
        self.cafile = root / "cert.pem" if tls else None

    def _own(self, *paths) -> None:
        if os.getuid() != 0:
            return
        os.chmod(self.root, 0o755)
        for path in paths:
            for top, dirs, files in os.walk(self.root / path):
                for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
                    os.chown(name, *self.owner)

    def start(self) -> "ImapServer":
        # The master daemonizes; its output goes to a file (a pipe would be held open by the daemon).
        with open(self.root / "start.log", "wb") as out:
            code = subprocess.run([self.binary, "-c", str(self.config)], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise RuntimeError(f"dovecot did not start: {(self.root / 'start.log').read_text()} {self.log()}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def stop(self) -> None:
        subprocess.run([self.binary, "-c", str(self.config), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pid_file = self.root / "run" / "master.pid"
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def deliver(self, data: bytes, folder: str | None = None) -> Path:
        """Drop one message into a folder's new/ (INBOX when None), as a delivery agent does."""
        base = self.maildir if folder is None else self.maildir / f".{folder}"
        for sub in ("new", "cur", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.digest-test"
        tmp = base / "tmp" / name
        tmp.write_bytes(data)
        target = base / "new" / name
        os.rename(tmp, target)
        self._own("mail")
        return target

    def count(self, folder: str | None = None) -> int:
        base = self.maildir if folder is None else self.maildir / f".{folder}"
        return sum(len(list((base / sub).glob("*"))) for sub in ("new", "cur") if (base / sub).is_dir())


@pytest.fixture
def imap_server():
    server = ImapServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_tls_server():
    server = ImapServer(tls=True).start()
    try:
        yield server
    finally:
        server.stop()
