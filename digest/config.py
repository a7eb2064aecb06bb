"""Settings from DIGEST_* environment variables, optionally from a digest.toml beside the data."""

from __future__ import annotations

import os
import secrets
import sys
import tomllib
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path

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
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key: str | None = None
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

    def replace(self, **changes) -> "Settings":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


# Environment names that do not follow DIGEST_<FIELD> exactly.
_ENV_ALIASES = {"from_address": "DIGEST_FROM"}


def _env_name(name: str) -> str:
    return _ENV_ALIASES.get(name, "DIGEST_" + name.upper())


def _coerce(name: str, kind, raw):
    if raw is None:
        return None
    kind = str(kind)
    try:
        if "bool" in kind:
            if isinstance(raw, bool):
                return raw
            value = str(raw).strip().lower()
            if value in {"1", "true", "yes", "on"}:
                return True
            if value in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if "int" in kind and "float" not in kind:
            return int(raw)
        if "float" in kind:
            return float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{_env_name(name)}={raw!r} is not a valid {kind.split('|')[0].strip()}") from None
    return str(raw)


def load_settings(environ: dict | None = None, toml_path: str | Path | None = None) -> Settings:
    """Read settings: defaults, then digest.toml (if any), then the environment."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    path = Path(toml_path or environ.get("DIGEST_CONFIG", "digest.toml"))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        known = {f.name for f in fields(Settings)}
        for key, raw in data.items():
            name = key.lower().removeprefix("digest_")
            name = "from_address" if name == "from" else name
            if name not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[name] = raw
    for f in fields(Settings):
        env = _env_name(f.name)
        if env in environ and environ[env] != "":
            values[f.name] = environ[env]
    coerced = {name: _coerce(name, Settings.__dataclass_fields__[name].type, raw) for name, raw in values.items()}
    settings = Settings(**coerced)
    if settings.smtp_security not in {"none", "starttls", "ssl"}:
        raise ConfigError(f"DIGEST_SMTP_SECURITY must be none, starttls or ssl, not {settings.smtp_security!r}")
    if not settings.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"DIGEST_BASE_URL must start with http:// or https://, not {settings.base_url!r}")
    return settings


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
