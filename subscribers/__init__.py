"""Subscriber management: records, follows, preferences, CSV import and export.

The reader-records layer on top of the core: it may import digest, digest never imports it.
Addresses, tokens and suppression live in the core (digest.addresses, digest.tokens,
digest.suppression) because sending needs them; they are re-exported here.

Functions take an open SQLModel Session, flush their changes and never commit; the caller owns the
unit of work.
"""

from digest.addresses import clean_name, email_key_of, normalize_email
from digest.suppression import is_suppressed, lift_suppression, suppress, suppressed_keys, suppression_of
from digest.tokens import PURPOSES, Signer, signer_from_settings

from .csvio import EXPORT_COLUMNS, ImportReport, escape_cell, export_csv, import_csv, unescape_cell
from .follows import (
    Catalog,
    NameIndex,
    UnknownName,
    add_alias,
    follow,
    follow_names,
    reader_for,
    readers_for,
    resolve_company,
    resolve_segment,
    unfollow,
)
from .preferences import parse_preferences
from .records import (
    AlreadyExists,
    Suppressed,
    add_subscriber,
    confirm,
    confirmation_link,
    confirmation_message,
    deliverable_query,
    find_subscriber,
    get_subscriber,
    list_subscribers,
    receives_digest,
    subscriber_dicts,
    unsubscribe,
    update_subscriber,
)

__all__ = [
    "EXPORT_COLUMNS", "PURPOSES", "AlreadyExists", "Catalog", "ImportReport", "NameIndex", "Signer", "Suppressed", "UnknownName",
    "add_alias", "add_subscriber", "clean_name", "confirm", "confirmation_link", "confirmation_message",
    "deliverable_query", "email_key_of", "escape_cell", "export_csv", "find_subscriber", "follow", "follow_names",
    "get_subscriber", "import_csv", "is_suppressed", "lift_suppression", "list_subscribers", "normalize_email",
    "parse_preferences", "reader_for", "readers_for", "receives_digest", "resolve_company", "resolve_segment",
    "signer_from_settings", "subscriber_dicts", "suppress", "suppressed_keys", "suppression_of", "unescape_cell",
    "unfollow", "unsubscribe", "update_subscriber",
]
