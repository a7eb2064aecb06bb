"""Email addresses and display names; they live in digest.addresses, the core, and are re-exported here."""

from digest.addresses import MAX_NAME, clean_name, email_key_of, normalize_email

__all__ = ["MAX_NAME", "clean_name", "email_key_of", "normalize_email"]
