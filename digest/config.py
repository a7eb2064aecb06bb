"""Settings from DIGEST_* environment variables, optionally from a digest.toml beside the data."""

from __future__ import annotations

import math
import os
import re
import secrets
import sys
import tomllib
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError, DigestError
from .message import split_address

# The email templates ship inside the package (pyproject.toml maps the repository's templates/ there).
PACKAGED_TEMPLATES = Path(str(files("digest.email_templates")))
DEFAULT_DATABASE_URL = "sqlite:///var/digest.db"


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default; see the README's settings table."""

    database_url: str = DEFAULT_DATABASE_URL
    mailer: str = "file"
    outbox: str = "outbox"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"
    smtp_timeout: float = 30.0
    smtp_connections: int = 1
    smtp_rate_limit: float = 0.0
    smtp_cafile: str | None = None
    smtp_helo: str | None = None
    smtp_data_timeout: float = 600.0
    smtp_stall_limit: int = 2
    postmark_token: str | None = None
    postmark_url: str = "https://api.postmarkapp.com"
    postmark_stream: str = "broadcast"
    postmark_timeout: float = 30.0
    postmark_connections: int = 4
    postmark_rate_limit: float = 0.0
    from_address: str = "AMW Digest <digest@localhost>"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    secret_keys_old: str = ""
    templates_dir: str = str(PACKAGED_TEMPLATES)
    postal_address: str = "AMW Media, 1 Example Street, Springfield"
    lookback_days: int = 7
    max_company_articles: int = 3
    weight_novelty: float = 1.0
    weight_significance: float = 2.0
    quiet_week_note: bool = False
    max_attempts: int = 5
    resend_unknown: bool = True
    grace_hours: int = 24
    lease_seconds: int = 600
    company_url: str = "https://amw.example/companies/{slug}"
    list_id: str = "AMW Digest <digest.amw.example>"
    unsubscribe_mailto: str = "unsubscribe@amw.example"
    contact_address: str | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key: str | None = None
    dkim_ed25519_selector: str | None = None
    dkim_ed25519_key: str | None = None
    staff_token: str | None = None
    staff_addresses: str = ""
    double_opt_in: bool = False
    executor: str = "inline"
    scheduler_interval: int = 120
    scheduler_misfire_grace: int | None = None
    worker_processes: int = 1
    worker_concurrency: int = 4
    worker_stalled_seconds: float = 30.0
    worker_shutdown_seconds: float = 60.0
    worker_poll_seconds: float = 5.0
    worker_batch: int = 25
    email_check_deliverability: bool = False
    db_busy_timeout: float = 30.0
    web_write_wait: float = 2.0
    spool_dir: str | None = None
    staff_session_hours: int = 12
    bounce_local: str = "bounces"
    bounce_domain: str | None = None
    webhook_username: str | None = None
    webhook_password: str | None = None
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 30
    metrics_port: int | None = None
    log_format: str = "text"
    mailbox_host: str | None = None
    mailbox_port: int | None = None
    mailbox_security: str = "ssl"
    mailbox_username: str | None = None
    mailbox_password: str | None = None
    mailbox_folder: str = "INBOX"
    mailbox_done_folder: str = "Processed"
    mailbox_timeout: float = 30.0

    def replace(self, **changes) -> "Settings":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


# Environment names that do not follow DIGEST_<FIELD> exactly.
_ENV_ALIASES = {"from_address": "DIGEST_FROM"}


def _env_name(name: str) -> str:
    return _ENV_ALIASES.get(name, "DIGEST_" + name.upper())


class _Invalid(ValueError):
    """A rule's verdict: what a valid value looks like (completes "X must be ...")."""


def _kind(name: str) -> str:
    kind = str(Settings.__dataclass_fields__[name].type)
    for simple in ("bool", "int", "float"):
        if simple in kind.split("|")[0]:
            return simple
    return "str"


_KIND_WORDS = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text"}


def _coerce(name: str, raw, *, from_toml: bool):
    """The field's type from an environment string (lenient) or a TOML value (its own type only)."""
    kind = _kind(name)
    if from_toml:
        # TOML has types: a quoted "25" for a port or a 2.5 for a count is a mistake worth naming.
        ok = {"bool": lambda v: isinstance(v, bool),
              "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "str": lambda v: isinstance(v, str)}[kind]
        if not ok(raw):
            raise _Invalid(_KIND_WORDS[kind])
        return float(raw) if kind == "float" else raw
    text = str(raw).strip()
    try:
        if kind == "bool":
            value = text.lower()
            if value in {"1", "true", "yes", "on"}:
                return True
            if value in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise _Invalid(_KIND_WORDS[kind]) from None
    return str(raw)


# --- rules: each takes the typed value and returns it (normalized) or raises _Invalid ---

def _at_least(low: int, high: int | None = None, what: str = "a whole number"):
    def rule(value):
        if value < low or (high is not None and value > high):
            raise _Invalid(f"{what} from {low} to {high}" if high is not None else f"{what} of at least {low}")
        return value
    return rule


def _finite(*, positive: bool, hint: str, most: float = math.inf):
    def rule(value):
        # float() takes "nan" and "inf"; neither is a usable timeout, rate or weight.
        if not math.isfinite(value) or value < 0 or (positive and value == 0) or value > most:
            raise _Invalid(hint)
        return value
    return rule


# Upper bounds keep every value inside what sockets, timedelta and datetime can hold (a timeout of
# 1e20 s does not fit a C timeval; 40 attempts would back off past the year 9999).
DAY = 86400
_SECONDS = _finite(positive=True, most=DAY, hint="a number of seconds greater than 0 and at most 86400, like 30")
_RATE = _finite(positive=False, hint="a number of messages per second, 0 or more (0: no limit)")
_WEIGHT = _finite(positive=False, most=1000, hint="a number from 0 to 1000, like 1 or 2.5")
_COUNT = _at_least(1)


def _choice(*options: str):
    def rule(value):
        normalized = value.strip().lower()
        if normalized not in options:
            raise _Invalid(", ".join(options[:-1]) + f" or {options[-1]}")
        return normalized
    return rule


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _single_line(value):
    if value is not None and _CONTROL.search(value):
        raise _Invalid("a single line without line breaks or control characters")
    return value


def _not_empty(value):
    if not value.strip():
        raise _Invalid("set (it is empty)")
    return _single_line(value)


def _token(value):
    if value is not None and (not value.strip() or _CONTROL.search(value) or " " in value.strip()):
        raise _Invalid("one word without spaces or line breaks")
    return value if value is None else value.strip()


def _http_url(value):
    _single_line(value)
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname or any(c.isspace() for c in value.strip()):
        raise _Invalid("an http:// or https:// URL with a host, like https://digest.example.com")
    return value.strip()


def _company_url(value):
    _http_url(value.replace("{slug}", "slug"))
    try:
        value.format(slug="openai")
    except (KeyError, IndexError, ValueError):
        raise _Invalid("a URL whose only placeholder is {slug}, like https://amw.example/companies/{slug}") from None
    return value


def _address(value: str, *, named: bool):
    from email_validator import EmailNotValidError, validate_email  # 15 ms to import: only when checked

    if _CONTROL.search(value):
        raise _Invalid("one address on a single line (no line breaks or control characters)")
    try:
        name, address = split_address(value)
    except DigestError:
        example = "AMW Digest <digest@amw.example>" if named else "unsubscribe@amw.example"
        raise _Invalid(f"one address like {example}") from None
    if name and not named:
        raise _Invalid("a bare address like unsubscribe@amw.example (no display name)")
    domain = address.rpartition("@")[2]
    # email-validator refuses the special-use name localhost, which the development default uses.
    if domain.lower() != "localhost":
        try:
            validate_email(address, check_deliverability=False, globally_deliverable=False, allow_smtputf8=True)
        except EmailNotValidError as exc:
            raise _Invalid(f"one valid address ({exc})") from None
    return value.strip()


def _addresses(value):
    for item in (part.strip() for part in value.split(",")):
        if item:
            _address(item, named=False)
    return value


# The local part of the VERP envelope sender, before "+<token>": dot-atom characters without "+",
# and short enough that local + "+" + the longest token (19 digits, "-", 16) stays within 64 octets.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+)*")
BOUNCE_LOCAL_MAX = 64 - 1 - 19 - 1 - 16


def _bounce_local(value):
    value = value.strip()
    if not _LOCAL.fullmatch(value) or len(value) > BOUNCE_LOCAL_MAX:
        raise _Invalid(f"a plain local part of at most {BOUNCE_LOCAL_MAX} characters without \"+\", like bounces")
    return value


_DOMAIN = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def _domain(value):
    value = value.strip().rstrip(".")
    if not _DOMAIN.fullmatch(value):
        raise _Invalid("a domain name like amw.example")
    return value.lower()


# Every numeric setting has a rule (a test pins this); text settings that reach a header or URL do too.
RULES = {
    "database_url": _not_empty,
    "mailer": _not_empty,
    "outbox": _not_empty,
    "smtp_host": _token,
    "smtp_port": _at_least(1, 65535, "a port"),
    "smtp_username": _single_line,
    "smtp_password": _single_line,
    "smtp_security": _choice("none", "starttls", "ssl"),
    "smtp_timeout": _SECONDS,
    "smtp_data_timeout": _SECONDS,
    "smtp_stall_limit": _at_least(0, 1000, "a whole number of timeouts (0 turns the breaker off)"),
    "smtp_connections": _COUNT,
    "smtp_rate_limit": _RATE,
    "smtp_helo": _token,
    "postmark_token": _single_line,
    "postmark_url": _http_url,
    "postmark_stream": _token,
    "postmark_timeout": _SECONDS,
    "postmark_connections": _COUNT,
    "postmark_rate_limit": _RATE,
    "from_address": lambda v: _address(v, named=True),
    "base_url": _http_url,
    "lookback_days": _at_least(1, 3650, "a whole number of days"),
    "max_company_articles": _COUNT,
    "weight_novelty": _WEIGHT,
    "weight_significance": _WEIGHT,
    "max_attempts": _at_least(1, 20),
    "grace_hours": _at_least(0, 8760, "a whole number of hours"),
    "lease_seconds": _at_least(1, 7 * DAY, "a whole number of seconds"),
    "company_url": _company_url,
    "list_id": _not_empty,
    "unsubscribe_mailto": lambda v: _address(v, named=False),
    "contact_address": lambda v: _address(v, named=False),
    "dkim_selector": _token,
    "dkim_domain": _token,
    "dkim_ed25519_selector": _token,
    "staff_addresses": _addresses,
    "executor": _choice("inline", "queue"),
    "scheduler_interval": _at_least(1, 7 * DAY, "a whole number of seconds"),
    "scheduler_misfire_grace": _at_least(1, 7 * DAY, "a whole number of seconds"),
    "worker_processes": _COUNT,
    "worker_concurrency": _COUNT,
    "worker_stalled_seconds": _SECONDS,
    "worker_shutdown_seconds": _finite(positive=False, most=DAY, hint="a number of seconds from 0 to 86400, like 60"),
    "worker_poll_seconds": _SECONDS,
    "worker_batch": _COUNT,
    "db_busy_timeout": _SECONDS,
    "web_write_wait": _finite(positive=False, most=60, hint="a number of seconds from 0 to 60, like 2"),
    "spool_dir": _not_empty,
    "staff_session_hours": _at_least(1, 720, "a whole number of hours"),
    "bounce_local": _bounce_local,
    "bounce_domain": _domain,
    "webhook_username": _single_line,
    "webhook_password": _single_line,
    "soft_bounce_limit": _at_least(1, 1000, "a whole number of soft bounces"),
    "soft_bounce_days": _at_least(1, 3650, "a whole number of days"),
    "metrics_port": _at_least(1, 65535, "a port"),
    "log_format": _choice("text", "json"),
    "mailbox_host": _token,
    "mailbox_port": _at_least(1, 65535, "a port"),
    "mailbox_security": _choice("none", "starttls", "ssl"),
    "mailbox_username": _single_line,
    "mailbox_password": _single_line,
    "mailbox_folder": _single_line,
    "mailbox_done_folder": _single_line,
    "mailbox_timeout": _SECONDS,
}


def _settings_file(environ, toml_path) -> tuple[Path | None, str]:
    """The TOML file to read (None: none) and how it was named, for messages."""
    named = toml_path or environ.get("DIGEST_CONFIG")
    if not named:
        default = Path("digest.toml")
        return (default, str(default)) if default.exists() else (None, "")
    path = Path(named)
    origin = f"DIGEST_CONFIG={named}" if not toml_path else f"the settings file {named}"
    if not path.exists():
        raise ConfigError(f"{origin}: no such file; fix the path or unset DIGEST_CONFIG")
    if not path.is_file():
        raise ConfigError(f"{origin}: not a file; name a TOML file like digest.toml")
    return path, str(path)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc.strerror or exc}") from None


def load_settings(environ: dict | None = None, toml_path: str | Path | None = None) -> Settings:
    """Read settings: defaults, then digest.toml (if any), then the environment; check every value.

    A value of the wrong type or out of range raises ConfigError naming the variable (or the
    file and key) and what a valid value looks like, so nothing runs on a setting that cannot work.
    """
    environ = os.environ if environ is None else environ
    raw: dict = {}  # name -> (value, from_toml, label for messages)
    path, shown = _settings_file(environ, toml_path)
    if path is not None:
        known = {f.name for f in fields(Settings)}
        for key, value in _read_toml(path).items():
            name = key.lower().removeprefix("digest_")
            name = "from_address" if name == "from" else name
            if name not in known:
                raise ConfigError(f"{shown}: unknown setting {key!r}")
            raw[name] = (value, True, f"{shown}: {key}")
    for f in fields(Settings):
        env = _env_name(f.name)
        if env in environ and environ[env] != "":
            raw[f.name] = (environ[env], False, env)
    values: dict = {}
    for f in fields(Settings):
        value, from_toml, label = raw.get(f.name, (getattr(Settings, f.name), True, _env_name(f.name)))
        given = value
        try:
            if f.name in raw:
                value = _coerce(f.name, value, from_toml=from_toml)
            if value is not None and f.name in RULES:
                value = RULES[f.name](value)
        except _Invalid as exc:
            raise ConfigError(f"{label} must be {exc}, not {given!r}") from None
        values[f.name] = value
    if values["weight_novelty"] == 0 and values["weight_significance"] == 0:
        raise ConfigError("DIGEST_WEIGHT_NOVELTY and DIGEST_WEIGHT_SIGNIFICANCE are both 0: every article would "
                          "rate 0; set at least one above 0 (defaults 1 and 2)")
    return Settings(**values)


def check_setting(name: str, value):
    """value checked by the rule load_settings applies to the setting `name`, for code that is given
    its parts without a Settings (a mailer built by hand); the normalized value, or the ConfigError
    load_settings would raise."""
    try:
        return RULES[name](value) if value is not None and name in RULES else value
    except _Invalid as exc:
        raise ConfigError(f"{_env_name(name)} must be {exc}, not {value!r}") from None


def secret_keys(settings: Settings) -> list[str]:
    """The signing keys, newest first: DIGEST_SECRET_KEY, then DIGEST_SECRET_KEYS_OLD (comma-separated).

    Without a configured key, one is generated once and kept beside the database (with a warning),
    so that links in sent mail stay valid across runs.
    """
    keys = [settings.secret_key] if settings.secret_key else [_stored_key(settings)]
    keys += [k.strip() for k in settings.secret_keys_old.split(",") if k.strip()]
    return keys


def _stored_key(settings: Settings) -> str:
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folder = Path(url.removeprefix("sqlite:///")).parent
    else:
        folder = Path("var")
    path = folder / "secret.key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    print(f"warning: DIGEST_SECRET_KEY is not set; generated one and kept it in {path}", file=sys.stderr)
    return key
