"""Mailer backends, chosen by name (entry-point group "digest.mailers") or by dotted path."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import ConfigError
from .base import BaseMailer

__all__ = ["BUILTIN", "BaseMailer", "get_mailer", "known_mailers", "load_mailer_class"]

GROUP = "digest.mailers"

# The project's own backends. They are registered as entry points in pyproject.toml; this copy is
# what a source checkout that was never installed finds. tests/test_mailers.py checks that the two agree.
BUILTIN = {
    "console": "digest.mailers.console:ConsoleMailer",
    "file": "digest.mailers.file:FileMailer",
    "memory": "digest.mailers.memory:MemoryMailer",
    "smtp": "digest.mailers.smtp:SMTPMailer",
    "postmark": "digest.mailers.postmark:PostmarkMailer",
}


def known_mailers() -> dict[str, str]:
    """Every backend name and the object reference it loads, third-party entry points included."""
    names = dict(BUILTIN)
    names.update({ep.name: ep.value for ep in entry_points(group=GROUP)})
    return names


def _import(reference: str):
    if ":" in reference:
        module_name, _, attr = reference.partition(":")
    else:
        module_name, _, attr = reference.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"{reference!r} is not a dotted path")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def load_mailer_class(name_or_path: str) -> type[BaseMailer]:
    """The backend class for a registered name or a dotted path ("pkg.mod:Class" or "pkg.mod.Class")."""
    name_or_path = (name_or_path or "").strip()
    known = known_mailers()
    reference = known.get(name_or_path)
    if reference is None and ("." not in name_or_path and ":" not in name_or_path):
        raise ConfigError(
            f"unknown mailer {name_or_path!r}: use one of {', '.join(sorted(known))} or a dotted path such as pkg.module:Class"
        )
    try:
        cls = _import(reference or name_or_path)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot load mailer {name_or_path!r}: {exc}; known names: {', '.join(sorted(known))}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseMailer)):
        raise ConfigError(f"mailer {name_or_path!r} is not a digest.mailers.BaseMailer subclass")
    return cls


def get_mailer(name_or_path: str, settings) -> BaseMailer:
    """A ready (not yet opened) backend configured from settings."""
    return load_mailer_class(name_or_path).from_settings(settings)
