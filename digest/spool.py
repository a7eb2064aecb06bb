"""The unsubscribe spool: unsubscribes the database could not take in time, kept on disk until applied.

A web unsubscribe that cannot commit within DIGEST_WEB_WRITE_WAIT (a send holds the SQLite write
lock, say) is written here and the reader is told it is done. Each request is one small JSON file
holding the subscriber id read from the signed link (never the address), written atomically
(temporary file, fsync, rename, fsync of the folder), so a crash leaves either the whole request or
nothing. The web app's background thread applies the spool as soon as the database lets it, and
every send pass applies it before it claims anything, so a spooled reader never gets the next digest.
Applying is idempotent: unsubscribing twice changes nothing, so two appliers may race harmlessly.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from pathlib import Path

from sqlmodel import Session

from .db import begin_write, sqlite_path
from .errors import ConfigError
from .models import Subscriber
from .suppression import suppress

log = logging.getLogger("digest.spool")

SUFFIX = ".unsubscribe"
# Set in session.info by a caller whose session already holds a write transaction (the web app's
# write_session, which bounds the wait): apply() then does not start its own.
WRITE_BEGUN = "digest.write_begun"


def spool_folder(settings) -> Path:
    """DIGEST_SPOOL_DIR, else a `spool` folder beside the SQLite database file (var/spool otherwise)."""
    if settings.spool_dir:
        return Path(settings.spool_dir)
    database = sqlite_path(settings.database_url)
    return database.parent / "spool" if database is not None else Path("var") / "spool"


class Spool:
    """One spool folder: put() a request, pending() lists them oldest first, apply() empties it."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def put(self, subscriber_id: int, detail: str) -> Path:
        """Store one unsubscribe durably; returns its file. Raises OSError if the disk refuses."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{secrets.token_hex(6)}"
        temporary = self.folder / f".{name}.tmp"
        final = self.folder / f"{name}{SUFFIX}"
        data = json.dumps({"subscriber_id": int(subscriber_id), "detail": detail[:40]}).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
        _fsync_folder(self.folder)
        return final

    def pending(self) -> list[Path]:
        """The waiting requests, oldest first. A folder that exists but cannot be read raises
        ConfigError: unsubscribes may wait in it, so a send must not go on without them."""
        try:
            names = sorted(e.name for e in os.scandir(self.folder) if e.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(f"the unsubscribe spool {self.folder} cannot be read ({exc.strerror or exc}); fix its "
                              "permissions or DIGEST_SPOOL_DIR (unsubscribes may be waiting in it, so nothing is sent "
                              "until it can be read)") from None
        return [self.folder / name for name in names]

    def waiting(self) -> bool:
        """Whether requests wait, for the web app: an unreadable folder is logged and counts as none, so
        a reader's unsubscribe still goes straight to the database."""
        try:
            return bool(self.pending())
        except ConfigError as exc:
            log.error("%s", exc)
            return False

    def apply(self, session: Session) -> int:
        """Apply every pending request in one write transaction, then delete their files; returns
        how many were applied. A database error propagates (the files stay for the next try)."""
        files = self.pending()
        if not files:
            return 0
        done: list[Path] = []
        if not session.info.get(WRITE_BEGUN):
            begin_write(session)
        for path in files:
            request = _read(path)
            if request is None:
                continue
            subscriber = session.get(Subscriber, request["subscriber_id"])
            if subscriber is not None:  # None: deleted since, nothing left to stop
                suppress(session, subscriber.email, "unsubscribed", request["detail"], source="web")
            done.append(path)
        session.commit()
        for path in done:
            try:
                path.unlink()
            except FileNotFoundError:  # another applier got there first
                pass
        if done:
            log.info("applied %d spooled unsubscribe(s)", len(done))
        return len(done)


def _read(path: Path) -> dict | None:
    """The request in a spool file, or None (a damaged file is renamed .bad and logged, not lost)."""
    try:
        data = json.loads(path.read_bytes())
        subscriber_id, detail = data["subscriber_id"], str(data.get("detail") or "web")
        if not isinstance(subscriber_id, int) or isinstance(subscriber_id, bool):
            raise ValueError("subscriber_id is not a number")
        return {"subscriber_id": subscriber_id, "detail": detail}
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.error("spool file %s cannot be read (%s); renamed to .bad for an operator to look at", path.name, exc)
        try:
            path.rename(path.with_suffix(".bad"))
        except OSError:
            pass
        return None


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory file descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
