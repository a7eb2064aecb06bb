"""The exception hierarchy: one root, configuration kept apart from delivery."""


class DigestError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(DigestError):
    """A setting or command-line usage is wrong; the operator must fix it (exit code 2)."""


class InputError(DigestError):
    """A record from outside (article, subscriber, CSV line) is invalid."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DigestError):
    """A named thing (subscriber, company, segment) does not exist."""


class DeliveryError(DigestError):
    """A message could not be handed to the mail system."""


class TokenError(DigestError):
    """A signed token is invalid, tampered with, or for another purpose."""
