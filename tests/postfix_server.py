"""A private Postfix on loopback, as an operator's relay would be: its own configuration, queue and
data directories (the system's Postfix, if any, is untouched), listening on a free loopback port.

It accepts mail for any address at gone.example.com and bounces the unknown users later with a genuine
DSN (RFC 3464), mails for inbox.example.com to a maildir (a reader whose mail arrives), and delivers mail for
amw.example (our VERP bounce addresses) into the given IMAP server's maildir, so a test goes from
`digest send` to `digest mailbox poll` through real MTAs. Needs root (Postfix starts as root) and
Debian's postfix; skips without them unless DIGEST_TEST_POSTFIX=1 (CI) demands it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.imap_server import _free_port

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists() else None)
BOUNCING_DOMAIN, DELIVERING_DOMAIN = "gone.example.com", "inbox.example.com"


def require_postfix() -> str:
    problem = None
    if not POSTFIX or not Path("/etc/postfix/master.cf").exists():
        problem = "Postfix is not installed (apt-get install postfix)"
    elif os.getuid() != 0:
        problem = "Postfix must be started as root"
    if problem is None:
        return POSTFIX
    if os.environ.get("DIGEST_TEST_POSTFIX") == "1":
        pytest.fail(f"DIGEST_TEST_POSTFIX=1 but {problem}")
    pytest.skip(f"{problem} (set DIGEST_TEST_POSTFIX=1 to make this a failure)")


def _main_cf(root: Path, mail_root: Path, uid: int, gid: int) -> str:
    return f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.{BOUNCING_DOMAIN}
mydomain = {BOUNCING_DOMAIN}
myorigin = {BOUNCING_DOMAIN}
mydestination = {BOUNCING_DOMAIN}
# Accept every recipient at RCPT; the local delivery agent bounces unknown users later, with a DSN.
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = amw.example, {DELIVERING_DOMAIN}
virtual_mailbox_base = {mail_root}
virtual_mailbox_maps = regexp:{root}/conf/virtual
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
biff = no
append_dot_mydomain = no
delay_warning_time = 0
"""


class PostfixRelay:
    def __init__(self, imap) -> None:
        self.binary = require_postfix()
        self.root = root = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
        os.chmod(root, 0o755)
        self.host, self.port = "127.0.0.1", _free_port()
        self.delivered = imap.root / "delivered"
        for sub in ("new", "cur", "tmp"):
            (self.delivered / sub).mkdir(parents=True, exist_ok=True)
        uid, gid = imap.owner
        for top, dirs, files in os.walk(self.delivered):
            for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
                os.chown(name, uid, gid)
        (root / "conf").mkdir()
        (root / "queue").mkdir()
        (root / "data").mkdir()
        shutil.chown(root / "data", "postfix")
        master = Path("/etc/postfix/master.cf").read_text()
        master = re.sub(r"(?m)^smtp\s+inet\s.*$", f"{self.host}:{self.port} inet n - n - - smtpd", master, count=1)
        (root / "conf" / "master.cf").write_text(master)
        (root / "conf" / "main.cf").write_text(_main_cf(root, imap.root, uid, gid))
        (root / "conf" / "virtual").write_text("/@amw\\.example$/ mail/\n"
                                               f"/@{re.escape(DELIVERING_DOMAIN)}$/ delivered/\n")
        self.config = root / "conf"

    def _postfix(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, "-c", str(self.config), *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)

    def start(self) -> "PostfixRelay":
        started = self._postfix("start")
        if started.returncode != 0:
            raise RuntimeError(f"postfix did not start: {started.stderr} {self.log()}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"postfix did not answer on port {self.port}: {self.log()}")

    def stop(self) -> None:
        self._postfix("stop")
        pid_file = self.root / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def delivered_count(self) -> int:
        return sum(len(list((self.delivered / sub).glob("*"))) for sub in ("new", "cur"))


@pytest.fixture
def postfix_relay(imap_server):
    relay = PostfixRelay(imap_server).start()
    try:
        yield relay
    finally:
        relay.stop()
