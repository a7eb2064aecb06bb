"""The suppression list; it lives in digest.suppression, the core, and is re-exported here."""

from digest.suppression import (
    REASONS,
    RECEIVING,
    is_suppressed,
    lift_suppression,
    suppress,
    suppressed_keys,
    suppression_of,
)

__all__ = ["REASONS", "RECEIVING", "is_suppressed", "lift_suppression", "suppress", "suppressed_keys", "suppression_of"]
