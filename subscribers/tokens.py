"""Signed subscriber tokens; they live in digest.tokens, the core, and are re-exported here."""

from digest.tokens import DEFAULT_MAX_AGE, PURPOSES, TIMED, Signer, signer_from_settings

__all__ = ["DEFAULT_MAX_AGE", "PURPOSES", "TIMED", "Signer", "signer_from_settings"]
