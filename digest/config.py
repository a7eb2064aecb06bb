"""Settings from DIGEST_* environment variables, optionally from a digest.toml beside the data."""

from __future__ import annotations

import os
import secrets
import sys
import tomllib
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path

from .config_rules import (
    BOUNCE_LOCAL_MAX, COUNT, DAY, RATE, SECONDS, WEIGHT, Invalid, address, addresses, at_least, bounce_local,
    choice, company_url, domain, finite, http_url, language_tag, not_empty, origins, single_line, token,
)
from .errors import ConfigError

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
    default_language: str = "en"
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
    send_processes: int | None = None  # None: the number of cores
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
    mailbox_cafile: str | None = None
    cors_origins: str = ""
    signup_limit_ip: int = 20
    signup_limit_address: int = 5
    signup_mails_per_day: int = 1
    public_pages: bool = True
    company_pages: bool = False
    feed_interval: int = 900
    mailbox_interval: int = 300
    feed_timeout: float = 20.0
    feed_max_bytes: int = 5_000_000

    def replace(self, **changes) -> "Settings":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


# Environment names that do not follow DIGEST_<FIELD> exactly.
_ENV_ALIASES = {"from_address": "DIGEST_FROM"}


def _env_name(name: str) -> str:
    return _ENV_ALIASES.get(name, "DIGEST_" + name.upper())



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
            raise Invalid(_KIND_WORDS[kind])
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
        raise Invalid(_KIND_WORDS[kind]) from None
    return str(raw)


# Every numeric setting has a rule (a test pins this); text settings that reach a header or URL do too.
RULES = {
    "default_language": language_tag,
    "database_url": not_empty,
    "mailer": not_empty,
    "outbox": not_empty,
    "smtp_host": token,
    "smtp_port": at_least(1, 65535, "a port"),
    "smtp_username": single_line,
    "smtp_password": single_line,
    "smtp_security": choice("none", "starttls", "ssl"),
    "smtp_timeout": SECONDS,
    "smtp_data_timeout": SECONDS,
    "smtp_stall_limit": at_least(0, 1000, "a whole number of timeouts (0 turns the breaker off)"),
    "smtp_connections": COUNT,
    "smtp_rate_limit": RATE,
    "smtp_helo": token,
    "postmark_token": single_line,
    "postmark_url": http_url,
    "postmark_stream": token,
    "postmark_timeout": SECONDS,
    "postmark_connections": COUNT,
    "postmark_rate_limit": RATE,
    "from_address": lambda v: address(v, named=True),
    "base_url": http_url,
    "lookback_days": at_least(1, 3650, "a whole number of days"),
    "max_company_articles": COUNT,
    "weight_novelty": WEIGHT,
    "weight_significance": WEIGHT,
    "max_attempts": at_least(1, 20),
    "grace_hours": at_least(0, 8760, "a whole number of hours"),
    "lease_seconds": at_least(1, 7 * DAY, "a whole number of seconds"),
    "company_url": company_url,
    "list_id": not_empty,
    "unsubscribe_mailto": lambda v: address(v, named=False),
    "contact_address": lambda v: address(v, named=False),
    "dkim_selector": token,
    "dkim_domain": token,
    "dkim_ed25519_selector": token,
    "staff_addresses": addresses,
    "executor": choice("inline", "queue"),
    "scheduler_interval": at_least(1, 7 * DAY, "a whole number of seconds"),
    "scheduler_misfire_grace": at_least(1, 7 * DAY, "a whole number of seconds"),
    "worker_processes": COUNT,
    "worker_concurrency": COUNT,
    "worker_stalled_seconds": SECONDS,
    "worker_shutdown_seconds": finite(positive=False, most=DAY, hint="a number of seconds from 0 to 86400, like 60"),
    "worker_poll_seconds": SECONDS,
    "worker_batch": COUNT,
    "send_processes": COUNT,
    "db_busy_timeout": SECONDS,
    "web_write_wait": finite(positive=False, most=60, hint="a number of seconds from 0 to 60, like 2"),
    "spool_dir": not_empty,
    "staff_session_hours": at_least(1, 720, "a whole number of hours"),
    "bounce_local": bounce_local,
    "bounce_domain": domain,
    "webhook_username": single_line,
    "webhook_password": single_line,
    "soft_bounce_limit": at_least(1, 1000, "a whole number of soft bounces"),
    "soft_bounce_days": at_least(1, 3650, "a whole number of days"),
    "metrics_port": at_least(1, 65535, "a port"),
    "log_format": choice("text", "json"),
    "mailbox_host": token,
    "mailbox_port": at_least(1, 65535, "a port"),
    "mailbox_security": choice("none", "starttls", "ssl"),
    "mailbox_username": single_line,
    "mailbox_password": single_line,
    "mailbox_folder": single_line,
    "mailbox_done_folder": single_line,
    "mailbox_timeout": SECONDS,
    "mailbox_cafile": not_empty,
    "cors_origins": origins,
    "signup_limit_ip": at_least(1, 100_000, "a whole number of requests per hour"),
    "signup_limit_address": at_least(1, 1000, "a whole number of requests per hour"),
    "signup_mails_per_day": at_least(1, 20, "a whole number of emails a day"),
    "feed_interval": at_least(0, 7 * DAY, "a whole number of seconds (0: no feed job)"),
    "mailbox_interval": at_least(0, 7 * DAY, "a whole number of seconds (0: no mailbox job)"),
    "feed_timeout": SECONDS,
    "feed_max_bytes": at_least(1000, 2_000_000_000, "a whole number of bytes"),
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
        except Invalid as exc:
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
    except Invalid as exc:
        raise ConfigError(f"{_env_name(name)} must be {exc}, not {value!r}") from None


def company_link(settings: Settings) -> str:
    """The URL template of the digest's company links: this app's public company pages when
    DIGEST_COMPANY_PAGES is on (and DIGEST_PUBLIC_PAGES serves them), else DIGEST_COMPANY_URL."""
    if settings.company_pages and settings.public_pages:
        return settings.base_url.rstrip("/") + "/companies/{slug}/"
    return settings.company_url


def cors_origins(settings: Settings) -> frozenset[str]:
    """DIGEST_CORS_ORIGINS as a set of origins (scheme://host[:port], no trailing slash)."""
    return frozenset(o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip())


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
